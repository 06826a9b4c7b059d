// Package llamafactory drives LLaMA-Factory (`llamafactory-cli train
// CONFIG.yaml`) for GPU fine-tuning: it exports a run's data as JSONL
// registered in a generated dataset_info.json, writes the training YAML
// with LLaMA-Factory's key names, runs the CLI in its own process group
// (cancellable within a grace period), follows output_dir/trainer_log.jsonl
// with the trainer's progress reader, reports checkpoint-N directories as
// they complete and collects the adapter or model it wrote.
//
// The package knows nothing of ModelFactory's database or HTTP layer: the
// worker passes a Spec of plain values and callbacks.
package llamafactory

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/modelfactory/modelfactory/trainer"
)

// Dataset names registered in the generated dataset_info.json.
const (
	TrainDataset = "mf_train"
	EvalDataset  = "mf_val"
)

// File and directory names inside a Job's work directory.
const (
	ConfigFile      = "config.yaml"
	DatasetInfoFile = "dataset_info.json"
	dataDirName     = "data"
	outputDirName   = "output"
)

// Template is the LLaMA-Factory chat template the generated configuration
// uses. "empty" adds nothing around the prompt and the response, so the
// prompt the model sees is exactly the one the exported data holds — the
// trainer's own InstructionPrompt/ClassificationPrompt — and a fine-tuned
// model is prompted the same way whichever backend trained it.
const Template = "empty"

// Settings are a run's training settings (the worker maps its own settings
// type onto this one). Zero values take the defaults noted.
type Settings struct {
	Method                string   // "lora" (default) or "full"
	LoRARank              int      // lora_rank (default 8)
	LoRAAlpha             float64  // lora_alpha (default 2 × rank)
	LoRADropout           float64  // lora_dropout
	LoRATargets           []string // lora_target, comma-joined (default "all")
	LearningRate          float64  // learning_rate (default 1e-4)
	Epochs                float64  // num_train_epochs (default 1); ignored when MaxSteps > 0
	MaxSteps              int      // max_steps; 0: from Epochs
	BatchSize             int      // per_device_train_batch_size and per_device_eval_batch_size (default 1)
	GradAccum             int      // gradient_accumulation_steps (default 1)
	ContextLength         int      // cutoff_len (default 1024)
	WarmupSteps           int      // warmup_steps
	Scheduler             string   // "cosine" (default), "linear" or "constant"
	MinLRRatio            float64  // cosine floor as a fraction of the peak (cosine_with_min_lr)
	WeightDecay           float64  // weight_decay
	GradClip              float64  // max_grad_norm; 0 disables clipping
	EvalEvery             int      // eval_steps when there is validation data; 0: evaluate only at the end
	EarlyStoppingPatience int      // early_stopping_steps (evaluations without improvement); needs validation data
	ValSplit              float64  // val_size, when no validation file is given
	Seed                  uint64   // seed
}

// Spec is one training attempt.
type Spec struct {
	// BaseModelDir is the local Hugging Face model directory.
	BaseModelDir string
	// Schema is the Datanet schema of the data: "documents" (trained with
	// stage pt), "instruction" or "classification" (stage sft).
	Schema string
	// TrainFile and ValFile are JSONL files of Datanet records ({"text"},
	// {"instruction","input"?,"response"}, {"text","label"}); ValFile may
	// be empty.
	TrainFile, ValFile string
	// WorkDir receives config.yaml, data/ and (by default) output/.
	WorkDir   string
	OutputDir string // default WorkDir/output
	// ResumeFrom is "" or a checkpoint directory to resume from
	// (resume_from_checkpoint).
	ResumeFrom string
	Settings   Settings
	// SaveSteps is the checkpoint interval in optimizer steps (save_steps;
	// default 50). With early stopping it is the evaluation interval, as
	// Hugging Face's load_best_model_at_end requires.
	SaveSteps int
	// EOSToken is the base tokenizer's end-of-sequence text appended to
	// every supervised response (the "empty" template adds none); default:
	// read from the model's tokenizer_config.json or
	// special_tokens_map.json, else "<|endoftext|>".
	EOSToken string
}

// Job is a prepared attempt: the files LLaMA-Factory reads are written.
type Job struct {
	WorkDir     string
	ConfigPath  string
	DatasetDir  string
	OutputDir   string
	Stage       string // "sft" or "pt"
	Method      string // "lora" or "full"
	TrainRecord int    // records exported for training
	ValRecords  int    // records exported for evaluation
	// EvalSteps is the evaluation interval (0: no evaluation during
	// training).
	EvalSteps int
	// Config is the generated configuration as LLaMA-Factory will read it.
	Config map[string]any
}

// Prepare validates spec, exports the data and writes dataset_info.json
// and config.yaml. It changes nothing outside spec.WorkDir.
func Prepare(spec Spec) (*Job, error) {
	if spec.BaseModelDir == "" || spec.TrainFile == "" || spec.WorkDir == "" {
		return nil, errors.New("llamafactory: base model, train file and work dir are required")
	}
	s, err := normalize(spec.Settings)
	if err != nil {
		return nil, err
	}
	stage := "sft"
	switch spec.Schema {
	case "documents":
		stage = "pt"
	case "instruction", "classification":
	default:
		return nil, fmt.Errorf("llamafactory: unknown data schema %q", spec.Schema)
	}
	if spec.SaveSteps <= 0 {
		spec.SaveSteps = 50
	}
	eos := spec.EOSToken
	if eos == "" {
		eos = ReadEOSToken(spec.BaseModelDir)
	}
	job := &Job{WorkDir: spec.WorkDir, ConfigPath: filepath.Join(spec.WorkDir, ConfigFile),
		DatasetDir: filepath.Join(spec.WorkDir, dataDirName), OutputDir: spec.OutputDir, Stage: stage, Method: s.Method}
	if job.OutputDir == "" {
		job.OutputDir = filepath.Join(spec.WorkDir, outputDirName)
	}
	if err := os.MkdirAll(job.DatasetDir, 0o755); err != nil {
		return nil, fmt.Errorf("llamafactory: %w", err)
	}
	info := map[string]datasetEntry{}
	job.TrainRecord, err = exportData(spec.TrainFile, filepath.Join(job.DatasetDir, TrainDataset+".jsonl"), stage, eos)
	if err != nil {
		return nil, fmt.Errorf("llamafactory: training data: %w", err)
	}
	info[TrainDataset] = newDatasetEntry(TrainDataset+".jsonl", stage)
	if spec.ValFile != "" {
		job.ValRecords, err = exportData(spec.ValFile, filepath.Join(job.DatasetDir, EvalDataset+".jsonl"), stage, eos)
		if err != nil {
			return nil, fmt.Errorf("llamafactory: validation data: %w", err)
		}
		info[EvalDataset] = newDatasetEntry(EvalDataset+".jsonl", stage)
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(job.DatasetDir, DatasetInfoFile), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("llamafactory: %w", err)
	}
	doc, cfg := buildConfig(spec, s, job)
	job.Config = cfg
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("llamafactory: config: %w", err)
	}
	if err := os.WriteFile(job.ConfigPath, out, 0o644); err != nil {
		return nil, fmt.Errorf("llamafactory: %w", err)
	}
	return job, nil
}

// normalize fills defaults and refuses settings LLaMA-Factory cannot run.
func normalize(s Settings) (Settings, error) {
	bad := func(f string, a ...any) (Settings, error) { return s, fmt.Errorf("llamafactory: "+f, a...) }
	if s.Method == "" {
		s.Method = "lora"
	}
	if s.Method != "lora" && s.Method != "full" {
		return bad("method %q is not lora or full", s.Method)
	}
	if s.Method == "lora" {
		if s.LoRARank == 0 {
			s.LoRARank = 8
		}
		if s.LoRAAlpha == 0 {
			s.LoRAAlpha = 2 * float64(s.LoRARank)
		}
		if s.LoRARank < 0 || s.LoRAAlpha < 0 || s.LoRADropout < 0 || s.LoRADropout >= 1 {
			return bad("LoRA rank, alpha and dropout must be positive (dropout below 1)")
		}
		for _, t := range s.LoRATargets {
			if t == "" || strings.ContainsAny(t, ", \t\n") {
				return bad("LoRA target %q is not a module name", t)
			}
		}
	}
	if s.LearningRate == 0 {
		s.LearningRate = 1e-4
	}
	if s.Epochs == 0 {
		s.Epochs = 1
	}
	if s.BatchSize == 0 {
		s.BatchSize = 1
	}
	if s.GradAccum == 0 {
		s.GradAccum = 1
	}
	if s.ContextLength == 0 {
		s.ContextLength = 1024
	}
	if s.Scheduler == "" {
		s.Scheduler = "cosine"
	}
	switch {
	case s.LearningRate < 0 || math.IsNaN(s.LearningRate) || s.Epochs < 0 || s.MaxSteps < 0:
		return bad("learning rate, epochs and max steps must be positive")
	case s.BatchSize < 0 || s.GradAccum < 0 || s.ContextLength < 0 || s.WarmupSteps < 0 || s.EvalEvery < 0 || s.EarlyStoppingPatience < 0:
		return bad("batch size, gradient accumulation, context length, warmup, eval interval and patience cannot be negative")
	case s.ValSplit < 0 || s.ValSplit >= 1:
		return bad("validation split %v must be in [0,1)", s.ValSplit)
	case s.MinLRRatio < 0 || s.MinLRRatio > 1 || s.WeightDecay < 0 || s.GradClip < 0:
		return bad("min LR ratio must be in [0,1]; weight decay and gradient clip cannot be negative")
	}
	switch s.Scheduler {
	case "cosine", "linear", "constant":
	default:
		return bad("scheduler %q is not cosine, linear or constant", s.Scheduler)
	}
	return s, nil
}

// datasetEntry is one dataset_info.json entry (LLaMA-Factory's data/README.md).
type datasetEntry struct {
	FileName   string            `json:"file_name"`
	Formatting string            `json:"formatting"`
	Columns    map[string]string `json:"columns"`
}

func newDatasetEntry(file, stage string) datasetEntry {
	if stage == "pt" {
		// Pre-training reads the prompt column only.
		return datasetEntry{FileName: file, Formatting: "alpaca", Columns: map[string]string{"prompt": "text"}}
	}
	return datasetEntry{FileName: file, Formatting: "alpaca", Columns: map[string]string{"prompt": "instruction", "response": "output"}}
}

// exportData converts Datanet JSONL into LLaMA-Factory's alpaca shape with
// the trainer's own formatting (trainer.FormatRecord): supervised records
// become {"instruction": <the full prompt>, "output": <completion><eos>},
// documents {"text": …} (LLaMA-Factory appends the end-of-sequence token to
// pre-training text itself). It returns the number of records.
func exportData(src, dst, stage, eos string) (int, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := 0
	err = trainer.ScanExamples(in, func(ex trainer.Example) error {
		n++
		if stage == "pt" {
			return enc.Encode(map[string]string{"text": ex.Prompt + ex.Completion})
		}
		return enc.Encode(map[string]string{"instruction": ex.Prompt, "output": ex.Completion + eos})
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// ReadEOSToken returns the end-of-sequence text of the tokenizer in a
// Hugging Face model directory (tokenizer_config.json, then
// special_tokens_map.json), or GPT-2's "<|endoftext|>".
func ReadEOSToken(dir string) string {
	for _, name := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		var v struct {
			EOS json.RawMessage `json:"eos_token"`
		}
		if json.Unmarshal(b, &v) != nil || len(v.EOS) == 0 {
			continue
		}
		var s string
		if json.Unmarshal(v.EOS, &s) == nil && s != "" {
			return s
		}
		var obj struct {
			Content string `json:"content"`
		}
		if json.Unmarshal(v.EOS, &obj) == nil && obj.Content != "" {
			return obj.Content
		}
	}
	return "<|endoftext|>"
}

// buildConfig returns the YAML document (grouped and commented like
// LLaMA-Factory's examples) and the same keys as a map.
func buildConfig(spec Spec, s Settings, job *Job) (*yaml.Node, map[string]any) {
	cfg := map[string]any{}
	doc := &yaml.Node{Kind: yaml.MappingNode}
	section := ""
	put := func(sec, key string, v any) {
		cfg[key] = v
		var val yaml.Node
		if err := val.Encode(v); err != nil {
			panic(err) // only plain scalars and maps are encoded
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Value: key}
		if sec != section {
			k.HeadComment = "### " + sec
			section = sec
		}
		doc.Content = append(doc.Content, k, &val)
	}
	put("model", "model_name_or_path", spec.BaseModelDir)
	put("model", "trust_remote_code", false)

	put("method", "stage", job.Stage)
	put("method", "do_train", true)
	put("method", "finetuning_type", s.Method)
	if s.Method == "lora" {
		put("method", "lora_rank", s.LoRARank)
		put("method", "lora_alpha", number(s.LoRAAlpha))
		put("method", "lora_dropout", s.LoRADropout)
		target := "all"
		if len(s.LoRATargets) > 0 {
			target = strings.Join(s.LoRATargets, ",")
		}
		put("method", "lora_target", target)
	}

	put("dataset", "dataset", TrainDataset)
	put("dataset", "dataset_dir", job.DatasetDir)
	put("dataset", "template", Template)
	put("dataset", "cutoff_len", s.ContextLength)
	put("dataset", "overwrite_cache", true)

	put("output", "output_dir", job.OutputDir)
	put("output", "logging_steps", 1)
	put("output", "save_strategy", "steps")
	hasEval := job.ValRecords > 0 || s.ValSplit > 0
	saveSteps := spec.SaveSteps
	evalSteps := s.EvalEvery
	early := hasEval && evalSteps > 0 && s.EarlyStoppingPatience > 0
	if early {
		// load_best_model_at_end needs checkpoints on evaluation steps.
		saveSteps = evalSteps
	}
	put("output", "save_steps", saveSteps)
	put("output", "save_only_model", false)
	put("output", "plot_loss", false)
	put("output", "overwrite_output_dir", true)
	put("output", "report_to", "none")

	put("train", "per_device_train_batch_size", s.BatchSize)
	put("train", "gradient_accumulation_steps", s.GradAccum)
	put("train", "learning_rate", s.LearningRate)
	put("train", "num_train_epochs", s.Epochs)
	if s.MaxSteps > 0 {
		put("train", "max_steps", s.MaxSteps)
	}
	switch {
	case s.Scheduler == "cosine" && s.MinLRRatio > 0:
		put("train", "lr_scheduler_type", "cosine_with_min_lr")
		put("train", "lr_scheduler_kwargs", map[string]any{"min_lr_rate": s.MinLRRatio})
	case s.Scheduler == "constant" && s.WarmupSteps > 0:
		put("train", "lr_scheduler_type", "constant_with_warmup")
	default:
		put("train", "lr_scheduler_type", s.Scheduler)
	}
	put("train", "warmup_steps", s.WarmupSteps)
	put("train", "weight_decay", s.WeightDecay)
	put("train", "max_grad_norm", s.GradClip)
	put("train", "seed", s.Seed)
	if spec.ResumeFrom != "" {
		put("train", "resume_from_checkpoint", spec.ResumeFrom)
	}

	if hasEval {
		if job.ValRecords > 0 {
			put("eval", "eval_dataset", EvalDataset)
		} else {
			put("eval", "val_size", s.ValSplit)
		}
		put("eval", "do_eval", true)
		put("eval", "per_device_eval_batch_size", s.BatchSize)
		if evalSteps > 0 {
			job.EvalSteps = evalSteps
			put("eval", "eval_strategy", "steps")
			put("eval", "eval_steps", evalSteps)
		} else {
			put("eval", "eval_strategy", "no")
		}
		if early {
			put("eval", "early_stopping_steps", s.EarlyStoppingPatience)
			put("eval", "load_best_model_at_end", true)
			put("eval", "metric_for_best_model", "eval_loss")
			put("eval", "greater_is_better", false)
		}
	}
	return doc, cfg
}

// number writes whole floats as integers (LLaMA-Factory types lora_alpha
// as int).
func number(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

// checkpointStep parses a Hugging Face checkpoint directory name
// ("checkpoint-120").
func checkpointStep(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "checkpoint-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0
}
