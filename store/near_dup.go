package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/ingest/minhash"
)

// maxKeySharers is how many earlier records of a contribution sharing one
// band key are remembered for it: a file of many near-identical rows would
// otherwise pair each row with every earlier one. A row is still compared
// with the first maxKeySharers rows of its cluster.
const maxKeySharers = 16

// bandSeen finds a contribution's within-file near-duplicates as its
// records stream by: it remembers the first record to have each LSH band
// key and the few others that share one, and compares each record with the
// earlier records sharing any of its keys — by their sketches, in memory,
// keeping the best match at or above NearDupThreshold, or, for records
// without a sketch, as a pair (by hash) for flagNearDuplicates to compare.
// It holds about 8 bytes a band key and 120 a sketch: some 50 MB for the
// 150,000 records of a 100 MB instruction file. (Comparing the candidate
// pairs afterwards, with signatures recomputed from the stored text, took
// 2.2 s of that file's ingest: with a small vocabulary, unrelated records
// share a band key often enough that the pairs grow with the square of
// the file.)
type bandSeen struct {
	first    bandTable          // band key → number of the first record with it
	sharers  map[int64][]int32  // band key → further records with it (rare)
	hashes   []string           // record number → hash
	sketches [][]minhash.Sketch // record number → sketch, in chunks of sketchChunk
	sketched []bool             // record number → whether it has a sketch
	pairs    [][2]string        // (new hash, earlier hash) to compare later
	matches  []nearMatch        // best in-memory match of a record, if close enough
	done     chan struct{}      // closed when run has seen every batch
}

// sketchChunk is how many sketches one chunk holds: chunks, not one
// growing slice, so that growth never copies (and briefly doubles) them.
const sketchChunk = 4096

// nearMatch is a record's best match among the earlier records of its
// file, by hash.
type nearMatch struct {
	hash, other string
	score       float64
}

func newBandSeen() *bandSeen {
	return &bandSeen{sharers: map[int64][]int32{}, done: make(chan struct{})}
}

// run adds, on a goroutine of its own, the records of each batch sent on
// the returned channel, so the comparisons overlap the next batch's COPY;
// done is closed once the channel is closed and drained.
func (b *bandSeen) run() chan<- []IngestRecord {
	ch := make(chan []IngestRecord, 4)
	go func() {
		defer close(b.done)
		for batch := range ch {
			for i := range batch {
				r := &batch[i]
				if r.HasSketch {
					b.add(r.Hash, r.Bands, &r.Sketch)
				} else {
					b.add(r.Hash, r.Bands, nil)
				}
			}
		}
	}()
	return ch
}

// sketch returns record n's sketch.
func (b *bandSeen) sketch(n int32) *minhash.Sketch {
	return &b.sketches[n/sketchChunk][n%sketchChunk]
}

// add notes a record's band keys and compares it with the earlier records
// that share one of them.
func (b *bandSeen) add(hash string, keys []int64, sketch *minhash.Sketch) {
	n := int32(len(b.hashes))
	b.hashes = append(b.hashes, hash)
	if n%sketchChunk == 0 {
		b.sketches = append(b.sketches, make([]minhash.Sketch, 0, sketchChunk))
	}
	last := &b.sketches[len(b.sketches)-1]
	if sketch != nil {
		*last = append(*last, *sketch)
	} else {
		*last = append(*last, minhash.Sketch{})
	}
	b.sketched = append(b.sketched, sketch != nil)
	var earlier []int32
	for _, k := range keys {
		if _, ok := b.first.putIfAbsent(k, n); !ok {
			continue
		}
		earlier = b.recordsWith(k, earlier)
		if more := b.sharers[k]; len(more) < maxKeySharers-1 {
			b.sharers[k] = append(more, n)
		}
	}
	slices.Sort(earlier)
	best := nearMatch{score: -1}
	for _, e := range slices.Compact(earlier) {
		if sketch == nil || !b.sketched[e] {
			b.pairs = append(b.pairs, [2]string{hash, b.hashes[e]})
			continue
		}
		if score := minhash.EstimateSketchJaccard(sketch, b.sketch(e)); score >= NearDupThreshold && score > best.score {
			best = nearMatch{hash: hash, other: b.hashes[e], score: score}
		}
	}
	if best.score >= 0 {
		b.matches = append(b.matches, best)
	}
}

// recordsWith appends to dst the numbers of the contribution's records
// that have band key k.
func (b *bandSeen) recordsWith(k int64, dst []int32) []int32 {
	if f, ok := b.first.get(k); ok {
		dst = append(dst, f)
		dst = append(dst, b.sharers[k]...)
	}
	return dst
}

// bandTable maps band keys to record numbers in 8 bytes a slot (a Go map
// took about 45 bytes a key with its growth and the collector's headroom:
// 140 MB more peak RSS for the 3 million keys of a 100 MB file; this takes
// 32 MB, 48 MB while it grows). A slot holds 40 bits of the key's hash (its
// fingerprint, which also gives the slot's position) over the record
// number plus one, so an empty slot is 0. Two keys are confused only when
// those 40 bits agree (about 4 pairs among 3 million keys), and a confusion
// only adds a candidate pair that the similarity check rejects. Record
// numbers from 2^24-1 on (16.7 million records in one contribution, far
// above the row limit) are not remembered.
type bandTable struct {
	slots []uint64 // fingerprint<<24 | (record number + 1); 0 is empty
	n     int      // used slots
}

const (
	bandNumberBits = 24
	bandNumberMask = 1<<bandNumberBits - 1
)

// bandFingerprint mixes a key (band keys are hashes already, but the table
// must not depend on that) and keeps 40 bits.
func bandFingerprint(k int64) uint64 {
	h := uint64(k) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return h >> bandNumberBits
}

// find returns the slot of fingerprint fp, or the empty slot where it
// belongs.
func (t *bandTable) find(fp uint64) int {
	mask := uint64(len(t.slots) - 1)
	for i := fp & mask; ; i = (i + 1) & mask {
		if s := t.slots[i]; s == 0 || s>>bandNumberBits == fp {
			return int(i)
		}
	}
}

// get returns the record number stored for k.
func (t *bandTable) get(k int64) (int32, bool) {
	if t.n == 0 {
		return 0, false
	}
	s := t.slots[t.find(bandFingerprint(k))]
	if s == 0 {
		return 0, false
	}
	return int32(s&bandNumberMask) - 1, true
}

// putIfAbsent stores n for k unless k is present, and reports the number
// already stored and whether there was one.
func (t *bandTable) putIfAbsent(k int64, n int32) (int32, bool) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	fp := bandFingerprint(k)
	i := t.find(fp)
	if s := t.slots[i]; s != 0 {
		return int32(s&bandNumberMask) - 1, true
	}
	if n < bandNumberMask-1 {
		t.slots[i] = fp<<bandNumberBits | uint64(n+1)
		t.n++
	}
	return 0, false
}

// grow doubles the table (from 2^16 slots) and re-places every entry by
// its fingerprint.
func (t *bandTable) grow() {
	old := t.slots
	t.slots = make([]uint64, max(1<<16, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			t.slots[t.find(s>>bandNumberBits)] = s
		}
	}
}

// flagNearDuplicates finds, for each new record of the contribution, the
// most similar older record sharing an LSH band key — an earlier record of
// the same contribution, or an accepted one of the Datanet — and flags it
// when the estimated Jaccard similarity reaches NearDupThreshold.
//
// Candidates come from three places: the earlier records of the same file
// (found and, with sketches, compared by seen as the records were written:
// grouping 20 keys a record in PostgreSQL cost 0.3–0.5 s per 15,000
// records); the accepted records of
// contributions committed but not yet indexed (their band keys read back
// and looked up in seen); and the accepted records in record_index,
// through its GIN index (one scan per new record). The second runs before
// the third, each with its own snapshot: the indexing job adds a
// contribution's entries before it takes it off record_index_pending, so
// no committed record is missed by both.
func flagNearDuplicates(ctx context.Context, tx pgx.Tx, datanetID, contributionID int64, seen *bandSeen, sim Similarity) (int64, error) {
	type match struct {
		other int64
		score float64
	}
	best := map[int64]match{}
	var newID, oldID int64
	var a, b string
	consider := func() error {
		if score := sim(a, b); score >= NearDupThreshold && score > best[newID].score {
			best[newID] = match{oldID, score}
		}
		return nil
	}
	scan := func(sql string, args ...any) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("near-duplicate candidates: %w", err)
		}
		if _, err := pgx.ForEachRow(rows, []any{&newID, &oldID, &a, &b}, consider); err != nil {
			return fmt.Errorf("near-duplicate candidates: %w", err)
		}
		return nil
	}
	if len(seen.matches) > 0 {
		newHashes, oldHashes, scores := make([]string, len(seen.matches)), make([]string, len(seen.matches)), make([]float64, len(seen.matches))
		for i, m := range seen.matches {
			newHashes[i], oldHashes[i], scores[i] = m.hash, m.other, m.score
		}
		rows, err := tx.Query(ctx, `
			SELECT n.id, o.id, p.score FROM unnest($2::text[], $3::text[], $4::float8[]) AS p(n, o, score)
			JOIN records n ON n.datanet_id = $1 AND n.hash = p.n JOIN records o ON o.datanet_id = $1 AND o.hash = p.o`,
			datanetID, newHashes, oldHashes, scores)
		if err != nil {
			return 0, fmt.Errorf("near-duplicates in the file: %w", err)
		}
		var score float64
		if _, err := pgx.ForEachRow(rows, []any{&newID, &oldID, &score}, func() error {
			if score > best[newID].score {
				best[newID] = match{oldID, score}
			}
			return nil
		}); err != nil {
			return 0, fmt.Errorf("near-duplicates in the file: %w", err)
		}
	}
	if len(seen.pairs) > 0 {
		newHashes, oldHashes := make([]string, len(seen.pairs)), make([]string, len(seen.pairs))
		for i, p := range seen.pairs {
			newHashes[i], oldHashes[i] = p[0], p[1]
		}
		if err := scan(`
			SELECT n.id, o.id, n.canonical, o.canonical FROM unnest($2::text[], $3::text[]) AS p(n, o)
			JOIN records n ON n.datanet_id = $1 AND n.hash = p.n JOIN records o ON o.datanet_id = $1 AND o.hash = p.o`,
			datanetID, newHashes, oldHashes); err != nil {
			return 0, err
		}
	}

	var pending, indexed bool
	if err := tx.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM record_index_pending WHERE datanet_id = $1 AND contribution_id <> $2),
		       EXISTS (SELECT 1 FROM record_index WHERE datanet_id = $1)`,
		datanetID, contributionID).Scan(&pending, &indexed); err != nil {
		return 0, fmt.Errorf("near-duplicate candidates: %w", err)
	}
	if pending {
		rows, err := tx.Query(ctx, `
			SELECT r.id, r.bands FROM record_index_pending q JOIN records r ON r.contribution_id = q.contribution_id
			WHERE q.datanet_id = $1 AND q.contribution_id <> $2 AND r.status = 'accepted' AND r.bands IS NOT NULL`,
			datanetID, contributionID)
		if err != nil {
			return 0, fmt.Errorf("near-duplicate candidates: %w", err)
		}
		var newHashes []string
		var oldIDs []int64
		var keys []int64
		var mine []int32
		_, err = pgx.ForEachRow(rows, []any{&oldID, &keys}, func() error {
			mine = mine[:0]
			for _, k := range keys {
				mine = seen.recordsWith(k, mine)
			}
			slices.Sort(mine)
			for _, n := range slices.Compact(mine) {
				newHashes, oldIDs = append(newHashes, seen.hashes[n]), append(oldIDs, oldID)
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("near-duplicate candidates: %w", err)
		}
		if len(oldIDs) > 0 {
			if err := scan(`
				SELECT n.id, o.id, n.canonical, o.canonical FROM unnest($2::text[], $3::bigint[]) AS p(n, o)
				JOIN records n ON n.datanet_id = $1 AND n.hash = p.n JOIN records o ON o.id = p.o`,
				datanetID, newHashes, oldIDs); err != nil {
				return 0, err
			}
		}
	}
	if indexed {
		// Entries still in the GIN pending list are read by every index
		// scan: merge them into the index first.
		if err := cleanGINPendingList(ctx, tx, "record_index_bands"); err != nil {
			return 0, err
		}
		if err := scan(`
			SELECT n.id, o.id, n.canonical, o.canonical FROM records n
			JOIN record_index x ON x.bands && n.bands AND x.datanet_id = $1
			JOIN records o ON o.id = x.record_id AND o.status = 'accepted' AND o.contribution_id <> $2
			WHERE n.contribution_id = $2`, datanetID, contributionID); err != nil {
			return 0, err
		}
	}
	if len(best) == 0 {
		return 0, nil
	}
	ids, others, scores := make([]int64, 0, len(best)), make([]int64, 0, len(best)), make([]float32, 0, len(best))
	for id, m := range best {
		ids, others, scores = append(ids, id), append(others, m.other), append(scores, float32(m.score))
	}
	_, err := tx.Exec(ctx, `
		UPDATE records r SET near_dup_of = u.other, near_dup_score = u.score
		FROM unnest($1::bigint[], $2::bigint[], $3::real[]) AS u(id, other, score) WHERE r.id = u.id`, ids, others, scores)
	if err != nil {
		return 0, fmt.Errorf("flag near-duplicates: %w", err)
	}
	return int64(len(best)), nil
}

// cleanGINPendingList merges a GIN index's pending entries into the index
// (gin_clean_pending_list). It needs to own the index; where the role does
// not, scans just read the pending list as well.
func cleanGINPendingList(ctx context.Context, tx pgx.Tx, index string) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := sp.Exec(ctx, `SELECT gin_clean_pending_list($1::regclass)`, index); err != nil {
		return sp.Rollback(ctx)
	}
	return sp.Commit(ctx)
}
