// Package trainer is ModelFactory's native trainer: a GPT-2-architecture
// decoder with hand-written forward and backward passes (the llm.c way), LoRA
// adapters, AdamW training, Hugging Face safetensors and PEFT files, byte-level
// BPE tokenizers, KV-cached generation and per-example gradients for Proof of
// Attribution. It knows nothing of HTTP or SQL.
//
// All matrix products run on trainer/gemm; everything else is plain Go.
// Weights are stored as in llm.c: a linear layer's weight is (out, in), so the
// Hugging Face Conv1D layout (in, out) is transposed on load and save.
package trainer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/modelfactory/modelfactory/trainer/gemm"
)

// Config is a GPT-2 shape.
type Config struct {
	MaxSeqLen int `json:"n_positions"` // context length (wpe rows)
	VocabSize int `json:"vocab_size"`
	NumLayers int `json:"n_layer"`
	NumHeads  int `json:"n_head"`
	Channels  int `json:"n_embd"`
}

// Validate reports whether the shape is usable.
func (c Config) Validate() error {
	switch {
	case c.MaxSeqLen <= 0, c.VocabSize <= 0, c.NumLayers <= 0, c.NumHeads <= 0, c.Channels <= 0:
		return fmt.Errorf("config %+v: every dimension must be positive", c)
	case c.Channels%c.NumHeads != 0:
		return fmt.Errorf("config: n_embd %d is not divisible by n_head %d", c.Channels, c.NumHeads)
	case c.VocabSize > math.MaxInt32:
		return errors.New("config: vocab_size too large")
	}
	return nil
}

// NumParams is the number of base parameters.
func (c Config) NumParams() int {
	C, L := c.Channels, c.NumLayers
	return c.VocabSize*C + c.MaxSeqLen*C + L*(12*C*C+13*C) + 2*C
}

// layerParams are views of one block's weights (or gradients) in the flat slice.
type layerParams struct {
	ln1w, ln1b         []float32 // (C)
	qkvw, qkvb         []float32 // (3C,C), (3C)
	attprojw, attprojb []float32 // (C,C), (C)
	ln2w, ln2b         []float32 // (C)
	fcw, fcb           []float32 // (4C,C), (4C)
	fcprojw, fcprojb   []float32 // (C,4C), (C)
}

// weights are views of all base tensors in one flat slice.
type weights struct {
	wte, wpe   []float32 // (V,C), (maxT,C)
	layers     []layerParams
	lnfw, lnfb []float32 // (C)
}

// tensorSpec names one tensor of the flat parameter slice.
type tensorSpec struct {
	name   string // Hugging Face GPT-2 name
	shape  []int  // our layout
	offset int
	decay  bool // weight decay applies (matrices, not biases or norms)
}

// layout lists the base tensors in flat order with their Hugging Face names.
func (c Config) layout() []tensorSpec {
	C, V, T := c.Channels, c.VocabSize, c.MaxSeqLen
	var specs []tensorSpec
	off := 0
	add := func(name string, decay bool, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		specs = append(specs, tensorSpec{name: name, shape: shape, offset: off, decay: decay})
		off += n
	}
	add("wte.weight", true, V, C)
	add("wpe.weight", true, T, C)
	for l := 0; l < c.NumLayers; l++ {
		p := fmt.Sprintf("h.%d.", l)
		add(p+"ln_1.weight", false, C)
		add(p+"ln_1.bias", false, C)
		add(p+"attn.c_attn.weight", true, 3*C, C)
		add(p+"attn.c_attn.bias", false, 3*C)
		add(p+"attn.c_proj.weight", true, C, C)
		add(p+"attn.c_proj.bias", false, C)
		add(p+"ln_2.weight", false, C)
		add(p+"ln_2.bias", false, C)
		add(p+"mlp.c_fc.weight", true, 4*C, C)
		add(p+"mlp.c_fc.bias", false, 4*C)
		add(p+"mlp.c_proj.weight", true, C, 4*C)
		add(p+"mlp.c_proj.bias", false, C)
	}
	add("ln_f.weight", false, C)
	add("ln_f.bias", false, C)
	return specs
}

func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func viewWeights(c Config, flat []float32) weights {
	specs := c.layout()
	get := func(i int) []float32 {
		s := specs[i]
		n := size(s.shape)
		return flat[s.offset : s.offset+n : s.offset+n]
	}
	w := weights{wte: get(0), wpe: get(1)}
	i := 2
	for l := 0; l < c.NumLayers; l++ {
		w.layers = append(w.layers, layerParams{
			ln1w: get(i), ln1b: get(i + 1), qkvw: get(i + 2), qkvb: get(i + 3),
			attprojw: get(i + 4), attprojb: get(i + 5), ln2w: get(i + 6), ln2b: get(i + 7),
			fcw: get(i + 8), fcb: get(i + 9), fcprojw: get(i + 10), fcprojb: get(i + 11),
		})
		i += 12
	}
	w.lnfw, w.lnfb = get(i), get(i+1)
	return w
}

// Model is a GPT-2 decoder with its parameters, optional LoRA adapters,
// gradients and activation buffers. A Model is not safe for concurrent use.
type Model struct {
	Config Config
	// Params holds every base weight in one slice (see Config.layout).
	Params []float32
	// Grads holds base gradients; nil until a full fine-tune backward.
	Grads []float32
	// LoRA, when set, is applied in every forward pass; with LoRA set the
	// base is frozen and Backward computes adapter gradients only.
	LoRA *LoRA
	// Training enables LoRA dropout.
	Training bool

	w, g weights
	pool *gemm.Pool
	acts *activations
}

// NewModel returns a model with zero weights running on pool.
func NewModel(cfg Config, pool *gemm.Pool) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, errors.New("new model: nil gemm pool")
	}
	m := &Model{Config: cfg, Params: make([]float32, cfg.NumParams()), pool: pool}
	m.w = viewWeights(cfg, m.Params)
	return m, nil
}

// InitRandom fills the weights as GPT-2 does: N(0, 0.02) matrices, residual
// projections scaled by 1/sqrt(2L), unit norms, zero biases.
func (m *Model) InitRandom(seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	projStd := 0.02 / math.Sqrt(2*float64(m.Config.NumLayers))
	normal := func(s []float32, std float64) {
		for i := range s {
			s[i] = float32(r.NormFloat64() * std)
		}
	}
	fill := func(s []float32, v float32) {
		for i := range s {
			s[i] = v
		}
	}
	normal(m.w.wte, 0.02)
	normal(m.w.wpe, 0.01)
	for _, l := range m.w.layers {
		fill(l.ln1w, 1)
		clear(l.ln1b)
		normal(l.qkvw, 0.02)
		clear(l.qkvb)
		normal(l.attprojw, projStd)
		clear(l.attprojb)
		fill(l.ln2w, 1)
		clear(l.ln2b)
		normal(l.fcw, 0.02)
		clear(l.fcb)
		normal(l.fcprojw, projStd)
		clear(l.fcprojb)
	}
	fill(m.w.lnfw, 1)
	clear(m.w.lnfb)
}

// Pool returns the GEMM pool the model runs on.
func (m *Model) Pool() *gemm.Pool { return m.pool }

// activations are the buffers of one (B,T) shape, allocated once and reused.
type activations struct {
	B, T int
	// forward, kept for backward
	encoded         []float32 // (B,T,C)
	ln1             []float32 // (L,B,T,C)
	ln1Mean, ln1Rs  []float32 // (L,B,T)
	qkv             []float32 // (L,B,T,3C)
	atty            []float32 // (L,B,T,C)
	att             []float32 // (L,B,NH,T,T)
	residual2       []float32 // (L,B,T,C)
	ln2             []float32 // (L,B,T,C)
	ln2Mean, ln2Rs  []float32 // (L,B,T)
	fch             []float32 // (L,B,T,4C)
	fchGelu         []float32 // (L,B,T,4C)
	residual3       []float32 // (L,B,T,C)
	lnf             []float32 // (B,T,C)
	lnfMean, lnfRs  []float32 // (B,T)
	logits          []float32 // (B,T,V): logits, then probabilities, then dlogits
	losses          []float32 // (B,T)
	dloss           []float32 // (B,T)
	scratch         []float32 // (B,T,4C) projection output before the residual add
	targets, inputs []int32   // (B,T) copies of the last batch
	// backward, one layer at a time
	dres, dC []float32 // (B,T,C)
	dqkv     []float32 // (B,T,3C)
	dfch     []float32 // (B,T,4C)
	dfchGelu []float32 // (B,T,4C)
	// state of the last forward
	hasTargets bool
	count      int // unmasked targets
}

func newActivations(c Config, B, T int) *activations {
	L, C, NH, V := c.NumLayers, c.Channels, c.NumHeads, c.VocabSize
	N := B * T
	f := func(n int) []float32 { return make([]float32, n) }
	return &activations{
		B: B, T: T,
		encoded: f(N * C), ln1: f(L * N * C), ln1Mean: f(L * N), ln1Rs: f(L * N),
		qkv: f(L * N * 3 * C), atty: f(L * N * C), att: f(L * B * NH * T * T),
		residual2: f(L * N * C), ln2: f(L * N * C), ln2Mean: f(L * N), ln2Rs: f(L * N),
		fch: f(L * N * 4 * C), fchGelu: f(L * N * 4 * C), residual3: f(L * N * C),
		lnf: f(N * C), lnfMean: f(N), lnfRs: f(N), logits: f(N * V), losses: f(N), dloss: f(N),
		scratch: f(N * 4 * C), targets: make([]int32, N), inputs: make([]int32, N),
		dres: f(N * C), dC: f(N * C), dqkv: f(N * 3 * C), dfch: f(N * 4 * C), dfchGelu: f(N * 4 * C),
	}
}

func (m *Model) ensureActs(B, T int) {
	if m.acts == nil || m.acts.B != B || m.acts.T != T {
		m.acts = newActivations(m.Config, B, T)
		if m.LoRA != nil {
			m.LoRA.ensureActs(B * T)
		}
	}
}

// checkBatch validates token ids and shapes so bad input is an error, not a panic.
func (m *Model) checkBatch(inputs, targets []int32, B, T int) error {
	if B <= 0 || T <= 0 {
		return fmt.Errorf("forward: batch %d×%d must be positive", B, T)
	}
	if T > m.Config.MaxSeqLen {
		return fmt.Errorf("forward: sequence length %d exceeds context %d", T, m.Config.MaxSeqLen)
	}
	if len(inputs) != B*T {
		return fmt.Errorf("forward: %d inputs for batch %d×%d", len(inputs), B, T)
	}
	if targets != nil && len(targets) != B*T {
		return fmt.Errorf("forward: %d targets for batch %d×%d", len(targets), B, T)
	}
	V := int32(m.Config.VocabSize)
	for _, t := range inputs {
		if t < 0 || t >= V {
			return fmt.Errorf("forward: token id %d out of vocabulary [0,%d)", t, V)
		}
	}
	for _, t := range targets {
		if t >= V {
			return fmt.Errorf("forward: target id %d out of vocabulary [0,%d)", t, V)
		}
	}
	return nil
}

// Forward runs the model on inputs (B,T). With targets (B,T; -1 masks a
// position) it returns the mean loss over unmasked positions and prepares
// Backward; without, the logits are left for Logits.
func (m *Model) Forward(inputs, targets []int32, B, T int) (float32, error) {
	if err := m.checkBatch(inputs, targets, B, T); err != nil {
		return 0, err
	}
	if m.LoRA != nil {
		if err := m.LoRA.compatible(m.Config); err != nil {
			return 0, err
		}
	}
	m.ensureActs(B, T)
	a := m.acts
	c := m.Config
	L, C, NH, V := c.NumLayers, c.Channels, c.NumHeads, c.VocabSize
	N := B * T
	p := m.pool
	copy(a.inputs, inputs)

	encoderForward(a.encoded, inputs, m.w.wte, m.w.wpe, B, T, C)
	for l := 0; l < L; l++ {
		w := &m.w.layers[l]
		residual := a.encoded
		if l > 0 {
			residual = a.residual3[(l-1)*N*C : l*N*C]
		}
		ln1 := a.ln1[l*N*C : (l+1)*N*C]
		qkv := a.qkv[l*N*3*C : (l+1)*N*3*C]
		atty := a.atty[l*N*C : (l+1)*N*C]
		att := a.att[l*B*NH*T*T : (l+1)*B*NH*T*T]
		res2 := a.residual2[l*N*C : (l+1)*N*C]
		ln2 := a.ln2[l*N*C : (l+1)*N*C]
		fch := a.fch[l*N*4*C : (l+1)*N*4*C]
		fchGelu := a.fchGelu[l*N*4*C : (l+1)*N*4*C]
		res3 := a.residual3[l*N*C : (l+1)*N*C]
		proj := a.scratch[:N*C]

		layernormForward(p, ln1, a.ln1Mean[l*N:(l+1)*N], a.ln1Rs[l*N:(l+1)*N], residual, w.ln1w, w.ln1b, N, C)
		m.linearForward(l, targetQKV, qkv, ln1, w.qkvw, w.qkvb, N, C, 3*C)
		attentionForward(p, atty, att, qkv, B, T, C, NH)
		m.linearForward(l, targetAttnProj, proj, atty, w.attprojw, w.attprojb, N, C, C)
		residualForward(p, res2, residual, proj)
		layernormForward(p, ln2, a.ln2Mean[l*N:(l+1)*N], a.ln2Rs[l*N:(l+1)*N], res2, w.ln2w, w.ln2b, N, C)
		m.linearForward(l, targetFC, fch, ln2, w.fcw, w.fcb, N, C, 4*C)
		geluForward(p, fchGelu, fch)
		m.linearForward(l, targetMLPProj, proj, fchGelu, w.fcprojw, w.fcprojb, N, 4*C, C)
		residualForward(p, res3, res2, proj)
	}
	last := a.residual3[(L-1)*N*C : L*N*C]
	layernormForward(p, a.lnf, a.lnfMean, a.lnfRs, last, m.w.lnfw, m.w.lnfb, N, C)
	matmulForward(p, a.logits, a.lnf, m.w.wte, nil, N, C, V)

	a.hasTargets = targets != nil
	if !a.hasTargets {
		return 0, nil
	}
	copy(a.targets, targets)
	softmaxCrossEntropy(p, a.logits, a.losses, targets, N, V)
	a.count = 0
	var sum float64
	for i, t := range targets {
		if t >= 0 {
			a.count++
			sum += float64(a.losses[i])
		}
	}
	if a.count == 0 {
		return 0, nil
	}
	return float32(sum / float64(a.count)), nil
}

// Logits returns the (B,T,V) logits of the last Forward without targets.
func (m *Model) Logits() []float32 {
	if m.acts == nil || m.acts.hasTargets {
		return nil
	}
	return m.acts.logits
}

// Losses returns the per-position losses (B,T) of the last Forward with targets.
func (m *Model) Losses() []float32 {
	if m.acts == nil || !m.acts.hasTargets {
		return nil
	}
	return m.acts.losses
}

func (m *Model) linearForward(l, target int, out, inp, w, b []float32, N, C, OC int) {
	matmulForward(m.pool, out, inp, w, b, N, C, OC)
	if m.LoRA != nil {
		m.LoRA.forward(m.pool, l, target, out, inp, N, m.Training)
	}
}

func (m *Model) linearBackward(l, target int, dinp, dout, inp []float32, w []float32, gw, gb []float32, N, C, OC int) {
	if m.LoRA != nil {
		m.LoRA.backward(m.pool, l, target, dinp, dout, N)
	}
	matmulBackward(m.pool, dinp, gw, gb, dout, inp, w, N, C, OC)
}

// ZeroGrad clears the gradients that Backward accumulates into.
func (m *Model) ZeroGrad() {
	if m.LoRA != nil {
		clear(m.LoRA.Grads)
		return
	}
	if m.Grads == nil {
		m.Grads = make([]float32, len(m.Params))
		m.g = viewWeights(m.Config, m.Grads)
		return
	}
	g := m.Grads
	m.pool.For(len(g), func(_ *gemm.Workspace, lo, hi int) { clear(g[lo:hi]) })
}

// Backward accumulates scale·∇(mean loss) of the last Forward into the
// gradients: base gradients in full mode, adapter gradients only when LoRA is
// set (no base weight gradient is computed then).
func (m *Model) Backward(scale float32) error {
	a := m.acts
	if a == nil || !a.hasTargets {
		return errors.New("backward: no forward pass with targets")
	}
	full := m.LoRA == nil
	if full && m.Grads == nil {
		m.ZeroGrad()
	}
	c := m.Config
	B, T := a.B, a.T
	L, C, NH, V := c.NumLayers, c.Channels, c.NumHeads, c.VocabSize
	N := B * T
	p := m.pool
	if m.LoRA != nil && m.LoRA.perExample != nil {
		// Each row's own mean loss: weight positions by 1/(row's count).
		for b := 0; b < B; b++ {
			cnt := 0
			for _, t := range a.targets[b*T : (b+1)*T] {
				if t >= 0 {
					cnt++
				}
			}
			d := float32(0)
			if cnt > 0 {
				d = scale / float32(cnt)
			}
			for i := b * T; i < (b+1)*T; i++ {
				a.dloss[i] = d
			}
		}
	} else {
		d := float32(0)
		if a.count > 0 {
			d = scale / float32(a.count)
		}
		for i := range a.dloss {
			a.dloss[i] = d
		}
	}
	crossEntropyBackward(p, a.logits, a.targets, a.dloss, N, V)
	// logits now hold dlogits; they are no longer valid logits.
	a.hasTargets = false

	var gw weights
	if full {
		gw = m.g
	}
	clear(a.dC)
	matmulBackward(p, a.dC, gw.wte, nil, a.logits, a.lnf, m.w.wte, N, C, V)
	clear(a.dres)
	last := a.residual3[(L-1)*N*C : L*N*C]
	layernormBackward(p, a.dres, gw.lnfw, gw.lnfb, a.dC, last, m.w.lnfw, a.lnfMean, a.lnfRs, N, C)

	for l := L - 1; l >= 0; l-- {
		w := &m.w.layers[l]
		var g layerParams
		if full {
			g = m.g.layers[l]
		}
		residual := a.encoded
		if l > 0 {
			residual = a.residual3[(l-1)*N*C : l*N*C]
		}
		ln1 := a.ln1[l*N*C : (l+1)*N*C]
		qkv := a.qkv[l*N*3*C : (l+1)*N*3*C]
		atty := a.atty[l*N*C : (l+1)*N*C]
		att := a.att[l*B*NH*T*T : (l+1)*B*NH*T*T]
		res2 := a.residual2[l*N*C : (l+1)*N*C]
		ln2 := a.ln2[l*N*C : (l+1)*N*C]
		fch := a.fch[l*N*4*C : (l+1)*N*4*C]
		fchGelu := a.fchGelu[l*N*4*C : (l+1)*N*4*C]

		// a.dres = d residual3[l]; it flows unchanged into the MLP branch.
		clear(a.dfchGelu)
		m.linearBackward(l, targetMLPProj, a.dfchGelu, a.dres, fchGelu, w.fcprojw, g.fcprojw, g.fcprojb, N, 4*C, C)
		geluBackward(p, a.dfch, fch, a.dfchGelu)
		clear(a.dC)
		m.linearBackward(l, targetFC, a.dC, a.dfch, ln2, w.fcw, g.fcw, g.fcb, N, C, 4*C)
		layernormBackward(p, a.dres, g.ln2w, g.ln2b, a.dC, res2, w.ln2w, a.ln2Mean[l*N:(l+1)*N], a.ln2Rs[l*N:(l+1)*N], N, C)
		// a.dres = d residual2[l]; it flows into the attention branch.
		clear(a.dC)
		m.linearBackward(l, targetAttnProj, a.dC, a.dres, atty, w.attprojw, g.attprojw, g.attprojb, N, C, C)
		clear(a.dqkv)
		attentionBackward(p, a.dqkv, a.dC, qkv, att, B, T, C, NH)
		if !full && l == 0 {
			// Frozen embeddings: nothing below needs the input gradient.
			m.linearBackward(l, targetQKV, nil, a.dqkv, ln1, w.qkvw, g.qkvw, g.qkvb, N, C, 3*C)
			break
		}
		clear(a.dC)
		m.linearBackward(l, targetQKV, a.dC, a.dqkv, ln1, w.qkvw, g.qkvw, g.qkvb, N, C, 3*C)
		layernormBackward(p, a.dres, g.ln1w, g.ln1b, a.dC, residual, w.ln1w, a.ln1Mean[l*N:(l+1)*N], a.ln1Rs[l*N:(l+1)*N], N, C)
	}
	if full {
		encoderBackward(m.g.wte, m.g.wpe, a.dres, a.inputs, B, T, C)
	}
	return nil
}
