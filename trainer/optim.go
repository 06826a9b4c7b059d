package trainer

import (
	"math"

	"github.com/modelfactory/modelfactory/trainer/gemm"
)

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter), applied
// in place to a flat parameter slice.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// M and V are the first and second moment estimates; Step counts updates.
	M, V []float32
	Step int
	// decay[i] says whether parameter i is decayed (matrices yes, biases and
	// norms no); nil decays everything.
	decay []bool
}

// NewAdamW returns an optimizer for n parameters.
func NewAdamW(n int, beta1, beta2, eps, weightDecay float64, decay []bool) *AdamW {
	return &AdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay,
		M: make([]float32, n), V: make([]float32, n), decay: decay}
}

// Update applies one step with learning rate lr, split across pool's workers
// (pool may be nil).
func (o *AdamW) Update(pool *gemm.Pool, params, grads []float32, lr float64) {
	o.Step++
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	c1 := float32(1 / (1 - math.Pow(o.Beta1, float64(o.Step))))
	c2 := float32(1 / (1 - math.Pow(o.Beta2, float64(o.Step))))
	eps, wd, flr := float32(o.Eps), float32(o.WeightDecay), float32(lr)
	m, v := o.M[:len(params)], o.V[:len(params)]
	grads = grads[:len(params)]
	decay := o.decay
	update := func(_ *gemm.Workspace, lo, hi int) {
		p, g, mm, vv := params[lo:hi], grads[lo:hi], m[lo:hi], v[lo:hi]
		var dm []bool
		if decay != nil {
			dm = decay[lo:hi]
		}
		for i, gi := range g {
			mi := b1*mm[i] + (1-b1)*gi
			vi := b2*vv[i] + (1-b2)*gi*gi
			mm[i], vv[i] = mi, vi
			upd := (mi * c1) / (float32(math.Sqrt(float64(vi*c2))) + eps)
			if dm == nil || dm[i] {
				upd += wd * p[i]
			}
			p[i] -= flr * upd
		}
	}
	if pool == nil {
		update(nil, 0, len(params))
		return
	}
	pool.For(len(params), update)
}

// CosineLR is the learning rate at step (0-based) of total: linear warmup to
// peak, then cosine decay to peak·minRatio.
func CosineLR(step, total, warmup int, peak, minRatio float64) float64 {
	if warmup > 0 && step < warmup {
		return peak * float64(step+1) / float64(warmup)
	}
	minLR := peak * minRatio
	span := total - warmup
	if span <= 0 {
		return peak
	}
	progress := math.Min(1, float64(step-warmup)/float64(span))
	return minLR + 0.5*(peak-minLR)*(1+math.Cos(math.Pi*progress))
}

// clipGradNorm scales grads so their global L2 norm is at most maxNorm and
// returns the norm before clipping. maxNorm <= 0 disables clipping. The sum
// is taken in fixed chunks so the result does not depend on the thread count.
func clipGradNorm(pool *gemm.Pool, grads []float32, maxNorm float64) float64 {
	const chunks = 16
	var partial [chunks]float64
	sum := func(_ *gemm.Workspace, lo, hi int) {
		for c := lo; c < hi; c++ {
			var s float64
			for _, g := range grads[c*len(grads)/chunks : (c+1)*len(grads)/chunks] {
				s += float64(g) * float64(g)
			}
			partial[c] = s
		}
	}
	if pool == nil {
		sum(nil, 0, chunks)
	} else {
		pool.For(chunks, sum)
	}
	var s float64
	for _, p := range partial {
		s += p
	}
	norm := math.Sqrt(s)
	if maxNorm > 0 && norm > maxNorm {
		k := float32(maxNorm / (norm + 1e-6))
		for i := range grads {
			grads[i] *= k
		}
	}
	return norm
}
