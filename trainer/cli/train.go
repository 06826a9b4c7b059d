package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

// RunConfig is the file given to `modelfactory train --config run.yaml`
// (YAML or JSON; keys as below).
type RunConfig struct {
	// BaseModel is a Hugging Face GPT-2 directory with its tokenizer, or
	// "starter" for the offline starter model (built under DataDir).
	BaseModel string `json:"base_model"`
	DataDir   string `json:"data_dir"`
	// Data is a JSONL file of Datanet records; ValData an optional
	// held-out file, otherwise ValFraction of Data is held out.
	Data        string  `json:"data"`
	ValData     string  `json:"val_data"`
	ValFraction float64 `json:"val_fraction"`
	OutputDir   string  `json:"output_dir"`
	// Mode is "lora" (default) or "full".
	Mode  string              `json:"mode"`
	LoRA  trainer.LoRAConfig  `json:"lora"`
	Train trainer.TrainConfig `json:"train"`
	Merge bool                `json:"merge"` // also write the merged model to output_dir/merged
}

// LoadRunConfig reads a YAML or JSON run file.
func LoadRunConfig(path string) (*RunConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("run config: %w", err)
	}
	var generic any
	if err := yaml.Unmarshal(b, &generic); err != nil {
		return nil, fmt.Errorf("run config %s: %w", path, err)
	}
	j, err := json.Marshal(generic)
	if err != nil {
		return nil, fmt.Errorf("run config %s: %w", path, err)
	}
	var rc RunConfig
	dec := json.NewDecoder(strings.NewReader(string(j)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rc); err != nil {
		return nil, fmt.Errorf("run config %s: %w", path, err)
	}
	base := filepath.Dir(path)
	for _, p := range []*string{&rc.Data, &rc.ValData, &rc.OutputDir, &rc.DataDir} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	if rc.BaseModel != "" && rc.BaseModel != "starter" && !filepath.IsAbs(rc.BaseModel) {
		rc.BaseModel = filepath.Join(base, rc.BaseModel)
	}
	if rc.DataDir == "" {
		rc.DataDir = filepath.Join(base, "data")
	}
	if err := rc.Prepare(); err != nil {
		return nil, err
	}
	return &rc, nil
}

// Train runs `modelfactory train --config run.yaml`: progress goes to stdout
// as trainer_log.jsonl lines (and to output_dir/trainer_log.jsonl); a killed
// or cancelled run resumes from output_dir/checkpoint.bin when started again.
func Train(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "run file (YAML or JSON)")
	threads := fs.Int("threads", 0, "worker goroutines (0: GOMAXPROCS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return errors.New("train: --config is required")
	}
	rc, err := LoadRunConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	_, err = RunTraining(ctx, rc, *threads, trainer.JSONLines(stdout), log)
	return err
}

// Prepare validates rc and fills in its defaults, as LoadRunConfig does for
// a file; paths must already be absolute or relative to the working directory.
func (rc *RunConfig) Prepare() error {
	switch {
	case rc.BaseModel == "":
		return errors.New("run config: base_model is required")
	case rc.Data == "":
		return errors.New("run config: data is required")
	case rc.OutputDir == "":
		return errors.New("run config: output_dir is required")
	}
	if rc.Mode == "" {
		rc.Mode = "lora"
	}
	if rc.Mode != "lora" && rc.Mode != "full" {
		return fmt.Errorf("run config: mode %q is not lora or full", rc.Mode)
	}
	if rc.Mode == "lora" {
		if rc.LoRA.Rank == 0 {
			rc.LoRA.Rank = 8
		}
		if rc.LoRA.Alpha == 0 {
			rc.LoRA.Alpha = 2 * float32(rc.LoRA.Rank)
		}
		if len(rc.LoRA.Targets) == 0 {
			rc.LoRA.Targets = []string{"c_attn", "c_proj"}
		}
	}
	if rc.ValData == "" && rc.ValFraction == 0 {
		rc.ValFraction = 0.1
	}
	if rc.DataDir == "" {
		rc.DataDir = "data"
	}
	return nil
}

// RunTraining executes a prepared run (see RunConfig.Prepare): it loads the
// base model and tokenizer (building the starter model for "starter"),
// formats the JSONL data, trains, and writes the outputs to rc.OutputDir.
// Progress events go to progress and to rc.OutputDir/trainer_log.jsonl; a
// run whose output_dir holds checkpoint.bin resumes from it. This is what
// `modelfactory train` runs and what a job worker calls. threads <= 0 uses
// GOMAXPROCS; log may be nil.
func RunTraining(ctx context.Context, rc *RunConfig, threads int, progress func(trainer.Event), log *slog.Logger) (*trainer.Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := rc.Prepare(); err != nil {
		return nil, err
	}
	res, err := runTraining(ctx, rc, threads, progress, log)
	if err != nil {
		return res, fmt.Errorf("train: %w", err)
	}
	return res, nil
}

func runTraining(ctx context.Context, rc *RunConfig, threads int, progress func(trainer.Event), log *slog.Logger) (*trainer.Result, error) {
	if rc.BaseModel == "starter" {
		log.Info("preparing the starter base model (first use takes a few minutes)")
		dir, err := trainer.EnsureStarterModel(ctx, rc.DataDir, nil)
		if err != nil {
			return nil, err
		}
		rc.BaseModel = dir
	}
	pool := gemm.NewPool(threads)
	defer pool.Close()
	m, err := trainer.LoadModel(rc.BaseModel, pool)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.LoadDir(rc.BaseModel)
	if err != nil {
		return nil, fmt.Errorf("base model tokenizer: %w", err)
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("tokenizer has %d tokens, model only %d", tok.VocabSize(), m.Config.VocabSize)
	}
	if err := os.MkdirAll(rc.OutputDir, 0o755); err != nil {
		return nil, err
	}
	// Data is streamed: JSONL → token files in the output directory → rows
	// read on demand, so memory does not grow with the dataset.
	trainDS, valDS, err := streamData(rc, tok)
	if err != nil {
		return nil, err
	}
	defer trainDS.Close()
	if valDS != nil {
		defer valDS.Close()
	}
	T := rc.Train.SeqLen
	if T == 0 {
		T = m.Config.MaxSeqLen
	}
	// Small datasets: shorten rows rather than refuse to train.
	for T > 8 && trainDS.Rows(T) < max(1, rc.Train.BatchSize) {
		T /= 2
	}
	rc.Train.SeqLen = T
	if valDS != nil && valDS.Rows(T) == 0 {
		log.Warn("validation split is shorter than one row; validation disabled", "tokens", valDS.Len(), "seq_len", T)
		valDS = nil
	}
	if valDS != nil && rc.Train.EvalEvery == 0 {
		rc.Train.EvalEvery = 10
	}
	if rc.Mode == "lora" {
		lo, err := trainer.NewLoRA(m.Config, rc.LoRA, rc.Train.Seed)
		if err != nil {
			return nil, err
		}
		m.LoRA = lo
	}
	logFile, err := os.OpenFile(filepath.Join(rc.OutputDir, "trainer_log.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	rc.Train.CheckpointPath = filepath.Join(rc.OutputDir, "checkpoint.bin")
	if rc.Train.CheckpointEvery == 0 {
		rc.Train.CheckpointEvery = 50
	}
	toFile := trainer.JSONLines(logFile)
	res, err := trainer.Train(ctx, m, trainDS, valDS, rc.Train, func(ev trainer.Event) {
		if progress != nil {
			progress(ev)
		}
		toFile(ev)
	})
	if err != nil {
		return res, err
	}
	if err := saveOutputs(rc, m, tok); err != nil {
		return nil, err
	}
	log.Info("training finished", "steps", res.Steps, "final_loss", res.FinalLoss, "best_eval_loss", res.BestEvalLoss,
		"stopped_early", res.StoppedEarly, "output_dir", rc.OutputDir)
	return res, nil
}

// streamData tokenizes the JSONL data into train.tokens and val.tokens in
// the output directory. Without val_data each example is held out with
// probability val_fraction, decided by a generator seeded with the run seed.
func streamData(rc *RunConfig, tok *tokenizer.Tokenizer) (train, val *trainer.Dataset, err error) {
	tw, err := trainer.CreateDatasetFile(filepath.Join(rc.OutputDir, "train.tokens"))
	if err != nil {
		return nil, nil, err
	}
	vw, err := trainer.CreateDatasetFile(filepath.Join(rc.OutputDir, "val.tokens"))
	if err != nil {
		return nil, nil, err
	}
	coin := rand.New(rand.NewPCG(rc.Train.Seed, 0xda7a))
	nVal := 0
	scan := func(path string, fn func(trainer.Example) error) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trainer.ScanExamples(f, fn); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	}
	err = scan(rc.Data, func(ex trainer.Example) error {
		if rc.ValData == "" && coin.Float64() < rc.ValFraction {
			nVal++
			return vw.AppendExample(ex, tok)
		}
		return tw.AppendExample(ex, tok)
	})
	if err == nil && rc.ValData != "" {
		err = scan(rc.ValData, func(ex trainer.Example) error {
			nVal++
			return vw.AppendExample(ex, tok)
		})
	}
	train, terr := tw.Finish()
	val, verr := vw.Finish()
	if err = errors.Join(err, terr, verr); err != nil {
		if train != nil {
			train.Close()
		}
		if val != nil {
			val.Close()
		}
		return nil, nil, err
	}
	if nVal == 0 {
		val.Close()
		val = nil
	}
	return train, val, nil
}

// saveOutputs writes the adapter (PEFT) or full model, plus the tokenizer,
// and optionally the merged model.
func saveOutputs(rc *RunConfig, m *trainer.Model, tok *tokenizer.Tokenizer) error {
	if m.LoRA != nil {
		if err := m.LoRA.SaveAdapter(rc.OutputDir, rc.BaseModel); err != nil {
			return err
		}
		if rc.Merge {
			lo := m.LoRA
			if err := lo.MergeInto(m); err != nil {
				return err
			}
			m.LoRA = nil
			dir := filepath.Join(rc.OutputDir, "merged")
			if err := m.Save(dir); err != nil {
				return err
			}
			return tok.Save(dir)
		}
		return nil
	}
	if err := m.Save(rc.OutputDir); err != nil {
		return err
	}
	return tok.Save(rc.OutputDir)
}
