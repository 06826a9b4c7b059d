package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/ingest"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

// dyingBlobs hands out uploads that "kill the worker" — cancel its context —
// once a given number of bytes has been read.
type dyingBlobs struct {
	blob.Store
	after  int64
	cancel context.CancelFunc
}

func (d *dyingBlobs) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	rc, info, err := d.Store.Get(ctx, key)
	if err != nil {
		return nil, info, err
	}
	return &dyingReader{ReadCloser: rc, left: d.after, cancel: d.cancel}, info, nil
}

type dyingReader struct {
	io.ReadCloser
	left   int64
	cancel context.CancelFunc
}

func (r *dyingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		r.cancel()
		return 0, context.Canceled
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.ReadCloser.Read(p)
	r.left -= int64(n)
	return n, err
}

// TestIngestKilledMidFileThenRerun: a worker killed halfway through a file
// leaves no records; the retry produces exactly the file's records, once.
func TestIngestKilledMidFileThenRerun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(pgtest.New(t))
	local, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := st.UpsertUser(ctx, "0x00000000000000000000000000000000000000aa")
	a := store.Actor{UserID: owner.ID, Address: owner.Address}
	d, err := st.CreateDatanet(ctx, a, store.DatanetInput{Name: "Kill test", License: "MIT", Schema: store.SchemaInstruction,
		Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyOpen})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PublishDatanet(ctx, a, d.Slug); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	const rows = 3000
	for i := range rows {
		fmt.Fprintf(&b, `{"instruction":"Question number %d about harbours?","response":"Answer %d: pilots, tugs and %d berths."}`+"\n", i, i, i*7)
	}
	key, sum, size, err := blob.PutContent(ctx, local, "uploads/", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateContribution(ctx, a, d.Slug, store.ContributionInput{Source: "file", Filename: "h.jsonl", BlobKey: key, SHA256: sum, SizeBytes: size},
		func(context.Context, pgx.Tx, int64) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	job := &river.Job[IngestArgs]{Args: IngestArgs{ContributionID: c.ID}}
	log := slog.New(slog.DiscardHandler)

	killCtx, kill := context.WithCancel(ctx)
	dying := &IngestWorker{store: st, blobs: &dyingBlobs{Store: local, after: size / 2, cancel: kill}, limits: ingest.DefaultLimits(), log: log}
	if err := dying.Work(killCtx, job); err == nil {
		t.Fatal("killed worker reported success")
	}
	if got, _ := st.DatanetBySlug(ctx, d.Slug); got.Records != 0 {
		t.Fatalf("%d records visible after a kill", got.Records)
	}
	if got, _ := st.ContributionByID(ctx, c.ID); got.Status != store.ContribProcessing {
		t.Fatalf("status after kill = %s, want processing (River retries it)", got.Status)
	}

	retry := &IngestWorker{store: st, blobs: local, limits: ingest.DefaultLimits(), log: log}
	if err := retry.Work(ctx, job); err != nil {
		t.Fatal(err)
	}
	got, _ := st.ContributionByID(ctx, c.ID)
	if got.Status != store.ContribAccepted || got.Accepted != rows || got.Duplicates != 0 {
		t.Fatalf("after retry: %+v", got)
	}
	if dn, _ := st.DatanetBySlug(ctx, d.Slug); dn.Records != rows {
		t.Fatalf("records = %d, want %d", dn.Records, rows)
	}
	if got.Indexing {
		t.Fatal("records not indexed after the run (outside River the worker indexes after the commit)")
	}
	if recs, n, err := st.SearchRecords(ctx, d.ID, `"20993 berths"`, 5, 0); err != nil || n != 1 || len(recs) != 1 {
		t.Fatalf("search after the retry = %d, %v", n, err)
	}
	// A duplicate delivery of the job changes nothing.
	if err := retry.Work(ctx, job); err != nil {
		t.Fatal(err)
	}
	if dn, _ := st.DatanetBySlug(ctx, d.Slug); dn.Records != rows {
		t.Fatalf("records after a second run = %d", dn.Records)
	}
}
