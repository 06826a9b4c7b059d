package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Fine-tune run statuses, methods, backends and queues.
const (
	RunQueued     = "queued"
	RunRunning    = "running"
	RunCancelling = "cancelling"
	RunSucceeded  = "succeeded"
	RunFailed     = "failed"
	RunCancelled  = "cancelled"

	MethodLoRA = "lora"
	MethodFull = "full"

	BackendNative       = "native"
	BackendLlamaFactory = "llamafactory"

	QueueTrainCPU = "train_cpu"
	QueueTrainGPU = "train_gpu"
)

// Fine-tune event kinds (finetune_events.kind).
const (
	EventProgress  = "progress"
	EventLog       = "log"
	EventSample    = "sample"
	EventStatus    = "status"
	EventEarlyStop = "early_stop"
)

// FinetuneNotifyChannel is the PostgreSQL channel that carries a run ID
// whenever one of its events is written, so live pages push only on change.
const FinetuneNotifyChannel = "finetune_events"

// FinetuneSettings is every trainer option of a run. JSON names are the
// API's and the wizard's field names; validation errors use them as keys.
type FinetuneSettings struct {
	Method      string   `json:"method"` // "lora" | "full"
	LoRARank    int      `json:"loraRank"`
	LoRAAlpha   float64  `json:"loraAlpha"`
	LoRADropout float64  `json:"loraDropout"`
	LoRATargets []string `json:"loraTargets"`

	LearningRate float64 `json:"learningRate"`
	Epochs       float64 `json:"epochs"`
	MaxSteps     int     `json:"maxSteps"` // 0: from Epochs
	BatchSize    int     `json:"batchSize"`
	GradAccum    int     `json:"gradAccum"`
	// ContextLength is the training sequence length in tokens.
	ContextLength int     `json:"contextLength"`
	WarmupSteps   int     `json:"warmupSteps"`
	Scheduler     string  `json:"scheduler"` // "cosine" | "linear" | "constant"
	MinLRRatio    float64 `json:"minLrRatio"`
	WeightDecay   float64 `json:"weightDecay"`
	GradClip      float64 `json:"gradClip"` // global norm; 0 disables
	// EvalEvery is the evaluation period in steps (0: no evaluation).
	EvalEvery int `json:"evalEvery"`
	// EvalBatches bounds one evaluation (0: the whole validation split).
	EvalBatches int `json:"evalBatches"`
	// EarlyStoppingPatience is how many evaluations without improvement
	// stop the run (0: never).
	EarlyStoppingPatience int `json:"earlyStoppingPatience"`
	// ValSplit is the fraction of records held out for validation.
	ValSplit float64 `json:"valSplit"`
	Seed     uint64  `json:"seed"`
	// CheckpointEvery is the checkpoint period in steps.
	CheckpointEvery int `json:"checkpointEvery"`
	// SamplePrompts are generated from at each evaluation.
	SamplePrompts []string `json:"samplePrompts"`
	// SampleTokens bounds each sample generation.
	SampleTokens int `json:"sampleTokens"`
}

// Fine-tune presets.
const (
	PresetQuick    = "quick"
	PresetBalanced = "balanced"
	PresetThorough = "thorough"
	PresetCustom   = "custom"
)

// FinetunePresets are the names the wizard offers, in order.
var FinetunePresets = []string{PresetQuick, PresetBalanced, PresetThorough}

// PresetSettings returns a preset's settings for method ("lora" or
// "full"); unknown names give Balanced.
func PresetSettings(name, method string) FinetuneSettings {
	s := FinetuneSettings{
		Method: MethodLoRA, LoRARank: 8, LoRAAlpha: 16, LoRADropout: 0.05, LoRATargets: []string{"c_attn", "c_proj"},
		LearningRate: 1e-3, Epochs: 2, BatchSize: 4, GradAccum: 1, ContextLength: 128, WarmupSteps: 10,
		Scheduler: "cosine", MinLRRatio: 0.1, WeightDecay: 0, GradClip: 1, EvalEvery: 10, EvalBatches: 8,
		EarlyStoppingPatience: 3, ValSplit: 0.1, Seed: 42, CheckpointEvery: 20, SampleTokens: 32,
		SamplePrompts: []string{"The"},
	}
	switch name {
	case PresetQuick:
		s.LearningRate, s.Epochs, s.BatchSize, s.ContextLength, s.WarmupSteps = 2e-3, 1, 4, 64, 5
		s.EvalEvery, s.EarlyStoppingPatience, s.Scheduler = 10, 2, "linear"
	case PresetThorough:
		s.LearningRate, s.Epochs, s.BatchSize, s.GradAccum, s.ContextLength, s.WarmupSteps = 5e-4, 5, 8, 2, 128, 30
		s.EvalEvery, s.EarlyStoppingPatience, s.LoRARank, s.LoRAAlpha = 20, 5, 16, 32
	}
	if method == MethodFull {
		s.Method = MethodFull
		s.LoRARank, s.LoRAAlpha, s.LoRADropout, s.LoRATargets = 0, 0, 0, nil
		s.LearningRate /= 5
		s.WeightDecay = 0.01
	}
	return s
}

// ModelShape is what validation needs of a base model's config.json.
type ModelShape struct {
	Width   int // n_embd / hidden_size
	Layers  int
	Context int
}

// Shape reads the model width, depth and context from the catalog entry.
func (b *BaseModel) Shape() ModelShape {
	var c struct {
		NEmbd      int `json:"n_embd"`
		Hidden     int `json:"hidden_size"`
		NLayer     int `json:"n_layer"`
		NumLayers  int `json:"num_hidden_layers"`
		NPositions int `json:"n_positions"`
		MaxPos     int `json:"max_position_embeddings"`
	}
	_ = json.Unmarshal(b.Config, &c)
	s := ModelShape{Width: max(c.NEmbd, c.Hidden), Layers: max(c.NLayer, c.NumLayers), Context: b.ContextLength}
	if s.Context == 0 {
		s.Context = max(c.NPositions, c.MaxPos)
	}
	return s
}

// GPT2LoRATargets are the target modules the native trainer knows.
var GPT2LoRATargets = []string{"c_attn", "attn.c_proj", "c_fc", "mlp.c_proj", "c_proj"}

var moduleRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]{0,63}$`)

// Validate checks s against base and normalises lists; problems come back
// as a *ValidationError keyed by the JSON field names.
func (s *FinetuneSettings) Validate(base *BaseModel) error {
	errs := map[string]string{}
	shape := base.Shape()
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	switch s.Method {
	case MethodLoRA:
		switch {
		case s.LoRARank < 1:
			errs["loraRank"] = "Use a rank of at least 1."
		case shape.Width > 0 && s.LoRARank > shape.Width:
			errs["loraRank"] = fmt.Sprintf("Rank %d is larger than the model width (%d); use %d or less.", s.LoRARank, shape.Width, shape.Width)
		}
		if bad(s.LoRAAlpha) || s.LoRAAlpha <= 0 || s.LoRAAlpha > 1024 {
			errs["loraAlpha"] = "Use an alpha above 0 (typically twice the rank)."
		}
		if bad(s.LoRADropout) || s.LoRADropout < 0 || s.LoRADropout >= 1 {
			errs["loraDropout"] = "Use a dropout from 0 up to (not including) 1."
		}
		var targets []string
		for _, t := range s.LoRATargets {
			t = strings.TrimSpace(t)
			if t != "" && !slices.Contains(targets, t) {
				targets = append(targets, t)
			}
		}
		s.LoRATargets = targets
		switch {
		case len(targets) == 0:
			errs["loraTargets"] = "Choose at least one target module."
		case base.Architecture == "gpt2" || base.TrainableCPU:
			for _, t := range targets {
				if !slices.Contains(GPT2LoRATargets, t) {
					errs["loraTargets"] = fmt.Sprintf("%q is not a module of this model; use %s.", t, strings.Join(GPT2LoRATargets, ", "))
				}
			}
		default:
			for _, t := range targets {
				if !moduleRE.MatchString(t) {
					errs["loraTargets"] = fmt.Sprintf("%q is not a module name.", t)
				}
			}
		}
	case MethodFull:
		s.LoRARank, s.LoRAAlpha, s.LoRADropout, s.LoRATargets = 0, 0, 0, nil
	default:
		errs["method"] = "Choose LoRA or full fine-tune."
	}
	switch {
	case bad(s.LearningRate) || s.LearningRate <= 0:
		errs["learningRate"] = "The learning rate must be above 0 (typically 1e-4 to 3e-3)."
	case s.LearningRate > 1:
		errs["learningRate"] = "A learning rate above 1 diverges; use 1e-4 to 3e-3."
	}
	switch {
	case s.MaxSteps < 0 || s.MaxSteps > 1_000_000:
		errs["maxSteps"] = "Use 0 (train by epochs) up to 1,000,000 steps."
	case s.MaxSteps == 0 && (bad(s.Epochs) || s.Epochs <= 0 || s.Epochs > 100):
		errs["epochs"] = "Use more than 0 and at most 100 epochs (or set a step count)."
	}
	if s.BatchSize < 1 || s.BatchSize > 256 {
		errs["batchSize"] = "Use a batch size from 1 to 256."
	}
	if s.GradAccum < 1 || s.GradAccum > 256 {
		errs["gradAccum"] = "Use gradient accumulation from 1 to 256."
	}
	switch {
	case s.ContextLength < 8:
		errs["contextLength"] = "Use a context length of at least 8 tokens."
	case shape.Context > 0 && s.ContextLength > shape.Context:
		errs["contextLength"] = fmt.Sprintf("The base model reads at most %d tokens; use %d or less.", shape.Context, shape.Context)
	}
	if s.WarmupSteps < 0 || s.WarmupSteps > 100_000 {
		errs["warmupSteps"] = "Use 0 to 100,000 warm-up steps."
	}
	if !slices.Contains([]string{"cosine", "linear", "constant"}, s.Scheduler) {
		errs["scheduler"] = "Choose cosine, linear or constant."
	}
	if bad(s.MinLRRatio) || s.MinLRRatio < 0 || s.MinLRRatio > 1 {
		errs["minLrRatio"] = "Use a floor from 0 to 1 (a fraction of the learning rate)."
	}
	if bad(s.WeightDecay) || s.WeightDecay < 0 || s.WeightDecay > 1 {
		errs["weightDecay"] = "Use a weight decay from 0 to 1."
	}
	if bad(s.GradClip) || s.GradClip < 0 || s.GradClip > 1000 {
		errs["gradClip"] = "Use 0 (off) or a positive gradient-norm limit."
	}
	if s.EvalEvery < 0 || s.EvalEvery > 100_000 {
		errs["evalEvery"] = "Use 0 (no evaluation) up to 100,000 steps."
	}
	if s.EvalBatches < 0 || s.EvalBatches > 10_000 {
		errs["evalBatches"] = "Use 0 (whole validation split) up to 10,000 batches."
	}
	switch {
	case s.EarlyStoppingPatience < 0 || s.EarlyStoppingPatience > 100:
		errs["earlyStoppingPatience"] = "Use 0 (off) to 100 evaluations."
	case s.EarlyStoppingPatience > 0 && (s.EvalEvery == 0 || s.ValSplit == 0):
		errs["earlyStoppingPatience"] = "Early stopping needs evaluation: set a validation split and an evaluation period, or use 0."
	}
	if bad(s.ValSplit) || s.ValSplit < 0 || s.ValSplit > 0.5 {
		errs["valSplit"] = "Hold out from 0 to 50% of the records for validation."
	}
	if s.CheckpointEvery < 1 || s.CheckpointEvery > 100_000 {
		errs["checkpointEvery"] = "Checkpoint every 1 to 100,000 steps."
	}
	var prompts []string
	for _, p := range s.SamplePrompts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if utf8.RuneCountInString(p) > 500 {
			errs["samplePrompts"] = "Keep each sample prompt under 500 characters."
		}
		prompts = append(prompts, p)
	}
	if len(prompts) > 5 {
		errs["samplePrompts"] = "Use at most 5 sample prompts."
	}
	s.SamplePrompts = prompts
	if s.SampleTokens < 0 || s.SampleTokens > 256 {
		errs["sampleTokens"] = "Generate 0 to 256 tokens per sample."
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

// FinetuneRun is one fine-tune run.
type FinetuneRun struct {
	ID                int64
	OwnerID           int64
	Owner             string // address
	Name              string
	BaseModelID       int64
	BaseModelSlug     string
	BaseModelName     string
	Method            string
	Preset            string
	Settings          FinetuneSettings
	Backend           string
	Queue             string
	Priority          int
	Status            string
	Error             string
	CancelRequestedAt *time.Time
	Attempt           int
	Worker            string
	HeartbeatAt       *time.Time
	CheckpointKey     string
	Step              int
	TotalSteps        int
	Progress          json.RawMessage // latest trainer_log.jsonl line; nil before the first
	Metrics           map[string]float64
	TrainRecords      int64
	ValRecords        int64
	EstimatedTokens   int64
	EstimatedSeconds  int
	RiverJobID        int64
	DeletedAt         *time.Time
	CreatedAt         time.Time
	StartedAt         *time.Time
	FinishedAt        *time.Time
	UpdatedAt         time.Time
	// ModelSlug is the fine-tuned model a succeeded run produced ("" before).
	ModelSlug string
}

// Final reports whether the run can no longer change.
func (r *FinetuneRun) Final() bool {
	return r.Status == RunSucceeded || r.Status == RunFailed || r.Status == RunCancelled
}

// Active reports whether the run is queued or running.
func (r *FinetuneRun) Active() bool { return !r.Final() }

const runCols = `r.id, r.owner_id, u.address, r.name, r.base_model_id, b.slug, b.name, r.method, r.preset, r.settings,
	r.backend, r.queue, r.priority, r.status, r.error, r.cancel_requested_at, r.attempt, r.worker, r.heartbeat_at,
	r.checkpoint_key, r.step, r.total_steps, r.progress, r.metrics, r.train_records, r.val_records, r.estimated_tokens,
	r.estimated_seconds, coalesce(r.river_job_id, 0), r.deleted_at, r.created_at, r.started_at, r.finished_at, r.updated_at,
	coalesce((SELECT m.slug FROM models m WHERE m.run_id = r.id), '')`

const runFrom = ` FROM finetune_runs r JOIN users u ON u.id = r.owner_id JOIN base_models b ON b.id = r.base_model_id `

func scanRun(row pgx.Row) (*FinetuneRun, error) {
	var r FinetuneRun
	var settings, metrics []byte
	err := row.Scan(&r.ID, &r.OwnerID, &r.Owner, &r.Name, &r.BaseModelID, &r.BaseModelSlug, &r.BaseModelName, &r.Method,
		&r.Preset, &settings, &r.Backend, &r.Queue, &r.Priority, &r.Status, &r.Error, &r.CancelRequestedAt, &r.Attempt,
		&r.Worker, &r.HeartbeatAt, &r.CheckpointKey, &r.Step, &r.TotalSteps, &r.Progress, &metrics, &r.TrainRecords,
		&r.ValRecords, &r.EstimatedTokens, &r.EstimatedSeconds, &r.RiverJobID, &r.DeletedAt, &r.CreatedAt, &r.StartedAt,
		&r.FinishedAt, &r.UpdatedAt, &r.ModelSlug)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(settings, &r.Settings); err != nil {
		return nil, fmt.Errorf("run %d settings: %w", r.ID, err)
	}
	if err := json.Unmarshal(metrics, &r.Metrics); err != nil {
		return nil, fmt.Errorf("run %d metrics: %w", r.ID, err)
	}
	return &r, nil
}

// FinetuneRunByID returns a run without checking access (workers); deleted
// runs are included.
func (s *Store) FinetuneRunByID(ctx context.Context, id int64) (*FinetuneRun, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runCols+runFrom+`WHERE r.id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("fine-tune run %d: %w", id, err)
	}
	return r, err
}

// VisibleFinetuneRun returns a run its owner (or an admin) may see;
// anyone else, and deleted runs, get ErrNotFound.
func (s *Store) VisibleFinetuneRun(ctx context.Context, a Actor, id int64) (*FinetuneRun, error) {
	r, err := s.FinetuneRunByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.DeletedAt != nil || a.UserID == 0 || (r.OwnerID != a.UserID && !a.Admin) {
		return nil, ErrNotFound
	}
	return r, nil
}

// ListFinetuneRuns returns the actor's runs (all runs for admins with all
// set), newest first.
func (s *Store) ListFinetuneRuns(ctx context.Context, a Actor, all bool, limit int) ([]FinetuneRun, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT `+runCols+runFrom+`
		WHERE r.deleted_at IS NULL AND (r.owner_id = $1 OR ($2 AND $3))
		ORDER BY r.created_at DESC, r.id DESC LIMIT $4`, a.UserID, a.Admin, all, limit)
	if err != nil {
		return nil, fmt.Errorf("list fine-tune runs: %w", err)
	}
	defer rows.Close()
	var out []FinetuneRun
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list fine-tune runs: %w", err)
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

// FinetuneRunsByIDs returns the visible runs among ids (for compare), in
// the order asked.
func (s *Store) FinetuneRunsByIDs(ctx context.Context, a Actor, ids []int64) ([]FinetuneRun, error) {
	var out []FinetuneRun
	for _, id := range ids {
		r, err := s.VisibleFinetuneRun(ctx, a, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// QueuePositions returns, for each queued run in ids, how many runs are
// ahead of it in its queue (River's order: priority, then age).
func (s *Store) QueuePositions(ctx context.Context, ids []int64) (map[int64]int, error) {
	out := map[int64]int{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT r.id, (SELECT count(*) FROM finetune_runs o
			WHERE o.queue = r.queue AND o.status = 'queued' AND o.id <> r.id
			  AND (o.priority, o.created_at, o.id) < (r.priority, r.created_at, r.id))
		FROM finetune_runs r WHERE r.id = ANY($1) AND r.status = 'queued'`, ids)
	if err != nil {
		return nil, fmt.Errorf("queue positions: %w", err)
	}
	var id int64
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error { out[id] = n + 1; return nil })
	if err != nil {
		return nil, fmt.Errorf("queue positions: %w", err)
	}
	return out, nil
}

// RunVersion is one Datanet version a run trains on.
type RunVersion struct {
	VersionID   int64
	DatanetID   int64
	DatanetSlug string
	DatanetName string
	Schema      string
	Version     int
	Records     int64
	Tokens      int64
	MerkleRoot  string
}

// FinetuneRunData lists the versions a run trains on.
func (s *Store) FinetuneRunData(ctx context.Context, runID int64) ([]RunVersion, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT v.id, d.id, d.slug, d.name, d.schema_kind, v.version, v.record_count, v.token_count, v.merkle_root
		FROM finetune_run_data rd JOIN datanet_versions v ON v.id = rd.version_id JOIN datanets d ON d.id = v.datanet_id
		WHERE rd.run_id = $1 ORDER BY d.slug, v.version`, runID)
	if err != nil {
		return nil, fmt.Errorf("run %d data: %w", runID, err)
	}
	return pgx.CollectRows(rows, scanRunVersion)
}

func scanRunVersion(row pgx.CollectableRow) (RunVersion, error) {
	var v RunVersion
	err := row.Scan(&v.VersionID, &v.DatanetID, &v.DatanetSlug, &v.DatanetName, &v.Schema, &v.Version, &v.Records, &v.Tokens, &v.MerkleRoot)
	return v, err
}

// UsableVersion is a published Datanet version shown in the wizard, with
// whether the actor may train on it.
type UsableVersion struct {
	RunVersion
	Visibility string
	Usable     bool   // the actor may read it and it is not suspended
	Why        string // when not usable: "request access", "suspended", …
}

// FinetuneDataChoices lists the latest versions (up to 5 per Datanet) of
// published Datanets the actor can see, usable ones first.
func (s *Store) FinetuneDataChoices(ctx context.Context, a Actor) ([]UsableVersion, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT v.id, d.id, d.slug, d.name, d.schema_kind, v.version, v.record_count, v.token_count, v.merkle_root, d.visibility
		FROM datanets d JOIN LATERAL (SELECT * FROM datanet_versions v WHERE v.datanet_id = d.id ORDER BY v.version DESC LIMIT 5) v ON true
		WHERE d.status IN ('published', 'suspended')
		  AND (d.visibility IN ('public', 'permissioned') OR d.owner_id = $1 OR $2
		       OR EXISTS (SELECT 1 FROM datanet_members m WHERE m.datanet_id = d.id AND m.user_id = $1))
		ORDER BY d.name, d.id, v.version DESC LIMIT 500`, a.UserID, a.Admin)
	if err != nil {
		return nil, fmt.Errorf("fine-tune data choices: %w", err)
	}
	vs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (UsableVersion, error) {
		var v UsableVersion
		err := row.Scan(&v.VersionID, &v.DatanetID, &v.DatanetSlug, &v.DatanetName, &v.Schema, &v.Version, &v.Records,
			&v.Tokens, &v.MerkleRoot, &v.Visibility)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("fine-tune data choices: %w", err)
	}
	access := map[int64]UsableVersion{}
	out := vs[:0]
	for _, v := range vs {
		if known, ok := access[v.DatanetID]; ok {
			v.Usable, v.Why = known.Usable, known.Why
		} else {
			v.Usable, v.Why, err = s.canTrainOn(ctx, a, v.DatanetID)
			if err != nil {
				return nil, err
			}
			access[v.DatanetID] = v
		}
		if v.Why == "hidden" {
			continue
		}
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(x, y UsableVersion) int {
		switch {
		case x.Usable == y.Usable:
			return 0
		case x.Usable:
			return -1
		}
		return 1
	})
	return out, nil
}

// canTrainOn decides whether a may train on the Datanet's published
// versions: readable by a and not suspended. why explains a refusal
// ("suspended", "request access", "pending", "expired", "denied", "hidden").
func (s *Store) canTrainOn(ctx context.Context, a Actor, datanetID int64) (ok bool, why string, err error) {
	d, err := s.datanetByID(ctx, datanetID)
	if err != nil {
		return false, "", err
	}
	if d.Status == DatanetSuspended {
		return false, "suspended", nil
	}
	acc, err := s.AccessFor(ctx, a, d)
	if err != nil {
		return false, "", err
	}
	switch {
	case acc.Read:
		return true, "", nil
	case !acc.See:
		return false, "hidden", nil
	case acc.Grant == "pending", acc.Grant == "expired", acc.Grant == "denied":
		return false, acc.Grant, nil
	}
	return false, "request access", nil
}

// FinetuneLaunch is what the wizard and the API submit.
type FinetuneLaunch struct {
	Name        string
	BaseModelID int64
	VersionIDs  []int64
	Preset      string
	Settings    FinetuneSettings
	Priority    int // 1 (highest) … 4; 0 means 2
	// GPU sends a CPU-trainable model to the train_gpu queue anyway.
	GPU bool
	// TokensPerSec estimates the run time (0: unknown).
	TokensPerSec float64
}

// FinetuneEnqueue inserts a run's River job inside tx and returns its ID.
type FinetuneEnqueue func(ctx context.Context, tx pgx.Tx, run *FinetuneRun) (jobID int64, err error)

// DataEstimate sums the versions' records and tokens and splits them.
type DataEstimate struct {
	Records, TrainRecords, ValRecords, Tokens int64
}

// CheckFinetune validates a launch without writing anything: name, base
// model, data (readable, not suspended, one schema) and settings against
// the base model. It returns the base model, the chosen versions and the
// data estimate.
func (s *Store) CheckFinetune(ctx context.Context, a Actor, in *FinetuneLaunch) (*BaseModel, []RunVersion, DataEstimate, error) {
	errs := map[string]string{}
	var est DataEstimate
	in.Name = strings.TrimSpace(in.Name)
	if n := utf8.RuneCountInString(in.Name); n < 1 || n > 120 {
		errs["name"] = "Name the run (1 to 120 characters)."
	}
	if in.Preset == "" {
		in.Preset = PresetCustom
	}
	if !slices.Contains([]string{PresetQuick, PresetBalanced, PresetThorough, PresetCustom}, in.Preset) {
		errs["preset"] = "Choose Quick, Balanced, Thorough or custom."
	}
	if in.Priority == 0 {
		in.Priority = 2
	}
	if in.Priority < 1 || in.Priority > 4 {
		errs["priority"] = "Use a priority from 1 (highest) to 4."
	}
	base, err := s.GetBaseModel(ctx, in.BaseModelID)
	switch {
	case errors.Is(err, ErrNotFound) || err == nil && base.Status != BaseModelReady:
		errs["baseModel"] = "Choose a ready base model from the catalog."
		base = nil
	case err != nil:
		return nil, nil, est, err
	}
	var versions []RunVersion
	slices.Sort(in.VersionIDs)
	in.VersionIDs = slices.Compact(in.VersionIDs)
	if len(in.VersionIDs) == 0 {
		errs["data"] = "Choose at least one published Datanet version."
	} else if len(in.VersionIDs) > 20 {
		errs["data"] = "Choose at most 20 Datanet versions."
	}
	if _, bad := errs["data"]; !bad {
		versions, err = s.versionsByID(ctx, in.VersionIDs)
		if err != nil {
			return nil, nil, est, err
		}
		if len(versions) != len(in.VersionIDs) {
			errs["data"] = "One of the chosen versions does not exist."
		}
		for _, v := range versions {
			ok, why, err := s.canTrainOn(ctx, a, v.DatanetID)
			if err != nil {
				return nil, nil, est, err
			}
			switch {
			case why == "suspended":
				errs["data"] = fmt.Sprintf("%s is suspended: it cannot be used for new runs.", v.DatanetName)
			case why == "hidden":
				errs["data"] = "One of the chosen versions does not exist."
			case !ok:
				errs["data"] = fmt.Sprintf("You may not read %s yet: request access on its page first.", v.DatanetName)
			}
			if v.Schema != versions[0].Schema {
				errs["data"] = "Choose versions of one kind (documents, instruction or classification), not a mix."
			}
			est.Records += v.Records
			est.Tokens += v.Tokens
		}
		if _, bad := errs["data"]; !bad && est.Records == 0 {
			errs["data"] = "The chosen versions hold no records."
		}
	}
	if base != nil {
		if err := in.Settings.Validate(base); err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				return nil, nil, est, err
			}
			for k, v := range ve.Fields {
				errs[k] = v
			}
		}
	}
	if len(errs) > 0 {
		return base, versions, est, &ValidationError{Fields: errs}
	}
	est.ValRecords = int64(math.Round(float64(est.Records) * in.Settings.ValSplit))
	if in.Settings.ValSplit > 0 && est.ValRecords == 0 && est.Records > 1 {
		est.ValRecords = 1
	}
	est.TrainRecords = est.Records - est.ValRecords
	if est.TrainRecords < 1 {
		return base, versions, est, &ValidationError{Fields: map[string]string{"valSplit": "Leave at least one record for training."}}
	}
	return base, versions, est, nil
}

func (s *Store) versionsByID(ctx context.Context, ids []int64) ([]RunVersion, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT v.id, d.id, d.slug, d.name, d.schema_kind, v.version, v.record_count, v.token_count, v.merkle_root
		FROM datanet_versions v JOIN datanets d ON d.id = v.datanet_id WHERE v.id = ANY($1) ORDER BY v.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	return pgx.CollectRows(rows, scanRunVersion)
}

// EstimateSteps is the number of optimizer steps a run will take.
func EstimateSteps(st FinetuneSettings, trainTokens int64) int {
	if st.MaxSteps > 0 {
		return st.MaxSteps
	}
	perStep := int64(max(1, st.BatchSize*st.GradAccum*st.ContextLength))
	return max(1, int(st.Epochs*float64(trainTokens)/float64(perStep)))
}

// EstimateSeconds is the expected run time at tokensPerSec (0 when unknown).
func EstimateSeconds(st FinetuneSettings, trainTokens int64, tokensPerSec float64) int {
	if tokensPerSec <= 0 {
		return 0
	}
	steps := EstimateSteps(st, trainTokens)
	tokens := float64(steps) * float64(st.BatchSize*st.GradAccum*st.ContextLength)
	return int(math.Ceil(tokens / tokensPerSec))
}

// LaunchFinetune checks the launch (CheckFinetune) and inserts the run,
// its data and its River job in one transaction.
func (s *Store) LaunchFinetune(ctx context.Context, a Actor, in FinetuneLaunch, enqueue FinetuneEnqueue) (*FinetuneRun, error) {
	base, versions, est, err := s.CheckFinetune(ctx, a, &in)
	if err != nil {
		return nil, err
	}
	backend, queue := BackendNative, QueueTrainCPU
	if !base.TrainableCPU || in.GPU {
		backend, queue = BackendLlamaFactory, QueueTrainGPU
	}
	trainTokens := est.Tokens - est.Tokens*est.ValRecords/max(1, est.Records)
	settings, err := json.Marshal(in.Settings)
	if err != nil {
		return nil, err
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			INSERT INTO finetune_runs (owner_id, name, base_model_id, method, preset, settings, backend, queue, priority,
				total_steps, train_records, val_records, estimated_tokens, estimated_seconds)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
			a.UserID, in.Name, base.ID, in.Settings.Method, in.Preset, settings, backend, queue, in.Priority,
			EstimateSteps(in.Settings, trainTokens), est.TrainRecords, est.ValRecords, est.Tokens,
			EstimateSeconds(in.Settings, trainTokens, in.TokensPerSec)).Scan(&id); err != nil {
			return err
		}
		for _, v := range versions {
			if _, err := tx.Exec(ctx, `INSERT INTO finetune_run_data (run_id, version_id) VALUES ($1, $2)`, id, v.VersionID); err != nil {
				return err
			}
		}
		if err := addEvent(ctx, tx, id, EventStatus, 0, map[string]any{"status": RunQueued, "message": "Queued on " + queue + "."}); err != nil {
			return err
		}
		run, err := scanRun(tx.QueryRow(ctx, `SELECT `+runCols+runFrom+`WHERE r.id = $1`, id))
		if err != nil {
			return err
		}
		jobID, err := enqueue(ctx, tx, run)
		if err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE finetune_runs SET river_job_id = $2 WHERE id = $1`, id, jobID); err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "finetune.launch", "finetune_run", fmt.Sprint(id), nil,
			map[string]any{"name": in.Name, "baseModel": base.Slug, "versions": in.VersionIDs, "queue": queue}, "")
	})
	if err != nil {
		return nil, fmt.Errorf("launch fine-tune: %w", err)
	}
	return s.FinetuneRunByID(ctx, id)
}

// MeasuredTokensPerSec is the mean training throughput of the last
// successful runs of a base model on this deployment (0 when none).
func (s *Store) MeasuredTokensPerSec(ctx context.Context, baseModelID int64, queue string) (float64, error) {
	var v *float64
	err := s.pool.QueryRow(ctx, `
		SELECT avg((metrics->>'tokens_per_sec')::float8) FROM (
			SELECT metrics FROM finetune_runs WHERE base_model_id = $1 AND queue = $2 AND status = 'succeeded'
			  AND metrics ? 'tokens_per_sec' ORDER BY finished_at DESC LIMIT 5) t`, baseModelID, queue).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("measured throughput: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// RecheckFinetuneData re-decides, for a worker, whether the run's owner
// may still train on every version of the run (roles from the database:
// admins configured only by address count as ordinary users here). It
// returns a user-facing reason when not.
func (s *Store) RecheckFinetuneData(ctx context.Context, run *FinetuneRun) (reason string, err error) {
	u, err := s.UserByID(ctx, run.OwnerID)
	if err != nil {
		return "", err
	}
	a := Actor{UserID: u.ID, Address: u.Address, Admin: slices.Contains(u.Roles, RoleAdmin), Reviewer: slices.Contains(u.Roles, RoleReviewer)}
	vs, err := s.FinetuneRunData(ctx, run.ID)
	if err != nil {
		return "", err
	}
	if len(vs) == 0 {
		return "The run has no data.", nil
	}
	for _, v := range vs {
		ok, why, err := s.canTrainOn(ctx, a, v.DatanetID)
		if err != nil {
			return "", err
		}
		if why == "suspended" {
			return fmt.Sprintf("%s was suspended; its data can no longer be used.", v.DatanetName), nil
		}
		if !ok {
			return fmt.Sprintf("You may no longer read %s (access was revoked or expired).", v.DatanetName), nil
		}
	}
	return "", nil
}

// ErrRunBusy means the owner already has as many runs training as allowed;
// the worker waits and tries again (fair share).
var ErrRunBusy = errors.New("owner has too many runs training")

// StartFinetuneAttempt claims the run for worker: a queued or running run
// (a running one was left by a worker that died) becomes running with the
// attempt counted. It returns the run as it now is; a final or cancelling
// run is returned unchanged for the caller to settle. ErrRunBusy means the
// owner already has maxPerUser other runs training with a live heartbeat.
func (s *Store) StartFinetuneAttempt(ctx context.Context, id int64, worker string, maxPerUser int, stale time.Duration) (*FinetuneRun, error) {
	var busy bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var owner int64
		var status, holder string
		var alive bool
		if err := tx.QueryRow(ctx, `SELECT owner_id, status, worker, coalesce(heartbeat_at > now() - $2::interval, false)
			FROM finetune_runs WHERE id = $1 FOR UPDATE`, id, stale.String()).Scan(&owner, &status, &holder, &alive); err != nil {
			return err
		}
		if status != RunQueued && status != RunRunning {
			return nil
		}
		if status == RunRunning && holder != "" && holder != worker && alive {
			return nil // another live worker holds it
		}
		if maxPerUser > 0 {
			// Serialise the owner's starts so two workers cannot both take
			// the last slot.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7007, $1::int)`, owner%math.MaxInt32); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM finetune_runs WHERE owner_id = $1 AND id <> $2
				AND status IN ('running', 'cancelling') AND heartbeat_at > now() - $3::interval`, owner, id, stale.String()).Scan(&n); err != nil {
				return err
			}
			if n >= maxPerUser {
				busy = true
				return nil
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE finetune_runs SET status = 'running', attempt = attempt + 1, worker = $2,
			heartbeat_at = now(), started_at = coalesce(started_at, now()), updated_at = now() WHERE id = $1`, id, worker); err != nil {
			return err
		}
		msg := "Started on " + worker + "."
		if status == RunRunning {
			msg = "Resumed on " + worker + " after the previous worker stopped."
		}
		return addEvent(ctx, tx, id, EventStatus, 0, map[string]any{"status": RunRunning, "message": msg})
	})
	if err != nil {
		return nil, fmt.Errorf("start run %d: %w", id, err)
	}
	if busy {
		return nil, ErrRunBusy
	}
	return s.FinetuneRunByID(ctx, id)
}

// ReleaseFinetune gives up worker's hold on a run it could not finish
// (the process is stopping, or the attempt failed and will be retried), so
// the next attempt may take it at once. The run stays running: its
// checkpoint is where the next attempt resumes.
func (s *Store) ReleaseFinetune(ctx context.Context, id int64, worker string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE finetune_runs SET worker = '', heartbeat_at = NULL, updated_at = now()
		WHERE id = $1 AND worker = $2`, id, worker); err != nil {
		return fmt.Errorf("release run %d: %w", id, err)
	}
	return nil
}

// RequeueAbandonedFinetunes finds running runs whose worker has not
// heartbeated for stale (the process died), releases them and enqueues a
// new job for each in the same transaction, so another worker resumes it
// from its checkpoint. It returns how many runs it re-enqueued.
func (s *Store) RequeueAbandonedFinetunes(ctx context.Context, stale time.Duration, enqueue FinetuneEnqueue) (int, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM finetune_runs
		WHERE status IN ('running', 'cancelling') AND worker <> '' AND heartbeat_at < now() - $1::interval`, stale.String())
	if err != nil {
		return 0, fmt.Errorf("abandoned runs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("abandoned runs: %w", err)
	}
	n := 0
	for _, id := range ids {
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			var holder string
			err := tx.QueryRow(ctx, `UPDATE finetune_runs SET worker = '', heartbeat_at = NULL, updated_at = now()
				WHERE id = $1 AND status IN ('running', 'cancelling') AND worker <> '' AND heartbeat_at < now() - $2::interval
				RETURNING (SELECT worker FROM finetune_runs WHERE id = $1)`, id, stale.String()).Scan(&holder)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // it came back, or someone else requeued it
			}
			if err != nil {
				return err
			}
			run, err := scanRun(tx.QueryRow(ctx, `SELECT `+runCols+runFrom+`WHERE r.id = $1`, id))
			if err != nil {
				return err
			}
			jobID, err := enqueue(ctx, tx, run)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE finetune_runs SET river_job_id = $2 WHERE id = $1`, id, jobID); err != nil {
				return err
			}
			n++
			return addEvent(ctx, tx, id, EventLog, run.Step, map[string]any{"line": fmt.Sprintf(
				"Worker %s stopped responding; the run will resume from its last checkpoint on another worker.", holder)})
		})
		if err != nil {
			return n, fmt.Errorf("requeue run %d: %w", id, err)
		}
	}
	return n, nil
}

// FinetuneHeartbeat records that worker still holds the run and reports
// whether a cancel was requested (or the run was taken over or ended).
func (s *Store) FinetuneHeartbeat(ctx context.Context, id int64, worker string) (stop bool, err error) {
	var status string
	err = s.pool.QueryRow(ctx, `UPDATE finetune_runs SET heartbeat_at = now()
		WHERE id = $1 AND worker = $2 RETURNING status`, id, worker).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("heartbeat run %d: %w", id, err)
	}
	return status != RunRunning, nil
}

// SetFinetuneCheckpoint records the object key of the run's latest
// checkpoint and the step it holds.
func (s *Store) SetFinetuneCheckpoint(ctx context.Context, id int64, key string, step int) error {
	if _, err := s.pool.Exec(ctx, `UPDATE finetune_runs SET checkpoint_key = $2, updated_at = now() WHERE id = $1`, id, key); err != nil {
		return fmt.Errorf("run %d checkpoint: %w", id, err)
	}
	return s.AddFinetuneEvent(ctx, id, EventLog, step, map[string]any{"line": fmt.Sprintf("Checkpoint saved at step %d.", step)})
}

func addEvent(ctx context.Context, tx pgx.Tx, runID int64, kind string, step int, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		WITH ins AS (INSERT INTO finetune_events (run_id, kind, step, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING RETURNING run_id)
		SELECT pg_notify($5, run_id::text) FROM ins`, runID, kind, step, b, FinetuneNotifyChannel)
	return err
}

// AddFinetuneEvent appends a log, sample, status or early-stop event to
// the run and notifies listeners.
func (s *Store) AddFinetuneEvent(ctx context.Context, runID int64, kind string, step int, data any) error {
	if kind == EventProgress {
		return fmt.Errorf("run %d event: use AddFinetuneProgress for progress", runID)
	}
	if err := s.inTx(ctx, func(tx pgx.Tx) error { return addEvent(ctx, tx, runID, kind, step, data) }); err != nil {
		return fmt.Errorf("run %d event: %w", runID, err)
	}
	return nil
}

// AddFinetuneProgress records a progress line (a trainer_log.jsonl line)
// for step and updates the run's step, total and latest progress. A step
// already recorded (a resumed run replaying it) is ignored.
func (s *Store) AddFinetuneProgress(ctx context.Context, runID int64, step, totalSteps int, line json.RawMessage) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := addEvent(ctx, tx, runID, EventProgress, step, line); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE finetune_runs SET step = greatest(step, $2), progress = $3,
			total_steps = CASE WHEN $4 > 0 THEN $4 ELSE total_steps END, updated_at = now() WHERE id = $1`, runID, step, line, totalSteps)
		return err
	})
	if err != nil {
		return fmt.Errorf("run %d progress: %w", runID, err)
	}
	return nil
}

// FinetuneEvent is one row of a run's event log.
type FinetuneEvent struct {
	ID        int64
	Kind      string
	Step      int
	Data      json.RawMessage
	CreatedAt time.Time
}

func scanEvent(row pgx.CollectableRow) (FinetuneEvent, error) {
	var e FinetuneEvent
	err := row.Scan(&e.ID, &e.Kind, &e.Step, &e.Data, &e.CreatedAt)
	return e, err
}

// FinetuneEvents returns up to limit events of the run after afterID, in order.
func (s *Store) FinetuneEvents(ctx context.Context, runID, afterID int64, kinds []string, limit int) ([]FinetuneEvent, error) {
	if limit <= 0 {
		limit = 10000
	}
	if kinds == nil {
		kinds = []string{}
	}
	rows, err := s.pool.Query(ctx, `SELECT id, kind, step, data, created_at FROM finetune_events
		WHERE run_id = $1 AND id > $2 AND (cardinality($3::text[]) = 0 OR kind = ANY($3)) ORDER BY id LIMIT $4`,
		runID, afterID, kinds, limit)
	if err != nil {
		return nil, fmt.Errorf("run %d events: %w", runID, err)
	}
	return pgx.CollectRows(rows, scanEvent)
}

// LastFinetuneEvents returns the run's last n events of the given kinds,
// oldest first.
func (s *Store) LastFinetuneEvents(ctx context.Context, runID int64, kinds []string, n int) ([]FinetuneEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT * FROM (SELECT id, kind, step, data, created_at FROM finetune_events
		WHERE run_id = $1 AND kind = ANY($2) ORDER BY id DESC LIMIT $3) t ORDER BY id`, runID, kinds, n)
	if err != nil {
		return nil, fmt.Errorf("run %d events: %w", runID, err)
	}
	return pgx.CollectRows(rows, scanEvent)
}

// LastFinetuneEventID is the ID of the run's newest event (0 when none):
// one index probe, for cheap change detection.
func (s *Store) LastFinetuneEventID(ctx context.Context, runID int64) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM finetune_events WHERE run_id = $1`, runID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("run %d last event: %w", runID, err)
	}
	return id, nil
}

// RequestFinetuneCancel cancels a run for its owner or an admin: a queued
// run is cancelled at once; a running one becomes cancelling and its
// worker stops within a step. Final runs are refused.
func (s *Store) RequestFinetuneCancel(ctx context.Context, a Actor, id int64) (*FinetuneRun, error) {
	r, err := s.VisibleFinetuneRun(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if r.Final() {
		return nil, &ValidationError{Fields: map[string]string{"status": "This run has already " + r.Status + "."}}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `
			UPDATE finetune_runs SET cancel_requested_at = coalesce(cancel_requested_at, now()),
				status = CASE status WHEN 'queued' THEN 'cancelled' WHEN 'running' THEN 'cancelling' ELSE status END,
				finished_at = CASE status WHEN 'queued' THEN now() ELSE finished_at END, updated_at = now()
			WHERE id = $1 RETURNING status`, id).Scan(&status); err != nil {
			return err
		}
		msg := "Cancel requested; the worker stops after the current step."
		if status == RunCancelled {
			msg = "Cancelled before it started."
		}
		if err := addEvent(ctx, tx, id, EventStatus, r.Step, map[string]any{"status": status, "message": msg}); err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "finetune.cancel", "finetune_run", fmt.Sprint(id), nil, map[string]any{"status": status}, "")
	})
	if err != nil {
		return nil, fmt.Errorf("cancel run %d: %w", id, err)
	}
	return s.FinetuneRunByID(ctx, id)
}

// FinishFinetune ends a run as cancelled or failed (message is shown to
// the user). Final runs are left as they are.
func (s *Store) FinishFinetune(ctx context.Context, id int64, status, message string) error {
	if status != RunCancelled && status != RunFailed {
		return fmt.Errorf("finish run %d: bad status %q", id, status)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE finetune_runs SET status = $2, error = $3, finished_at = now(), updated_at = now()
			WHERE id = $1 AND status IN ('queued', 'running', 'cancelling')`, id, status, message)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		msg := message
		if status == RunCancelled {
			msg = "Cancelled."
		}
		return addEvent(ctx, tx, id, EventStatus, 0, map[string]any{"status": status, "message": msg})
	})
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	return nil
}

// FinetuneResult is what a successful run produced, after its files were
// uploaded to object storage.
type FinetuneResult struct {
	Metrics       map[string]float64
	AdapterPrefix string
	AdapterFiles  []ModelFile
	AdapterHash   string
	MergedPrefix  string
	MergedFiles   []ModelFile
	MergedHash    string
}

// ModelSlugForRun is the slug of the model a run creates: its name as a
// slug plus the run ID, so it is unique and known before the upload.
func ModelSlugForRun(r *FinetuneRun) string {
	base := slugify(r.Name)
	if base == "" {
		base = "model"
	}
	return fmt.Sprintf("%s-%d", base, r.ID)
}

// CompleteFinetune marks the run succeeded and creates its model (private)
// with model_data rows for the run's versions, in one transaction. A run
// that already has its model is left as it is (the job ran twice).
func (s *Store) CompleteFinetune(ctx context.Context, id int64, res FinetuneResult) (modelSlug string, err error) {
	r, err := s.FinetuneRunByID(ctx, id)
	if err != nil {
		return "", err
	}
	if r.ModelSlug != "" {
		return r.ModelSlug, nil
	}
	metrics, err := json.Marshal(res.Metrics)
	if err != nil {
		return "", fmt.Errorf("complete run %d: metrics: %w", id, err)
	}
	af, _ := json.Marshal(nonNilFiles(res.AdapterFiles))
	mf, _ := json.Marshal(nonNilFiles(res.MergedFiles))
	settings, _ := json.Marshal(r.Settings)
	slug := ModelSlugForRun(r)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE finetune_runs SET status = 'succeeded', metrics = $2, finished_at = now(), updated_at = now()
			WHERE id = $1 AND status IN ('running', 'cancelling')`, id, metrics)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("run is no longer running")
		}
		var modelID int64
		if err := tx.QueryRow(ctx, `
			INSERT INTO models (slug, name, owner_id, run_id, base_model_id, method, settings, metrics,
				adapter_prefix, adapter_files, adapter_hash, merged_prefix, merged_files, merged_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
			slug, r.Name, r.OwnerID, r.ID, r.BaseModelID, r.Method, settings, metrics,
			res.AdapterPrefix, af, res.AdapterHash, res.MergedPrefix, mf, res.MergedHash).Scan(&modelID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO model_data (model_id, version_id)
			SELECT $1, version_id FROM finetune_run_data WHERE run_id = $2`, modelID, r.ID); err != nil {
			return err
		}
		if err := addEvent(ctx, tx, id, EventStatus, r.Step, map[string]any{"status": RunSucceeded,
			"message": "Finished; model " + slug + " created.", "model": slug}); err != nil {
			return err
		}
		return audit(ctx, tx, r.OwnerID, "model.create", "model", slug, nil, map[string]any{"run": r.ID}, "")
	})
	if err != nil {
		return "", fmt.Errorf("complete run %d: %w", id, err)
	}
	return slug, nil
}

func nonNilFiles(f []ModelFile) []ModelFile {
	if f == nil {
		return []ModelFile{}
	}
	return f
}

// DeleteFinetuneRun hides a final run (soft delete). The model it created
// keeps its own artefacts and provenance, so nothing a model needs goes.
func (s *Store) DeleteFinetuneRun(ctx context.Context, a Actor, id int64) error {
	r, err := s.VisibleFinetuneRun(ctx, a, id)
	if err != nil {
		return err
	}
	if !r.Final() {
		return &ValidationError{Fields: map[string]string{"status": "Cancel the run before deleting it."}}
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE finetune_runs SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL`, id); err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "finetune.delete", "finetune_run", fmt.Sprint(id), nil, nil, "")
	})
}

// ListenFinetuneEvents holds one connection listening on
// FinetuneNotifyChannel and calls fn with the run ID of every event until
// ctx ends. It reconnects after errors.
func (s *Store) ListenFinetuneEvents(ctx context.Context, fn func(runID int64)) error {
	for ctx.Err() == nil {
		_ = s.listenOnce(ctx, fn) // a lost connection is retried after a second
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return ctx.Err()
}

func (s *Store) listenOnce(ctx context.Context, fn func(runID int64)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+FinetuneNotifyChannel); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "UNLISTEN "+FinetuneNotifyChannel) //nolint:errcheck
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var id int64
		if _, err := fmt.Sscan(n.Payload, &id); err == nil {
			fn(id)
		}
	}
}

// BenchGFLOPS is the sustained training throughput assumed for an estimate
// before this deployment has finished a run of the model: the native
// trainer's benchmark (docs/benchmarks.md) achieves 69–135 GFLOP/s on two
// cores; 50 leaves room for a busy machine.
const BenchGFLOPS = 50

// BenchTokensPerSec estimates training tokens per second from the model
// size: about 6 floating-point operations per parameter and token for a
// full fine-tune, 4 for LoRA (no weight gradients). 0 when the size is
// unknown.
func BenchTokensPerSec(b *BaseModel, method string) float64 {
	if b.ParamCount <= 0 {
		return 0
	}
	per := 6.0
	if method == MethodLoRA {
		per = 4
	}
	return BenchGFLOPS * 1e9 / (per * float64(b.ParamCount))
}
