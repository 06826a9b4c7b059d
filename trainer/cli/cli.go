// Package cli implements the trainer's subcommands of `modelfactory`:
// train, generate, pretrain and bench. Each function parses its own flags
// (args exclude the subcommand name) and writes machine-readable output to
// stdout and diagnostics to stderr.
package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/modelfactory/modelfactory/trainer"
)

// Bench runs `modelfactory bench train --preset NAME [--mode full|lora]`;
// args start after "bench". It prints one JSON line of trainer.BenchResult.
func Bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "train" {
		return fmt.Errorf("usage: bench train --preset tiny|small|gpt2 [--mode full|lora]")
	}
	fs := flag.NewFlagSet("bench train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	preset := fs.String("preset", "tiny", "model shape: tiny, small or gpt2")
	mode := fs.String("mode", "full", "full fine-tune or lora")
	warmup := fs.Int("warmup", 2, "unmeasured warm-up steps")
	steps := fs.Int("steps", 5, "measured steps")
	threads := fs.Int("threads", 0, "worker goroutines (0: GOMAXPROCS)")
	kernel := fs.String("kernel", "", "GEMM micro-kernel: avx512, avx2 or go (default: fastest available)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	p, err := trainer.LookupPreset(*preset)
	if err != nil {
		return err
	}
	res, err := trainer.Bench(ctx, p, *mode, *warmup, *steps, *threads, *kernel)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return json.NewEncoder(stdout).Encode(res)
}
