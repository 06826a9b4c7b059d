package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/modelfactory/modelfactory/store"
)

// TestIngestSearchVectorsAndBands: the search vectors ingest computes on
// its second connection, and those the trigger computes for other writes,
// are exactly to_tsvector('english', fields); every record carries its
// band keys, and the record_bands view shows them. The contribution spans
// several batches.
func TestIngestSearchVectorsAndBands(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	var list []store.IngestRecord
	for i := range 2500 {
		r := record(i+1, fmt.Sprintf("Question %d about kidneys, running and the quickest foxes", i), byte(i%200))
		r.Bands = []int64{int64(i), int64(-i - 1)}
		list = append(list, r)
	}
	if _, res, err := f.contribute(t, f.contributor, d.Slug, &recs{list: list}); err != nil || res.Accepted != 2500 {
		t.Fatalf("ingest = %+v, %v", res, err)
	}
	// A row written by SQL without a vector gets one from the trigger.
	if _, err := f.s.Pool().Exec(ctx, `UPDATE records SET fields = '{"instruction":"Edited text about livers","response":"ok"}'
		WHERE datanet_id = $1 AND line = 7`, d.ID); err != nil {
		t.Fatal(err)
	}
	var total, wrong, banded, views int
	if err := f.s.Pool().QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE search IS DISTINCT FROM to_tsvector('english', fields)),
		       count(*) FILTER (WHERE cardinality(bands) = 2),
		       (SELECT count(*) FROM record_bands b WHERE b.datanet_id = $1)
		FROM records WHERE datanet_id = $1`, d.ID).Scan(&total, &wrong, &banded, &views); err != nil {
		t.Fatal(err)
	}
	if total != 2500 || wrong != 0 || banded != 2500 || views != 5000 {
		t.Fatalf("%d records, %d with a wrong search vector, %d with their band keys, %d band rows", total, wrong, banded, views)
	}
	if recs, n, err := f.s.SearchRecords(ctx, d.ID, "livers", 10, 0); err != nil || n != 1 || len(recs) != 1 || recs[0].Line != 7 {
		t.Fatalf("search after edit = %d %+v %v", n, recs, err)
	}
}
