package jobs

import (
	"context"

	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/trainer"
)

// TrainJob is one attempt at training one run, prepared by FinetuneWorker.
type TrainJob struct {
	Run      *store.FinetuneRun
	Settings store.FinetuneSettings // validated
	Base     *store.BaseModel
	// BaseDir is the materialized base model (config.json,
	// model.safetensors, tokenizer files).
	BaseDir string
	// Schema is the Datanet schema of the data: "documents",
	// "instruction" or "classification".
	Schema string
	// TrainFile is JSONL, one record per line in the Datanet shape:
	// {"text"} | {"instruction","input"?,"response"} | {"text","label"}.
	TrainFile string
	// ValFile is JSONL in the same shape; "" when there is no validation split.
	ValFile string
	// WorkDir is a scratch directory for this attempt.
	WorkDir string
	// ResumeDir is "" or a directory holding the files of the last
	// uploaded checkpoint.
	ResumeDir string
	// Progress receives every logged step and evaluation.
	Progress func(ev trainer.Event)
	// Log receives a line for the run page's log tail.
	Log func(line string)
	// Sample receives a sample generation made at an evaluation.
	Sample func(step int, prompt, output string)
	// Checkpoint is called when the backend wrote a checkpoint directory:
	// it uploads it (replacing the previous one).
	Checkpoint func(ctx context.Context, dir string, step int) error
	// EarlyStop, when set, receives the explanation of an early stop.
	EarlyStop func(step int, reason string)
}

// TrainOutput is what a finished attempt produced.
type TrainOutput struct {
	// AdapterDir holds adapter_model.safetensors + adapter_config.json
	// (PEFT); "" for full fine-tunes.
	AdapterDir string
	// ModelDir is the merged (LoRA) or fully fine-tuned model:
	// config.json, model.safetensors, tokenizer files.
	ModelDir string
	// Metrics are final figures: train_loss, eval_loss, …
	Metrics      map[string]float64
	EarlyStopped bool
}

// TrainBackend trains. Cancelling ctx must stop within one step.
type TrainBackend interface {
	Train(ctx context.Context, j *TrainJob) (*TrainOutput, error)
}
