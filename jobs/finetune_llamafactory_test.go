package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelfactory/modelfactory/modelimport/hftest"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
)

var (
	compatCLIOnce sync.Once
	compatCLIDir  string
	compatCLIErr  error
)

// compatCLI builds cmd/llamafactory-cli (LLaMA-Factory's CLI on the
// native trainer) once and returns the directory holding it, to be put on
// PATH: the worker then drives it exactly as it drives LLaMA-Factory.
func compatCLI(t testing.TB) string {
	t.Helper()
	compatCLIOnce.Do(func() {
		compatCLIDir, compatCLIErr = os.MkdirTemp("", "llamafactory-cli-bin-")
		if compatCLIErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(compatCLIDir, "llamafactory-cli"),
			"github.com/modelfactory/modelfactory/cmd/llamafactory-cli").CombinedOutput()
		if err != nil {
			compatCLIErr = fmt.Errorf("go build llamafactory-cli: %v\n%s", err, out)
		}
	})
	if compatCLIErr != nil {
		t.Fatal(compatCLIErr)
	}
	return compatCLIDir
}

// withCompatCLI puts the compatible CLI first on PATH.
func withCompatCLI(t *testing.T) {
	t.Setenv("PATH", compatCLI(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func writeJSONL(t *testing.T, path string, n int, rec func(i int) map[string]string) {
	t.Helper()
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		line, _ := json.Marshal(rec(i))
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func instructionRecord(i int) map[string]string {
	return map[string]string{"instruction": "the quick brown fox", "input": []string{"a", "b", ""}[i%3],
		"response": []string{"jumps over the lazy dog", "a tiny model", "hello"}[i%3]}
}

// lfRecorder collects what a backend reports.
type lfRecorder struct {
	mu          sync.Mutex
	events      []trainer.Event
	logs        []string
	samples     []string
	checkpoints []int
	keep        map[int]string // step → a copy of the checkpoint files
	keepDir     string
}

func (r *lfRecorder) job(t *testing.T, base, work string, s store.FinetuneSettings) *TrainJob {
	dir := t.TempDir()
	train, val := filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "val.jsonl")
	writeJSONL(t, train, 60, instructionRecord)
	writeJSONL(t, val, 12, instructionRecord)
	r.keep, r.keepDir = map[int]string{}, t.TempDir()
	return &TrainJob{Settings: s, Base: &store.BaseModel{Slug: "tiny", TrainableCPU: true}, BaseDir: base,
		Schema: "instruction", TrainFile: train, ValFile: val, WorkDir: work,
		Progress: func(ev trainer.Event) { r.mu.Lock(); r.events = append(r.events, ev); r.mu.Unlock() },
		Log:      func(l string) { r.mu.Lock(); r.logs = append(r.logs, l); r.mu.Unlock() },
		Sample: func(step int, prompt, output string) {
			r.mu.Lock()
			r.samples = append(r.samples, fmt.Sprintf("%d:%s", step, prompt))
			r.mu.Unlock()
		},
		Checkpoint: func(ctx context.Context, dir string, step int) error {
			for _, f := range []string{"trainer_state.json", "adapter_model.safetensors", "trainer_checkpoint.bin"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("checkpoint %d lacks %s", step, f)
				}
			}
			dst := filepath.Join(r.keepDir, fmt.Sprint(step))
			if err := os.CopyFS(dst, os.DirFS(dir)); err != nil {
				return err
			}
			r.mu.Lock()
			r.checkpoints = append(r.checkpoints, step)
			r.keep[step] = dst
			r.mu.Unlock()
			return nil
		},
	}
}

func lfSettings() store.FinetuneSettings {
	s := store.PresetSettings(store.PresetQuick, store.MethodLoRA)
	s.LoRARank, s.LoRAAlpha, s.LoRATargets = 4, 8, []string{"c_attn", "c_proj", "c_fc"}
	s.MaxSteps, s.BatchSize, s.GradAccum, s.ContextLength, s.LearningRate = 12, 2, 1, 32, 1e-2
	s.EvalEvery, s.CheckpointEvery, s.EarlyStoppingPatience, s.WarmupSteps = 4, 4, 0, 1
	s.SamplePrompts, s.SampleTokens, s.Seed = []string{"the quick"}, 4, 9
	return s
}

// The GPU backend drives the llamafactory-cli found on PATH — here the
// compatible one, training for real — and turns its files into the
// worker's callbacks and outputs; a second attempt resumes from an
// uploaded checkpoint and ends with the same adapter.
func TestLlamaFactoryBackendTrainsAndResumes(t *testing.T) {
	withCompatCLI(t)
	base := hftest.TinyGPT2(t, filepath.Join(t.TempDir(), "base"), "mit")
	rec := &lfRecorder{}
	work := filepath.Join(t.TempDir(), "attempt")
	j := rec.job(t, base, work, lfSettings())
	out, err := (&LlamaFactoryBackend{}).Train(context.Background(), j)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, strings.Join(rec.logs, "\n"))
	}

	// One progress event per step; evaluation steps carry both losses.
	seen := map[int]bool{}
	for _, ev := range rec.events {
		if seen[ev.Step] {
			t.Fatalf("step %d reported twice", ev.Step)
		}
		seen[ev.Step] = true
		wantEval := ev.Step%4 == 0
		if (ev.EvalLoss != nil) != wantEval || ev.Loss == nil || ev.TotalSteps != 12 {
			t.Fatalf("event %+v", ev)
		}
	}
	if len(rec.events) != 12 || rec.events[11].Step != 12 {
		t.Fatalf("%d events", len(rec.events))
	}
	// A fast run may finish before earlier checkpoints settle; the newest
	// one is always handed over.
	if len(rec.checkpoints) == 0 || rec.checkpoints[len(rec.checkpoints)-1] != 12 {
		t.Fatalf("checkpoints %v", rec.checkpoints)
	}
	if len(rec.samples) == 0 || !strings.HasSuffix(rec.samples[0], ":the quick") {
		t.Fatalf("samples %v", rec.samples)
	}
	if !strings.Contains(strings.Join(rec.logs, "\n"), "***** train metrics *****") {
		t.Fatalf("CLI output not forwarded: %q", rec.logs)
	}

	// Outputs: the PEFT adapter alone, and the merged model.
	ents, _ := os.ReadDir(out.AdapterDir)
	if len(ents) != 2 {
		t.Fatalf("adapter dir holds %d files", len(ents))
	}
	pool := gemm.NewPool(1)
	defer pool.Close()
	m, err := trainer.LoadModel(out.ModelDir, pool)
	if err != nil {
		t.Fatalf("merged model: %v", err)
	}
	if _, err := trainer.LoadAdapter(out.AdapterDir, m.Config); err != nil {
		t.Fatalf("adapter: %v", err)
	}
	for _, k := range []string{"train_loss", "eval_loss", "val_loss_before", "val_loss_after", "steps"} {
		if _, ok := out.Metrics[k]; !ok {
			t.Errorf("metric %s missing: %v", k, out.Metrics)
		}
	}
	if out.Metrics["val_loss_after"] >= out.Metrics["val_loss_before"] || out.Metrics["steps"] != 12 || out.EarlyStopped {
		t.Fatalf("metrics %v", out.Metrics)
	}

	// Another worker resumes from the files of checkpoint-4 (as the
	// worker downloads them: a flat directory).
	rec2 := &lfRecorder{}
	j2 := rec2.job(t, base, filepath.Join(t.TempDir(), "attempt"), lfSettings())
	j2.ResumeDir = filepath.Join(t.TempDir(), "resume")
	if err := os.CopyFS(j2.ResumeDir, os.DirFS(filepath.Join(work, "output", "checkpoint-4"))); err != nil {
		t.Fatal(err)
	}
	out2, err := (&LlamaFactoryBackend{}).Train(context.Background(), j2)
	if err != nil {
		t.Fatalf("resumed train: %v\n%s", err, strings.Join(rec2.logs, "\n"))
	}
	if rec2.events[0].Step != 5 {
		t.Fatalf("resumed run starts at step %d", rec2.events[0].Step)
	}
	a, _ := os.ReadFile(filepath.Join(out.AdapterDir, trainer.AdapterWeightsFile))
	b, _ := os.ReadFile(filepath.Join(out2.AdapterDir, trainer.AdapterWeightsFile))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("the resumed attempt's adapter differs from the uninterrupted one")
	}
}

func TestLlamaFactoryBackendCancelAndErrors(t *testing.T) {
	withCompatCLI(t)
	base := hftest.TinyGPT2(t, filepath.Join(t.TempDir(), "base"), "mit")
	rec := &lfRecorder{}
	s := lfSettings()
	s.MaxSteps, s.CheckpointEvery = 1_000_000, 1_000_000
	j := rec.job(t, base, filepath.Join(t.TempDir(), "attempt"), s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan struct{})
	var once sync.Once
	progress := j.Progress
	j.Progress = func(ev trainer.Event) { progress(ev); once.Do(func() { close(first) }) }
	errc := make(chan error, 1)
	go func() {
		_, err := (&LlamaFactoryBackend{Grace: 30 * time.Second}).Train(ctx, j)
		errc <- err
	}()
	select {
	case <-first:
	case <-time.After(2 * time.Minute):
		t.Fatal("no progress")
	}
	t0 := time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
		// SIGTERM stops the compatible CLI within a step, long before
		// the SIGKILL grace period.
		if d := time.Since(t0); d > 20*time.Second {
			t.Fatalf("cancel took %v", d)
		}
	case <-time.After(time.Minute):
		t.Fatal("cancel did not stop training")
	}

	// A bad setting fails with the CLI's own message in the error.
	s = lfSettings()
	s.LoRATargets = []string{"lm_head"}
	j = rec.job(t, base, filepath.Join(t.TempDir(), "attempt"), s)
	if _, err := (&LlamaFactoryBackend{}).Train(context.Background(), j); err == nil ||
		!strings.Contains(err.Error(), `lora_target "lm_head"`) {
		t.Fatalf("bad target: %v", err)
	}
	// Without LLaMA-Factory installed the error says what to do.
	t.Setenv("PATH", t.TempDir())
	j = rec.job(t, base, filepath.Join(t.TempDir(), "attempt"), lfSettings())
	if _, err := (&LlamaFactoryBackend{}).Train(context.Background(), j); err == nil ||
		!strings.Contains(err.Error(), "llamafactory-cli not found on PATH: install LLaMA-Factory on GPU workers or set MF_LLAMAFACTORY_CLI") {
		t.Fatalf("missing CLI: %v", err)
	}
}

// BenchmarkLlamaFactoryFirstProgress measures the GPU path's share of
// "Launch to first progress event": from LlamaFactoryBackend.Train to the
// first progress event, with the compatible CLI (process start, config and
// data, model load, first step, log poll). Run:
//
//	go test ./jobs -run '^$' -bench LlamaFactoryFirstProgress -benchtime 5x
func BenchmarkLlamaFactoryFirstProgress(b *testing.B) {
	dir := b.TempDir()
	b.Setenv("PATH", compatCLI(b)+string(os.PathListSeparator)+os.Getenv("PATH"))
	base := hftest.TinyGPT2(b, filepath.Join(dir, "base"), "mit")
	train := filepath.Join(dir, "train.jsonl")
	var buf bytes.Buffer
	for i := 0; i < 60; i++ {
		line, _ := json.Marshal(instructionRecord(i))
		buf.Write(append(line, '\n'))
	}
	if err := os.WriteFile(train, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	s := lfSettings()
	s.MaxSteps, s.CheckpointEvery = 100000, 100000
	var total time.Duration
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan time.Time, 1)
		j := &TrainJob{Settings: s, Base: &store.BaseModel{TrainableCPU: true}, BaseDir: base, Schema: "instruction",
			TrainFile: train, WorkDir: filepath.Join(dir, fmt.Sprint(i)),
			Progress: func(trainer.Event) {
				select {
				case first <- time.Now():
				default:
				}
			}}
		t0 := time.Now()
		done := make(chan error, 1)
		go func() { _, err := (&LlamaFactoryBackend{}).Train(ctx, j); done <- err }()
		select {
		case at := <-first:
			total += at.Sub(t0)
		case err := <-done:
			b.Fatalf("ended before progress: %v", err)
		}
		cancel()
		<-done
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/first-progress")
}
