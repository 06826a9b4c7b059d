// Command mftrain runs the trainer's subcommands without the rest of
// ModelFactory: mftrain train|generate|pretrain|bench ...
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/modelfactory/modelfactory/trainer/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mftrain train|generate|pretrain|bench ...")
		os.Exit(2)
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"train": cli.Train, "generate": cli.Generate, "pretrain": cli.Pretrain, "bench": cli.Bench,
	}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "mftrain: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(ctx, os.Args[2:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mftrain:", err)
		os.Exit(1)
	}
}
