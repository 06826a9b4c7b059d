package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/modelfactory/modelfactory/store"
)

// BenchmarkFinetuneLaunchToFirstProgress measures the path from Launch
// (the run and its River job inserted in one transaction) to the first
// progress event in finetune_events, with an idle worker: River picks the
// job up, the worker claims the run, re-checks access, materialises the
// base model (cached after the first run), exports the data and the
// trainer reports step 1. Run with -benchtime=5x: ms/first-progress is the
// mean over the launches, first-ms the first one (empty model cache).
func BenchmarkFinetuneLaunchToFirstProgress(b *testing.B) {
	e := newFTEnv(b)
	_, v := seedVersion(b, e.st, e.owner, "Bench notes", store.VisibilityPublic, 300)
	c := e.client(b, "bench", FinetuneConfig{}, true)
	ctx := context.Background()
	var total time.Duration
	var first time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		run := e.launch(b, c, e.owner, []int64{v.ID}, func(s *store.FinetuneSettings) { s.MaxSteps = 5; s.EvalEvery = 0; s.EarlyStoppingPatience = 0 })
		for {
			evs, err := e.st.FinetuneEvents(ctx, run.ID, 0, []string{store.EventProgress}, 1)
			if err != nil {
				b.Fatal(err)
			}
			if len(evs) > 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		d := time.Since(start)
		total += d
		if i == 0 {
			first = d
		}
		b.StopTimer()
		e.waitRun(b, run.ID, "end", func(r *store.FinetuneRun) bool { return r.Final() }) // the worker is idle again
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/first-progress")
	b.ReportMetric(float64(first.Milliseconds()), "first-ms")
}
