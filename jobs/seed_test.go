package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

// TestSeedDemo runs the demo seeding on real River: three Datanets, one of
// each schema, filled through the real ingest and published as version 1;
// a second seed changes nothing.
func TestSeedDemo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	st := store.New(pool)
	blobs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	client, err := jobs.NewClient(pool, jobs.Deps{Store: st, Logger: slog.New(slog.DiscardHandler), Blobs: blobs},
		jobs.Config{Queues: []string{jobs.QueueDefault, jobs.QueueIngest}})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(context.Background())
	if _, err := client.Insert(ctx, jobs.SeedDemoArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	admin := store.Actor{Admin: true}
	var list []store.Datanet
	for {
		list, _, err = st.ListDatanets(ctx, admin, store.DatanetQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		done := len(list) == 3
		for _, d := range list {
			done = done && d.Versions == 1
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("demo not published in time: %+v", list)
		case <-time.After(300 * time.Millisecond):
		}
	}
	schemas := map[string]bool{}
	contributors := map[string]bool{}
	for _, d := range list {
		schemas[d.Schema] = true
		if d.Records < 5 {
			t.Errorf("%s has only %d records", d.Slug, d.Records)
		}
		lb, _ := st.Leaderboard(ctx, d.ID, 10)
		for _, s := range lb {
			contributors[s.Address] = true
		}
	}
	if len(schemas) != 3 || len(contributors) < 3 {
		t.Fatalf("schemas %v, contributors %d", schemas, len(contributors))
	}
	// Seeding again (a later start) adds nothing.
	res, err := client.Insert(ctx, jobs.SeedDemoArgs{}, nil)
	if err != nil || !res.UniqueSkippedAsDuplicate {
		t.Fatalf("second seed enqueued: %+v %v", res, err)
	}
}
