package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/inference/inferencetest"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

// playgroundSides reads both columns: the last answer, its stats line and
// the time to first token the page measured (-1 before the first token).
type playgroundSide struct {
	Answer string `json:"answer"`
	Stats  string `json:"stats"`
	TTFT   int    `json:"ttft"`
	Turns  int    `json:"turns"`
}

const readSidesJS = `JSON.stringify(Object.fromEntries([...document.querySelectorAll(".pg-side")].map(s => {
	const answers = s.querySelectorAll(".pg-msg-model");
	const st = s.querySelector("[data-stats]");
	return [s.dataset.side, {answer: answers.length ? answers[answers.length - 1].textContent : "",
		stats: st.textContent, ttft: st.dataset.ttft ? Number(st.dataset.ttft) : -1,
		turns: s.querySelectorAll(".pg-msg-user").length}];
})))`

func readSides(t *testing.T, ctx context.Context) map[string]playgroundSide {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](readSidesJS))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]playgroundSide
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitAnswers waits until both sides finished answering turn n.
func waitAnswers(t *testing.T, ctx context.Context, n int) map[string]playgroundSide {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var sides map[string]playgroundSide
	for time.Now().Before(deadline) {
		sides = readSides(t, ctx)
		b, f := sides["base"], sides["tuned"]
		if b.Turns == n && f.Turns == n && strings.Contains(b.Stats, "tokens") && strings.Contains(f.Stats, "tokens") {
			return sides
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("turn %d never finished on both sides: %+v", n, sides)
	return nil
}

// TestBrowserPlayground: a signed-in owner opens the Playground on their
// fine-tuned model (a real tiny GPT-2 and LoRA adapter in the server's
// object storage), sends a prompt, and both the base and the fine-tuned
// side stream an answer and show their time to first token; a second
// prompt keeps the first exchange on the page.
func TestBrowserPlayground(t *testing.T) {
	owner := newWallet(t)
	dbURL, dataDir := pgtest.URL(t), t.TempDir()
	srv := startServer(t, "DATABASE_URL="+dbURL, "MF_DATA_DIR="+dataDir)
	ctx := newBrowser(t)
	owner.inject(t, ctx, 1337)
	signIn(t, ctx, srv, owner)

	// The model a successful fine-tune would have left behind.
	bg := context.Background()
	pool, err := store.Open(bg, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st := store.New(pool)
	blobs, err := blob.NewLocal(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := inferencetest.StoreTiny(bg, blobs, t.TempDir(), "tiny-e2e", "harbour-helper")
	if err != nil {
		t.Fatal(err)
	}
	var baseFiles, adapterFiles []store.ModelFile
	for _, f := range stored.Base.Files {
		baseFiles = append(baseFiles, store.ModelFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256})
	}
	for _, f := range stored.Adapter.Files {
		adapterFiles = append(adapterFiles, store.ModelFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256})
	}
	base, err := st.UpsertBuiltinBaseModel(bg, store.BaseModel{Slug: "tiny-e2e", Name: "Tiny GPT", Architecture: "gpt2",
		ContextLength: stored.Config.MaxSeqLen, TrainableCPU: true, BlobPrefix: stored.Base.Prefix, Files: baseFiles,
		ContentHash: stored.Base.Hash})
	if err != nil {
		t.Fatal(err)
	}
	adapterJSON, _ := json.Marshal(adapterFiles)
	_, err = pool.Exec(bg, `
		INSERT INTO models (slug, name, owner_id, base_model_id, method, adapter_prefix, adapter_files, adapter_hash)
		SELECT 'harbour-helper', 'Harbour helper', u.id, $1, 'lora', $2, $3, $4 FROM users u WHERE lower(u.address) = lower($5)`,
		base.ID, stored.Adapter.Prefix, adapterJSON, stored.Adapter.Hash, owner.address())
	if err != nil {
		t.Fatal(err)
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/playground?model=harbour-helper"),
		chromedp.WaitVisible(chromedp.CSS(`#pg-prompt`)),
		chromedp.SetValue(chromedp.CSS(`#pg-maxTokens`), "24"),
		chromedp.SetValue(chromedp.CSS(`#pg-temperature`), "0"),
		chromedp.SendKeys(chromedp.CSS(`#pg-prompt`), "ta eo hn"),
		chromedp.Click(chromedp.CSS(`#pg-send`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	first := waitAnswers(t, ctx, 1)
	b, f := first["base"], first["tuned"]
	for name, s := range first {
		if s.Answer == "" || s.TTFT < 0 || !strings.Contains(s.Stats, "TTFT") || !strings.Contains(s.Stats, "24 tokens") {
			t.Fatalf("%s side: %+v", name, s)
		}
	}
	if b.Answer == f.Answer {
		t.Fatalf("base and fine-tuned answered the same %q: the adapter was not applied", b.Answer)
	}
	t.Logf("time to first token in the browser: base %d ms, fine-tuned %d ms", b.TTFT, f.TTFT)
	screenshot(t, ctx, "playground")

	// A second prompt: the first exchange stays on the page.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#pg-prompt`), "sh rd"),
		chromedp.Click(chromedp.CSS(`#pg-send`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	second := waitAnswers(t, ctx, 2)
	if second["tuned"].Answer == "" || second["base"].Answer == "" {
		t.Fatalf("second turn: %+v", second)
	}
	// A bad value is refused next to its field.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#pg-maxTokens`), "0"),
		chromedp.SendKeys(chromedp.CSS(`#pg-prompt`), "ta"),
		chromedp.Click(chromedp.CSS(`#pg-send`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "Max tokens must be between 1 and", "field error next to max tokens")
	screenshot(t, ctx, "playground-error")
}
