package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/catalog"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/trainer"
)

// FinetuneArgs trains one fine-tune run. A run may have several jobs over
// its life (the watchdog re-enqueues a run whose worker died); the run row,
// not the job, says who holds it.
type FinetuneArgs struct {
	RunID int64 `json:"run_id"`
}

// Kind identifies the job.
func (FinetuneArgs) Kind() string { return "finetune" }

// InsertFinetune enqueues a run's training inside tx (the launch
// transaction) on the run's queue with its priority, and returns the job ID.
func InsertFinetune(ctx context.Context, client *river.Client[pgx.Tx], tx pgx.Tx, run *store.FinetuneRun) (int64, error) {
	res, err := client.InsertTx(ctx, tx, FinetuneArgs{RunID: run.ID}, &river.InsertOpts{
		Queue: run.Queue, Priority: run.Priority, MaxAttempts: 10})
	if err != nil {
		return 0, fmt.Errorf("enqueue run %d: %w", run.ID, err)
	}
	return res.Job.ID, nil
}

// FinetuneConfig tunes the fine-tune worker.
type FinetuneConfig struct {
	// MaxPerUser is how many runs of one user may train at once across
	// all workers (fair share); 0 means 1.
	MaxPerUser int
	// Heartbeat is how often a worker confirms it holds a run and checks
	// for a cancel; 0 means 1 s.
	Heartbeat time.Duration
	// Stale is how long without a heartbeat before a run counts as
	// abandoned by a dead worker; 0 means 2 minutes.
	Stale time.Duration
	// WatchdogEvery is the period of the abandoned-run watchdog; 0 means 30 s.
	WatchdogEvery time.Duration
	// Threads for the native trainer (0: GOMAXPROCS).
	Threads int
	// Backends by run backend name; "native" is added when missing.
	Backends map[string]TrainBackend
	// WorkerName identifies this worker on the runs it holds (host and
	// process ID when empty).
	WorkerName string

	// crashAfterCheckpoint, set by tests, makes an attempt behave like a
	// worker process that died right after uploading a checkpoint: no more
	// heartbeats or writes, and Work blocks until its context ends.
	crashAfterCheckpoint func(step int) bool
}

func (c FinetuneConfig) withDefaults() FinetuneConfig {
	if c.MaxPerUser <= 0 {
		c.MaxPerUser = 1
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Second
	}
	if c.Stale <= 0 {
		c.Stale = 2 * time.Minute
	}
	if c.WatchdogEvery <= 0 {
		c.WatchdogEvery = 30 * time.Second
	}
	return c
}

// FinetuneWorker runs FinetuneArgs: it claims the run, re-checks that the
// launcher may still read the data, materialises the base model, exports
// the data to JSONL, restores the last checkpoint, trains with the run's
// backend while heartbeating (a cancel stops it within a step), uploads
// checkpoints and, on success, the adapter and merged model, and creates
// the model in one transaction with the run's success.
type FinetuneWorker struct {
	river.WorkerDefaults[FinetuneArgs]
	store   *store.Store
	blobs   blob.Store
	dataDir string
	log     *slog.Logger
	cfg     FinetuneConfig
	name    string // this worker, as recorded on the runs it holds

	cacheMu sync.Mutex // serialises materialising into the model cache
}

// NewFinetuneWorker builds the worker.
func NewFinetuneWorker(st *store.Store, blobs blob.Store, dataDir string, log *slog.Logger, cfg FinetuneConfig) *FinetuneWorker {
	cfg = cfg.withDefaults()
	backends := map[string]TrainBackend{}
	for k, v := range cfg.Backends {
		backends[k] = v
	}
	if backends[store.BackendNative] == nil {
		backends[store.BackendNative] = &NativeBackend{Threads: cfg.Threads}
	}
	cfg.Backends = backends
	name := cfg.WorkerName
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	return &FinetuneWorker{store: st, blobs: blobs, dataDir: dataDir, log: log, cfg: cfg, name: name}
}

// Timeout: a run takes as long as it takes; cancel and heartbeats bound it.
func (w *FinetuneWorker) Timeout(*river.Job[FinetuneArgs]) time.Duration { return -1 }

// errTakenOver means another worker holds the run now.
var errTakenOver = errors.New("run taken over by another worker")

// errCancelRequested means the user asked to cancel.
var errCancelRequested = errors.New("cancel requested")

// Work trains the run.
func (w *FinetuneWorker) Work(ctx context.Context, job *river.Job[FinetuneArgs]) error {
	id := job.Args.RunID
	log := w.log.With("run", id, "job", job.ID, "attempt", job.Attempt)
	run, err := w.store.StartFinetuneAttempt(ctx, id, w.name, w.cfg.MaxPerUser, w.cfg.Stale)
	switch {
	case errors.Is(err, store.ErrRunBusy):
		return river.JobSnooze(5 * time.Second)
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	switch {
	case run.Status == store.RunCancelling:
		return w.store.FinishFinetune(ctx, id, store.RunCancelled, "")
	case run.Final():
		return nil
	case run.Worker != w.name:
		// Another live worker holds it (a duplicate job): look again later.
		return river.JobSnooze(w.cfg.Stale)
	}
	if reason, err := w.store.RecheckFinetuneData(ctx, run); err != nil {
		return err
	} else if reason != "" {
		log.Info("fine-tune refused at start: data no longer readable", "reason", reason)
		return w.store.FinishFinetune(ctx, id, store.RunFailed, reason)
	}
	out, err := w.attempt(ctx, run, log)
	switch {
	case err == nil:
		return w.complete(ctx, run, out, log)
	case errors.Is(err, errTakenOver):
		log.Info("run taken over by another worker; this attempt ends")
		return nil
	case errors.Is(err, errCancelRequested):
		return w.store.FinishFinetune(context.WithoutCancel(ctx), id, store.RunCancelled, "")
	case ctx.Err() != nil:
		// This process is stopping: let another worker resume at once.
		if rerr := w.store.ReleaseFinetune(context.WithoutCancel(ctx), id, w.name); rerr != nil {
			log.Warn("release run", "err", rerr)
		}
		return err
	}
	var trainErr *trainFailure
	if errors.As(err, &trainErr) || job.Attempt >= job.MaxAttempts {
		log.Warn("fine-tune failed", "err", err)
		// Infrastructure errors (database, storage) stay in the logs; the
		// run page says what happened in words.
		msg := fmt.Sprintf("The run stopped after %d attempts because of a problem on the server, not in your settings or data. An admin can find the cause in the worker's logs (run %d).", job.Attempt, id)
		if trainErr != nil {
			msg = trainErr.msg
		}
		return w.store.FinishFinetune(context.WithoutCancel(ctx), id, store.RunFailed, msg)
	}
	_ = w.store.AddFinetuneEvent(context.WithoutCancel(ctx), id, store.EventLog, run.Step,
		map[string]any{"line": "This attempt hit a problem on the server; the run will resume from its last checkpoint."})
	log.Warn("fine-tune attempt failed; River retries it", "err", err, "attempt", job.Attempt)
	_ = w.store.ReleaseFinetune(context.WithoutCancel(ctx), id, w.name)
	return err
}

// trainFailure is a failure of the training itself (bad data, divergence):
// retrying would fail the same way, so the run fails with msg.
type trainFailure struct {
	msg string
	err error
}

func (e *trainFailure) Error() string { return e.msg }
func (e *trainFailure) Unwrap() error { return e.err }

// attempt prepares the inputs, trains and returns the outputs; the
// heartbeat cancels training on a cancel request or a takeover.
func (w *FinetuneWorker) attempt(ctx context.Context, run *store.FinetuneRun, log *slog.Logger) (*TrainOutput, error) {
	backend := w.cfg.Backends[run.Backend]
	if backend == nil {
		return nil, &trainFailure{msg: fmt.Sprintf("This worker cannot run %s training.", run.Backend)}
	}
	base, err := w.store.GetBaseModel(ctx, run.BaseModelID)
	if err != nil {
		return nil, err
	}
	work := filepath.Join(w.dataDir, "work", "finetune", fmt.Sprint(run.ID))
	if err := os.RemoveAll(work); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	tctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var dead sync.Once
	deadCh := make(chan struct{})
	die := func() { dead.Do(func() { close(deadCh); cancel(errTakenOver) }) }
	isDead := func() bool {
		select {
		case <-deadCh:
			return true
		default:
			return false
		}
	}
	emit := func(line string) {
		if isDead() {
			return
		}
		_ = w.store.AddFinetuneEvent(context.WithoutCancel(ctx), run.ID, store.EventLog, run.Step, map[string]any{"line": line})
	}
	emit(fmt.Sprintf("Preparing base model %s.", base.Slug))
	baseDir, err := w.materializeBase(ctx, base)
	if err != nil {
		return nil, err
	}
	vs, err := w.store.FinetuneRunData(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	trainFile, valFile := filepath.Join(work, "train.jsonl"), ""
	if run.Settings.ValSplit > 0 {
		valFile = filepath.Join(work, "val.jsonl")
	}
	nTrain, nVal, err := w.exportData(ctx, vs, run.Settings.ValSplit, trainFile, valFile)
	if err != nil {
		return nil, err
	}
	if nVal == 0 && valFile != "" {
		valFile = ""
	}
	emit(fmt.Sprintf("Exported %d training and %d validation records from %d Datanet version(s).", nTrain, nVal, len(vs)))
	resumeDir := ""
	if run.CheckpointKey != "" {
		resumeDir = filepath.Join(work, "resume")
		if err := w.restoreCheckpoint(ctx, run.CheckpointKey, resumeDir); err != nil {
			return nil, err
		}
		emit("Resuming from the last checkpoint.")
	}

	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(w.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case <-deadCh:
				return
			case <-t.C:
			}
			stop, err := w.store.FinetuneHeartbeat(tctx, run.ID, w.name)
			if err != nil {
				log.Warn("heartbeat", "err", err)
				continue
			}
			if stop {
				cur, err := w.store.FinetuneRunByID(tctx, run.ID)
				if err == nil && cur.Worker == w.name && (cur.Status == store.RunCancelling || cur.Status == store.RunCancelled) {
					cancel(errCancelRequested)
				} else {
					cancel(errTakenOver)
				}
				return
			}
		}
	}()
	defer func() { cancel(nil); <-hbDone }()

	var lastProgress time.Time
	var tpsSum float64
	var tpsN int
	j := &TrainJob{Run: run, Settings: run.Settings, Base: base, BaseDir: baseDir, Schema: schemaOf(vs),
		TrainFile: trainFile, ValFile: valFile, WorkDir: filepath.Join(work, "attempt"), ResumeDir: resumeDir,
		Log: emit,
		Progress: func(ev trainer.Event) {
			if isDead() {
				return
			}
			if ev.TokensPerSec > 0 && !math.IsInf(ev.TokensPerSec, 0) {
				tpsSum += ev.TokensPerSec
				tpsN++
			}
			// Every evaluation and the last step are recorded; plain steps
			// at most four times a second (the chart needs no more).
			if ev.EvalLoss == nil && ev.Step != ev.TotalSteps && time.Since(lastProgress) < 250*time.Millisecond {
				return
			}
			lastProgress = time.Now()
			b, _ := json.Marshal(ev)
			if err := w.store.AddFinetuneProgress(context.WithoutCancel(ctx), run.ID, ev.Step, ev.TotalSteps, b); err != nil {
				log.Warn("progress", "err", err)
			}
		},
		Sample: func(step int, prompt, output string) {
			if isDead() {
				return
			}
			_ = w.store.AddFinetuneEvent(context.WithoutCancel(ctx), run.ID, store.EventSample, step,
				map[string]any{"prompt": prompt, "output": output})
		},
		EarlyStop: func(step int, reason string) {
			if isDead() {
				return
			}
			_ = w.store.AddFinetuneEvent(context.WithoutCancel(ctx), run.ID, store.EventEarlyStop, step, map[string]any{"reason": reason})
		},
		Checkpoint: func(cctx context.Context, dir string, step int) error {
			if isDead() {
				return nil
			}
			// Upload even while a cancel is unwinding: the checkpoint is what a resume needs.
			uctx, ucancel := context.WithTimeout(context.WithoutCancel(cctx), 10*time.Minute)
			defer ucancel()
			if err := w.uploadCheckpoint(uctx, run, dir, step); err != nil {
				return err
			}
			if w.cfg.crashAfterCheckpoint != nil && w.cfg.crashAfterCheckpoint(step) {
				die()
			}
			return nil
		},
	}
	if err := os.MkdirAll(j.WorkDir, 0o755); err != nil {
		return nil, err
	}
	out, err := backend.Train(tctx, j)
	select {
	case <-deadCh:
		// A "dead" worker does nothing more: wait to be stopped.
		<-ctx.Done()
		return nil, errTakenOver
	default:
	}
	if cause := context.Cause(tctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return nil, cause
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, errTakenOver) {
			return nil, errTakenOver
		}
		return nil, &trainFailure{msg: "Training failed: " + err.Error(), err: err}
	}
	if out.Metrics == nil {
		out.Metrics = map[string]float64{}
	}
	if tpsN > 0 {
		out.Metrics["tokens_per_sec"] = tpsSum / float64(tpsN)
	}
	return out, nil
}

// complete uploads the outputs and records success with the model.
func (w *FinetuneWorker) complete(ctx context.Context, run *store.FinetuneRun, out *TrainOutput, log *slog.Logger) error {
	slug := store.ModelSlugForRun(run)
	res := store.FinetuneResult{Metrics: out.Metrics}
	for _, k := range []string{"val_loss_before", "val_loss_after"} {
		if v, ok := out.Metrics[k]; ok {
			res.Metrics[strings.Replace(k, "loss", "perplexity", 1)] = math.Exp(v)
		}
	}
	if out.EarlyStopped {
		res.Metrics["early_stopped"] = 1
	}
	var err error
	if out.AdapterDir != "" {
		res.AdapterPrefix = "models/ft/" + slug + "/adapter/"
		if res.AdapterFiles, res.AdapterHash, err = w.upload(ctx, res.AdapterPrefix, out.AdapterDir, "adapter_model.safetensors"); err != nil {
			return err
		}
	}
	if out.ModelDir != "" {
		res.MergedPrefix = "models/ft/" + slug + "/merged/"
		if res.MergedFiles, res.MergedHash, err = w.upload(ctx, res.MergedPrefix, out.ModelDir, "model.safetensors"); err != nil {
			return err
		}
	}
	got, err := w.store.CompleteFinetune(ctx, run.ID, res)
	if err != nil {
		return err
	}
	log.Info("fine-tune succeeded", "model", got)
	// The checkpoint and scratch files are no longer needed; the model
	// keeps its own copies.
	if cur, err := w.store.FinetuneRunByID(ctx, run.ID); err == nil && cur.CheckpointKey != "" {
		w.deletePrefix(ctx, cur.CheckpointKey)
	}
	_ = os.RemoveAll(filepath.Join(w.dataDir, "work", "finetune", fmt.Sprint(run.ID)))
	return nil
}

// upload stores dir's files under prefix and returns them with the 0x
// SHA-256 of the file named hashOf.
func (w *FinetuneWorker) upload(ctx context.Context, prefix, dir, hashOf string) ([]store.ModelFile, string, error) {
	files, err := catalog.UploadDir(ctx, w.blobs, prefix, dir, nil)
	if err != nil {
		return nil, "", err
	}
	out := make([]store.ModelFile, len(files))
	hash := ""
	for i, f := range files {
		out[i] = store.ModelFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256}
		if f.Name == hashOf {
			hash = "0x" + f.SHA256
		}
	}
	if hash == "" {
		return nil, "", fmt.Errorf("upload %s: %s missing", dir, hashOf)
	}
	return out, hash, nil
}

// materializeBase makes the base model's files available in the cache
// (verified against their recorded hashes).
func (w *FinetuneWorker) materializeBase(ctx context.Context, b *store.BaseModel) (string, error) {
	w.cacheMu.Lock()
	defer w.cacheMu.Unlock()
	dir := filepath.Join(w.dataDir, "cache", "models", strings.TrimPrefix(b.ContentHash, "0x"))
	files := make([]catalog.File, len(b.Files))
	for i, f := range b.Files {
		files[i] = catalog.File{Name: f.Name, Size: f.Size, SHA256: f.SHA256}
	}
	if err := catalog.Materialize(ctx, w.blobs, b.BlobPrefix, files, dir); err != nil {
		return "", fmt.Errorf("base model %s: %w", b.Slug, err)
	}
	return dir, nil
}

// exportData writes the versions' records to train and val JSONL files;
// a record goes to validation when its hash falls in the first valSplit of
// the hash space, so the split is the same on every attempt and worker.
func (w *FinetuneWorker) exportData(ctx context.Context, vs []store.RunVersion, valSplit float64, trainFile, valFile string) (nTrain, nVal int64, err error) {
	tf, err := os.Create(trainFile)
	if err != nil {
		return 0, 0, err
	}
	defer tf.Close()
	var vf *os.File
	if valFile != "" {
		if vf, err = os.Create(valFile); err != nil {
			return 0, 0, err
		}
		defer vf.Close()
	}
	cut := uint64(valSplit * math.MaxUint64)
	for _, v := range vs {
		err := w.store.ExportVersion(ctx, v.VersionID, func(row store.ExportRow) error {
			if row.Removed { // taken down by moderators: never trained on
				return nil
			}
			f := tf
			if vf != nil && splitKey(row.Hash) < cut {
				f = vf
				nVal++
			} else {
				nTrain++
			}
			_, err := io.WriteString(f, row.Canonical+"\n")
			return err
		})
		if err != nil {
			return 0, 0, err
		}
	}
	if nTrain == 0 && nVal > 0 {
		return 0, 0, &trainFailure{msg: "The validation split took every record; lower it."}
	}
	if err := tf.Sync(); err != nil {
		return 0, 0, err
	}
	return nTrain, nVal, nil
}

// splitKey maps a record hash to a uniform 64-bit number.
func splitKey(hash string) uint64 {
	b, err := hex.DecodeString(strings.TrimPrefix(hash, "0x"))
	if err != nil || len(b) < 8 {
		s := sha256.Sum256([]byte(hash))
		b = s[:]
	}
	return binary.BigEndian.Uint64(b[:8])
}

func schemaOf(vs []store.RunVersion) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0].Schema
}

// uploadCheckpoint stores dir under runs/<id>/checkpoint/<step>/, points
// the run at it, then deletes the previous one: the recorded key always
// names a complete checkpoint.
func (w *FinetuneWorker) uploadCheckpoint(ctx context.Context, run *store.FinetuneRun, dir string, step int) error {
	prefix := fmt.Sprintf("runs/%d/checkpoint/%08d/", run.ID, step)
	if _, err := catalog.UploadDir(ctx, w.blobs, prefix, dir, nil); err != nil {
		return err
	}
	cur, err := w.store.FinetuneRunByID(ctx, run.ID)
	if err != nil {
		return err
	}
	if cur.Worker != w.name {
		return errTakenOver
	}
	if err := w.store.SetFinetuneCheckpoint(ctx, run.ID, prefix, step); err != nil {
		return err
	}
	if cur.CheckpointKey != "" && cur.CheckpointKey != prefix {
		w.deletePrefix(ctx, cur.CheckpointKey)
	}
	return nil
}

// restoreCheckpoint downloads the checkpoint under prefix into dir.
func (w *FinetuneWorker) restoreCheckpoint(ctx context.Context, prefix, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	n := 0
	for info, err := range w.blobs.List(ctx, prefix) {
		if err != nil {
			return fmt.Errorf("restore checkpoint: %w", err)
		}
		name := path.Base(info.Key)
		if err := w.download(ctx, info.Key, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("restore checkpoint: %w", err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("restore checkpoint: nothing under %s", prefix)
	}
	return nil
}

func (w *FinetuneWorker) download(ctx context.Context, key, dst string) error {
	rc, _, err := w.blobs.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (w *FinetuneWorker) deletePrefix(ctx context.Context, prefix string) {
	infos, err := blob.ListAll(ctx, w.blobs, prefix)
	if err != nil {
		return
	}
	for _, info := range infos {
		_ = w.blobs.Delete(ctx, info.Key)
	}
}

// FinetuneWatchdogArgs finds runs whose worker stopped heartbeating (the
// process died) and enqueues them again, so another worker resumes them
// from their last checkpoint.
type FinetuneWatchdogArgs struct{}

// Kind identifies the job.
func (FinetuneWatchdogArgs) Kind() string { return "finetune_watchdog" }

// InsertOpts: one at a time.
func (FinetuneWatchdogArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// FinetuneWatchdogWorker runs FinetuneWatchdogArgs.
type FinetuneWatchdogWorker struct {
	river.WorkerDefaults[FinetuneWatchdogArgs]
	store *store.Store
	stale time.Duration
	log   *slog.Logger
}

// Work re-enqueues abandoned runs.
func (w *FinetuneWatchdogWorker) Work(ctx context.Context, job *river.Job[FinetuneWatchdogArgs]) error {
	client := river.ClientFromContext[pgx.Tx](ctx)
	n, err := w.store.RequeueAbandonedFinetunes(ctx, w.stale, func(ctx context.Context, tx pgx.Tx, run *store.FinetuneRun) (int64, error) {
		return InsertFinetune(ctx, client, tx, run)
	})
	if n > 0 {
		w.log.Info("re-enqueued fine-tune runs whose worker stopped", "runs", n)
	}
	return err
}
