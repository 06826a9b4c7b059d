package trainer

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAnswerLogLikGradient(t *testing.T) {
	m := newTestModel(t, testCfg, 31)
	lo, _ := NewLoRA(testCfg, LoRAConfig{Rank: 2, Alpha: 2, Dropout: 0.3, Targets: []string{"c_attn", "c_fc"}}, 2)
	r := rand.New(rand.NewPCG(1, 5))
	for i := range lo.Params {
		lo.Params[i] = float32(r.NormFloat64() * 0.3)
	}
	m.LoRA = lo
	prompt, answer := []int32{1, 2, 3}, []int32{4, 5}
	g := make([]float32, len(lo.Params))
	ll, err := m.AnswerLogLikGradient(prompt, answer, g)
	if err != nil {
		t.Fatal(err)
	}
	// Reference log-likelihood from the float64 model.
	ref := refFromModel(m)
	logp := func() float64 {
		seq := []int32{1, 2, 3, 4}
		lg := ref.logits(seq)
		V := testCfg.VocabSize
		var s float64
		for i, tok := range answer {
			row := lg[(len(prompt)-1+i)*V : (len(prompt)+i)*V]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, v)
			}
			var z float64
			for _, v := range row {
				z += math.Exp(v - mx)
			}
			s += row[tok] - mx - math.Log(z)
		}
		return s
	}
	if want := logp(); math.Abs(ll-want) > 1e-4 {
		t.Fatalf("log-likelihood %v, reference %v", ll, want)
	}
	// Finite differences on a few adapter entries of every matrix.
	for _, pr := range lo.Ranges() {
		l, tgt := pr.Layer, pr.Target
		ti := 0
		for i, n := range targetNames {
			if n == tgt {
				ti = i
			}
		}
		mat := ref.loraA[refKey(l, ti)]
		if pr.Matrix == "B" {
			mat = ref.loraB[refKey(l, ti)]
		}
		for _, i := range []int{0, pr.Len / 2, pr.Len - 1} {
			orig := mat[i]
			mat[i] = orig + 1e-5
			lp := logp()
			mat[i] = orig - 1e-5
			lm := logp()
			mat[i] = orig
			fd := (lp - lm) / 2e-5
			if got := float64(g[pr.Offset+i]); math.Abs(got-fd) > 2e-4+2e-3*math.Abs(fd) {
				t.Fatalf("layer %d %s %s[%d]: gradient %v, finite difference %v", l, tgt, pr.Matrix, i, got, fd)
			}
		}
	}
	// The per-example training gradient is deterministic (dropout off).
	g1, g2 := make([]float32, len(g)), make([]float32, len(g))
	in, tg := []int32{1, 2, 3, 4}, []int32{-1, 3, 4, 5}
	if _, err := m.ExampleGradient(in, tg, g1); err != nil {
		t.Fatal(err)
	}
	m.ExampleGradient(in, tg, g2)
	for i := range g1 {
		if g1[i] != g2[i] {
			t.Fatal("example gradient not deterministic")
		}
	}
	if _, err := m.ExampleGradient(in, tg, g1[:3]); err == nil {
		t.Fatal("short dst accepted")
	}
}

func TestExampleGradientsBatchedMatchSingle(t *testing.T) {
	m := newTestModel(t, testCfg, 41)
	lo, _ := NewLoRA(testCfg, LoRAConfig{Rank: 3, Alpha: 6, Targets: []string{"c_attn", "c_proj", "c_fc"}}, 2)
	r := rand.New(rand.NewPCG(4, 4))
	for i := range lo.Params {
		lo.Params[i] = float32(r.NormFloat64() * 0.3)
	}
	m.LoRA = lo
	B, T := 3, testCfg.MaxSeqLen
	in, tg := randBatch(r, B, T, testCfg.VocabSize, true)
	dst := make([][]float32, B)
	for b := range dst {
		dst[b] = make([]float32, len(lo.Params))
	}
	losses, err := m.ExampleGradients(in, tg, B, T, dst)
	if err != nil {
		t.Fatal(err)
	}
	one := make([]float32, len(lo.Params))
	for b := 0; b < B; b++ {
		loss, err := m.ExampleGradient(in[b*T:(b+1)*T], tg[b*T:(b+1)*T], one)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(loss-losses[b])) > 1e-5 {
			t.Fatalf("row %d: batched loss %v, single %v", b, losses[b], loss)
		}
		for i := range one {
			if math.Abs(float64(one[i]-dst[b][i])) > 1e-5+1e-4*math.Abs(float64(one[i])) {
				t.Fatalf("row %d param %d: batched %v, single %v", b, i, dst[b][i], one[i])
			}
		}
	}
	if _, err := m.ExampleGradients(in, tg, B, T, dst[:2]); err == nil {
		t.Fatal("wrong dst count accepted")
	}
}
