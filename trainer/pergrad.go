package trainer

import (
	"errors"
	"fmt"
)

// ParamRange locates one adapter matrix inside LoRA.Params (and inside the
// flat gradients returned by ExampleGradient).
type ParamRange struct {
	Layer  int
	Target string // TargetAttn, ...
	Matrix string // "A" (r,in) or "B" (out,r)
	Offset int
	Len    int
}

// Ranges lists the adapter matrices in flat order, so a flat gradient can be
// split per layer.
func (lo *LoRA) Ranges() []ParamRange {
	var out []ParamRange
	off := 0
	for l, layer := range lo.layers {
		for t, ll := range layer {
			if ll == nil {
				continue
			}
			out = append(out, ParamRange{l, targetNames[t], "A", off, len(ll.A)})
			off += len(ll.A)
			out = append(out, ParamRange{l, targetNames[t], "B", off, len(ll.B)})
			off += len(ll.B)
		}
	}
	return out
}

// ExampleGradient writes into dst (len(m.LoRA.Params)) the gradient, with
// respect to the LoRA parameters only, of one example's mean loss over its
// unmasked targets (targets[i] = -1 masks position i), and returns the loss.
// No base weight gradient is formed and dropout is off.
func (m *Model) ExampleGradient(inputs, targets []int32, dst []float32) (float32, error) {
	if m.LoRA == nil {
		return 0, errors.New("example gradient: model has no LoRA adapter")
	}
	if len(dst) != len(m.LoRA.Params) {
		return 0, fmt.Errorf("example gradient: dst has %d floats, adapter has %d", len(dst), len(m.LoRA.Params))
	}
	training := m.Training
	m.Training = false
	defer func() { m.Training = training }()
	in, tg := m.padExample(inputs, targets)
	loss, err := m.Forward(in, tg, 1, len(in))
	if err != nil {
		return 0, fmt.Errorf("example gradient: %w", err)
	}
	m.ZeroGrad()
	if err := m.Backward(1); err != nil {
		return 0, fmt.Errorf("example gradient: %w", err)
	}
	copy(dst, m.LoRA.Grads)
	return loss, nil
}

// AnswerLogLikGradient writes into dst the gradient, with respect to the LoRA
// parameters, of log p(answer | prompt) (the sum over answer tokens), and
// returns that log-likelihood. This is the test-side input of Proof of
// Attribution.
func (m *Model) AnswerLogLikGradient(prompt, answer []int32, dst []float32) (float64, error) {
	if len(prompt) == 0 || len(answer) == 0 {
		return 0, errors.New("answer gradient: prompt and answer must be non-empty")
	}
	seq := append(append([]int32{}, prompt...), answer...)
	inputs := seq[:len(seq)-1]
	targets := make([]int32, len(inputs))
	for i := range targets {
		if i+1 >= len(prompt) {
			targets[i] = seq[i+1]
		} else {
			targets[i] = -1
		}
	}
	if m.LoRA == nil {
		return 0, errors.New("answer gradient: model has no LoRA adapter")
	}
	if len(dst) != len(m.LoRA.Params) {
		return 0, fmt.Errorf("answer gradient: dst has %d floats, adapter has %d", len(dst), len(m.LoRA.Params))
	}
	training := m.Training
	m.Training = false
	defer func() { m.Training = training }()
	in, tg := m.padExample(inputs, targets)
	loss, err := m.Forward(in, tg, 1, len(in))
	if err != nil {
		return 0, fmt.Errorf("answer gradient: %w", err)
	}
	n := float32(len(answer))
	m.ZeroGrad()
	// d(Σ log p)/dθ = -n · d(mean loss)/dθ
	if err := m.Backward(-n); err != nil {
		return 0, fmt.Errorf("answer gradient: %w", err)
	}
	copy(dst, m.LoRA.Grads)
	return -float64(loss) * float64(n), nil
}

// exampleBucket is the length granularity of per-example passes: examples
// are padded up to a multiple of it so that activation buffers are reused
// across examples of different lengths instead of reallocated. Padding at
// the end is exact: attention is causal and padded targets are masked.
const exampleBucket = 64

func (m *Model) padExample(inputs, targets []int32) ([]int32, []int32) {
	n := len(inputs)
	if n == 0 || n > m.Config.MaxSeqLen || len(targets) != n {
		return inputs, targets // Forward reports the problem
	}
	p := min(m.Config.MaxSeqLen, (n+exampleBucket-1)/exampleBucket*exampleBucket)
	if p == n {
		return inputs, targets
	}
	in := make([]int32, p)
	tg := make([]int32, p)
	copy(in, inputs)
	copy(tg, targets)
	for i := n; i < p; i++ {
		tg[i] = -1
	}
	return in, tg
}

// ExampleGradients is ExampleGradient for a batch in one pass: row b of
// inputs/targets (B,T) is one example, and dst[b] (len(m.LoRA.Params))
// receives the gradient of that row's mean loss with respect to the LoRA
// parameters; the per-row losses are returned. The forward and the
// backward through the frozen base run batched; only the adapters' weight
// gradients are formed per row.
func (m *Model) ExampleGradients(inputs, targets []int32, B, T int, dst [][]float32) ([]float32, error) {
	lo := m.LoRA
	if lo == nil {
		return nil, errors.New("example gradients: model has no LoRA adapter")
	}
	if len(dst) != B {
		return nil, fmt.Errorf("example gradients: %d destinations for %d rows", len(dst), B)
	}
	for b, d := range dst {
		if len(d) != len(lo.Params) {
			return nil, fmt.Errorf("example gradients: dst[%d] has %d floats, adapter has %d", b, len(d), len(lo.Params))
		}
		clear(d)
	}
	training := m.Training
	m.Training = false
	defer func() { m.Training = training }()
	if _, err := m.Forward(inputs, targets, B, T); err != nil {
		return nil, fmt.Errorf("example gradients: %w", err)
	}
	losses := make([]float32, B)
	for b := 0; b < B; b++ {
		var s float64
		n := 0
		for i := b * T; i < (b+1)*T; i++ {
			if targets[i] >= 0 {
				s += float64(m.acts.losses[i])
				n++
			}
		}
		if n > 0 {
			losses[b] = float32(s / float64(n))
		}
	}
	lo.perExample, lo.rowsPer = dst, T
	defer func() { lo.perExample = nil }()
	if err := m.Backward(1); err != nil {
		return nil, fmt.Errorf("example gradients: %w", err)
	}
	return losses, nil
}
