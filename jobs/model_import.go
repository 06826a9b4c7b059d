package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/catalog"
	"github.com/modelfactory/modelfactory/modelimport"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
)

// DefaultMaxCPUParams is the largest model (in parameters) the native CPU
// trainer is offered for: GPT-2 small (124M) fits, larger models go to a
// GPU worker.
const DefaultMaxCPUParams = 200_000_000

// BaseModelPrefix is the object-storage prefix of a base model's files.
func BaseModelPrefix(slug string) string { return "models/base/" + slug }

// ModelImportArgs imports base model BaseModelID from its source URI.
type ModelImportArgs struct {
	BaseModelID int64 `json:"baseModelId"`
	// Requested tells apart the jobs of successive tries of one import: a
	// retry right after a failure must not be taken for a duplicate of the
	// job that is still being marked complete.
	Requested int64 `json:"requested"`
}

// NewModelImportArgs returns the job arguments for one try of an import.
func NewModelImportArgs(baseModelID int64) ModelImportArgs {
	return ModelImportArgs{BaseModelID: baseModelID, Requested: time.Now().UnixNano()}
}

// Kind identifies the job.
func (ModelImportArgs) Kind() string { return "model_import" }

// InsertOpts: default queue, one job per model at a time, a few retries
// for infrastructure faults (source problems fail at once).
func (ModelImportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: activeStates}}
}

// activeStates makes a job unique while it waits or runs, so a finished
// job does not block the next one with the same arguments (a retried
// import, a re-published model).
var activeStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// ModelImporter fetches, inspects and stores imported base models.
type ModelImporter struct {
	Store *store.Store
	Blobs blob.Store
	// WorkDir holds downloads in progress (kept between attempts so that
	// they resume) and is emptied when an import finishes.
	WorkDir string
	// Fetch configures the sources (Hugging Face endpoint and token, S3).
	Fetch modelimport.Options
	// MaxCPUParams bounds what is marked trainable on CPU; 0 means
	// DefaultMaxCPUParams.
	MaxCPUParams int64
	Log          *slog.Logger
}

func (m *ModelImporter) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Log
}

// Import runs one import to the end. Problems with the source (unreachable,
// gated, not a model, too large, checksum mismatch) mark the import failed
// with a message for the admin and return nil; other errors are returned
// for a retry. An import that is not in progress is left alone.
func (m *ModelImporter) Import(ctx context.Context, id int64) error {
	b, err := m.Store.GetBaseModel(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if b.Status != store.BaseModelImporting {
		return nil
	}
	src, err := modelimport.Parse(b.SourceURI, m.Fetch.HFEndpoint)
	if err != nil {
		return m.fail(ctx, b, err)
	}
	dir := filepath.Join(m.WorkDir, fmt.Sprintf("import-%d", b.ID))
	start := time.Now()
	opt := m.Fetch
	last := time.Now()
	opt.Progress = func(file string, done, total int64) {
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			m.log().Info("importing base model", "model", b.Slug, "file", file, "bytes", done, "of", total)
		}
	}
	files, err := modelimport.Fetch(ctx, src, dir, opt)
	if err != nil {
		return m.fail(ctx, b, err)
	}
	info, err := modelimport.Inspect(dir)
	if err != nil {
		return m.fail(ctx, b, err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	prefix := BaseModelPrefix(b.Slug)
	stored, err := catalog.UploadDir(ctx, m.Blobs, prefix, dir, names)
	if err != nil {
		return fmt.Errorf("import %s: %w", b.Slug, err)
	}
	maxParams := m.MaxCPUParams
	if maxParams <= 0 {
		maxParams = DefaultMaxCPUParams
	}
	done := store.ImportedBaseModel{Architecture: info.Architecture, ParamCount: info.ParamCount, SizeBytes: info.SizeBytes,
		ContextLength: info.ContextLength, Config: info.Config, License: info.License,
		TrainableCPU: TrainableOnCPU(dir, info, maxParams), BlobPrefix: prefix, Files: modelFiles(stored),
		ContentHash: catalog.ContentHash(stored)}
	if _, err := m.Store.FinishBaseModelImport(ctx, b.ID, done); err != nil {
		return err
	}
	m.keepInCache(dir, done.ContentHash)
	m.log().Info("base model imported", "model", b.Slug, "source", b.SourceURI, "params", info.ParamCount,
		"trainable_cpu", done.TrainableCPU, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// keepInCache moves the fetched files to the materialised-model cache
// (<data>/cache/models/<hash>), where trainers look first; when that
// already exists the download is removed.
func (m *ModelImporter) keepInCache(dir, hash string) {
	cache := filepath.Join(m.WorkDir, "..", "models", strings.TrimPrefix(hash, "0x"))
	if _, err := os.Stat(cache); err == nil {
		os.RemoveAll(dir)
		return
	}
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err == nil && os.Rename(dir, cache) == nil {
		return
	}
	os.RemoveAll(dir)
}

// fail records a source problem; other errors are returned for a retry.
func (m *ModelImporter) fail(ctx context.Context, b *store.BaseModel, err error) error {
	var ue *modelimport.Error
	if !errors.As(err, &ue) {
		return fmt.Errorf("import %s: %w", b.Slug, err)
	}
	m.log().Warn("base model import failed", "model", b.Slug, "source", b.SourceURI, "err", err, "cause", ue.Err)
	return m.Store.FailBaseModelImport(ctx, b.ID, ue.Msg)
}

// TrainableOnCPU reports whether the native trainer can fine-tune the model
// in dir on this deployment: GPT-2 architecture with a tokenizer, at most
// maxParams parameters, and weights the trainer actually loads.
func TrainableOnCPU(dir string, info *modelimport.Info, maxParams int64) bool {
	if info.Architecture != "gpt2" || info.ParamCount <= 0 || info.ParamCount > maxParams || !trainer.IsModelDir(dir) {
		return false
	}
	pool := gemm.NewPool(1)
	defer pool.Close()
	_, err := trainer.LoadModel(dir, pool)
	return err == nil
}

func modelFiles(fs []catalog.File) []store.ModelFile {
	out := make([]store.ModelFile, len(fs))
	for i, f := range fs {
		out[i] = store.ModelFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256}
	}
	return out
}

// ModelImportWorker runs ModelImportArgs.
type ModelImportWorker struct {
	river.WorkerDefaults[ModelImportArgs]
	importer *ModelImporter
}

// Timeout allows for large downloads.
func (w *ModelImportWorker) Timeout(*river.Job[ModelImportArgs]) time.Duration { return 6 * time.Hour }

// Work imports the model; on the last attempt an infrastructure fault is
// recorded as the import's failure so the admin sees it.
func (w *ModelImportWorker) Work(ctx context.Context, job *river.Job[ModelImportArgs]) error {
	err := w.importer.Import(ctx, job.Args.BaseModelID)
	if err != nil && job.Attempt >= job.MaxAttempts {
		w.importer.log().Error("base model import gave up", "id", job.Args.BaseModelID, "err", err)
		_ = w.importer.Store.FailBaseModelImport(context.WithoutCancel(ctx), job.Args.BaseModelID,
			"The import failed repeatedly on our side (storage or database); it has been logged. Retry it later.")
	}
	return err
}

// StarterModelSlug is the catalog slug of the built-in starter model.
const StarterModelSlug = trainer.StarterName

// RegisterStarterModel uploads the starter model in dir to object storage
// and records it in the catalog as a built-in, ready model. When the
// catalog already holds exactly these files nothing is uploaded.
func RegisterStarterModel(ctx context.Context, st *store.Store, blobs blob.Store, dir string) (*store.BaseModel, error) {
	local, err := hashDir(dir)
	if err != nil {
		return nil, fmt.Errorf("register starter model: %w", err)
	}
	if cur, err := st.GetBaseModelBySlug(ctx, StarterModelSlug); err == nil && cur.Status == store.BaseModelReady &&
		cur.ContentHash == catalog.ContentHash(local) {
		return cur, nil
	}
	info, err := modelimport.Inspect(dir)
	if err != nil {
		return nil, fmt.Errorf("register starter model: %w", err)
	}
	prefix := BaseModelPrefix(StarterModelSlug)
	stored, err := catalog.UploadDir(ctx, blobs, prefix, dir, nil)
	if err != nil {
		return nil, fmt.Errorf("register starter model: %w", err)
	}
	return st.UpsertBuiltinBaseModel(ctx, store.BaseModel{Slug: StarterModelSlug, Name: "Starter GPT (Go docs)",
		SourceURI: "builtin:" + StarterModelSlug, Architecture: info.Architecture, ParamCount: info.ParamCount,
		SizeBytes: info.SizeBytes, ContextLength: info.ContextLength, Config: info.Config, License: "BSD-3-Clause",
		TrainableCPU: true, BlobPrefix: prefix, Files: modelFiles(stored), ContentHash: catalog.ContentHash(stored)})
}

// hashDir lists the files UploadDir would store, with their SHA-256.
func hashDir(dir string) ([]catalog.File, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []catalog.File
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, catalog.File{Name: e.Name(), Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	return out, nil
}
