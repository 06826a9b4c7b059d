package trainer

import (
	"math"
)

// refModel is an independent, deliberately naive float64 GPT-2 written from
// the Hugging Face definition (Conv1D weights as (in,out), the way the
// checkpoint stores them), used to check logits and, by finite differences,
// gradients.
type refModel struct {
	cfg Config
	t   map[string][]float64 // HF names, HF layout
	// LoRA: per "h.%d.<target>" A (r,in), B (out,r), scale
	loraA, loraB map[string][]float64
	loraScale    float64
	rank         int
}

// refFromModel converts our weights to HF layout (transposing linear weights).
func refFromModel(m *Model) *refModel {
	r := &refModel{cfg: m.Config, t: map[string][]float64{}}
	for _, s := range m.Config.layout() {
		src := m.Params[s.offset : s.offset+size(s.shape)]
		d := make([]float64, len(src))
		if len(s.shape) == 2 && s.name != "wte.weight" && s.name != "wpe.weight" {
			out, in := s.shape[0], s.shape[1]
			for o := 0; o < out; o++ {
				for i := 0; i < in; i++ {
					d[i*out+o] = float64(src[o*in+i])
				}
			}
		} else {
			for i, v := range src {
				d[i] = float64(v)
			}
		}
		r.t[s.name] = d
	}
	if lo := m.LoRA; lo != nil {
		r.loraA, r.loraB = map[string][]float64{}, map[string][]float64{}
		r.loraScale = float64(lo.Config.Scale())
		r.rank = lo.Config.Rank
		for l := range lo.layers {
			for t, ll := range lo.layers[l] {
				if ll == nil {
					continue
				}
				k := refKey(l, t)
				r.loraA[k] = f64(ll.A)
				r.loraB[k] = f64(ll.B)
			}
		}
	}
	return r
}

func refKey(l, t int) string { return "h." + itoa(l) + "." + targetNames[t] }

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func f64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

// conv1d: x (T,in) · w (in,out) + b.
func (r *refModel) conv1d(x []float64, T, in, out int, name string, l, target int) []float64 {
	w, b := r.t[name+".weight"], r.t[name+".bias"]
	y := make([]float64, T*out)
	for t := 0; t < T; t++ {
		for o := 0; o < out; o++ {
			s := b[o]
			for i := 0; i < in; i++ {
				s += x[t*in+i] * w[i*out+o]
			}
			y[t*out+o] = s
		}
	}
	if A, ok := r.loraA[refKey(l, target)]; ok {
		B := r.loraB[refKey(l, target)]
		for t := 0; t < T; t++ {
			u := make([]float64, r.rank)
			for k := 0; k < r.rank; k++ {
				for i := 0; i < in; i++ {
					u[k] += x[t*in+i] * A[k*in+i]
				}
			}
			for o := 0; o < out; o++ {
				var s float64
				for k := 0; k < r.rank; k++ {
					s += B[o*r.rank+k] * u[k]
				}
				y[t*out+o] += r.loraScale * s
			}
		}
	}
	return y
}

func (r *refModel) layerNorm(x []float64, T, C int, name string) []float64 {
	w, b := r.t[name+".weight"], r.t[name+".bias"]
	y := make([]float64, len(x))
	for t := 0; t < T; t++ {
		row := x[t*C : t*C+C]
		var m, v float64
		for _, a := range row {
			m += a
		}
		m /= float64(C)
		for _, a := range row {
			v += (a - m) * (a - m)
		}
		v /= float64(C)
		for i, a := range row {
			y[t*C+i] = (a-m)/math.Sqrt(v+1e-5)*w[i] + b[i]
		}
	}
	return y
}

// logits of one sequence: (T,V).
func (r *refModel) logits(tokens []int32) []float64 {
	C, NH, V, T := r.cfg.Channels, r.cfg.NumHeads, r.cfg.VocabSize, len(tokens)
	hs := C / NH
	x := make([]float64, T*C)
	for t, tok := range tokens {
		for i := 0; i < C; i++ {
			x[t*C+i] = r.t["wte.weight"][int(tok)*C+i] + r.t["wpe.weight"][t*C+i]
		}
	}
	for l := 0; l < r.cfg.NumLayers; l++ {
		p := "h." + itoa(l) + "."
		h := r.layerNorm(x, T, C, p+"ln_1")
		qkv := r.conv1d(h, T, C, 3*C, p+"attn.c_attn", l, targetQKV)
		y := make([]float64, T*C)
		for hd := 0; hd < NH; hd++ {
			for t := 0; t < T; t++ {
				sc := make([]float64, t+1)
				mx := math.Inf(-1)
				for s := 0; s <= t; s++ {
					var d float64
					for i := 0; i < hs; i++ {
						d += qkv[t*3*C+hd*hs+i] * qkv[s*3*C+C+hd*hs+i]
					}
					sc[s] = d / math.Sqrt(float64(hs))
					mx = math.Max(mx, sc[s])
				}
				var sum float64
				for s := range sc {
					sc[s] = math.Exp(sc[s] - mx)
					sum += sc[s]
				}
				for s := range sc {
					for i := 0; i < hs; i++ {
						y[t*C+hd*hs+i] += sc[s] / sum * qkv[s*3*C+2*C+hd*hs+i]
					}
				}
			}
		}
		a := r.conv1d(y, T, C, C, p+"attn.c_proj", l, targetAttnProj)
		for i := range x {
			x[i] += a[i]
		}
		h = r.layerNorm(x, T, C, p+"ln_2")
		f := r.conv1d(h, T, C, 4*C, p+"mlp.c_fc", l, targetFC)
		for i, v := range f {
			f[i] = 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		}
		o := r.conv1d(f, T, 4*C, C, p+"mlp.c_proj", l, targetMLPProj)
		for i := range x {
			x[i] += o[i]
		}
	}
	x = r.layerNorm(x, T, C, "ln_f")
	lg := make([]float64, T*V)
	for t := 0; t < T; t++ {
		for v := 0; v < V; v++ {
			var s float64
			for i := 0; i < C; i++ {
				s += x[t*C+i] * r.t["wte.weight"][v*C+i]
			}
			lg[t*V+v] = s
		}
	}
	return lg
}

// loss: mean masked cross-entropy over a batch (B,T).
func (r *refModel) loss(inputs, targets []int32, B, T int) float64 {
	V := r.cfg.VocabSize
	var sum float64
	n := 0
	for b := 0; b < B; b++ {
		lg := r.logits(inputs[b*T : b*T+T])
		for t := 0; t < T; t++ {
			tg := targets[b*T+t]
			if tg < 0 {
				continue
			}
			row := lg[t*V : t*V+V]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, v)
			}
			var s float64
			for _, v := range row {
				s += math.Exp(v - mx)
			}
			sum += -(row[tg] - mx - math.Log(s))
			n++
		}
	}
	return sum / float64(n)
}
