// Package inference serves text generation from stored models: it loads a
// base model once and applies many LoRA adapters on top of it, unmerged, so
// a fine-tuned model costs only its adapter's memory. Loaded bases and
// adapters live in LRU caches under one memory budget; files come from
// object storage through catalog.Materialize into a local cache directory.
//
// Concurrency: a trainer.Model (and its gemm.Pool) serves one caller at a
// time, so each loaded base keeps a small pool of replicas — copies of the
// weights, each with its own GEMM pool and tokenizer — and a generation
// holds one replica for its duration. Two generations on the same base
// (say, the Playground's base and fine-tuned sides) run at once when there
// are two replicas; further ones wait for a free replica. Replicas cost one
// copy of the base weights each: cheap for the starter model (10 MB), a
// real cost for large imports, hence Options.Replicas. Adapters are shared
// read-only; a generation takes its own clone of the adapter's activation
// buffers (a LoRA carries scratch space), drawn from a per-adapter free
// list.
//
// It knows nothing of HTTP or of our SQL schema: callers describe a model
// by its files (Spec) and get text back through a callback.
package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/catalog"
	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

// Defaults for Options fields left zero.
const (
	DefaultMemoryBytes = 2 << 30
	DefaultReplicas    = 2
	DefaultMaxTokens   = 512
	// MaxTemperature bounds Request.Temperature; beyond it sampling is
	// indistinguishable from uniform noise.
	MaxTemperature = 5
)

// Options configure an Engine.
type Options struct {
	// Blobs is where model files are stored.
	Blobs blob.Store
	// CacheDir is the local cache root (<MF_DATA_DIR>/cache): bases are
	// materialized into CacheDir/models/<hash>/, adapters into
	// CacheDir/adapters/<hash>/ (hashes without 0x).
	CacheDir string
	// MemoryBytes is the budget for loaded bases (all replicas) and
	// adapters; idle entries are evicted least recently used first. Entries
	// in use are never evicted, so the budget can be exceeded while they
	// run. 0 means DefaultMemoryBytes.
	MemoryBytes int64
	// Replicas is how many generations on one base may run at once (each a
	// copy of its weights). 0 means DefaultReplicas.
	Replicas int
	// Threads is the GEMM threads of each replica; 0 means GOMAXPROCS
	// divided among the replicas (at least 1).
	Threads int
	// MaxTokens caps Request.MaxTokens; 0 means DefaultMaxTokens.
	MaxTokens int
}

// Files locate one stored model (a base, a merged full fine-tune or an
// adapter).
type Files struct {
	// Hash identifies the files (0x-prefixed hex, e.g. catalog.ContentHash
	// or an adapter hash); it names the cache entry and directory.
	Hash   string
	Prefix string // object-key prefix of the files
	Files  []catalog.File
}

func (f Files) validate(what string) error {
	h := strings.TrimPrefix(f.Hash, "0x")
	if h == "" || len(h) > 128 || strings.Trim(h, "0123456789abcdef") != "" {
		return fmt.Errorf("inference: %s hash %q is not lower-case hex", what, f.Hash)
	}
	if len(f.Files) == 0 {
		return fmt.Errorf("inference: %s %s has no files", what, f.Hash)
	}
	return nil
}

func (f Files) size() int64 {
	var n int64
	for _, x := range f.Files {
		n += x.Size
	}
	return n
}

// Spec is the model to generate with: a base (for a full fine-tune, its
// merged model) and optionally a LoRA adapter applied to it unmerged.
type Spec struct {
	Base    Files
	Adapter *Files
}

// Request is one generation.
type Request struct {
	Prompt      string
	MaxTokens   int
	Temperature float64 // 0: greedy
	TopP        float64 // nucleus cut in (0,1]
	Seed        uint64  // same seed, same model, same request: same text
	// Stop sequences end the text (not included); <|endoftext|> always
	// stops.
	Stop []string
}

// FieldError is bad input in one request field; callers show it next to
// that field (the HTTP layer answers 400 naming it).
type FieldError struct {
	Field   string // "prompt", "maxTokens", "temperature", "topP"
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ErrTooLarge reports a model bigger than the whole memory budget.
var ErrTooLarge = errors.New("inference: model does not fit the memory budget")

// ErrClosed reports use of a closed engine.
var ErrClosed = errors.New("inference: engine closed")

// Validate checks a request's fields against the engine's token cap.
func (r *Request) Validate(maxTokens int) error {
	switch {
	case strings.TrimSpace(r.Prompt) == "":
		return &FieldError{"prompt", "Write a prompt for the model to continue."}
	case r.MaxTokens <= 0 || r.MaxTokens > maxTokens:
		return &FieldError{"maxTokens", fmt.Sprintf("Max tokens must be between 1 and %d.", maxTokens)}
	case math.IsNaN(r.Temperature) || r.Temperature < 0 || r.Temperature > MaxTemperature:
		return &FieldError{"temperature", fmt.Sprintf("Temperature must be between 0 (greedy) and %d.", MaxTemperature)}
	case math.IsNaN(r.TopP) || r.TopP <= 0 || r.TopP > 1:
		return &FieldError{"topP", "Top-p must be greater than 0 and at most 1."}
	}
	return nil
}

// Result is a finished (or cancelled) generation with its timings.
type Result struct {
	Text         string
	Tokens       int // generated tokens
	PromptTokens int
	// FinishReason is "eos", "stop", "length" or "cancelled".
	FinishReason string
	// TimeToFirstToken is from the call to the first streamed text,
	// including any queueing and loading; zero when nothing was streamed.
	TimeToFirstToken time.Duration
	// Duration is the whole call.
	Duration time.Duration
	// Load is the time spent materializing and loading files for this
	// call (zero when everything was cached).
	Load time.Duration
	// Queue is the time spent waiting for a free replica.
	Queue time.Duration
}

// TokensPerSecond is the decoding rate after the first token.
func (r *Result) TokensPerSecond() float64 {
	d := r.Duration - r.TimeToFirstToken
	if r.Tokens < 2 || d <= 0 {
		return 0
	}
	return float64(r.Tokens-1) / d.Seconds()
}

// Engine generates text. It is safe for concurrent use.
type Engine struct {
	opts  Options
	cache *lru
}

// New returns an engine; nothing is loaded until the first generation.
func New(opts Options) (*Engine, error) {
	if opts.Blobs == nil || opts.CacheDir == "" {
		return nil, errors.New("inference: Blobs and CacheDir are required")
	}
	if opts.MemoryBytes <= 0 {
		opts.MemoryBytes = DefaultMemoryBytes
	}
	if opts.Replicas <= 0 {
		opts.Replicas = DefaultReplicas
	}
	if opts.Threads <= 0 {
		opts.Threads = max(1, runtime.GOMAXPROCS(0)/opts.Replicas)
	}
	if opts.MaxTokens <= 0 {
		opts.MaxTokens = DefaultMaxTokens
	}
	return &Engine{opts: opts, cache: newLRU(opts.MemoryBytes)}, nil
}

// MaxTokens is the largest Request.MaxTokens the engine accepts.
func (e *Engine) MaxTokens() int { return e.opts.MaxTokens }

// Close frees every idle model; models in use are freed when their
// generations end. Generations started afterwards fail with ErrClosed.
func (e *Engine) Close() { e.cache.close() }

// Stats describe what is loaded.
type Stats struct {
	Bases, Adapters int
	UsedBytes       int64
	Loads           int64 // loads since start (cache misses)
	Evictions       int64
}

// Stats reports the cache's state.
func (e *Engine) Stats() Stats { return e.cache.stats() }

// base is a loaded base model: its shape and its replicas.
type base struct {
	cfg      trainer.Config
	replicas chan *replica
	all      []*replica
}

// replica is one copy of a base's weights that one generation uses at a
// time, with its own GEMM pool and tokenizer (whose word cache is not
// concurrency-safe).
type replica struct {
	model *trainer.Model
	tok   *tokenizer.Tokenizer
	pool  *gemm.Pool
}

func (b *base) close() {
	for _, r := range b.all {
		r.pool.Close()
	}
}

// adapter is a loaded LoRA adapter and spare clones of it: a LoRA keeps
// activation scratch, so two generations cannot share one.
type adapter struct {
	cfg    trainer.Config
	master *trainer.LoRA
	mu     sync.Mutex
	free   []*trainer.LoRA
}

func (a *adapter) get() (*trainer.LoRA, error) {
	a.mu.Lock()
	if n := len(a.free); n > 0 {
		lo := a.free[n-1]
		a.free = a.free[:n-1]
		a.mu.Unlock()
		return lo, nil
	}
	a.mu.Unlock()
	lo, err := trainer.NewLoRA(a.cfg, a.master.Config, 0)
	if err != nil {
		return nil, fmt.Errorf("inference: clone adapter: %w", err)
	}
	copy(lo.Params, a.master.Params)
	return lo, nil
}

func (a *adapter) put(lo *trainer.LoRA) {
	a.mu.Lock()
	a.free = append(a.free, lo)
	a.mu.Unlock()
}

func hexName(hash string) string { return strings.TrimPrefix(hash, "0x") }

// loadBase materializes and loads a base model with its replicas.
func (e *Engine) loadBase(ctx context.Context, f Files) (any, int64, func(), error) {
	dir := filepath.Join(e.opts.CacheDir, "models", hexName(f.Hash))
	if err := catalog.Materialize(ctx, e.opts.Blobs, f.Prefix, f.Files, dir); err != nil {
		return nil, 0, nil, fmt.Errorf("inference: base %s: %w", f.Hash, err)
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("inference: base %s: %w", f.Hash, err)
	}
	b := &base{replicas: make(chan *replica, e.opts.Replicas)}
	var first *trainer.Model
	for i := 0; i < e.opts.Replicas; i++ {
		pool := gemm.NewPool(e.opts.Threads)
		var m *trainer.Model
		if first == nil {
			m, err = trainer.LoadModel(dir, pool)
			first = m
		} else if m, err = trainer.NewModel(first.Config, pool); err == nil {
			copy(m.Params, first.Params)
		}
		if err != nil {
			pool.Close()
			b.close()
			return nil, 0, nil, fmt.Errorf("inference: base %s: %w", f.Hash, err)
		}
		r := &replica{model: m, tok: tok.Clone(), pool: pool}
		b.all = append(b.all, r)
		b.replicas <- r
	}
	b.cfg = first.Config
	if tok.VocabSize() > b.cfg.VocabSize {
		b.close()
		return nil, 0, nil, fmt.Errorf("inference: base %s: tokenizer has %d tokens, model only %d", f.Hash, tok.VocabSize(), b.cfg.VocabSize)
	}
	size := int64(len(first.Params)) * 4 * int64(e.opts.Replicas)
	return b, size, b.close, nil
}

// loadAdapter materializes and loads a LoRA adapter for a base of shape cfg.
func (e *Engine) loadAdapter(ctx context.Context, f Files, cfg trainer.Config) (any, int64, func(), error) {
	dir := filepath.Join(e.opts.CacheDir, "adapters", hexName(f.Hash))
	if err := catalog.Materialize(ctx, e.opts.Blobs, f.Prefix, f.Files, dir); err != nil {
		return nil, 0, nil, fmt.Errorf("inference: adapter %s: %w", f.Hash, err)
	}
	lo, err := trainer.LoadAdapter(dir, cfg)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("inference: adapter %s: %w", f.Hash, err)
	}
	// The master and up to one clone per replica.
	size := int64(len(lo.Params)) * 4 * int64(1+e.opts.Replicas)
	return &adapter{cfg: cfg, master: lo}, size, nil, nil
}

// Preload loads a base model ahead of its first request, so that request
// does not pay for the download and load. It is an ordinary cache entry:
// it may be evicted like any other.
func (e *Engine) Preload(ctx context.Context, base Files) error {
	if err := base.validate("base"); err != nil {
		return err
	}
	en, _, err := e.acquireBase(ctx, base)
	if err != nil {
		return err
	}
	e.cache.release(en)
	return nil
}

func (e *Engine) acquireBase(ctx context.Context, base Files) (*entry, bool, error) {
	return e.cache.acquire(ctx, "base:"+base.Hash, base.size()*int64(e.opts.Replicas),
		func(ctx context.Context) (any, int64, func(), error) { return e.loadBase(ctx, base) })
}

// Generate runs req on the model of spec, calling onText with each piece
// of text as it becomes final (onText may be nil; an error from it stops
// generation and is returned). Bad input is a *FieldError. When ctx ends
// mid-generation the partial result is returned with ctx's error.
func (e *Engine) Generate(ctx context.Context, spec Spec, req Request, onText func(string) error) (*Result, error) {
	start := time.Now()
	if err := req.Validate(e.opts.MaxTokens); err != nil {
		return nil, err
	}
	if err := spec.Base.validate("base"); err != nil {
		return nil, err
	}
	if spec.Adapter != nil {
		if err := spec.Adapter.validate("adapter"); err != nil {
			return nil, err
		}
	}
	res := &Result{}
	be, loaded, err := e.acquireBase(ctx, spec.Base)
	if err != nil {
		return nil, err
	}
	defer e.cache.release(be)
	b := be.value.(*base)
	if loaded {
		res.Load = time.Since(start)
	}
	var ad *adapter
	if spec.Adapter != nil {
		t := time.Now()
		key := "adapter:" + spec.Base.Hash + ":" + spec.Adapter.Hash
		ae, loaded, err := e.cache.acquire(ctx, key, spec.Adapter.size()*int64(1+e.opts.Replicas),
			func(ctx context.Context) (any, int64, func(), error) { return e.loadAdapter(ctx, *spec.Adapter, b.cfg) })
		if err != nil {
			return nil, err
		}
		defer e.cache.release(ae)
		ad = ae.value.(*adapter)
		if loaded {
			res.Load += time.Since(t)
		}
	}

	t := time.Now()
	var rep *replica
	select {
	case rep = <-b.replicas:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { b.replicas <- rep }()
	res.Queue = time.Since(t)

	ids := rep.tok.Encode(req.Prompt)
	res.PromptTokens = len(ids)
	if len(ids) >= b.cfg.MaxSeqLen {
		return nil, &FieldError{"prompt", fmt.Sprintf("The prompt is %d tokens long; this model reads at most %d, and needs room to answer. Shorten it.", len(ids), b.cfg.MaxSeqLen-1)}
	}
	if ad != nil {
		lo, err := ad.get()
		if err != nil {
			return nil, err
		}
		rep.model.LoRA = lo
		defer func() {
			rep.model.LoRA = nil
			ad.put(lo)
		}()
	}
	opts := trainer.GenerateOptions{MaxTokens: req.MaxTokens, Temperature: req.Temperature, TopP: req.TopP,
		Seed: req.Seed, Stop: append(append([]string(nil), req.Stop...), tokenizer.EndOfText)}
	// The trainer streams raw bytes; a stray invalid byte reaches the
	// client as U+FFFD, and the result is exactly what was streamed.
	var text strings.Builder
	g, err := trainer.Generate(ctx, rep.model, rep.tok, req.Prompt, opts, func(s string) error {
		if res.TimeToFirstToken == 0 {
			res.TimeToFirstToken = time.Since(start)
		}
		s = strings.ToValidUTF8(s, "\uFFFD")
		text.WriteString(s)
		if onText == nil {
			return nil
		}
		return onText(s)
	})
	res.Duration = time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("inference: generate: %w", err)
	}
	res.Text, res.Tokens, res.FinishReason = text.String(), len(g.Tokens), g.FinishReason
	if g.FinishReason == "cancelled" {
		return res, ctx.Err()
	}
	return res, nil
}
