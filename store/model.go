package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
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

// ModelQuery filters the fine-tuned model catalog.
type ModelQuery struct {
	Q      string // words in the name, slug or base model
	Base   string // base model slug
	Mine   bool   // only the actor's own models
	Limit  int
	Offset int
}

// ListModels returns the fine-tuned models the catalog shows the actor:
// public, active ones from everyone and the actor's own (any visibility or
// status), newest first, with the total.
func (s *Store) ListModels(ctx context.Context, a Actor, q ModelQuery) ([]Model, int64, error) {
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 50
	}
	where := ` WHERE (m.owner_id = $1 OR (NOT $2 AND m.visibility = 'public' AND m.status = 'active'))
		AND ($3 = '' OR m.name ILIKE '%' || $3 || '%' OR m.slug ILIKE '%' || $3 || '%' OR b.name ILIKE '%' || $3 || '%')
		AND ($4 = '' OR b.slug = $4)`
	args := []any{a.UserID, q.Mine, escapeLike(strings.TrimSpace(q.Q)), q.Base}
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+modelFrom+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count models: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+modelCols+modelFrom+where+`
		ORDER BY coalesce(m.published_at, m.created_at) DESC, m.id DESC LIMIT $5 OFFSET $6`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list models: %w", err)
	}
	defer rows.Close()
	var out []Model
	for rows.Next() {
		m, err := scanModel(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list models: %w", err)
		}
		out = append(out, *m)
	}
	return out, total, rows.Err()
}

// escapeLike quotes LIKE wildcards so a search is literal.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// MaxPricePer1K bounds an inference price: one million OPEN per 1,000
// tokens, far above anything sensible, so a typo cannot create a price
// nobody can pay.
var MaxPricePer1K = new(big.Int).Mul(big.NewInt(1_000_000), weiPerOPEN)

var weiPerOPEN = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)

// ParseOPEN reads a non-negative OPEN amount written as a decimal ("12",
// "0.5", "1,000.25") into wei, exactly: at most 18 fraction digits.
func ParseOPEN(s string) (*big.Int, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	s = strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(s, "OPEN")), " ")
	if strings.Trim(s, ".") == "" {
		return nil, errors.New("enter an amount, like 0.25")
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return nil, errors.New("use digits and at most one decimal point, like 0.25")
	}
	if len(frac) > 18 {
		return nil, errors.New("OPEN has 18 decimals; use at most 18 digits after the point")
	}
	v, ok := new(big.Int).SetString(whole+frac+strings.Repeat("0", 18-len(frac)), 10)
	if !ok {
		return nil, errors.New("not a number")
	}
	return v, nil
}

// PublishInput is what an owner sets when publishing a model.
type PublishInput struct {
	Visibility string `json:"visibility"` // private | unlisted | public
	// Price is the inference price per 1,000 tokens in OPEN, as a decimal.
	Price string `json:"price"`
}

// ModelEnqueue inserts the ProvenanceRegistry registration job of model id
// inside tx.
type ModelEnqueue func(ctx context.Context, tx pgx.Tx, id int64) error

// PublishModel sets a model's visibility and inference price (its owner or
// an admin). Making it public or unlisted for the first time stamps
// published_at and, when register is not nil, enqueues its registration in
// the same transaction. Bad input changes nothing.
func (s *Store) PublishModel(ctx context.Context, a Actor, slug string, in PublishInput, register ModelEnqueue) (*Model, error) {
	m, err := s.VisibleModel(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if !IsModelOwner(a, m) {
		return nil, ErrForbidden
	}
	errs := map[string]string{}
	if !slices.Contains([]string{ModelPrivate, ModelUnlisted, ModelPublic}, in.Visibility) {
		errs["visibility"] = "Choose private, unlisted or public."
	} else if in.Visibility != ModelPrivate && m.Status == ModelSuspended {
		errs["visibility"] = "This model is suspended by moderators and cannot be shared until they lift it."
	}
	price, perr := ParseOPEN(in.Price)
	switch {
	case perr != nil:
		errs["price"] = "Price per 1,000 tokens: " + perr.Error() + "."
	case price.Cmp(MaxPricePer1K) > 0:
		errs["price"] = "Price per 1,000 tokens: at most 1,000,000 OPEN."
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var first bool
		err := tx.QueryRow(ctx, `
			UPDATE models SET visibility = $2, price_per_1k = $3::numeric,
				published_at = CASE WHEN $2 <> 'private' THEN coalesce(published_at, now()) ELSE published_at END,
				updated_at = now()
			WHERE id = $1
			RETURNING $2 <> 'private' AND registry_tx IS NULL`, m.ID, in.Visibility, price.String()).Scan(&first)
		if err != nil {
			return err
		}
		if first && register != nil {
			if err := register(ctx, tx, m.ID); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a.UserID, "model.publish", "model", slug,
			map[string]string{"visibility": m.Visibility, "pricePer1kWei": m.PricePer1K.String()},
			map[string]string{"visibility": in.Visibility, "pricePer1kWei": price.String()}, "")
	})
	if err != nil {
		return nil, fmt.Errorf("publish model %s: %w", slug, err)
	}
	return s.GetModel(ctx, m.ID)
}

// ModelRegistryIntentKey is the journal key of model id's
// ProvenanceRegistry registration.
func ModelRegistryIntentKey(modelID int64) string { return fmt.Sprintf("register:model:%d", modelID) }

// SetModelRegistryTx records the transaction that registered model id. A
// recorded registration is never replaced (the registry is write-once).
func (s *Store) SetModelRegistryTx(ctx context.Context, modelID int64, txHash string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE models SET registry_tx = $2, updated_at = now() WHERE id = $1 AND registry_tx IS NULL`, modelID, txHash)
	if err != nil {
		return fmt.Errorf("registry tx of model %d: %w", modelID, err)
	}
	if tag.RowsAffected() == 0 {
		var cur string
		if err := s.pool.QueryRow(ctx, `SELECT coalesce(registry_tx, '') FROM models WHERE id = $1`, modelID).Scan(&cur); err != nil {
			return fmt.Errorf("registry tx of model %d: %w", modelID, err)
		}
		if cur != txHash {
			return fmt.Errorf("registry tx of model %d: already registered by %s: %w", modelID, cur, ErrConflict)
		}
	}
	return nil
}
