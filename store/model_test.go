package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

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

func TestParseOPEN(t *testing.T) {
	t.Parallel()
	good := map[string]string{"0": "0", "1": "1000000000000000000", "0.25": "250000000000000000", "1,000.5 OPEN": "1000500000000000000000",
		".5": "500000000000000000", "0.000000000000000001": "1"}
	for in, want := range good {
		v, err := store.ParseOPEN(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseOPEN(%q) = %v, %v; want %s", in, v, err, want)
		}
	}
	for _, in := range []string{"", ".", "-1", "1e3", "abc", "1.2.3", "0.0000000000000000001", "0x10"} {
		if v, err := store.ParseOPEN(in); err == nil {
			t.Errorf("ParseOPEN(%q) = %v, want an error", in, v)
		}
	}
}

func TestPublishModel(t *testing.T) {
	t.Parallel()
	f, ctx := newModelFixture(t), context.Background()
	m := f.model(t, f.owner, "qa-tuned", store.ModelPrivate, store.ModelActive)
	registered := 0
	register := func(context.Context, pgx.Tx, int64) error { registered++; return nil }

	// Bad input: field errors, nothing changes, no job.
	for _, in := range []store.PublishInput{
		{Visibility: "public", Price: "-1"},
		{Visibility: "public", Price: "ten"},
		{Visibility: "public", Price: "2000000"},
		{Visibility: "everyone", Price: "1"},
	} {
		_, err := f.s.PublishModel(ctx, f.owner, m.Slug, in, register)
		var ve *store.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 {
			t.Fatalf("%+v: err = %v, want one field error", in, err)
		}
	}
	if got, _ := f.s.GetModel(ctx, m.ID); got.Visibility != store.ModelPrivate || got.PricePer1K.Sign() != 0 || got.PublishedAt != nil || registered != 0 {
		t.Fatalf("bad input changed the model: %+v, %d registrations", got, registered)
	}
	// Only the owner or an admin may publish; others do not even see it.
	if _, err := f.s.PublishModel(ctx, f.stranger, m.Slug, store.PublishInput{Visibility: "public", Price: "1"}, register); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stranger publish of a private model: %v", err)
	}
	got, err := f.s.PublishModel(ctx, f.owner, m.Slug, store.PublishInput{Visibility: "public", Price: "0.5"}, register)
	if err != nil {
		t.Fatal(err)
	}
	if got.Visibility != store.ModelPublic || got.PricePer1K.String() != "500000000000000000" || got.PublishedAt == nil || registered != 1 {
		t.Fatalf("published = %+v, %d registrations", got, registered)
	}
	if _, err := f.s.PublishModel(ctx, f.stranger, m.Slug, store.PublishInput{Visibility: "private", Price: "0"}, register); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("stranger changed a public model: %v", err)
	}
	// Re-publishing before the registration is recorded does not enqueue it
	// twice in a way that matters (the job is unique), but once recorded it
	// never enqueues again.
	if err := f.s.SetModelRegistryTx(ctx, m.ID, "0x"+fmt.Sprintf("%064x", 1)); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetModelRegistryTx(ctx, m.ID, "0x"+fmt.Sprintf("%064x", 2)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("registry tx replaced: %v", err)
	}
	if got, err = f.s.PublishModel(ctx, f.admin, m.Slug, store.PublishInput{Visibility: "unlisted", Price: "1"}, register); err != nil || registered != 1 || got.RegistryTx == "" {
		t.Fatalf("admin re-publish: %+v, %v, %d registrations", got, err, registered)
	}
	log, _ := f.s.AuditLog(ctx, "model", m.Slug, 10)
	if len(log) != 2 || log[0].Action != "model.publish" {
		t.Fatalf("audit = %+v", log)
	}

	// A suspended model cannot be shared and is hidden from the catalog.
	sus := f.model(t, f.owner, "qa-suspended", store.ModelPrivate, store.ModelSuspended)
	var ve *store.ValidationError
	if _, err := f.s.PublishModel(ctx, f.owner, sus.Slug, store.PublishInput{Visibility: "public", Price: "0"}, register); !errors.As(err, &ve) {
		t.Fatalf("suspended model published: %v", err)
	}
	f.s.Pool().Exec(ctx, `UPDATE models SET visibility = 'public' WHERE id = $1`, sus.ID)
	list, total, err := f.s.ListModels(ctx, f.stranger, store.ModelQuery{})
	if err != nil || total != 0 || len(list) != 0 {
		t.Fatalf("stranger sees %d models (%v): unlisted and suspended must be hidden", total, err)
	}
	f.s.PublishModel(ctx, f.owner, m.Slug, store.PublishInput{Visibility: "public", Price: "1"}, nil)
	list, total, _ = f.s.ListModels(ctx, f.stranger, store.ModelQuery{Q: "tuned"})
	if total != 1 || list[0].Slug != m.Slug {
		t.Fatalf("search = %d %+v", total, list)
	}
	if _, total, _ = f.s.ListModels(ctx, f.stranger, store.ModelQuery{Q: "%"}); total != 0 {
		t.Fatalf("a %% search matched %d", total)
	}
	if _, total, _ = f.s.ListModels(ctx, f.owner, store.ModelQuery{Mine: true}); total != 2 {
		t.Fatalf("owner's own models: %d", total)
	}
	if _, total, _ = f.s.ListModels(ctx, f.stranger, store.ModelQuery{Base: "other"}); total != 0 {
		t.Fatalf("base filter: %d", total)
	}
}

// TestModelOutlivesRun: deleting the run (even the row) keeps the model,
// its files and its provenance.
func TestModelOutlivesRun(t *testing.T) {
	t.Parallel()
	f, ctx := newModelFixture(t), context.Background()
	m := f.model(t, f.owner, "qa-keep", store.ModelPublic, store.ModelActive)
	var runID int64
	if err := f.s.Pool().QueryRow(ctx, `INSERT INTO finetune_runs (owner_id, name, base_model_id, method, settings, backend, queue, status)
		VALUES ($1, 'r', $2, 'lora', '{}', 'native', 'train_cpu', 'succeeded') RETURNING id`, f.owner.UserID, f.base.ID).Scan(&runID); err != nil {
		t.Fatal(err)
	}
	f.s.Pool().Exec(ctx, `UPDATE models SET run_id = $2 WHERE id = $1`, m.ID, runID)
	if _, err := f.s.Pool().Exec(ctx, `DELETE FROM finetune_runs WHERE id = $1`, runID); err != nil {
		t.Fatal(err)
	}
	got, err := f.s.GetModel(ctx, m.ID)
	if err != nil || got.RunID != 0 || len(got.AdapterFiles) != 1 || len(got.Data) != 1 {
		t.Fatalf("after run delete: %+v, %v", got, err)
	}
}

func TestBaseModelImport(t *testing.T) {
	t.Parallel()
	f, ctx := newModelFixture(t), context.Background()
	jobs := 0
	enqueue := func(context.Context, pgx.Tx, int64) error { jobs++; return nil }
	in := store.BaseModelImportInput{Name: "openai-community/gpt2", Source: store.SourceHuggingFace, SourceURI: "https://huggingface.co/openai-community/gpt2"}
	if _, err := f.s.CreateBaseModelImport(ctx, f.owner, in, enqueue); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("non-admin import: %v", err)
	}
	b, err := f.s.CreateBaseModelImport(ctx, f.admin, in, enqueue)
	if err != nil {
		t.Fatal(err)
	}
	if b.Slug != "openai-community-gpt2" || b.Status != store.BaseModelImporting || b.ImportedBy != f.admin.UserID || jobs != 1 {
		t.Fatalf("import = %+v, jobs %d", b, jobs)
	}
	var ve *store.ValidationError
	if _, err := f.s.CreateBaseModelImport(ctx, f.admin, in, enqueue); !errors.As(err, &ve) || ve.Fields["slug"] == "" || jobs != 1 {
		t.Fatalf("duplicate slug: %v, jobs %d", err, jobs)
	}
	// A failing enqueue rolls the row back.
	in2 := in
	in2.Slug = "other"
	if _, err := f.s.CreateBaseModelImport(ctx, f.admin, in2, func(context.Context, pgx.Tx, int64) error { return errors.New("queue down") }); err == nil {
		t.Fatal("import without its job succeeded")
	}
	if _, err := f.s.GetBaseModelBySlug(ctx, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("row left without its job: %v", err)
	}
	if _, err := f.s.CreateBaseModelImport(ctx, f.admin, store.BaseModelImportInput{Name: "x", Source: "ftp", SourceURI: ""}, enqueue); !errors.As(err, &ve) || ve.Fields["name"] == "" || ve.Fields["source"] == "" {
		t.Fatalf("bad input: %v", err)
	}

	if err := f.s.FailBaseModelImport(ctx, b.ID, "Cannot reach Hugging Face"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.GetBaseModel(ctx, b.ID); got.Status != store.BaseModelFailed || got.Error != "Cannot reach Hugging Face" {
		t.Fatalf("failed = %+v", got)
	}
	if _, err := f.s.RetryBaseModelImport(ctx, f.admin, b.Slug, enqueue); err != nil || jobs != 2 {
		t.Fatalf("retry: %v, jobs %d", err, jobs)
	}
	if _, err := f.s.RetryBaseModelImport(ctx, f.admin, b.Slug, enqueue); !errors.As(err, &ve) {
		t.Fatalf("retry of a running import: %v", err)
	}
	done := store.ImportedBaseModel{Architecture: "gpt2", ParamCount: 124, SizeBytes: 500, ContextLength: 1024, License: "mit",
		TrainableCPU: true, BlobPrefix: "models/base/" + b.Slug, Files: []store.ModelFile{{Name: "config.json", Size: 3, SHA256: "ab"}},
		ContentHash: "0x" + fmt.Sprintf("%064x", 5)}
	if ok, err := f.s.FinishBaseModelImport(ctx, b.ID, done); err != nil || !ok {
		t.Fatalf("finish: %v %v", ok, err)
	}
	if ok, err := f.s.FinishBaseModelImport(ctx, b.ID, done); err != nil || ok {
		t.Fatalf("second finish changed it: %v %v", ok, err)
	}
	got, _ := f.s.GetBaseModel(ctx, b.ID)
	if got.Status != store.BaseModelReady || got.ContextLength != 1024 || !got.TrainableCPU || got.ContentHash != done.ContentHash || len(got.Files) != 1 {
		t.Fatalf("ready = %+v", got)
	}
	if log, _ := f.s.AuditLog(ctx, "base_model", b.Slug, 10); len(log) != 2 {
		t.Fatalf("audit = %+v", log)
	}
}
