package trainer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelfactory/modelfactory/trainer/gemm"
)

var testCfg = Config{MaxSeqLen: 8, VocabSize: 11, NumLayers: 2, NumHeads: 2, Channels: 8}

func newTestModel(t testing.TB, cfg Config, seed uint64) *Model {
	t.Helper()
	pool := gemm.NewPool(2)
	t.Cleanup(pool.Close)
	m, err := NewModel(cfg, pool)
	if err != nil {
		t.Fatal(err)
	}
	m.InitRandom(seed)
	// Larger weights than GPT-2's init and non-trivial norms/biases, so that
	// every term of every gradient matters.
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range m.Params {
		m.Params[i] += float32(r.NormFloat64() * 0.2)
	}
	return m
}

func randBatch(r *rand.Rand, B, T, V int, maskSome bool) (in, tg []int32) {
	in, tg = make([]int32, B*T), make([]int32, B*T)
	for i := range in {
		in[i] = int32(r.IntN(V))
		tg[i] = int32(r.IntN(V))
		if maskSome && i%3 == 0 {
			tg[i] = -1
		}
	}
	return in, tg
}

func TestLogitsMatchNaiveReference(t *testing.T) {
	m := newTestModel(t, testCfg, 1)
	r := rand.New(rand.NewPCG(2, 2))
	B, T := 3, 7
	in, _ := randBatch(r, B, T, testCfg.VocabSize, false)
	if _, err := m.Forward(in, nil, B, T); err != nil {
		t.Fatal(err)
	}
	got := m.Logits()
	ref := refFromModel(m)
	V := testCfg.VocabSize
	for b := 0; b < B; b++ {
		want := ref.logits(in[b*T : b*T+T])
		for i, w := range want {
			if g := float64(got[b*T*V+i]); math.Abs(g-w) > 1e-4*(1+math.Abs(w)) {
				t.Fatalf("batch %d logit %d = %v, reference %v", b, i, g, w)
			}
		}
	}
}

// hfIndex maps element i of our tensor s to its index in the HF layout.
func hfIndex(s tensorSpec, i int) int {
	if len(s.shape) == 2 && s.name != "wte.weight" && s.name != "wpe.weight" {
		out, in := s.shape[0], s.shape[1]
		o, k := i/in, i%in
		return k*out + o
	}
	return i
}

func TestFullModelGradientMatchesFiniteDifferences(t *testing.T) {
	m := newTestModel(t, testCfg, 3)
	r := rand.New(rand.NewPCG(4, 4))
	B, T := 2, 6
	in, tg := randBatch(r, B, T, testCfg.VocabSize, true)
	if _, err := m.Forward(in, tg, B, T); err != nil {
		t.Fatal(err)
	}
	m.ZeroGrad()
	if err := m.Backward(1); err != nil {
		t.Fatal(err)
	}
	ref := refFromModel(m)
	const eps = 1e-5
	checked := 0
	for _, s := range testCfg.layout() {
		tensor := ref.t[s.name]
		for i := 0; i < size(s.shape); i++ {
			j := hfIndex(s, i)
			orig := tensor[j]
			tensor[j] = orig + eps
			lp := ref.loss(in, tg, B, T)
			tensor[j] = orig - eps
			lm := ref.loss(in, tg, B, T)
			tensor[j] = orig
			fd := (lp - lm) / (2 * eps)
			g := float64(m.Grads[s.offset+i])
			if math.Abs(g-fd) > 2e-4+2e-3*math.Abs(fd) {
				t.Fatalf("%s[%d]: gradient %v, finite difference %v", s.name, i, g, fd)
			}
			checked++
		}
	}
	if checked != testCfg.NumParams() {
		t.Fatalf("checked %d of %d parameters", checked, testCfg.NumParams())
	}
}

func TestLoRAGradientMatchesFiniteDifferences(t *testing.T) {
	m := newTestModel(t, testCfg, 5)
	lo, err := NewLoRA(testCfg, LoRAConfig{Rank: 2, Alpha: 4, Targets: []string{"c_attn", "c_proj", "c_fc"}}, 9)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(6, 6))
	for i := range lo.Params {
		lo.Params[i] = float32(r.NormFloat64() * 0.3) // B non-zero so dA is non-trivial
	}
	m.LoRA = lo
	B, T := 2, 5
	in, tg := randBatch(r, B, T, testCfg.VocabSize, true)
	if _, err := m.Forward(in, tg, B, T); err != nil {
		t.Fatal(err)
	}
	m.ZeroGrad()
	if err := m.Backward(1); err != nil {
		t.Fatal(err)
	}
	if m.Grads != nil {
		t.Fatal("LoRA backward allocated base gradients")
	}
	ref := refFromModel(m)
	const eps = 1e-5
	n := 0
	for l := range lo.layers {
		for tt, ll := range lo.layers[l] {
			if ll == nil {
				continue
			}
			for _, pair := range []struct {
				ref  []float64
				grad []float32
			}{{ref.loraA[refKey(l, tt)], ll.dA}, {ref.loraB[refKey(l, tt)], ll.dB}} {
				for i := range pair.ref {
					orig := pair.ref[i]
					pair.ref[i] = orig + eps
					lp := ref.loss(in, tg, B, T)
					pair.ref[i] = orig - eps
					lm := ref.loss(in, tg, B, T)
					pair.ref[i] = orig
					fd := (lp - lm) / (2 * eps)
					if g := float64(pair.grad[i]); math.Abs(g-fd) > 2e-4+2e-3*math.Abs(fd) {
						t.Fatalf("layer %d %s: gradient %v, finite difference %v", l, targetNames[tt], g, fd)
					}
					n++
				}
			}
		}
	}
	if n != len(lo.Params) {
		t.Fatalf("checked %d of %d LoRA parameters", n, len(lo.Params))
	}
}

func TestLoRAMergeMatchesUnmerged(t *testing.T) {
	m := newTestModel(t, testCfg, 7)
	lo, err := NewLoRA(testCfg, LoRAConfig{Rank: 3, Alpha: 6, Targets: []string{"c_attn", "attn.c_proj", "c_fc", "mlp.c_proj"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(8, 8))
	for i := range lo.Params {
		lo.Params[i] = float32(r.NormFloat64() * 0.3)
	}
	m.LoRA = lo
	in, _ := randBatch(r, 1, 6, testCfg.VocabSize, false)
	if _, err := m.Forward(in, nil, 1, 6); err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), m.Logits()...)
	if err := lo.MergeInto(m); err != nil {
		t.Fatal(err)
	}
	m.LoRA = nil
	if _, err := m.Forward(in, nil, 1, 6); err != nil {
		t.Fatal(err)
	}
	for i, g := range m.Logits() {
		if math.Abs(float64(g-want[i])) > 1e-4 {
			t.Fatalf("merged logit %d = %v, unmerged %v", i, g, want[i])
		}
	}
}

func TestForwardRejectsBadInput(t *testing.T) {
	m := newTestModel(t, testCfg, 1)
	cases := []struct {
		in, tg []int32
		B, T   int
	}{
		{[]int32{1, 2}, nil, 1, 3},
		{[]int32{1, 99}, nil, 1, 2},
		{[]int32{1, -2}, nil, 1, 2},
		{[]int32{1, 2}, []int32{1, 50}, 1, 2},
		{make([]int32, 9), nil, 1, 9},
		{nil, nil, 0, 0},
	}
	for i, c := range cases {
		if _, err := m.Forward(c.in, c.tg, c.B, c.T); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	if err := (Config{MaxSeqLen: 4, VocabSize: 4, NumLayers: 1, NumHeads: 3, Channels: 8}).Validate(); err == nil {
		t.Error("heads not dividing channels accepted")
	}
}

// TestEveryKernelGivesTheSameModel runs the reference comparison and a
// backward pass on each GEMM kernel this CPU has, including the portable one.
func TestEveryKernelGivesTheSameModel(t *testing.T) {
	src := newTestModel(t, testCfg, 51)
	ref := refFromModel(src)
	r := rand.New(rand.NewPCG(5, 1))
	B, T := 2, 7
	in, tg := randBatch(r, B, T, testCfg.VocabSize, true)
	var grads [][]float32
	for _, k := range gemm.Kernels() {
		pool, err := gemm.NewPoolKernel(2, k)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		m, _ := NewModel(testCfg, pool)
		copy(m.Params, src.Params)
		if _, err := m.Forward(in, nil, B, T); err != nil {
			t.Fatal(err)
		}
		want := ref.logits(in[:T])
		for i, w := range want {
			if g := float64(m.Logits()[i]); math.Abs(g-w) > 1e-4*(1+math.Abs(w)) {
				t.Fatalf("kernel %s: logit %d = %v, reference %v", k, i, g, w)
			}
		}
		m.Forward(in, tg, B, T)
		m.ZeroGrad()
		m.Backward(1)
		grads = append(grads, append([]float32(nil), m.Grads...))
	}
	for k := 1; k < len(grads); k++ {
		for i := range grads[0] {
			if d := math.Abs(float64(grads[k][i] - grads[0][i])); d > 1e-5+1e-4*math.Abs(float64(grads[0][i])) {
				t.Fatalf("kernel %s gradient %d = %v, %s gives %v", gemm.Kernels()[k], i, grads[k][i], gemm.Kernels()[0], grads[0][i])
			}
		}
	}
}
