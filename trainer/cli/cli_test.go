package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfactory/modelfactory/trainer"
)

func TestPretrainTrainGenerateEndToEnd(t *testing.T) {
	dir := t.TempDir()
	var corpus strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&corpus, "The cat number %d sat on the mat. A dog ran to the park and back. ", i%17)
	}
	os.WriteFile(filepath.Join(dir, "corpus.txt"), []byte(corpus.String()), 0o644)
	base := filepath.Join(dir, "base")
	var out, errb bytes.Buffer
	err := Pretrain(context.Background(), []string{"--corpus", filepath.Join(dir, "corpus.txt"), "--out", base,
		"--vocab", "320", "--layers", "1", "--heads", "2", "--width", "32", "--context", "32", "--steps", "40", "--batch", "4", "--lr", "5e-3"}, &out, &errb)
	if err != nil {
		t.Fatalf("pretrain: %v\n%s", err, errb.String())
	}
	if !trainer.IsModelDir(base) {
		t.Fatal("pretrain wrote no model")
	}
	var jsonl strings.Builder
	for i := 0; i < 40; i++ {
		rec := map[string]string{"instruction": "Name the animal", "input": fmt.Sprint(i % 3), "response": []string{"cat", "dog", "bird"}[i%3]}
		b, _ := json.Marshal(rec)
		jsonl.Write(append(b, '\n'))
	}
	os.WriteFile(filepath.Join(dir, "data.jsonl"), []byte(jsonl.String()), 0o644)
	run := `base_model: base
data: data.jsonl
output_dir: out
mode: lora
lora: {r: 4, lora_alpha: 8, lora_dropout: 0.0, target_modules: [c_attn, c_proj, c_fc]}
train: {steps: 30, batch_size: 4, seq_len: 32, lr: 0.01, eval_every: 10, seed: 3}
merge: true
`
	os.WriteFile(filepath.Join(dir, "run.yaml"), []byte(run), 0o644)
	out.Reset()
	if err := Train(context.Background(), []string{"--config", filepath.Join(dir, "run.yaml")}, &out, &errb); err != nil {
		t.Fatalf("train: %v\n%s", err, errb.String())
	}
	var last map[string]any
	n := 0
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		n++
	}
	if n != 30 || last["current_steps"].(float64) != 30 || last["eval_loss"] == nil {
		t.Fatalf("%d progress lines, last %v", n, last)
	}
	for _, f := range []string{"adapter_model.safetensors", "adapter_config.json", "trainer_log.jsonl", "checkpoint.bin", "merged/model.safetensors", "merged/vocab.json"} {
		if _, err := os.Stat(filepath.Join(dir, "out", f)); err != nil {
			t.Errorf("missing output %s", f)
		}
	}
	var gen1, gen2 bytes.Buffer
	if err := Generate(context.Background(), []string{"--model", base, "--adapter", filepath.Join(dir, "out"), "--prompt", "Name the animal", "--instruction", "--max-tokens", "8"}, &gen1, &errb); err != nil {
		t.Fatalf("generate: %v", err)
	}
	if err := Generate(context.Background(), []string{"--model", filepath.Join(dir, "out", "merged"), "--prompt", "Name the animal", "--instruction", "--max-tokens", "8"}, &gen2, &errb); err != nil {
		t.Fatalf("generate merged: %v", err)
	}
	if gen1.String() != gen2.String() {
		t.Fatalf("adapter output %q, merged %q", gen1.String(), gen2.String())
	}
	// Bad input is an error, not a panic.
	if err := Train(context.Background(), []string{"--config", filepath.Join(dir, "nope.yaml")}, &out, &errb); err == nil {
		t.Fatal("missing config accepted")
	}
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("base_model: base\ndata: data.jsonl\noutput_dir: o\nbogus: 1\n"), 0o644)
	if err := Train(context.Background(), []string{"--config", filepath.Join(dir, "bad.yaml")}, &out, &errb); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown key: %v", err)
	}
	if err := Bench(context.Background(), []string{"train", "--preset", "huge"}, &out, &errb); err == nil {
		t.Fatal("unknown preset accepted")
	}
}
