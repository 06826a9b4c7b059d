package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/trainer"
)

// StarterModelArgs pretrains the small offline starter base model (GPT-2
// architecture, its own BPE tokenizer) under the data directory, so that a
// fresh instance can fine-tune from something that already models language.
// It is cached: once the model exists the job returns at once, and a run
// killed midway resumes from the trainer's checkpoint.
type StarterModelArgs struct{}

// Kind identifies the job.
func (StarterModelArgs) Kind() string { return "starter_model" }

// InsertOpts runs it on the CPU training queue, once.
func (StarterModelArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueTrainCPU, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// StarterModelWorker runs StarterModelArgs.
type StarterModelWorker struct {
	river.WorkerDefaults[StarterModelArgs]
	dataDir string
	store   *store.Store // with blobs, registers the model in the catalog
	blobs   blob.Store
	log     *slog.Logger
}

// Timeout allows for a slow, busy machine.
func (w *StarterModelWorker) Timeout(*river.Job[StarterModelArgs]) time.Duration {
	return 2 * time.Hour
}

// Work builds the model if it is missing and puts it in the catalog.
func (w *StarterModelWorker) Work(ctx context.Context, job *river.Job[StarterModelArgs]) error {
	start := time.Now()
	last := time.Now()
	dir, err := trainer.EnsureStarterModel(ctx, w.dataDir, func(ev trainer.Event) {
		if time.Since(last) > 15*time.Second {
			last = time.Now()
			w.log.Info("pretraining the starter model", "step", ev.Step, "total_steps", ev.TotalSteps, "loss", ev.Loss)
		}
	})
	if err != nil {
		return err
	}
	w.log.Info("starter model ready", "dir", dir, "took", time.Since(start).Round(time.Second))
	if w.store != nil && w.blobs != nil {
		if _, err := RegisterStarterModel(ctx, w.store, w.blobs, dir); err != nil {
			return err
		}
	}
	return nil
}
