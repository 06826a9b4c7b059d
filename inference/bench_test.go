package inference_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/inference"
	"github.com/modelfactory/modelfactory/inference/inferencetest"
	"github.com/modelfactory/modelfactory/trainer"
)

// starterFixture stores a model of the starter model's shape (4 layers,
// 192 wide, 4,096-token BPE, 128 context) with random weights — pretraining
// the real one takes minutes — and a rank-4 adapter for it. Timing depends
// on the shape, not on the weights; the synthetic tokenizer splits English
// into about twice as many tokens as a real one, so the prompt's forward
// pass is longer than it would be. MF_STARTER_MODEL_DIR=<dir> uses the
// real starter model instead.
func starterFixture(b *testing.B) (blob.Store, inference.Files, inference.Files) {
	b.Helper()
	ctx := context.Background()
	blobs, err := blob.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	src := b.TempDir()
	cfg := inferencetest.StarterShape
	baseDir := filepath.Join(src, "base")
	if dir := os.Getenv("MF_STARTER_MODEL_DIR"); dir != "" {
		// The real pretrained starter model (trainer.EnsureStarterModel's
		// directory), when someone has it at hand.
		if !trainer.IsModelDir(dir) {
			b.Fatalf("MF_STARTER_MODEL_DIR %s holds no model", dir)
		}
		baseDir = dir
	} else if err := inferencetest.WriteBase(baseDir, cfg, 1); err != nil {
		b.Fatal(err)
	}
	if err := inferencetest.WriteAdapter(filepath.Join(src, "adapter"), cfg, 2); err != nil {
		b.Fatal(err)
	}
	base, err := inferencetest.Upload(ctx, blobs, "models/base/starter", baseDir)
	if err != nil {
		b.Fatal(err)
	}
	ad, err := inferencetest.Upload(ctx, blobs, "models/ft/bench/adapter", filepath.Join(src, "adapter"))
	if err != nil {
		b.Fatal(err)
	}
	return blobs, base, ad
}

// benchPrompt is a Playground-sized instruction prompt.
var benchPrompt = trainer.InstructionPrompt("Explain what a goroutine is and when a program should use a channel instead of a mutex.", "")

var errFirst = errors.New("first token")

// firstToken generates until the first streamed text and returns the
// time to first token.
func firstToken(b *testing.B, e *inference.Engine, spec inference.Spec) time.Duration {
	req := inference.Request{Prompt: benchPrompt, MaxTokens: 64, Temperature: 0.8, TopP: 0.95, Seed: 1}
	start := time.Now()
	var ttft time.Duration
	_, err := e.Generate(context.Background(), spec, req, func(string) error {
		ttft = time.Since(start)
		return errFirst
	})
	if !errors.Is(err, errFirst) {
		b.Fatalf("generate: %v", err)
	}
	return ttft
}

// BenchmarkTimeToFirstToken measures the Playground's time to first token
// with the model already loaded: tokenizing the prompt, the prompt's
// forward pass, sampling and streaming the first text. "base" is the model
// alone, "adapter" a LoRA applied unmerged.
func BenchmarkTimeToFirstToken(b *testing.B) {
	blobs, base, ad := starterFixture(b)
	e, err := inference.New(inference.Options{Blobs: blobs, CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for _, c := range []struct {
		name string
		spec inference.Spec
	}{{"base", inference.Spec{Base: base}}, {"adapter", inference.Spec{Base: base, Adapter: &ad}}} {
		b.Run(c.name, func(b *testing.B) {
			firstToken(b, e, c.spec) // load outside the timing
			var total time.Duration
			for b.Loop() {
				total += firstToken(b, e, c.spec)
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ttft-ms")
		})
	}
}

// BenchmarkTimeToFirstTokenCold measures a first request on a fresh engine:
// "download" materializes the files from object storage into an empty
// cache directory, then loads; "disk" finds them already cached (hashes
// are verified) and loads.
func BenchmarkTimeToFirstTokenCold(b *testing.B) {
	blobs, base, ad := starterFixture(b)
	spec := inference.Spec{Base: base, Adapter: &ad}
	warm := b.TempDir()
	for _, c := range []struct {
		name  string
		cache func() string
	}{{"download", func() string { return b.TempDir() }}, {"disk", func() string { return warm }}} {
		b.Run(c.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				e, err := inference.New(inference.Options{Blobs: blobs, CacheDir: c.cache()})
				if err != nil {
					b.Fatal(err)
				}
				total += firstToken(b, e, spec)
				e.Close()
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ttft-ms")
		})
	}
}

// BenchmarkDecode measures the generation rate after the first token for
// the starter shape with an adapter (greedy, 96 tokens: the context left
// after the prompt).
func BenchmarkDecode(b *testing.B) {
	blobs, base, ad := starterFixture(b)
	e, err := inference.New(inference.Options{Blobs: blobs, CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	spec := inference.Spec{Base: base, Adapter: &ad}
	req := inference.Request{Prompt: "The package", MaxTokens: 96, TopP: 1}
	var tokens int
	var secs float64
	for b.Loop() {
		res, err := e.Generate(context.Background(), spec, req, nil)
		if err != nil {
			b.Fatal(err)
		}
		tokens += res.Tokens - 1
		secs += (res.Duration - res.TimeToFirstToken).Seconds()
	}
	b.ReportMetric(float64(tokens)/secs, "tokens/s")
}
