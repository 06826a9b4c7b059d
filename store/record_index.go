package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// indexChunk is how many records IndexContribution indexes per transaction.
const indexChunk = 5000

// IndexContribution adds a committed contribution's records to
// record_index — their search vectors, to_tsvector('english', fields), and
// their LSH band keys — and then takes the contribution off
// record_index_pending. Until then its records are listed and exported but
// not found by search, and near-duplicate checks read their band keys from
// the records themselves.
//
// It is idempotent and safe to kill: each chunk of records is its own
// transaction, entries already present are kept (an edit made since wrote
// the newer one), and the pending row goes last, after every entry is
// committed. A contribution with no records left (rejected in review, say)
// just leaves the pending list.
func (s *Store) IndexContribution(ctx context.Context, contributionID int64) error {
	var after int64
	for {
		var last, n int64
		err := s.pool.QueryRow(ctx, `
			SELECT coalesce(max(id), 0), count(*) FROM (
				SELECT id FROM records WHERE contribution_id = $1 AND id > $2 ORDER BY id LIMIT $3) c`,
			contributionID, after, indexChunk).Scan(&last, &n)
		if err != nil {
			return fmt.Errorf("index contribution %d: %w", contributionID, err)
		}
		if n == 0 {
			break
		}
		if _, err := s.pool.Exec(ctx, `
			INSERT INTO record_index (record_id, datanet_id, search, bands)
			SELECT id, datanet_id, to_tsvector('english'::regconfig, canonical::jsonb), bands FROM records
			WHERE contribution_id = $1 AND id > $2 AND id <= $3
			ON CONFLICT (record_id) DO NOTHING`, contributionID, after, last); err != nil {
			return fmt.Errorf("index contribution %d: %w", contributionID, err)
		}
		after = last
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM record_index_pending WHERE contribution_id = $1`, contributionID); err != nil {
		return fmt.Errorf("index contribution %d: %w", contributionID, err)
	}
	return nil
}

// UnindexedRecords counts a Datanet's accepted records that the indexing
// job has not reached yet (search does not find them), for a note beside
// search results.
func (s *Store) UnindexedRecords(ctx context.Context, datanetID int64) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(c.accepted_count), 0)::bigint FROM record_index_pending p
		JOIN contributions c ON c.id = p.contribution_id WHERE p.datanet_id = $1 AND c.status = 'accepted'`, datanetID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("unindexed records: %w", err)
	}
	return n, nil
}

// PendingIndex lists contributions whose records are committed but not yet
// indexed, oldest first, for a sweep that re-enqueues lost indexing jobs.
func (s *Store) PendingIndex(ctx context.Context, olderThanSeconds, limit int) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT contribution_id FROM record_index_pending
		WHERE created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2`, olderThanSeconds, limit)
	if err != nil {
		return nil, fmt.Errorf("pending index: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
