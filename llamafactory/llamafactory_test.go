package llamafactory

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelfactory/modelfactory/trainer"
)

// llamaFactoryKeys are the YAML keys LLaMA-Factory's argument dataclasses
// accept (hparams/model_args.py, data_args.py, finetuning_args.py and
// Hugging Face's TrainingArguments) that the generated configs may use.
var llamaFactoryKeys = map[string]bool{
	"model_name_or_path": true, "trust_remote_code": true, "stage": true, "do_train": true, "do_eval": true,
	"finetuning_type": true, "lora_rank": true, "lora_alpha": true, "lora_dropout": true, "lora_target": true,
	"dataset": true, "eval_dataset": true, "dataset_dir": true, "template": true, "cutoff_len": true,
	"overwrite_cache": true, "val_size": true, "output_dir": true, "logging_steps": true, "save_strategy": true,
	"save_steps": true, "save_only_model": true, "plot_loss": true, "overwrite_output_dir": true, "report_to": true,
	"per_device_train_batch_size": true, "per_device_eval_batch_size": true, "gradient_accumulation_steps": true,
	"learning_rate": true, "num_train_epochs": true, "max_steps": true, "lr_scheduler_type": true,
	"lr_scheduler_kwargs": true, "warmup_steps": true, "weight_decay": true, "max_grad_norm": true, "seed": true,
	"resume_from_checkpoint": true, "eval_strategy": true, "eval_steps": true, "early_stopping_steps": true,
	"load_best_model_at_end": true, "metric_for_best_model": true, "greater_is_better": true,
}

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const goldenConfig = `### model
model_name_or_path: /models/base
trust_remote_code: false
### method
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 4
lora_alpha: 8
lora_dropout: 0.05
lora_target: c_attn,c_proj
### dataset
dataset: mf_train
dataset_dir: WORK/data
template: empty
cutoff_len: 128
overwrite_cache: true
### output
output_dir: WORK/output
logging_steps: 1
save_strategy: steps
save_steps: 5
save_only_model: false
plot_loss: false
overwrite_output_dir: true
report_to: none
### train
per_device_train_batch_size: 2
gradient_accumulation_steps: 3
learning_rate: 0.0003
num_train_epochs: 2.5
max_steps: 40
lr_scheduler_type: cosine_with_min_lr
lr_scheduler_kwargs:
    min_lr_rate: 0.1
warmup_steps: 2
weight_decay: 0.01
max_grad_norm: 1
seed: 7
resume_from_checkpoint: /runs/1/checkpoint
### eval
eval_dataset: mf_val
do_eval: true
per_device_eval_batch_size: 2
eval_strategy: steps
eval_steps: 5
early_stopping_steps: 2
load_best_model_at_end: true
metric_for_best_model: eval_loss
greater_is_better: false
`

const goldenDatasetInfo = `{
  "mf_train": {
    "file_name": "mf_train.jsonl",
    "formatting": "alpaca",
    "columns": {
      "prompt": "instruction",
      "response": "output"
    }
  },
  "mf_val": {
    "file_name": "mf_val.jsonl",
    "formatting": "alpaca",
    "columns": {
      "prompt": "instruction",
      "response": "output"
    }
  }
}
`

func TestPrepareInstructionGolden(t *testing.T) {
	dir := t.TempDir()
	train := writeFile(t, filepath.Join(dir, "train.jsonl"),
		`{"instruction":"Say hi","input":"to Bob","response":"Hi Bob"}`+"\n"+`{"text":"great","label":"pos"}`+"\n")
	val := writeFile(t, filepath.Join(dir, "val.jsonl"), `{"instruction":"Say bye","output":"Bye"}`+"\n")
	work := filepath.Join(dir, "work")
	job, err := Prepare(Spec{BaseModelDir: "/models/base", Schema: "instruction", TrainFile: train, ValFile: val,
		WorkDir: work, ResumeFrom: "/runs/1/checkpoint", SaveSteps: 20, Settings: Settings{
			LoRARank: 4, LoRADropout: 0.05, LoRATargets: []string{"c_attn", "c_proj"}, LearningRate: 3e-4,
			Epochs: 2.5, MaxSteps: 40, BatchSize: 2, GradAccum: 3, ContextLength: 128, WarmupSteps: 2,
			MinLRRatio: 0.1, WeightDecay: 0.01, GradClip: 1, EvalEvery: 5, EarlyStoppingPatience: 2, Seed: 7}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(job.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(b), work, "WORK"); got != goldenConfig {
		t.Errorf("config.yaml:\n%s\nwant:\n%s", got, goldenConfig)
	}
	for k := range job.Config {
		if !llamaFactoryKeys[k] {
			t.Errorf("key %q is not a LLaMA-Factory argument", k)
		}
	}
	b, _ = os.ReadFile(filepath.Join(work, "data", DatasetInfoFile))
	if string(b) != goldenDatasetInfo {
		t.Errorf("dataset_info.json:\n%s", b)
	}
	// The exported prompts are exactly the trainer's, and every response
	// ends with the tokenizer's end-of-sequence text.
	b, _ = os.ReadFile(filepath.Join(work, "data", "mf_train.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || job.TrainRecord != 2 || job.ValRecords != 1 {
		t.Fatalf("exported %d lines, counts %d/%d", len(lines), job.TrainRecord, job.ValRecords)
	}
	var rec [2]map[string]string
	for i := range lines {
		if err := json.Unmarshal([]byte(lines[i]), &rec[i]); err != nil {
			t.Fatal(err)
		}
	}
	if rec[0]["instruction"] != trainer.InstructionPrompt("Say hi", "to Bob") || rec[0]["output"] != "Hi Bob<|endoftext|>" ||
		rec[1]["instruction"] != trainer.ClassificationPrompt("great") || rec[1]["output"] != "pos<|endoftext|>" || len(rec[0]) != 2 {
		t.Fatalf("exported records %q", rec)
	}
}

func TestPrepareDocumentsFullAndEOS(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	writeFile(t, filepath.Join(base, "tokenizer_config.json"), `{"eos_token": {"content": "</s>", "special": true}}`)
	train := writeFile(t, filepath.Join(dir, "docs.jsonl"), `{"text":"one document"}`+"\n"+`{"text":"two"}`+"\n")
	job, err := Prepare(Spec{BaseModelDir: base, Schema: "documents", TrainFile: train, WorkDir: filepath.Join(dir, "w"),
		Settings: Settings{Method: "full", ValSplit: 0.2, Scheduler: "constant", WarmupSteps: 3}})
	if err != nil {
		t.Fatal(err)
	}
	c := job.Config
	if c["stage"] != "pt" || c["finetuning_type"] != "full" || c["val_size"] != 0.2 || c["eval_dataset"] != nil ||
		c["lora_rank"] != nil || c["lr_scheduler_type"] != "constant_with_warmup" || c["early_stopping_steps"] != nil {
		t.Fatalf("config %v", c)
	}
	b, _ := os.ReadFile(filepath.Join(job.DatasetDir, DatasetInfoFile))
	var info map[string]datasetEntry
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	if e := info[TrainDataset]; e.Columns["prompt"] != "text" || len(e.Columns) != 1 || len(info) != 1 {
		t.Fatalf("dataset_info %s", b)
	}
	b, _ = os.ReadFile(filepath.Join(job.DatasetDir, "mf_train.jsonl"))
	if string(b) != "{\"text\":\"one document\"}\n{\"text\":\"two\"}\n" {
		t.Fatalf("pt data %q (LLaMA-Factory appends the EOS itself)", b)
	}
	if got := ReadEOSToken(base); got != "</s>" {
		t.Fatalf("eos %q", got)
	}
	if got := ReadEOSToken(dir); got != "<|endoftext|>" {
		t.Fatalf("default eos %q", got)
	}
}

func TestPrepareRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "ok.jsonl"), `{"text":"x"}`+"\n")
	empty := writeFile(t, filepath.Join(dir, "empty.jsonl"), "\n")
	broken := writeFile(t, filepath.Join(dir, "broken.jsonl"), `{"text":"x"}`+"\n{nope\n")
	for name, spec := range map[string]Spec{
		"schema":    {BaseModelDir: "b", Schema: "images", TrainFile: good},
		"method":    {BaseModelDir: "b", Schema: "documents", TrainFile: good, Settings: Settings{Method: "qlora"}},
		"lr":        {BaseModelDir: "b", Schema: "documents", TrainFile: good, Settings: Settings{LearningRate: -1}},
		"scheduler": {BaseModelDir: "b", Schema: "documents", TrainFile: good, Settings: Settings{Scheduler: "polynomial"}},
		"target":    {BaseModelDir: "b", Schema: "documents", TrainFile: good, Settings: Settings{LoRATargets: []string{"a,b"}}},
		"empty":     {BaseModelDir: "b", Schema: "documents", TrainFile: empty},
		"broken":    {BaseModelDir: "b", Schema: "documents", TrainFile: broken},
		"missing":   {BaseModelDir: "b", Schema: "documents", TrainFile: filepath.Join(dir, "nope.jsonl")},
	} {
		spec.WorkDir = filepath.Join(dir, name)
		if _, err := Prepare(spec); err == nil {
			t.Errorf("%s: no error", name)
		} else if _, err := os.Stat(filepath.Join(spec.WorkDir, ConfigFile)); err == nil {
			t.Errorf("%s: config written despite the error", name)
		}
	}
}

// fakeCLI writes an executable shell script named llamafactory-cli.
func fakeCLI(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "llamafactory-cli")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func prepared(t *testing.T) *Job {
	t.Helper()
	dir := t.TempDir()
	train := writeFile(t, filepath.Join(dir, "t.jsonl"), `{"instruction":"a","response":"b"}`+"\n")
	job, err := Prepare(Spec{BaseModelDir: "/m", Schema: "instruction", TrainFile: train, WorkDir: filepath.Join(dir, "w")})
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// A scripted CLI writes LLaMA-Factory's outputs step by step: Run follows
// the log while it grows, reports each checkpoint once it is complete and
// collects the adapter and metrics.
func TestRunFollowsProgressAndCheckpoints(t *testing.T) {
	job := prepared(t)
	out := job.OutputDir
	cli := fakeCLI(t, `
[ "$1" = train ] || exit 9
grep -q "output_dir: `+out+`" "$2" || { echo "wrong config $2" >&2; exit 8; }
cd "`+out+`"
echo "[INFO] starting"
echo '{"current_steps": 1, "total_steps": 2, "loss": 3.5, "lr": 0.0001, "epoch": 0.5, "percentage": 50.0, "elapsed_time": "0:00:01", "remaining_time": "0:00:01"}' >> trainer_log.jsonl
sleep 0.3
mkdir checkpoint-1 && echo x > checkpoint-1/adapter_model.safetensors && echo '{"global_step": 1}' > checkpoint-1/trainer_state.json
sleep 0.5
echo '{"current_steps": 2, "total_steps": 2, "loss": 3.0, "lr": 5e-05, "epoch": 1.0, "percentage": 100.0, "elapsed_time": "0:00:02", "remaining_time": "0:00:00"}' >> trainer_log.jsonl
echo '{"current_steps": 2, "total_steps": 2, "eval_loss": 3.25, "epoch": 1.0, "percentage": 100.0, "elapsed_time": "0:00:02", "remaining_time": "0:00:00"}' >> trainer_log.jsonl
mkdir checkpoint-2 && echo '{"global_step": 2}' > checkpoint-2/trainer_state.json
echo '{}' > adapter_config.json && echo y > adapter_model.safetensors
echo '{"epoch": 1.0, "train_loss": 3.25, "eval_loss": 3.25, "train_runtime": 2.5}' > all_results.json
echo '{"global_step": 2, "max_steps": 2}' > trainer_state.json
echo "done" >&2
`)
	var mu sync.Mutex
	var events []trainer.Event
	var logs []string
	var ckpts []int
	res, err := Run(context.Background(), job, RunOptions{CLI: cli, Poll: 50 * time.Millisecond,
		OnLog:      func(l string) { mu.Lock(); logs = append(logs, l); mu.Unlock() },
		OnProgress: func(ev trainer.Event) { events = append(events, ev) },
		OnCheckpoint: func(ctx context.Context, dir string, step int) error {
			if _, err := os.Stat(filepath.Join(dir, "trainer_state.json")); err != nil {
				t.Errorf("checkpoint %d snapshot lacks trainer_state.json", step)
			}
			mu.Lock()
			ckpts = append(ckpts, step)
			mu.Unlock()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.AdapterDir != out || res.Metrics["train_loss"] != 3.25 || res.Metrics["eval_loss"] != 3.25 || res.EarlyStopped || res.GlobalStep != 2 {
		t.Fatalf("result %+v", res)
	}
	if len(events) != 3 || events[0].Step != 1 || events[2].Step != 2 || events[2].EvalLoss == nil || *events[2].Loss != 3.0 {
		t.Fatalf("events %+v", events)
	}
	if strings.Join(logs, "|") != "[INFO] starting|done" && strings.Join(logs, "|") != "done|[INFO] starting" {
		t.Fatalf("logs %q", logs)
	}
	if len(ckpts) == 0 || ckpts[len(ckpts)-1] != 2 || (len(ckpts) == 2 && ckpts[0] != 1) || len(ckpts) > 2 {
		t.Fatalf("checkpoints %v", ckpts)
	}
	if _, err := os.Stat(filepath.Join(job.WorkDir, "checkpoint-snapshots", "checkpoint-2")); err == nil {
		t.Fatal("snapshot left behind after upload")
	}
}

func TestRunErrors(t *testing.T) {
	job := prepared(t)
	t.Setenv("PATH", t.TempDir())
	if _, err := Run(context.Background(), job, RunOptions{}); !errors.Is(err, ErrCLINotFound) ||
		!strings.Contains(err.Error(), "MF_LLAMAFACTORY_CLI") {
		t.Fatalf("missing CLI: %v", err)
	}
	if _, err := Run(context.Background(), job, RunOptions{CLI: "/nonexistent/llamafactory-cli"}); err == nil ||
		!strings.Contains(err.Error(), "/nonexistent/llamafactory-cli") {
		t.Fatalf("missing custom CLI: %v", err)
	}
	cli := fakeCLI(t, "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35; do echo line $i; done\necho 'ValueError: Template x does not exist.' >&2\nexit 3\n")
	_, err := Run(context.Background(), job, RunOptions{CLI: cli})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "Template x does not exist") ||
		strings.Contains(err.Error(), "line 1\n") {
		t.Fatalf("failing CLI: %v", err)
	}
	// Exit 0 without the outputs is an error too.
	cli = fakeCLI(t, "exit 0\n")
	if _, err := Run(context.Background(), job, RunOptions{CLI: cli}); err == nil || !strings.Contains(err.Error(), "adapter_model.safetensors") {
		t.Fatalf("no outputs: %v", err)
	}
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// Cancelling stops the CLI's whole process group: a CLI that ignores
// SIGTERM is killed after the grace period, and so is its child.
func TestRunCancelKillsProcessGroup(t *testing.T) {
	job := prepared(t)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	cli := fakeCLI(t, `trap '' TERM
sleep 300 &
echo $! > `+pidFile+`
echo started
wait
`)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var once sync.Once
	errc := make(chan error, 1)
	go func() {
		_, err := Run(ctx, job, RunOptions{CLI: cli, Grace: 300 * time.Millisecond, Poll: 20 * time.Millisecond,
			OnLog: func(l string) {
				if l == "started" {
					once.Do(func() { close(started) })
				}
			}})
		errc <- err
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("CLI did not start")
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !alive(child) {
		t.Fatal("child not running before cancel")
	}
	t0 := time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if d := time.Since(t0); d < 250*time.Millisecond {
		t.Fatalf("returned after %v: the SIGTERM-ignoring CLI should have lasted the grace period", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(child) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(child) {
		t.Fatalf("child %d survived the cancel", child)
	}
}

// The training line of an evaluation step waits for its evaluation, so the
// step is reported once with both losses.
func TestEvalHoldReportsEvaluationStepsOnce(t *testing.T) {
	var got []trainer.Event
	h := &evalHold{every: 2, fn: func(ev trainer.Event) { got = append(got, ev) }}
	loss, el := 1.0, 2.0
	h.add(trainer.Event{Step: 1, Loss: &loss})
	h.add(trainer.Event{Step: 2, Loss: &loss})
	if len(got) != 1 {
		t.Fatalf("evaluation step reported before its evaluation: %+v", got)
	}
	h.add(trainer.Event{Step: 2, Loss: &loss, EvalLoss: &el})
	h.add(trainer.Event{Step: 3, Loss: &loss})
	h.add(trainer.Event{Step: 4, Loss: &loss}) // no evaluation line follows (e.g. the run ends)
	h.flush()
	if len(got) != 4 || got[1].Step != 2 || got[1].EvalLoss == nil || got[2].Step != 3 || got[3].Step != 4 {
		t.Fatalf("events %+v", got)
	}
}

// Progress-bar frames (carriage returns) are thinned out, long lines cut,
// and the last unterminated line kept.
func TestLogTailLines(t *testing.T) {
	var got []string
	l := &logTail{fn: func(s string) { got = append(got, s) }}
	long := strings.Repeat("x", maxLineBytes+100)
	l.read(strings.NewReader("one\n 10%|#   |\r 20%|##  |\r 30%|### |\rtwo\r\n" + long + "\nlast"))
	if len(got) != 5 || got[0] != "one" || got[1] != " 10%|#   |" || got[2] != "two" || len(got[3]) != maxLineBytes || got[4] != "last" {
		t.Fatalf("lines %q", got)
	}
	if !strings.HasSuffix(l.last(), "\nlast") {
		t.Fatalf("tail %q", l.last())
	}
}

// A CLI that exits but leaves a child holding its output open does not
// hang the run: the child is stopped a few seconds after the exit.
func TestRunDoesNotWaitForStrayChildren(t *testing.T) {
	job := prepared(t)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	cli := fakeCLI(t, "sleep 300 &\necho $! > "+pidFile+"\necho bye\nexit 4\n")
	t0 := time.Now()
	_, err := Run(context.Background(), job, RunOptions{CLI: cli})
	if err == nil || !strings.Contains(err.Error(), "exit status 4") || !strings.Contains(err.Error(), "bye") {
		t.Fatalf("run: %v", err)
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Fatalf("run took %v", d)
	}
	b, _ := os.ReadFile(pidFile)
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for child > 0 && alive(child) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if child == 0 || alive(child) {
		t.Fatalf("stray child %d still running", child)
	}
}
