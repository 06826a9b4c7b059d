package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Generate runs `modelfactory generate --model DIR [--adapter DIR] --prompt
// TEXT`, streaming the continuation to stdout. With --instruction the prompt
// is wrapped in the training template first.
func Generate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelDir := fs.String("model", "", "base model directory (Hugging Face GPT-2 + tokenizer)")
	adapterDir := fs.String("adapter", "", "PEFT LoRA adapter directory, applied unmerged")
	prompt := fs.String("prompt", "", "prompt text")
	instruction := fs.Bool("instruction", false, "format --prompt as an instruction with the training template")
	maxTokens := fs.Int("max-tokens", 128, "maximum new tokens")
	temperature := fs.Float64("temperature", 0, "sampling temperature (0: greedy)")
	topK := fs.Int("top-k", 0, "sample from the k most likely tokens (0: all)")
	topP := fs.Float64("top-p", 1, "nucleus sampling mass")
	seed := fs.Uint64("seed", 0, "sampling seed")
	var stops stringList
	fs.Var(&stops, "stop", "stop sequence (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelDir == "" {
		return errors.New("generate: --model is required")
	}
	pool := gemm.NewPool(0)
	defer pool.Close()
	m, err := trainer.LoadModel(*modelDir, pool)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	tok, err := tokenizer.LoadDir(*modelDir)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if *adapterDir != "" {
		lo, err := trainer.LoadAdapter(*adapterDir, m.Config)
		if err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		m.LoRA = lo
	}
	p := *prompt
	if *instruction {
		p = trainer.InstructionPrompt(p, "")
	}
	opts := trainer.GenerateOptions{MaxTokens: *maxTokens, Temperature: *temperature, TopK: *topK, TopP: *topP, Stop: stops, Seed: *seed}
	_, err = trainer.Generate(ctx, m, tok, p, opts, func(s string) error {
		_, err := io.WriteString(stdout, s)
		return err
	})
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	_, err = io.WriteString(stdout, "\n")
	return err
}

// Pretrain runs `modelfactory pretrain`: it trains a tokenizer and a small
// GPT-2 from scratch on text files (--corpus, repeatable; directories are
// searched for .txt and .md files) or on the shipped starter corpus
// (--starter), and writes a Hugging Face model directory to --out.
func Pretrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pretrain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var corpus stringList
	fs.Var(&corpus, "corpus", "text file or directory (repeatable)")
	starter := fs.Bool("starter", false, "use the text shipped with Debian and the Go toolchain")
	out := fs.String("out", "", "output model directory")
	def := trainer.StarterConfig
	vocab := fs.Int("vocab", def.Model.VocabSize, "tokenizer vocabulary size (≤ 65535)")
	layers := fs.Int("layers", def.Model.NumLayers, "transformer blocks")
	heads := fs.Int("heads", def.Model.NumHeads, "attention heads")
	width := fs.Int("width", def.Model.Channels, "embedding width")
	ctxLen := fs.Int("context", def.Model.MaxSeqLen, "context length")
	steps := fs.Int("steps", def.Train.Steps, "optimizer steps")
	batch := fs.Int("batch", def.Train.BatchSize, "batch size")
	lr := fs.Float64("lr", def.Train.LR, "peak learning rate")
	seed := fs.Uint64("seed", def.Train.Seed, "seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("pretrain: --out is required")
	}
	var texts []string
	var err error
	if *starter {
		if texts, err = trainer.StarterCorpus(""); err != nil {
			return fmt.Errorf("pretrain: %w", err)
		}
	}
	for _, c := range corpus {
		t, err := readCorpus(c)
		if err != nil {
			return fmt.Errorf("pretrain: %w", err)
		}
		texts = append(texts, t...)
	}
	if len(texts) == 0 {
		return errors.New("pretrain: give --corpus or --starter")
	}
	cfg := def
	cfg.Model = trainer.Config{MaxSeqLen: *ctxLen, VocabSize: *vocab, NumLayers: *layers, NumHeads: *heads, Channels: *width}
	cfg.Train.Steps, cfg.Train.BatchSize, cfg.Train.LR, cfg.Train.Seed = *steps, *batch, *lr, *seed
	cfg.Train.SeqLen = *ctxLen
	cfg.Train.Warmup = min(cfg.Train.Warmup, *steps/10)
	cfg.Train.CheckpointPath = filepath.Clean(*out) + ".ckpt"
	pool := gemm.NewPool(0)
	defer pool.Close()
	if _, err := trainer.Pretrain(ctx, texts, cfg, *out, pool, trainer.JSONLines(stdout)); err != nil {
		return err
	}
	os.Remove(cfg.Train.CheckpointPath)
	return nil
}

func readCorpus(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var files []string
	if st.IsDir() {
		filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".txt") || strings.HasSuffix(p, ".md")) {
				files = append(files, p)
			}
			return nil
		})
		sort.Strings(files)
	} else {
		files = []string{path}
	}
	var texts []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		texts = append(texts, string(b))
	}
	return texts, nil
}
