package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/store"
)

// TestIngestSearchVectorsAndBands: once a contribution is indexed, every
// record has exactly one record_index entry whose search vector is that of
// its fields, and one record_band_keys entry with its band keys; an edit of
// a record's content moves both with it. The contribution
// spans several batches and several indexing chunks.
func TestIngestSearchVectorsAndBands(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	var list []store.IngestRecord
	for i := range 6500 {
		r := record(i+1, fmt.Sprintf("Question %d about kidneys, running and the quickest foxes", i), byte(i%200))
		r.Bands = []int64{int64(i), int64(-i - 1)}
		list = append(list, r)
	}
	if _, res, err := f.contribute(t, f.contributor, d.Slug, &recs{list: list}); err != nil || res.Accepted != 6500 {
		t.Fatalf("ingest = %+v, %v", res, err)
	}
	// A direct edit of the content re-indexes the record.
	if _, err := f.s.Pool().Exec(ctx, `UPDATE records SET canonical = '{"instruction":"Edited text about livers","response":"ok"}'
		WHERE datanet_id = $1 AND line = 7`, d.ID); err != nil {
		t.Fatal(err)
	}
	var total, indexed, wrong, banded, pending int
	if err := f.s.Pool().QueryRow(ctx, `
		SELECT count(*), count(x.record_id),
		       count(*) FILTER (WHERE x.search IS DISTINCT FROM to_tsvector('english', r.canonical::jsonb)),
		       count(*) FILTER (WHERE k.bands = r.bands AND cardinality(k.bands) = 2),
		       (SELECT count(*) FROM record_index_pending p WHERE p.datanet_id = $1 AND p.indexed_at IS NULL)
		FROM records r LEFT JOIN record_index x ON x.record_id = r.id LEFT JOIN record_band_keys k ON k.record_id = r.id
		WHERE r.datanet_id = $1`, d.ID).
		Scan(&total, &indexed, &wrong, &banded, &pending); err != nil {
		t.Fatal(err)
	}
	if total != 6500 || indexed != 6500 || wrong != 0 || banded != 6500 || pending != 0 {
		t.Fatalf("%d records, %d indexed, %d with a wrong search vector, %d with their band keys, %d pending", total, indexed, wrong, banded, pending)
	}
	if recs, n, err := f.s.SearchRecords(ctx, d.ID, "livers", 10, 0); err != nil || n != 1 || len(recs) != 1 || recs[0].Line != 7 {
		t.Fatalf("search after edit = %d %+v %v", n, recs, err)
	}
}

// TestIndexAfterCommit: a committed contribution whose indexing job has
// not run yet is listed as pending, is not found by search, and is still
// checked for near-duplicates (through its records' own band keys); the
// job, run twice or after a kill that left part of the entries, indexes
// each record once and leaves the pending list; later contributions are
// checked through the index.
func TestIndexAfterCommit(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	var scheduled []int64
	schedule := func(_ context.Context, _ pgx.Tx, id int64) error {
		scheduled = append(scheduled, id)
		return nil
	}
	commit := func(list ...store.IngestRecord) (*store.Contribution, store.IngestResult) {
		t.Helper()
		return f.commitWith(t, d.Slug, sameByte, schedule, list...)
	}
	counts := func() (entries, pending int) {
		t.Helper()
		if err := f.s.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM record_index WHERE datanet_id = $1),
			(SELECT count(*) FROM record_index_pending WHERE datanet_id = $1 AND indexed_at IS NULL)`, d.ID).Scan(&entries, &pending); err != nil {
			t.Fatal(err)
		}
		return entries, pending
	}

	c1, _ := commit(record(1, "kidney stones and hydration", 31), record(2, "liver enzymes explained", 32), record(3, "a third unrelated question", 33))
	if len(scheduled) != 1 || scheduled[0] != c1.ID {
		t.Fatalf("indexing scheduled for %v, want [%d]", scheduled, c1.ID)
	}
	if e, p := counts(); e != 0 || p != 1 {
		t.Fatalf("before the job: %d entries, %d pending; want 0 and 1", e, p)
	}
	if got, err := f.s.ContributionByID(ctx, c1.ID); err != nil || !got.Indexing || got.Status != store.ContribAccepted {
		t.Fatalf("contribution before indexing = %+v, %v", got, err)
	}
	if n, err := f.s.UnindexedRecords(ctx, d.ID); err != nil || n != 3 {
		t.Fatalf("unindexed records = %d, %v; want 3", n, err)
	}
	if _, n, err := f.s.SearchRecords(ctx, d.ID, "kidney", 10, 0); err != nil || n != 0 {
		t.Fatalf("unindexed records found by search: %d %v", n, err)
	}
	// Not indexed yet, still a near-duplicate candidate.
	c2, res := commit(record(1, "kidney stones and hydration, again", 31))
	if res.NearDups != 1 {
		t.Fatalf("near-duplicate of an unindexed record missed: %+v", res)
	}
	if got, _ := f.s.ContributionRecords(ctx, c2.ID, 10, 0); len(got) != 1 || got[0].NearDupFields["instruction"] != "kidney stones and hydration" {
		t.Fatalf("near-duplicate flagged against %+v", got)
	}

	// A killed job left one entry of c1; the rerun adds the rest once.
	for _, sql := range []string{`
		INSERT INTO record_index (record_id, datanet_id, search, status)
		SELECT id, datanet_id, to_tsvector('english', canonical::jsonb), status FROM records WHERE contribution_id = $1 AND line = 2`, `
		INSERT INTO record_band_keys (record_id, datanet_id, bands)
		SELECT id, datanet_id, bands FROM records WHERE contribution_id = $1 AND line = 2`} {
		if _, err := f.s.Pool().Exec(ctx, sql, c1.ID); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := f.s.IndexContribution(ctx, c1.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.s.IndexContribution(ctx, c2.ID); err != nil {
		t.Fatal(err)
	}
	if e, p := counts(); e != 4 || p != 0 {
		t.Fatalf("after the jobs: %d entries, %d pending; want 4 and 0", e, p)
	}
	if got, err := f.s.ContributionByID(ctx, c1.ID); err != nil || got.Indexing {
		t.Fatalf("contribution after indexing = %+v, %v", got, err)
	}
	if n, err := f.s.UnindexedRecords(ctx, d.ID); err != nil || n != 0 {
		t.Fatalf("unindexed records after the jobs = %d, %v", n, err)
	}
	if _, n, err := f.s.SearchRecords(ctx, d.ID, "kidney", 10, 0); err != nil || n != 2 {
		t.Fatalf("search after indexing = %d, %v; want 2", n, err)
	}
	// Indexed now: found through record_index's band keys.
	_, res = commit(record(1, "liver enzymes explained simply", 32))
	if res.NearDups != 1 {
		t.Fatalf("near-duplicate of an indexed record missed: %+v", res)
	}
	// A contribution with nothing new schedules nothing.
	scheduled = nil
	if _, res = commit(record(1, "liver enzymes explained", 32)); res.Accepted != 0 || len(scheduled) != 0 {
		t.Fatalf("all-duplicate contribution: %+v, scheduled %v", res, scheduled)
	}
}

// TestNearDuplicatesBySketch: with real records (band keys and sketches
// from ingest), near-duplicates are found and scored without the text
// comparison (sim here says nothing is similar) — within a file, against a
// contribution not indexed yet, and against indexed records — while an
// unrelated record sharing nothing is left alone.
func TestNearDuplicatesBySketch(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	never := func(a, b string) float64 { return 0 }
	noIndex := func(context.Context, pgx.Tx, int64) error { return nil }
	const answer = "Dialysis filters waste, salts and excess water from the blood when the kidneys can no longer do it themselves, " +
		"usually three times a week in a clinic or every night at home. A machine pumps the blood through a filter called a dialyser " +
		"and returns it cleaned; between sessions patients limit fluids, salt, potassium and phosphate, and many wait for a transplant."
	rec := func(line int, q, a string) store.IngestRecord {
		r := buildRecord(t, map[string]string{"instruction": q, "response": a})
		r.Line = line
		return r
	}
	commit := func(list ...store.IngestRecord) (*store.Contribution, store.IngestResult) {
		t.Helper()
		return f.commitWith(t, d.Slug, never, noIndex, list...)
	}
	flagged := func(c *store.Contribution) map[string]string {
		t.Helper()
		got, err := f.s.ContributionRecords(ctx, c.ID, 50, 0)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range got {
			if r.NearDupOf != "" {
				if r.NearDupScore < store.NearDupThreshold {
					t.Errorf("record %d flagged at %.2f", r.Line, r.NearDupScore)
				}
				out[r.Fields["instruction"]] = r.NearDupFields["instruction"]
			}
		}
		return out
	}

	// Within one file.
	c1, res := commit(rec(1, "What does dialysis do?", answer), rec(2, "What does dialysis do for you?", answer),
		rec(3, "Why do leaves change colour?", "Chlorophyll breaks down in autumn and the yellow and red pigments show through"))
	if res.NearDups != 1 || flagged(c1)["What does dialysis do for you?"] != "What does dialysis do?" {
		t.Fatalf("within the file: %+v, %v", res, flagged(c1))
	}
	// Against c1, committed but not indexed.
	c2, res := commit(rec(1, "What does dialysis do for patients?", answer))
	if res.NearDups != 1 || flagged(c2)["What does dialysis do for patients?"] == "" {
		t.Fatalf("against an unindexed contribution: %+v, %v", res, flagged(c2))
	}
	// Against indexed records.
	for _, c := range []*store.Contribution{c1, c2} {
		if err := f.s.IndexContribution(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	c3, res := commit(rec(1, "So what does dialysis do?", answer),
		rec(2, "How do bees make honey?", "They collect nectar, add enzymes and fan it with their wings until most of the water evaporates"))
	if res.NearDups != 1 || flagged(c3)["So what does dialysis do?"] == "" {
		t.Fatalf("against indexed records: %+v, %v", res, flagged(c3))
	}
}

// TestSearchFollowsStatus: record_index carries each record's status, so
// search finds a contribution's records only once a reviewer accepts them,
// and no longer once one is superseded.
func TestSearchFollowsStatus(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyReview)
	c, res, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{
		record(1, "Harbour pilots board ships", 41), record(2, "Tugs push ships to the berth", 42)}})
	if err != nil || res.Status != store.ContribInReview {
		t.Fatalf("ingest = %+v, %v", res, err)
	}
	search := func(q string) int64 {
		t.Helper()
		_, n, err := f.s.SearchRecords(ctx, d.ID, q, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := search("ships"); n != 0 {
		t.Fatalf("records in review found by search: %d", n)
	}
	if _, err := f.s.ReviewContribution(ctx, f.owner, c.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	if n := search("ships"); n != 2 {
		t.Fatalf("accepted records found = %d, want 2", n)
	}
	if _, err := f.s.Pool().Exec(ctx, `UPDATE records SET status = 'superseded' WHERE contribution_id = $1 AND line = 2`, c.ID); err != nil {
		t.Fatal(err)
	}
	if n := search("ships"); n != 1 {
		t.Fatalf("after superseding one, found = %d, want 1", n)
	}
}

// commitWith ingests list as a new contribution of f.contributor to the
// Datanet, with the given similarity and indexing schedule.
func (f *fixture) commitWith(t *testing.T, slug string, sim store.Similarity, schedule store.ScheduleIndex, list ...store.IngestRecord) (*store.Contribution, store.IngestResult) {
	t.Helper()
	ctx := context.Background()
	c, err := f.s.CreateContribution(ctx, f.contributor, slug, store.ContributionInput{Source: "api", Filename: "x.jsonl"}, noJob)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := f.s.StartIngest(ctx, c.ID); err != nil || !ok {
		t.Fatalf("start ingest: %v %v", ok, err)
	}
	res, err := f.s.CommitIngest(ctx, c.ID, &recs{list: list}, func() store.ParseReport { return store.ParseReport{} }, sim, schedule)
	if err != nil {
		t.Fatal(err)
	}
	return c, res
}
