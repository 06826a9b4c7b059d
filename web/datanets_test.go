package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/handlers"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
	"github.com/modelfactory/modelfactory/web"
)

// newDatanetApp is newApp with object storage and real River workers
// running the ingest queue.
func newDatanetApp(t *testing.T) *app {
	t.Helper()
	pool := pgtest.New(t)
	st := store.New(pool)
	blobs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	rc, err := jobs.NewClient(pool, jobs.Deps{Store: st, Logger: log, Blobs: blobs}, jobs.Config{Queues: []string{jobs.QueueIngest, jobs.QueueDefault}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = rc.Stop(context.Background()) })
	admin, _ := crypto.GenerateKey()
	u, _ := url.Parse(publicURL)
	h, err := handlers.New(handlers.Deps{
		Store: st, Log: log, PublicURL: u, Chain: views.ChainInfo{ChainID: 1337},
		Admins: map[string]bool{strings.ToLower(crypto.PubkeyToAddress(admin.PublicKey).Hex()): true},
		Blobs:  blobs, MaxUploadBytes: 1 << 20,
		EnqueueIngest: func(ctx context.Context, tx pgx.Tx, id int64) error { return jobs.InsertIngest(ctx, rc, tx, id) },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.NewRouter(web.Options{Handlers: h, Store: st, Log: log}))
	t.Cleanup(srv.Close)
	return &app{Server: srv, store: st, admin: admin}
}

func jsonHeaders(sess string) map[string]string {
	return map[string]string{"Content-Type": "application/json", "Cookie": handlers.SessionCookie + "=" + sess}
}

func decode(t *testing.T, r *http.Response, v any) {
	t.Helper()
	body := readAll(t, r)
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %d %s: %v", r.StatusCode, body, err)
	}
}

// upload posts a file as multipart field "file".
func (a *app) upload(t *testing.T, sess, slug, name, content string) *http.Response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write([]byte(content))
	mw.Close()
	return a.do(t, "POST", "/api/v1/datanets/"+slug+"/contributions", buf.String(),
		map[string]string{"Content-Type": mw.FormDataContentType(), "Cookie": handlers.SessionCookie + "=" + sess})
}

type contributionJSON struct {
	ID                                             int64
	Status                                         string
	Accepted, Duplicates, NearDuplicates, Rejected int64
	Problems                                       []struct {
		Line   int
		Reason string
	}
	Indexing bool
}

// waitContribution polls until the contribution's status is final and its
// records are indexed for search.
func (a *app) waitContribution(t *testing.T, sess string, id int64) contributionJSON {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var c contributionJSON
		decode(t, a.do(t, "GET", fmt.Sprintf("/api/v1/contributions/%d", id), "", withSession(sess)), &c)
		if c.Status != "pending" && c.Status != "processing" && !c.Indexing {
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("contribution %d never finished", id)
	return contributionJSON{}
}

// verifyProof is OpenZeppelin's MerkleProof.verify, written here from the
// algorithm (sorted-pair keccak) so the server's proofs are checked
// independently of its Merkle code.
func verifyProof(root, leaf common.Hash, proof []common.Hash) bool {
	h := leaf
	for _, p := range proof {
		if bytes.Compare(h[:], p[:]) < 0 {
			h = crypto.Keccak256Hash(h[:], p[:])
		} else {
			h = crypto.Keccak256Hash(p[:], h[:])
		}
	}
	return h == root
}

func TestDatanetLifecycleOverAPI(t *testing.T) {
	t.Parallel()
	a := newDatanetApp(t)
	ownerKey, _ := crypto.GenerateKey()
	contribKey, _ := crypto.GenerateKey()
	strangerKey, _ := crypto.GenerateKey()
	owner, contrib, stranger := a.signIn(t, ownerKey), a.signIn(t, contribKey), a.signIn(t, strangerKey)

	body := `{"name":"Clinical Q&A","summary":"Doctor answers","description":"# Hello\n<script>alert(1)</script>","tags":["health"],
		"schema":"instruction","labels":[],"license":"CC-BY-4.0","visibility":"permissioned","contributionPolicy":"review"}`
	r := a.do(t, "POST", "/api/v1/datanets", body, jsonHeaders(owner))
	var d struct{ Slug, Status string }
	decode(t, r, &d)
	if r.StatusCode != 201 || d.Slug != "clinical-q-a" || d.Status != "draft" {
		t.Fatalf("create = %d %+v", r.StatusCode, d)
	}
	r = a.do(t, "POST", "/api/v1/datanets", `{"name":"x","schema":"nope"}`, jsonHeaders(owner))
	if code, _ := apiError(t, r); r.StatusCode != 422 || code != "invalid" {
		t.Fatalf("invalid create = %d %s", r.StatusCode, code)
	}
	if r := a.do(t, "POST", "/api/v1/datanets/"+d.Slug+"/publish", "", jsonHeaders(stranger)); r.StatusCode != 404 {
		t.Fatalf("stranger publishes a draft = %d, want 404", r.StatusCode)
	}
	if r := a.do(t, "POST", "/api/v1/datanets/"+d.Slug+"/publish", "", jsonHeaders(owner)); r.StatusCode != 200 {
		t.Fatalf("publish = %d", r.StatusCode)
	}
	// Permissioned: a stranger sees the Datanet but not its data.
	if r := a.upload(t, stranger, d.Slug, "a.jsonl", `{"instruction":"q","response":"a"}`); r.StatusCode != 403 {
		t.Fatalf("stranger upload = %d, want 403", r.StatusCode)
	}
	if r := a.do(t, "GET", "/api/v1/datanets/"+d.Slug+"/versions", "", withSession(stranger)); r.StatusCode != 403 {
		t.Fatalf("stranger versions = %d, want 403", r.StatusCode)
	}
	// The contributor asks for access; the owner approves.
	var req struct{ ID int64 }
	decode(t, a.do(t, "POST", "/api/v1/datanets/"+d.Slug+"/access-requests", `{"purpose":"Train a triage helper for clinics"}`, jsonHeaders(contrib)), &req)
	if r := a.do(t, "POST", fmt.Sprintf("/api/v1/access-requests/%d/decision", req.ID), `{"decision":"approve"}`, jsonHeaders(stranger)); r.StatusCode != 404 {
		t.Fatalf("stranger decides = %d", r.StatusCode)
	}
	if r := a.do(t, "POST", fmt.Sprintf("/api/v1/access-requests/%d/decision", req.ID), `{"decision":"approve"}`, jsonHeaders(owner)); r.StatusCode != 200 {
		t.Fatalf("approve = %d %s", r.StatusCode, readAll(t, r))
	}

	file := strings.Join([]string{
		`{"instruction":"What is a normal resting heart rate?","response":"Between 60 and 100 beats per minute for adults."}`,
		`{"instruction":"What is a normal resting heart rate?","response":"Between 60 and 100 beats per minute for adults."}`,
		`{"instruction":"Define hypertension.","response":"Blood pressure persistently at or above 130/80 mm Hg."}`,
		`{"instruction":"missing response"}`,
		`not json at all`,
		`{"instruction":"How much water per day?","response":"About two litres, more in heat or exercise.","input":"adult"}`,
	}, "\n")
	r = a.upload(t, contrib, d.Slug, "clinic.jsonl", file)
	var created struct {
		ID     int64
		Status string
		URL    string
	}
	decode(t, r, &created)
	if r.StatusCode != 202 || created.ID == 0 {
		t.Fatalf("upload = %d %+v", r.StatusCode, created)
	}
	c := a.waitContribution(t, contrib, created.ID)
	if c.Status != "in_review" || c.Accepted != 3 || c.Rejected != 2 || c.Duplicates != 1 {
		t.Fatalf("report = %+v", c)
	}
	lines := map[int]bool{}
	for _, p := range c.Problems {
		lines[p.Line] = true
	}
	if !lines[2] || !lines[4] || !lines[5] {
		t.Fatalf("problems do not name lines 2, 4 and 5: %+v", c.Problems)
	}
	// The stranger cannot see someone else's contribution at all.
	if r := a.do(t, "GET", fmt.Sprintf("/api/v1/contributions/%d", c.ID), "", withSession(stranger)); r.StatusCode != 404 {
		t.Fatalf("stranger reads contribution = %d", r.StatusCode)
	}
	if r := a.do(t, "POST", fmt.Sprintf("/api/v1/contributions/%d/review", c.ID), `{"decision":"accept"}`, jsonHeaders(contrib)); r.StatusCode != 403 {
		t.Fatalf("contributor reviews own = %d", r.StatusCode)
	}
	if r := a.do(t, "POST", fmt.Sprintf("/api/v1/contributions/%d/review", c.ID), `{"decision":"accept"}`, jsonHeaders(owner)); r.StatusCode != 200 {
		t.Fatalf("accept = %d %s", r.StatusCode, readAll(t, r))
	}
	var v struct {
		Version    int
		Records    int64
		MerkleRoot string
	}
	r = a.do(t, "POST", "/api/v1/datanets/"+d.Slug+"/versions", "", jsonHeaders(owner))
	decode(t, r, &v)
	if r.StatusCode != 201 || v.Version != 1 || v.Records != 3 {
		t.Fatalf("version = %d %+v", r.StatusCode, v)
	}
	// Export: one line per record with hash, contributor and fields.
	export := readAll(t, a.do(t, "GET", "/api/v1/datanets/"+d.Slug+"/versions/1/export", "", withSession(contrib)))
	rows := strings.Split(strings.TrimSpace(export), "\n")
	if len(rows) != 3 {
		t.Fatalf("export has %d lines:\n%s", len(rows), export)
	}
	var first struct{ Hash, Contributor, Instruction, Response string }
	if err := json.Unmarshal([]byte(rows[0]), &first); err != nil || first.Instruction == "" || !strings.EqualFold(first.Contributor, crypto.PubkeyToAddress(contribKey.PublicKey).Hex()) {
		t.Fatalf("export line = %s (%v)", rows[0], err)
	}
	// Every exported record proves against the version's root.
	for _, row := range rows {
		var rec struct{ Hash string }
		json.Unmarshal([]byte(row), &rec)
		var p struct {
			Leaf, Root string
			Proof      []string
		}
		decode(t, a.do(t, "GET", "/api/v1/datanets/"+d.Slug+"/versions/1/proof/"+rec.Hash, "", withSession(contrib)), &p)
		proof := make([]common.Hash, len(p.Proof))
		for i, s := range p.Proof {
			proof[i] = common.HexToHash(s)
		}
		leaf := crypto.Keccak256Hash(crypto.Keccak256(common.HexToHash(rec.Hash).Bytes()))
		if p.Root != v.MerkleRoot || common.HexToHash(p.Leaf) != leaf || !verifyProof(common.HexToHash(p.Root), leaf, proof) {
			t.Fatalf("proof for %s does not verify: %+v", rec.Hash, p)
		}
	}
	if r := a.do(t, "GET", "/api/v1/datanets/"+d.Slug+"/versions/1/proof/0x"+strings.Repeat("ab", 32), "", withSession(contrib)); r.StatusCode != 404 {
		t.Fatalf("proof of a foreign hash = %d", r.StatusCode)
	}
	// The same file again adds nothing: every row is a duplicate.
	decode(t, a.upload(t, owner, d.Slug, "again.jsonl", file), &created)
	if c := a.waitContribution(t, owner, created.ID); c.Status != "rejected" || c.Accepted != 0 || c.Duplicates != 4 || c.Problems[0].Line != 1 {
		t.Fatalf("re-upload = %+v", c)
	}
	// Garbage is rejected whole with a reason, keeping nothing.
	decode(t, a.upload(t, owner, d.Slug, "blob.jsonl", "\x00\x01\x02\xff\xfe binary"), &created)
	if c := a.waitContribution(t, owner, created.ID); c.Status != "failed" || c.Accepted != 0 || len(c.Problems) == 0 {
		t.Fatalf("garbage = %+v", c)
	}
	// Search finds it; the HTML page renders the description safely.
	var list struct{ Total int64 }
	decode(t, a.do(t, "GET", "/api/v1/datanets?q=doctor", "", withSession(stranger)), &list)
	if list.Total != 1 {
		t.Fatalf("search total = %d", list.Total)
	}
	page := readAll(t, a.do(t, "GET", "/datanets/"+d.Slug, "", withSession(stranger)))
	if strings.Contains(page, "<script>alert(1)") || !strings.Contains(page, "Clinical Q&amp;A") {
		t.Fatal("Datanet page unsafe or missing its name")
	}
}

func TestFixAndAccept(t *testing.T) {
	t.Parallel()
	a := newDatanetApp(t)
	ownerKey, _ := crypto.GenerateKey()
	owner := a.signIn(t, ownerKey)
	var d struct{ Slug string }
	decode(t, a.do(t, "POST", "/api/v1/datanets", `{"name":"Support answers","schema":"instruction","license":"MIT",
		"visibility":"public","contributionPolicy":"review"}`, jsonHeaders(owner)), &d)
	a.do(t, "POST", "/api/v1/datanets/"+d.Slug+"/publish", "", jsonHeaders(owner))
	var created struct{ ID int64 }
	decode(t, a.upload(t, owner, d.Slug, "s.jsonl", `{"instruction":"Reset my password","response":"Mail jane.doe@example.com for help."}`), &created)
	if c := a.waitContribution(t, owner, created.ID); c.Status != "in_review" {
		t.Fatalf("status = %s", c.Status)
	}
	ctx := context.Background()
	recs, err := a.store.ContributionRecords(ctx, created.ID, 10, 0)
	if err != nil || len(recs) != 1 || !strings.Contains(string(recs[0].PII), "email") {
		t.Fatalf("records = %+v %v (want one with an email flag)", recs, err)
	}
	old := recs[0].Hash
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": handlers.SessionCookie + "=" + owner}
	path := fmt.Sprintf("/contributions/%d/records/%s", created.ID, old)
	r := a.do(t, "POST", path, "instruction=Reset+my+password&response=Use+the+Forgot+password+link+on+the+sign-in+page.", form)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("fix = %d %s", r.StatusCode, readAll(t, r))
	}
	recs, _ = a.store.ContributionRecords(ctx, created.ID, 10, 0)
	if len(recs) != 1 || recs[0].Hash == old || strings.Contains(recs[0].Fields["response"], "@") || string(recs[0].PII) != "[]" {
		t.Fatalf("fixed record = %+v", recs)
	}
	// An empty response is refused and changes nothing.
	a.do(t, "POST", fmt.Sprintf("/contributions/%d/records/%s", created.ID, recs[0].Hash), "instruction=x&response=", form)
	again, _ := a.store.ContributionRecords(ctx, created.ID, 10, 0)
	if again[0].Hash != recs[0].Hash {
		t.Fatal("an invalid fix changed the record")
	}
	if r := a.do(t, "POST", fmt.Sprintf("/api/v1/contributions/%d/review", created.ID), `{"decision":"accept"}`, jsonHeaders(owner)); r.StatusCode != 200 {
		t.Fatalf("accept = %d", r.StatusCode)
	}
	var got struct{ Records int64 }
	decode(t, a.do(t, "GET", "/api/v1/datanets/"+d.Slug, "", withSession(owner)), &got)
	if got.Records != 1 {
		t.Fatalf("records after accept = %d", got.Records)
	}
}

// TestDatanetRecordSearch drives the search box of a Datanet's records tab
// over HTTP: words and quoted phrases find only the matching accepted
// records, and a query with nothing to search for (stop words only, bytes
// that are not text) gets the page's explanation, never an error.
func TestDatanetRecordSearch(t *testing.T) {
	t.Parallel()
	a := newDatanetApp(t)
	ownerKey, _ := crypto.GenerateKey()
	owner := a.signIn(t, ownerKey)
	body := `{"name":"Kidney answers","summary":"Nephrology Q&A","schema":"instruction","license":"CC-BY-4.0",
		"visibility":"public","contributionPolicy":"open"}`
	r := a.do(t, "POST", "/api/v1/datanets", body, jsonHeaders(owner))
	var d struct{ Slug string }
	decode(t, r, &d)
	if r := a.do(t, "POST", "/api/v1/datanets/"+d.Slug+"/publish", "", jsonHeaders(owner)); r.StatusCode != 200 {
		t.Fatalf("publish = %d", r.StatusCode)
	}
	file := strings.Join([]string{
		`{"instruction":"What causes kidney stones?","response":"Minerals that crystallise in concentrated urine."}`,
		`{"instruction":"Which stones form in a kidney first?","response":"Calcium oxalate, most often."}`,
		`{"instruction":"How is asthma treated?","response":"Inhaled steroids and relievers."}`,
		`{"instruction":"Is coffee bad for the heart?","response":"Moderate amounts are safe for most adults."}`,
	}, "\n")
	r = a.upload(t, owner, d.Slug, "kidney.jsonl", file)
	var created struct{ ID int64 }
	decode(t, r, &created)
	if c := a.waitContribution(t, owner, created.ID); c.Status != "accepted" || c.Accepted != 4 {
		t.Fatalf("contribution = %+v", c)
	}

	search := func(q string) string {
		t.Helper()
		r := a.do(t, "GET", "/datanets/"+d.Slug+"?tab=records&q="+q, "", withSession(owner))
		page := readAll(t, r)
		if r.StatusCode != 200 {
			t.Fatalf("search %q = %d:\n%s", q, r.StatusCode, page)
		}
		return page
	}
	const (
		stones   = "What causes kidney stones?"
		oxalate  = "Which stones form in a kidney first?"
		asthma   = "How is asthma treated?"
		coffee   = "Is coffee bad for the heart?"
		noResult = "No accepted record matches"
	)
	for _, c := range []struct {
		q         string
		want, not []string
	}{
		// Words match their forms, in any order.
		{"kidneys", []string{stones, oxalate}, []string{asthma, coffee}},
		{"stone+kidney", []string{stones, oxalate}, []string{asthma, coffee}},
		// A quoted phrase needs the words side by side.
		{url.QueryEscape(`"kidney stones"`), []string{stones}, []string{oxalate, asthma, coffee}},
		// Excluded words and words in the response.
		{url.QueryEscape("kidney -oxalate"), []string{stones}, []string{oxalate, asthma, coffee}},
		{"steroids", []string{asthma}, []string{stones, oxalate, coffee}},
	} {
		page := search(c.q)
		for _, w := range c.want {
			if !strings.Contains(page, w) {
				t.Errorf("search %s: %q missing", c.q, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(page, n) {
				t.Errorf("search %s: %q should not match", c.q, n)
			}
		}
		if strings.Contains(page, noResult) {
			t.Errorf("search %s: says nothing matches", c.q)
		}
	}
	// Queries with nothing to look for explain how search works.
	for _, q := range []string{"the", "zebra", "%ff%fe", "%00", url.QueryEscape(`"`), url.QueryEscape(strings.Repeat("é", 300))} {
		page := search(q)
		if !strings.Contains(page, noResult) || !strings.Contains(page, "put a phrase in quotes") {
			t.Errorf("search %s: no explanation", q)
		}
		for _, rec := range []string{stones, oxalate, asthma, coffee} {
			if strings.Contains(page, rec) {
				t.Errorf("search %s shows %q", q, rec)
			}
		}
	}
}
