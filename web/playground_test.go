package web_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/handlers"
	"github.com/modelfactory/modelfactory/inference"
	"github.com/modelfactory/modelfactory/inference/inferencetest"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
	"github.com/modelfactory/modelfactory/web"
)

// playgroundApp serves a tiny base model ("tiny") and a private LoRA model
// of it ("tiny-qa") owned by owner, through a real inference engine.
type playgroundApp struct {
	*app
	owner, other string // session cookies
	modelID      int64
	stored       *inferencetest.Stored
}

func modelFiles(fs inference.Files) []store.ModelFile {
	out := make([]store.ModelFile, len(fs.Files))
	for i, f := range fs.Files {
		out[i] = store.ModelFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256}
	}
	return out
}

func newPlaygroundApp(t *testing.T) *playgroundApp {
	t.Helper()
	ctx := context.Background()
	st := store.New(pgtest.New(t))
	blobs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stored, err := inferencetest.StoreTiny(ctx, blobs, t.TempDir(), "tiny", "tiny-qa")
	if err != nil {
		t.Fatal(err)
	}
	engine, err := inference.New(inference.Options{Blobs: blobs, CacheDir: t.TempDir(), MaxTokens: 48})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	admin, _ := crypto.GenerateKey()
	u, _ := url.Parse(publicURL)
	log := slog.New(slog.DiscardHandler)
	h, err := handlers.New(handlers.Deps{Store: st, Log: log, PublicURL: u, Chain: views.ChainInfo{ChainID: 1337},
		Admins: map[string]bool{strings.ToLower(crypto.PubkeyToAddress(admin.PublicKey).Hex()): true},
		Blobs:  blobs, Inference: engine})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.NewRouter(web.Options{Handlers: h, Store: st, Log: log}))
	t.Cleanup(srv.Close)
	a := &playgroundApp{app: &app{Server: srv, store: st, admin: admin}, stored: stored}
	ownerKey, _ := crypto.GenerateKey()
	otherKey, _ := crypto.GenerateKey()
	a.owner, a.other = a.signIn(t, ownerKey), a.signIn(t, otherKey)

	base, err := st.UpsertBuiltinBaseModel(ctx, store.BaseModel{Slug: "tiny", Name: "Tiny GPT", Architecture: "gpt2",
		ContextLength: stored.Config.MaxSeqLen, TrainableCPU: true, BlobPrefix: stored.Base.Prefix,
		Files: modelFiles(stored.Base), ContentHash: stored.Base.Hash})
	if err != nil {
		t.Fatal(err)
	}
	a.modelID = insertModel(t, st, ownerKey, base.ID, "tiny-qa", stored.Adapter)
	return a
}

// insertModel writes a LoRA model row the way a successful fine-tune does
// (the run machinery is not under test here).
func insertModel(t *testing.T, st *store.Store, owner *ecdsa.PrivateKey, baseID int64, slug string, adapter inference.Files) int64 {
	t.Helper()
	files, _ := json.Marshal(modelFiles(adapter))
	var id int64
	err := st.Pool().QueryRow(context.Background(), `
		INSERT INTO models (slug, name, owner_id, base_model_id, method, adapter_prefix, adapter_files, adapter_hash)
		SELECT $1, $1, u.id, $2, 'lora', $3, $4, $5 FROM users u WHERE lower(u.address) = lower($6)
		RETURNING id`, slug, baseID, adapter.Prefix, files, adapter.Hash,
		crypto.PubkeyToAddress(owner.PublicKey).Hex()).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (a *playgroundApp) generate(t *testing.T, sess, id, body string, extra map[string]string) *http.Response {
	t.Helper()
	hd := jsonHeaders(sess)
	for k, v := range extra {
		hd[k] = v
	}
	return a.do(t, "POST", "/api/v1/models/"+id+"/generate", body, hd)
}

type generation struct {
	Model, Format, Text, FinishReason string
	Tokens, PromptTokens              int
	TimeToFirstTokenMs                float64
}

func (a *playgroundApp) generateJSON(t *testing.T, sess, id, body string) generation {
	t.Helper()
	r := a.generate(t, sess, id, body, nil)
	if r.StatusCode != 200 {
		t.Fatalf("generate %s: %d %s", id, r.StatusCode, readAll(t, r))
	}
	var g generation
	decode(t, r, &g)
	return g
}

func TestGenerateAPI(t *testing.T) {
	t.Parallel()
	a := newPlaygroundApp(t)
	body := `{"prompt":"ta eo hn","maxTokens":12,"temperature":0}`
	tuned := a.generateJSON(t, a.owner, "tiny-qa", body)
	if tuned.Model != "tiny-qa" || tuned.Format != "raw" || tuned.Tokens != 12 || tuned.Text == "" ||
		tuned.FinishReason != "length" || tuned.PromptTokens == 0 || tuned.TimeToFirstTokenMs <= 0 {
		t.Fatalf("fine-tuned answer = %+v", tuned)
	}
	base := a.generateJSON(t, a.owner, "base:tiny", body)
	if base.Model != "base:tiny" || base.Text == tuned.Text {
		t.Fatalf("base answer %+v is the fine-tuned one %q: the adapter was not applied", base, tuned.Text)
	}
	if byID := a.generateJSON(t, a.owner, fmt.Sprint(a.modelID), body); byID.Text != tuned.Text {
		t.Fatalf("by ID %q, by slug %q", byID.Text, tuned.Text)
	}
	// Same seed, same text; sampling follows the seed.
	seeded := `{"prompt":"ta eo","maxTokens":16,"temperature":1,"topP":0.9,"seed":7}`
	if x, y := a.generateJSON(t, a.owner, "tiny-qa", seeded), a.generateJSON(t, a.owner, "tiny-qa", seeded); x.Text != y.Text {
		t.Fatalf("seed 7 gave %q then %q", x.Text, y.Text)
	}
	// Instruction format wraps the prompt: more prompt tokens.
	if ins := a.generateJSON(t, a.owner, "tiny-qa", `{"prompt":"ta eo hn","maxTokens":4,"format":"instruction"}`); ins.Format != "instruction" || ins.PromptTokens <= tuned.PromptTokens {
		t.Fatalf("instruction format: %+v (raw prompt had %d tokens)", ins, tuned.PromptTokens)
	}

	// A full fine-tune runs on its merged model alone: the same weights as
	// the base with the adapter applied unmerged, so the same greedy text.
	merged, _ := json.Marshal(modelFiles(a.stored.Merged))
	if _, err := a.store.Pool().Exec(context.Background(), `
		INSERT INTO models (slug, name, owner_id, base_model_id, method, merged_prefix, merged_files, merged_hash)
		SELECT 'tiny-full', 'Tiny full', owner_id, base_model_id, 'full', $2, $3, $4 FROM models WHERE id = $1`,
		a.modelID, a.stored.Merged.Prefix, merged, a.stored.Merged.Hash); err != nil {
		t.Fatal(err)
	}
	if full := a.generateJSON(t, a.owner, "tiny-full", body); full.Text != tuned.Text {
		t.Fatalf("full fine-tune (merged) %q, LoRA unmerged %q", full.Text, tuned.Text)
	}

	// Someone else's private model does not exist for them; base models do.
	r := a.generate(t, a.other, "tiny-qa", body, nil)
	if code, _ := apiError(t, r); r.StatusCode != 404 || code != "not_found" {
		t.Fatalf("other user on a private model: %d %s", r.StatusCode, code)
	}
	r = a.generate(t, a.other, fmt.Sprint(a.modelID), body, nil)
	if r.StatusCode != 404 {
		t.Fatalf("other user by ID: %d", r.StatusCode)
	}
	a.generateJSON(t, a.other, "base:tiny", body)
	if r := a.generate(t, a.owner, "base:nope", body, nil); r.StatusCode != 404 {
		t.Fatalf("unknown base: %d", r.StatusCode)
	}
	if _, err := a.store.Pool().Exec(context.Background(), `UPDATE models SET visibility = 'public' WHERE id = $1`, a.modelID); err != nil {
		t.Fatal(err)
	}
	if g := a.generateJSON(t, a.other, "tiny-qa", body); g.Text != tuned.Text {
		t.Fatalf("public model for another user: %q, owner got %q", g.Text, tuned.Text)
	}
	if _, err := a.store.Pool().Exec(context.Background(), `UPDATE models SET status = 'suspended' WHERE id = $1`, a.modelID); err != nil {
		t.Fatal(err)
	}
	r = a.generate(t, a.owner, "tiny-qa", body, nil)
	if code, _ := apiError(t, r); r.StatusCode != 403 || code != "suspended" {
		t.Fatalf("suspended model: %d %s", r.StatusCode, code)
	}
	// Signed out: 401.
	if r := a.do(t, "POST", "/api/v1/models/base:tiny/generate", body, map[string]string{"Content-Type": "application/json"}); r.StatusCode != 401 {
		t.Fatalf("signed out: %d", r.StatusCode)
	}
}

func TestGenerateAPIBadInputNamesTheField(t *testing.T) {
	t.Parallel()
	a := newPlaygroundApp(t)
	long := strings.Repeat("ta eo hn sh ", 40)
	for _, c := range []struct{ body, field string }{
		{`{"prompt":"","maxTokens":5}`, "prompt"},
		{`{"prompt":"  \n"}`, "prompt"},
		{`{"prompt":"` + long + `"}`, "prompt"},
		{`{"prompt":"ta","maxTokens":0}`, "maxTokens"},
		{`{"prompt":"ta","maxTokens":-3}`, "maxTokens"},
		{`{"prompt":"ta","maxTokens":49}`, "maxTokens"},
		{`{"prompt":"ta","temperature":-0.5}`, "temperature"},
		{`{"prompt":"ta","topP":0}`, "topP"},
		{`{"prompt":"ta","topP":1.01}`, "topP"},
		{`{"prompt":"ta","format":"chat"}`, "format"},
	} {
		for _, accept := range []string{"application/json", "text/event-stream"} {
			r := a.generate(t, a.owner, "tiny-qa", c.body, map[string]string{"Accept": accept})
			var env struct {
				Error struct {
					Code   string
					Fields map[string]string
				}
			}
			decode(t, r, &env)
			if r.StatusCode != 400 || env.Error.Code != "invalid" || env.Error.Fields[c.field] == "" || len(env.Error.Fields) != 1 {
				t.Errorf("%s (%s): %d %+v, want 400 naming %s", c.body, accept, r.StatusCode, env.Error, c.field)
			}
		}
	}
	r := a.generate(t, a.owner, "tiny-qa", `{"prompt":"ta","max_tokens":5}`, nil)
	if code, _ := apiError(t, r); r.StatusCode != 400 || code != "bad_json" {
		t.Fatalf("unknown field: %d %s", r.StatusCode, code)
	}
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	name string
	data map[string]any
}

func readEvents(t *testing.T, r *http.Response) []sseEvent {
	t.Helper()
	var out []sseEvent
	sc := bufio.NewScanner(r.Body)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name == "" || cur.data == nil {
				t.Fatalf("incomplete event %+v", cur)
			}
			out = append(out, cur)
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if cur.data != nil {
				t.Fatalf("two data lines in one event: %q", line)
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				t.Fatalf("data %q: %v", line, err)
			}
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	if cur.name != "" {
		t.Fatalf("stream ended inside an event: %+v", cur)
	}
	return out
}

func TestGenerateAPIStreamsServerSentEvents(t *testing.T) {
	t.Parallel()
	a := newPlaygroundApp(t)
	want := a.generateJSON(t, a.owner, "tiny-qa", `{"prompt":"ta eo hn","maxTokens":20,"temperature":0}`)
	for _, c := range []struct {
		body   string
		header map[string]string
	}{
		{`{"prompt":"ta eo hn","maxTokens":20,"temperature":0}`, map[string]string{"Accept": "text/event-stream"}},
		{`{"prompt":"ta eo hn","maxTokens":20,"temperature":0,"stream":true}`, nil},
	} {
		r := a.generate(t, a.owner, "tiny-qa", c.body, c.header)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/event-stream" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("stream: %d %v", r.StatusCode, r.Header)
		}
		evs := readEvents(t, r)
		if len(evs) < 3 {
			t.Fatalf("%d events, want several tokens and done: %+v", len(evs), evs)
		}
		var text strings.Builder
		for _, ev := range evs[:len(evs)-1] {
			s, ok := ev.data["text"].(string)
			if ev.name != "token" || !ok || s == "" {
				t.Fatalf("event %+v, want a token with text", ev)
			}
			text.WriteString(s)
		}
		done := evs[len(evs)-1]
		if done.name != "done" || done.data["text"] != want.Text || text.String() != want.Text ||
			done.data["tokens"] != float64(20) || done.data["timeToFirstTokenMs"].(float64) <= 0 {
			t.Fatalf("streamed %q then %+v; JSON answer was %q", text.String(), done, want.Text)
		}
	}
}

func TestPlaygroundPage(t *testing.T) {
	t.Parallel()
	a := newPlaygroundApp(t)
	r := a.do(t, "GET", "/playground?model=tiny-qa", "", withSession(a.owner))
	body := readAll(t, r)
	for _, want := range []string{
		`data-endpoint="/api/v1/models/tiny-qa/generate"`,
		`data-endpoint="/api/v1/models/base:tiny/generate"`,
		`<option value="tiny-qa" selected`, "playground.js", `id="pg-stop"`, "Tiny GPT",
		// Trained on no instruction data: the toggle starts off.
		`id="pg-instruction" name="instruction" aria-describedby`,
	} {
		if r.StatusCode != 200 || !strings.Contains(body, want) {
			t.Fatalf("playground page (%d) lacks %q:\n%s", r.StatusCode, want, body)
		}
	}
	// Without ?model the newest usable model opens.
	if body := readAll(t, a.do(t, "GET", "/playground", "", withSession(a.owner))); !strings.Contains(body, `data-endpoint="/api/v1/models/tiny-qa/generate"`) {
		t.Fatal("the owner's model is not opened by default")
	}
	// Another user neither sees the private model in the list nor by link.
	if r := a.do(t, "GET", "/playground?model=tiny-qa", "", withSession(a.other)); r.StatusCode != 404 {
		t.Fatalf("other user's link to a private model: %d", r.StatusCode)
	}
	body = readAll(t, a.do(t, "GET", "/playground", "", withSession(a.other)))
	if strings.Contains(body, "tiny-qa") || !strings.Contains(body, "Launch a fine-tune") {
		t.Fatalf("other user's playground shows a private model or no empty state:\n%s", body)
	}
}

// A model trained on an instruction Datanet formats prompts as
// instructions by default, in the API and in the Playground's toggle.
func TestInstructionModelDefaultsToInstructionFormat(t *testing.T) {
	t.Parallel()
	a := newPlaygroundApp(t)
	_, err := a.store.Pool().Exec(context.Background(), `
		WITH d AS (
			INSERT INTO datanets (slug, owner_id, name, license, schema_kind, visibility, contribution_policy, status)
			SELECT 'pilot-qa', owner_id, 'Pilot Q&A', 'CC0-1.0', 'instruction', 'public', 'open', 'published' FROM models WHERE id = $1
			RETURNING id, owner_id),
		v AS (
			INSERT INTO datanet_versions (datanet_id, version, record_count, char_count, token_count, merkle_root, shares, created_by)
			SELECT id, 1, 0, 0, 0, '0x'||repeat('ab', 32), '{}', owner_id FROM d RETURNING id)
		INSERT INTO model_data (model_id, version_id) SELECT $1, id FROM v`, a.modelID)
	if err != nil {
		t.Fatal(err)
	}
	g := a.generateJSON(t, a.owner, "tiny-qa", `{"prompt":"ta eo","maxTokens":3}`)
	if g.Format != "instruction" {
		t.Fatalf("format %q, want instruction for a model trained on instruction data", g.Format)
	}
	if g := a.generateJSON(t, a.owner, "tiny-qa", `{"prompt":"ta eo","maxTokens":3,"format":"raw"}`); g.Format != "raw" {
		t.Fatalf("explicit raw format answered as %q", g.Format)
	}
	if g := a.generateJSON(t, a.owner, "base:tiny", `{"prompt":"ta eo","maxTokens":3}`); g.Format != "raw" {
		t.Fatalf("base model format %q, want raw", g.Format)
	}
	body := readAll(t, a.do(t, "GET", "/playground?model=tiny-qa", "", withSession(a.owner)))
	if !strings.Contains(body, `id="pg-instruction" name="instruction" checked`) {
		t.Fatalf("instruction toggle not on by default:\n%s", body)
	}
}
