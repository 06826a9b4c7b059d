// Command modelfactory runs ModelFactory: `serve` (web + workers),
// `worker` (workers only; run many), `migrate`, `version`, and the native
// trainer's `train`, `generate`, `pretrain` and `bench`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/modelfactory/modelfactory/trainer/cli"
	"github.com/modelfactory/modelfactory/web"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `ModelFactory — community datasets, no-code fine-tuning, Proof of Attribution.

Usage:
  modelfactory serve     [flags]   web server and background workers in one process
  modelfactory worker    [flags]   background workers only (run many, sharing one PostgreSQL)
  modelfactory migrate   [flags]   apply database migrations (idempotent)
  modelfactory version             print the version
  modelfactory train --config run.yaml
                                   fine-tune with the native trainer (LoRA or full); progress as JSON lines
  modelfactory generate --model DIR [--adapter DIR] --prompt TEXT
                                   generate text from a model, optionally with a LoRA adapter
  modelfactory pretrain --starter --out DIR | --corpus PATH --out DIR
                                   train a small base model (and tokenizer) from scratch
  modelfactory bench train --preset NAME [--mode full|lora]
                                   measure training throughput of the native trainer

Configuration comes from the environment (see the README), and any setting
can be overridden by a flag: modelfactory serve -h lists them.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exitConfig is the exit status for bad configuration or usage.
const exitConfig = 2

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitConfig
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	sub, rest := args[0], args[1:]
	var err error
	switch sub {
	case "serve", "worker", "migrate":
		cfg, cerr := loadConfig(sub, rest)
		if errors.Is(cerr, flag.ErrHelp) {
			return 0
		}
		if cerr != nil {
			fmt.Fprintf(stderr, "modelfactory %s: bad configuration:\n%v\n", sub, cerr)
			return exitConfig
		}
		log := newLogger(cfg, stderr)
		switch sub {
		case "serve":
			err = serve(ctx, cfg, log, stdout)
		case "worker":
			err = worker(ctx, cfg, log)
		case "migrate":
			err = migrate(ctx, cfg, log, stdout)
		}
		if err != nil {
			log.Error(sub+" failed", "err", err)
			return 1
		}
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "modelfactory", buildVersion())
		return 0
	case "bench":
		err = cli.Bench(ctx, rest, stdout, stderr)
	case "train":
		err = cli.Train(ctx, rest, stdout, stderr)
	case "generate":
		err = cli.Generate(ctx, rest, stdout, stderr)
	case "pretrain":
		err = cli.Pretrain(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "modelfactory: unknown command %q\n\n%s", sub, usage)
		return exitConfig
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "modelfactory %s: %v\n", sub, err)
		return 1
	}
	return 0
}

func buildVersion() string {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return v
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(web.LogHandler(h))
}
