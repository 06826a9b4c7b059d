package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/modelfactory/modelfactory/store"
)

// CleanupArgs deletes expired SIWE nonces and sessions, and re-enqueues
// record indexing that has waited too long. Running it twice is harmless:
// the second run finds nothing to delete and the indexing jobs are unique.
type CleanupArgs struct{}

// Kind identifies the job.
func (CleanupArgs) Kind() string { return "cleanup_expired" }

// InsertOpts makes the job unique per five minutes, so a burst of inserts
// (several leaders in a partition, a manual trigger) runs it once.
func (CleanupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, UniqueOpts: river.UniqueOpts{ByPeriod: 5 * time.Minute}}
}

// CleanupWorker runs CleanupArgs.
type CleanupWorker struct {
	river.WorkerDefaults[CleanupArgs]
	store *store.Store
	log   *slog.Logger
}

// Work deletes expired rows.
func (w *CleanupWorker) Work(ctx context.Context, job *river.Job[CleanupArgs]) error {
	n, err := w.store.DeleteExpired(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		w.log.Info("deleted expired nonces and sessions", "rows", n)
	}
	if _, err := w.store.ForgetIndexed(ctx); err != nil {
		return err
	}
	requeued, err := requeueIndexing(ctx, w.store)
	if err != nil {
		return err
	}
	if requeued > 0 {
		w.log.Warn("re-enqueued record indexing that had waited over 5 minutes", "contributions", requeued)
	}
	return nil
}
