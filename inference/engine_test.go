package inference_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/inference"
	"github.com/modelfactory/modelfactory/inference/inferencetest"
)

// fixture is object storage holding two tiny bases and two adapters of the
// first.
type fixture struct {
	blobs        blob.Store
	base, base2  inference.Files
	adapterA     inference.Files
	adapterB     inference.Files
	cacheDirRoot string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	blobs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{blobs: blobs, cacheDirRoot: t.TempDir()}
	src := t.TempDir()
	cfg := inferencetest.TinyConfig
	for _, x := range []struct {
		dst   *inference.Files
		name  string
		write func(dir string) error
	}{
		{&f.base, "models/base/tiny", func(d string) error { return inferencetest.WriteBase(d, cfg, 1) }},
		{&f.base2, "models/base/tiny2", func(d string) error { return inferencetest.WriteBase(d, cfg, 2) }},
		{&f.adapterA, "models/ft/a/adapter", func(d string) error { return inferencetest.WriteAdapter(d, cfg, 3) }},
		{&f.adapterB, "models/ft/b/adapter", func(d string) error { return inferencetest.WriteAdapter(d, cfg, 4) }},
	} {
		dir := filepath.Join(src, strings.ReplaceAll(x.name, "/", "_"))
		if err := x.write(dir); err != nil {
			t.Fatal(err)
		}
		if *x.dst, err = inferencetest.Upload(ctx, blobs, x.name, dir); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) engine(t testing.TB, o inference.Options) *inference.Engine {
	t.Helper()
	o.Blobs, o.CacheDir = f.blobs, f.cacheDirRoot
	e, err := inference.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func greedy(prompt string, n int) inference.Request {
	return inference.Request{Prompt: prompt, MaxTokens: n, Temperature: 0, TopP: 1}
}

func gen(t *testing.T, e *inference.Engine, spec inference.Spec, req inference.Request) *inference.Result {
	t.Helper()
	var streamed strings.Builder
	res, err := e.Generate(context.Background(), spec, req, func(s string) error {
		streamed.WriteString(s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if streamed.String() != res.Text {
		t.Fatalf("streamed %q, result %q", streamed.String(), res.Text)
	}
	return res
}

func TestAdapterChangesOutputAndBaseIsShared(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.engine(t, inference.Options{})
	req := greedy("ta eo hn", 20)
	base := gen(t, e, inference.Spec{Base: f.base}, req)
	a := gen(t, e, inference.Spec{Base: f.base, Adapter: &f.adapterA}, req)
	b := gen(t, e, inference.Spec{Base: f.base, Adapter: &f.adapterB}, req)
	if base.Tokens == 0 || a.Tokens == 0 || b.Tokens == 0 {
		t.Fatalf("no tokens: base %+v a %+v b %+v", base, a, b)
	}
	if base.Text == a.Text || a.Text == b.Text || base.Text == b.Text {
		t.Fatalf("adapters do not change the text: base %q, a %q, b %q", base.Text, a.Text, b.Text)
	}
	// Unmerged: the base after adapters is the base as before.
	if again := gen(t, e, inference.Spec{Base: f.base}, req); again.Text != base.Text {
		t.Fatalf("base changed after serving adapters: %q then %q", base.Text, again.Text)
	}
	st := e.Stats()
	if st.Bases != 1 || st.Adapters != 2 || st.Loads != 3 {
		t.Fatalf("stats = %+v, want one base loaded once and two adapters", st)
	}
	if base.PromptTokens == 0 || base.TimeToFirstToken <= 0 || base.Duration < base.TimeToFirstToken || base.Load <= 0 {
		t.Fatalf("timings of the first (loading) call: %+v", base)
	}
	if again := gen(t, e, inference.Spec{Base: f.base}, req); again.Load != 0 {
		t.Fatalf("cached call reports a load of %v", again.Load)
	}
}

func TestPreloadMakesTheFirstRequestCached(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.engine(t, inference.Options{})
	if err := e.Preload(context.Background(), f.base); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Bases != 1 || st.Loads != 1 {
		t.Fatalf("after preload: %+v", st)
	}
	if res := gen(t, e, inference.Spec{Base: f.base}, greedy("ta", 4)); res.Load != 0 {
		t.Fatalf("first request after preload loaded for %v", res.Load)
	}
}

func TestSameSeedSameText(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.engine(t, inference.Options{})
	spec := inference.Spec{Base: f.base, Adapter: &f.adapterA}
	req := inference.Request{Prompt: "ta eo", MaxTokens: 30, Temperature: 1, TopP: 0.95, Seed: 42}
	one, two := gen(t, e, spec, req), gen(t, e, spec, req)
	if one.Text != two.Text || one.Tokens != two.Tokens {
		t.Fatalf("same seed, different text: %q vs %q", one.Text, two.Text)
	}
	req.Seed = 43
	if other := gen(t, e, spec, req); other.Text == one.Text {
		t.Fatalf("different seeds gave the same %d-token text %q", one.Tokens, one.Text)
	}
}

func TestConcurrentAdaptersOnOneBase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.engine(t, inference.Options{Replicas: 2})
	specs := []inference.Spec{{Base: f.base}, {Base: f.base, Adapter: &f.adapterA}, {Base: f.base, Adapter: &f.adapterB}}
	req := greedy("sh rd lc", 24)
	want := make([]string, len(specs))
	for i, s := range specs {
		want[i] = gen(t, e, s, req).Text
	}
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := 0; i < 12; i++ {
		wg.Go(func() {
			k := i % len(specs)
			res, err := e.Generate(context.Background(), specs[k], req, nil)
			switch {
			case err != nil:
				errs <- err
			case res.Text != want[k]:
				errs <- fmt.Errorf("request %d (spec %d): %q, alone it was %q", i, k, res.Text, want[k])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := e.Stats(); st.Loads != 3 {
		t.Fatalf("loads = %d, want 3 (one base, two adapters)", st.Loads)
	}
}

func TestCancellation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.engine(t, inference.Options{Replicas: 1})
	spec := inference.Spec{Base: f.base, Adapter: &f.adapterA}

	// The client goes away after the first text: generation stops there.
	ctx, cancel := context.WithCancel(context.Background())
	chunks := 0
	res, err := e.Generate(ctx, spec, greedy("ta", 50), func(string) error {
		chunks++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || res == nil || res.FinishReason != "cancelled" || res.Tokens >= 50 || chunks != 1 {
		t.Fatalf("after cancel: err %v, result %+v, %d chunks", err, res, chunks)
	}

	// A request waiting for the only replica gives up with its context.
	hold, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := e.Generate(context.Background(), spec, greedy("ta", 50), func(string) error {
			select {
			case <-hold:
			default:
				close(hold)
				<-release
			}
			return nil
		})
		done <- err
	}()
	<-hold
	wctx, wcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer wcancel()
	if _, err := e.Generate(wctx, inference.Spec{Base: f.base}, greedy("ta", 5), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting request: err %v, want deadline exceeded", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// And a callback error stops generation and comes back.
	boom := errors.New("client gone")
	if _, err := e.Generate(context.Background(), spec, greedy("ta", 50), func(string) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("callback error: %v", err)
	}
}

func TestLRUEvictionUnderBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := inferencetest.TinyConfig
	one := int64(cfg.NumParams()) * 4 * 2 // two replicas
	// Room for one base and its adapters, not for two bases.
	e := f.engine(t, inference.Options{Replicas: 2, MemoryBytes: one + one/2})
	req := greedy("ta", 5)
	first := gen(t, e, inference.Spec{Base: f.base}, req)
	gen(t, e, inference.Spec{Base: f.base2}, req)
	st := e.Stats()
	if st.Bases != 1 || st.Evictions != 1 || st.UsedBytes > one+one/2 {
		t.Fatalf("after a second base: %+v, want the first evicted", st)
	}
	// The evicted base loads again and still gives the same text.
	if again := gen(t, e, inference.Spec{Base: f.base}, req); again.Text != first.Text || again.Load == 0 {
		t.Fatalf("reloaded base: %+v (first %q)", again, first.Text)
	}
	if st := e.Stats(); st.Loads != 3 || st.Evictions != 2 {
		t.Fatalf("stats %+v, want 3 loads and 2 evictions", st)
	}

	small := f.engine(t, inference.Options{MemoryBytes: 1 << 10})
	if _, err := small.Generate(context.Background(), inference.Spec{Base: f.base}, req, nil); !errors.Is(err, inference.ErrTooLarge) {
		t.Fatalf("model over the budget: %v", err)
	}
}

func TestBadRequestsNameTheField(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.engine(t, inference.Options{MaxTokens: 100})
	ok := greedy("ta", 5)
	long := strings.Repeat("ta eo hn sh ", 100)
	for _, c := range []struct {
		field string
		edit  func(r *inference.Request)
	}{
		{"prompt", func(r *inference.Request) { r.Prompt = "  " }},
		{"prompt", func(r *inference.Request) { r.Prompt = long }},
		{"maxTokens", func(r *inference.Request) { r.MaxTokens = 0 }},
		{"maxTokens", func(r *inference.Request) { r.MaxTokens = 101 }},
		{"temperature", func(r *inference.Request) { r.Temperature = -0.1 }},
		{"topP", func(r *inference.Request) { r.TopP = 0 }},
		{"topP", func(r *inference.Request) { r.TopP = 1.5 }},
	} {
		req := ok
		c.edit(&req)
		_, err := e.Generate(context.Background(), inference.Spec{Base: f.base}, req, nil)
		var fe *inference.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || fe.Message == "" {
			t.Errorf("%+v: err %v, want a field error on %s", req.MaxTokens, err, c.field)
		}
	}
	bad := f.base
	bad.Hash = "../../etc"
	if _, err := e.Generate(context.Background(), inference.Spec{Base: bad}, ok, nil); err == nil {
		t.Fatal("a hash that is a path was accepted")
	}
}
