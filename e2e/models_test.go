package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/catalog"
	"github.com/modelfactory/modelfactory/modelimport/hftest"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

// TestBrowserModels: an admin opens the import page from the admin home
// and imports a tiny GPT-2 from a local HTTP server acting as Hugging
// Face (MF_HF_ENDPOINT); the import list turns ready by itself and the
// catalog shows the model as trainable on this deployment's CPU. An owner
// then publishes a fine-tuned model made from it (rows as a successful run
// leaves them) with a price, and watches the ProvenanceRegistry
// registration on the embedded dev chain appear as a transaction link.
func TestBrowserModels(t *testing.T) {
	admin, owner := newWallet(t), newWallet(t)
	tiny := hftest.TinyGPT2(t, t.TempDir(), "apache-2.0")
	hub := hftest.Start(t, map[string]string{"tiny-org/tiny-gpt2": tiny})
	dbURL, dataDir := pgtest.URL(t), t.TempDir()
	srv := startServer(t, "MF_ADMIN_ADDRESSES="+admin.address(), "DATABASE_URL="+dbURL, "MF_DATA_DIR="+dataDir,
		"MF_HF_ENDPOINT="+hub.URL, "MF_EXPLORER_URL=https://explorer.example")

	actx := newBrowser(t)
	admin.inject(t, actx, 1337)
	signIn(t, actx, srv, admin)
	err := chromedp.Do(actx,
		chromedp.Navigate(srv.URL+"/admin"),
		chromedp.Click(chromedp.CSS(`a[href="/admin/models/import"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#import-source`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	// A source we cannot import is refused next to the field.
	err = chromedp.Do(actx,
		chromedp.SendKeys(chromedp.CSS(`#import-source`), "gpt2"),
		chromedp.Click(chromedp.CSS(`#import-submit`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, actx, "is not an absolute directory or a URL", "bad source error")
	setInput(t, actx, "#import-source", "https://huggingface.co/tiny-org/tiny-gpt2")
	setInput(t, actx, "#import-name", "Tiny GPT-2")
	err = chromedp.Do(actx, chromedp.Click(chromedp.CSS(`#import-submit`)))
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, actx, "Importing Tiny GPT-2", "import flash")
	// The list polls while the import runs and shows it ready.
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, _ := chromedp.Run(actx, chromedp.Evaluate[string](`(document.querySelector('tr[data-import="tiny-gpt-2"]') || {dataset: {}}).dataset.status || ""`))
		if status == "ready" {
			break
		}
		if status == "failed" || time.Now().After(deadline) {
			t.Fatalf("import status %q; page:\n%.2000s", status, bodyText(t, actx))
		}
		time.Sleep(200 * time.Millisecond)
	}
	screenshot(t, actx, "models-import")
	if err := chromedp.Do(actx, chromedp.Navigate(srv.URL+"/models")); err != nil {
		t.Fatal(err)
	}
	waitText(t, actx, "Tiny GPT-2", "catalog")
	row, err := chromedp.Run(actx, chromedp.Evaluate[string](`document.querySelector('tr[data-base="tiny-gpt-2"]').innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gpt2", "64 tokens", "apache-2.0", "Trains on this deployment's CPU", "Hugging Face"} {
		contains(t, row, want, "catalog row")
	}
	screenshot(t, actx, "models-catalog")

	// The owner's Datanet version and the fine-tuned model a run left.
	octx := newBrowser(t)
	owner.inject(t, octx, 1337)
	signIn(t, octx, srv, owner)
	if st, body := pageFetch(t, octx, "POST", "/api/v1/datanets", `{"name":"Harbour notes","summary":"Port logs","license":"CC-BY-4.0","schema":"documents","visibility":"public","contributionPolicy":"open"}`); st != 201 {
		t.Fatalf("create Datanet: %d %s", st, body)
	}
	if st, body := pageFetch(t, octx, "POST", "/api/v1/datanets/harbour-notes/publish", ""); st != 200 {
		t.Fatalf("publish Datanet: %d %s", st, body)
	}
	upload := `(async () => {
		const fd = new FormData();
		fd.append("file", new Blob(['{"text":"The tide turned at noon."}\n{"text":"Two ships left for Bergen."}'], {type: "application/x-ndjson"}), "notes.jsonl");
		const r = await fetch("/api/v1/datanets/harbour-notes/contributions", {method: "POST", body: fd, headers: {"Accept": "application/json"}});
		return (await r.json()).id; })()`
	cid, err := chromedp.Run(octx, chromedp.Evaluate[int](upload, chromedp.EvalAwaitPromise))
	if err != nil || cid == 0 {
		t.Fatalf("upload: %d %v", cid, err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		_, body := pageFetch(t, octx, "GET", fmt.Sprintf("/api/v1/contributions/%d", cid), "")
		if strings.Contains(body, `"status":"accepted"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("contribution never accepted: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st, body := pageFetch(t, octx, "POST", "/api/v1/datanets/harbour-notes/versions", ""); st != 201 && st != 200 {
		t.Fatalf("publish version: %d %s", st, body)
	}
	seedFineTuned(t, dbURL, dataDir, owner.address())

	err = chromedp.Do(octx, chromedp.Navigate(srv.URL+"/models/harbour-helper"))
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, octx, "Open in Playground", "model page")
	for _, want := range []string{"Tiny GPT-2", "Harbour notes", "38.2", "9.75", "adapter_model.safetensors", "Private"} {
		waitText(t, octx, want, "model card")
	}
	href, err := chromedp.Run(octx, chromedp.Evaluate[string](`document.querySelector("#open-playground").getAttribute("href")`))
	if err != nil || href != "/playground?model=harbour-helper" {
		t.Fatalf("playground link %q, %v", href, err)
	}
	// A bad price is refused next to the field, and nothing changes.
	setInput(t, octx, "#publish-price", "1.5.0")
	err = chromedp.Do(octx,
		chromedp.Click(chromedp.CSS(`input[name="visibility"][value="public"]`)),
		chromedp.Click(chromedp.CSS(`#publish-submit`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, octx, "Price per 1,000 tokens: use digits", "price error")
	setInput(t, octx, "#publish-price", "0.5")
	err = chromedp.Do(octx,
		chromedp.Click(chromedp.CSS(`input[name="visibility"][value="public"]`)),
		chromedp.Click(chromedp.CSS(`#publish-submit`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, octx, "Harbour helper is public", "publish flash")
	// The registry card polls until the registration is confirmed.
	waitTextLong(t, octx, "Registered on chain", "registry confirmation", 90*time.Second)
	link, err := chromedp.Run(octx, chromedp.Evaluate[string](`document.querySelector("#registry-tx a").getAttribute("href")`))
	if err != nil || !strings.HasPrefix(link, "https://explorer.example/tx/0x") || len(link) != len("https://explorer.example/tx/")+66 {
		t.Fatalf("registry link %q, %v", link, err)
	}
	price, _ := chromedp.Run(octx, chromedp.Evaluate[string](`document.querySelector("#model-price").innerText`))
	contains(t, price, "0.5 OPEN", "price")
	screenshot(t, octx, "models-model-page")

	pool, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m, err := store.New(pool).GetModelBySlug(context.Background(), "harbour-helper")
	if err != nil || !strings.HasSuffix(link, m.RegistryTx) || m.Visibility != "public" || m.PricePer1K.String() != "500000000000000000" || m.Data[0].AnchorTx == "" {
		t.Fatalf("stored model %+v, %v", m, err)
	}
	// Everyone now finds it in the catalog.
	if err := chromedp.Do(actx, chromedp.Navigate(srv.URL+"/models?q=harbour")); err != nil {
		t.Fatal(err)
	}
	waitText(t, actx, "Harbour helper", "catalog search")
}

// setInput replaces a field's value (after a re-rendered form, the field
// holds what was sent).
func setInput(t *testing.T, ctx context.Context, sel, value string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.value = %q; return true; })()`, sel, value)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("set %s: %v", sel, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// seedFineTuned writes what a successful run leaves: the adapter in object
// storage and the private model row with its Datanet version.
func seedFineTuned(t *testing.T, dbURL, dataDir, owner string) {
	t.Helper()
	ctx := context.Background()
	pool, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	blobs, err := blob.NewLocal(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "adapter_model.safetensors"), []byte("lora weights"), 0o644)
	os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(`{"peft_type":"LORA","r":8,"lora_alpha":16}`), 0o644)
	files, err := catalog.UploadDir(ctx, blobs, "models/ft/harbour-helper/adapter", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	fj, _ := json.Marshal(files)
	_, err = pool.Exec(ctx, `
		WITH m AS (
			INSERT INTO models (slug, name, owner_id, base_model_id, method, settings, metrics, adapter_prefix, adapter_files, adapter_hash)
			SELECT 'harbour-helper', 'Harbour helper', u.id, b.id, 'lora', '{"loraRank": 8, "learningRate": 0.002, "epochs": 1}',
				'{"val_perplexity_before": 38.2, "val_perplexity_after": 9.75, "train_loss": 2.27}',
				'models/ft/harbour-helper/adapter', $1, $2
			FROM users u, base_models b WHERE lower(u.address) = lower($3) AND b.slug = 'tiny-gpt-2'
			RETURNING id)
		INSERT INTO model_data (model_id, version_id)
		SELECT m.id, v.id FROM m, datanet_versions v JOIN datanets d ON d.id = v.datanet_id WHERE d.slug = 'harbour-notes'`,
		fj, catalog.ContentHash(files), owner)
	if err != nil {
		t.Fatal(err)
	}
}
