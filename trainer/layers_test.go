package trainer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelfactory/modelfactory/trainer/gemm"
)

// checkGrad compares an analytic gradient with central finite differences
// of loss (computed by re-running the fp32 forward) for every element of x.
func checkGrad(t *testing.T, name string, x, grad []float32, loss func() float64) {
	t.Helper()
	const eps = 5e-3
	for i := range x {
		orig := x[i]
		x[i] = orig + eps
		lp := loss()
		x[i] = orig - eps
		lm := loss()
		x[i] = orig
		fd := (lp - lm) / (2 * eps)
		if g := float64(grad[i]); math.Abs(g-fd) > 3e-3+2e-2*math.Abs(fd) {
			t.Fatalf("%s[%d]: backward %v, finite difference %v", name, i, g, fd)
		}
	}
}

func randn(r *rand.Rand, n int, std float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * std)
	}
	return s
}

func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestLayerGradients(t *testing.T) {
	p := gemm.NewPool(2)
	defer p.Close()
	r := rand.New(rand.NewPCG(1, 9))
	const B, T, C, NH, OC, V = 2, 5, 8, 2, 6, 7
	N := B * T

	t.Run("layernorm", func(t *testing.T) {
		inp, w, b := randn(r, N*C, 1), randn(r, C, 1), randn(r, C, 1)
		dout := randn(r, N*C, 1)
		out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
		loss := func() float64 { layernormForward(p, out, mean, rstd, inp, w, b, N, C); return dot64(out, dout) }
		loss()
		dinp, dw, db := make([]float32, N*C), make([]float32, C), make([]float32, C)
		layernormBackward(p, dinp, dw, db, dout, inp, w, mean, rstd, N, C)
		checkGrad(t, "dinp", inp, dinp, loss)
		checkGrad(t, "dw", w, dw, loss)
		checkGrad(t, "db", b, db, loss)
	})
	t.Run("matmul", func(t *testing.T) {
		inp, w, b := randn(r, N*C, 1), randn(r, OC*C, 1), randn(r, OC, 1)
		dout := randn(r, N*OC, 1)
		out := make([]float32, N*OC)
		loss := func() float64 { matmulForward(p, out, inp, w, b, N, C, OC); return dot64(out, dout) }
		dinp, dw, db := make([]float32, N*C), make([]float32, OC*C), make([]float32, OC)
		matmulBackward(p, dinp, dw, db, dout, inp, w, N, C, OC)
		checkGrad(t, "dinp", inp, dinp, loss)
		checkGrad(t, "dw", w, dw, loss)
		checkGrad(t, "db", b, db, loss)
	})
	t.Run("attention", func(t *testing.T) {
		qkv := randn(r, N*3*C, 1)
		dout := randn(r, N*C, 1)
		out, att := make([]float32, N*C), make([]float32, B*NH*T*T)
		loss := func() float64 { attentionForward(p, out, att, qkv, B, T, C, NH); return dot64(out, dout) }
		loss()
		dqkv := make([]float32, N*3*C)
		attentionBackward(p, dqkv, dout, qkv, att, B, T, C, NH)
		checkGrad(t, "dqkv", qkv, dqkv, loss)
	})
	t.Run("gelu", func(t *testing.T) {
		inp := randn(r, N*C, 2)
		dout := randn(r, N*C, 1)
		out := make([]float32, N*C)
		loss := func() float64 { geluForward(p, out, inp); return dot64(out, dout) }
		dinp := make([]float32, N*C)
		geluBackward(p, dinp, inp, dout)
		checkGrad(t, "dinp", inp, dinp, loss)
	})
	t.Run("softmax_crossentropy", func(t *testing.T) {
		logits := randn(r, N*V, 2)
		targets := make([]int32, N)
		for i := range targets {
			targets[i] = int32(r.IntN(V))
		}
		targets[3] = -1
		dloss := randn(r, N, 1)
		buf, losses := make([]float32, N*V), make([]float32, N)
		loss := func() float64 {
			copy(buf, logits)
			softmaxCrossEntropy(p, buf, losses, targets, N, V)
			return dot64(losses, dloss)
		}
		loss()
		crossEntropyBackward(p, buf, targets, dloss, N, V)
		checkGrad(t, "dlogits", logits, append([]float32(nil), buf...), loss)
	})
	t.Run("encoder", func(t *testing.T) {
		wte, wpe := randn(r, V*C, 1), randn(r, T*C, 1)
		inp := make([]int32, N)
		for i := range inp {
			inp[i] = int32(r.IntN(V))
		}
		dout := randn(r, N*C, 1)
		out := make([]float32, N*C)
		loss := func() float64 { encoderForward(out, inp, wte, wpe, B, T, C); return dot64(out, dout) }
		dwte, dwpe := make([]float32, V*C), make([]float32, T*C)
		encoderBackward(dwte, dwpe, dout, inp, B, T, C)
		checkGrad(t, "dwte", wte, dwte, loss)
		checkGrad(t, "dwpe", wpe, dwpe, loss)
	})
}
