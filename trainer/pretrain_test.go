package trainer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

func TestStarterCorpusAndTinyPretrain(t *testing.T) {
	texts, err := StarterCorpus("")
	if err != nil {
		t.Skipf("no shipped text on this machine: %v", err)
	}
	joined := strings.Join(texts, "\n")
	if strings.Contains(joined, "<p>") || !strings.Contains(joined, "the") {
		t.Fatal("corpus not cleaned")
	}
	// A very small recipe on a slice of the corpus: the loss must fall and
	// the saved directory must load and generate.
	cfg := PretrainConfig{
		Model:       Config{MaxSeqLen: 32, VocabSize: 400, NumLayers: 1, NumHeads: 2, Channels: 32},
		Train:       TrainConfig{Steps: 60, BatchSize: 4, SeqLen: 32, LR: 5e-3, Warmup: 5, EvalEvery: 30, Seed: 1},
		ValFraction: 0.1,
	}
	pool := gemm.NewPool(2)
	defer pool.Close()
	dir := filepath.Join(t.TempDir(), "m")
	res, err := Pretrain(context.Background(), []string{joined[:60000]}, cfg, dir, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !(res.Losses[len(res.Losses)-1] < res.Losses[0]-1) {
		t.Fatalf("loss %v → %v", res.Losses[0], res.Losses[len(res.Losses)-1])
	}
	if !IsModelDir(dir) {
		t.Fatal("incomplete model directory")
	}
	m, err := LoadModel(dir, pool)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Generate(context.Background(), m, tok, "The", GenerateOptions{MaxTokens: 5}, nil)
	if err != nil || len(g.Tokens) == 0 && g.FinishReason != "eos" {
		t.Fatalf("generate: %+v %v", g, err)
	}
	if _, err := os.Stat(dir + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("temporary directory left behind")
	}
}
