package web_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/handlers"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
	"github.com/modelfactory/modelfactory/web"
)

// ftApp is a server whose launches insert real River jobs (no worker runs
// them here: the jobs tests train) and a catalog with one small base model.
type ftApp struct {
	*app
	base *store.BaseModel
}

func newFinetuneApp(t testing.TB) *ftApp {
	t.Helper()
	pool := pgtest.New(t)
	st := store.New(pool)
	log := slog.New(slog.DiscardHandler)
	rc, err := jobs.NewClient(pool, jobs.Deps{Store: st, Logger: log}, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(publicURL)
	h, err := handlers.New(handlers.Deps{Store: st, Log: log, PublicURL: u, Chain: views.ChainInfo{ChainID: 1337},
		EnqueueFinetune: func(ctx context.Context, tx pgx.Tx, run *store.FinetuneRun) (int64, error) {
			return jobs.InsertFinetune(ctx, rc, tx, run)
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.NewRouter(web.Options{Handlers: h, Store: st, Log: log}))
	t.Cleanup(srv.Close)
	b, err := st.UpsertBuiltinBaseModel(context.Background(), store.BaseModel{Slug: "tiny-web", Name: "Tiny web GPT",
		Architecture: "gpt2", ContextLength: 32, ParamCount: 40000, Config: []byte(`{"model_type":"gpt2","n_embd":32,"n_positions":32,"n_layer":1}`),
		License: "MIT", TrainableCPU: true, BlobPrefix: "models/base/tiny-web/"})
	if err != nil {
		t.Fatal(err)
	}
	return &ftApp{app: &app{Server: srv, store: st}, base: b}
}

// user signs a new wallet in and returns its session and actor.
func (a *ftApp) user(t *testing.T) (string, store.Actor) {
	t.Helper()
	key, _ := crypto.GenerateKey()
	sess := a.signIn(t, key)
	u, err := a.store.UpsertUser(context.Background(), crypto.PubkeyToAddress(key.PublicKey).Hex())
	if err != nil {
		t.Fatal(err)
	}
	return sess, store.Actor{UserID: u.ID, Address: u.Address}
}

// version publishes a Datanet of n text records owned by owner.
func (a *ftApp) version(t testing.TB, owner store.Actor, name, visibility string, n int) (*store.Datanet, *store.Version) {
	t.Helper()
	ctx := context.Background()
	st := a.store
	d, err := st.CreateDatanet(ctx, owner, store.DatanetInput{Name: name, License: "CC0-1.0", Schema: store.SchemaDocuments,
		Visibility: visibility, ContributionPolicy: store.PolicyOpen})
	if err != nil {
		t.Fatal(err)
	}
	if d, err = st.PublishDatanet(ctx, owner, d.Slug); err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateContribution(ctx, owner, d.Slug, store.ContributionInput{Source: "api", Filename: "r.jsonl"},
		func(context.Context, pgx.Tx, int64) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, n)
	for i := range rows {
		canonical := fmt.Sprintf(`{"text":"Record %d of %s: the tide turns at dawn."}`, i, name)
		sum := sha256.Sum256([]byte(canonical))
		rows[i] = []any{d.ID, c.ID, owner.UserID, "0x" + hex.EncodeToString(sum[:]), canonical, 40, i + 1, "accepted"}
	}
	if _, err := st.Pool().CopyFrom(ctx, pgx.Identifier{"records"},
		[]string{"datanet_id", "contribution_id", "contributor_id", "hash", "canonical", "chars", "line", "status"},
		pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	v, err := st.PublishVersion(ctx, owner, d.Slug, merkle.HexRoot)
	if err != nil {
		t.Fatal(err)
	}
	return d, v
}

func formHeaders(sess string) map[string]string {
	return map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": handlers.SessionCookie + "=" + sess}
}

var currentStep = regexp.MustCompile(`name="step" value="(\d)"`)

func wizardStep(t *testing.T, body string) string {
	t.Helper()
	m := currentStep.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no wizard step in page")
	}
	return m[1]
}

// TestFinetuneWizardValidatesEachStep: each step refuses bad input with a
// message next to the field and keeps the user there; back and forth keep
// every choice; launch inserts the run and its River job and redirects to
// the run page; a saved template is offered at the wizard start.
func TestFinetuneWizardValidatesEachStep(t *testing.T) {
	t.Parallel()
	a := newFinetuneApp(t)
	sess, me := a.user(t)
	_, v := a.version(t, me, "Tide notes", store.VisibilityPublic, 40)
	post := func(form url.Values) (int, string) {
		r := a.do(t, "POST", "/finetunes/new", form.Encode(), formHeaders(sess))
		return r.StatusCode, readAll(t, r)
	}
	r := a.do(t, "GET", "/finetunes/new", "", withSession(sess))
	if body := readAll(t, r); r.StatusCode != 200 || !strings.Contains(body, "Tiny web GPT") || !strings.Contains(body, "CPU-trainable here") {
		t.Fatalf("wizard start: %d", r.StatusCode)
	}
	// Step 1 without a base model.
	code, body := post(url.Values{"step": {"1"}, "action": {"next"}})
	if code != 422 || wizardStep(t, body) != "1" || !strings.Contains(body, "Choose a ready base model") {
		t.Fatalf("step 1: %d step %s", code, wizardStep(t, body))
	}
	form := url.Values{"step": {"1"}, "action": {"next"}, "baseModel": {fmt.Sprint(a.base.ID)}}
	if code, body = post(form); code != 200 || wizardStep(t, body) != "2" {
		t.Fatalf("step 1 → 2: %d step %s", code, wizardStep(t, body))
	}
	// Step 2 without data.
	form.Set("step", "2")
	if code, body = post(form); code != 422 || wizardStep(t, body) != "2" || !strings.Contains(body, "Choose at least one published Datanet version") {
		t.Fatalf("step 2: %d", code)
	}
	form.Set("versions", fmt.Sprint(v.ID))
	form.Set("valSplit", "0.2")
	if code, body = post(form); code != 200 || wizardStep(t, body) != "3" {
		t.Fatalf("step 2 → 3: %d", code)
	}
	// Step 3 with bad settings: every bad field gets its message.
	form.Set("step", "3")
	form.Set("method", "lora")
	form.Set("loraRank", "1000")
	form.Set("learningRate", "0")
	form.Set("contextLength", "64")
	form.Set("batchSize", "many")
	form["loraTargets"] = []string{"c_attn"}
	code, body = post(form)
	for _, want := range []string{"larger than the model width (32)", "The learning rate must be above 0", "reads at most 32 tokens", "Enter a whole number"} {
		if !strings.Contains(body, want) {
			t.Errorf("step 3 lacks %q", want)
		}
	}
	if code != 422 || wizardStep(t, body) != "3" {
		t.Fatalf("step 3: %d step %s", code, wizardStep(t, body))
	}
	// Back keeps the choices, including the ones of the step left.
	form.Set("action", "back")
	code, body = post(form)
	if code != 200 || wizardStep(t, body) != "2" || !strings.Contains(body, `value="1000"`) ||
		!regexp.MustCompile(`value="`+fmt.Sprint(v.ID)+`" checked`).MatchString(body) {
		t.Fatalf("back: %d step %s", code, wizardStep(t, body))
	}
	form.Set("action", "next")
	form.Set("loraRank", "4")
	form.Set("learningRate", "0.002")
	form.Set("contextLength", "16")
	form.Set("batchSize", "4")
	if code, body = post(form); code != 200 || wizardStep(t, body) != "4" || !strings.Contains(body, "data-estimate") ||
		!strings.Contains(body, "Free: CPU runs") || !strings.Contains(body, "Tiny web GPT on Tide notes") {
		t.Fatalf("step 3 → 4: %d %s", code, wizardStep(t, body))
	}
	// Save as template, then find it at the start.
	form.Set("step", "4")
	form.Set("action", "template")
	form.Set("templateName", "Tide quick")
	if code, _ = post(form); code != 200 {
		t.Fatalf("template: %d", code)
	}
	r = a.do(t, "GET", "/finetunes/new", "", withSession(sess))
	if body := readAll(t, r); !strings.Contains(body, "Tide quick") {
		t.Fatal("template not listed at the wizard start")
	}
	// Launch.
	form.Set("action", "launch")
	form.Set("name", "Tide LoRA")
	r = a.do(t, "POST", "/finetunes/new", form.Encode(), formHeaders(sess))
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/finetunes/") {
		t.Fatalf("launch: %d %s", r.StatusCode, readAll(t, r))
	}
	var id, jobID int64
	var queue, kind string
	if err := a.store.Pool().QueryRow(context.Background(), `SELECT r.id, r.queue, j.id, j.kind FROM finetune_runs r
		JOIN river_job j ON j.id = r.river_job_id WHERE r.name = 'Tide LoRA'`).Scan(&id, &queue, &jobID, &kind); err != nil {
		t.Fatal(err)
	}
	if loc != fmt.Sprintf("/finetunes/%d", id) || queue != "train_cpu" || kind != "finetune" {
		t.Fatalf("run %d at %s on %s, job %s", id, loc, queue, kind)
	}
	r = a.do(t, "GET", loc, "", withSession(sess))
	if body := readAll(t, r); r.StatusCode != 200 || !strings.Contains(body, "Tide LoRA") || !strings.Contains(body, "Next in the queue") ||
		!strings.Contains(body, "Queued on train_cpu.") {
		t.Fatalf("run page: %d", r.StatusCode)
	}
	// The runs list shows it with its queue position; compare draws it.
	r = a.do(t, "GET", "/finetunes", "", withSession(sess))
	if body := readAll(t, r); !strings.Contains(body, "Tide LoRA") || !strings.Contains(body, "#1 in queue train_cpu") {
		t.Fatal("runs list lacks the queued run")
	}
	r = a.do(t, "GET", fmt.Sprintf("/finetunes/compare?ids=%d", id), "", withSession(sess))
	if body := readAll(t, r); r.StatusCode != 200 || !strings.Contains(body, "ft-compare-loss") || !strings.Contains(body, "Tide LoRA") {
		t.Fatalf("compare: %d", r.StatusCode)
	}
	// Another wallet cannot see it.
	other, _ := a.user(t)
	if r := a.do(t, "GET", loc, "", withSession(other)); r.StatusCode != 404 {
		t.Fatalf("stranger sees run: %d", r.StatusCode)
	}
}

func apiFields(t *testing.T, r *http.Response) map[string]string {
	t.Helper()
	var env struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	decode(t, r, &env)
	return env.Error.Fields
}

// TestFinetuneAPI: bad settings are 400s naming the field and create
// nothing; data the caller may not read (permissioned without a grant,
// suspended) is refused at launch; a good request is 202 {"id"}; GET shows
// the queue position; cancel ends a queued run; the events stream replays
// and ends when the run is final.
func TestFinetuneAPI(t *testing.T) {
	t.Parallel()
	a := newFinetuneApp(t)
	ctx := context.Background()
	sess, me := a.user(t)
	_, v := a.version(t, me, "API notes", store.VisibilityPublic, 30)
	_, owner := a.user(t)
	_, locked := a.version(t, owner, "Locked notes", store.VisibilityPermissioned, 30)
	susp, sv := a.version(t, owner, "Suspended notes", store.VisibilityPublic, 30)
	if _, err := a.store.Pool().Exec(ctx, `UPDATE datanets SET status = 'suspended' WHERE id = $1`, susp.ID); err != nil {
		t.Fatal(err)
	}
	post := func(body string) *http.Response {
		return a.do(t, "POST", "/api/v1/finetunes", body, jsonHeaders(sess))
	}
	for _, tc := range []struct {
		body, field, want string
	}{
		{`{"name":"x","baseModel":"tiny-web","versions":[%d],"settings":{"learningRate":0}}`, "learningRate", "above 0"},
		{`{"name":"x","baseModel":"tiny-web","versions":[%d],"settings":{"loraRank":64}}`, "loraRank", "larger than the model width"},
		{`{"name":"x","baseModel":"tiny-web","versions":[%d],"settings":{"contextLength":1024}}`, "contextLength", "at most 32"},
		{`{"name":"x","baseModel":"tiny-web","versions":[%d],"settings":{"batchSize":"big"}}`, "batchSize", "Expected"},
		{`{"name":"x","baseModel":"tiny-web","versions":[%d],"settings":{"bogus":1}}`, "settings", `Unknown trainer option "bogus".`},
		{`{"name":"x","baseModel":"nope","versions":[%d]}`, "baseModel", "Choose a ready base model"},
		{`{"name":"","baseModel":"tiny-web","versions":[%d]}`, "name", "Name the run"},
	} {
		r := post(fmt.Sprintf(tc.body, v.ID))
		if r.StatusCode != 400 {
			t.Fatalf("%s: status %d", tc.field, r.StatusCode)
		}
		if f := apiFields(t, r); !strings.Contains(f[tc.field], tc.want) {
			t.Fatalf("%s: fields %v", tc.field, f)
		}
	}
	for _, tc := range []struct {
		body, want string
	}{
		{`{"name":"x","baseModel":"tiny-web","versions":[]}`, "at least one"},
		{fmt.Sprintf(`{"name":"x","baseModel":"tiny-web","versions":[%d]}`, locked.ID), "request access"},
		{fmt.Sprintf(`{"name":"x","baseModel":"tiny-web","versions":[%d]}`, sv.ID), "suspended"},
	} {
		r := post(tc.body)
		if f := apiFields(t, r); r.StatusCode != 400 || !strings.Contains(f["versions"], tc.want) {
			t.Fatalf("versions %s: %d %v", tc.body, r.StatusCode, f)
		}
	}
	var n int
	_ = a.store.Pool().QueryRow(ctx, `SELECT count(*) FROM finetune_runs`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d runs created by refused requests", n)
	}
	r := post(fmt.Sprintf(`{"name":"API run","baseModel":"tiny-web","versions":[{"datanet":"api-notes","version":1}],
		"preset":"quick","settings":{"loraRank":4,"contextLength":16}}`))
	var created struct {
		ID int64 `json:"id"`
	}
	if r.StatusCode != 202 {
		t.Fatalf("create: %d %s", r.StatusCode, readAll(t, r))
	}
	decode(t, r, &created)
	var got struct {
		Status        string                 `json:"status"`
		QueuePosition int                    `json:"queuePosition"`
		Settings      store.FinetuneSettings `json:"settings"`
		Versions      []struct{ Datanet string }
	}
	decode(t, a.do(t, "GET", fmt.Sprintf("/api/v1/finetunes/%d", created.ID), "", jsonHeaders(sess)), &got)
	if got.Status != "queued" || got.QueuePosition != 1 || got.Settings.LoRARank != 4 || got.Settings.Scheduler != "linear" ||
		len(got.Versions) != 1 || got.Versions[0].Datanet != "api-notes" {
		t.Fatalf("get: %+v", got)
	}
	r = a.do(t, "POST", fmt.Sprintf("/api/v1/finetunes/%d/cancel", created.ID), "", jsonHeaders(sess))
	if r.StatusCode != 202 {
		t.Fatalf("cancel: %d", r.StatusCode)
	}
	if r := a.do(t, "POST", fmt.Sprintf("/api/v1/finetunes/%d/cancel", created.ID), "", jsonHeaders(sess)); r.StatusCode != 409 {
		t.Fatalf("second cancel: %d", r.StatusCode)
	}
	// The event stream replays the run's events and ends (it is final).
	r = a.do(t, "GET", fmt.Sprintf("/api/v1/finetunes/%d/events", created.ID), "", map[string]string{
		"Cookie": handlers.SessionCookie + "=" + sess, "Accept": "text/event-stream"})
	var events []string
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		if e, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			events = append(events, e)
		}
	}
	if strings.Join(events, ",") != "status,status,end" {
		t.Fatalf("events %v", events)
	}
}

// cpuSeconds is this process's CPU time plus that of the test database
// (its postmaster, found through the socket lock file, and its backends).
func cpuSeconds(b *testing.B) (self, db float64) {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	self = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	lock, err := os.ReadFile(filepath.Join(pgtest.SocketDir(), ".s.PGSQL.5432.lock"))
	if err != nil {
		return self, 0
	}
	master, _ := strconv.Atoi(strings.SplitN(string(lock), "\n", 2)[0])
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// Fields after the command name: state ppid … utime(14) stime(15).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		ppid, _ := strconv.Atoi(f[1])
		if pid != master && ppid != master {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		db += (ut + st) / 100 // clock ticks (USER_HZ 100)
	}
	return self, db
}

// BenchmarkFinetuneSSECPU measures what one browser watching a training
// run's page costs the server: a writer records progress four times a
// second and a log line every two seconds (what a run writes); CPU time of
// this process and of the database is measured for 20 s without watchers,
// then for 20 s with 10 open /finetunes/{id}/events streams. The
// difference per watcher, as a share of one core, is %cpu/watcher.
func BenchmarkFinetuneSSECPU(b *testing.B) {
	a := newFinetuneApp(b)
	ctx := context.Background()
	u, err := a.store.UpsertUser(ctx, "0x00000000000000000000000000000000000000b5")
	if err != nil {
		b.Fatal(err)
	}
	me := store.Actor{UserID: u.ID, Address: u.Address}
	sess, err := a.store.CreateSession(ctx, u.ID, time.Hour, "", "bench", "127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	_, v := a.version(b, me, "Bench notes", store.VisibilityPublic, 30)
	s := store.PresetSettings(store.PresetQuick, store.MethodLoRA)
	s.LoRARank, s.ContextLength = 4, 16
	run, err := a.store.LaunchFinetune(ctx, me, store.FinetuneLaunch{Name: "SSE bench", BaseModelID: a.base.ID,
		VersionIDs: []int64{v.ID}, Settings: s}, func(context.Context, pgx.Tx, *store.FinetuneRun) (int64, error) { return 0, nil })
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.store.StartFinetuneAttempt(ctx, run.ID, "bench", 1, time.Minute); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // what a training run writes
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for step := 1; ; step++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			line := fmt.Sprintf(`{"current_steps":%d,"total_steps":100000,"loss":%g,"lr":0.001,"epoch":0.1,"tokens_per_sec":2000,"elapsed_time":"0:00:10","remaining_time":"1:00:00"}`,
				step, 3-float64(step)/1e4)
			_ = a.store.AddFinetuneProgress(ctx, run.ID, step, 100000, []byte(line))
			if step%8 == 0 {
				_ = a.store.AddFinetuneEvent(ctx, run.ID, store.EventLog, step, map[string]any{"line": "checkpoint saved"})
				_, _ = a.store.FinetuneHeartbeat(ctx, run.ID, "bench")
			}
		}
	}()
	const phase = 20 * time.Second
	const watchers = 10
	measure := func() (float64, float64) {
		s0, d0 := cpuSeconds(b)
		time.Sleep(phase)
		s1, d1 := cpuSeconds(b)
		return s1 - s0, d1 - d0
	}
	b.ResetTimer()
	idleSelf, idleDB := measure()
	sctx, cancel := context.WithCancel(ctx)
	var bytes atomic.Int64
	for range watchers {
		req, _ := http.NewRequestWithContext(sctx, "GET", fmt.Sprintf("%s/finetunes/%d/events", a.URL, run.ID), nil)
		req.Header.Set("Cookie", handlers.SessionCookie+"="+sess)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			defer resp.Body.Close()
			n, _ := io.Copy(io.Discard, resp.Body)
			bytes.Add(n)
		}()
	}
	time.Sleep(2 * time.Second) // past the first replay
	watchSelf, watchDB := measure()
	cancel()
	close(stop)
	<-done
	b.StopTimer()
	per := func(watch, idle float64) float64 { return (watch - idle) / phase.Seconds() / watchers * 100 }
	b.ReportMetric(per(watchSelf, idleSelf), "%cpu-server/watcher")
	b.ReportMetric(per(watchDB, idleDB), "%cpu-db/watcher")
	b.ReportMetric(per(watchSelf+watchDB, idleSelf+idleDB), "%cpu-total/watcher")
	b.Logf("server CPU %.2fs idle vs %.2fs watched; database %.2fs vs %.2fs; %d watchers, %d bytes streamed",
		idleSelf, watchSelf, idleDB, watchDB, watchers, bytes.Load())
}
