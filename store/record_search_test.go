package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/modelfactory/modelfactory/store"
)

func TestSearchRecords(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	open := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	other := f.datanet(t, store.VisibilityPublic, store.PolicyReview)

	texts := []string{
		"How do kidneys filter blood?",
		"Explain the symptoms of influenza in children",
		"What causes a kidney stone to form?",
		"Describe how vaccines train the immune system",
		"The runner was running a marathon",
	}
	var list []store.IngestRecord
	for i, s := range texts {
		list = append(list, record(i+1, s, byte(i+1)))
	}
	// Many matches, to check paging and the order (newest first).
	for i := range 30 {
		list = append(list, record(100+i, fmt.Sprintf("Dosage question number %d about aspirin", i), byte(100+i)))
	}
	if _, res, err := f.contribute(t, f.contributor, open.Slug, &recs{list: list}); err != nil || res.Accepted != int64(len(list)) {
		t.Fatalf("contribute: %+v %v", res, err)
	}
	// Pending records of a Datanet under review, and records of another
	// Datanet, must never show up.
	if _, res, err := f.contribute(t, f.contributor, other.Slug, &recs{list: []store.IngestRecord{record(1, "kidney transplant waiting lists", 1)}}); err != nil || res.Status != store.ContribInReview {
		t.Fatalf("contribute for review: %+v %v", res, err)
	}

	cases := []struct {
		q     string
		total int64
		first string
	}{
		{"kidney", 2, "What causes a kidney stone to form?"}, // stemming: kidneys, kidney
		{"Kidneys filter", 1, "How do kidneys filter blood?"},
		{`"immune system"`, 1, "Describe how vaccines train the immune system"},
		{`"system immune"`, 0, ""},
		{"kidney -stone", 1, "How do kidneys filter blood?"},
		{"influenza or marathon", 2, "The runner was running a marathon"},
		{"runs", 1, "The runner was running a marathon"},
		{"transplant", 0, ""}, // pending, in the other Datanet
		{"the of a", 0, ""},   // stop words only
		{"   ", 0, ""},
		{"!!! & | :* (", 0, ""}, // operators only: no syntax error
		{"aspirin", 30, "Dosage question number 29 about aspirin"},
	}
	for _, c := range cases {
		got, total, err := f.s.SearchRecords(ctx, open.ID, c.q, 10, 0)
		if err != nil {
			t.Fatalf("search %q: %v", c.q, err)
		}
		if total != c.total {
			t.Errorf("search %q: total %d, want %d", c.q, total, c.total)
		}
		if want := min(int(c.total), 10); len(got) != want {
			t.Errorf("search %q: %d records, want %d", c.q, len(got), want)
		}
		if c.first != "" && len(got) > 0 && got[0].Fields["instruction"] != c.first {
			t.Errorf("search %q: first %q, want %q", c.q, got[0].Fields["instruction"], c.first)
		}
		for _, r := range got {
			if r.Status != "accepted" || r.Contributor != f.contributor.Address {
				t.Errorf("search %q: got %+v", c.q, r)
			}
		}
	}

	// Paging walks every match exactly once.
	seen := map[string]bool{}
	for off := 0; off < 40; off += 7 {
		got, total, err := f.s.SearchRecords(ctx, open.ID, "aspirin", 7, off)
		if err != nil || total != 30 {
			t.Fatalf("page at %d: total %d, %v", off, total, err)
		}
		for _, r := range got {
			if seen[r.Hash] {
				t.Fatalf("record %s on two pages", r.Hash)
			}
			seen[r.Hash] = true
		}
	}
	if len(seen) != 30 {
		t.Fatalf("paging saw %d records, want 30", len(seen))
	}

	// Once accepted, the reviewed Datanet's records are searchable there.
	cs, err := f.s.Contributions(ctx, other.ID, 0, 10, 0)
	if err != nil || len(cs) != 1 {
		t.Fatalf("contributions: %v %v", cs, err)
	}
	if _, err := f.s.ReviewContribution(ctx, f.owner, cs[0].ID, true, ""); err != nil {
		t.Fatal(err)
	}
	if got, total, err := f.s.SearchRecords(ctx, other.ID, "transplants", 10, 0); err != nil || total != 1 || len(got) != 1 {
		t.Fatalf("after review: %d %d %v", len(got), total, err)
	}
}

// TestSearchRecordsManyMatches covers the capped count: past
// SearchCountLimit matches the total says "more", and pages still come
// newest first, beyond the cap too.
func TestSearchRecordsManyMatches(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	n := store.SearchCountLimit + 5
	list := make([]store.IngestRecord, 0, n)
	for i := range n {
		list = append(list, record(i+1, fmt.Sprintf("Common question %d about sleep", i), byte(i)))
	}
	if _, res, err := f.contribute(t, f.contributor, d.Slug, &recs{list: list}); err != nil || res.Accepted != int64(n) {
		t.Fatalf("contribute: %+v %v", res, err)
	}
	got, total, err := f.s.SearchRecords(ctx, d.ID, "sleep", 10, 0)
	if err != nil || total != store.SearchCountLimit+1 || len(got) != 10 {
		t.Fatalf("first page: %d records, total %d, %v", len(got), total, err)
	}
	if want := fmt.Sprintf("Common question %d about sleep", n-1); got[0].Fields["instruction"] != want {
		t.Fatalf("first match %q, want the newest %q", got[0].Fields["instruction"], want)
	}
	last, _, err := f.s.SearchRecords(ctx, d.ID, "sleep", 10, n-3)
	if err != nil || len(last) != 3 || last[2].Fields["instruction"] != "Common question 0 about sleep" {
		t.Fatalf("last page: %v %v", last, err)
	}
}
