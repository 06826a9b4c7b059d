package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelfactory/modelfactory/llamafactory"
	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

// LlamaFactoryBackend trains on GPU workers with LLaMA-Factory:
// `llamafactory-cli train CONFIG.yaml` over the run's data exported as
// JSONL and registered in a generated dataset_info.json (package
// llamafactory). Progress comes from its trainer_log.jsonl through the
// trainer's progress reader, checkpoint-N directories are uploaded as they
// complete, and the adapter (PEFT) or model it writes is the output.
//
// When the base model is one the native trainer loads (GPT-2 architecture,
// marked trainable on CPU), the backend also generates sample outputs
// from each checkpoint, merges the adapter into the base for the merged
// download, and measures validation perplexity before and after; for other
// architectures those are left out (LLaMA-Factory's own eval_loss is still
// reported).
type LlamaFactoryBackend struct {
	// CLI is the llamafactory-cli executable (MF_LLAMAFACTORY_CLI); empty
	// looks up "llamafactory-cli" on PATH.
	CLI string
	// Env is added to the CLI's environment (e.g. CUDA_VISIBLE_DEVICES).
	Env []string
	// Grace is how long a cancelled CLI gets before SIGKILL (default 10 s).
	Grace time.Duration
	// Threads for native work on the worker: samples, merge, perplexity
	// (0: GOMAXPROCS).
	Threads int
}

// Train runs one attempt; j.ResumeDir, when set, is passed as
// resume_from_checkpoint.
func (b *LlamaFactoryBackend) Train(ctx context.Context, j *TrainJob) (*TrainOutput, error) {
	st := j.Settings
	// The worker has already split the data (j.ValFile), so no val_size.
	spec := llamafactory.Spec{BaseModelDir: j.BaseDir, Schema: j.Schema, TrainFile: j.TrainFile, ValFile: j.ValFile,
		WorkDir: j.WorkDir, ResumeFrom: j.ResumeDir, SaveSteps: st.CheckpointEvery,
		Settings: llamafactory.Settings{Method: st.Method, LoRARank: st.LoRARank, LoRAAlpha: st.LoRAAlpha,
			LoRADropout: st.LoRADropout, LoRATargets: st.LoRATargets, LearningRate: st.LearningRate, Epochs: st.Epochs,
			MaxSteps: st.MaxSteps, BatchSize: st.BatchSize, GradAccum: st.GradAccum, ContextLength: st.ContextLength,
			WarmupSteps: st.WarmupSteps, Scheduler: st.Scheduler, MinLRRatio: st.MinLRRatio, WeightDecay: st.WeightDecay,
			GradClip: st.GradClip, EvalEvery: st.EvalEvery, EarlyStoppingPatience: st.EarlyStoppingPatience, Seed: st.Seed}}
	job, err := llamafactory.Prepare(spec)
	if err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) {
		if j.Log != nil {
			j.Log(fmt.Sprintf(format, a...))
		}
	}
	native := j.Base != nil && j.Base.TrainableCPU
	logf("Training %s on %s with LLaMA-Factory (%s, stage %s).", st.Method, filepath.Base(j.BaseDir), cliName(b.CLI), job.Stage)
	sampler := &checkpointSampler{j: j, threads: b.Threads, enabled: native && j.Sample != nil && st.SampleTokens > 0 && len(st.SamplePrompts) > 0}
	defer sampler.close()
	res, err := llamafactory.Run(ctx, job, llamafactory.RunOptions{CLI: b.CLI, Env: b.Env, Grace: b.Grace,
		OnLog: func(line string) {
			if strings.TrimSpace(line) != "" && j.Log != nil {
				j.Log(line)
			}
		},
		OnProgress: j.Progress,
		OnCheckpoint: func(cctx context.Context, dir string, step int) error {
			if j.Checkpoint != nil {
				if err := j.Checkpoint(cctx, dir, step); err != nil {
					return err
				}
			}
			sampler.sample(cctx, dir, step)
			return nil
		}})
	if err != nil {
		return nil, err
	}

	out := &TrainOutput{EarlyStopped: res.EarlyStopped, Metrics: map[string]float64{"steps": float64(res.GlobalStep)}}
	for _, k := range []string{"train_loss", "eval_loss", "train_runtime", "train_samples_per_second", "epoch"} {
		if v, ok := res.Metrics[k]; ok {
			out.Metrics[k] = v
		}
	}
	if res.EarlyStopped && j.EarlyStop != nil {
		j.EarlyStop(res.GlobalStep, fmt.Sprintf("Validation loss did not improve for %d evaluations in a row; LLaMA-Factory stopped "+
			"at step %d of %d and kept the weights of the best evaluation.", st.EarlyStoppingPatience, res.GlobalStep, res.MaxSteps))
	}
	if res.AdapterDir != "" {
		out.AdapterDir = filepath.Join(j.WorkDir, "adapter")
		if err := collect(res.AdapterDir, out.AdapterDir, []string{trainer.AdapterWeightsFile, trainer.AdapterConfigFile}); err != nil {
			return nil, err
		}
		if native {
			out.ModelDir = filepath.Join(j.WorkDir, "merged")
			if err := mergeAdapter(j.BaseDir, out.AdapterDir, out.ModelDir, b.Threads); err != nil {
				return nil, err
			}
		} else {
			logf("No merged model: %s is not a model the native trainer can merge; the adapter is the output.", filepath.Base(j.BaseDir))
		}
	} else {
		out.ModelDir = filepath.Join(j.WorkDir, "model")
		if err := collectHFModel(res.ModelDir, out.ModelDir); err != nil {
			return nil, err
		}
	}
	if native && j.ValFile != "" {
		if err := nativePerplexity(j, out, b.Threads); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func cliName(cli string) string {
	if cli == "" {
		return llamafactory.DefaultCLI
	}
	return cli
}

// mergeAdapter folds a PEFT adapter into the base and writes the merged
// model with the base's tokenizer.
func mergeAdapter(baseDir, adapterDir, dst string, threads int) error {
	pool := gemm.NewPool(threads)
	defer pool.Close()
	m, err := trainer.LoadModel(baseDir, pool)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	lo, err := trainer.LoadAdapter(adapterDir, m.Config)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if err := lo.MergeInto(m); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	tok, err := tokenizer.LoadDir(baseDir)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := m.Save(dst); err != nil {
		return err
	}
	return tok.Save(dst)
}

// collectHFModel gathers a full fine-tune's model files (configuration,
// safetensors weights, tokenizer) from LLaMA-Factory's output directory,
// leaving its logs, results and training state behind.
func collectHFModel(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	keep := func(n string) bool {
		return n == "config.json" || n == "generation_config.json" || strings.HasSuffix(n, ".safetensors") ||
			n == "model.safetensors.index.json" || strings.HasPrefix(n, "tokenizer") || n == "vocab.json" ||
			n == "merges.txt" || n == "special_tokens_map.json" || n == "added_tokens.json" || n == "chat_template.jinja"
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && keep(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if !slices.Contains(names, "config.json") {
		return errors.New("full fine-tune wrote no config.json")
	}
	return collect(src, dst, names)
}

// nativePerplexity measures the validation loss of the base and of the
// fine-tuned model with the native trainer on the same token rows
// (val_loss_before / val_loss_after), as the native backend does.
func nativePerplexity(j *TrainJob, out *TrainOutput, threads int) error {
	tok, err := tokenizer.LoadDir(j.BaseDir)
	if err != nil {
		return fmt.Errorf("perplexity: %w", err)
	}
	w, err := trainer.CreateDatasetFile(filepath.Join(j.WorkDir, "val.tokens"))
	if err != nil {
		return err
	}
	f, err := os.Open(j.ValFile)
	if err != nil {
		return err
	}
	serr := trainer.ScanExamples(f, func(ex trainer.Example) error { return w.AppendExample(ex, tok) })
	f.Close()
	val, ferr := w.Finish()
	if err := errors.Join(serr, ferr); err != nil {
		if val != nil {
			val.Close()
		}
		return fmt.Errorf("perplexity: %w", err)
	}
	defer val.Close()
	pool := gemm.NewPool(threads)
	defer pool.Close()
	B := max(1, j.Settings.BatchSize)
	for _, c := range []struct{ dir, key string }{{j.BaseDir, "val_loss_before"}, {out.ModelDir, "val_loss_after"}} {
		m, err := trainer.LoadModel(c.dir, pool)
		if err != nil {
			return fmt.Errorf("perplexity: %w", err)
		}
		T := m.Config.MaxSeqLen
		if j.Settings.ContextLength > 0 {
			T = min(T, j.Settings.ContextLength)
		}
		for T > 8 && val.Rows(T) == 0 {
			T /= 2
		}
		if val.Rows(T) == 0 {
			return nil // too little validation data for one row
		}
		loss, err := trainer.Evaluate(m, val, B, T, j.Settings.EvalBatches)
		if err != nil {
			return fmt.Errorf("perplexity: %w", err)
		}
		out.Metrics[c.key] = loss
	}
	return nil
}

// checkpointSampler generates the run's sample prompts from each uploaded
// checkpoint (LLaMA-Factory itself makes no samples during training).
type checkpointSampler struct {
	j       *TrainJob
	threads int
	enabled bool

	once sync.Once
	pool *gemm.Pool
	base *trainer.Model
	tok  *tokenizer.Tokenizer
	err  error
}

func (s *checkpointSampler) load() error {
	s.once.Do(func() {
		s.pool = gemm.NewPool(s.threads)
		if s.base, s.err = trainer.LoadModel(s.j.BaseDir, s.pool); s.err == nil {
			s.tok, s.err = tokenizer.LoadDir(s.j.BaseDir)
		}
	})
	return s.err
}

// sample generates from the checkpoint in dir; failures only lose samples.
func (s *checkpointSampler) sample(ctx context.Context, dir string, step int) {
	if !s.enabled || s.load() != nil {
		return
	}
	st := s.j.Settings
	m := s.base
	if st.Method == "lora" {
		lo, err := trainer.LoadAdapter(dir, s.base.Config)
		if err != nil {
			return
		}
		m.LoRA = lo
		defer func() { m.LoRA = nil }()
	} else {
		full, err := trainer.LoadModel(dir, s.pool)
		if err != nil {
			return
		}
		m = full
	}
	for _, p := range st.SamplePrompts {
		g, err := trainer.Generate(ctx, m, s.tok, p, trainer.GenerateOptions{MaxTokens: st.SampleTokens}, nil)
		if err != nil {
			return
		}
		s.j.Sample(step, p, g.Text)
	}
}

func (s *checkpointSampler) close() {
	if s.pool != nil {
		s.pool.Close()
	}
}
