package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// indexChunk is how many records IndexContribution indexes per transaction.
const indexChunk = 5000

// indexWorkers is how many connections IndexContribution indexes on at
// once: the English stemmer and the GIN inserts are CPU work, and ingest
// runs on two cores.
const indexWorkers = 2

// IndexContribution adds a committed contribution's records to
// record_index (their search vectors, to_tsvector('english', fields), and
// statuses) and record_band_keys (their LSH band keys), and then takes the
// contribution off
// record_index_pending (it records when). Until then its records are listed and exported but
// not found by search, and near-duplicate checks read their band keys from
// the records themselves.
//
// Each chunk reads the contribution's row and then the records FOR SHARE:
// a status change (which updates the contribution's row first) committed
// before is copied, a later one waits for the chunk and its trigger then
// updates the entry (migration 00018).
//
// It is idempotent and safe to kill: each chunk of records is its own
// transaction, entries already present are kept (an edit made since wrote
// the newer one), and the pending row is marked last, after every entry is
// committed (ingest relies on that order). A contribution with no records
// left (rejected in review, say) just leaves the pending list.
func (s *Store) IndexContribution(ctx context.Context, contributionID int64) error {
	// The chunks' upper bounds: every indexChunk-th id, and the last.
	rows, err := s.pool.Query(ctx, `
		SELECT id FROM (
			SELECT id, row_number() OVER (ORDER BY id) AS n, count(*) OVER () AS total FROM records WHERE contribution_id = $1) r
		WHERE n % $2 = 0 OR n = total ORDER BY id`, contributionID, indexChunk)
	if err != nil {
		return fmt.Errorf("index contribution %d: %w", contributionID, err)
	}
	bounds, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("index contribution %d: %w", contributionID, err)
	}
	// Chunk i covers ids (bounds[i-1], bounds[i]]; the workers take the
	// next chunk until none is left or one fails.
	var next atomic.Int64
	errs := make([]error, indexWorkers)
	var wg sync.WaitGroup
	for w := range indexWorkers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(bounds) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				var from int64
				if i > 0 {
					from = bounds[i-1]
				}
				if err := s.indexChunk(ctx, contributionID, from, bounds[i]); err != nil {
					errs[w] = err
					next.Store(int64(len(bounds))) // the others stop after their chunk
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("index contribution %d: %w", contributionID, err)
	}
	// Searches read the search index's pending list in full: merge it into
	// the index now rather than leave it to the next insert or vacuum.
	// (Only the owner may; otherwise it waits.)
	if _, err := s.pool.Exec(ctx, `SELECT gin_clean_pending_list('record_index_search'::regclass)`); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			return fmt.Errorf("index contribution %d: %w", contributionID, err)
		}
	}
	if _, err := s.pool.Exec(ctx, `UPDATE record_index_pending SET indexed_at = clock_timestamp()
		WHERE contribution_id = $1 AND indexed_at IS NULL`, contributionID); err != nil {
		return fmt.Errorf("index contribution %d: %w", contributionID, err)
	}
	return nil
}

// indexChunk indexes the contribution's records with ids in (from, to] in
// one transaction.
func (s *Store) indexChunk(ctx context.Context, contributionID, from, to int64) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM contributions WHERE id = $1 FOR SHARE`, contributionID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO record_index (record_id, datanet_id, search, status)
			SELECT id, datanet_id, to_tsvector('english'::regconfig, canonical::jsonb), status FROM records
			WHERE contribution_id = $1 AND id > $2 AND id <= $3 ORDER BY id FOR SHARE
			ON CONFLICT (record_id) DO NOTHING`, contributionID, from, to); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO record_band_keys (record_id, datanet_id, bands)
			SELECT id, datanet_id, bands FROM records
			WHERE contribution_id = $1 AND id > $2 AND id <= $3 AND bands IS NOT NULL
			ON CONFLICT (record_id) DO NOTHING`, contributionID, from, to)
		return err
	})
}

// UnindexedRecords counts a Datanet's accepted records that the indexing
// job has not reached yet (search does not find them), for a note beside
// search results.
func (s *Store) UnindexedRecords(ctx context.Context, datanetID int64) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(c.accepted_count), 0)::bigint FROM record_index_pending p
		JOIN contributions c ON c.id = p.contribution_id WHERE p.datanet_id = $1 AND p.indexed_at IS NULL AND c.status = 'accepted'`, datanetID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("unindexed records: %w", err)
	}
	return n, nil
}

// PendingIndex lists contributions whose records are committed but not yet
// indexed, oldest first, for a sweep that re-enqueues lost indexing jobs.
func (s *Store) PendingIndex(ctx context.Context, olderThanSeconds, limit int) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT contribution_id FROM record_index_pending
		WHERE indexed_at IS NULL AND created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2`, olderThanSeconds, limit)
	if err != nil {
		return nil, fmt.Errorf("pending index: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// ForgetIndexed deletes the pending-list rows of contributions indexed more
// than a day ago: an ingest needs them only while it runs (at most its job
// timeout) to know which contributions were indexed after it started.
func (s *Store) ForgetIndexed(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM record_index_pending WHERE indexed_at < now() - interval '1 day'`)
	if err != nil {
		return 0, fmt.Errorf("forget indexed contributions: %w", err)
	}
	return tag.RowsAffected(), nil
}
