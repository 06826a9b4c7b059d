package jobs_test

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/modelfactory/modelfactory/store"
)

// BenchmarkCloseEpoch1M closes an epoch with 1,000,000 accounts on the
// real dev chain and PostgreSQL: settle, tree, every proof stored, root
// posted and confirmed. Reports seconds and the process's peak RSS.
//
//	go test -run '^$' -bench BenchmarkCloseEpoch1M -benchtime 1x ./jobs/
//
// MF_BENCH_ACCOUNTS overrides the count.
func BenchmarkCloseEpoch1M(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("MF_BENCH_ACCOUNTS")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		b.StopTimer()
		e := newChainEnvB(b)
		ctx := context.Background()
		// One entry per account, 1..n wei·1e9, addresses 0x…i.
		if _, err := e.st.Pool().Exec(ctx, `
			INSERT INTO reward_entries (account, amount, source, reference)
			SELECT '0x' || lpad(to_hex(i), 40, '0'), i::numeric * 1000000000, 'grant', 'bench'
			FROM generate_series(1, $1::int) i`, n); err != nil {
			b.Fatal(err)
		}
		r := e.rewards(1)
		r.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		b.StartTimer()
		start := time.Now()
		// The phases CloseEpoch runs, timed one by one; CloseEpoch then
		// resumes the built epoch exactly as after a restart.
		settled, err := r.Store.SettleEpoch(ctx)
		if err != nil {
			b.Fatal(err)
		}
		settleDone := time.Now()
		if err := r.BuildTree(ctx, settled.Epoch); err != nil {
			b.Fatal(err)
		}
		treeDone := time.Now()
		var ep *store.RewardEpoch
		for ep == nil || ep.Status != store.EpochFinal {
			var err error
			if ep, err = r.CloseEpoch(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if ep.AccountCount != int64(n) {
			b.Fatalf("accounts %d", ep.AccountCount)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/epoch")
		b.ReportMetric(settleDone.Sub(start).Seconds(), "s-settle")
		b.ReportMetric(treeDone.Sub(settleDone).Seconds(), "s-tree+proofs")
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
			b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
		}
	}
}
