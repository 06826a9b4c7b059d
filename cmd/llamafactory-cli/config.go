package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/modelfactory/modelfactory/trainer"
)

// trainArgs are the LLaMA-Factory arguments this CLI honours, after
// defaults (Hugging Face's and LLaMA-Factory's own).
type trainArgs struct {
	ModelPath      string
	Stage          string // sft | pt
	DoEval         bool
	FinetuningType string // lora | full
	LoRA           trainer.LoRAConfig
	Datasets       []string
	EvalDatasets   []string
	DatasetDir     string
	Template       string
	CutoffLen      int
	MaxSamples     int
	ValSize        float64
	OutputDir      string
	Overwrite      bool
	LoggingSteps   int
	SaveSteps      int // 0: no checkpoints
	BatchSize      int
	EvalBatchSize  int
	GradAccum      int
	LR             float64
	Epochs         float64
	MaxSteps       int
	Scheduler      string // trainer scheduler
	MinLRRatio     float64
	WarmupRatio    float64
	WarmupSteps    int
	EvalSteps      int // 0: no evaluation during training
	Resume         string
	Seed           uint64
	WeightDecay    float64
	MaxGradNorm    float64
	Patience       int
}

// ignoredKeys change nothing this CLI does (performance, logging, hardware
// and caching options of the real LLaMA-Factory).
var ignoredKeys = map[string]bool{
	"trust_remote_code": true, "overwrite_cache": true, "preprocessing_num_workers": true, "dataloader_num_workers": true,
	"plot_loss": true, "report_to": true, "bf16": true, "fp16": true, "tf32": true, "ddp_timeout": true,
	"save_only_model": true, "save_total_limit": true, "logging_dir": true, "run_name": true, "disable_tqdm": true,
	"logging_first_step": true, "include_num_input_tokens_seen": true, "save_safetensors": true,
	"gradient_checkpointing": true, "flash_attn": true, "use_fast_tokenizer": true, "low_cpu_mem_usage": true,
	"dataloader_pin_memory": true, "remove_unused_columns": true, "logging_strategy": true, "enable_liger_kernel": true,
	"use_unsloth": false, "streaming": false, "ddp_find_unused_parameters": true, "do_predict": false,
	"upcast_layernorm": true, "cache_dir": true, "hf_hub_token": true, "data_seed": true, "optim": false,
}

// loadArgs reads a LLaMA-Factory YAML (or JSON) file plus OmegaConf-style
// key=value overrides, as `llamafactory-cli train CONFIG.yaml k=v` does.
// Keys that would change training in ways this CLI cannot honour are
// refused with an error naming them.
func loadArgs(path string, overrides []string) (*trainArgs, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw := map[string]any{}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return nil, fmt.Errorf("argument %q is not key=value", o)
		}
		var val any
		if err := yaml.Unmarshal([]byte(v), &val); err != nil {
			val = v
		}
		raw[k] = val
	}
	return parseArgs(raw)
}

// argReader reads typed values out of the raw map, collecting the first
// error and the keys it consumed.
type argReader struct {
	raw  map[string]any
	used map[string]bool
	err  error
}

func (r *argReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *argReader) get(key string) (any, bool) {
	r.used[key] = true
	v, ok := r.raw[key]
	return v, ok && v != nil
}

func (r *argReader) str(key, def string) string {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	switch s := v.(type) {
	case string:
		return s
	case int, float64, bool:
		return fmt.Sprint(s)
	}
	r.fail(fmt.Errorf("%s must be a string", key))
	return def
}

func (r *argReader) num(key string, def float64) float64 {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	switch n := v.(type) {
	case int:
		return float64(n)
	case float64:
		return n
	case string: // YAML reads 1.0e-4 without a dot in the mantissa as a string
		if f, err := strconv.ParseFloat(n, 64); err == nil {
			return f
		}
	}
	r.fail(fmt.Errorf("%s must be a number", key))
	return def
}

func (r *argReader) integer(key string, def int) int {
	f := r.num(key, float64(def))
	if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		r.fail(fmt.Errorf("%s must be an integer", key))
		return def
	}
	return int(f)
}

func (r *argReader) boolean(key string, def bool) bool {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	switch b := v.(type) {
	case bool:
		return b
	case string:
		if p, err := strconv.ParseBool(b); err == nil {
			return p
		}
	}
	r.fail(fmt.Errorf("%s must be true or false", key))
	return def
}

func (r *argReader) list(key string) []string {
	v, ok := r.get(key)
	if !ok {
		return nil
	}
	var out []string
	switch l := v.(type) {
	case string:
		for _, s := range strings.Split(l, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case []any:
		for _, s := range l {
			out = append(out, strings.TrimSpace(fmt.Sprint(s)))
		}
	default:
		r.fail(fmt.Errorf("%s must be a comma-separated string or a list", key))
	}
	return out
}

// parseArgs maps LLaMA-Factory's keys onto trainArgs.
func parseArgs(raw map[string]any) (*trainArgs, error) {
	r := &argReader{raw: raw, used: map[string]bool{}}
	a := &trainArgs{}
	a.ModelPath = r.str("model_name_or_path", "")
	a.Stage = r.str("stage", "sft")
	doTrain := r.boolean("do_train", false)
	a.DoEval = r.boolean("do_eval", false)
	a.FinetuningType = r.str("finetuning_type", "lora")
	rank := r.integer("lora_rank", 8)
	alpha := r.num("lora_alpha", 0)
	if alpha == 0 {
		alpha = float64(2 * rank)
	}
	a.LoRA = trainer.LoRAConfig{Rank: rank, Alpha: float32(alpha), Dropout: float32(r.num("lora_dropout", 0))}
	targets := r.list("lora_target")
	a.Datasets = r.list("dataset")
	a.EvalDatasets = r.list("eval_dataset")
	a.DatasetDir = r.str("dataset_dir", "data")
	a.Template = r.str("template", "")
	a.CutoffLen = r.integer("cutoff_len", 2048)
	a.MaxSamples = r.integer("max_samples", 0)
	a.ValSize = r.num("val_size", 0)
	a.OutputDir = r.str("output_dir", "")
	a.Overwrite = r.boolean("overwrite_output_dir", false)
	a.LoggingSteps = r.integer("logging_steps", 500)
	saveStrategy := r.str("save_strategy", "steps")
	a.SaveSteps = r.integer("save_steps", 500)
	a.BatchSize = r.integer("per_device_train_batch_size", 8)
	a.EvalBatchSize = r.integer("per_device_eval_batch_size", 8)
	a.GradAccum = r.integer("gradient_accumulation_steps", 1)
	a.LR = r.num("learning_rate", 5e-5)
	a.Epochs = r.num("num_train_epochs", 3)
	a.MaxSteps = r.integer("max_steps", -1)
	sched := r.str("lr_scheduler_type", "linear")
	kwargs, _ := r.get("lr_scheduler_kwargs")
	a.WarmupRatio = r.num("warmup_ratio", 0)
	a.WarmupSteps = r.integer("warmup_steps", 0)
	evalStrategy := r.str("eval_strategy", r.str("evaluation_strategy", "no"))
	evalSteps := r.integer("eval_steps", 0)
	a.Resume = r.str("resume_from_checkpoint", "")
	a.Seed = uint64(r.integer("seed", 42))
	a.WeightDecay = r.num("weight_decay", 0)
	a.MaxGradNorm = r.num("max_grad_norm", 1)
	a.Patience = r.integer("early_stopping_steps", 0)
	bestAtEnd := r.boolean("load_best_model_at_end", false)
	metric := r.str("metric_for_best_model", "loss")
	greater := r.boolean("greater_is_better", false)

	// Options that change training and that this CLI cannot honour.
	refuse := map[string]any{"train_on_prompt": false, "mask_history": false, "neat_packing": false,
		"use_rslora": false, "use_dora": false, "pissa_init": false, "use_galore": false, "use_apollo": false,
		"use_badam": false, "use_llama_pro": false, "create_new_adapter": false, "freeze_vision_tower": true,
		"quantization_bit": nil, "adapter_name_or_path": nil, "deepspeed": nil, "additional_target": nil,
		"loraplus_lr_ratio": nil, "rope_scaling": nil, "tokenized_path": nil, "packing": nil, "default_system": nil,
		"resize_vocab": false, "shift_attn": false, "mixture_of_depths": nil, "tool_format": nil}
	for k, def := range refuse {
		v, ok := raw[k]
		r.used[k] = true
		if ok && v != nil && v != def && !(k == "packing" && a.Stage == "pt" && v == true) {
			r.fail(fmt.Errorf("%s: %v is not supported by this llamafactory-cli (ModelFactory's native trainer)", k, v))
		}
	}
	for k, v := range raw {
		if r.used[k] {
			continue
		}
		keep, known := ignoredKeys[k]
		switch {
		case known && keep:
		case known && (v == nil || v == false || (k == "optim" && (v == "adamw_torch" || v == "adamw_hf" || v == "adamw_torch_fused"))):
		case known:
			r.fail(fmt.Errorf("%s: %v is not supported by this llamafactory-cli (ModelFactory's native trainer)", k, v))
		default:
			r.fail(fmt.Errorf("unknown argument %q (this llamafactory-cli accepts LLaMA-Factory's training keys; see docs/llamafactory.md)", k))
		}
	}
	if r.err != nil {
		return nil, r.err
	}

	switch {
	case !doTrain:
		return nil, errors.New("only training is supported: set do_train: true")
	case a.ModelPath == "":
		return nil, errors.New("model_name_or_path is required")
	case a.Stage != "sft" && a.Stage != "pt":
		return nil, fmt.Errorf("stage %q is not supported (sft or pt)", a.Stage)
	case a.FinetuningType != "lora" && a.FinetuningType != "full":
		return nil, fmt.Errorf("finetuning_type %q is not supported (lora or full)", a.FinetuningType)
	case len(a.Datasets) == 0:
		return nil, errors.New("Please specify dataset for training.")
	case a.OutputDir == "":
		return nil, errors.New("output_dir is required")
	case a.CutoffLen < 1 || a.BatchSize < 1 || a.EvalBatchSize < 1 || a.GradAccum < 1 || a.LoggingSteps < 1:
		return nil, errors.New("cutoff_len, batch sizes, gradient_accumulation_steps and logging_steps must be positive")
	case a.LR <= 0 || a.Epochs <= 0 && a.MaxSteps <= 0:
		return nil, errors.New("learning_rate and num_train_epochs (or max_steps) must be positive")
	case a.ValSize < 0 || a.WarmupRatio < 0 || a.WarmupRatio > 1 || a.WarmupSteps < 0:
		return nil, errors.New("val_size, warmup_ratio and warmup_steps cannot be negative (warmup_ratio at most 1)")
	case a.Template != "" && a.Template != "empty" && a.Template != "alpaca" && a.Stage == "sft":
		return nil, fmt.Errorf("template %q is not supported by this llamafactory-cli (empty or alpaca)", a.Template)
	}
	if a.FinetuningType == "lora" {
		var err error
		if a.LoRA.Targets, err = mapTargets(targets); err != nil {
			return nil, err
		}
	}
	switch saveStrategy {
	case "steps":
		if a.SaveSteps < 1 {
			return nil, errors.New("save_steps must be positive")
		}
	case "no":
		a.SaveSteps = 0
	default:
		return nil, fmt.Errorf("save_strategy %q is not supported (steps or no)", saveStrategy)
	}
	if err := a.setScheduler(sched, kwargs); err != nil {
		return nil, err
	}
	switch evalStrategy {
	case "no":
	case "steps":
		a.EvalSteps = evalSteps
		if a.EvalSteps == 0 {
			a.EvalSteps = a.LoggingSteps // Hugging Face: eval_steps defaults to logging_steps
		}
		a.DoEval = true
	default:
		return nil, fmt.Errorf("eval_strategy %q is not supported (steps or no)", evalStrategy)
	}
	if a.DoEval && len(a.EvalDatasets) == 0 && a.ValSize < 1e-6 {
		return nil, errors.New("Please specify dataset for evaluation.")
	}
	if a.Patience > 0 {
		switch {
		case !bestAtEnd:
			return nil, errors.New("EarlyStoppingCallback requires load_best_model_at_end = True")
		case a.EvalSteps == 0:
			return nil, errors.New("EarlyStoppingCallback requires eval_strategy: steps")
		case metric != "eval_loss" && metric != "loss" || greater:
			return nil, errors.New("early stopping is supported on metric_for_best_model: eval_loss with greater_is_better: false")
		}
	}
	return a, nil
}

// setScheduler maps Hugging Face's lr_scheduler_type onto the trainer's
// schedules. The trainer's floor is MinLRRatio of the peak; "to zero" uses
// a ratio too small to matter.
func (a *trainArgs) setScheduler(name string, kwargs any) error {
	const toZero = 1e-12
	switch name {
	case "cosine":
		a.Scheduler, a.MinLRRatio = "cosine", toZero
	case "cosine_with_min_lr":
		a.Scheduler = "cosine"
		m, _ := kwargs.(map[string]any)
		switch v := m["min_lr_rate"].(type) {
		case float64:
			a.MinLRRatio = v
		case int:
			a.MinLRRatio = float64(v)
		default:
			return errors.New("cosine_with_min_lr needs lr_scheduler_kwargs: {min_lr_rate: R} (min_lr is not supported)")
		}
		if a.MinLRRatio <= 0 || a.MinLRRatio > 1 {
			return errors.New("min_lr_rate must be in (0,1]")
		}
	case "linear":
		a.Scheduler, a.MinLRRatio = "linear", toZero
	case "constant":
		a.Scheduler, a.MinLRRatio = "constant", 1
		a.WarmupRatio, a.WarmupSteps = 0, 0 // Hugging Face's constant schedule has no warmup
	case "constant_with_warmup":
		a.Scheduler, a.MinLRRatio = "constant", 1
	default:
		return fmt.Errorf("lr_scheduler_type %q is not supported (cosine, cosine_with_min_lr, linear, constant, constant_with_warmup)", name)
	}
	return nil
}

// mapTargets maps LLaMA-Factory lora_target names onto GPT-2's linear
// layers: GPT-2 fuses the query, key and value projections into c_attn, so
// q_proj, k_proj and v_proj all map to it (the nearest equivalent), and
// LLaMA-style MLP names map to c_fc (up) and mlp.c_proj (down).
func mapTargets(names []string) ([]string, error) {
	if len(names) == 0 {
		names = []string{"all"}
	}
	set := map[string]bool{}
	for _, n := range names {
		switch n {
		case "all":
			for _, t := range []string{trainer.TargetAttn, trainer.TargetAttnProj, trainer.TargetFC, trainer.TargetMLPProj} {
				set[t] = true
			}
		case "c_attn", trainer.TargetAttn, "q_proj", "k_proj", "v_proj", "query_key_value", "qkv_proj", "Wqkv":
			set[trainer.TargetAttn] = true
		case "c_proj":
			set[trainer.TargetAttnProj], set[trainer.TargetMLPProj] = true, true
		case trainer.TargetAttnProj, "o_proj", "out_proj":
			set[trainer.TargetAttnProj] = true
		case "c_fc", trainer.TargetFC, "gate_proj", "up_proj", "fc1", "w1", "w3":
			set[trainer.TargetFC] = true
		case trainer.TargetMLPProj, "down_proj", "fc2", "w2":
			set[trainer.TargetMLPProj] = true
		default:
			return nil, fmt.Errorf("lora_target %q has no counterpart in a GPT-2 model (use all, c_attn, c_proj, c_fc, attn.c_proj, mlp.c_proj or q_proj/k_proj/v_proj/o_proj/gate_proj/up_proj/down_proj)", n)
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out, nil
}

// datasetAttr is one dataset_info.json entry.
type datasetAttr struct {
	FileName   string            `json:"file_name"`
	Formatting string            `json:"formatting"`
	Ranking    bool              `json:"ranking"`
	HFHubURL   string            `json:"hf_hub_url"`
	MSHubURL   string            `json:"ms_hub_url"`
	ScriptURL  string            `json:"script_url"`
	Columns    map[string]string `json:"columns"`
}

// loadDatasetInfo reads dataset_dir/dataset_info.json and resolves names.
func loadDatasetInfo(dir string, names []string) ([]datasetAttr, error) {
	b, err := os.ReadFile(filepath.Join(dir, "dataset_info.json"))
	if err != nil {
		return nil, fmt.Errorf("Cannot open %s due to %v.", filepath.Join(dir, "dataset_info.json"), err)
	}
	info := map[string]datasetAttr{}
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "dataset_info.json"), err)
	}
	var out []datasetAttr
	for _, n := range names {
		attr, ok := info[n]
		switch {
		case !ok:
			return nil, fmt.Errorf("Undefined dataset %s in dataset_info.json.", n)
		case attr.HFHubURL != "" || attr.MSHubURL != "" || attr.ScriptURL != "":
			return nil, fmt.Errorf("dataset %s: hub and script datasets are not supported offline; use file_name", n)
		case attr.FileName == "":
			return nil, fmt.Errorf("dataset %s has no file_name", n)
		case attr.Formatting != "" && attr.Formatting != "alpaca":
			return nil, fmt.Errorf("dataset %s: formatting %q is not supported (alpaca)", n, attr.Formatting)
		case attr.Ranking:
			return nil, fmt.Errorf("dataset %s: preference (ranking) datasets are not supported", n)
		}
		for col := range attr.Columns {
			if !slices.Contains([]string{"prompt", "query", "response"}, col) {
				return nil, fmt.Errorf("dataset %s: column %q is not supported (prompt, query, response)", n, col)
			}
		}
		attr.FileName = filepath.Join(dir, attr.FileName)
		out = append(out, attr)
	}
	return out, nil
}
