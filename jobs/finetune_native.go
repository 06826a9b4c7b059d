package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/cli"
	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

// NativeBackend trains GPT-2-architecture models on the CPU with our own
// trainer (trainer/cli.RunTraining, the code behind `modelfactory train`).
type NativeBackend struct {
	// Threads for the GEMM pool (0: GOMAXPROCS).
	Threads int
}

// Train runs one attempt; a checkpoint in j.ResumeDir is continued.
func (b *NativeBackend) Train(ctx context.Context, j *TrainJob) (*TrainOutput, error) {
	st := j.Settings
	outDir := filepath.Join(j.WorkDir, "out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	if j.ResumeDir != "" {
		if err := copyFile(filepath.Join(j.ResumeDir, "checkpoint.bin"), filepath.Join(outDir, "checkpoint.bin")); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
	}
	tok, err := tokenizer.LoadDir(j.BaseDir)
	if err != nil {
		return nil, fmt.Errorf("base model tokenizer: %w", err)
	}
	rc := &cli.RunConfig{
		BaseModel: j.BaseDir, DataDir: filepath.Join(j.WorkDir, "data"), Data: j.TrainFile, ValData: j.ValFile,
		OutputDir: outDir, Mode: st.Method, Merge: st.Method == "lora",
		LoRA: trainer.LoRAConfig{Rank: st.LoRARank, Alpha: float32(st.LoRAAlpha), Dropout: float32(st.LoRADropout), Targets: st.LoRATargets},
		Train: trainer.TrainConfig{Steps: st.MaxSteps, Epochs: st.Epochs, BatchSize: st.BatchSize, SeqLen: st.ContextLength,
			GradAccum: st.GradAccum, LR: st.LearningRate, MinLRRatio: st.MinLRRatio, Warmup: st.WarmupSteps,
			WeightDecay: st.WeightDecay, GradClip: st.GradClip, EvalEvery: st.EvalEvery, EvalBatches: st.EvalBatches,
			Patience: st.EarlyStoppingPatience, Seed: st.Seed, CheckpointEvery: st.CheckpointEvery, Scheduler: st.Scheduler},
	}
	if j.ValFile == "" {
		// No validation split was asked for: hold nothing out (RunConfig
		// would otherwise default to 10%).
		rc.ValFraction = -1
	}
	ckptDir := filepath.Join(j.WorkDir, "checkpoint")
	rc.Train.OnCheckpoint = func(path string, step int) error {
		if j.Checkpoint == nil {
			return nil
		}
		// A hard link freezes this checkpoint's content while the trainer
		// goes on (it replaces checkpoint.bin by rename, never in place).
		if err := os.RemoveAll(ckptDir); err != nil {
			return err
		}
		if err := os.MkdirAll(ckptDir, 0o755); err != nil {
			return err
		}
		if err := os.Link(path, filepath.Join(ckptDir, "checkpoint.bin")); err != nil {
			if err := copyFile(path, filepath.Join(ckptDir, "checkpoint.bin")); err != nil {
				return err
			}
		}
		return j.Checkpoint(ctx, ckptDir, step)
	}
	rc.Train.OnEval = func(m *trainer.Model, ev trainer.Event) {
		if j.Sample == nil || st.SampleTokens == 0 {
			return
		}
		for _, p := range st.SamplePrompts {
			g, err := trainer.Generate(ctx, m, tok, p, trainer.GenerateOptions{MaxTokens: st.SampleTokens}, nil)
			if err != nil {
				continue
			}
			j.Sample(ev.Step, p, g.Text)
		}
	}
	rc.Train.OnEarlyStop = j.EarlyStop
	if j.Log != nil {
		name := filepath.Base(j.BaseDir)
		if j.Base != nil {
			name = j.Base.Slug
		}
		j.Log(fmt.Sprintf("Training %s of %s (native CPU trainer).", st.Method, name))
	}
	res, err := cli.RunTraining(ctx, rc, b.Threads, j.Progress, nil)
	if err != nil {
		return nil, err
	}
	out := &TrainOutput{EarlyStopped: res.StoppedEarly, Metrics: map[string]float64{
		"train_loss": res.FinalLoss, "steps": float64(res.Steps),
	}}
	if res.BestEvalLoss == res.BestEvalLoss { // not NaN
		out.Metrics["eval_loss"] = res.BestEvalLoss
	}
	if st.Method == "lora" {
		out.AdapterDir = filepath.Join(j.WorkDir, "adapter")
		if err := collect(outDir, out.AdapterDir, []string{"adapter_model.safetensors", "adapter_config.json"}); err != nil {
			return nil, err
		}
		out.ModelDir = filepath.Join(outDir, "merged")
	} else {
		out.ModelDir = filepath.Join(j.WorkDir, "model")
		if err := collectModel(outDir, out.ModelDir); err != nil {
			return nil, err
		}
	}
	if err := b.perplexity(j, out, filepath.Join(outDir, "val.tokens"), rc.Train.SeqLen, rc.Train.BatchSize, st.EvalBatches); err != nil {
		return nil, err
	}
	return out, nil
}

// perplexity evaluates the base and the fine-tuned model on the validation
// split (val_loss_before / val_loss_after); the worker turns them into
// perplexities. Without a validation split it does nothing.
func (b *NativeBackend) perplexity(j *TrainJob, out *TrainOutput, valTokens string, T, B, maxBatches int) error {
	if j.ValFile == "" {
		return nil
	}
	val, err := trainer.OpenDatasetFile(valTokens)
	if err != nil {
		return nil // no validation tokens were written (split too small)
	}
	defer val.Close()
	if val.Rows(T) == 0 {
		return nil
	}
	pool := gemm.NewPool(b.Threads)
	defer pool.Close()
	for _, c := range []struct{ dir, key string }{{j.BaseDir, "val_loss_before"}, {out.ModelDir, "val_loss_after"}} {
		m, err := trainer.LoadModel(c.dir, pool)
		if err != nil {
			return fmt.Errorf("perplexity: %w", err)
		}
		loss, err := trainer.Evaluate(m, val, B, T, maxBatches)
		if err != nil {
			return fmt.Errorf("perplexity: %w", err)
		}
		out.Metrics[c.key] = loss
	}
	return nil
}

// collect links (or copies) the named files of src into a fresh dst.
func collect(src, dst string, names []string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		if err := copyFile(filepath.Join(src, n), filepath.Join(dst, n)); err != nil {
			return err
		}
	}
	return nil
}

// collectModel gathers a full fine-tune's model files (config, weights,
// tokenizer), leaving the trainer's scratch files behind.
func collectModel(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".tokens") ||
			n == "checkpoint.bin" || n == "trainer_log.jsonl" {
			continue
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return errors.New("full fine-tune wrote no model files")
	}
	return collect(src, dst, names)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
