package trainer

import (
	"math"

	"github.com/modelfactory/modelfactory/trainer/gemm"
)

// The layer functions below follow llm.c: each has an explicit forward and a
// hand-written backward, operates on flat row-major slices, and documents
// its shapes. N is the number of token positions (batch·seq). Backward
// functions accumulate (+=) into their gradient outputs; a nil gradient
// output means "frozen, do not compute".

// encoderForward: out (B,T,C) = wte[inp] + wpe[t].
func encoderForward(out []float32, inp []int32, wte, wpe []float32, B, T, C int) {
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			o := out[(b*T+t)*C : (b*T+t+1)*C]
			ix := int(inp[b*T+t])
			we := wte[ix*C : ix*C+C]
			pe := wpe[t*C : t*C+C]
			for i := range o {
				o[i] = we[i] + pe[i]
			}
		}
	}
}

// encoderBackward: dwte[inp] += dout, dwpe[t] += dout.
func encoderBackward(dwte, dwpe, dout []float32, inp []int32, B, T, C int) {
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			d := dout[(b*T+t)*C : (b*T+t+1)*C]
			ix := int(inp[b*T+t])
			dw := dwte[ix*C : ix*C+C]
			dp := dwpe[t*C : t*C+C]
			for i, v := range d {
				dw[i] += v
				dp[i] += v
			}
		}
	}
}

const lnEps = 1e-5

// layernormForward: out (N,C) = (inp-mean)·rstd·w + b; mean, rstd (N).
func layernormForward(p *gemm.Pool, out, mean, rstd, inp, w, bias []float32, N, C int) {
	p.For(N, func(_ *gemm.Workspace, lo, hi int) {
		for n := lo; n < hi; n++ {
			x := inp[n*C : n*C+C]
			var m float32
			for _, v := range x {
				m += v
			}
			m /= float32(C)
			var va float32
			for _, v := range x {
				d := v - m
				va += d * d
			}
			va /= float32(C)
			s := float32(1 / math.Sqrt(float64(va)+lnEps))
			o := out[n*C : n*C+C]
			for i, v := range x {
				o[i] = (v-m)*s*w[i] + bias[i]
			}
			mean[n], rstd[n] = m, s
		}
	})
}

// layernormBackward: dinp (N,C) += ..., dw, db (C) += ... (nil when frozen).
// Rows are split across workers for dinp, channels for dw and db, so no
// reduction between workers is needed and the result is deterministic.
func layernormBackward(p *gemm.Pool, dinp, dw, db, dout, inp, w, mean, rstd []float32, N, C int) {
	p.For(N, func(_ *gemm.Workspace, lo, hi int) {
		for n := lo; n < hi; n++ {
			d := dout[n*C : n*C+C]
			x := inp[n*C : n*C+C]
			di := dinp[n*C : n*C+C]
			m, s := mean[n], rstd[n]
			var dnormMean, dnormNormMean float32
			for i, v := range d {
				norm := (x[i] - m) * s
				dn := w[i] * v
				dnormMean += dn
				dnormNormMean += dn * norm
			}
			dnormMean /= float32(C)
			dnormNormMean /= float32(C)
			for i, v := range d {
				norm := (x[i] - m) * s
				dn := w[i] * v
				di[i] += (dn - dnormMean - norm*dnormNormMean) * s
			}
		}
	})
	if dw == nil {
		return
	}
	p.For(C, func(_ *gemm.Workspace, lo, hi int) {
		dwr, dbr := dw[lo:hi], db[lo:hi]
		for n := 0; n < N; n++ {
			d := dout[n*C+lo : n*C+hi]
			x := inp[n*C+lo : n*C+hi]
			m, s := mean[n], rstd[n]
			for i, v := range d {
				dbr[i] += v
				dwr[i] += (x[i] - m) * s * v
			}
		}
	})
}

// matmulForward: out (N,OC) = inp (N,C) · wᵀ + bias, w (OC,C), bias (OC) or nil.
func matmulForward(p *gemm.Pool, out, inp, w, bias []float32, N, C, OC int) {
	beta := float32(0)
	if bias != nil {
		for n := 0; n < N; n++ {
			copy(out[n*OC:n*OC+OC], bias)
		}
		beta = 1
	}
	p.Sgemm(false, true, N, OC, C, inp, C, w, C, beta, out, OC)
}

// matmulBackward: dinp (N,C) += dout·w, dw (OC,C) += doutᵀ·inp, dbias (OC)
// += Σ dout. dinp, dw or dbias may be nil.
func matmulBackward(p *gemm.Pool, dinp, dw, dbias, dout, inp, w []float32, N, C, OC int) {
	if dinp != nil {
		p.Sgemm(false, false, N, C, OC, dout, OC, w, C, 1, dinp, C)
	}
	if dw != nil {
		p.Sgemm(true, false, OC, C, N, dout, OC, inp, C, 1, dw, C)
	}
	if dbias != nil {
		p.For(OC, func(_ *gemm.Workspace, lo, hi int) {
			db := dbias[lo:hi]
			for n := 0; n < N; n++ {
				for i, v := range dout[n*OC+lo : n*OC+hi] {
					db[i] += v
				}
			}
		})
	}
}

// attentionForward: out (B,T,C) from qkv (B,T,3C) with causal softmax
// attention per head; att (B,NH,T,T) keeps the probabilities for backward.
func attentionForward(p *gemm.Pool, out, att, qkv []float32, B, T, C, NH int) {
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	p.For(B*NH, func(ws *gemm.Workspace, lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			q := qkv[b*T*3*C+h*hs:]
			k := qkv[b*T*3*C+C+h*hs:]
			v := qkv[b*T*3*C+2*C+h*hs:]
			a := att[bh*T*T : (bh+1)*T*T]
			// scores (T,T) = q·kᵀ
			ws.Sgemm(false, true, T, T, hs, q, 3*C, k, 3*C, 0, a, T)
			for t := 0; t < T; t++ {
				row := a[t*T : t*T+T]
				softmaxCausal(row, t, scale)
			}
			// out (T,hs) = att·v
			ws.Sgemm(false, false, T, hs, T, a, T, v, 3*C, 0, out[b*T*C+h*hs:], C)
		}
	})
}

// softmaxCausal replaces row[0..t] by softmax(scale·row[0..t]) and zeros the
// future positions.
func softmaxCausal(row []float32, t int, scale float32) {
	maxv := float32(math.Inf(-1))
	for j := 0; j <= t; j++ {
		if v := row[j] * scale; v > maxv {
			maxv = v
		}
	}
	r := row[:t+1]
	for j := range r {
		r[j] *= scale
	}
	sum := expSum(r, r, maxv)
	inv := 1 / sum
	for j := 0; j <= t; j++ {
		row[j] *= inv
	}
	clear(row[t+1:])
}

// attentionBackward: dqkv (B,T,3C) += ... from dout (B,T,C), qkv and att.
func attentionBackward(p *gemm.Pool, dqkv, dout, qkv, att []float32, B, T, C, NH int) {
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	p.For(B*NH, func(ws *gemm.Workspace, lo, hi int) {
		datt := ws.Scratch(T * T)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b * T * 3 * C
			q, k, v := qkv[base+h*hs:], qkv[base+C+h*hs:], qkv[base+2*C+h*hs:]
			dq, dk, dv := dqkv[base+h*hs:], dqkv[base+C+h*hs:], dqkv[base+2*C+h*hs:]
			a := att[bh*T*T : (bh+1)*T*T]
			do := dout[b*T*C+h*hs:]
			// datt (T,T) = dout·vᵀ ; dv (T,hs) += attᵀ·dout
			ws.Sgemm(false, true, T, T, hs, do, C, v, 3*C, 0, datt, T)
			ws.Sgemm(true, false, T, hs, T, a, T, do, C, 1, dv, 3*C)
			// softmax backward, folding in the score scale.
			for t := 0; t < T; t++ {
				ar := a[t*T : t*T+t+1]
				dr := datt[t*T : t*T+T]
				var dot float32
				for j, av := range ar {
					dot += av * dr[j]
				}
				for j, av := range ar {
					dr[j] = av * (dr[j] - dot) * scale
				}
				clear(dr[t+1:])
			}
			// dq (T,hs) += dpre·k ; dk (T,hs) += dpreᵀ·q
			ws.Sgemm(false, false, T, hs, T, datt, T, k, 3*C, 1, dq, 3*C)
			ws.Sgemm(true, false, T, hs, T, datt, T, q, 3*C, 1, dk, 3*C)
		}
	})
}

const geluScale = 0.7978845608028654 // sqrt(2/pi)

// geluForward: out (N) = GELU(inp) with GPT-2's tanh approximation.
func geluForward(p *gemm.Pool, out, inp []float32) {
	p.For(len(inp), func(_ *gemm.Workspace, lo, hi int) {
		lo += geluFwdVec(out[lo:hi], inp[lo:hi])
		for i := lo; i < hi; i++ {
			x := inp[i]
			out[i] = 0.5 * x * (1 + tanhf(geluScale*(x+0.044715*x*x*x)))
		}
	})
}

// geluBackward: dinp (N) = GELU'(inp)·dout (overwrites dinp).
func geluBackward(p *gemm.Pool, dinp, inp, dout []float32) {
	p.For(len(inp), func(_ *gemm.Workspace, lo, hi int) {
		lo += geluBwdVec(dinp[lo:hi], inp[lo:hi], dout[lo:hi])
		for i := lo; i < hi; i++ {
			x := inp[i]
			cube := 0.044715 * x * x * x
			th := tanhf(geluScale * (x + cube))
			sech2 := 1 - th*th
			g := 0.5*(1+th) + x*0.5*sech2*geluScale*(1+3*0.044715*x*x)
			dinp[i] = g * dout[i]
		}
	})
}

// residualForward: out = a + b.
func residualForward(p *gemm.Pool, out, a, b []float32) {
	p.For(len(out), func(_ *gemm.Workspace, lo, hi int) {
		o, x, y := out[lo:hi], a[lo:hi], b[lo:hi]
		for i := range o {
			o[i] = x[i] + y[i]
		}
	})
}

// softmaxCrossEntropy turns logits (N,V) into probabilities in place and
// writes losses (N); a target < 0 masks the position (loss 0).
func softmaxCrossEntropy(p *gemm.Pool, logits, losses []float32, targets []int32, N, V int) {
	p.For(N, func(_ *gemm.Workspace, lo, hi int) {
		for n := lo; n < hi; n++ {
			row := logits[n*V : n*V+V]
			maxv := row[0]
			for _, v := range row {
				if v > maxv {
					maxv = v
				}
			}
			sum := expSum(row, row, maxv)
			inv := 1 / sum
			for i := range row {
				row[i] *= inv
			}
			if t := targets[n]; t >= 0 {
				losses[n] = -float32(math.Log(float64(max(row[t], 1e-30))))
			} else {
				losses[n] = 0
			}
		}
	})
}

// crossEntropyBackward turns probabilities (N,V) into dlogits in place:
// (probs - onehot)·dloss[n]; masked positions get zero gradient.
func crossEntropyBackward(p *gemm.Pool, probs []float32, targets []int32, dloss []float32, N, V int) {
	p.For(N, func(_ *gemm.Workspace, lo, hi int) {
		for n := lo; n < hi; n++ {
			row := probs[n*V : n*V+V]
			t := targets[n]
			d := dloss[n]
			if t < 0 || d == 0 {
				clear(row)
				continue
			}
			for i := range row {
				row[i] *= d
			}
			row[t] -= d
		}
	})
}
