package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestParseQueues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"default", 1, false},
		{"train_gpu, default,default", 2, false},
		{"", 0, true},
		{"gpu", 0, true},
	} {
		got, err := jobs.ParseQueues(tc.in)
		if (err != nil) != tc.wantErr || len(got) != tc.want {
			t.Errorf("ParseQueues(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// TestCleanupRunsOnRealRiver starts a real River client on a real database:
// the periodic cleanup runs on start and removes expired rows, and
// completes twice without harm when inserted again.
func TestCleanupRunsOnRealRiver(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	st := store.New(pool)
	if _, err := st.CreateNonce(ctx, "stale0000000", -time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateNonce(ctx, "fresh0000000", time.Hour); err != nil {
		t.Fatal(err)
	}
	client, err := jobs.NewClient(pool, jobs.Deps{Store: st, Logger: slog.New(slog.DiscardHandler)},
		jobs.Config{Queues: []string{jobs.QueueDefault}})
	if err != nil {
		t.Fatal(err)
	}
	events, stop := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer stop()
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(context.Background())

	select {
	case ev := <-events:
		if ev.Job.State != rivertype.JobStateCompleted || ev.Job.Kind != "cleanup_expired" {
			t.Fatalf("job %s ended %s", ev.Job.Kind, ev.Job.State)
		}
	case <-ctx.Done():
		t.Fatal("cleanup job did not run")
	}
	if ok, _ := st.ConsumeNonce(ctx, "fresh0000000"); !ok {
		t.Fatal("cleanup removed a live nonce")
	}
	n, _ := st.DeleteExpired(ctx)
	if n != 0 {
		t.Fatalf("cleanup left %d expired rows", n)
	}
	// A second insert inside the uniqueness window is skipped rather than
	// doubling the work.
	res, err := client.Insert(ctx, jobs.CleanupArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.UniqueSkippedAsDuplicate {
		t.Fatal("duplicate cleanup job was enqueued")
	}
}
