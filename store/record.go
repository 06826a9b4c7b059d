package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// IngestRecord is one validated, normalised record ready to store.
type IngestRecord struct {
	Line      int
	Hash      string // 0x + 64 hex, SHA-256 of Canonical
	Canonical string // canonical JSON of the schema fields
	Fields    map[string]string
	Chars     int
	PII       json.RawMessage // flags for reviewers; nil for none
	MinHash   []byte          // signature for near-duplicate checks
	Bands     []int64         // LSH band keys of MinHash
}

// RecordSource streams records into CommitIngest. Err reports why Next
// stopped early (a fatal parse problem aborts the whole contribution).
type RecordSource interface {
	Next() bool
	Record() IngestRecord
	Err() error
}

// ParseReport is what the parser rejected or dropped, for the report.
type ParseReport struct {
	Rejected   int64 // rows that did not fit the schema or limits
	Duplicates int64 // exact duplicates of earlier rows of the same file
	Problems   []Problem
}

// Similarity estimates the Jaccard similarity of two MinHash signatures.
type Similarity func(a, b []byte) float64

// IngestResult counts what a contribution added.
type IngestResult struct {
	Accepted   int64
	Duplicates int64
	NearDups   int64
	Status     string
}

// NearDupThreshold is the Jaccard similarity from which records are
// flagged as near-duplicates.
const NearDupThreshold = 0.8

// CommitIngest stores a contribution's records in one transaction: all of
// them appear together or none do. Exact duplicates of records already in
// the Datanet are dropped (and reported by line); near-duplicates are
// flagged with the matching record. Running it again after a crash redoes
// the same work: the transaction of the crashed run never committed.
//
// report is called once src is exhausted, still inside the transaction,
// for what the parser did not emit: rejected rows, exact duplicates within
// the file, and its problems (line order).
func (s *Store) CommitIngest(ctx context.Context, id int64, src RecordSource, report func() ParseReport, sim Similarity) (IngestResult, error) {
	var res IngestResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var status, policy string
		var datanetID, contributorID int64
		// No row lock here: the job updates the row's progress from another
		// connection while records stream in. The final UPDATE re-checks the
		// status, so a concurrent duplicate run cannot commit twice.
		err := tx.QueryRow(ctx, `
			SELECT c.status, d.contribution_policy, c.datanet_id, c.contributor_id
			FROM contributions c JOIN datanets d ON d.id = c.datanet_id WHERE c.id = $1`, id).
			Scan(&status, &policy, &datanetID, &contributorID)
		if err != nil {
			return err
		}
		if status != ContribProcessing {
			return fmt.Errorf("contribution is %s, not processing: %w", status, ErrConflict)
		}
		if _, err := tx.Exec(ctx, `
			CREATE TEMP TABLE ingest_tmp (line INT, hash TEXT, canonical TEXT, fields JSONB, chars INT, pii JSONB, minhash BYTEA, bands BIGINT[])
			ON COMMIT DROP`); err != nil {
			return err
		}
		var copyErr error
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"ingest_tmp"},
			[]string{"line", "hash", "canonical", "fields", "chars", "pii", "minhash", "bands"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if !src.Next() {
					if err := src.Err(); err != nil {
						copyErr = err
						return nil, err
					}
					return nil, nil
				}
				r := src.Record()
				fields, err := json.Marshal(r.Fields)
				if err != nil {
					return nil, err
				}
				pii := r.PII
				if pii == nil {
					pii = json.RawMessage("[]")
				}
				return []any{r.Line, r.Hash, r.Canonical, fields, r.Chars, pii, r.MinHash, r.Bands}, nil
			}))
		if copyErr != nil {
			return copyErr
		}
		if err != nil {
			return fmt.Errorf("copy records: %w", err)
		}
		pr := report()
		rejected, problems := pr.Rejected, pr.Problems
		recStatus := "accepted"
		if policy == PolicyReview {
			recStatus = "pending"
		}
		if _, err := tx.Exec(ctx, `ANALYZE ingest_tmp`); err != nil {
			return err
		}
		// Records and their LSH band keys in one statement: the bands come
		// from the rows the insert returns, so no join back to records.
		err = tx.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO records (datanet_id, contribution_id, contributor_id, hash, canonical, fields, chars, line, status, pii, minhash)
				SELECT $1, $2, $3, hash, canonical, fields, chars, line, $4, pii, minhash FROM ingest_tmp ORDER BY line
				ON CONFLICT (datanet_id, hash) DO NOTHING
				RETURNING id, line),
			bands AS (
				INSERT INTO record_bands (datanet_id, band_key, record_id)
				SELECT $1, b, ins.id FROM ins JOIN ingest_tmp t ON t.line = ins.line, unnest(t.bands) b)
			SELECT count(*) FROM ins`, datanetID, id, contributorID, recStatus).Scan(&res.Accepted)
		if err != nil {
			return fmt.Errorf("insert records: %w", err)
		}
		res.Duplicates = n - res.Accepted + pr.Duplicates

		// Report duplicates by line, after the parser's own problems.
		if res.Duplicates > 0 && len(problems) < MaxProblems {
			rows, err := tx.Query(ctx, `
				SELECT t.line, r.hash FROM ingest_tmp t
				JOIN records r ON r.datanet_id = $1 AND r.hash = t.hash
				WHERE r.contribution_id <> $2 OR r.line <> t.line
				ORDER BY t.line LIMIT $3`, datanetID, id, MaxProblems-len(problems))
			if err != nil {
				return err
			}
			dups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Problem, error) {
				var line int
				var hash string
				err := r.Scan(&line, &hash)
				return Problem{Line: line, Reason: "Duplicate of a record already in this Datanet (" + hash[:14] + "…); skipped."}, err
			})
			if err != nil {
				return err
			}
			problems = append(problems, dups...)
		}

		if res.Accepted > 0 {
			if res.NearDups, err = flagNearDuplicates(ctx, tx, datanetID, id, sim); err != nil {
				return err
			}
		}

		final := ContribAccepted
		reason := ""
		switch {
		case res.Accepted == 0:
			final, reason = ContribRejected, "Nothing new to add: every row was a duplicate or invalid."
		case policy == PolicyReview:
			final = ContribInReview
		}
		if final, err = holdIfBanned(ctx, tx, id, contributorID, final); err != nil {
			return err
		}
		res.Status = final
		slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
		if len(problems) > MaxProblems {
			problems = problems[:MaxProblems]
		}
		if problems == nil {
			problems = []Problem{}
		}
		p, _ := json.Marshal(problems)
		tag, err := tx.Exec(ctx, `
			UPDATE contributions SET status = $2, accepted_count = $3, duplicate_count = $4, near_duplicate_count = $5,
			       rejected_count = $6, problems = $7, review_reason = $8, progress_rows = $9, updated_at = now()
			WHERE id = $1 AND status = 'processing'`, id, final, res.Accepted, res.Duplicates, res.NearDups, rejected, p, reason, n+rejected)
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("contribution finished by another run: %w", ErrConflict)
		}
		return err
	})
	if err != nil {
		return res, fmt.Errorf("commit ingest %d: %w", id, err)
	}
	return res, nil
}

// flagNearDuplicates finds, for each new record of the contribution, the
// most similar older record sharing an LSH band and flags it when the
// estimated Jaccard similarity reaches NearDupThreshold.
func flagNearDuplicates(ctx context.Context, tx pgx.Tx, datanetID, contributionID int64, sim Similarity) (int64, error) {
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT nb.record_id, ob.record_id, nr.minhash, orr.minhash
		FROM record_bands nb
		JOIN records nr ON nr.id = nb.record_id AND nr.contribution_id = $2
		JOIN record_bands ob ON ob.datanet_id = $1 AND ob.band_key = nb.band_key AND ob.record_id < nb.record_id
		JOIN records orr ON orr.id = ob.record_id AND (orr.status = 'accepted' OR orr.contribution_id = $2)
		WHERE nb.datanet_id = $1`, datanetID, contributionID)
	if err != nil {
		return 0, fmt.Errorf("near-duplicate candidates: %w", err)
	}
	type match struct {
		other int64
		score float64
	}
	best := map[int64]match{}
	var newID, oldID int64
	var a, b []byte
	_, err = pgx.ForEachRow(rows, []any{&newID, &oldID, &a, &b}, func() error {
		if score := sim(a, b); score >= NearDupThreshold && score > best[newID].score {
			best[newID] = match{oldID, score}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("near-duplicate candidates: %w", err)
	}
	if len(best) == 0 {
		return 0, nil
	}
	ids, others, scores := make([]int64, 0, len(best)), make([]int64, 0, len(best)), make([]float32, 0, len(best))
	for id, m := range best {
		ids, others, scores = append(ids, id), append(others, m.other), append(scores, float32(m.score))
	}
	_, err = tx.Exec(ctx, `
		UPDATE records r SET near_dup_of = u.other, near_dup_score = u.score
		FROM unnest($1::bigint[], $2::bigint[], $3::real[]) AS u(id, other, score) WHERE r.id = u.id`, ids, others, scores)
	if err != nil {
		return 0, fmt.Errorf("flag near-duplicates: %w", err)
	}
	return int64(len(best)), nil
}

// Record is a stored record.
type Record struct {
	ID            int64
	Hash          string
	Fields        map[string]string
	Canonical     string
	Chars         int
	Line          int
	Status        string
	Contributor   string
	PII           json.RawMessage
	NearDupOf     string            // hash of the matching older record
	NearDupFields map[string]string // its fields, for side-by-side review
	NearDupScore  float64
	CreatedAt     time.Time
}

const recordColumns = `r.id, r.hash, r.fields, r.canonical, r.chars, r.line, r.status, u.address, r.pii,
	coalesce((SELECT o.hash FROM records o WHERE o.id = r.near_dup_of AND (o.status = 'accepted' OR o.contribution_id = r.contribution_id)), ''),
	(SELECT o.fields FROM records o WHERE o.id = r.near_dup_of AND (o.status = 'accepted' OR o.contribution_id = r.contribution_id)),
	coalesce(r.near_dup_score, 0), r.created_at`

func scanRecords(rows pgx.Rows) ([]Record, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
		var r Record
		var score float32
		err := row.Scan(&r.ID, &r.Hash, &r.Fields, &r.Canonical, &r.Chars, &r.Line, &r.Status, &r.Contributor, &r.PII, &r.NearDupOf, &r.NearDupFields, &score, &r.CreatedAt)
		r.NearDupScore = float64(score)
		return r, err
	})
}

// DatanetRecords pages through a Datanet's accepted records, newest first.
func (s *Store) DatanetRecords(ctx context.Context, datanetID int64, limit, offset int) ([]Record, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recordColumns+` FROM records r JOIN users u ON u.id = r.contributor_id
		WHERE r.datanet_id = $1 AND r.status = 'accepted' ORDER BY r.id DESC LIMIT $2 OFFSET $3`, datanetID, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	return scanRecords(rows)
}

// ContributionRecords pages through a contribution's records in file order.
func (s *Store) ContributionRecords(ctx context.Context, contributionID int64, limit, offset int) ([]Record, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recordColumns+` FROM records r JOIN users u ON u.id = r.contributor_id
		WHERE r.contribution_id = $1 ORDER BY r.line, r.id LIMIT $2 OFFSET $3`, contributionID, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("contribution records: %w", err)
	}
	return scanRecords(rows)
}

// Leaderboard ranks a Datanet's contributors by accepted records.
func (s *Store) Leaderboard(ctx context.Context, datanetID int64, limit int) ([]Share, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT u.address, count(*) FROM records r JOIN users u ON u.id = r.contributor_id
		WHERE r.datanet_id = $1 AND r.status = 'accepted'
		GROUP BY u.address ORDER BY count(*) DESC, u.address LIMIT $2`, datanetID, limit)
	if err != nil {
		return nil, fmt.Errorf("leaderboard: %w", err)
	}
	shares, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Share, error) {
		var s Share
		return s, r.Scan(&s.Address, &s.Records)
	})
	if err != nil {
		return nil, fmt.Errorf("leaderboard: %w", err)
	}
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM records WHERE datanet_id = $1 AND status = 'accepted'`, datanetID).Scan(&total); err != nil {
		return nil, err
	}
	for i := range shares {
		shares[i].ShareBps = shares[i].Records * 10000 / max(total, 1)
	}
	return shares, nil
}

// Share is a contributor's part of a Datanet or version.
type Share struct {
	Address  string `json:"address"`
	Records  int64  `json:"records"`
	ShareBps int64  `json:"shareBps"`
}

// FixRecord replaces a record of a contribution in review with a corrected
// one (fix-and-accept). The record gets its new hash; an edit that makes it
// identical to another record of the Datanet is refused.
func (s *Store) FixRecord(ctx context.Context, a Actor, contributionID int64, hash string, rec IngestRecord) (*Record, error) {
	c, acc, err := s.VisibleContribution(ctx, a, contributionID)
	if err != nil {
		return nil, err
	}
	if !acc.Review {
		return nil, ErrForbidden
	}
	if c.Status != ContribInReview {
		return nil, &ValidationError{Fields: map[string]string{"record": "Records can be fixed only while their contribution is in review."}}
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Re-check under a lock: a fix racing an accept must not rewrite a
		// record nobody reviewed.
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM contributions WHERE id = $1 FOR UPDATE`, contributionID).Scan(&status); err != nil {
			return err
		}
		if status != ContribInReview {
			return ErrConflict
		}
		fields, err := json.Marshal(rec.Fields)
		if err != nil {
			return err
		}
		pii := rec.PII
		if pii == nil {
			pii = json.RawMessage("[]")
		}
		err = tx.QueryRow(ctx, `
			UPDATE records SET hash = $3, canonical = $4, fields = $5, chars = $6, pii = $7, minhash = $8,
			       near_dup_of = NULL, near_dup_score = NULL
			WHERE contribution_id = $1 AND hash = $2 RETURNING id`,
			contributionID, hash, rec.Hash, rec.Canonical, fields, rec.Chars, pii, rec.MinHash).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM record_bands WHERE record_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO record_bands (datanet_id, band_key, record_id) SELECT $1, b, $2 FROM unnest($3::bigint[]) b`,
			c.DatanetID, id, rec.Bands); err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "record.fix", "contribution", fmt.Sprint(contributionID),
			map[string]string{"hash": hash}, map[string]string{"hash": rec.Hash}, "")
	})
	if isUniqueViolation(err) {
		return nil, &ValidationError{Fields: map[string]string{"record": "The fixed record is identical to one already in this Datanet."}}
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("fix record %s: %w", hash, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+recordColumns+` FROM records r JOIN users u ON u.id = r.contributor_id WHERE r.id = $1`, id)
	if err != nil {
		return nil, err
	}
	recs, err := scanRecords(rows)
	if err != nil || len(recs) != 1 {
		return nil, fmt.Errorf("fixed record %d: %w", id, err)
	}
	return &recs[0], nil
}
