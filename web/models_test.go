package web_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/catalog"
	"github.com/modelfactory/modelfactory/handlers"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/modelimport"
	"github.com/modelfactory/modelfactory/modelimport/hftest"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
	"github.com/modelfactory/modelfactory/web"
)

// modelApp is a server with object storage, River running imports against
// a fake Hugging Face hub, a built-in base model and one private
// fine-tuned model with an uploaded adapter.
type modelApp struct {
	*app
	hub                  *hftest.Hub
	blobs                blob.Store
	owner, stranger      *ecdsa.PrivateKey
	ownerS, strS, adminS string
	modelID              int64
	adapter              []byte
	registrations        int
}

func newModelApp(t *testing.T) *modelApp {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	st := store.New(pool)
	blobs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tiny := hftest.TinyGPT2(t, t.TempDir(), "mit")
	hub := hftest.Start(t, map[string]string{"tiny/gpt2": tiny})
	log := slog.New(slog.DiscardHandler)
	rc, err := jobs.NewClient(pool, jobs.Deps{Store: st, Logger: log, Blobs: blobs, DataDir: t.TempDir(),
		ModelFetch: modelimport.Options{HFEndpoint: hub.URL}}, jobs.Config{Queues: []string{jobs.QueueDefault}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	if err := rc.Start(rctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = rc.Stop(context.Background()) })
	admin, _ := crypto.GenerateKey()
	u, _ := url.Parse(publicURL)
	m := &modelApp{hub: hub, blobs: blobs}
	h, err := handlers.New(handlers.Deps{
		Store: st, Log: log, PublicURL: u, Chain: views.ChainInfo{ChainID: 1337},
		Admins: map[string]bool{strings.ToLower(crypto.PubkeyToAddress(admin.PublicKey).Hex()): true},
		Blobs:  blobs, HFEndpoint: hub.URL, ExplorerURL: "https://explorer.test",
		EnqueueModelImport: func(ctx context.Context, tx pgx.Tx, id int64) error {
			_, err := rc.InsertTx(ctx, tx, jobs.NewModelImportArgs(id), nil)
			return err
		},
		EnqueueModelRegistration: func(context.Context, pgx.Tx, int64) error { m.registrations++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.NewRouter(web.Options{Handlers: h, Store: st, Log: log}))
	t.Cleanup(srv.Close)
	m.app = &app{Server: srv, store: st, admin: admin}
	m.owner, _ = crypto.GenerateKey()
	m.stranger, _ = crypto.GenerateKey()
	m.ownerS, m.strS, m.adminS = m.signIn(t, m.owner), m.signIn(t, m.stranger), m.signIn(t, admin)

	// The built-in base model, stored like the starter model.
	os.Remove(filepath.Join(tiny, "pytorch_model.bin"))
	if _, err := jobs.RegisterStarterModel(ctx, st, blobs, tiny); err != nil {
		t.Fatal(err)
	}
	base, _ := st.GetBaseModelBySlug(ctx, jobs.StarterModelSlug)
	// A fine-tuned model as the fine-tune worker leaves it: private, with
	// its adapter in object storage.
	adir := t.TempDir()
	m.adapter = []byte("adapter weights for the test")
	os.WriteFile(filepath.Join(adir, "adapter_model.safetensors"), m.adapter, 0o644)
	os.WriteFile(filepath.Join(adir, "adapter_config.json"), []byte(`{"peft_type":"LORA","r":8}`), 0o644)
	files, err := catalog.UploadDir(ctx, blobs, "models/ft/go-qa/adapter", adir, nil)
	if err != nil {
		t.Fatal(err)
	}
	fj, _ := json.Marshal(files)
	owner, _ := st.UpsertUser(ctx, crypto.PubkeyToAddress(m.owner.PublicKey).Hex())
	if err := pool.QueryRow(ctx, `INSERT INTO models (slug, name, owner_id, base_model_id, method, settings, metrics,
			adapter_prefix, adapter_files, adapter_hash)
		VALUES ('go-qa', 'Go QA', $1, $2, 'lora', '{"loraRank": 8, "learningRate": 0.001, "loraTargets": ["c_attn"]}',
			'{"val_perplexity_before": 41.5, "val_perplexity_after": 12.75, "train_loss": 2.1}', 'models/ft/go-qa/adapter', $3, $4)
		RETURNING id`, owner.ID, base.ID, fj, catalog.ContentHash(files)).Scan(&m.modelID); err != nil {
		t.Fatal(err)
	}
	return m
}

type catalogJSON struct {
	BaseModels []struct {
		Slug, Training, Status, License, Architecture string
		ContextLength                                 int
		TrainableCPU                                  bool
	}
	Models []struct {
		Slug, Visibility, PricePer1kTokensWei string
	}
	Total int64
}

func (m *modelApp) catalog(t *testing.T, sess, query string) catalogJSON {
	t.Helper()
	var c catalogJSON
	r := m.do(t, "GET", "/api/v1/models"+query, "", withSession(sess))
	if r.StatusCode != 200 {
		t.Fatalf("catalog: %d %s", r.StatusCode, readAll(t, r))
	}
	decode(t, r, &c)
	return c
}

func form(sess string) map[string]string {
	return map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": handlers.SessionCookie + "=" + sess}
}

func TestModelCatalogAndPermissions(t *testing.T) {
	t.Parallel()
	m := newModelApp(t)

	// The catalog: the built-in base model trains on CPU; the private
	// model is the owner's alone.
	c := m.catalog(t, m.strS, "")
	if len(c.BaseModels) != 1 || c.BaseModels[0].Training != "cpu" || !c.BaseModels[0].TrainableCPU || c.BaseModels[0].ContextLength != 64 ||
		c.BaseModels[0].Architecture != "gpt2" || len(c.Models) != 0 {
		t.Fatalf("stranger's catalog = %+v", c)
	}
	if c = m.catalog(t, m.ownerS, ""); len(c.Models) != 1 || c.Models[0].Visibility != "private" || c.Models[0].PricePer1kTokensWei != "0" {
		t.Fatalf("owner's catalog = %+v", c)
	}
	if c = m.catalog(t, m.ownerS, "?compute=gpu"); len(c.BaseModels) != 0 {
		t.Fatalf("gpu filter = %+v", c.BaseModels)
	}
	if r := m.do(t, "GET", "/api/v1/models", "", nil); r.StatusCode != 401 {
		t.Fatalf("signed-out catalog: %d", r.StatusCode)
	}

	// A private model is a 404 to others, page, API and downloads alike.
	for _, p := range []string{"/models/go-qa", "/api/v1/models/go-qa", fmt.Sprintf("/api/v1/models/%d", m.modelID), "/models/go-qa/files/adapter/adapter_model.safetensors"} {
		if r := m.do(t, "GET", p, "", withSession(m.strS)); r.StatusCode != 404 {
			t.Fatalf("stranger GET %s: %d", p, r.StatusCode)
		}
	}
	r := m.do(t, "GET", "/models/go-qa", "", withSession(m.ownerS))
	page := readAll(t, r)
	for _, want := range []string{"Open in Playground", "/playground?model=go-qa", "41.5", "12.75", "adapter_model.safetensors", "publish-form", "loraRank"} {
		if r.StatusCode != 200 || !strings.Contains(page, want) {
			t.Fatalf("model page (%d) lacks %q", r.StatusCode, want)
		}
	}
	// Downloads stream the stored bytes with their hash.
	r = m.do(t, "GET", "/models/go-qa/files/adapter/adapter_model.safetensors", "", withSession(m.ownerS))
	if body := readAll(t, r); r.StatusCode != 200 || body != string(m.adapter) || len(r.Header.Get("X-Checksum-SHA256")) != 64 {
		t.Fatalf("download: %d %q %v", r.StatusCode, body, r.Header)
	}
	if r := m.do(t, "GET", "/models/go-qa/files/adapter/..%2Fsecret", "", withSession(m.ownerS)); r.StatusCode != 404 {
		t.Fatalf("unlisted file: %d", r.StatusCode)
	}
	if r := m.do(t, "GET", "/models/base/"+jobs.StarterModelSlug+"/files/config.json", "", withSession(m.strS)); r.StatusCode != 200 || !strings.Contains(readAll(t, r), "gpt2") {
		t.Fatalf("base download: %d", r.StatusCode)
	}

	// Bad prices are field errors and change nothing.
	r = m.do(t, "POST", "/models/go-qa/publish", "visibility=public&price=-3", form(m.ownerS))
	if body := readAll(t, r); r.StatusCode != 422 || !strings.Contains(body, "Price per 1,000 tokens") {
		t.Fatalf("bad price form: %d", r.StatusCode)
	}
	r = m.do(t, "POST", "/api/v1/models/go-qa/publish", `{"visibility":"public","price":"1.2.3"}`, jsonHeaders(m.ownerS))
	var env struct {
		Error struct{ Fields map[string]string }
	}
	if decode(t, r, &env); r.StatusCode != 422 || env.Error.Fields["price"] == "" {
		t.Fatalf("bad price API: %d %+v", r.StatusCode, env)
	}
	if got, _ := m.store.GetModel(context.Background(), m.modelID); got.Visibility != "private" || m.registrations != 0 {
		t.Fatalf("bad input changed the model: %s, %d registrations", got.Visibility, m.registrations)
	}
	// Strangers cannot publish someone else's model.
	if r := m.do(t, "POST", "/models/go-qa/publish", "visibility=public&price=0", form(m.strS)); r.StatusCode != 404 {
		t.Fatalf("stranger publish of a private model: %d", r.StatusCode)
	}
	// The owner publishes: public at 0.25 OPEN per 1k tokens, registration queued.
	r = m.do(t, "POST", "/models/go-qa/publish", "visibility=public&price=0.25", form(m.ownerS))
	if r.StatusCode != 303 || r.Header.Get("Location") != "/models/go-qa" || m.registrations != 1 {
		t.Fatalf("publish: %d %s, %d registrations", r.StatusCode, r.Header.Get("Location"), m.registrations)
	}
	if c = m.catalog(t, m.strS, "?q=go"); len(c.Models) != 1 || c.Models[0].PricePer1kTokensWei != "250000000000000000" {
		t.Fatalf("published model in the stranger's catalog: %+v", c.Models)
	}
	if r := m.do(t, "POST", "/api/v1/models/go-qa/publish", `{"visibility":"private","price":"0"}`, jsonHeaders(m.strS)); r.StatusCode != 403 {
		t.Fatalf("stranger publish of a public model: %d", r.StatusCode)
	}
	page = readAll(t, m.do(t, "GET", "/models/go-qa", "", withSession(m.strS)))
	if strings.Contains(page, "publish-form") || !strings.Contains(page, "registry-pending") {
		t.Fatal("stranger sees the publish form, or the pending registration is not shown")
	}
	// The registration is recorded: the page links the transaction.
	tx := "0x" + strings.Repeat("ab", 32)
	if err := m.store.SetModelRegistryTx(context.Background(), m.modelID, tx); err != nil {
		t.Fatal(err)
	}
	if page = readAll(t, m.do(t, "GET", "/models/go-qa", "", withSession(m.strS))); !strings.Contains(page, "https://explorer.test/tx/"+tx) {
		t.Fatal("registry transaction not linked")
	}
	// Suspended: hidden from others, still there for its owner.
	m.store.Pool().Exec(context.Background(), `UPDATE models SET status = 'suspended' WHERE id = $1`, m.modelID)
	if r := m.do(t, "GET", "/models/go-qa", "", withSession(m.strS)); r.StatusCode != 404 {
		t.Fatalf("suspended model shown to a stranger: %d", r.StatusCode)
	}
	if c = m.catalog(t, m.strS, ""); len(c.Models) != 0 {
		t.Fatalf("suspended model listed: %+v", c.Models)
	}
	if r := m.do(t, "GET", "/models/go-qa", "", withSession(m.ownerS)); r.StatusCode != 200 {
		t.Fatalf("owner of a suspended model: %d", r.StatusCode)
	}
}

func TestAdminModelImport(t *testing.T) {
	t.Parallel()
	m := newModelApp(t)
	// Admins only.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/admin/models/import", ""},
		{"POST", "/admin/models/import", "source=/tmp"},
		{"POST", "/api/v1/admin/models/import", `{"source":"/tmp"}`},
	} {
		h := form(m.ownerS)
		if strings.HasPrefix(c.body, "{") {
			h = jsonHeaders(m.ownerS)
		}
		if r := m.do(t, c.method, c.path, c.body, h); r.StatusCode != 403 {
			t.Fatalf("non-admin %s %s: %d", c.method, c.path, r.StatusCode)
		}
	}
	if r := m.do(t, "GET", "/admin/models/import", "", withSession(m.adminS)); r.StatusCode != 200 || !strings.Contains(readAll(t, r), "import-form") {
		t.Fatalf("admin import page: %d", r.StatusCode)
	}
	// A source that is not one of the three kinds is a field error.
	r := m.do(t, "POST", "/admin/models/import", "source=ftp%3A%2F%2Fexample.com%2Fm", form(m.adminS))
	if body := readAll(t, r); r.StatusCode != 422 || !strings.Contains(body, "Unsupported source") {
		t.Fatalf("bad source: %d", r.StatusCode)
	}
	// Import from the fake hub through the API; it becomes ready.
	r = m.do(t, "POST", "/api/v1/admin/models/import", `{"source":"`+m.hub.URL+`/tiny/gpt2","name":"Tiny GPT-2"}`, jsonHeaders(m.adminS))
	var b struct{ Slug, Status, Error, Training, License string }
	if decode(t, r, &b); r.StatusCode != 202 || b.Slug != "tiny-gpt-2" || b.Status != "importing" {
		t.Fatalf("import: %d %+v", r.StatusCode, b)
	}
	deadline := time.Now().Add(time.Minute)
	for b.Status == "importing" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		decode(t, m.do(t, "GET", "/api/v1/models/base/tiny-gpt-2", "", withSession(m.adminS)), &b)
	}
	if b.Status != "ready" || b.Training != "cpu" || b.License != "mit" {
		t.Fatalf("imported: %+v", b)
	}
	// The same slug again is a field error.
	r = m.do(t, "POST", "/admin/models/import", "source="+url.QueryEscape(m.hub.URL+"/tiny/gpt2")+"&name=Tiny+GPT-2", form(m.adminS))
	if body := readAll(t, r); r.StatusCode != 422 || !strings.Contains(body, "already in the catalog") {
		t.Fatalf("duplicate import: %d", r.StatusCode)
	}
	// A missing repository fails with the hub's reason, shown to admins.
	r = m.do(t, "POST", "/admin/models/import", "source="+url.QueryEscape("https://huggingface.co/tiny/missing"), form(m.adminS))
	if r.StatusCode != 303 {
		t.Fatalf("import form: %d %s", r.StatusCode, readAll(t, r))
	}
	deadline = time.Now().Add(time.Minute)
	for {
		decode(t, m.do(t, "GET", "/api/v1/models/base/tiny-missing", "", withSession(m.adminS)), &b)
		if b.Status != "importing" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b.Status != "failed" || !strings.Contains(b.Error, "no repository") {
		t.Fatalf("missing repo import: %+v", b)
	}
	if r := m.do(t, "GET", "/api/v1/models/base/tiny-missing", "", withSession(m.ownerS)); r.StatusCode != 404 {
		t.Fatalf("failed import visible to a user: %d", r.StatusCode)
	}
	if page := readAll(t, m.do(t, "GET", "/admin/models/import", "", withSession(m.adminS))); !strings.Contains(page, "no repository") {
		t.Fatal("the import page does not show the failure")
	}
	// Everyone sees the ready import in the catalog.
	if c := m.catalog(t, m.ownerS, ""); len(c.BaseModels) != 2 {
		t.Fatalf("catalog after import: %+v", c.BaseModels)
	}
	if log, _ := m.store.AuditLog(context.Background(), "base_model", "tiny-gpt-2", 5); len(log) != 1 || log[0].Action != "base_model.import" {
		t.Fatalf("audit: %+v", log)
	}
}
