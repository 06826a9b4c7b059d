package chain

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	gethlog "github.com/ethereum/go-ethereum/log"
)

func TestGethLoggerKeepsWarningsAndSlogDefault(t *testing.T) {
	before := slog.Default()
	var buf bytes.Buffer
	l := newGethLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	old := gethlog.Root()
	gethlog.SetDefault(l)
	// Restore through the wrapper: SetDefault with geth's own type would reset slog.Default.
	defer gethlog.SetDefault(gethLogger{old})
	if slog.Default() != before {
		t.Fatal("installing the geth logger replaced slog.Default")
	}
	gethlog.Info("chatty info")
	gethlog.Debug("chatty debug")
	gethlog.Warn("sealing failed", "err", "boom")
	out := buf.String()
	if strings.Contains(out, "chatty") {
		t.Fatalf("info/debug records leaked: %s", out)
	}
	if !strings.Contains(out, "sealing failed") || !strings.Contains(out, "boom") {
		t.Fatalf("warning missing: %q", out)
	}
}
