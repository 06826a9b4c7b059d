package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/modelfactory/modelfactory/trainer"
)

// logWriter writes output_dir/trainer_log.jsonl exactly as LLaMA-Factory's
// LogCallback does — a line per logging step (loss averaged over the
// logging interval, lr, epoch, percentage, timings), a separate line per
// evaluation (eval_loss), a closing line without losses — keeps Hugging
// Face's log_history for trainer_state.json, and prints Trainer-style
// lines to stdout.
type logWriter struct {
	a     *trainArgs
	total int
	f     *os.File

	mu         sync.Mutex
	lossSum    float64
	lossN      int
	history    []map[string]any
	lastEpoch  float64
	lastStep   int
	bestMetric *float64
	bestStep   int
	last       trainer.Event
}

func newLogWriter(a *trainArgs, total int) *logWriter {
	return &logWriter{a: a, total: total}
}

func (l *logWriter) open() error {
	f, err := os.OpenFile(filepath.Join(l.a.OutputDir, trainer.ProgressLogFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	l.f = f
	return err
}

func (l *logWriter) close() {
	if l.f != nil {
		l.f.Close()
	}
}

// kv is one key of an ordered JSON object.
type kv struct {
	k string
	v any
}

// pyJSON encodes an ordered object with Python json.dumps' separators.
func pyJSON(fields []kv) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteString(", ")
		}
		k, _ := json.Marshal(f.k)
		v, _ := json.Marshal(f.v)
		b.Write(k)
		b.WriteString(": ")
		b.Write(v)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func (l *logWriter) write(fields []kv) {
	_, _ = l.f.Write(pyJSON(fields))
}

func (l *logWriter) event(ev trainer.Event, stdout io.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last, l.lastEpoch, l.lastStep = ev, ev.Epoch, ev.Step
	if ev.Loss != nil {
		l.lossSum += *ev.Loss
		l.lossN++
	}
	epoch := math.Round(ev.Epoch*1e4) / 1e4
	if ev.Step%l.a.LoggingSteps == 0 && l.lossN > 0 {
		loss := math.Round(l.lossSum/float64(l.lossN)*1e4) / 1e4
		l.lossSum, l.lossN = 0, 0
		fields := []kv{{"current_steps", ev.Step}, {"total_steps", ev.TotalSteps}, {"loss", loss}, {"lr", ev.LR},
			{"epoch", epoch}, {"percentage", ev.Percentage}, {"elapsed_time", ev.ElapsedTime}, {"remaining_time", ev.RemainingTime}}
		if ev.TokensPerSec > 0 {
			fields = append(fields, kv{"throughput", math.Round(ev.TokensPerSec*100) / 100})
		}
		l.write(fields)
		l.history = append(l.history, map[string]any{"epoch": epoch, "learning_rate": ev.LR, "loss": loss, "step": ev.Step})
		fmt.Fprintf(stdout, "{'loss': %.4f, 'learning_rate': %.4e, 'epoch': %.2f}\n", loss, ev.LR, ev.Epoch)
	}
	if ev.EvalLoss != nil {
		el := *ev.EvalLoss
		l.write([]kv{{"current_steps", ev.Step}, {"total_steps", ev.TotalSteps}, {"eval_loss", el}, {"epoch", epoch},
			{"percentage", ev.Percentage}, {"elapsed_time", ev.ElapsedTime}, {"remaining_time", ev.RemainingTime}})
		l.history = append(l.history, map[string]any{"epoch": epoch, "eval_loss": el, "step": ev.Step})
		if l.bestMetric == nil || el < *l.bestMetric {
			l.bestMetric, l.bestStep = &el, ev.Step
		}
		fmt.Fprintf(stdout, "{'eval_loss': %.4f, 'epoch': %.2f}\n", el, ev.Epoch)
	}
}

// finish writes LLaMA-Factory's closing line (the train summary log has
// no loss, so only the step counters and timings remain).
func (l *logWriter) finish(step int, summary map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.last
	pct := 100.0
	if l.total > 0 {
		pct = math.Round(10000*float64(step)/float64(l.total)) / 100
	}
	l.write([]kv{{"current_steps", step}, {"total_steps", l.total}, {"epoch", math.Round(ev.Epoch*1e4) / 1e4},
		{"percentage", pct}, {"elapsed_time", ev.ElapsedTime}, {"remaining_time", "0:00:00"}})
	entry := map[string]any{"epoch": math.Round(ev.Epoch*1e4) / 1e4, "step": step, "total_flos": 0}
	for k, v := range summary {
		entry[k] = v
	}
	l.history = append(l.history, entry)
}

// state is Hugging Face's trainer_state.json at step.
func (l *logWriter) state(step int) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	hist := make([]map[string]any, len(l.history))
	copy(hist, l.history)
	st := map[string]any{"best_metric": nil, "best_model_checkpoint": nil, "epoch": math.Round(l.lastEpoch*1e4) / 1e4,
		"eval_steps": l.a.EvalSteps, "global_step": step, "is_hyper_param_search": false, "is_local_process_zero": true,
		"is_world_process_zero": true, "log_history": hist, "logging_steps": l.a.LoggingSteps, "max_steps": l.total,
		"num_input_tokens_seen": 0, "num_train_epochs": l.a.Epochs, "save_steps": l.a.SaveSteps, "stateful_callbacks": map[string]any{},
		"total_flos": 0, "train_batch_size": l.a.BatchSize, "trial_name": nil, "trial_params": nil}
	if l.bestMetric != nil {
		st["best_metric"] = *l.bestMetric
		st["best_global_step"] = l.bestStep
	}
	return st
}
