package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// FinetuneTemplate is a saved wizard configuration ("Save as template").
type FinetuneTemplate struct {
	ID        int64
	OwnerID   int64
	Name      string
	Config    TemplateConfig
	CreatedAt time.Time
}

// TemplateConfig is what a template restores in the wizard.
type TemplateConfig struct {
	BaseModelID int64            `json:"baseModel"`
	VersionIDs  []int64          `json:"versions"`
	Preset      string           `json:"preset"`
	Settings    FinetuneSettings `json:"settings"`
	Priority    int              `json:"priority"`
	GPU         bool             `json:"gpu"`
}

// SaveFinetuneTemplate stores (or replaces, by name) one of the actor's
// templates.
func (s *Store) SaveFinetuneTemplate(ctx context.Context, a Actor, name string, c TemplateConfig) (*FinetuneTemplate, error) {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < 1 || n > 80 {
		return nil, &ValidationError{Fields: map[string]string{"templateName": "Name the template (1 to 80 characters)."}}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO finetune_templates (owner_id, name, settings) VALUES ($1, $2, $3)
			ON CONFLICT (owner_id, name) DO UPDATE SET settings = EXCLUDED.settings RETURNING id`, a.UserID, name, b).Scan(&id); err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "finetune.template.save", "finetune_template", fmt.Sprint(id), nil, map[string]any{"name": name}, "")
	})
	if err != nil {
		return nil, fmt.Errorf("save template: %w", err)
	}
	return s.FinetuneTemplateByID(ctx, a, id)
}

// FinetuneTemplateByID returns one of the actor's templates.
func (s *Store) FinetuneTemplateByID(ctx context.Context, a Actor, id int64) (*FinetuneTemplate, error) {
	var t FinetuneTemplate
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT id, owner_id, name, settings, created_at FROM finetune_templates WHERE id = $1 AND owner_id = $2`,
		id, a.UserID).Scan(&t.ID, &t.OwnerID, &t.Name, &b, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("template %d: %w", id, err)
	}
	if err := json.Unmarshal(b, &t.Config); err != nil {
		return nil, fmt.Errorf("template %d: %w", id, err)
	}
	return &t, nil
}

// ListFinetuneTemplates returns the actor's templates by name.
func (s *Store) ListFinetuneTemplates(ctx context.Context, a Actor) ([]FinetuneTemplate, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, owner_id, name, settings, created_at FROM finetune_templates
		WHERE owner_id = $1 ORDER BY name LIMIT 100`, a.UserID)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (FinetuneTemplate, error) {
		var t FinetuneTemplate
		var b []byte
		if err := row.Scan(&t.ID, &t.OwnerID, &t.Name, &b, &t.CreatedAt); err != nil {
			return t, err
		}
		return t, json.Unmarshal(b, &t.Config)
	})
}
