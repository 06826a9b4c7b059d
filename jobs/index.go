package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/modelfactory/modelfactory/store"
)

// IndexArgs adds a committed contribution's records to the search and
// near-duplicate indexes (store.IndexContribution). The ingest transaction
// enqueues it, so it exists exactly when the records do.
type IndexArgs struct {
	ContributionID int64 `json:"contribution_id"`
}

// Kind identifies the job.
func (IndexArgs) Kind() string { return "index_contribution" }

// InsertOpts runs it on the ingest queue ahead of waiting ingests
// (priority 1), unique per contribution.
func (IndexArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueIngest, Priority: 1, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// scheduleIndex is the store.ScheduleIndex of River-backed ingest: the
// index job goes in with the records.
func scheduleIndex(ctx context.Context, tx pgx.Tx, contributionID int64) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("schedule indexing: %w", err)
	}
	_, err = client.InsertTx(ctx, tx, IndexArgs{ContributionID: contributionID}, nil)
	return err
}

// IndexWorker runs IndexArgs; IndexContribution is idempotent, so a retry
// or a duplicate run only redoes what is missing.
type IndexWorker struct {
	river.WorkerDefaults[IndexArgs]
	store *store.Store
}

// Timeout allows for the largest contributions on a slow machine.
func (w *IndexWorker) Timeout(*river.Job[IndexArgs]) time.Duration { return 30 * time.Minute }

// Work indexes the contribution.
func (w *IndexWorker) Work(ctx context.Context, job *river.Job[IndexArgs]) error {
	return w.store.IndexContribution(ctx, job.Args.ContributionID)
}

// requeueIndexing enqueues the indexing job again for contributions that
// have waited more than a few minutes (their job was discarded after its
// last attempt, say); the job's uniqueness leaves one that is still queued
// or running alone.
func requeueIndexing(ctx context.Context, st *store.Store) (int, error) {
	ids, err := st.PendingIndex(ctx, 300, 100)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return 0, err
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: IndexArgs{ContributionID: id}}
	}
	res, err := client.InsertMany(ctx, params)
	if err != nil {
		return 0, fmt.Errorf("requeue indexing: %w", err)
	}
	n := 0
	for _, r := range res {
		if !r.UniqueSkippedAsDuplicate {
			n++
		}
	}
	return n, nil
}
