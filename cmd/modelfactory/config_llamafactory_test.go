package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/store"
)

// A process that works train_gpu must find llamafactory-cli at start; one
// that does not work it never looks.
func TestLlamaFactoryCLISetting(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	t.Setenv("MF_LLAMAFACTORY_CLI", "")
	os.Unsetenv("MF_LLAMAFACTORY_CLI")
	if _, err := loadConfig("worker", []string{"-queues", "train_gpu"}); err == nil ||
		!strings.Contains(err.Error(), "llamafactory-cli not found on PATH: install LLaMA-Factory on GPU workers or set MF_LLAMAFACTORY_CLI") {
		t.Fatalf("train_gpu without the CLI: %v", err)
	}
	if _, err := loadConfig("worker", []string{"-queues", "train_gpu", "-llamafactory-cli", "/opt/none/llamafactory-cli"}); err == nil ||
		!strings.Contains(err.Error(), "MF_LLAMAFACTORY_CLI \"/opt/none/llamafactory-cli\"") {
		t.Fatalf("missing custom CLI: %v", err)
	}
	if _, err := loadConfig("worker", []string{"-queues", "train_cpu"}); err != nil {
		t.Fatalf("train_cpu needs no CLI: %v", err)
	}
	cli := filepath.Join(empty, "lf")
	if err := os.WriteFile(cli, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig("worker", []string{"-queues", "train_gpu", "-llamafactory-cli", cli})
	if err != nil {
		t.Fatal(err)
	}
	b, ok := c.finetune().Backends[store.BackendLlamaFactory].(*jobs.LlamaFactoryBackend)
	if !ok || b.CLI != cli {
		t.Fatalf("backends %v", c.finetune().Backends)
	}
}
