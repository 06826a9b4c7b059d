package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/catalog"
	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
)

var (
	tinyOnce sync.Once
	tinyDir  string
	tinyErr  error
)

// tinyCorpus is what the tiny base model is pretrained on and what the
// test Datanets hold: short English sentences with a few patterns.
func tinyCorpus(n int) []string {
	subjects := []string{"The harbour pilot", "A small tug", "The night crew", "Each ferry", "The old crane"}
	verbs := []string{"guides", "pushes", "checks", "waits for", "lifts"}
	objects := []string{"the cargo ship", "a grain barge", "the morning tide", "every container", "the blue tanker"}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %s %s at berth %d.", subjects[i%5], verbs[(i/5)%5], objects[(i/25)%5], i%7)
	}
	return out
}

// tinyModel pretrains (once per test binary) a one-layer GPT-2 with its own
// BPE tokenizer: enough to fine-tune in well under a second.
func tinyModel(t testing.TB) string {
	t.Helper()
	tinyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mf-tiny-model-")
		if err != nil {
			tinyErr = err
			return
		}
		pool := gemm.NewPool(2)
		defer pool.Close()
		cfg := trainer.PretrainConfig{
			Model: trainer.Config{MaxSeqLen: 32, VocabSize: 320, NumLayers: 1, NumHeads: 2, Channels: 32},
			Train: trainer.TrainConfig{Steps: 30, BatchSize: 4, SeqLen: 32, LR: 5e-3, Warmup: 3, Seed: 1},
		}
		tinyDir = filepath.Join(dir, "tiny")
		_, tinyErr = trainer.Pretrain(context.Background(), []string{strings.Join(tinyCorpus(400), "\n")}, cfg, tinyDir, pool, nil)
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyDir
}

// registerTinyModel uploads the tiny model to blobs and registers it as a
// built-in, CPU-trainable base model.
func registerTinyModel(t testing.TB, st *store.Store, blobs blob.Store) *store.BaseModel {
	t.Helper()
	ctx := context.Background()
	dir := tinyModel(t)
	files, err := catalog.UploadDir(ctx, blobs, "models/base/tiny-test/", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	mf := make([]store.ModelFile, len(files))
	var size int64
	for i, f := range files {
		mf[i] = store.ModelFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256}
		size += f.Size
	}
	b, err := st.UpsertBuiltinBaseModel(ctx, store.BaseModel{Slug: "tiny-test", Name: "Tiny test GPT", Architecture: "gpt2",
		ContextLength: 32, Config: cfg, License: "MIT", TrainableCPU: true, BlobPrefix: "models/base/tiny-test/",
		Files: mf, SizeBytes: size, ContentHash: catalog.ContentHash(files)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedVersion creates a published Datanet owned by owner with n accepted
// document records and publishes version 1.
func seedVersion(t testing.TB, st *store.Store, owner store.Actor, name, visibility string, n int) (*store.Datanet, *store.Version) {
	t.Helper()
	ctx := context.Background()
	d, err := st.CreateDatanet(ctx, owner, store.DatanetInput{Name: name, License: "CC0-1.0", Schema: store.SchemaDocuments,
		Visibility: visibility, ContributionPolicy: store.PolicyOpen})
	if err != nil {
		t.Fatal(err)
	}
	if d, err = st.PublishDatanet(ctx, owner, d.Slug); err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateContribution(ctx, owner, d.Slug, store.ContributionInput{Source: "api", Filename: "seed.jsonl"},
		func(context.Context, pgx.Tx, int64) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	texts := tinyCorpus(n)
	i := 0
	if _, err := st.Pool().CopyFrom(ctx, pgx.Identifier{"records"},
		[]string{"datanet_id", "contribution_id", "contributor_id", "hash", "canonical", "chars", "line", "status"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			canonical := fmt.Sprintf(`{"text":%q}`, texts[i])
			i++
			sum := sha256.Sum256([]byte(canonical))
			return []any{d.ID, c.ID, owner.UserID, "0x" + hex.EncodeToString(sum[:]), canonical, len(texts[i-1]), i, "accepted"}, nil
		})); err != nil {
		t.Fatal(err)
	}
	v, err := st.PublishVersion(ctx, owner, d.Slug, merkle.HexRoot)
	if err != nil {
		t.Fatal(err)
	}
	return d, v
}

// ftEnv is a database, an object store and users for fine-tune tests.
type ftEnv struct {
	pool  *pgxpool.Pool
	st    *store.Store
	blobs blob.Store
	base  *store.BaseModel
	owner store.Actor
	dir   string
}

func newFTEnv(t testing.TB) *ftEnv {
	t.Helper()
	pool := pgtest.New(t)
	st := store.New(pool)
	dir := t.TempDir()
	blobs, err := blob.NewLocal(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.UpsertUser(context.Background(), "0x00000000000000000000000000000000000000f1")
	if err != nil {
		t.Fatal(err)
	}
	return &ftEnv{pool: pool, st: st, blobs: blobs, base: registerTinyModel(t, st, blobs),
		owner: store.Actor{UserID: u.ID, Address: u.Address}, dir: dir}
}

// client starts a River client working the training and default queues
// as worker name, stopped (and its work cancelled) at the end of the test.
func (e *ftEnv) client(t testing.TB, name string, cfg FinetuneConfig, start bool) *river.Client[pgx.Tx] {
	t.Helper()
	cfg.WorkerName = name
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 100 * time.Millisecond
	}
	cfg.Threads = 1
	c, err := NewClient(e.pool, Deps{Store: e.st, Logger: slog.New(slog.DiscardHandler), Blobs: e.blobs,
		DataDir: filepath.Join(e.dir, name), Finetune: cfg}, Config{Queues: []string{QueueTrainCPU, QueueDefault}})
	if err != nil {
		t.Fatal(err)
	}
	if start {
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = c.StopAndCancel(ctx)
	})
	return c
}

func (e *ftEnv) launch(t testing.TB, c *river.Client[pgx.Tx], a store.Actor, versions []int64, mod func(*store.FinetuneSettings)) *store.FinetuneRun {
	t.Helper()
	s := store.PresetSettings(store.PresetQuick, store.MethodLoRA)
	s.LoRARank, s.LoRAAlpha, s.ContextLength, s.BatchSize, s.MaxSteps = 4, 8, 16, 4, 30
	s.EvalEvery, s.EvalBatches, s.CheckpointEvery, s.ValSplit, s.EarlyStoppingPatience = 10, 2, 5, 0.2, 0
	s.SamplePrompts, s.SampleTokens = []string{"The harbour"}, 6
	if mod != nil {
		mod(&s)
	}
	run, err := e.st.LaunchFinetune(context.Background(), a, store.FinetuneLaunch{Name: "Tiny LoRA", BaseModelID: e.base.ID,
		VersionIDs: versions, Preset: store.PresetCustom, Settings: s},
		func(ctx context.Context, tx pgx.Tx, run *store.FinetuneRun) (int64, error) {
			return InsertFinetune(ctx, c, tx, run)
		})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// waitRun polls until cond holds for the run (or fails after a minute).
func (e *ftEnv) waitRun(t testing.TB, id int64, what string, cond func(*store.FinetuneRun) bool) *store.FinetuneRun {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		r, err := e.st.FinetuneRunByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d: timed out waiting for %s (status %s, step %d, error %q)", id, what, r.Status, r.Step, r.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *ftEnv) events(t testing.TB, id int64, kind string) []store.FinetuneEvent {
	t.Helper()
	evs, err := e.st.FinetuneEvents(context.Background(), id, 0, []string{kind}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestFinetuneNativeEndToEnd: a LoRA run on the tiny model trains through
// River and the native backend, streams progress and samples, and on
// success creates a private model with its adapter and merged files in
// object storage (content hashes recorded), its data versions, and
// validation perplexity before and after (after is lower).
func TestFinetuneNativeEndToEnd(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t)
	ctx := context.Background()
	_, v := seedVersion(t, e.st, e.owner, "Harbour notes", store.VisibilityPublic, 300)
	c := e.client(t, "w1", FinetuneConfig{}, true)
	run := e.launch(t, c, e.owner, []int64{v.ID}, nil)
	if run.Queue != store.QueueTrainCPU || run.Backend != store.BackendNative || run.RiverJobID == 0 {
		t.Fatalf("launched on %s/%s job %d", run.Queue, run.Backend, run.RiverJobID)
	}
	r := e.waitRun(t, run.ID, "success", func(r *store.FinetuneRun) bool { return r.Final() })
	if r.Status != store.RunSucceeded {
		t.Fatalf("status %s: %s", r.Status, r.Error)
	}
	if r.Step != 30 || r.ModelSlug != fmt.Sprintf("tiny-lora-%d", r.ID) {
		t.Fatalf("step %d, model %q", r.Step, r.ModelSlug)
	}
	before, after := r.Metrics["val_perplexity_before"], r.Metrics["val_perplexity_after"]
	if !(before > 0 && after > 0 && after < before) || r.Metrics["tokens_per_sec"] <= 0 {
		t.Fatalf("metrics %v", r.Metrics)
	}
	prog := e.events(t, run.ID, store.EventProgress)
	if len(prog) < 3 || prog[len(prog)-1].Step != 30 {
		t.Fatalf("%d progress events", len(prog))
	}
	evals := 0
	for _, p := range prog {
		if strings.Contains(string(p.Data), "eval_loss") {
			evals++
		}
	}
	if evals != 3 {
		t.Fatalf("%d evaluations recorded, want 3 (every 10 of 30 steps)", evals)
	}
	if s := e.events(t, run.ID, store.EventSample); len(s) != 3 || !strings.Contains(string(s[0].Data), "The harbour") {
		t.Fatalf("samples %v", s)
	}
	var adapterHash, mergedHash, adapterPrefix string
	var dataRows int
	if err := e.pool.QueryRow(ctx, `SELECT adapter_hash, merged_hash, adapter_prefix, visibility = 'private',
		(SELECT count(*) FROM model_data WHERE model_id = models.id) FROM models WHERE run_id = $1`, run.ID).
		Scan(&adapterHash, &mergedHash, &adapterPrefix, new(bool), &dataRows); err != nil {
		t.Fatal(err)
	}
	rc, _, err := e.blobs.Get(ctx, adapterPrefix+"adapter_model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, _ = io.Copy(h, rc)
	rc.Close()
	if got := "0x" + hex.EncodeToString(h.Sum(nil)); got != adapterHash || mergedHash == "" || dataRows != 1 {
		t.Fatalf("adapter hash %s vs stored %s; merged %q; data rows %d", got, adapterHash, mergedHash, dataRows)
	}
	// The checkpoint is gone once the model has its own files.
	for info := range e.blobs.List(ctx, fmt.Sprintf("runs/%d/", run.ID)) {
		t.Fatalf("checkpoint left behind: %s", info.Key)
	}
	// Running the job again changes nothing (idempotent).
	w := NewFinetuneWorker(e.st, e.blobs, filepath.Join(e.dir, "w9"), slog.New(slog.DiscardHandler), FinetuneConfig{WorkerName: "w9"})
	if err := w.Work(ctx, &river.Job[FinetuneArgs]{Args: FinetuneArgs{RunID: run.ID},
		JobRow: &rivertype.JobRow{ID: run.RiverJobID, Attempt: 2, MaxAttempts: 10}}); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.st.FinetuneRunByID(ctx, run.ID); again.Attempt != r.Attempt || again.Status != store.RunSucceeded {
		t.Fatalf("rerun changed the run: %+v", again)
	}
}

// TestFinetuneCancelStopsWithinAStep: cancelling a running run stops the
// trainer promptly and ends the run cancelled with no model.
func TestFinetuneCancelStopsWithinAStep(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t)
	ctx := context.Background()
	_, v := seedVersion(t, e.st, e.owner, "Cancel notes", store.VisibilityPublic, 100)
	// A queued run (no worker yet) is cancelled at once, and its job later
	// finds nothing to do.
	idle := e.client(t, "idle", FinetuneConfig{}, false)
	queued := e.launch(t, idle, e.owner, []int64{v.ID}, nil)
	if r, err := e.st.RequestFinetuneCancel(ctx, e.owner, queued.ID); err != nil || r.Status != store.RunCancelled {
		t.Fatalf("queued cancel: %v %v", r, err)
	}
	c := e.client(t, "w1", FinetuneConfig{}, true)
	run := e.launch(t, c, e.owner, []int64{v.ID}, func(s *store.FinetuneSettings) { s.MaxSteps = 1_000_000 })
	e.waitRun(t, run.ID, "training", func(r *store.FinetuneRun) bool { return r.Step >= 5 })
	if _, err := e.st.RequestFinetuneCancel(ctx, e.owner, run.ID); err != nil {
		t.Fatal(err)
	}
	r := e.waitRun(t, run.ID, "cancel", func(r *store.FinetuneRun) bool { return r.Final() })
	if r.Status != store.RunCancelled || r.ModelSlug != "" || r.Step >= 1_000_000 {
		t.Fatalf("status %s model %q step %d", r.Status, r.ModelSlug, r.Step)
	}
	// A second cancel is refused: the run is final.
	if _, err := e.st.RequestFinetuneCancel(ctx, e.owner, run.ID); err == nil {
		t.Fatal("cancelled twice")
	}
	if q, _ := e.st.FinetuneRunByID(ctx, queued.ID); q.Status != store.RunCancelled || q.Attempt != 0 {
		t.Fatalf("queued run: %s attempt %d", q.Status, q.Attempt)
	}
}

// TestFinetuneWorkerRechecksAccess: data that became unreadable after the
// launch (a suspended Datanet, a revoked invitation) fails the run in the
// worker before any training.
func TestFinetuneWorkerRechecksAccess(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t)
	ctx := context.Background()
	u, _ := e.st.UpsertUser(ctx, "0x00000000000000000000000000000000000000f2")
	guest := store.Actor{UserID: u.ID, Address: u.Address}
	priv, pv := seedVersion(t, e.st, e.owner, "Private notes", store.VisibilityPrivate, 60)
	if err := e.st.AddMember(ctx, e.owner, priv.Slug, guest.Address, "invitee"); err != nil {
		t.Fatal(err)
	}
	pub, v := seedVersion(t, e.st, e.owner, "Public notes", store.VisibilityPublic, 60)
	idle := e.client(t, "idle", FinetuneConfig{}, false)
	revoked := e.launch(t, idle, guest, []int64{pv.ID}, nil)
	suspended := e.launch(t, idle, guest, []int64{v.ID}, nil)
	if err := e.st.RemoveMember(ctx, e.owner, priv.Slug, guest.Address, "invitee"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE datanets SET status = 'suspended' WHERE id = $1`, pub.ID); err != nil {
		t.Fatal(err)
	}
	e.client(t, "w1", FinetuneConfig{}, true)
	for _, tc := range []struct {
		id   int64
		want string
	}{{revoked.ID, "no longer read Private notes"}, {suspended.ID, "Public notes was suspended"}} {
		r := e.waitRun(t, tc.id, "failure", func(r *store.FinetuneRun) bool { return r.Final() })
		if r.Status != store.RunFailed || !strings.Contains(r.Error, tc.want) || r.Step != 0 {
			t.Fatalf("run %d: %s %q step %d", tc.id, r.Status, r.Error, r.Step)
		}
	}
}

// TestFinetuneKilledWorkerResumesElsewhere: worker A dies right after
// uploading a checkpoint (no more heartbeats or writes); the watchdog
// notices the silent run and re-enqueues it; worker B restores the
// checkpoint from object storage and continues from that step to success.
func TestFinetuneKilledWorkerResumesElsewhere(t *testing.T) {
	t.Parallel()
	e := newFTEnv(t)
	_, v := seedVersion(t, e.st, e.owner, "Resume notes", store.VisibilityPublic, 200)
	crashed := make(chan int, 1)
	cfgA := FinetuneConfig{Stale: time.Second, WatchdogEvery: 300 * time.Millisecond,
		crashAfterCheckpoint: func(step int) bool {
			if step >= 10 {
				select {
				case crashed <- step:
				default:
				}
				return true
			}
			return false
		}}
	a := e.client(t, "worker-a", cfgA, true)
	run := e.launch(t, a, e.owner, []int64{v.ID}, func(s *store.FinetuneSettings) { s.MaxSteps = 40 })
	var crashStep int
	select {
	case crashStep = <-crashed:
	case <-time.After(90 * time.Second):
		t.Fatal("worker A never checkpointed")
	}
	var firstStep atomic.Int64
	rec := &firstStepBackend{inner: &NativeBackend{Threads: 1}, first: &firstStep}
	e.client(t, "worker-b", FinetuneConfig{Stale: time.Second, WatchdogEvery: 300 * time.Millisecond,
		Backends: map[string]TrainBackend{store.BackendNative: rec}}, true)
	r := e.waitRun(t, run.ID, "success", func(r *store.FinetuneRun) bool { return r.Final() })
	if r.Status != store.RunSucceeded || r.Worker != "worker-b" || r.Attempt != 2 {
		t.Fatalf("status %s worker %s attempt %d: %s", r.Status, r.Worker, r.Attempt, r.Error)
	}
	if got := firstStep.Load(); got != int64(crashStep)+1 {
		t.Fatalf("worker B started at step %d, want %d (checkpoint at %d)", got, crashStep+1, crashStep)
	}
	var stopped bool
	for _, ev := range e.events(t, run.ID, store.EventLog) {
		stopped = stopped || strings.Contains(string(ev.Data), "worker-a stopped responding")
	}
	if !stopped {
		t.Fatal("no log line explains the takeover")
	}
	if prog := e.events(t, run.ID, store.EventProgress); prog[len(prog)-1].Step != 40 {
		t.Fatalf("last progress step %d", prog[len(prog)-1].Step)
	}
}

// firstStepBackend records the first step a backend reports.
type firstStepBackend struct {
	inner TrainBackend
	first *atomic.Int64
}

func (b *firstStepBackend) Train(ctx context.Context, j *TrainJob) (*TrainOutput, error) {
	progress := j.Progress
	j.Progress = func(ev trainer.Event) {
		b.first.CompareAndSwap(0, int64(ev.Step))
		progress(ev)
	}
	return b.inner.Train(ctx, j)
}
