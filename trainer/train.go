package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// TrainConfig controls a training run. Zero values get the defaults noted.
type TrainConfig struct {
	Steps       int     `json:"steps"`        // optimizer steps; 0: Epochs × rows / (batch·accum)
	Epochs      float64 `json:"epochs"`       // used when Steps is 0 (default 1)
	BatchSize   int     `json:"batch_size"`   // rows per micro-batch (default 4)
	SeqLen      int     `json:"seq_len"`      // T (default: model context)
	GradAccum   int     `json:"grad_accum"`   // micro-batches per step (default 1)
	LR          float64 `json:"lr"`           // peak learning rate (default 3e-4)
	MinLRRatio  float64 `json:"min_lr_ratio"` // cosine floor as a fraction of LR (default 0.1)
	Warmup      int     `json:"warmup_steps"`
	WeightDecay float64 `json:"weight_decay"`
	Beta1       float64 `json:"beta1"`     // default 0.9
	Beta2       float64 `json:"beta2"`     // default 0.999
	Eps         float64 `json:"eps"`       // default 1e-8
	GradClip    float64 `json:"grad_clip"` // global norm; 0 disables
	EvalEvery   int     `json:"eval_every"`
	EvalBatches int     `json:"eval_batches"` // 0: the whole validation set
	Patience    int     `json:"patience"`     // evaluations without improvement before stopping; 0: never
	Seed        uint64  `json:"seed"`
	// CheckpointPath, when set, receives a resumable checkpoint every
	// CheckpointEvery steps, on cancellation and at the end; Train resumes
	// from it when it exists.
	CheckpointPath  string `json:"checkpoint_path"`
	CheckpointEvery int    `json:"checkpoint_every"`
	// Scheduler shapes the learning rate after warmup: "cosine" (default),
	// "linear" (to LR·MinLRRatio) or "constant".
	Scheduler string `json:"scheduler"`
	// OnEval, when set, is called after each evaluation with the model in
	// evaluation mode (it may generate samples) and the step's event.
	OnEval func(m *Model, ev Event) `json:"-"`
	// OnCheckpoint, when set, is called after each checkpoint write with
	// its path and step (it may upload it); an error stops training.
	OnCheckpoint func(path string, step int) error `json:"-"`
	// OnEarlyStop, when set, explains an early stop.
	OnEarlyStop func(step int, reason string) `json:"-"`
}

func (c *TrainConfig) defaults(m *Model) error {
	if c.BatchSize == 0 {
		c.BatchSize = 4
	}
	if c.SeqLen == 0 {
		c.SeqLen = m.Config.MaxSeqLen
	}
	if c.GradAccum == 0 {
		c.GradAccum = 1
	}
	if c.LR == 0 {
		c.LR = 3e-4
	}
	if c.MinLRRatio == 0 {
		c.MinLRRatio = 0.1
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	if c.Epochs == 0 {
		c.Epochs = 1
	}
	switch {
	case c.BatchSize < 0, c.GradAccum < 0, c.Steps < 0, c.Epochs < 0, c.Warmup < 0, c.EvalEvery < 0, c.Patience < 0:
		return errors.New("train config: negative values are not allowed")
	case c.SeqLen < 1 || c.SeqLen > m.Config.MaxSeqLen:
		return fmt.Errorf("train config: seq_len %d outside [1,%d]", c.SeqLen, m.Config.MaxSeqLen)
	case c.LR < 0 || math.IsNaN(c.LR) || c.Beta1 >= 1 || c.Beta2 >= 1:
		return errors.New("train config: invalid optimizer settings")
	case c.Scheduler != "" && c.Scheduler != "cosine" && c.Scheduler != "linear" && c.Scheduler != "constant":
		return fmt.Errorf("train config: scheduler %q is not cosine, linear or constant", c.Scheduler)
	}
	return nil
}

// Event is one progress report. Its JSON form is a line of LLaMA-Factory's
// trainer_log.jsonl (current_steps, total_steps, loss, eval_loss, lr, epoch,
// percentage, elapsed_time, remaining_time) plus tokens_per_sec.
type Event struct {
	Step          int      `json:"current_steps"`
	TotalSteps    int      `json:"total_steps"`
	Loss          *float64 `json:"loss,omitempty"`
	EvalLoss      *float64 `json:"eval_loss,omitempty"`
	LR            float64  `json:"lr"`
	Epoch         float64  `json:"epoch"`
	Percentage    float64  `json:"percentage"`
	ElapsedTime   string   `json:"elapsed_time"`
	RemainingTime string   `json:"remaining_time"`
	TokensPerSec  float64  `json:"tokens_per_sec"`
	// Elapsed and Remaining are the same durations for Go callers.
	Elapsed   time.Duration `json:"-"`
	Remaining time.Duration `json:"-"`
}

// JSONLines returns a progress callback writing each event as one JSON line
// to w (the trainer_log.jsonl format). Write errors are ignored: progress
// output must never stop a training run.
func JSONLines(w io.Writer) func(Event) {
	enc := json.NewEncoder(w)
	return func(ev Event) { _ = enc.Encode(ev) }
}

// hms formats like Python's str(timedelta(seconds=int(s))), as LLaMA-Factory does.
func hms(d time.Duration) string {
	s := int(d.Seconds())
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}

// Result summarises a finished run.
type Result struct {
	Steps        int
	FinalLoss    float64
	BestEvalLoss float64 // NaN without validation
	StoppedEarly bool
	Losses       []float64 // training loss per step, this process only
	EvalLosses   []float64
}

// Train optimises m on train (validating on val, which may be nil): the
// adapter parameters when m.LoRA is set, every base parameter otherwise.
// Progress goes to progress (may be nil). Cancelling ctx stops within one
// step, writes the checkpoint (when configured) and returns ctx's error.
// With early stopping the best evaluated weights are restored at the end.
func Train(ctx context.Context, m *Model, train, val *Dataset, cfg TrainConfig, progress func(Event)) (*Result, error) {
	if err := cfg.defaults(m); err != nil {
		return nil, err
	}
	B, T := cfg.BatchSize, cfg.SeqLen
	ld, err := newLoader(train, B, T, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	total := cfg.Steps
	if total == 0 {
		total = max(1, int(cfg.Epochs*float64(train.Rows(T))/float64(B*cfg.GradAccum)))
	}
	params, decay := m.trainable()
	m.ZeroGrad()
	grads := m.gradSlice()
	opt := NewAdamW(len(params), cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay, decay)
	st := &runState{BestEval: math.Inf(1)}
	if cfg.CheckpointPath != "" {
		if _, err := loadCheckpoint(cfg.CheckpointPath, m, opt, ld, st); err != nil {
			return nil, err
		}
	}
	var best []float32
	if st.BestParams != nil {
		best = st.BestParams
	}
	inputs, targets := make([]int32, B*T), make([]int32, B*T)
	res := &Result{BestEvalLoss: math.NaN()}
	start := time.Now()
	startStep := opt.Step
	save := func() error {
		if cfg.CheckpointPath == "" {
			return nil
		}
		st.BestParams = best
		if err := saveCheckpoint(cfg.CheckpointPath, m, opt, ld, st); err != nil {
			return err
		}
		if cfg.OnCheckpoint != nil {
			return cfg.OnCheckpoint(cfg.CheckpointPath, opt.Step)
		}
		return nil
	}
	m.Training = true
	defer func() { m.Training = false }()
	for opt.Step < total {
		if err := ctx.Err(); err != nil {
			if serr := save(); serr != nil {
				return res, errors.Join(err, serr)
			}
			return res, err
		}
		stepStart := time.Now()
		step := opt.Step
		lr := ScheduleLR(cfg.Scheduler, step, total, cfg.Warmup, cfg.LR, cfg.MinLRRatio)
		m.ZeroGrad()
		var lossSum float64
		for a := 0; a < cfg.GradAccum; a++ {
			if err := ld.next(inputs, targets); err != nil {
				return res, fmt.Errorf("train step %d: %w", step, err)
			}
			loss, err := m.Forward(inputs, targets, B, T)
			if err != nil {
				return res, fmt.Errorf("train step %d: %w", step, err)
			}
			if err := m.Backward(1 / float32(cfg.GradAccum)); err != nil {
				return res, fmt.Errorf("train step %d: %w", step, err)
			}
			lossSum += float64(loss)
		}
		loss := lossSum / float64(cfg.GradAccum)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return res, fmt.Errorf("train step %d: loss is %v; lower the learning rate", step, loss)
		}
		clipGradNorm(m.pool, grads, cfg.GradClip)
		opt.Update(m.pool, params, grads, lr)
		res.Losses = append(res.Losses, loss)
		res.FinalLoss = loss
		res.Steps = opt.Step

		elapsed := time.Since(start)
		done := opt.Step - startStep
		remaining := time.Duration(float64(elapsed) / float64(done) * float64(total-opt.Step))
		ev := Event{Step: opt.Step, TotalSteps: total, Loss: &loss, LR: lr, Epoch: ld.epochFloat(),
			Percentage: math.Round(10000*float64(opt.Step)/float64(total)) / 100,
			Elapsed:    elapsed, Remaining: remaining, ElapsedTime: hms(elapsed), RemainingTime: hms(remaining),
			TokensPerSec: float64(B*T*cfg.GradAccum) / time.Since(stepStart).Seconds()}
		stop := false
		if val != nil && cfg.EvalEvery > 0 && (opt.Step%cfg.EvalEvery == 0 || opt.Step == total) {
			el, err := Evaluate(m, val, B, T, cfg.EvalBatches)
			if err != nil {
				return res, fmt.Errorf("train step %d: %w", step, err)
			}
			ev.EvalLoss = &el
			res.EvalLosses = append(res.EvalLosses, el)
			if el < st.BestEval {
				st.BestEval, st.BadEvals = el, 0
				if cfg.Patience > 0 {
					best = append(best[:0], params...)
				}
			} else {
				st.BadEvals++
				stop = cfg.Patience > 0 && st.BadEvals >= cfg.Patience
			}
		}
		if progress != nil {
			progress(ev)
		}
		if ev.EvalLoss != nil && cfg.OnEval != nil {
			m.Training = false
			cfg.OnEval(m, ev)
			m.Training = true
		}
		if stop {
			res.StoppedEarly = true
			if cfg.OnEarlyStop != nil {
				cfg.OnEarlyStop(opt.Step, fmt.Sprintf("Validation loss did not improve on its best (%.4f) for %d evaluations in a row; "+
					"training stopped at step %d of %d and the weights from the best evaluation were kept.", st.BestEval, st.BadEvals, opt.Step, total))
			}
			break
		}
		if cfg.CheckpointEvery > 0 && opt.Step%cfg.CheckpointEvery == 0 {
			if err := save(); err != nil {
				return res, err
			}
		}
	}
	if !math.IsInf(st.BestEval, 1) {
		res.BestEvalLoss = st.BestEval
	}
	if res.StoppedEarly && best != nil {
		copy(params, best)
	}
	if err := save(); err != nil {
		return res, err
	}
	return res, nil
}

// ScheduleLR is the learning rate at step (0-based) of total for a
// scheduler: linear warmup to peak, then cosine or linear decay to
// peak·minRatio, or constant.
func ScheduleLR(scheduler string, step, total, warmup int, peak, minRatio float64) float64 {
	switch scheduler {
	case "constant":
		if warmup > 0 && step < warmup {
			return peak * float64(step+1) / float64(warmup)
		}
		return peak
	case "linear":
		if warmup > 0 && step < warmup {
			return peak * float64(step+1) / float64(warmup)
		}
		span := total - warmup
		if span <= 0 {
			return peak
		}
		progress := math.Min(1, float64(step-warmup)/float64(span))
		return peak - (peak-peak*minRatio)*progress
	}
	return CosineLR(step, total, warmup, peak, minRatio)
}

// runState is the part of a run's state that is neither weights nor optimizer.
type runState struct {
	BestEval   float64
	BadEvals   int
	BestParams []float32
}

// Evaluate returns the mean loss per unmasked target over the first
// maxBatches (B,T) batches of d in order (all when maxBatches is 0), without
// dropout. A short last batch is padded with fully masked rows so the
// activation buffers keep their shape (no reallocation).
func Evaluate(m *Model, d *Dataset, B, T, maxBatches int) (float64, error) {
	rows := d.Rows(T)
	if rows == 0 {
		return 0, errors.New("evaluate: validation set has no full row")
	}
	training := m.Training
	m.Training = false
	defer func() { m.Training = training }()
	inputs, targets := make([]int32, B*T), make([]int32, B*T)
	var sum float64
	count, batches := 0, 0
	for r0 := 0; r0 < rows; r0 += B {
		if maxBatches > 0 && batches >= maxBatches {
			break
		}
		for b := 0; b < B; b++ {
			in, tg := inputs[b*T:(b+1)*T], targets[b*T:(b+1)*T]
			if r0+b >= rows {
				copy(in, inputs[:T])
				for j := range tg {
					tg[j] = -1
				}
				continue
			}
			if err := d.fillRow(r0+b, T, in, tg); err != nil {
				return 0, fmt.Errorf("evaluate: %w", err)
			}
		}
		if _, err := m.Forward(inputs, targets, B, T); err != nil {
			return 0, fmt.Errorf("evaluate: %w", err)
		}
		for i, l := range m.Losses() {
			if targets[i] >= 0 {
				sum += float64(l)
				count++
			}
		}
		batches++
	}
	if count == 0 {
		return 0, errors.New("evaluate: no unmasked targets in the validation set")
	}
	return sum / float64(count), nil
}

// trainable returns the slice the optimizer updates and its decay mask.
func (m *Model) trainable() ([]float32, []bool) {
	if m.LoRA != nil {
		return m.LoRA.Params, nil
	}
	decay := make([]bool, len(m.Params))
	for _, s := range m.Config.layout() {
		if s.decay {
			n := size(s.shape)
			for i := s.offset; i < s.offset+n; i++ {
				decay[i] = true
			}
		}
	}
	return m.Params, decay
}

func (m *Model) gradSlice() []float32 {
	if m.LoRA != nil {
		return m.LoRA.Grads
	}
	return m.Grads
}
