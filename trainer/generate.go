package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

// GenerateOptions control sampling. Temperature 0 means greedy decoding.
type GenerateOptions struct {
	MaxTokens   int      `json:"max_tokens"`
	Temperature float64  `json:"temperature"`
	TopK        int      `json:"top_k"` // 0: no limit
	TopP        float64  `json:"top_p"` // 0 or 1: no nucleus cut
	Stop        []string `json:"stop"`
	Seed        uint64   `json:"seed"`
}

// Generation is the result of Generate.
type Generation struct {
	Text         string
	Tokens       []int
	PromptTokens int
	// FinishReason is "eos" (end-of-text token), "stop" (a stop sequence),
	// "length" (MaxTokens or the context is full) or "cancelled".
	FinishReason string
}

// kvCache holds keys and values of past positions: (L, maxT, C) each.
type kvCache struct {
	k, v []float32
	n    int
}

// genBuffers are the per-call activations of cached decoding for n tokens.
type genBuffers struct {
	x, ln, attnOut, proj []float32 // (n,C)
	qkv                  []float32 // (n,3C)
	fch, fchGelu         []float32 // (n,4C)
	mean, rstd           []float32 // (n)
	scores               []float32 // (maxT)
	logits               []float32 // (V)
}

func (m *Model) newGenBuffers(n int) *genBuffers {
	C := m.Config.Channels
	f := func(k int) []float32 { return make([]float32, k) }
	return &genBuffers{x: f(n * C), ln: f(n * C), attnOut: f(n * C), proj: f(n * 4 * C), qkv: f(n * 3 * C),
		fch: f(n * 4 * C), fchGelu: f(n * 4 * C), mean: f(n), rstd: f(n), scores: f(m.Config.MaxSeqLen), logits: f(m.Config.VocabSize)}
}

// forwardCached runs tokens at positions cache.n… through the model,
// appending their keys and values to the cache, and returns the logits of
// the last token. LoRA adapters, if any, are applied unmerged.
func (m *Model) forwardCached(c *kvCache, tokens []int32) ([]float32, error) {
	cfg := m.Config
	n := len(tokens)
	if n == 0 {
		return nil, errors.New("generate: no tokens")
	}
	if c.n+n > cfg.MaxSeqLen {
		return nil, fmt.Errorf("generate: %d positions exceed the context of %d", c.n+n, cfg.MaxSeqLen)
	}
	for _, t := range tokens {
		if t < 0 || int(t) >= cfg.VocabSize {
			return nil, fmt.Errorf("generate: token id %d out of vocabulary", t)
		}
	}
	if m.LoRA != nil {
		if err := m.LoRA.compatible(cfg); err != nil {
			return nil, err
		}
	}
	training := m.Training
	m.Training = false
	defer func() { m.Training = training }()
	L, C, NH, T := cfg.NumLayers, cfg.Channels, cfg.NumHeads, cfg.MaxSeqLen
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	b := m.newGenBuffers(n)
	p := m.pool
	encoderForward(b.x, tokens, m.w.wte, m.w.wpe[c.n*C:], 1, n, C)
	for l := 0; l < L; l++ {
		w := &m.w.layers[l]
		layernormForward(p, b.ln, b.mean, b.rstd, b.x, w.ln1w, w.ln1b, n, C)
		m.linearForward(l, targetQKV, b.qkv, b.ln, w.qkvw, w.qkvb, n, C, 3*C)
		kc, vc := c.k[l*T*C:(l+1)*T*C], c.v[l*T*C:(l+1)*T*C]
		for i := 0; i < n; i++ {
			copy(kc[(c.n+i)*C:(c.n+i+1)*C], b.qkv[i*3*C+C:i*3*C+2*C])
			copy(vc[(c.n+i)*C:(c.n+i+1)*C], b.qkv[i*3*C+2*C:i*3*C+3*C])
		}
		for i := 0; i < n; i++ {
			pos := c.n + i
			for h := 0; h < NH; h++ {
				q := b.qkv[i*3*C+h*hs : i*3*C+h*hs+hs]
				sc := b.scores[:pos+1]
				for s := 0; s <= pos; s++ {
					k := kc[s*C+h*hs : s*C+h*hs+hs]
					var d float32
					for j, qv := range q {
						d += qv * k[j]
					}
					sc[s] = d
				}
				softmaxCausal(sc, pos, scale)
				out := b.attnOut[i*C+h*hs : i*C+h*hs+hs]
				clear(out)
				for s, a := range sc {
					v := vc[s*C+h*hs : s*C+h*hs+hs]
					for j := range out {
						out[j] += a * v[j]
					}
				}
			}
		}
		proj := b.proj[:n*C]
		m.linearForward(l, targetAttnProj, proj, b.attnOut, w.attprojw, w.attprojb, n, C, C)
		residualForward(p, b.x, b.x, proj)
		layernormForward(p, b.ln, b.mean, b.rstd, b.x, w.ln2w, w.ln2b, n, C)
		m.linearForward(l, targetFC, b.fch, b.ln, w.fcw, w.fcb, n, C, 4*C)
		geluForward(p, b.fchGelu, b.fch)
		m.linearForward(l, targetMLPProj, proj, b.fchGelu, w.fcprojw, w.fcprojb, n, 4*C, C)
		residualForward(p, b.x, b.x, proj)
	}
	c.n += n
	last := b.x[(n-1)*C : n*C]
	layernormForward(p, b.ln[:C], b.mean[:1], b.rstd[:1], last, m.w.lnfw, m.w.lnfb, 1, C)
	matmulForward(p, b.logits, b.ln[:C], m.w.wte, nil, 1, C, cfg.VocabSize)
	return b.logits, nil
}

// sample picks a token from logits according to opts.
func sample(logits []float32, opts GenerateOptions, r *rand.Rand) int {
	if opts.Temperature <= 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return best
	}
	type cand struct {
		id int
		p  float64
	}
	cands := make([]cand, len(logits))
	maxv := math.Inf(-1)
	for _, v := range logits {
		maxv = math.Max(maxv, float64(v))
	}
	var sum float64
	for i, v := range logits {
		e := math.Exp((float64(v) - maxv) / opts.Temperature)
		cands[i] = cand{i, e}
		sum += e
	}
	sort.Slice(cands, func(a, b int) bool {
		if cands[a].p != cands[b].p {
			return cands[a].p > cands[b].p
		}
		return cands[a].id < cands[b].id
	})
	if opts.TopK > 0 && opts.TopK < len(cands) {
		cands = cands[:opts.TopK]
	}
	total := 0.0
	for _, c := range cands {
		total += c.p
	}
	if opts.TopP > 0 && opts.TopP < 1 {
		acc := 0.0
		for i, c := range cands {
			acc += c.p / total
			if acc >= opts.TopP {
				cands = cands[:i+1]
				break
			}
		}
		total = 0
		for _, c := range cands {
			total += c.p
		}
	}
	u := r.Float64() * total
	for _, c := range cands {
		u -= c.p
		if u <= 0 {
			return c.id
		}
	}
	return cands[len(cands)-1].id
}

// Generate continues prompt with the model (and its LoRA adapter, applied
// unmerged), streaming text through onText as it becomes final: complete
// UTF-8 that cannot be the start of a stop sequence. onText may be nil; an
// error from it stops generation and is returned.
func Generate(ctx context.Context, m *Model, tok *tokenizer.Tokenizer, prompt string, opts GenerateOptions, onText func(string) error) (*Generation, error) {
	if opts.MaxTokens <= 0 {
		opts.MaxTokens = 128
	}
	if opts.Temperature < 0 || opts.TopP < 0 || opts.TopP > 1 || opts.TopK < 0 {
		return nil, errors.New("generate: temperature, top_k and top_p must be non-negative (top_p ≤ 1)")
	}
	ids := tok.Encode(prompt)
	if len(ids) == 0 {
		if eot, ok := tok.SpecialID(tokenizer.EndOfText); ok {
			ids = []int{eot} // GPT-2 starts unconditional text after end-of-text
		} else {
			return nil, errors.New("generate: empty prompt")
		}
	}
	if len(ids) >= m.Config.MaxSeqLen {
		ids = ids[len(ids)-m.Config.MaxSeqLen+1:] // keep the most recent context
	}
	in := make([]int32, len(ids))
	for i, id := range ids {
		in[i] = int32(id)
	}
	C, L, T := m.Config.Channels, m.Config.NumLayers, m.Config.MaxSeqLen
	cache := &kvCache{k: make([]float32, L*T*C), v: make([]float32, L*T*C)}
	r := rand.New(rand.NewPCG(opts.Seed, 0x6e6))
	eot, hasEOT := tok.SpecialID(tokenizer.EndOfText)
	g := &Generation{PromptTokens: len(in), FinishReason: "length"}
	var text []byte
	emitted := 0
	logits, err := m.forwardCached(cache, in)
	if err != nil {
		return nil, err
	}
	flush := func(final bool) error {
		upto := len(text)
		if !final {
			upto = safeEmit(text, opts.Stop)
		}
		if upto > emitted && onText != nil {
			if err := onText(string(text[emitted:upto])); err != nil {
				return err
			}
		}
		emitted = max(emitted, upto)
		return nil
	}
	for len(g.Tokens) < opts.MaxTokens {
		if ctx.Err() != nil {
			g.FinishReason = "cancelled"
			break
		}
		next := sample(logits, opts, r)
		if hasEOT && next == eot {
			g.FinishReason = "eos"
			break
		}
		g.Tokens = append(g.Tokens, next)
		b, err := tok.DecodeBytes([]int{next})
		if err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		text = append(text, b...)
		if i := stopIndex(text, opts.Stop); i >= 0 {
			text = text[:i]
			g.FinishReason = "stop"
			break
		}
		if err := flush(false); err != nil {
			return nil, err
		}
		if cache.n >= T {
			break
		}
		if logits, err = m.forwardCached(cache, []int32{int32(next)}); err != nil {
			return nil, err
		}
	}
	if err := flush(true); err != nil {
		return nil, err
	}
	g.Text = strings.ToValidUTF8(string(text), "\uFFFD")
	return g, nil
}

func stopIndex(text []byte, stops []string) int {
	best := -1
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(string(text), s); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// safeEmit is how much of text may be streamed: it holds back an incomplete
// UTF-8 tail and any suffix that could begin a stop sequence.
func safeEmit(text []byte, stops []string) int {
	n := len(text)
	for _, s := range stops {
		for k := min(len(s)-1, len(text)); k > 0; k-- {
			if strings.HasSuffix(string(text), s[:k]) {
				n = min(n, len(text)-k)
				break
			}
		}
	}
	return n - incompleteRuneTail(text[:n])
}

// incompleteRuneTail is the length of the suffix of b that begins a
// multi-byte UTF-8 character without completing it: the bytes a later token
// may finish. Invalid bytes elsewhere are not held back (the caller's
// consumer replaces them), so one stray byte never stalls the stream.
func incompleteRuneTail(b []byte) int {
	for k := 1; k <= min(utf8.UTFMax-1, len(b)); k++ {
		c := b[len(b)-k]
		if utf8.RuneStart(c) {
			if c >= 0xC0 && !utf8.FullRune(b[len(b)-k:]) {
				return k
			}
			return 0
		}
	}
	return 0
}
