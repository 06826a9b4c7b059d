package main

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

	"github.com/modelfactory/modelfactory/modelimport/hftest"
	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
)

// fixture writes a tiny GPT-2 base model, an alpaca dataset (a JSON array,
// as LLaMA-Factory's demo data) registered in dataset_info.json, and
// returns the directory.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	hftest.TinyGPT2(t, filepath.Join(dir, "base"), "mit")
	var recs []map[string]string
	for i := 0; i < 60; i++ {
		recs = append(recs, map[string]string{"instruction": "the quick brown fox", "input": []string{"a", "b", ""}[i%3],
			"output": []string{"jumps over the lazy dog", "a tiny model", "hello"}[i%3] + "<|endoftext|>"})
	}
	b, _ := json.Marshal(recs)
	write(t, filepath.Join(dir, "data", "demo.json"), string(b))
	write(t, filepath.Join(dir, "data", "dataset_info.json"), `{
  "demo": {"file_name": "demo.json", "columns": {"prompt": "instruction", "query": "input", "response": "output"}},
  "pt_demo": {"file_name": "docs.jsonl", "columns": {"prompt": "text"}}
}`)
	var docs strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&docs, "{\"text\": \"the quick brown fox jumps over the lazy dog %d\"}\n", i%5)
	}
	write(t, filepath.Join(dir, "data", "docs.jsonl"), docs.String())
	return dir
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// config is a LLaMA-Factory example YAML (examples/train_lora) adapted to
// the tiny model, including keys that do not matter here (bf16, plot_loss…).
func config(dir, out string, extra string) string {
	return fmt.Sprintf(`### model
model_name_or_path: %s/base
trust_remote_code: true

### method
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 4
lora_alpha: 8
lora_target: all

### dataset
dataset: demo
dataset_dir: %s/data
template: empty
cutoff_len: 32
max_samples: 1000
overwrite_cache: true
preprocessing_num_workers: 16

### output
output_dir: %s
logging_steps: 1
save_steps: 3
plot_loss: true
overwrite_output_dir: true
save_only_model: false
report_to: none

### train
per_device_train_batch_size: 2
gradient_accumulation_steps: 1
learning_rate: 1.0e-2
num_train_epochs: 3.0
max_steps: 8
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
ddp_timeout: 180000000
resume_from_checkpoint: null
seed: 5

### eval
val_size: 0.1
per_device_eval_batch_size: 2
eval_strategy: steps
eval_steps: 4
%s`, dir, dir, out, extra)
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func readLog(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	s := bufio.NewScanner(f)
	for s.Scan() {
		if !strings.HasPrefix(s.Text(), `{"current_steps": `) {
			t.Fatalf("not LLaMA-Factory's json.dumps layout: %s", s.Text())
		}
		var m map[string]any
		if err := json.Unmarshal(s.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if _, err := trainer.ParseProgressLine(s.Bytes()); err != nil {
			t.Fatalf("progress reader refuses %s: %v", s.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestTrainLoRAWritesLlamaFactoryOutputs(t *testing.T) {
	dir := fixture(t)
	out := filepath.Join(dir, "saves")
	cfg := filepath.Join(dir, "lora_sft.yaml")
	write(t, cfg, config(dir, out, ""))
	code, stdout, stderr := runCLI(t, "train", cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	lines := readLog(t, filepath.Join(out, "trainer_log.jsonl"))
	var train, eval []map[string]any
	for _, l := range lines {
		if _, ok := l["loss"]; ok {
			train = append(train, l)
			if _, both := l["eval_loss"]; both {
				t.Fatal("a line carries loss and eval_loss: LLaMA-Factory logs evaluations separately")
			}
		} else if _, ok := l["eval_loss"]; ok {
			eval = append(eval, l)
		}
	}
	if len(train) != 8 || len(eval) != 2 || train[0]["current_steps"] != 1.0 || eval[0]["current_steps"] != 4.0 {
		t.Fatalf("%d train lines, %d eval lines: %v", len(train), len(eval), lines)
	}
	last := lines[len(lines)-1]
	if _, ok := last["loss"]; ok || last["current_steps"] != 8.0 || last["percentage"] != 100.0 {
		t.Fatalf("closing line %v", last)
	}
	if train[7]["loss"].(float64) >= train[0]["loss"].(float64) {
		t.Fatalf("loss did not fall: %v → %v", train[0]["loss"], train[7]["loss"])
	}
	if !strings.Contains(stdout, "'loss': ") || !strings.Contains(stdout, "***** train metrics *****") {
		t.Fatalf("stdout:\n%s", stdout)
	}

	// The PEFT adapter, loadable as such.
	pool := gemm.NewPool(1)
	defer pool.Close()
	base, err := trainer.LoadModel(filepath.Join(dir, "base"), pool)
	if err != nil {
		t.Fatal(err)
	}
	lo, err := trainer.LoadAdapter(out, base.Config)
	if err != nil {
		t.Fatal(err)
	}
	if lo.Config.Rank != 4 || lo.Config.Alpha != 8 || len(lo.Config.Targets) != 4 {
		t.Fatalf("adapter %+v", lo.Config)
	}
	var pc map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	if err := json.Unmarshal(b, &pc); err != nil || pc["peft_type"] != "LORA" || pc["task_type"] != "CAUSAL_LM" || pc["r"] != 4.0 {
		t.Fatalf("adapter_config.json %s", b)
	}
	// Checkpoints every save_steps (and at the end), each with
	// trainer_state.json and a loadable adapter.
	for _, step := range []int{3, 6, 8} {
		ck := filepath.Join(out, fmt.Sprintf("checkpoint-%d", step))
		var st map[string]any
		b, err := os.ReadFile(filepath.Join(ck, "trainer_state.json"))
		if err != nil || json.Unmarshal(b, &st) != nil || st["global_step"] != float64(step) || st["max_steps"] != 8.0 {
			t.Fatalf("checkpoint-%d trainer_state.json: %s %v", step, b, err)
		}
		if _, err := trainer.LoadAdapter(ck, base.Config); err != nil {
			t.Fatalf("checkpoint-%d adapter: %v", step, err)
		}
	}
	for _, name := range []string{"train_results.json", "eval_results.json", "all_results.json"} {
		var m map[string]any
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || json.Unmarshal(b, &m) != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "all_results.json" && (m["train_loss"] == nil || m["eval_loss"] == nil || m["epoch"] == nil) {
			t.Fatalf("all_results.json %s", b)
		}
	}
}

// Resuming from checkpoint-3 in a fresh output directory ends with the same
// adapter as the uninterrupted run, bit for bit.
func TestResumeFromCheckpoint(t *testing.T) {
	dir := fixture(t)
	full := filepath.Join(dir, "full")
	write(t, filepath.Join(dir, "a.yaml"), config(dir, full, ""))
	if code, o, e := runCLI(t, "train", filepath.Join(dir, "a.yaml")); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, o, e)
	}
	resumed := filepath.Join(dir, "resumed")
	write(t, filepath.Join(dir, "b.yaml"), strings.Replace(config(dir, resumed, ""), "resume_from_checkpoint: null",
		"resume_from_checkpoint: "+filepath.Join(full, "checkpoint-3"), 1))
	code, stdout, stderr := runCLI(t, "train", filepath.Join(dir, "b.yaml"))
	if code != 0 || !strings.Contains(stdout, "Resuming training from") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	lines := readLog(t, filepath.Join(resumed, "trainer_log.jsonl"))
	if lines[0]["current_steps"] != 4.0 {
		t.Fatalf("resumed log starts at %v", lines[0])
	}
	a, _ := os.ReadFile(filepath.Join(full, "adapter_model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(resumed, "adapter_model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("resumed adapter differs from the uninterrupted one")
	}
}

func TestPretrainFull(t *testing.T) {
	dir := fixture(t)
	out := filepath.Join(dir, "pt")
	cfg := strings.NewReplacer("stage: sft", "stage: pt", "finetuning_type: lora", "finetuning_type: full",
		"dataset: demo", "dataset: pt_demo", "template: empty\n", "", "save_steps: 3", "save_steps: 100").Replace(config(dir, out, ""))
	write(t, filepath.Join(dir, "pt.yaml"), cfg)
	if code, o, e := runCLI(t, "train", filepath.Join(dir, "pt.yaml")); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, o, e)
	}
	pool := gemm.NewPool(1)
	defer pool.Close()
	if _, err := trainer.LoadModel(out, pool); err != nil {
		t.Fatalf("full fine-tune output: %v", err)
	}
	var m map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "all_results.json"))
	if json.Unmarshal(b, &m) != nil || m["perplexity"] == nil {
		t.Fatalf("pt all_results.json %s", b)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint-8", "model.safetensors")); err != nil {
		t.Fatalf("final checkpoint: %v", err)
	}
}

func TestRefusesWhatItCannotHonour(t *testing.T) {
	dir := fixture(t)
	for extra, want := range map[string]string{
		"use_dora: true\n":      "use_dora",
		"quantization_bit: 4\n": "quantization_bit",
		"frobnicate: 1\n":       `unknown argument "frobnicate"`,
		"optim: sgd\n":          "optim",
	} {
		cfg := config(dir, filepath.Join(dir, "o"), extra)
		write(t, filepath.Join(dir, "x.yaml"), cfg)
		code, _, stderr := runCLI(t, "train", filepath.Join(dir, "x.yaml"))
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%q: exit %d, stderr %q", extra, code, stderr)
		}
	}
	for old, repl := range map[string]string{"lora_target: all": "lora_target: lm_head", "template: empty": "template: llama3",
		"stage: sft": "stage: dpo", "dataset: demo": "dataset: nope",
		"lr_scheduler_type: cosine": "lr_scheduler_type: polynomial"} {
		write(t, filepath.Join(dir, "y.yaml"), strings.Replace(config(dir, filepath.Join(dir, "o"), ""), old, repl, 1))
		code, _, stderr := runCLI(t, "train", filepath.Join(dir, "y.yaml"))
		if code != 1 || !strings.Contains(stderr, strings.Fields(repl)[1]) {
			t.Errorf("%s: exit %d, stderr %q", repl, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o", "adapter_model.safetensors")); err == nil {
		t.Fatal("a refused configuration trained")
	}
	// q_proj/v_proj map to GPT-2's fused c_attn.
	if got, err := mapTargets([]string{"q_proj", "v_proj", "down_proj"}); err != nil || strings.Join(got, ",") != "attn.c_attn,mlp.c_proj" {
		t.Fatalf("mapTargets: %v %v", got, err)
	}
	if code, out, _ := runCLI(t, "version"); code != 0 || !strings.Contains(out, "LLaMA Factory") {
		t.Fatalf("version: %d %q", code, out)
	}
}
