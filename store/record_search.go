package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// SearchCountLimit caps how many matches SearchRecords counts: beyond it
// the exact number is not worth a scan of every match (a common word can
// match most of a million-record Datanet), and the total it reports is
// SearchCountLimit+1, meaning "more than SearchCountLimit".
const SearchCountLimit = 1000

// maxSearchQuery bounds the query text; longer input is cut, not refused.
const maxSearchQuery = 200

// SearchRecords finds a Datanet's accepted records whose text matches q
// (web-search syntax: words, "quoted phrases", -excluded, or), newest
// first, and counts the matches up to SearchCountLimit+1. A query with no
// searchable words (empty, or only stop words such as "the") matches
// nothing.
func (s *Store) SearchRecords(ctx context.Context, datanetID int64, q string, limit, offset int) ([]Record, int64, error) {
	// Bytes that are not text (invalid UTF-8, NUL, which PostgreSQL
	// refuses in text) are dropped: they cannot match anything.
	q = strings.TrimSpace(strings.ReplaceAll(strings.ToValidUTF8(q, ""), "\x00", ""))
	if len(q) > maxSearchQuery {
		q = strings.ToValidUTF8(q[:maxSearchQuery], "")
	}
	if q == "" || limit <= 0 || offset < 0 {
		return nil, 0, nil
	}
	var nodes int
	if err := s.pool.QueryRow(ctx, `SELECT numnode(websearch_to_tsquery('english', $1))`, q).Scan(&nodes); err != nil {
		return nil, 0, fmt.Errorf("search records: %w", err)
	}
	if nodes == 0 {
		return nil, 0, nil // only stop words or punctuation
	}
	// The tsquery is written inline and the statements are planned with
	// their arguments every time (QueryExecModeExec): a cached generic plan
	// cannot know whether the words are rare (use the GIN index) or common
	// (walk the newest records and stop early).
	ids, err := s.matchingRecordIDs(ctx, datanetID, q)
	if err != nil {
		return nil, 0, fmt.Errorf("search records: %w", err)
	}
	total := int64(len(ids))
	var rows pgx.Rows
	if total <= SearchCountLimit {
		// Every match is known: page through them here rather than let the
		// planner walk the newest records looking for a rare phrase (its
		// estimate for phrases is that of the words alone).
		if offset >= len(ids) {
			return nil, total, nil
		}
		slices.SortFunc(ids, func(a, b int64) int { return cmp.Compare(b, a) })
		ids = ids[offset:min(offset+limit, len(ids))]
		rows, err = s.pool.Query(ctx, `SELECT `+recordColumns+` FROM records r JOIN users u ON u.id = r.contributor_id
			WHERE r.id = ANY($1) ORDER BY r.id DESC`, ids)
	} else {
		// Many matches: the newest ones are found by walking back from the
		// newest record.
		rows, err = s.pool.Query(ctx, `SELECT `+recordColumns+` FROM records r JOIN users u ON u.id = r.contributor_id
			WHERE r.id IN (SELECT x.record_id FROM record_index x
			               WHERE x.datanet_id = $1 AND x.status = 'accepted' AND x.search @@ websearch_to_tsquery('english', $2)
			               ORDER BY x.record_id DESC LIMIT $3 OFFSET $4)
			ORDER BY r.id DESC`, pgx.QueryExecModeExec, datanetID, q, limit, offset)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("search records: %w", err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, 0, fmt.Errorf("search records: %w", err)
	}
	return recs, total, nil
}

// matchingRecordIDs returns up to SearchCountLimit+1 ids of accepted
// records matching q, in no particular order.
func (s *Store) matchingRecordIDs(ctx context.Context, datanetID int64, q string) ([]int64, error) {
	var ids []int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if strings.ContainsRune(q, '"') {
			// The planner estimates a phrase like its words alone: for two
			// common words it expects many matches and scans the table,
			// stopping early, but a rare phrase of common words makes that
			// a scan of the whole table. The GIN index narrows the rows to
			// those holding every word; only they are checked for adjacency.
			if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `
			SELECT x.record_id FROM record_index x
			WHERE x.datanet_id = $1 AND x.status = 'accepted' AND x.search @@ websearch_to_tsquery('english', $2)
			LIMIT $3`, pgx.QueryExecModeExec, datanetID, q, SearchCountLimit+1)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	return ids, err
}
