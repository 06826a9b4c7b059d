package trainer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/modelfactory/modelfactory/trainer/gemm"
)

// LoRA target modules, named as in Hugging Face GPT-2 and PEFT's
// target_modules (PEFT matches them as module-name suffixes).
const (
	TargetAttn     = "attn.c_attn" // qkv projection (C → 3C)
	TargetAttnProj = "attn.c_proj" // attention output projection (C → C)
	TargetFC       = "mlp.c_fc"    // MLP up projection (C → 4C)
	TargetMLPProj  = "mlp.c_proj"  // MLP down projection (4C → C)
)

const (
	targetQKV = iota
	targetAttnProj
	targetFC
	targetMLPProj
	numTargets
)

var targetNames = [numTargets]string{TargetAttn, TargetAttnProj, TargetFC, TargetMLPProj}

// targetIndex maps a user-facing target name ("c_attn", "attn.c_attn",
// "c_proj" = both projections...) to target indices.
func targetIndex(name string) ([]int, error) {
	switch name {
	case "c_attn", TargetAttn, "qkv":
		return []int{targetQKV}, nil
	case TargetAttnProj, "attn_proj":
		return []int{targetAttnProj}, nil
	case "c_fc", TargetFC, "fc":
		return []int{targetFC}, nil
	case TargetMLPProj, "mlp_proj":
		return []int{targetMLPProj}, nil
	case "c_proj":
		return []int{targetAttnProj, targetMLPProj}, nil
	}
	return nil, fmt.Errorf("lora: unknown target module %q (want c_attn, attn.c_proj, c_fc, mlp.c_proj or c_proj)", name)
}

// LoRAConfig describes adapters: y = x·Wᵀ + (alpha/r)·dropout(x)·Aᵀ·Bᵀ.
type LoRAConfig struct {
	Rank    int      `json:"r"`
	Alpha   float32  `json:"lora_alpha"`
	Dropout float32  `json:"lora_dropout"`
	Targets []string `json:"target_modules"`
}

// Scale is alpha/r.
func (c LoRAConfig) Scale() float32 { return c.Alpha / float32(c.Rank) }

func (c LoRAConfig) validate() error {
	if c.Rank <= 0 {
		return fmt.Errorf("lora: rank %d must be positive", c.Rank)
	}
	if c.Alpha <= 0 || math.IsNaN(float64(c.Alpha)) {
		return fmt.Errorf("lora: alpha %v must be positive", c.Alpha)
	}
	if c.Dropout < 0 || c.Dropout >= 1 || math.IsNaN(float64(c.Dropout)) {
		return fmt.Errorf("lora: dropout %v must be in [0,1)", c.Dropout)
	}
	if len(c.Targets) == 0 {
		return errors.New("lora: no target modules")
	}
	return nil
}

// loraLinear is the adapter of one linear layer: A (r,in), B (out,r).
type loraLinear struct {
	in, out  int
	off      int // offset of A in LoRA.Params (B follows A)
	A, B     []float32
	dA, dB   []float32
	u        []float32 // (N,r) = dropout(x)·Aᵀ, kept for backward
	x        []float32 // the (dropped-out) input (N,in) used in forward
	xd       []float32 // dropout buffer (N,in) when dropout > 0
	keepMask []bool    // (N,in) dropout mask
}

// LoRA holds the adapters of every targeted linear layer of a model.
// Params and Grads are flat; A and B matrices are views into them.
type LoRA struct {
	Config    LoRAConfig
	NumLayers int
	Channels  int
	Params    []float32
	Grads     []float32
	layers    [][numTargets]*loraLinear
	// perExample, when set (by Model.ExampleGradients), receives each
	// batch row's adapter gradient instead of Grads: perExample[b] has the
	// flat layout of Params, rowsPer positions per row.
	perExample [][]float32
	rowsPer    int
	rng        *rand.Rand
	rngSrc     *rand.PCG
	nActs      int
}

// NewLoRA creates adapters for a model shape: A initialised like PEFT
// (Kaiming-uniform, bound 1/sqrt(in)), B zero, so training starts at the base.
func NewLoRA(model Config, cfg LoRAConfig, seed uint64) (*LoRA, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	active := [numTargets]bool{}
	for _, t := range cfg.Targets {
		idx, err := targetIndex(t)
		if err != nil {
			return nil, err
		}
		for _, i := range idx {
			active[i] = true
		}
	}
	C, r := model.Channels, cfg.Rank
	dims := [numTargets][2]int{{C, 3 * C}, {C, C}, {C, 4 * C}, {4 * C, C}}
	total := 0
	for l := 0; l < model.NumLayers; l++ {
		for t := 0; t < numTargets; t++ {
			if active[t] {
				total += r * (dims[t][0] + dims[t][1])
			}
		}
	}
	src := rand.NewPCG(seed, 0x5851f42d4c957f2d)
	lo := &LoRA{Config: cfg, NumLayers: model.NumLayers, Channels: C,
		Params: make([]float32, total), Grads: make([]float32, total),
		layers: make([][numTargets]*loraLinear, model.NumLayers), rngSrc: src, rng: rand.New(src)}
	lo.Config.Targets = nil
	for t := 0; t < numTargets; t++ {
		if active[t] {
			lo.Config.Targets = append(lo.Config.Targets, targetNames[t])
		}
	}
	off := 0
	for l := 0; l < model.NumLayers; l++ {
		for t := 0; t < numTargets; t++ {
			if !active[t] {
				continue
			}
			in, out := dims[t][0], dims[t][1]
			ll := &loraLinear{in: in, out: out, off: off}
			ll.A, ll.dA = lo.Params[off:off+r*in], lo.Grads[off:off+r*in]
			off += r * in
			ll.B, ll.dB = lo.Params[off:off+out*r], lo.Grads[off:off+out*r]
			off += out * r
			bound := 1 / math.Sqrt(float64(in))
			for i := range ll.A {
				ll.A[i] = float32((lo.rng.Float64()*2 - 1) * bound)
			}
			lo.layers[l][t] = ll
		}
	}
	return lo, nil
}

func (lo *LoRA) compatible(c Config) error {
	if lo.NumLayers != c.NumLayers || lo.Channels != c.Channels {
		return fmt.Errorf("lora: adapter for %d layers × %d channels does not fit model with %d × %d",
			lo.NumLayers, lo.Channels, c.NumLayers, c.Channels)
	}
	return nil
}

// HasTarget reports whether layer l's target module (TargetAttn...) has an adapter.
func (lo *LoRA) HasTarget(l int, target string) bool {
	i := slices.Index(targetNames[:], target)
	return i >= 0 && l >= 0 && l < lo.NumLayers && lo.layers[l][i] != nil
}

func (lo *LoRA) ensureActs(n int) {
	if lo.nActs == n {
		return
	}
	lo.nActs = n
	for _, layer := range lo.layers {
		for _, ll := range layer {
			if ll == nil {
				continue
			}
			ll.u = make([]float32, n*lo.Config.Rank)
			if lo.Config.Dropout > 0 {
				ll.xd = make([]float32, n*ll.in)
				ll.keepMask = make([]bool, n*ll.in)
			}
		}
	}
}

// forward adds scale·dropout(x)·Aᵀ·Bᵀ to out (N,outDim) for x = inp (N,in).
func (lo *LoRA) forward(p *gemm.Pool, l, target int, out, inp []float32, N int, training bool) {
	ll := lo.layers[l][target]
	if ll == nil {
		return
	}
	lo.ensureActs(N)
	r := lo.Config.Rank
	x := inp
	if drop := lo.Config.Dropout; training && drop > 0 {
		keep := 1 / (1 - drop)
		for i, v := range inp[:N*ll.in] {
			k := lo.rng.Float32() >= drop
			ll.keepMask[i] = k
			if k {
				ll.xd[i] = v * keep
			} else {
				ll.xd[i] = 0
			}
		}
		x = ll.xd
	}
	ll.x = x
	u := ll.u[:N*r]
	// u (N,r) = x·Aᵀ ; out (N,out) += scale·u·Bᵀ
	p.Sgemm(false, true, N, r, ll.in, x, ll.in, ll.A, ll.in, 0, u, r)
	// u keeps the scale folded in (u' = scale·x·Aᵀ), which is what backward needs for dB.
	scale := lo.Config.Scale()
	for i := range u {
		u[i] *= scale
	}
	p.Sgemm(false, true, N, ll.out, r, u, r, ll.B, r, 1, out, ll.out)
}

// backward: with u' = scale·x·Aᵀ saved, dB += doutᵀ·u', du' = dout·B,
// dA += scale·du'ᵀ·x, dx += scale·du'·A (through the dropout mask).
func (lo *LoRA) backward(p *gemm.Pool, l, target int, dinp, dout []float32, N int) {
	ll := lo.layers[l][target]
	if ll == nil {
		return
	}
	r := lo.Config.Rank
	scale := lo.Config.Scale()
	u := ll.u[:N*r]
	if lo.perExample != nil {
		// Per-example weight gradients: the same products restricted to
		// each row's positions, written to that row's own vector.
		T := lo.rowsPer
		for b, g := range lo.perExample {
			dB := g[ll.off+r*ll.in : ll.off+r*ll.in+ll.out*r]
			p.Sgemm(true, false, ll.out, r, T, dout[b*T*ll.out:], ll.out, u[b*T*r:], r, 1, dB, r)
		}
	} else {
		p.Sgemm(true, false, ll.out, r, N, dout, ll.out, u, r, 1, ll.dB, r)
	}
	// du (N,r) = scale·dout·B, reusing u's buffer: u is no longer needed.
	p.Sgemm(false, false, N, r, ll.out, dout, ll.out, ll.B, r, 0, u, r)
	for i := range u {
		u[i] *= scale
	}
	if lo.perExample != nil {
		T := lo.rowsPer
		for b, g := range lo.perExample {
			dA := g[ll.off : ll.off+r*ll.in]
			p.Sgemm(true, false, r, ll.in, T, u[b*T*r:], r, ll.x[b*T*ll.in:], ll.in, 1, dA, ll.in)
		}
	} else {
		p.Sgemm(true, false, r, ll.in, N, u, r, ll.x, ll.in, 1, ll.dA, ll.in)
	}
	if dinp == nil {
		return
	}
	if lo.Config.Dropout > 0 && ll.x != nil && len(ll.xd) > 0 && &ll.x[0] == &ll.xd[0] {
		// dx = (du·A) ⊙ mask/(1-p): compute into xd (no longer needed) first.
		xd := ll.xd[:N*ll.in]
		p.Sgemm(false, false, N, ll.in, r, u, r, ll.A, ll.in, 0, xd, ll.in)
		keep := 1 / (1 - lo.Config.Dropout)
		for i, k := range ll.keepMask[:N*ll.in] {
			if k {
				dinp[i] += xd[i] * keep
			}
		}
		return
	}
	p.Sgemm(false, false, N, ll.in, r, u, r, ll.A, ll.in, 1, dinp, ll.in)
}

// MergeInto adds scale·B·A to the targeted base weights of m (our (out,in)
// layout), producing a plain model that needs no adapter.
func (lo *LoRA) MergeInto(m *Model) error {
	if err := lo.compatible(m.Config); err != nil {
		return err
	}
	scale := lo.Config.Scale()
	r := lo.Config.Rank
	for l := range lo.layers {
		w := &m.w.layers[l]
		bases := [numTargets][]float32{w.qkvw, w.attprojw, w.fcw, w.fcprojw}
		for t, ll := range lo.layers[l] {
			if ll == nil {
				continue
			}
			// W (out,in) += scale·B (out,r)·A (r,in)
			delta := make([]float32, ll.out*ll.in)
			m.pool.Sgemm(false, false, ll.out, ll.in, r, ll.B, r, ll.A, ll.in, 0, delta, ll.in)
			for i, v := range delta {
				bases[t][i] += scale * v
			}
		}
	}
	return nil
}
