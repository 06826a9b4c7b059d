package store

import (
	"context"
	"fmt"
	"slices"
	"time"

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

// nearMatch is a new record's best match (by hash) among the earlier
// records of its file (other, by hash) or the Datanet's (otherID).
type nearMatch struct {
	hash, other string
	otherID     int64
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
		if e == n {
			continue // two of its own keys met in the table
		}
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

// flagNearDuplicates flags each new record of the contribution with its
// most similar older record sharing an LSH band key — an earlier record of
// the same file, or an accepted one of the Datanet — when the estimated
// Jaccard similarity reaches NearDupThreshold, and returns how many it
// flagged.
//
// The candidates were mostly compared already: the earlier records of the
// file by seen, in memory, as the records were written (grouping 20 keys a
// record in PostgreSQL cost 0.3–0.5 s per 15,000 records); the indexed
// records of the Datanet by lookupBatch, batch by batch, beside the COPY
// (indexed is their best matches). What remains is done here: the
// accepted records of contributions that were not indexed when this ingest
// started — their band keys read back and looked up in seen — and the
// pairs without sketches, compared through sim on their canonical JSON.
// A contribution indexed before start had its entries committed before
// any batch was looked up; one indexed later is read back here.
func flagNearDuplicates(ctx context.Context, tx pgx.Tx, datanetID, contributionID int64, start time.Time, seen *bandSeen, indexed []nearMatch, sim Similarity) (int64, error) {
	matches := append(slices.Clip(indexed), seen.matches...)
	pairs := slices.Clip(seen.pairs) // (new hash, earlier hash)
	var oldPairs []nearMatch         // (new hash, older record id), to compare through sim

	// Contributions not indexed before this ingest started.
	rows, err := tx.Query(ctx, `
		SELECT r.id, r.bands, r.sketch FROM record_index_pending q JOIN records r ON r.contribution_id = q.contribution_id
		WHERE q.datanet_id = $1 AND q.contribution_id <> $2 AND (q.indexed_at IS NULL OR q.indexed_at >= $3)
		  AND r.status = 'accepted' AND r.bands IS NOT NULL`, datanetID, contributionID, start)
	if err != nil {
		return 0, fmt.Errorf("near-duplicate candidates: %w", err)
	}
	best := map[int32]nearMatch{}
	var oldID int64
	var keys []int64
	var sketch []byte
	var mine []int32
	_, err = pgx.ForEachRow(rows, []any{&oldID, &keys, &sketch}, func() error {
		mine = mine[:0]
		for _, k := range keys {
			mine = seen.recordsWith(k, mine)
		}
		slices.Sort(mine)
		for _, n := range slices.Compact(mine) {
			if !seen.sketched[n] || len(sketch) != minhash.K {
				oldPairs = append(oldPairs, nearMatch{hash: seen.hashes[n], otherID: oldID})
				continue
			}
			score := minhash.EstimateSketchJaccard(seen.sketch(n), (*minhash.Sketch)(sketch))
			if score >= NearDupThreshold && score > best[n].score {
				best[n] = nearMatch{hash: seen.hashes[n], otherID: oldID, score: score}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("near-duplicate candidates: %w", err)
	}
	for _, m := range best {
		matches = append(matches, m)
	}

	// The pairs without sketches, through sim.
	if len(pairs) > 0 || len(oldPairs) > 0 {
		var newHashes, oldHashes []string
		var oldIDs []int64
		for _, p := range pairs {
			newHashes, oldHashes, oldIDs = append(newHashes, p[0]), append(oldHashes, p[1]), append(oldIDs, 0)
		}
		for _, p := range oldPairs {
			newHashes, oldHashes, oldIDs = append(newHashes, p.hash), append(oldHashes, ""), append(oldIDs, p.otherID)
		}
		rows, err := tx.Query(ctx, `
			SELECT p.n, o.id, n.canonical, o.canonical FROM unnest($2::text[], $3::text[], $4::bigint[]) AS p(n, oh, oid)
			JOIN records n ON n.datanet_id = $1 AND n.hash = p.n
			JOIN records o ON o.id = CASE WHEN p.oid <> 0 THEN p.oid
			                              ELSE (SELECT id FROM records WHERE datanet_id = $1 AND hash = p.oh) END`,
			datanetID, newHashes, oldHashes, oldIDs)
		if err != nil {
			return 0, fmt.Errorf("near-duplicate candidates: %w", err)
		}
		var h, a, b string
		_, err = pgx.ForEachRow(rows, []any{&h, &oldID, &a, &b}, func() error {
			if score := sim(a, b); score >= NearDupThreshold {
				matches = append(matches, nearMatch{hash: h, otherID: oldID, score: score})
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("near-duplicate candidates: %w", err)
		}
	}
	if len(matches) == 0 {
		return 0, nil
	}

	// Each new record's best match, by id.
	var lookup []string
	for _, m := range matches {
		lookup = append(lookup, m.hash)
		if m.otherID == 0 {
			lookup = append(lookup, m.other)
		}
	}
	rows, err = tx.Query(ctx, `SELECT hash, id FROM records WHERE datanet_id = $1 AND hash = ANY($2::text[])`, datanetID, lookup)
	if err != nil {
		return 0, fmt.Errorf("near-duplicate records: %w", err)
	}
	ids := map[string]int64{}
	var h string
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&h, &id}, func() error { ids[h] = id; return nil }); err != nil {
		return 0, fmt.Errorf("near-duplicate records: %w", err)
	}
	type flag struct {
		other int64
		score float64
	}
	flags := map[int64]flag{}
	for _, m := range matches {
		n, other := ids[m.hash], m.otherID
		if other == 0 {
			other = ids[m.other]
		}
		if n == 0 || other == 0 {
			continue
		}
		if f, ok := flags[n]; !ok || m.score > f.score {
			flags[n] = flag{other, m.score}
		}
	}
	newIDs, others, scores := make([]int64, 0, len(flags)), make([]int64, 0, len(flags)), make([]float32, 0, len(flags))
	for n, f := range flags {
		newIDs, others, scores = append(newIDs, n), append(others, f.other), append(scores, float32(f.score))
	}
	_, err = tx.Exec(ctx, `
		UPDATE records r SET near_dup_of = u.other, near_dup_score = u.score
		FROM unnest($1::bigint[], $2::bigint[], $3::real[]) AS u(id, other, score) WHERE r.id = u.id`, newIDs, others, scores)
	if err != nil {
		return 0, fmt.Errorf("flag near-duplicates: %w", err)
	}
	return int64(len(flags)), nil
}

// matchIndexed compares the records of batch that are not known with the
// accepted records in record_band_keys sharing one of their band keys, and
// returns each record's best match at or above NearDupThreshold: by
// sketches where both have one, else through sim on the canonical JSON.
// It reads the GIN index once per record (datanet_id + 0 keeps the planner
// off the (datanet_id) index, which would visit every indexed record of the
// Datanet).
func matchIndexed(ctx context.Context, q querier, datanetID int64, batch []IngestRecord, known map[string]bool, sim Similarity) ([]nearMatch, error) {
	byKey := make(map[int64][]int32, len(batch)*minhash.Bands)
	var keys []int64
	var lo, hi []int32 // record i's keys are keys[lo[i]-1 : hi[i]] (1-based SQL slices)
	unsketched := false
	for i := range batch {
		r := &batch[i]
		if known[r.Hash] || len(r.Bands) == 0 {
			continue
		}
		unsketched = unsketched || !r.HasSketch
		lo = append(lo, int32(len(keys)+1))
		for _, k := range r.Bands {
			keys = append(keys, k)
			byKey[k] = append(byKey[k], int32(i))
		}
		hi = append(hi, int32(len(keys)))
	}
	if len(keys) == 0 {
		return nil, nil
	}
	// One GIN scan per record, for its own keys: one scan for the whole
	// batch's 20,000 keys took seconds even when nothing matched.
	rows, err := q.Query(ctx, `
		SELECT x.record_id, x.bands FROM unnest($3::int[], $4::int[]) AS g(lo, hi)
		CROSS JOIN LATERAL (SELECT record_id, bands FROM record_band_keys
		                    WHERE bands && ($2::bigint[])[g.lo:g.hi] AND datanet_id + 0 = $1) x`, datanetID, keys, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("indexed near-duplicate candidates: %w", err)
	}
	candidates := map[int64][]int32{} // older record → records of the batch sharing a key with it
	var oldID int64
	var oldKeys []int64
	if _, err := pgx.ForEachRow(rows, []any{&oldID, &oldKeys}, func() error {
		if _, done := candidates[oldID]; done {
			return nil
		}
		var news []int32
		for _, k := range oldKeys {
			news = append(news, byKey[k]...)
		}
		slices.Sort(news)
		candidates[oldID] = slices.Compact(news)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("indexed near-duplicate candidates: %w", err)
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	ids := make([]int64, 0, len(candidates))
	for id := range candidates {
		ids = append(ids, id)
	}
	rows, err = q.Query(ctx, `
		SELECT id, sketch, CASE WHEN sketch IS NULL OR $2 THEN canonical ELSE '' END FROM records
		WHERE id = ANY($1::bigint[]) AND status = 'accepted'`, ids, unsketched)
	if err != nil {
		return nil, fmt.Errorf("indexed near-duplicate candidates: %w", err)
	}
	best := map[int32]nearMatch{}
	var sketch []byte
	var canonical string
	if _, err := pgx.ForEachRow(rows, []any{&oldID, &sketch, &canonical}, func() error {
		for _, i := range candidates[oldID] {
			r := &batch[i]
			var score float64
			switch {
			case r.HasSketch && len(sketch) == minhash.K:
				score = minhash.EstimateSketchJaccard(&r.Sketch, (*minhash.Sketch)(sketch))
			case canonical != "":
				score = sim(r.Canonical, canonical)
			}
			if score >= NearDupThreshold && score > best[i].score {
				best[i] = nearMatch{hash: r.Hash, otherID: oldID, score: score}
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("indexed near-duplicate candidates: %w", err)
	}
	out := make([]nearMatch, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	return out, nil
}
