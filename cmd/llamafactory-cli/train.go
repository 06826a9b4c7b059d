package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

// checkpointFile is the native trainer's resumable state (weights,
// optimizer moments, data position, RNG) inside a checkpoint-N directory,
// where Hugging Face keeps optimizer.pt, scheduler.pt and rng_state.pth.
const checkpointFile = "trainer_checkpoint.bin"

// train runs a parsed configuration to the end (or until ctx is done).
func train(ctx context.Context, a *trainArgs, stdout io.Writer) error {
	started := time.Now()
	if err := os.MkdirAll(a.OutputDir, 0o755); err != nil {
		return err
	}
	resume, err := resolveResume(a)
	if err != nil {
		return err
	}
	if a.Overwrite {
		// LLaMA-Factory's LogCallback: "Previous trainer log in this folder will be deleted."
		os.Remove(filepath.Join(a.OutputDir, trainer.ProgressLogFile))
	}
	pool := gemm.NewPool(0)
	defer pool.Close()
	m, err := trainer.LoadModel(a.ModelPath, pool)
	if err != nil {
		return fmt.Errorf("%w (this llamafactory-cli trains GPT-2 architecture models with ModelFactory's native trainer)", err)
	}
	tok, err := tokenizer.LoadDir(a.ModelPath)
	if err != nil {
		return fmt.Errorf("tokenizer of %s: %w", a.ModelPath, err)
	}
	eos, ok := tok.SpecialID(tokenizer.EndOfText)
	if !ok {
		return fmt.Errorf("tokenizer of %s has no %s token", a.ModelPath, tokenizer.EndOfText)
	}
	enc := &encoder{tok: tok, eos: eos, eosStr: tokenizer.EndOfText}

	tmp, err := os.MkdirTemp("", "llamafactory-cli-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	trainDS, valDS, nTrain, nVal, err := buildData(a, enc, tmp)
	if err != nil {
		return err
	}
	defer trainDS.Close()
	if valDS != nil {
		defer valDS.Close()
	}
	T := min(a.CutoffLen, m.Config.MaxSeqLen)
	for T > 8 && trainDS.Rows(T) < a.BatchSize {
		T /= 2 // packed rows: a tiny dataset gets shorter rows rather than none
	}
	if trainDS.Rows(T) < 1 {
		return errors.New("the training data is shorter than one row")
	}
	if valDS != nil && valDS.Rows(T) == 0 {
		fmt.Fprintf(stdout, "[WARNING] validation data shorter than one row of %d tokens; evaluation disabled\n", T)
		valDS.Close()
		valDS = nil
	}
	total := a.MaxSteps
	if total <= 0 {
		total = max(1, int(a.Epochs*float64(trainDS.Rows(T))/float64(a.BatchSize*a.GradAccum)))
	}
	warmup := a.WarmupSteps
	if warmup == 0 && a.WarmupRatio > 0 {
		warmup = int(math.Ceil(a.WarmupRatio * float64(total)))
	}
	if a.FinetuningType == "lora" {
		if m.LoRA, err = trainer.NewLoRA(m.Config, a.LoRA, a.Seed); err != nil {
			return err
		}
	}
	ckptPath := filepath.Join(tmp, checkpointFile)
	if resume != "" {
		if err := copyFile(filepath.Join(resume, checkpointFile), ckptPath); err != nil {
			return fmt.Errorf("resume_from_checkpoint %s: %w (only checkpoints written by this CLI can be resumed)", resume, err)
		}
		fmt.Fprintf(stdout, "[INFO] Resuming training from %s.\n", resume)
	}
	fmt.Fprintf(stdout, "***** Running training *****\n  Num examples = %d\n  Num Epochs = %g\n  Instantaneous batch size per device = %d\n"+
		"  Gradient Accumulation steps = %d\n  Total optimization steps = %d\n  Sequence length = %d\n",
		nTrain, a.Epochs, a.BatchSize, a.GradAccum, total, T)

	logs := newLogWriter(a, total)
	if err := logs.open(); err != nil {
		return err
	}
	defer logs.close()
	cfg := trainer.TrainConfig{Steps: total, BatchSize: a.BatchSize, SeqLen: T, GradAccum: a.GradAccum, LR: a.LR,
		MinLRRatio: a.MinLRRatio, Warmup: warmup, WeightDecay: a.WeightDecay, GradClip: a.MaxGradNorm,
		Patience: a.Patience, Seed: a.Seed, Scheduler: a.Scheduler}
	if valDS != nil {
		cfg.EvalEvery = a.EvalSteps
	}
	if a.SaveSteps > 0 {
		cfg.CheckpointPath, cfg.CheckpointEvery = ckptPath, a.SaveSteps
		cfg.OnCheckpoint = func(path string, step int) error {
			if ctx.Err() != nil {
				return nil // a stopped run writes no checkpoint-N, as LLaMA-Factory
			}
			return writeCheckpoint(a, m, tok, path, step, logs.state(step))
		}
	}
	res, err := trainer.Train(ctx, m, trainDS, valDS, cfg, func(ev trainer.Event) {
		logs.event(ev, stdout)
	})
	if err != nil {
		return err
	}

	// The final outputs, as LLaMA-Factory's workflow saves them.
	if m.LoRA != nil {
		if err := m.LoRA.SaveAdapter(a.OutputDir, a.ModelPath); err != nil {
			return err
		}
	} else if err := m.Save(a.OutputDir); err != nil {
		return err
	}
	if err := tok.Save(a.OutputDir); err != nil {
		return err
	}
	runtime := time.Since(started).Seconds()
	trainLoss := 0.0
	for _, l := range res.Losses {
		trainLoss += l / float64(len(res.Losses))
	}
	epoch := logs.lastEpoch
	metrics := map[string]any{"epoch": epoch, "total_flos": 0, "train_loss": trainLoss, "train_runtime": round4(runtime),
		"train_samples_per_second": round4(float64(nTrain) * a.Epochs / runtime), "train_steps_per_second": round4(float64(res.Steps) / runtime)}
	if err := writeJSON(filepath.Join(a.OutputDir, "train_results.json"), metrics); err != nil {
		return err
	}
	logs.finish(res.Steps, map[string]any{"train_loss": trainLoss, "train_runtime": round4(runtime)})
	printMetrics(stdout, "train", metrics)
	all := map[string]any{}
	for k, v := range metrics {
		all[k] = v
	}
	if a.DoEval && valDS != nil {
		t0 := time.Now()
		el, err := trainer.Evaluate(m, valDS, a.EvalBatchSize, T, 0)
		if err != nil {
			return err
		}
		ev := map[string]any{"epoch": epoch, "eval_loss": el, "eval_runtime": round4(time.Since(t0).Seconds()),
			"eval_samples_per_second": round4(float64(nVal) / time.Since(t0).Seconds())}
		if a.Stage == "pt" {
			ev["perplexity"] = math.Exp(el)
		}
		if err := writeJSON(filepath.Join(a.OutputDir, "eval_results.json"), ev); err != nil {
			return err
		}
		printMetrics(stdout, "eval", ev)
		for k, v := range ev {
			all[k] = v
		}
	}
	if err := writeJSON(filepath.Join(a.OutputDir, "all_results.json"), all); err != nil {
		return err
	}
	return writeJSON(filepath.Join(a.OutputDir, "trainer_state.json"), logs.state(res.Steps))
}

// resolveResume applies resume_from_checkpoint, and Hugging Face's rule
// that an output directory holding checkpoint-N resumes from the last one
// unless overwrite_output_dir is set.
func resolveResume(a *trainArgs) (string, error) {
	if a.Resume != "" {
		if _, err := os.Stat(a.Resume); err != nil {
			return "", fmt.Errorf("resume_from_checkpoint: %w", err)
		}
		return a.Resume, nil
	}
	if a.Overwrite {
		return "", nil
	}
	entries, _ := os.ReadDir(a.OutputDir)
	last, lastStep := "", -1
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "checkpoint-")); err == nil && e.IsDir() &&
			strings.HasPrefix(e.Name(), "checkpoint-") && n > lastStep {
			last, lastStep = filepath.Join(a.OutputDir, e.Name()), n
		}
	}
	if last != "" {
		return last, nil
	}
	for _, name := range []string{"adapter_model.safetensors", "model.safetensors", "trainer_state.json"} {
		if _, err := os.Stat(filepath.Join(a.OutputDir, name)); err == nil {
			return "", errors.New("Output directory already exists and is not empty. Please set `overwrite_output_dir`.")
		}
	}
	return "", nil
}

// buildData reads the datasets named in the configuration into token
// files under dir.
func buildData(a *trainArgs, enc *encoder, dir string) (train, val *trainer.Dataset, nTrain, nVal int, err error) {
	read := func(names []string) ([]sample, error) {
		attrs, err := loadDatasetInfo(a.DatasetDir, names)
		if err != nil {
			return nil, err
		}
		var all []sample
		for _, at := range attrs {
			s, err := readDataset(at, a.MaxSamples)
			if err != nil {
				return nil, err
			}
			all = append(all, s...)
		}
		return all, nil
	}
	trainS, err := read(a.Datasets)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	var valS []sample
	switch {
	case len(a.EvalDatasets) > 0:
		if valS, err = read(a.EvalDatasets); err != nil {
			return nil, nil, 0, 0, err
		}
	case a.ValSize > 0:
		trainS, valS = splitSamples(trainS, a.ValSize, a.Seed)
	}
	write := func(name string, s []sample) (*trainer.Dataset, error) {
		w, err := trainer.CreateDatasetFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		werr := appendSamples(w, s, a, enc)
		ds, ferr := w.Finish()
		if err := errors.Join(werr, ferr); err != nil {
			if ds != nil {
				ds.Close()
			}
			return nil, err
		}
		return ds, nil
	}
	if train, err = write("train.tokens", trainS); err != nil {
		return nil, nil, 0, 0, err
	}
	if len(valS) > 0 {
		if val, err = write("val.tokens", valS); err != nil {
			train.Close()
			return nil, nil, 0, 0, err
		}
	}
	return train, val, len(trainS), len(valS), nil
}

// writeCheckpoint writes output_dir/checkpoint-N the way Hugging Face
// lays it out — the adapter (PEFT) or the model, trainer_state.json —
// with the native trainer's resumable state in place of optimizer.pt,
// scheduler.pt and rng_state.pth. It appears atomically (rename).
func writeCheckpoint(a *trainArgs, m *trainer.Model, tok *tokenizer.Tokenizer, path string, step int, state map[string]any) error {
	final := filepath.Join(a.OutputDir, "checkpoint-"+strconv.Itoa(step))
	tmp := final + ".tmp"
	os.RemoveAll(tmp)
	if m.LoRA != nil {
		if err := m.LoRA.SaveAdapter(tmp, a.ModelPath); err != nil {
			return err
		}
	} else if err := m.Save(tmp); err != nil {
		return err
	}
	if err := tok.Save(tmp); err != nil {
		return err
	}
	if err := copyFile(path, filepath.Join(tmp, checkpointFile)); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(tmp, "trainer_state.json"), state); err != nil {
		return err
	}
	os.RemoveAll(final)
	return os.Rename(tmp, final)
}

// copyFile copies a file of the tiny models this CLI trains (in memory).
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// writeJSON writes v as Hugging Face does (indented, keys sorted).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func round4(f float64) float64 {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0
	}
	return math.Round(f*1e4) / 1e4
}

// printMetrics prints metrics as Trainer.log_metrics does.
func printMetrics(w io.Writer, split string, metrics map[string]any) {
	fmt.Fprintf(w, "***** %s metrics *****\n", split)
	keys := make([]string, 0, len(metrics))
	for k := range metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-24s = %v\n", k, metrics[k])
	}
}
