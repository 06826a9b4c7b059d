package trainer

import (
	"context"
	"errors"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

// PretrainConfig describes training a base model from scratch.
type PretrainConfig struct {
	// Model is the shape; its VocabSize is the tokenizer's vocabulary size
	// to train (≤ 65,535).
	Model Config
	Train TrainConfig
	// ValFraction of the token stream (its tail) is held out for validation.
	ValFraction float64
}

// Pretrain trains a byte-level BPE tokenizer and then a GPT-2 model from
// random initialisation on texts, and saves both into outDir as a Hugging
// Face directory (config.json, model.safetensors, vocab.json, merges.txt).
// The directory appears atomically: it is built beside outDir and renamed.
func Pretrain(ctx context.Context, texts []string, cfg PretrainConfig, outDir string, pool *gemm.Pool, progress func(Event)) (*Result, error) {
	if len(texts) == 0 {
		return nil, errors.New("pretrain: empty corpus")
	}
	tok, err := tokenizer.Train(slices.Values(texts), cfg.Model.VocabSize, []string{tokenizer.EndOfText})
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	cfg.Model.VocabSize = tok.VocabSize()
	eot, _ := tok.SpecialID(tokenizer.EndOfText)
	all := &Dataset{}
	for _, t := range texts {
		for _, id := range tok.Encode(t) {
			all.Tokens = append(all.Tokens, int32(id))
		}
		all.Tokens = append(all.Tokens, int32(eot))
	}
	train, val := all, (*Dataset)(nil)
	if cfg.ValFraction > 0 {
		cut := len(all.Tokens) - int(cfg.ValFraction*float64(len(all.Tokens)))
		train = &Dataset{Tokens: all.Tokens[:cut]}
		val = &Dataset{Tokens: all.Tokens[cut:]}
		if val.Rows(min(cfg.Train.SeqLen, cfg.Model.MaxSeqLen)) == 0 && cfg.Train.SeqLen > 0 {
			val = nil
		}
	}
	m, err := NewModel(cfg.Model, pool)
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	m.InitRandom(cfg.Train.Seed)
	res, err := Train(ctx, m, train, val, cfg.Train, progress)
	if err != nil {
		return res, fmt.Errorf("pretrain: %w", err)
	}
	tmp := outDir + ".tmp"
	os.RemoveAll(tmp)
	if err := m.Save(tmp); err != nil {
		return res, fmt.Errorf("pretrain: %w", err)
	}
	if err := tok.Save(tmp); err != nil {
		return res, fmt.Errorf("pretrain: %w", err)
	}
	os.RemoveAll(outDir)
	if err := os.Rename(tmp, outDir); err != nil {
		return res, fmt.Errorf("pretrain: %w", err)
	}
	return res, nil
}

// StarterName is the catalog name of the starter base model.
const StarterName = "starter-gpt-go-docs"

// StarterConfig is the starter model's recipe: a 4-layer, 192-wide GPT-2
// with a 4,096-token BPE, trained for a few minutes on two cores.
var StarterConfig = PretrainConfig{
	Model: Config{MaxSeqLen: 128, VocabSize: 4096, NumLayers: 4, NumHeads: 4, Channels: 192},
	Train: TrainConfig{Steps: 800, BatchSize: 8, SeqLen: 128, LR: 2e-3, Warmup: 30, MinLRRatio: 0.1,
		WeightDecay: 0.1, GradClip: 1, EvalEvery: 100, EvalBatches: 8, Seed: 1},
	ValFraction: 0.05,
}

var (
	htmlTag    = regexp.MustCompile(`(?s)<[^>]*>`)
	blankLines = regexp.MustCompile(`\n{3,}`)
)

// StarterCorpus collects English text that ships with the machine, no
// download needed: Debian's /usr/share/common-licenses, the Go toolchain's
// doc/ pages (tags stripped), then the comments of its src/**/doc.go files
// and of the rest of the standard library, up to 4 MiB in all. goroot "" means runtime.GOROOT() or $GOROOT.
func StarterCorpus(goroot string) ([]string, error) {
	if goroot == "" {
		goroot = os.Getenv("GOROOT")
	}
	if goroot == "" {
		goroot = runtime.GOROOT()
	}
	var texts []string
	seen := map[string]bool{}
	add := func(path string, clean func(string) string) {
		real, err := filepath.EvalSymlinks(path)
		if err != nil || seen[real] {
			return
		}
		seen[real] = true
		b, err := os.ReadFile(real)
		if err != nil || len(b) == 0 {
			return
		}
		if t := strings.TrimSpace(clean(string(b))); len(t) > 0 {
			texts = append(texts, t)
		}
	}
	plain := func(s string) string { return s }
	licenses, _ := filepath.Glob("/usr/share/common-licenses/*")
	sort.Strings(licenses)
	for _, p := range licenses {
		add(p, plain)
	}
	if goroot != "" {
		docs, _ := filepath.Glob(filepath.Join(goroot, "doc", "*"))
		sort.Strings(docs)
		for _, p := range docs {
			switch filepath.Ext(p) {
			case ".html":
				add(p, func(s string) string {
					return blankLines.ReplaceAllString(html.UnescapeString(htmlTag.ReplaceAllString(s, "")), "\n\n")
				})
			case ".md":
				add(p, plain)
			}
		}
		var docGo, otherGo []string
		filepath.WalkDir(filepath.Join(goroot, "src"), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor") {
				return filepath.SkipDir
			}
			switch {
			case d.Name() == "doc.go":
				docGo = append(docGo, p)
			case strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go"):
				otherGo = append(otherGo, p)
			}
			return nil
		})
		sort.Strings(docGo)
		sort.Strings(otherGo)
		// Package documentation first, then the comments of the rest of the
		// standard library until the corpus reaches its cap.
		for _, p := range append(docGo, otherGo...) {
			if total(texts) >= starterCorpusCap {
				break
			}
			add(p, goComments)
		}
	}
	n := total(texts)
	if n < 100_000 {
		return nil, fmt.Errorf("starter corpus: found only %d bytes of text (need /usr/share/common-licenses or a Go toolchain)", n)
	}
	return texts, nil
}

// starterCorpusCap bounds the starter corpus (bytes): enough text that
// StarterConfig's steps see each token about once.
const starterCorpusCap = 4 << 20

func total(texts []string) int {
	n := 0
	for _, t := range texts {
		n += len(t)
	}
	return n
}

// goComments keeps the prose of a Go file: its // comment lines, minus
// directives and the licence header every file repeats.
func goComments(src string) string {
	var b strings.Builder
	for _, line := range strings.Split(src, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "//go:") || strings.HasPrefix(l, "//go ") || strings.HasPrefix(l, "// Copyright ") ||
			strings.HasPrefix(l, "// Use of this source code") || strings.HasPrefix(l, "// license that can be found") {
			continue
		}
		if c, ok := strings.CutPrefix(l, "//"); ok {
			b.WriteString(strings.TrimPrefix(c, " "))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// EnsureStarterModel returns the directory of the starter base model under
// dataDir (dataDir/models/starter-gpt-go-docs), pretraining it with
// StarterConfig on StarterCorpus first when it is not there yet. It takes
// minutes on two cores and is cached afterwards. progress may be nil.
// Callers must not run it concurrently for the same dataDir.
func EnsureStarterModel(ctx context.Context, dataDir string, progress func(Event)) (string, error) {
	return ensureModel(ctx, dataDir, StarterName, StarterConfig, "", progress)
}

func ensureModel(ctx context.Context, dataDir, name string, cfg PretrainConfig, goroot string, progress func(Event)) (string, error) {
	dir := filepath.Join(dataDir, "models", name)
	if IsModelDir(dir) {
		return dir, nil
	}
	texts, err := StarterCorpus(goroot)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("starter model: %w", err)
	}
	pool := gemm.NewPool(0)
	defer pool.Close()
	cfg.Train.CheckpointPath = filepath.Join(dataDir, "models", "."+name+".ckpt")
	if _, err := Pretrain(ctx, texts, cfg, dir, pool, progress); err != nil {
		return "", fmt.Errorf("starter model: %w", err)
	}
	os.Remove(cfg.Train.CheckpointPath)
	return dir, nil
}

// IsModelDir reports whether dir holds a complete model with its tokenizer.
func IsModelDir(dir string) bool {
	for _, f := range []string{ModelConfigFile, ModelWeightsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	_, errJSON := os.Stat(filepath.Join(dir, tokenizer.JSONFile))
	_, errVocab := os.Stat(filepath.Join(dir, tokenizer.VocabFile))
	return errJSON == nil || errVocab == nil
}
