package jobs

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/modelfactory/modelfactory/store"
)

// TestFinetuneGPUPathEndToEnd runs the GPU path as a deployment does: the
// run is launched for a GPU worker, a River client working only queue
// train_gpu picks it up, and FinetuneWorker drives "llamafactory-cli
// train" found on PATH — the compatible CLI, training for real — through
// LlamaFactoryBackend, unchanged. The run succeeds with its progress,
// evaluations and samples recorded, and the model row lists the PEFT
// adapter files and the merged model in object storage.
func TestFinetuneGPUPathEndToEnd(t *testing.T) {
	withCompatCLI(t)
	e := newFTEnv(t)
	ctx := context.Background()
	_, v := seedVersion(t, e.st, e.owner, "Harbour GPU notes", store.VisibilityPublic, 300)
	c := gpuClient(t, e, "gpu1", FinetuneConfig{})
	run := gpuLaunch(t, e, c, v.ID, nil)
	if run.Queue != store.QueueTrainGPU || run.Backend != store.BackendLlamaFactory {
		t.Fatalf("launched on %s/%s", run.Queue, run.Backend)
	}
	r := e.waitRun(t, run.ID, "success", func(r *store.FinetuneRun) bool { return r.Final() })
	if r.Status != store.RunSucceeded {
		var lines []string
		for _, ev := range e.events(t, run.ID, store.EventLog) {
			lines = append(lines, string(ev.Data))
		}
		t.Fatalf("status %s: %s\n%s", r.Status, r.Error, strings.Join(lines, "\n"))
	}
	if r.Step != 30 || r.TotalSteps != 30 {
		t.Fatalf("step %d of %d", r.Step, r.TotalSteps)
	}

	// Progress came from trainer_log.jsonl: evaluations every 10 steps,
	// each recorded once with both losses.
	prog := e.events(t, run.ID, store.EventProgress)
	evals := 0
	for _, p := range prog {
		var line map[string]any
		if err := json.Unmarshal(p.Data, &line); err != nil {
			t.Fatal(err)
		}
		if _, ok := line["eval_loss"]; ok {
			evals++
			if _, ok := line["loss"]; !ok || int(line["current_steps"].(float64))%10 != 0 {
				t.Fatalf("evaluation event %s", p.Data)
			}
		}
	}
	if evals != 3 || prog[len(prog)-1].Step != 30 {
		t.Fatalf("%d evaluations in %d progress events", evals, len(prog))
	}
	logs := e.events(t, run.ID, store.EventLog)
	if !slices.ContainsFunc(logs, func(ev store.FinetuneEvent) bool { return strings.Contains(string(ev.Data), "with LLaMA-Factory") }) {
		t.Fatal("no log line names the LLaMA-Factory backend")
	}
	if smp := e.events(t, run.ID, store.EventSample); len(smp) == 0 || !strings.Contains(string(smp[0].Data), "The harbour") {
		t.Fatalf("samples %v", smp)
	}
	if !(r.Metrics["val_perplexity_after"] > 0 && r.Metrics["val_perplexity_after"] < r.Metrics["val_perplexity_before"]) ||
		r.Metrics["train_loss"] <= 0 {
		t.Fatalf("metrics %v", r.Metrics)
	}

	// The model row: PEFT adapter files and the merged model, hashed.
	var adapterFiles, mergedFiles []store.ModelFile
	var adapterHash, mergedHash, method string
	var af, mf []byte
	if err := e.pool.QueryRow(ctx, `SELECT method, adapter_hash, merged_hash, adapter_files, merged_files
		FROM models WHERE run_id = $1`, run.ID).Scan(&method, &adapterHash, &mergedHash, &af, &mf); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(af, &adapterFiles); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mf, &mergedFiles); err != nil {
		t.Fatal(err)
	}
	names := func(fs []store.ModelFile) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Name)
		}
		return out
	}
	if method != "lora" || adapterHash == "" || mergedHash == "" ||
		strings.Join(names(adapterFiles), ",") != "adapter_config.json,adapter_model.safetensors" ||
		!slices.Contains(names(mergedFiles), "model.safetensors") {
		t.Fatalf("model: %s adapter %v (%s) merged %v (%s)", method, names(adapterFiles), adapterHash, names(mergedFiles), mergedHash)
	}
}

// gpuClient starts a River client that works only queue train_gpu, with
// LlamaFactoryBackend for "llamafactory" runs.
func gpuClient(t *testing.T, e *ftEnv, name string, cfg FinetuneConfig) *river.Client[pgx.Tx] {
	t.Helper()
	cfg.WorkerName, cfg.Heartbeat, cfg.Threads = name, 100*time.Millisecond, 1
	if cfg.Backends == nil {
		cfg.Backends = map[string]TrainBackend{store.BackendLlamaFactory: &LlamaFactoryBackend{Threads: 1}}
	}
	c, err := NewClient(e.pool, Deps{Store: e.st, Logger: slog.New(slog.DiscardHandler), Blobs: e.blobs,
		DataDir: filepath.Join(e.dir, name), Finetune: cfg}, Config{Queues: []string{QueueTrainGPU}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = c.StopAndCancel(sctx)
	})
	return c
}

// gpuLaunch launches a LoRA run of the tiny model for a GPU worker.
func gpuLaunch(t *testing.T, e *ftEnv, c *river.Client[pgx.Tx], version int64, mod func(*store.FinetuneSettings)) *store.FinetuneRun {
	t.Helper()
	s := store.PresetSettings(store.PresetQuick, store.MethodLoRA)
	s.LoRARank, s.LoRAAlpha, s.ContextLength, s.BatchSize, s.MaxSteps = 4, 8, 16, 4, 30
	s.EvalEvery, s.EvalBatches, s.CheckpointEvery, s.ValSplit, s.EarlyStoppingPatience = 10, 2, 10, 0.2, 0
	s.SamplePrompts, s.SampleTokens = []string{"The harbour"}, 6
	if mod != nil {
		mod(&s)
	}
	run, err := e.st.LaunchFinetune(context.Background(), e.owner, store.FinetuneLaunch{Name: "Tiny GPU LoRA", BaseModelID: e.base.ID,
		VersionIDs: []int64{version}, Preset: store.PresetCustom, Settings: s, GPU: true},
		func(ctx context.Context, tx pgx.Tx, run *store.FinetuneRun) (int64, error) {
			return InsertFinetune(ctx, c, tx, run)
		})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// TestFinetuneGPUKilledWorkerResumesElsewhere: a GPU worker that dies
// right after uploading a LLaMA-Factory checkpoint is taken over by
// another GPU worker, which passes the downloaded checkpoint as
// resume_from_checkpoint and continues from the step after it.
func TestFinetuneGPUKilledWorkerResumesElsewhere(t *testing.T) {
	withCompatCLI(t)
	e := newFTEnv(t)
	_, v := seedVersion(t, e.st, e.owner, "Harbour GPU resume", store.VisibilityPublic, 200)
	crashed := make(chan int, 1)
	a := gpuClient(t, e, "gpu-a", FinetuneConfig{Stale: time.Second, WatchdogEvery: 300 * time.Millisecond,
		crashAfterCheckpoint: func(step int) bool {
			if step < 10 {
				return false
			}
			select {
			case crashed <- step:
			default:
			}
			return true
		}})
	// Long enough (in steps) for checkpoints to be picked up while the
	// CLI still trains.
	const steps = 1500
	run := gpuLaunch(t, e, a, v.ID, func(s *store.FinetuneSettings) { s.MaxSteps, s.CheckpointEvery, s.EvalEvery = steps, 50, 50 })
	var crashStep int
	select {
	case crashStep = <-crashed:
	case <-time.After(2 * time.Minute):
		t.Fatal("worker A never checkpointed")
	}
	// The watchdog that hands the run on runs where the web server's
	// queues are worked (default), and worker B works train_gpu.
	e.client(t, "web", FinetuneConfig{Stale: time.Second, WatchdogEvery: 300 * time.Millisecond}, true)
	var first atomic.Int64
	gpuClient(t, e, "gpu-b", FinetuneConfig{Stale: time.Second, WatchdogEvery: 300 * time.Millisecond,
		Backends: map[string]TrainBackend{store.BackendLlamaFactory: &firstStepBackend{inner: &LlamaFactoryBackend{Threads: 1}, first: &first}}})
	r := e.waitRun(t, run.ID, "success", func(r *store.FinetuneRun) bool { return r.Final() })
	if r.Status != store.RunSucceeded || r.Worker != "gpu-b" || r.Attempt != 2 {
		t.Fatalf("status %s worker %s attempt %d: %s", r.Status, r.Worker, r.Attempt, r.Error)
	}
	if got := first.Load(); got != int64(crashStep)+1 {
		t.Fatalf("worker B started at step %d, want %d (checkpoint at %d)", got, crashStep+1, crashStep)
	}
	if crashStep >= steps {
		t.Fatalf("worker A's checkpoint at %d is the last step: nothing was left to resume", crashStep)
	}
	if prog := e.events(t, run.ID, store.EventProgress); prog[len(prog)-1].Step != steps {
		t.Fatalf("last progress step %d", prog[len(prog)-1].Step)
	}
}
