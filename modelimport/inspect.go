package modelimport

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Info is what a catalog shows about a model, read from its files.
type Info struct {
	Architecture  string          // config.json model_type ("gpt2", "llama", …)
	ContextLength int             // max_position_embeddings / n_positions / n_ctx / …
	ParamCount    int64           // elements of every tensor in the safetensors files
	SizeBytes     int64           // all files
	License       string          // README front matter, else config.json
	Config        json.RawMessage // config.json as it is
}

// Inspect reads a fetched model directory.
func Inspect(dir string) (*Info, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, userErr(err, "The model has no readable config.json.")
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, userErr(err, "config.json is not valid JSON: %v.", err)
	}
	info := &Info{Config: json.RawMessage(raw)}
	info.Architecture, _ = cfg["model_type"].(string)
	if info.Architecture == "" {
		if archs, ok := cfg["architectures"].([]any); ok && len(archs) > 0 {
			a, _ := archs[0].(string)
			info.Architecture = strings.ToLower(a)
		}
	}
	for _, k := range []string{"max_position_embeddings", "n_positions", "n_ctx", "seq_length", "max_seq_len", "max_sequence_length"} {
		if v, ok := cfg[k].(float64); ok && v > 0 && v < 1<<31 {
			info.ContextLength = int(v)
			break
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", dir, err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		st, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", dir, err)
		}
		info.SizeBytes += st.Size()
		if strings.HasSuffix(strings.ToLower(e.Name()), ".safetensors") {
			n, err := SafetensorsParams(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, userErr(err, "%s is not a valid safetensors file: %v.", e.Name(), err)
			}
			info.ParamCount += n
		}
	}
	info.License = readmeLicense(filepath.Join(dir, "README.md"))
	if info.License == "" {
		info.License, _ = cfg["license"].(string)
	}
	return info, nil
}

// SafetensorsParams counts the elements of every tensor in a safetensors
// file by reading its header only.
func SafetensorsParams(file string) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		return 0, fmt.Errorf("header length: %w", err)
	}
	if n == 0 || n > 100<<20 {
		return 0, fmt.Errorf("header length %d out of range", n)
	}
	var header map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(f, int64(n))).Decode(&header); err != nil {
		return 0, fmt.Errorf("header: %w", err)
	}
	var total int64
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var t struct {
			Shape []int64 `json:"shape"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return 0, fmt.Errorf("tensor %q: %w", name, err)
		}
		elems := int64(1)
		for _, d := range t.Shape {
			if d < 0 || (d > 0 && elems > (1<<62)/d) {
				return 0, fmt.Errorf("tensor %q: bad shape %v", name, t.Shape)
			}
			elems *= d
		}
		total += elems
	}
	return total, nil
}

// readmeLicense reads "license:" from a model card's YAML front matter.
func readmeLicense(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	if !sc.Scan() || strings.TrimSpace(sc.Text()) != "---" {
		return ""
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "---" {
			return ""
		}
		if v, ok := strings.CutPrefix(line, "license:"); ok {
			v = strings.Trim(strings.TrimSpace(v), `"'`)
			if len(v) > 64 {
				v = v[:64]
			}
			return v
		}
	}
	return ""
}
