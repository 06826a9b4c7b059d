package trainer

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/safetensors"
)

// writeHFDir writes a checkpoint the way transformers does, from the
// reference's HF-layout tensors, with the given name prefix.
func writeHFDir(t *testing.T, dir string, ref *refModel, prefix string, edit func(map[string]safetensors.Tensor)) {
	t.Helper()
	tensors := map[string]safetensors.Tensor{}
	for _, s := range ref.cfg.layout() {
		d := ref.t[s.name]
		f := make([]float32, len(d))
		for i, v := range d {
			f[i] = float32(v)
		}
		shape := s.shape
		if isConv1D(s.name) {
			shape = []int{s.shape[1], s.shape[0]}
		}
		tensors[prefix+s.name] = safetensors.F32(f, shape...)
	}
	// The causal-mask buffer real GPT-2 checkpoints carry must be ignored.
	tensors[prefix+"h.0.attn.bias"] = safetensors.F32(make([]float32, 4), 1, 1, 2, 2)
	if edit != nil {
		edit(tensors)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, ModelWeightsFile), tensors, nil); err != nil {
		t.Fatal(err)
	}
	c := ref.cfg
	cj, _ := json.Marshal(map[string]any{"model_type": "gpt2", "vocab_size": c.VocabSize, "n_positions": c.MaxSeqLen,
		"n_embd": c.Channels, "n_layer": c.NumLayers, "n_head": c.NumHeads, "n_inner": nil, "activation_function": "gelu_new"})
	if err := os.WriteFile(filepath.Join(dir, ModelConfigFile), cj, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadHuggingFaceCheckpoint(t *testing.T) {
	src := newTestModel(t, testCfg, 11)
	ref := refFromModel(src)
	pool := gemm.NewPool(2)
	defer pool.Close()
	for _, prefix := range []string{"", "transformer."} {
		dir := filepath.Join(t.TempDir(), "m")
		writeHFDir(t, dir, ref, prefix, nil)
		m, err := LoadModel(dir, pool)
		if err != nil {
			t.Fatal(err)
		}
		if m.Config != testCfg {
			t.Fatalf("config %+v", m.Config)
		}
		in := []int32{3, 1, 4, 1, 5, 9}
		if _, err := m.Forward(in, nil, 1, len(in)); err != nil {
			t.Fatal(err)
		}
		want := ref.logits(in)
		for i, g := range m.Logits() {
			if math.Abs(float64(g)-want[i]) > 1e-4 {
				t.Fatalf("prefix %q: logit %d = %v, reference %v", prefix, i, g, want[i])
			}
		}
	}
}

func TestModelSaveLoadByteStable(t *testing.T) {
	m := newTestModel(t, testCfg, 12)
	d1, d2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if err := m.Save(d1); err != nil {
		t.Fatal(err)
	}
	m2, err := LoadModel(d1, m.Pool())
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Save(d2); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ModelWeightsFile, ModelConfigFile} {
		a, _ := os.ReadFile(filepath.Join(d1, f))
		b, _ := os.ReadFile(filepath.Join(d2, f))
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs after a round trip", f)
		}
	}
	for i := range m.Params {
		if m.Params[i] != m2.Params[i] {
			t.Fatalf("param %d changed", i)
		}
	}
}

func TestLoadModelErrors(t *testing.T) {
	ref := refFromModel(newTestModel(t, testCfg, 13))
	pool := gemm.NewPool(1)
	defer pool.Close()
	cases := map[string]struct {
		edit func(map[string]safetensors.Tensor)
		want string
	}{
		"missing tensor": {func(m map[string]safetensors.Tensor) { delete(m, "h.1.mlp.c_fc.bias") }, `lacks tensor "h.1.mlp.c_fc.bias"`},
		"shape mismatch": {func(m map[string]safetensors.Tensor) {
			m["h.0.attn.c_attn.weight"] = safetensors.F32(make([]float32, 3*8*8), 24, 8) // not transposed
		}, "shape [24 8]"},
		"wrong dtype": {func(m map[string]safetensors.Tensor) {
			m["ln_f.bias"] = safetensors.Tensor{DType: "I64", Shape: []int{8}, Data: make([]byte, 64)}
		}, "dtype I64"},
	}
	for name, c := range cases {
		dir := filepath.Join(t.TempDir(), name)
		writeHFDir(t, dir, ref, "", c.edit)
		if _, err := LoadModel(dir, pool); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
	dir := filepath.Join(t.TempDir(), "trunc")
	writeHFDir(t, dir, ref, "", nil)
	p := filepath.Join(dir, ModelWeightsFile)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-10], 0o644)
	if _, err := LoadModel(dir, pool); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("truncated: %v", err)
	}
}

func TestPEFTAdapterRoundTrip(t *testing.T) {
	m := newTestModel(t, testCfg, 14)
	lo, err := NewLoRA(testCfg, LoRAConfig{Rank: 2, Alpha: 8, Dropout: 0.1, Targets: []string{"c_attn", "c_proj"}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for i := range lo.Params {
		lo.Params[i] = float32(r.NormFloat64())
	}
	d1, d2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if err := lo.SaveAdapter(d1, "gpt2"); err != nil {
		t.Fatal(err)
	}
	lo2, err := LoadAdapter(d1, testCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := lo2.SaveAdapter(d2, "gpt2"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{AdapterWeightsFile, AdapterConfigFile} {
		a, _ := os.ReadFile(filepath.Join(d1, f))
		b, _ := os.ReadFile(filepath.Join(d2, f))
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs after a round trip", f)
		}
	}
	f, err := safetensors.ReadFile(filepath.Join(d1, AdapterWeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	a := f.Tensors["base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight"]
	bb := f.Tensors["base_model.model.transformer.h.0.attn.c_attn.lora_B.weight"]
	if !equalShape(a.Shape, []int{2, 32}) || !equalShape(bb.Shape, []int{24, 2}) {
		t.Fatalf("PEFT shapes: A %v B %v", a.Shape, bb.Shape)
	}
	var cfg map[string]any
	raw, _ := os.ReadFile(filepath.Join(d1, AdapterConfigFile))
	json.Unmarshal(raw, &cfg)
	if tm := cfg["target_modules"].([]any); len(tm) != 2 || tm[0] != "c_attn" || tm[1] != "c_proj" {
		t.Fatalf("target_modules %v", tm)
	}
	if cfg["peft_type"] != "LORA" || cfg["fan_in_fan_out"] != true || cfg["r"].(float64) != 2 || cfg["lora_alpha"].(float64) != 8 {
		t.Fatalf("adapter_config %s", raw)
	}
	// Same logits with the loaded adapter.
	in := []int32{1, 2, 3, 4}
	m.LoRA = lo
	m.Forward(in, nil, 1, 4)
	want := append([]float32(nil), m.Logits()...)
	m.LoRA = lo2
	m.Forward(in, nil, 1, 4)
	for i, g := range m.Logits() {
		if g != want[i] {
			t.Fatalf("logit %d: %v vs %v", i, g, want[i])
		}
	}
	// A wrong-shape adapter is refused clearly.
	if _, err := LoadAdapter(d1, Config{MaxSeqLen: 8, VocabSize: 11, NumLayers: 2, NumHeads: 2, Channels: 16}); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("mismatched model: %v", err)
	}
	if _, err := LoadAdapter(d1, Config{MaxSeqLen: 8, VocabSize: 11, NumLayers: 1, NumHeads: 2, Channels: 8}); err == nil {
		t.Fatal("adapter with extra layers accepted")
	}
}
