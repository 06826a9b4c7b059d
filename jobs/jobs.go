// Package jobs holds ModelFactory's background work: River job arguments and
// workers, the queues they run on and the periodic schedule. Workers
// orchestrate the libraries (trainer, attribution, chain, blob) and the store;
// handlers only insert jobs, in the same transaction as the rows that need them.
package jobs

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/ingest"
	"github.com/modelfactory/modelfactory/modelimport"
	"github.com/modelfactory/modelfactory/store"
)

// Queues, one per kind of work, so that machines can specialise: a GPU host
// runs only train_gpu, an ingest box only ingest.
const (
	QueueDefault     = "default"
	QueueIngest      = "ingest"
	QueueTrainCPU    = "train_cpu"
	QueueTrainGPU    = "train_gpu"
	QueueAttribution = "attribution"
	QueueChain       = "chain"
)

// DefaultQueues are the queues a plain `serve` or `worker` works. train_gpu
// is left out: only hosts with a GPU should take that work.
var DefaultQueues = []string{QueueDefault, QueueIngest, QueueTrainCPU, QueueAttribution, QueueChain}

// KnownQueues lists every queue name.
var KnownQueues = []string{QueueDefault, QueueIngest, QueueTrainCPU, QueueTrainGPU, QueueAttribution, QueueChain}

// ParseQueues turns "default,ingest" into a checked list.
func ParseQueues(s string) ([]string, error) {
	var out []string
	for _, q := range strings.Split(s, ",") {
		q = strings.TrimSpace(q)
		if q == "" {
			continue
		}
		if !slices.Contains(KnownQueues, q) {
			return nil, fmt.Errorf("unknown queue %q (known: %s)", q, strings.Join(KnownQueues, ", "))
		}
		if !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no queues given")
	}
	return out, nil
}

// Deps are what workers need.
type Deps struct {
	Store  *store.Store
	Logger *slog.Logger
	// Blobs holds uploads; ingest reads them.
	Blobs blob.Store
	// IngestLimits bound what one contribution may contain.
	IngestLimits ingest.Limits
	// DataDir holds models built locally (the starter model); empty
	// disables the starter-model job.
	DataDir string
	// Rewards, when set, runs the chain work: the transaction journal sweep,
	// reward epochs, claim reconciliation and Datanet version anchoring.
	Rewards *Rewards
	// PublicURL is this ModelFactory's public base URL, written into the
	// uri of anchored Datanet versions.
	PublicURL string
	// Finetune configures fine-tune runs (fair share, heartbeats, backends).
	Finetune FinetuneConfig
	// ModelFetch configures base-model imports (Hugging Face endpoint and
	// token, S3 buckets); MaxCPUParams bounds models marked trainable on
	// CPU (0: DefaultMaxCPUParams).
	ModelFetch   modelimport.Options
	MaxCPUParams int64
}

// Config chooses what a client does.
type Config struct {
	// Queues to work; empty makes an insert-only client (no workers run).
	Queues []string
	// Concurrency per queue.
	Workers int
	// CleanupEvery is the period of the expired-session cleanup; 0 means 10 minutes.
	CleanupEvery time.Duration
	// EpochEvery is the period of reward epochs; 0 means 24 hours.
	EpochEvery time.Duration
}

// NewClient builds the River client. With queues it works them and runs the
// periodic jobs (River elects one leader among all processes to enqueue
// periodic jobs, so many workers never double them).
func NewClient(pool *pgxpool.Pool, deps Deps, cfg Config) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &CleanupWorker{store: deps.Store, log: deps.Logger})
	if deps.Rewards != nil {
		river.AddWorker(workers, &ChainSweepWorker{sender: deps.Rewards.Sender})
		river.AddWorker(workers, &EpochCloseWorker{rewards: deps.Rewards})
		river.AddWorker(workers, &ClaimSyncWorker{rewards: deps.Rewards})
		anchorer := &Anchorer{Store: deps.Store, Sender: deps.Rewards.Sender,
			Client: deps.Rewards.Client, Deployment: deps.Rewards.Deployment, BaseURL: deps.PublicURL, Log: deps.Rewards.Log}
		river.AddWorker(workers, &AnchorVersionsWorker{anchorer: anchorer})
		river.AddWorker(workers, &RegisterModelWorker{registrar: &ModelRegistrar{Anchorer: anchorer}})
	}
	if deps.IngestLimits == (ingest.Limits{}) {
		deps.IngestLimits = ingest.DefaultLimits()
	}
	river.AddWorker(workers, &IngestWorker{store: deps.Store, blobs: deps.Blobs, limits: deps.IngestLimits, log: deps.Logger})
	river.AddWorker(workers, &IndexWorker{store: deps.Store})
	river.AddWorker(workers, &SeedWorker{store: deps.Store, blobs: deps.Blobs, log: deps.Logger})
	river.AddWorker(workers, &SeedPublishWorker{store: deps.Store, log: deps.Logger})
	if deps.DataDir != "" {
		river.AddWorker(workers, &StarterModelWorker{dataDir: deps.DataDir, store: deps.Store, blobs: deps.Blobs, log: deps.Logger})
	}
	importDir := filepath.Join(os.TempDir(), "modelfactory-imports")
	if deps.DataDir != "" {
		importDir = filepath.Join(deps.DataDir, "cache", "imports")
	}
	river.AddWorker(workers, &ModelImportWorker{importer: &ModelImporter{Store: deps.Store, Blobs: deps.Blobs, WorkDir: importDir,
		Fetch: deps.ModelFetch, MaxCPUParams: deps.MaxCPUParams, Log: deps.Logger}})

	ftDir := deps.DataDir
	if ftDir == "" {
		ftDir = filepath.Join(os.TempDir(), "modelfactory-finetune")
	}
	river.AddWorker(workers, NewFinetuneWorker(deps.Store, deps.Blobs, ftDir, deps.Logger, deps.Finetune))
	ftCfg := deps.Finetune.withDefaults()
	river.AddWorker(workers, &FinetuneWatchdogWorker{store: deps.Store, stale: ftCfg.Stale, log: deps.Logger})

	rc := &river.Config{
		Logger:  deps.Logger.With("component", "river"),
		Workers: workers,
	}
	if len(cfg.Queues) > 0 {
		n := cfg.Workers
		if n <= 0 {
			n = 4
		}
		rc.Queues = make(map[string]river.QueueConfig, len(cfg.Queues))
		for _, q := range cfg.Queues {
			maxWorkers := n
			if q == QueueTrainCPU || q == QueueTrainGPU {
				maxWorkers = 1 // a training run uses every core / the whole GPU
			}
			rc.Queues[q] = river.QueueConfig{MaxWorkers: maxWorkers}
		}
		every := cfg.CleanupEvery
		if every <= 0 {
			every = 10 * time.Minute
		}
		rc.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
				return CleanupArgs{}, nil
			}, &river.PeriodicJobOpts{RunOnStart: true, ID: "cleanup"}),
		}
		if deps.Rewards != nil {
			rc.PeriodicJobs = append(rc.PeriodicJobs, rewardPeriodicJobs(cfg.EpochEvery)...)
		}
		rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(ftCfg.WatchdogEvery),
			func() (river.JobArgs, *river.InsertOpts) { return FinetuneWatchdogArgs{}, nil },
			&river.PeriodicJobOpts{ID: "finetune_watchdog"}))
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("create River client: %w", err)
	}
	return client, nil
}
