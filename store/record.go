package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/ingest/minhash"
)

// IngestRecord is one validated, normalised record ready to store.
type IngestRecord struct {
	Line      int
	Hash      string // 0x + 64 hex, SHA-256 of Canonical
	Canonical string // canonical JSON of the schema fields
	Fields    map[string]string
	Chars     int
	PII       json.RawMessage // flags for reviewers; nil for none
	Bands     []int64         // LSH band keys of the record's MinHash signature
	// Sketch compares the record with the earlier ones of its file in
	// memory, when HasSketch; records without one are compared by the
	// Similarity of CommitIngest.
	Sketch    minhash.Sketch
	HasSketch bool
}

// sketchBytes is the stored form of the record's sketch; nil for none.
func (r *IngestRecord) sketchBytes() []byte {
	if !r.HasSketch {
		return nil
	}
	return r.Sketch[:]
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

// Similarity estimates the Jaccard similarity of the near-duplicate text of
// two records, given as their canonical JSON (their MinHash signatures are
// not stored: they are recomputed for the few pairs that share a band key).
type Similarity func(a, b string) float64

// ScheduleIndex enqueues, inside tx, the job that runs IndexContribution
// for a contribution once tx commits.
type ScheduleIndex func(ctx context.Context, tx pgx.Tx, contributionID int64) error

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
//
// The records' search vectors and band-key index entries are added after
// the commit by IndexContribution: schedule enqueues its job in the same
// transaction; a nil schedule runs it right after the commit.
func (s *Store) CommitIngest(ctx context.Context, id int64, src RecordSource, report func() ParseReport, sim Similarity, schedule ScheduleIndex) (IngestResult, error) {
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
		// The statements below look rows up by key, a few at a time, in
		// tables whose statistics lag the rows just copied in: index
		// scans only (a planner that believes records is empty joins by
		// scanning it), and no JIT for estimates that are far off.
		var start time.Time
		if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&start); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL jit = off`); err != nil {
			return err
		}
		recStatus := "accepted"
		if policy == PolicyReview {
			recStatus = "pending"
		}
		seen := newBandSeen()
		w := &ingestWriter{tx: tx, datanetID: datanetID, contributionID: id, contributorID: contributorID, status: recStatus,
			seen: seen.run(), sim: sim}
		n, err := s.writeIngestBatches(ctx, src, w)
		close(w.seen)
		<-seen.done
		if err != nil {
			return err
		}
		pr := report()
		rejected, problems := pr.Rejected, pr.Problems
		res.Accepted = w.accepted
		res.Duplicates = w.duplicates + pr.Duplicates
		// Duplicates of records already in the Datanet, by line, after the
		// parser's own problems.
		problems = append(problems, w.dupProblems[:min(len(w.dupProblems), max(0, MaxProblems-len(problems)))]...)

		if res.Accepted > 0 {
			if res.NearDups, err = flagNearDuplicates(ctx, tx, datanetID, id, start, seen, w.matches, sim); err != nil {
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
		if err != nil || res.Accepted == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO record_index_pending (contribution_id, datanet_id) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, id, datanetID); err != nil {
			return err
		}
		if schedule != nil {
			return schedule(ctx, tx, id)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("commit ingest %d: %w", id, err)
	}
	if schedule == nil && res.Accepted > 0 {
		if err := s.IndexContribution(ctx, id); err != nil {
			return res, err
		}
	}
	return res, nil
}

// ingestBatchSize is how many records CommitIngest writes per round trip.
const ingestBatchSize = 1000

// writeIngestBatches streams src into the Datanet in batches and returns
// how many records src gave. Each batch is looked up (lookupBatch) on a
// second connection while the previous batch is copied on tx: the hashes
// the Datanet already holds, and the indexed records that share a band key
// with the batch's new ones. The records tx has written itself need no
// lookup, the parser having dropped the file's own duplicates. Without a
// second connection (pool exhausted), tx looks them up.
func (s *Store) writeIngestBatches(ctx context.Context, src RecordSource, w *ingestWriter) (int64, error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan []IngestRecord, 1)
	results := make(chan batchLookup, 2)
	go s.lookupBatches(lctx, w.datanetID, w.sim, jobs, results)
	defer func() {
		close(jobs)
		cancel()
		for range results { // let the lookup goroutine finish
		}
	}()
	var n int64
	var queue [][]IngestRecord
	more := true
	for more || len(queue) > 0 {
		if more {
			batch := make([]IngestRecord, 0, ingestBatchSize)
			for len(batch) < ingestBatchSize && src.Next() {
				batch = append(batch, src.Record())
			}
			if len(batch) < ingestBatchSize {
				more = false
				if err := src.Err(); err != nil {
					return n, err
				}
			}
			if len(batch) > 0 {
				n += int64(len(batch))
				jobs <- batch
				queue = append(queue, batch)
			}
		}
		if len(queue) == 2 || !more && len(queue) > 0 {
			look := <-results
			if look.onTx {
				var err error
				if look, err = lookupBatch(ctx, w.tx, w.datanetID, queue[0], true, w.sim); err != nil {
					return n, err
				}
			}
			if look.err != nil {
				return n, look.err
			}
			if err := w.write(ctx, queue[0], look); err != nil {
				return n, err
			}
			queue = queue[1:]
		}
	}
	return n, nil
}

// lookupBatches answers each batch on jobs, in order, with lookupBatch run
// in a transaction of its own connection (it reads committed rows only; the
// transaction just scopes its planner settings). When the Datanet has no
// indexed records yet, the index is not searched.
func (s *Store) lookupBatches(ctx context.Context, datanetID int64, sim Similarity, jobs <-chan []IngestRecord, results chan<- batchLookup) {
	defer close(results)
	actx, cancel := context.WithTimeout(ctx, time.Second)
	conn, err := s.pool.Acquire(actx)
	cancel()
	var tx pgx.Tx
	indexed := false
	if err == nil {
		defer conn.Release()
		if tx, err = conn.Begin(ctx); err == nil {
			defer tx.Rollback(context.WithoutCancel(ctx))
			_, err = tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL jit = off`)
		}
		if err == nil {
			err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM record_band_keys WHERE datanet_id = $1)`, datanetID).Scan(&indexed)
		}
	}
	for batch := range jobs {
		if err != nil {
			results <- batchLookup{onTx: true}
			continue
		}
		look, lerr := lookupBatch(ctx, tx, datanetID, batch, indexed, sim)
		if lerr != nil {
			look.err = lerr
		}
		results <- look
	}
}

// batchLookup is what lookupBatch found for one batch; onTx asks the
// writer to look the batch up on its own transaction.
type batchLookup struct {
	known   map[string]bool // hashes the Datanet already holds
	matches []nearMatch     // best match of each new record among indexed ones, if close enough
	onTx    bool
	err     error
}

// querier is what lookupBatch needs of a connection or transaction.
type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// lookupBatch finds which hashes of batch the Datanet already holds and,
// when index is set, compares each remaining record with the accepted
// records of record_index that share one of its band keys: by sketches
// where both have one, else through sim on the canonical JSON. It keeps,
// for each record, the best match at or above NearDupThreshold.
func lookupBatch(ctx context.Context, q querier, datanetID int64, batch []IngestRecord, index bool, sim Similarity) (batchLookup, error) {
	var look batchLookup
	hashes := make([]string, len(batch))
	for i, r := range batch {
		hashes[i] = r.Hash
	}
	rows, err := q.Query(ctx, `SELECT hash FROM records WHERE datanet_id = $1 AND hash = ANY($2::text[])`, datanetID, hashes)
	if err != nil {
		return look, fmt.Errorf("known hashes: %w", err)
	}
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return look, fmt.Errorf("known hashes: %w", err)
	}
	look.known = make(map[string]bool, len(known))
	for _, h := range known {
		look.known[h] = true
	}
	if !index {
		return look, nil
	}
	look.matches, err = matchIndexed(ctx, q, datanetID, batch, look.known, sim)
	return look, err
}

// ingestWriter writes a contribution's records batch by batch inside the
// ingest transaction.
type ingestWriter struct {
	tx                                       pgx.Tx
	datanetID, contributionID, contributorID int64
	status                                   string
	accepted, duplicates                     int64
	dupProblems                              []Problem             // the first MaxProblems duplicates of older records
	seen                                     chan<- []IngestRecord // each batch's written records, for bandSeen
	sim                                      Similarity
	matches                                  []nearMatch // best matches among indexed records
}

// write stores one batch: records whose hash the Datanet already holds are
// dropped (and reported by line), the rest are copied in file order with
// their LSH band keys.
func (w *ingestWriter) write(ctx context.Context, batch []IngestRecord, look batchLookup) error {
	w.matches = append(w.matches, look.matches...)
	keep := make([]int, 0, len(batch))
	if len(look.known) == 0 {
		for i := range batch {
			keep = append(keep, i)
		}
	} else {
		for i, r := range batch {
			if !look.known[r.Hash] {
				keep = append(keep, i)
				continue
			}
			w.duplicates++
			if len(w.dupProblems) < MaxProblems {
				w.dupProblems = append(w.dupProblems, Problem{Line: r.Line,
					Reason: "Duplicate of a record already in this Datanet (" + r.Hash[:14] + "…); skipped."})
			}
		}
	}
	if len(keep) == 0 {
		return nil
	}
	next := 0
	_, err := w.tx.CopyFrom(ctx, pgx.Identifier{"records"},
		[]string{"datanet_id", "contribution_id", "contributor_id", "hash", "canonical", "chars", "line", "status", "pii", "bands", "sketch"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if next == len(keep) {
				return nil, nil
			}
			r := &batch[keep[next]]
			next++
			pii := r.PII
			if pii == nil {
				pii = json.RawMessage("[]")
			}
			return []any{w.datanetID, w.contributionID, w.contributorID, r.Hash, r.Canonical, r.Chars, r.Line,
				w.status, pii, r.Bands, r.sketchBytes()}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy records: %w", err)
	}
	w.accepted += int64(len(keep))
	written := batch
	if len(keep) < len(batch) {
		written = make([]IngestRecord, len(keep))
		for j, i := range keep {
			written[j] = batch[i]
		}
	}
	w.seen <- written
	return nil
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

const recordColumns = `r.id, r.hash, r.canonical::jsonb, r.canonical, r.chars, r.line, r.status, u.address, r.pii,
	coalesce((SELECT o.hash FROM records o WHERE o.id = r.near_dup_of AND (o.status = 'accepted' OR o.contribution_id = r.contribution_id)), ''),
	(SELECT o.canonical::jsonb FROM records o WHERE o.id = r.near_dup_of AND (o.status = 'accepted' OR o.contribution_id = r.contribution_id)),
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
		pii := rec.PII
		if pii == nil {
			pii = json.RawMessage("[]")
		}
		// The records_reindex trigger moves the record's search vector and
		// band keys with it.
		err := tx.QueryRow(ctx, `
			UPDATE records SET hash = $3, canonical = $4, chars = $5, pii = $6, bands = $7, sketch = $8,
			       near_dup_of = NULL, near_dup_score = NULL
			WHERE contribution_id = $1 AND hash = $2 RETURNING id`,
			contributionID, hash, rec.Hash, rec.Canonical, rec.Chars, pii, rec.Bands, rec.sketchBytes()).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
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
