package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/safetensors"
)

// File names in a Hugging Face model directory and a PEFT adapter directory.
const (
	ModelWeightsFile   = "model.safetensors"
	ModelConfigFile    = "config.json"
	AdapterWeightsFile = "adapter_model.safetensors"
	AdapterConfigFile  = "adapter_config.json"
)

// hfConfig is the subset of a transformers GPT2Config we read and write.
type hfConfig struct {
	ModelType          string   `json:"model_type"`
	Architectures      []string `json:"architectures,omitempty"`
	VocabSize          int      `json:"vocab_size"`
	NPositions         int      `json:"n_positions"`
	NCtx               int      `json:"n_ctx,omitempty"`
	NEmbd              int      `json:"n_embd"`
	NLayer             int      `json:"n_layer"`
	NHead              int      `json:"n_head"`
	NInner             *int     `json:"n_inner"`
	ActivationFunction string   `json:"activation_function,omitempty"`
	LayerNormEpsilon   float64  `json:"layer_norm_epsilon,omitempty"`
	BOSTokenID         int      `json:"bos_token_id"`
	EOSTokenID         int      `json:"eos_token_id"`
	TieWordEmbeddings  *bool    `json:"tie_word_embeddings,omitempty"`
	// Variants of GPT-2 attention this implementation does not have.
	ScaleAttnWeights          *bool `json:"scale_attn_weights,omitempty"`
	ScaleAttnByInverseLayerID bool  `json:"scale_attn_by_inverse_layer_idx,omitempty"`
	AddCrossAttention         bool  `json:"add_cross_attention,omitempty"`
}

// isConv1D reports whether the tensor is a GPT-2 Conv1D weight, stored by
// Hugging Face as (in, out): the transpose of our (out, in).
func isConv1D(name string) bool {
	return strings.HasSuffix(name, ".weight") && (strings.Contains(name, ".attn.c_") || strings.Contains(name, ".mlp.c_"))
}

func transpose(dst, src []float32, rows, cols int) {
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			dst[c*rows+r] = src[r*cols+c]
		}
	}
}

// LoadModel reads a Hugging Face GPT-2 directory (config.json +
// model.safetensors, as for gpt2 or distilgpt2) into a new model on pool.
func LoadModel(dir string, pool *gemm.Pool) (*Model, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ModelConfigFile))
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	var hc hfConfig
	if err := json.Unmarshal(raw, &hc); err != nil {
		return nil, fmt.Errorf("load model: %s: %w", ModelConfigFile, err)
	}
	if hc.ModelType != "" && hc.ModelType != "gpt2" {
		return nil, fmt.Errorf("load model: model_type %q is not gpt2", hc.ModelType)
	}
	if hc.ActivationFunction != "" && hc.ActivationFunction != "gelu_new" && hc.ActivationFunction != "gelu_pytorch_tanh" {
		return nil, fmt.Errorf("load model: activation %q unsupported (want gelu_new)", hc.ActivationFunction)
	}
	if hc.NInner != nil && *hc.NInner != 4*hc.NEmbd {
		return nil, fmt.Errorf("load model: n_inner %d unsupported (want 4·n_embd)", *hc.NInner)
	}
	if hc.TieWordEmbeddings != nil && !*hc.TieWordEmbeddings {
		return nil, errors.New("load model: untied output embeddings are unsupported")
	}
	if (hc.ScaleAttnWeights != nil && !*hc.ScaleAttnWeights) || hc.ScaleAttnByInverseLayerID || hc.AddCrossAttention {
		return nil, errors.New("load model: attention variant unsupported (scale_attn_weights must be true, no inverse-layer scaling or cross-attention)")
	}
	if hc.LayerNormEpsilon != 0 && math.Abs(hc.LayerNormEpsilon-lnEps) > 1e-12 {
		return nil, fmt.Errorf("load model: layer_norm_epsilon %g unsupported (want 1e-5)", hc.LayerNormEpsilon)
	}
	cfg := Config{MaxSeqLen: hc.NPositions, VocabSize: hc.VocabSize, NumLayers: hc.NLayer, NumHeads: hc.NHead, Channels: hc.NEmbd}
	m, err := NewModel(cfg, pool)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, ModelWeightsFile))
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	// Accept both "h.0..." (gpt2 repo) and "transformer.h.0..." (newer saves).
	byName := map[string]safetensors.Tensor{}
	for k, t := range f.Tensors {
		byName[strings.TrimPrefix(k, "transformer.")] = t
	}
	for _, s := range cfg.layout() {
		t, ok := byName[s.name]
		if !ok {
			return nil, fmt.Errorf("load model: %s lacks tensor %q", ModelWeightsFile, s.name)
		}
		want := s.shape
		if isConv1D(s.name) {
			want = []int{s.shape[1], s.shape[0]}
		}
		if !equalShape(t.Shape, want) {
			return nil, fmt.Errorf("load model: tensor %q has shape %v, config needs %v", s.name, t.Shape, want)
		}
		data, err := t.Float32()
		if err != nil {
			return nil, fmt.Errorf("load model: tensor %q: %w", s.name, err)
		}
		dst := m.Params[s.offset : s.offset+size(s.shape)]
		if isConv1D(s.name) {
			transpose(dst, data, want[0], want[1])
		} else {
			copy(dst, data)
		}
	}
	return m, nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Save writes the model as a Hugging Face GPT-2 directory (F32 safetensors
// with Conv1D layouts, and config.json) that transformers' GPT2LMHeadModel
// loads. A LoRA adapter is not included: merge it first or use SaveAdapter.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	tensors := map[string]safetensors.Tensor{}
	for _, s := range m.Config.layout() {
		src := m.Params[s.offset : s.offset+size(s.shape)]
		if isConv1D(s.name) {
			t := make([]float32, len(src))
			transpose(t, src, s.shape[0], s.shape[1])
			tensors[s.name] = safetensors.F32(t, s.shape[1], s.shape[0])
		} else {
			tensors[s.name] = safetensors.F32(src, s.shape...)
		}
	}
	if err := safetensors.WriteFile(filepath.Join(dir, ModelWeightsFile), tensors, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	c := m.Config
	tie := true
	eos := c.VocabSize - 1
	hc := hfConfig{ModelType: "gpt2", Architectures: []string{"GPT2LMHeadModel"}, VocabSize: c.VocabSize,
		NPositions: c.MaxSeqLen, NCtx: c.MaxSeqLen, NEmbd: c.Channels, NLayer: c.NumLayers, NHead: c.NumHeads,
		ActivationFunction: "gelu_new", LayerNormEpsilon: lnEps, BOSTokenID: eos, EOSTokenID: eos, TieWordEmbeddings: &tie}
	b, _ := json.MarshalIndent(hc, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, ModelConfigFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

// peftConfig is PEFT's adapter_config.json for a LoRA adapter.
type peftConfig struct {
	BaseModel         string   `json:"base_model_name_or_path"`
	PeftType          string   `json:"peft_type"`
	TaskType          string   `json:"task_type"`
	R                 int      `json:"r"`
	LoraAlpha         float32  `json:"lora_alpha"`
	LoraDropout       float32  `json:"lora_dropout"`
	TargetModules     any      `json:"target_modules"`
	FanInFanOut       bool     `json:"fan_in_fan_out"`
	Bias              string   `json:"bias"`
	InferenceMode     bool     `json:"inference_mode"`
	InitLoraWeights   bool     `json:"init_lora_weights"`
	ModulesToSave     []string `json:"modules_to_save"`
	LayersToTransform any      `json:"layers_to_transform"`
	UseRSLoRA         bool     `json:"use_rslora"`
	UseDoRA           bool     `json:"use_dora"`
	RankPattern       any      `json:"rank_pattern,omitempty"`
	AlphaPattern      any      `json:"alpha_pattern,omitempty"`
}

const peftPrefix = "base_model.model.transformer.h."

// SaveAdapter writes lo in PEFT's format (adapter_model.safetensors with
// PEFT's key names, A (r,in) and B (out,r); adapter_config.json with
// fan_in_fan_out for GPT-2's Conv1D), loadable by PEFT and vLLM.
func (lo *LoRA) SaveAdapter(dir, baseModel string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save adapter: %w", err)
	}
	r := lo.Config.Rank
	tensors := map[string]safetensors.Tensor{}
	for l, layer := range lo.layers {
		for t, ll := range layer {
			if ll == nil {
				continue
			}
			k := peftPrefix + strconv.Itoa(l) + "." + targetNames[t]
			tensors[k+".lora_A.weight"] = safetensors.F32(ll.A, r, ll.in)
			tensors[k+".lora_B.weight"] = safetensors.F32(ll.B, ll.out, r)
		}
	}
	if err := safetensors.WriteFile(filepath.Join(dir, AdapterWeightsFile), tensors, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("save adapter: %w", err)
	}
	pc := peftConfig{BaseModel: baseModel, PeftType: "LORA", TaskType: "CAUSAL_LM", R: r,
		LoraAlpha: lo.Config.Alpha, LoraDropout: lo.Config.Dropout, TargetModules: peftTargetNames(lo.Config.Targets),
		FanInFanOut: true, Bias: "none", InferenceMode: true, InitLoraWeights: true}
	b, _ := json.MarshalIndent(pc, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, AdapterConfigFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save adapter: %w", err)
	}
	return nil
}

// peftTargetNames writes targets the way PEFT users do for GPT-2 ("c_attn",
// "c_fc", "c_proj"), keeping the qualified name only where "c_proj" would
// also match the projection that has no adapter.
func peftTargetNames(targets []string) []string {
	has := map[string]bool{}
	for _, t := range targets {
		has[t] = true
	}
	var out []string
	if has[TargetAttn] {
		out = append(out, "c_attn")
	}
	if has[TargetFC] {
		out = append(out, "c_fc")
	}
	switch {
	case has[TargetAttnProj] && has[TargetMLPProj]:
		out = append(out, "c_proj")
	case has[TargetAttnProj]:
		out = append(out, TargetAttnProj)
	case has[TargetMLPProj]:
		out = append(out, TargetMLPProj)
	}
	return out
}

var peftKey = regexp.MustCompile(`^base_model\.model\.(?:transformer\.)?h\.(\d+)\.((?:attn|mlp)\.c_(?:attn|proj|fc))\.lora_([AB])(?:\.default)?\.weight$`)

// LoadAdapter reads a PEFT LoRA adapter directory for a GPT-2 model of
// shape cfg. Targets are taken from the tensors present; every layer must
// carry the same targets.
func LoadAdapter(dir string, cfg Config) (*LoRA, error) {
	raw, err := os.ReadFile(filepath.Join(dir, AdapterConfigFile))
	if err != nil {
		return nil, fmt.Errorf("load adapter: %w", err)
	}
	var pc peftConfig
	if err := json.Unmarshal(raw, &pc); err != nil {
		return nil, fmt.Errorf("load adapter: %s: %w", AdapterConfigFile, err)
	}
	switch {
	case pc.PeftType != "LORA":
		return nil, fmt.Errorf("load adapter: peft_type %q is not LORA", pc.PeftType)
	case pc.UseDoRA:
		return nil, errors.New("load adapter: DoRA adapters are unsupported")
	case pc.RankPattern != nil && fmt.Sprint(pc.RankPattern) != "map[]", pc.AlphaPattern != nil && fmt.Sprint(pc.AlphaPattern) != "map[]":
		return nil, errors.New("load adapter: per-module rank or alpha patterns are unsupported")
	case pc.Bias != "" && pc.Bias != "none":
		return nil, fmt.Errorf("load adapter: bias %q unsupported", pc.Bias)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, AdapterWeightsFile))
	if err != nil {
		return nil, fmt.Errorf("load adapter: %w", err)
	}
	type key struct {
		layer  int
		target string
	}
	found := map[key][2]safetensors.Tensor{}
	targets := map[string]bool{}
	for name, t := range f.Tensors {
		mm := peftKey.FindStringSubmatch(name)
		if mm == nil {
			return nil, fmt.Errorf("load adapter: unexpected tensor %q (not a GPT-2 LoRA weight)", name)
		}
		l, _ := strconv.Atoi(mm[1])
		k := key{l, mm[2]}
		pair := found[k]
		if mm[3] == "A" {
			pair[0] = t
		} else {
			pair[1] = t
		}
		found[k] = pair
		targets[mm[2]] = true
	}
	if len(targets) == 0 {
		return nil, errors.New("load adapter: no LoRA tensors")
	}
	names := make([]string, 0, len(targets))
	for t := range targets {
		names = append(names, t)
	}
	sort.Strings(names)
	lc := LoRAConfig{Rank: pc.R, Alpha: pc.LoraAlpha, Dropout: pc.LoraDropout, Targets: names}
	if pc.UseRSLoRA {
		// rsLoRA scales by alpha/sqrt(r); express it as our alpha/r.
		lc.Alpha = pc.LoraAlpha * float32(pc.R) / float32(math.Sqrt(float64(pc.R)))
	}
	lo, err := NewLoRA(cfg, lc, 0)
	if err != nil {
		return nil, fmt.Errorf("load adapter: %w", err)
	}
	for l := 0; l < cfg.NumLayers; l++ {
		for t, ll := range lo.layers[l] {
			if ll == nil {
				continue
			}
			pair, ok := found[key{l, targetNames[t]}]
			if !ok || pair[0].Data == nil || pair[1].Data == nil {
				return nil, fmt.Errorf("load adapter: layer %d %s lacks lora_A or lora_B", l, targetNames[t])
			}
			delete(found, key{l, targetNames[t]})
			for i, dst := range [][]float32{ll.A, ll.B} {
				want := []int{pc.R, ll.in}
				if i == 1 {
					want = []int{ll.out, pc.R}
				}
				if !equalShape(pair[i].Shape, want) {
					return nil, fmt.Errorf("load adapter: layer %d %s lora_%c has shape %v, want %v", l, targetNames[t], "AB"[i], pair[i].Shape, want)
				}
				v, err := pair[i].Float32()
				if err != nil {
					return nil, fmt.Errorf("load adapter: %w", err)
				}
				copy(dst, v)
			}
		}
	}
	for k := range found {
		return nil, fmt.Errorf("load adapter: layer %d is outside the model's %d layers", k.layer, cfg.NumLayers)
	}
	return lo, nil
}
