package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

// BenchmarkLeaseNext50 measures the next-item lease under concurrency: in
// each round 50 labelers ask for their next item at the same moment (then
// submit it), on one project of 3,000 items with overlap 3. It checks the
// 50 leases of a round are distinct and reports the latency of NextLabelItem
// (p50, p95, max over every call after a first, untimed round). Run:
//
//	go test ./store -run '^$' -bench BenchmarkLeaseNext50 -benchtime 40x
func BenchmarkLeaseNext50(b *testing.B) {
	labelers, items := benchSize("MF_BENCH_LABELERS", 50), 3000
	cfg, err := pgxpool.ParseConfig(pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	// The server's pool, as store.Open makes it: pgxpool's default size,
	// max(4, CPUs) — 4 here. MF_BENCH_CONNS overrides it (one connection
	// per labeler puts 50 PostgreSQL backends on 2 cores: slower).
	if n := benchSize("MF_BENCH_CONNS", 0); n > 0 {
		cfg.MaxConns = int32(n)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	f := newLabelFixtureOn(b, store.New(pool), items)
	p := f.project(b, store.LabelProjectInput{Task: store.TaskRate, Overlap: 3})
	ls := f.labelers(b, labelers)
	ctx := context.Background()
	// One round runs before the timed ones: each of the pool's connections
	// prepares the statements and PostgreSQL builds their plans and warms
	// its catalog caches on first use. That cold round is reported apart
	// (cold-max-ms): a server pays it once per connection, not per lease.
	var lat []time.Duration
	var mu sync.Mutex
	round := func() {
		start := make(chan struct{})
		var wg sync.WaitGroup
		tokens := make([]string, labelers)
		items := make([]int64, labelers)
		for i, a := range ls {
			wg.Go(func() {
				<-start
				t0 := time.Now()
				l, err := f.s.NextLabelItem(ctx, a, p.ID)
				d := time.Since(t0)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				tokens[i], items[i] = l.Token, l.ItemID
			})
		}
		close(start)
		wg.Wait()
		// The labels come in after the burst (people take seconds to
		// answer), so the next round leases other slots.
		for i, a := range ls {
			wg.Go(func() {
				if _, err := f.s.SubmitLabel(ctx, a, items[i], tokens[i], store.LabelValue{Rating: 3}); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		slices.Sort(tokens)
		if len(slices.Compact(tokens)) != labelers {
			b.Fatal("two labelers got the same lease")
		}
	}
	round()
	cold := slices.Max(lat)
	lat = lat[:0]
	for b.Loop() {
		round()
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.95), "p95-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(len(lat)), "leases")
	b.ReportMetric(float64(cold.Microseconds())/1000, "cold-max-ms")
}
