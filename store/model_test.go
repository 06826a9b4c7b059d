package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/modelfactory/modelfactory/store"
)

// modelFixture is a fixture with a built-in base model and one published
// Datanet version to train on.
type modelFixture struct {
	*fixture
	base    *store.BaseModel
	version *store.Version
}

func newModelFixture(t *testing.T) *modelFixture {
	t.Helper()
	f, ctx := newFixture(t), context.Background()
	base, err := f.s.UpsertBuiltinBaseModel(ctx, store.BaseModel{Slug: "starter", Name: "Starter", Architecture: "gpt2",
		TrainableCPU: true, ContentHash: "0x" + fmt.Sprintf("%064x", 7)})
	if err != nil {
		t.Fatal(err)
	}
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	if _, _, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{record(1, "a", 1)}}); err != nil {
		t.Fatal(err)
	}
	v, err := f.s.PublishVersion(ctx, f.owner, d.Slug, func(h []string) (string, error) { return "0x" + fmt.Sprintf("%064x", len(h)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return &modelFixture{fixture: f, base: base, version: v}
}

// model inserts a fine-tuned model row the way the fine-tune worker does.
func (f *modelFixture) model(t *testing.T, owner store.Actor, slug, visibility, status string) *store.Model {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := f.s.Pool().QueryRow(ctx, `
		INSERT INTO models (slug, name, owner_id, base_model_id, method, metrics, adapter_prefix, adapter_files, adapter_hash, visibility, status)
		VALUES ($1, $1, $2, $3, 'lora', '{"val_perplexity_before": 40.5, "val_perplexity_after": 12.25, "note": "x"}',
			'models/ft/'||$1||'/adapter', '[{"name":"adapter_model.safetensors","size":10,"sha256":"aa"}]', $4, $5, $6)
		RETURNING id`, slug, owner.UserID, f.base.ID, "0x"+fmt.Sprintf("%064x", 9), visibility, status).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Pool().Exec(ctx, `INSERT INTO model_data (model_id, version_id) VALUES ($1, $2)`, id, f.version.ID); err != nil {
		t.Fatal(err)
	}
	m, err := f.s.GetModel(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModelReadAndVisibility(t *testing.T) {
	t.Parallel()
	f, ctx := newModelFixture(t), context.Background()
	private := f.model(t, f.owner, "qa-private", store.ModelPrivate, store.ModelActive)
	public := f.model(t, f.owner, "qa-public", store.ModelPublic, store.ModelActive)
	unlisted := f.model(t, f.owner, "qa-unlisted", store.ModelUnlisted, store.ModelActive)
	suspended := f.model(t, f.owner, "qa-suspended", store.ModelPublic, store.ModelSuspended)

	got, err := f.s.GetModelBySlug(ctx, "qa-public")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != public.ID || got.BaseSlug != "starter" || got.BaseHash != f.base.ContentHash || got.Owner != f.owner.Address ||
		len(got.AdapterFiles) != 1 || got.AdapterFiles[0].Name != "adapter_model.safetensors" || len(got.MergedFiles) != 0 ||
		got.PricePer1K == nil || got.PricePer1K.Sign() != 0 || got.RunID != 0 {
		t.Fatalf("model = %+v", got)
	}
	if len(got.Data) != 1 || got.Data[0].VersionID != f.version.ID || got.Data[0].MerkleRoot != f.version.MerkleRoot || got.Data[0].Version != 1 {
		t.Fatalf("model data = %+v", got.Data)
	}
	if m := got.MetricsMap(); m["val_perplexity_after"] != 12.25 || len(m) != 2 {
		t.Fatalf("metrics = %v", m)
	}
	if _, err := f.s.GetModel(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing model: %v", err)
	}

	anon := store.Actor{}
	cases := []struct {
		who  string
		a    store.Actor
		m    *store.Model
		want bool
	}{
		{"owner private", f.owner, private, true},
		{"admin private", f.admin, private, true},
		{"stranger private", f.stranger, private, false},
		{"anonymous private", anon, private, false},
		{"anonymous public", anon, public, true},
		{"stranger unlisted", f.stranger, unlisted, true},
		{"stranger suspended", f.stranger, suspended, false},
		{"owner suspended", f.owner, suspended, true},
		{"admin suspended", f.admin, suspended, true},
	}
	for _, c := range cases {
		if got := store.CanViewModel(c.a, c.m); got != c.want {
			t.Errorf("%s: CanViewModel = %v, want %v", c.who, got, c.want)
		}
		_, err := f.s.VisibleModel(ctx, c.a, c.m.Slug)
		if c.want && err != nil || !c.want && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: VisibleModel err = %v", c.who, err)
		}
		_, err = f.s.VisibleModelByID(ctx, c.a, c.m.ID)
		if c.want && err != nil || !c.want && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: VisibleModelByID err = %v", c.who, err)
		}
	}
	if store.IsModelOwner(f.stranger, public) || !store.IsModelOwner(f.admin, public) || !store.IsModelOwner(f.owner, public) {
		t.Error("IsModelOwner wrong")
	}
}
