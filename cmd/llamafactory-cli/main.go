// Command llamafactory-cli is a stand-in for LLaMA-Factory's CLI built on
// ModelFactory's native trainer: `llamafactory-cli train CONFIG.yaml`
// reads LLaMA-Factory's YAML keys and dataset_info.json, trains a GPT-2
// architecture model for real (LoRA or full), and writes what
// LLaMA-Factory writes — output_dir/trainer_log.jsonl in its LogCallback
// format, checkpoint-N directories with trainer_state.json, the PEFT
// adapter or the model, train_results.json, eval_results.json and
// all_results.json. It lets the GPU worker path (package llamafactory) be
// tested end to end, and runs small GPT-2 fine-tunes where LLaMA-Factory
// is not installed. See docs/llamafactory.md for the keys it honours.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is reported by `llamafactory-cli version`.
const version = "0.9.3 (ModelFactory native trainer)"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage:
  llamafactory-cli train CONFIG.yaml [key=value ...]   fine-tune with LLaMA-Factory's YAML keys
  llamafactory-cli version                             print the version
`

// run executes one command and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	switch args[0] {
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "Welcome to LLaMA Factory (compatible CLI), version %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "train":
	default:
		fmt.Fprintf(stderr, "Unknown command: %s.\n%s", args[0], usage)
		return 1
	}
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	a, err := loadArgs(args[1], args[2:])
	if err == nil {
		err = train(ctx, a, stdout)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "Training interrupted.")
		return 143
	default:
		fmt.Fprintf(stderr, "ValueError: %v\n", err)
		return 1
	}
}
