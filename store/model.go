package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"
)

// Fine-tuned model visibilities and statuses.
const (
	ModelPrivate  = "private"
	ModelUnlisted = "unlisted"
	ModelPublic   = "public"

	ModelActive    = "active"
	ModelSuspended = "suspended"
)

// ModelData is one Datanet version a fine-tuned model was trained on.
type ModelData struct {
	VersionID   int64
	DatanetID   int64
	DatanetSlug string
	DatanetName string
	Version     int
	Records     int64
	MerkleRoot  string
	AnchorTx    string
}

// Model is a fine-tuned model: one per successful run. It keeps its own
// artefact keys, so deleting the run never loses what the model needs.
type Model struct {
	ID            int64
	Slug          string
	Name          string
	OwnerID       int64
	Owner         string // owner's address
	RunID         int64  // 0 once the run is deleted
	BaseModelID   int64
	BaseSlug      string
	BaseName      string
	BaseHash      string // the base model's content hash
	Method        string // "lora" | "full"
	Settings      json.RawMessage
	Metrics       json.RawMessage
	AdapterPrefix string
	AdapterFiles  []ModelFile
	AdapterHash   string
	MergedPrefix  string
	MergedFiles   []ModelFile
	MergedHash    string
	Visibility    string
	PublishedAt   *time.Time
	PricePer1K    *big.Int // OPEN wei per 1,000 tokens
	RegistryTx    string   // ProvenanceRegistry registration tx hash, "" until sent
	Status        string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Data          []ModelData // the Datanet versions it was trained on, by Datanet then version
}

// MetricsMap decodes the model's final metrics; numbers only, anything
// else is left out.
func (m *Model) MetricsMap() map[string]float64 {
	out := map[string]float64{}
	var raw map[string]any
	if json.Unmarshal(m.Metrics, &raw) != nil {
		return out
	}
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

const modelCols = `m.id, m.slug, m.name, m.owner_id, u.address, coalesce(m.run_id, 0), m.base_model_id, b.slug, b.name,
	b.content_hash, m.method, m.settings, m.metrics, m.adapter_prefix, m.adapter_files, m.adapter_hash, m.merged_prefix,
	m.merged_files, m.merged_hash, m.visibility, m.published_at, m.price_per_1k::text, coalesce(m.registry_tx, ''),
	m.status, m.created_at, m.updated_at`

const modelFrom = ` FROM models m JOIN users u ON u.id = m.owner_id JOIN base_models b ON b.id = m.base_model_id`

func scanModel(row pgx.Row) (*Model, error) {
	var m Model
	var adapter, merged []byte
	var price string
	err := row.Scan(&m.ID, &m.Slug, &m.Name, &m.OwnerID, &m.Owner, &m.RunID, &m.BaseModelID, &m.BaseSlug, &m.BaseName,
		&m.BaseHash, &m.Method, &m.Settings, &m.Metrics, &m.AdapterPrefix, &adapter, &m.AdapterHash, &m.MergedPrefix,
		&merged, &m.MergedHash, &m.Visibility, &m.PublishedAt, &price, &m.RegistryTx, &m.Status, &m.CreatedAt, &m.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(adapter, &m.AdapterFiles); err != nil {
		return nil, fmt.Errorf("model %d adapter files: %w", m.ID, err)
	}
	if err := json.Unmarshal(merged, &m.MergedFiles); err != nil {
		return nil, fmt.Errorf("model %d merged files: %w", m.ID, err)
	}
	m.PricePer1K = parseWei(price)
	return &m, nil
}

func (s *Store) getModel(ctx context.Context, where string, arg any) (*Model, error) {
	m, err := scanModel(s.pool.QueryRow(ctx, `SELECT `+modelCols+modelFrom+` WHERE `+where, arg))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("model %v: %w", arg, err)
	}
	if m.Data, err = s.modelData(ctx, m.ID); err != nil {
		return nil, err
	}
	return m, nil
}

// GetModel returns a fine-tuned model by ID, with its Datanet versions,
// without checking access; use VisibleModel for anything a user asked for.
func (s *Store) GetModel(ctx context.Context, id int64) (*Model, error) {
	return s.getModel(ctx, `m.id = $1`, id)
}

// GetModelBySlug returns a fine-tuned model by slug, with its Datanet
// versions, without checking access; use VisibleModel for anything a user
// asked for.
func (s *Store) GetModelBySlug(ctx context.Context, slug string) (*Model, error) {
	return s.getModel(ctx, `m.slug = $1`, slug)
}

func (s *Store) modelData(ctx context.Context, modelID int64) ([]ModelData, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT v.id, d.id, d.slug, d.name, v.version, v.record_count, v.merkle_root, coalesce(v.anchor_tx, '')
		FROM model_data md JOIN datanet_versions v ON v.id = md.version_id JOIN datanets d ON d.id = v.datanet_id
		WHERE md.model_id = $1 ORDER BY d.slug, v.version`, modelID)
	if err != nil {
		return nil, fmt.Errorf("model %d data: %w", modelID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ModelData, error) {
		var d ModelData
		err := r.Scan(&d.VersionID, &d.DatanetID, &d.DatanetSlug, &d.DatanetName, &d.Version, &d.Records, &d.MerkleRoot, &d.AnchorTx)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("model %d data: %w", modelID, err)
	}
	return out, nil
}

// IsModelOwner reports whether the actor owns m or is an admin: who may
// publish it, change its price and see it whatever its status.
func IsModelOwner(a Actor, m *Model) bool {
	return a.Admin || (a.UserID != 0 && a.UserID == m.OwnerID)
}

// CanViewModel reports whether the actor may see m: its owner and admins
// always; anyone else only while it is public or unlisted and not
// suspended.
func CanViewModel(a Actor, m *Model) bool {
	if IsModelOwner(a, m) {
		return true
	}
	return m.Status == ModelActive && (m.Visibility == ModelPublic || m.Visibility == ModelUnlisted)
}

// VisibleModel returns the model with that slug if the actor may see it,
// and ErrNotFound otherwise, so private models do not leak their existence.
func (s *Store) VisibleModel(ctx context.Context, a Actor, slug string) (*Model, error) {
	m, err := s.GetModelBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	if !CanViewModel(a, m) {
		return nil, ErrNotFound
	}
	return m, nil
}

// VisibleModelByID is VisibleModel by ID.
func (s *Store) VisibleModelByID(ctx context.Context, a Actor, id int64) (*Model, error) {
	m, err := s.GetModel(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CanViewModel(a, m) {
		return nil, ErrNotFound
	}
	return m, nil
}
