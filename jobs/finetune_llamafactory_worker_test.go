package jobs

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
	c, err := NewClient(e.pool, Deps{Store: e.st, Logger: slog.New(slog.DiscardHandler), Blobs: e.blobs,
		DataDir: filepath.Join(e.dir, "gpu1"), Finetune: FinetuneConfig{WorkerName: "gpu1", Heartbeat: 100 * time.Millisecond,
			Threads: 1, Backends: map[string]TrainBackend{store.BackendLlamaFactory: &LlamaFactoryBackend{Threads: 1}}}},
		Config{Queues: []string{QueueTrainGPU}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = c.StopAndCancel(sctx)
	})

	s := store.PresetSettings(store.PresetQuick, store.MethodLoRA)
	s.LoRARank, s.LoRAAlpha, s.ContextLength, s.BatchSize, s.MaxSteps = 4, 8, 16, 4, 30
	s.EvalEvery, s.EvalBatches, s.CheckpointEvery, s.ValSplit, s.EarlyStoppingPatience = 10, 2, 10, 0.2, 0
	s.SamplePrompts, s.SampleTokens = []string{"The harbour"}, 6
	run, err := e.st.LaunchFinetune(ctx, e.owner, store.FinetuneLaunch{Name: "Tiny GPU LoRA", BaseModelID: e.base.ID,
		VersionIDs: []int64{v.ID}, Preset: store.PresetCustom, Settings: s, GPU: true},
		func(ctx context.Context, tx pgx.Tx, run *store.FinetuneRun) (int64, error) {
			return InsertFinetune(ctx, c, tx, run)
		})
	if err != nil {
		t.Fatal(err)
	}
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
