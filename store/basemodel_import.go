package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// BaseModelImportInput is what an admin enters to import a base model.
type BaseModelImportInput struct {
	Name      string `json:"name"`
	Slug      string `json:"slug"`      // optional; from the name when empty
	Source    string `json:"source"`    // SourceLocal | SourceS3 | SourceHuggingFace, from the parsed URI
	SourceURI string `json:"sourceUri"` // normalised location
}

// BaseModelEnqueue inserts the import job of base model id inside tx.
type BaseModelEnqueue func(ctx context.Context, tx pgx.Tx, id int64) error

var (
	baseSlugRE   = regexp.MustCompile(`^[a-z0-9]+([.-][a-z0-9]+)*$`)
	nonBaseSlug  = regexp.MustCompile(`[^a-z0-9.]+`)
	dotsAndDash  = regexp.MustCompile(`[.-]{2,}`)
	importSource = []string{SourceLocal, SourceS3, SourceHuggingFace}
)

// BaseModelSlug turns a name ("openai-community/gpt2", "Tiny GPT 2") into a
// catalog slug ("openai-community-gpt2", "tiny-gpt-2").
func BaseModelSlug(name string) string {
	s := nonBaseSlug.ReplaceAllString(strings.ToLower(name), "-")
	s = dotsAndDash.ReplaceAllString(s, "-")
	s = strings.Trim(s, ".-")
	if len(s) > 80 {
		s = strings.Trim(s[:80], ".-")
	}
	return s
}

func (in *BaseModelImportInput) normalize() error {
	errs := map[string]string{}
	in.Name = strings.TrimSpace(in.Name)
	in.Slug = strings.TrimSpace(in.Slug)
	if n := utf8.RuneCountInString(in.Name); n < 2 || n > 120 {
		errs["name"] = "Use 2 to 120 characters."
	}
	if in.Slug == "" {
		in.Slug = BaseModelSlug(in.Name)
	}
	if !baseSlugRE.MatchString(in.Slug) || len(in.Slug) > 96 {
		errs["slug"] = "Use lower-case letters, digits, dots and hyphens (up to 96), starting and ending with a letter or digit."
	}
	if !slices.Contains(importSource, in.Source) {
		errs["source"] = "Enter a local directory, an s3:// URL or a Hugging Face repository URL."
	}
	if in.SourceURI == "" || len(in.SourceURI) > 1000 {
		errs["source"] = "Enter where the model is (up to 1,000 characters)."
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

// CreateBaseModelImport records an import (status importing) and enqueues
// its job in one transaction; only admins may import. A slug already in
// the catalog is a field error.
func (s *Store) CreateBaseModelImport(ctx context.Context, a Actor, in BaseModelImportInput, enqueue BaseModelEnqueue) (*BaseModel, error) {
	if !a.Admin {
		return nil, ErrForbidden
	}
	if err := in.normalize(); err != nil {
		return nil, err
	}
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO base_models (slug, name, source, source_uri, status, imported_by)
			VALUES ($1, $2, $3, $4, 'importing', $5) ON CONFLICT (slug) DO NOTHING RETURNING id`,
			in.Slug, in.Name, in.Source, in.SourceURI, a.UserID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return &ValidationError{Fields: map[string]string{"slug": fmt.Sprintf("%q is already in the catalog; choose another name or slug.", in.Slug)}}
		}
		if err != nil {
			return err
		}
		if enqueue != nil {
			if err := enqueue(ctx, tx, id); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a.UserID, "base_model.import", "base_model", in.Slug, nil, in, "")
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return nil, err
		}
		return nil, fmt.Errorf("import base model %q: %w", in.Slug, err)
	}
	return s.GetBaseModel(ctx, id)
}

// RetryBaseModelImport sets a failed import back to importing and enqueues
// its job again, in one transaction (admins only).
func (s *Store) RetryBaseModelImport(ctx context.Context, a Actor, slug string, enqueue BaseModelEnqueue) (*BaseModel, error) {
	if !a.Admin {
		return nil, ErrForbidden
	}
	b, err := s.GetBaseModelBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	if b.Status != BaseModelFailed {
		return nil, &ValidationError{Fields: map[string]string{"status": "Only a failed import can be retried; this one is " + b.Status + "."}}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE base_models SET status = 'importing', error = '', updated_at = now() WHERE id = $1 AND status = 'failed'`, b.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrConflict
		}
		if enqueue != nil {
			if err := enqueue(ctx, tx, b.ID); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a.UserID, "base_model.retry", "base_model", slug, map[string]string{"error": b.Error}, nil, "")
	})
	if err != nil {
		return nil, fmt.Errorf("retry import %q: %w", slug, err)
	}
	return s.GetBaseModel(ctx, b.ID)
}

// ImportedBaseModel is what an import job found, after uploading the files.
type ImportedBaseModel struct {
	Architecture  string
	ParamCount    int64
	SizeBytes     int64
	ContextLength int
	Config        json.RawMessage
	License       string
	TrainableCPU  bool
	BlobPrefix    string
	Files         []ModelFile
	ContentHash   string
}

// FinishBaseModelImport marks an import ready with what the job found. An
// import that is already ready is left as it is (the job ran twice), and
// false is returned.
func (s *Store) FinishBaseModelImport(ctx context.Context, id int64, m ImportedBaseModel) (bool, error) {
	if m.Config == nil {
		m.Config = json.RawMessage(`{}`)
	}
	files, err := json.Marshal(nonNilFiles(m.Files))
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE base_models SET status = 'ready', error = '', architecture = $2, param_count = $3, size_bytes = $4,
			context_length = $5, config = $6, license = $7, trainable_cpu = $8, blob_prefix = $9, files = $10,
			content_hash = $11, updated_at = now()
		WHERE id = $1 AND status = 'importing'`,
		id, m.Architecture, m.ParamCount, m.SizeBytes, m.ContextLength, m.Config, m.License, m.TrainableCPU,
		m.BlobPrefix, files, m.ContentHash)
	if err != nil {
		return false, fmt.Errorf("finish import %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// FailBaseModelImport records why an import failed; msg is shown to admins.
func (s *Store) FailBaseModelImport(ctx context.Context, id int64, msg string) error {
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	_, err := s.pool.Exec(ctx, `UPDATE base_models SET status = 'failed', error = $2, updated_at = now()
		WHERE id = $1 AND status = 'importing'`, id, msg)
	if err != nil {
		return fmt.Errorf("fail import %d: %w", id, err)
	}
	return nil
}
