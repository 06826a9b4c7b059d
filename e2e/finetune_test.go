package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
)

// harbourLines are the sentences of the seeded Datanet (and of the tiny
// starter model's pretraining text).
func harbourLines(n int) []string {
	subjects := []string{"The harbour pilot", "A small tug", "The night crew", "Each ferry", "The old crane"}
	verbs := []string{"guides", "pushes", "checks", "waits for", "lifts"}
	objects := []string{"the cargo ship", "a grain barge", "the morning tide", "every container", "the blue tanker"}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %s %s at berth %d.", subjects[i%5], verbs[(i/5)%5], objects[(i/25)%5], i%7)
	}
	return out
}

// seedStarterAndData registers a tiny pretrained GPT-2 as the built-in
// starter model of the server (in its object storage) and publishes a
// public documents Datanet version owned by owner.
func seedStarterAndData(t *testing.T, dbURL, dataDir, owner string) (base *store.BaseModel, versionID int64) {
	t.Helper()
	ctx := context.Background()
	pool, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool)
	blobs, err := blob.NewLocal(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	gp := gemm.NewPool(2)
	defer gp.Close()
	dir := filepath.Join(t.TempDir(), "starter")
	cfg := trainer.PretrainConfig{
		Model: trainer.Config{MaxSeqLen: 32, VocabSize: 320, NumLayers: 1, NumHeads: 2, Channels: 32},
		Train: trainer.TrainConfig{Steps: 40, BatchSize: 4, SeqLen: 32, LR: 5e-3, Warmup: 3, Seed: 1},
	}
	if _, err := trainer.Pretrain(ctx, []string{strings.Join(harbourLines(400), "\n")}, cfg, dir, gp, nil); err != nil {
		t.Fatal(err)
	}
	if base, err = jobs.RegisterStarterModel(ctx, st, blobs, dir); err != nil {
		t.Fatal(err)
	}
	u, err := st.UpsertUser(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Actor{UserID: u.ID, Address: u.Address}
	d, err := st.CreateDatanet(ctx, a, store.DatanetInput{Name: "Harbour log", License: "CC0-1.0", Schema: store.SchemaDocuments,
		Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyOpen})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PublishDatanet(ctx, a, d.Slug); err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateContribution(ctx, a, d.Slug, store.ContributionInput{Source: "api", Filename: "log.jsonl"},
		func(context.Context, pgx.Tx, int64) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	for i, text := range harbourLines(300) {
		canonical := fmt.Sprintf(`{"text":%q}`, text)
		sum := sha256.Sum256([]byte(canonical))
		rows = append(rows, []any{d.ID, c.ID, u.ID, "0x" + hex.EncodeToString(sum[:]), canonical, len(text), i + 1, "accepted"})
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"records"},
		[]string{"datanet_id", "contribution_id", "contributor_id", "hash", "canonical", "chars", "line", "status"},
		pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	v, err := st.PublishVersion(ctx, a, d.Slug, merkle.HexRoot)
	if err != nil {
		t.Fatal(err)
	}
	return base, v.ID
}

// lossPoints counts the points the live loss chart received over SSE
// (counted by a listener the test adds to the page).
const countLossPoints = `(() => {
	window.__lossPoints = 0;
	document.addEventListener("htmx:sseBeforeMessage", (e) => {
		if (e.target instanceof Element && e.target.closest("#ft-loss")) window.__lossPoints++;
	});
	return true;
})()`

// TestBrowserFinetune: sign in, go through the wizard (a step refuses a bad
// setting with a message next to the field), launch a LoRA fine-tune of the
// (tiny) starter model on a seeded Datanet version, watch the loss chart
// receive points live, see the run succeed and open its model page, then
// chat with the model in the Playground.
func TestBrowserFinetune(t *testing.T) {
	owner := newWallet(t)
	dbURL, dataDir := pgtest.URL(t), t.TempDir()
	srv := startServer(t, "DATABASE_URL="+dbURL, "MF_DATA_DIR="+dataDir)
	ctx := newBrowser(t)
	owner.inject(t, ctx, 1337)
	signIn(t, ctx, srv, owner)
	base, versionID := seedStarterAndData(t, dbURL, dataDir, owner.address())

	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/finetunes/new"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`input[name="baseModel"][value="%d"]`, base.ID))),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "CPU-trainable here", "base model card")
	screenshot(t, ctx, "finetune-wizard-base")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name="baseModel"][value="%d"]`, base.ID))),
		chromedp.Click(chromedp.CSS(`button[value="next"]`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`input[name="versions"][value="%d"]`, versionID))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name="versions"][value="%d"]`, versionID))),
		chromedp.Click(chromedp.CSS(`button[value="next"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#ft-loraRank`)),
		chromedp.Click(chromedp.CSS(`button[value="preset:quick"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "current: quick", "quick preset applied")
	err = chromedp.Do(ctx,
		// A rank wider than the model is refused next to the field.
		chromedp.SetValue(chromedp.CSS(`#ft-loraRank`), "512"),
		chromedp.SetValue(chromedp.CSS(`#ft-contextLength`), "32"),
		chromedp.Click(chromedp.CSS(`button[value="next"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "larger than the model width (32)", "rank error")
	screenshot(t, ctx, "finetune-wizard-settings-error")
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#ft-loraRank`), "4"),
		chromedp.SetValue(chromedp.CSS(`#ft-contextLength`), "32"),
		chromedp.SetValue(chromedp.CSS(`#ft-maxSteps`), "2500"),
		chromedp.SetValue(chromedp.CSS(`#ft-evalEvery`), "100"),
		chromedp.SetValue(chromedp.CSS(`#ft-checkpointEvery`), "500"),
		chromedp.SetValue(chromedp.CSS(`#ft-sampleTokens`), "8"),
		chromedp.Click(chromedp.CSS(`button[value="next"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#ft-name`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "Estimated time", "review")
	waitText(t, ctx, "Free: CPU runs", "cost")
	screenshot(t, ctx, "finetune-wizard-review")
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#ft-name`), "Harbour LoRA"),
		chromedp.Click(chromedp.CSS(`button[value="launch"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#ft-loss`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](countLossPoints)); err != nil {
		t.Fatal(err)
	}
	// The chart receives points without a reload, more and more of them.
	waitCond(t, ctx, `window.__lossPoints >= 2`, "first loss points")
	first, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__lossPoints`))
	waitCond(t, ctx, fmt.Sprintf(`window.__lossPoints > %d`, first), "more loss points")
	waitText(t, ctx, "running", "running badge")
	screenshot(t, ctx, "finetune-run-live")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(".ft-live") || {dataset: {}}).dataset.status || ""`))
		if status == "succeeded" {
			break
		}
		if status == "failed" || time.Now().After(deadline) {
			t.Fatalf("run status %q; page:\n%.2000s", status, bodyText(t, ctx))
		}
		time.Sleep(250 * time.Millisecond)
	}
	waitText(t, ctx, "Samples at each evaluation", "samples")
	screenshot(t, ctx, "finetune-run-done")
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.ft-live a[href^="/models/"]').getAttribute("href")`))
	if err != nil || !strings.HasPrefix(href, "/models/harbour-lora-") {
		t.Fatalf("model link %q: %v", href, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.ft-live a[href^="/models/"]`))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "Harbour LoRA", "model page")
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasSuffix(loc, href) {
		t.Fatalf("model page at %s, want %s", loc, href)
	}
	screenshot(t, ctx, "finetune-model")

	// Chat with the fine-tuned model in the Playground.
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/playground?model="+strings.TrimPrefix(href, "/models/")),
		chromedp.WaitVisible(chromedp.CSS(`#pg-prompt`)),
		chromedp.SetValue(chromedp.CSS(`#pg-maxTokens`), "12"),
		chromedp.SetValue(chromedp.CSS(`#pg-temperature`), "0"),
		chromedp.SendKeys(chromedp.CSS(`#pg-prompt`), "The harbour pilot"),
		chromedp.Click(chromedp.CSS(`#pg-send`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	sides := waitAnswers(t, ctx, 1)
	if sides["tuned"].Answer == "" {
		t.Fatalf("the fine-tuned side said nothing: %+v", sides)
	}
	screenshot(t, ctx, "finetune-playground")
}

// waitCond polls a JavaScript condition on the page for up to a minute.
func waitCond(t *testing.T, ctx context.Context, cond, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](cond)); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s never held; page text:\n%.1500s", what, cond, bodyText(t, ctx))
}
