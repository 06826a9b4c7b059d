package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Base-model sources and statuses.
const (
	SourceBuiltin     = "builtin"
	SourceLocal       = "local"
	SourceS3          = "s3"
	SourceHuggingFace = "huggingface"

	BaseModelImporting = "importing"
	BaseModelReady     = "ready"
	BaseModelFailed    = "failed"
)

// ModelFile is one file of a model in object storage.
type ModelFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex, no 0x
}

// BaseModel is an entry of the base-model catalog.
type BaseModel struct {
	ID            int64
	Slug          string
	Name          string
	Source        string
	SourceURI     string
	Status        string
	Error         string
	Architecture  string
	ParamCount    int64
	SizeBytes     int64
	ContextLength int
	Config        json.RawMessage // the model's config.json
	License       string
	TrainableCPU  bool
	BlobPrefix    string
	Files         []ModelFile
	ContentHash   string // 0x SHA-256 over the file list
	ImportedBy    int64  // 0 for built-in models
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

const baseModelCols = `id, slug, name, source, source_uri, status, error, architecture, param_count,
	size_bytes, context_length, config, license, trainable_cpu, blob_prefix, files, content_hash,
	coalesce(imported_by, 0), created_at, updated_at`

func scanBaseModel(row pgx.Row) (*BaseModel, error) {
	var b BaseModel
	var files []byte
	err := row.Scan(&b.ID, &b.Slug, &b.Name, &b.Source, &b.SourceURI, &b.Status, &b.Error, &b.Architecture,
		&b.ParamCount, &b.SizeBytes, &b.ContextLength, &b.Config, &b.License, &b.TrainableCPU, &b.BlobPrefix,
		&files, &b.ContentHash, &b.ImportedBy, &b.CreatedAt, &b.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(files, &b.Files); err != nil {
		return nil, fmt.Errorf("base model %d files: %w", b.ID, err)
	}
	return &b, nil
}

// GetBaseModel returns a catalog entry by ID.
func (s *Store) GetBaseModel(ctx context.Context, id int64) (*BaseModel, error) {
	b, err := scanBaseModel(s.pool.QueryRow(ctx, `SELECT `+baseModelCols+` FROM base_models WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("get base model %d: %w", id, err)
	}
	return b, err
}

// GetBaseModelBySlug returns a catalog entry by slug.
func (s *Store) GetBaseModelBySlug(ctx context.Context, slug string) (*BaseModel, error) {
	b, err := scanBaseModel(s.pool.QueryRow(ctx, `SELECT `+baseModelCols+` FROM base_models WHERE slug = $1`, slug))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("get base model %q: %w", slug, err)
	}
	return b, err
}

// ListBaseModels returns the catalog, built-in models first; readyOnly
// leaves out imports that are running or failed.
func (s *Store) ListBaseModels(ctx context.Context, readyOnly bool) ([]BaseModel, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+baseModelCols+` FROM base_models
		WHERE NOT $1 OR status = 'ready'
		ORDER BY source <> 'builtin', name, id`, readyOnly)
	if err != nil {
		return nil, fmt.Errorf("list base models: %w", err)
	}
	defer rows.Close()
	var out []BaseModel
	for rows.Next() {
		b, err := scanBaseModel(rows)
		if err != nil {
			return nil, fmt.Errorf("list base models: %w", err)
		}
		out = append(out, *b)
	}
	return out, rows.Err()
}

// UpsertBuiltinBaseModel records a built-in model (status ready), keyed by
// slug. Re-registering the same files changes nothing; new files replace
// the entry's metadata.
func (s *Store) UpsertBuiltinBaseModel(ctx context.Context, b BaseModel) (*BaseModel, error) {
	if b.Config == nil {
		b.Config = json.RawMessage(`{}`)
	}
	files, err := json.Marshal(b.Files)
	if err != nil {
		return nil, err
	}
	out, err := scanBaseModel(s.pool.QueryRow(ctx, `
		INSERT INTO base_models (slug, name, source, source_uri, status, architecture, param_count, size_bytes,
			context_length, config, license, trainable_cpu, blob_prefix, files, content_hash)
		VALUES ($1, $2, 'builtin', $3, 'ready', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, source_uri = EXCLUDED.source_uri,
			status = 'ready', error = '', architecture = EXCLUDED.architecture, param_count = EXCLUDED.param_count,
			size_bytes = EXCLUDED.size_bytes, context_length = EXCLUDED.context_length, config = EXCLUDED.config,
			license = EXCLUDED.license, trainable_cpu = EXCLUDED.trainable_cpu, blob_prefix = EXCLUDED.blob_prefix,
			files = EXCLUDED.files, content_hash = EXCLUDED.content_hash,
			updated_at = CASE WHEN base_models.content_hash = EXCLUDED.content_hash THEN base_models.updated_at ELSE now() END
		WHERE base_models.source = 'builtin'
		RETURNING `+baseModelCols,
		b.Slug, b.Name, b.SourceURI, b.Architecture, b.ParamCount, b.SizeBytes, b.ContextLength, b.Config,
		b.License, b.TrainableCPU, b.BlobPrefix, files, b.ContentHash))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("register built-in model %q: %w (an imported model has that slug)", b.Slug, ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("register built-in model %q: %w", b.Slug, err)
	}
	return out, nil
}
