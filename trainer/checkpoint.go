package trainer

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
)

const checkpointMagic = "MFCKPT01"

// checkpointHeader is the JSON head of a training checkpoint; the float32
// arrays (trainable params, Adam M, Adam V, best params) follow it.
type checkpointHeader struct {
	Mode      string   `json:"mode"` // "full" or "lora"
	NumParams int      `json:"num_params"`
	Step      int      `json:"step"`
	Epoch     int      `json:"epoch"`
	Pos       int      `json:"pos"`
	BestEval  *float64 `json:"best_eval,omitempty"`
	BadEvals  int      `json:"bad_evals"`
	HasBest   bool     `json:"has_best"`
	RNG       []byte   `json:"rng,omitempty"` // LoRA dropout PCG state
}

func modeOf(m *Model) string {
	if m.LoRA != nil {
		return "lora"
	}
	return "full"
}

// saveCheckpoint writes the run state atomically (temp file + rename), so a
// kill during the write leaves the previous checkpoint intact.
func saveCheckpoint(path string, m *Model, opt *AdamW, ld *loader, st *runState) error {
	params, _ := m.trainable()
	h := checkpointHeader{Mode: modeOf(m), NumParams: len(params), Step: opt.Step, Epoch: ld.Epoch, Pos: ld.Pos,
		BadEvals: st.BadEvals, HasBest: st.BestParams != nil}
	if !math.IsInf(st.BestEval, 1) {
		v := st.BestEval
		h.BestEval = &v
	}
	if m.LoRA != nil {
		b, err := m.LoRA.rngSrc.MarshalBinary()
		if err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		h.RNG = b
	}
	head, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ckpt-*")
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	w.WriteString(checkpointMagic)
	binary.Write(w, binary.LittleEndian, uint64(len(head)))
	w.Write(head)
	for _, s := range [][]float32{params, opt.M, opt.V, st.BestParams} {
		if err := writeFloats(w, s); err != nil {
			tmp.Close()
			return fmt.Errorf("save checkpoint: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

func writeFloats(w io.Writer, s []float32) error {
	var buf [4096]byte
	for len(s) > 0 {
		n := min(len(s), len(buf)/4)
		for i, v := range s[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf[:4*n]); err != nil {
			return err
		}
		s = s[n:]
	}
	return nil
}

func readFloats(r io.Reader, s []float32) error {
	var buf [4096]byte
	for len(s) > 0 {
		n := min(len(s), len(buf)/4)
		if _, err := io.ReadFull(r, buf[:4*n]); err != nil {
			return err
		}
		for i := range s[:n] {
			s[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		s = s[n:]
	}
	return nil
}

// loadCheckpoint restores a run; it reports false when path does not exist.
func loadCheckpoint(path string, m *Model, opt *AdamW, ld *loader, st *runState) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load checkpoint: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, len(checkpointMagic))
	var n uint64
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != checkpointMagic {
		return false, fmt.Errorf("load checkpoint %s: not a checkpoint file", path)
	}
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil || n > 1<<20 {
		return false, fmt.Errorf("load checkpoint %s: bad header length", path)
	}
	head := make([]byte, n)
	if _, err := io.ReadFull(r, head); err != nil {
		return false, fmt.Errorf("load checkpoint %s: truncated header", path)
	}
	var h checkpointHeader
	if err := json.Unmarshal(head, &h); err != nil {
		return false, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	params, _ := m.trainable()
	if h.Mode != modeOf(m) || h.NumParams != len(params) {
		return false, fmt.Errorf("load checkpoint %s: it is a %s run of %d parameters, this is a %s run of %d",
			path, h.Mode, h.NumParams, modeOf(m), len(params))
	}
	arrays := [][]float32{params, opt.M, opt.V}
	if h.HasBest {
		st.BestParams = make([]float32, len(params))
		arrays = append(arrays, st.BestParams)
	}
	for _, s := range arrays {
		if err := readFloats(r, s); err != nil {
			return false, fmt.Errorf("load checkpoint %s: truncated data: %w", path, err)
		}
	}
	if m.LoRA != nil && h.RNG != nil {
		if err := m.LoRA.rngSrc.UnmarshalBinary(h.RNG); err != nil {
			return false, fmt.Errorf("load checkpoint %s: %w", path, err)
		}
	}
	opt.Step, ld.Epoch, ld.Pos, st.BadEvals = h.Step, h.Epoch, h.Pos, h.BadEvals
	st.BestEval = math.Inf(1)
	if h.BestEval != nil {
		st.BestEval = *h.BestEval
	}
	return true, nil
}
