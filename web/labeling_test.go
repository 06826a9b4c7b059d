package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/ingest"
	"github.com/modelfactory/modelfactory/store"
)

// labelRecords is a RecordSource over ingest-built instruction records.
type labelRecords struct {
	list []store.IngestRecord
	i    int
}

func (r *labelRecords) Next() bool                 { r.i++; return r.i <= len(r.list) }
func (r *labelRecords) Record() store.IngestRecord { return r.list[r.i-1] }
func (r *labelRecords) Err() error                 { return nil }

// seedLabelDatanet creates a published instruction Datanet owned by
// ownerAddr with n records in version 1 and returns its slug.
func seedLabelDatanet(t *testing.T, st *store.Store, ownerAddr string, n int) string {
	t.Helper()
	ctx := context.Background()
	u, err := st.UpsertUser(ctx, ownerAddr)
	if err != nil {
		t.Fatal(err)
	}
	owner := store.Actor{UserID: u.ID, Address: u.Address}
	d, err := st.CreateDatanet(ctx, owner, store.DatanetInput{Name: "Answers to rate", License: "CC-BY-4.0",
		Schema: store.SchemaInstruction, Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyOpen})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PublishDatanet(ctx, owner, d.Slug); err != nil {
		t.Fatal(err)
	}
	src := &labelRecords{}
	for i := range n {
		rec, err := ingest.BuildRecord(map[string]string{"instruction": fmt.Sprintf("Question %d?", i), "response": fmt.Sprintf("Answer %d.", i)},
			ingest.Schema{Kind: ingest.KindInstruction}, ingest.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		src.list = append(src.list, store.IngestRecord{Line: i + 1, Hash: rec.Hash, Canonical: string(rec.Canonical), Fields: rec.Fields,
			Chars: rec.Chars, Bands: rec.BandKeys[:]})
	}
	c, err := st.CreateContribution(ctx, owner, d.Slug, store.ContributionInput{Source: "api", Filename: "seed.jsonl"},
		func(context.Context, pgx.Tx, int64) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.StartIngest(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CommitIngest(ctx, c.ID, src, func() store.ParseReport { return store.ParseReport{} }, func(a, b string) float64 { return 0 }, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PublishVersion(ctx, owner, d.Slug, merkle.HexRoot); err != nil {
		t.Fatal(err)
	}
	return d.Slug
}

func TestLabelingAPI(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ownerKey, _ := crypto.GenerateKey()
	labelerKey, _ := crypto.GenerateKey()
	strangerKey, _ := crypto.GenerateKey()
	owner, labeler, stranger := a.signIn(t, ownerKey), a.signIn(t, labelerKey), a.signIn(t, strangerKey)
	slug := seedLabelDatanet(t, a.store, crypto.PubkeyToAddress(ownerKey.PublicKey).Hex(), 3)

	// Bad input: field messages, nothing created.
	r := a.do(t, "POST", "/api/v1/labeling/projects", `{"datanet":"`+slug+`","name":"x","task":"draw","source":"version","version":1,"overlap":40,"rewardWei":"-1"}`, jsonHeaders(owner))
	var bad struct {
		Error struct {
			Code   string
			Fields map[string]string
		}
	}
	decode(t, r, &bad)
	if r.StatusCode != 422 || bad.Error.Code != "invalid" || bad.Error.Fields["name"] == "" || bad.Error.Fields["task"] == "" ||
		bad.Error.Fields["overlap"] == "" || bad.Error.Fields["rewardWei"] == "" {
		t.Fatalf("bad project = %d %+v", r.StatusCode, bad)
	}
	if r := a.do(t, "POST", "/api/v1/labeling/projects", `{"datanet":"`+slug+`","colour":"red"}`, jsonHeaders(owner)); r.StatusCode != 400 {
		t.Fatalf("unknown field = %d, want 400", r.StatusCode)
	}
	good := `{"datanet":"` + slug + `","name":"Rate the answers","task":"rate","source":"version","version":1,"overlap":2,"access":"invited",
		"guidelines":"# Rate\n<script>alert(1)</script>","rewardWei":"5"}`
	if r := a.do(t, "POST", "/api/v1/labeling/projects", good, jsonHeaders(stranger)); r.StatusCode != 403 {
		t.Fatalf("stranger creates = %d, want 403", r.StatusCode)
	}
	var list struct{ Projects []map[string]any }
	decode(t, a.do(t, "GET", "/api/v1/labeling/projects", "", withSession(owner)), &list)
	if len(list.Projects) != 0 {
		t.Fatalf("refused creates left %d projects", len(list.Projects))
	}
	r = a.do(t, "POST", "/api/v1/labeling/projects", good, jsonHeaders(owner))
	var p struct {
		ID       int64
		Progress struct{ Items int64 }
	}
	decode(t, r, &p)
	if r.StatusCode != 201 || p.Progress.Items != 3 {
		t.Fatalf("create = %d %+v", r.StatusCode, p)
	}
	base := fmt.Sprintf("/api/v1/labeling/projects/%d", p.ID)
	var listed struct {
		Projects []struct {
			ID  int64
			You struct{ Manage bool }
		}
	}
	decode(t, a.do(t, "GET", "/api/v1/labeling/projects", "", withSession(owner)), &listed)
	if len(listed.Projects) != 1 || listed.Projects[0].ID != p.ID || !listed.Projects[0].You.Manage {
		t.Fatalf("owner's list = %+v, want the new project with manage rights", listed.Projects)
	}

	// Invite-only: a stranger gets 403; the invited labeler gets a lease.
	if r := a.do(t, "GET", base+"/next", "", withSession(stranger)); r.StatusCode != 403 {
		t.Fatalf("stranger next = %d, want 403", r.StatusCode)
	}
	form := url.Values{"address": {crypto.PubkeyToAddress(labelerKey.PublicKey).Hex()}}.Encode()
	formHeaders := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": withSession(owner)["Cookie"]}
	if r := a.do(t, "POST", fmt.Sprintf("/labeling/projects/%d/members", p.ID), form, formHeaders); r.StatusCode != 303 {
		t.Fatalf("invite = %d", r.StatusCode)
	}
	r = a.do(t, "GET", base+"/next", "", withSession(labeler))
	var lease struct {
		Lease  string
		Item   int64
		Record struct{ Fields map[string]string }
	}
	decode(t, r, &lease)
	if r.StatusCode != 200 || lease.Lease == "" || lease.Record.Fields["instruction"] == "" {
		t.Fatalf("next = %d %+v", r.StatusCode, lease)
	}
	labels := fmt.Sprintf("/api/v1/labeling/items/%d/labels", lease.Item)

	// Bad answers: 422 with the field, 400 for bad JSON, 404 for no item.
	for _, tc := range []struct {
		body, field string
	}{
		{`{"lease":"` + lease.Lease + `","rating":7}`, "rating"},
		{`{"lease":"` + lease.Lease + `","rating":3,"flags":["rude"]}`, "flags"},
		{`{"lease":"nope","rating":3}`, "lease"},
	} {
		r := a.do(t, "POST", labels, tc.body, jsonHeaders(labeler))
		decode(t, r, &bad)
		if r.StatusCode != 422 || bad.Error.Fields[tc.field] == "" {
			t.Fatalf("%s = %d %+v, want 422 on %s", tc.body, r.StatusCode, bad, tc.field)
		}
	}
	if r := a.do(t, "POST", labels, `{"lease":`, jsonHeaders(labeler)); r.StatusCode != 400 {
		t.Fatalf("bad JSON = %d", r.StatusCode)
	}
	if r := a.do(t, "POST", "/api/v1/labeling/items/999999/labels", `{"lease":"`+lease.Lease+`","rating":3}`, jsonHeaders(labeler)); r.StatusCode != 404 {
		t.Fatalf("no item = %d", r.StatusCode)
	}
	if r := a.do(t, "GET", "/api/v1/labeling/projects/abc/next", "", withSession(labeler)); r.StatusCode != 404 {
		t.Fatalf("bad id = %d", r.StatusCode)
	}
	var proj struct{ Progress struct{ Labels int64 } }
	decode(t, a.do(t, "GET", base, "", withSession(owner)), &proj)
	if proj.Progress.Labels != 0 {
		t.Fatalf("refused answers stored %d labels", proj.Progress.Labels)
	}

	// Submit twice: 201 then 200 with the same label.
	answer := `{"lease":"` + lease.Lease + `","rating":4,"flags":["pii"]}`
	var first, second struct {
		Label     int64
		Duplicate bool
	}
	r = a.do(t, "POST", labels, answer, jsonHeaders(labeler))
	decode(t, r, &first)
	if r.StatusCode != 201 || first.Duplicate {
		t.Fatalf("submit = %d %+v", r.StatusCode, first)
	}
	r = a.do(t, "POST", labels, answer, jsonHeaders(labeler))
	decode(t, r, &second)
	if r.StatusCode != 200 || !second.Duplicate || second.Label != first.Label {
		t.Fatalf("second submit = %d %+v", r.StatusCode, second)
	}

	// Agreement and export: the owner only.
	if r := a.do(t, "GET", base+"/agreement", "", withSession(labeler)); r.StatusCode != 403 {
		t.Fatalf("labeler agreement = %d, want 403", r.StatusCode)
	}
	var ag struct {
		Metric string
		Alpha  *float64
		Items  int64
	}
	r = a.do(t, "GET", base+"/agreement", "", withSession(owner))
	decode(t, r, &ag)
	if r.StatusCode != 200 || ag.Metric != "interval" || ag.Alpha != nil || ag.Items != 3 {
		t.Fatalf("agreement = %d %+v", r.StatusCode, ag)
	}
	r = a.do(t, "GET", base+"/export", "", withSession(owner))
	body := readAll(t, r)
	if r.StatusCode != 200 || strings.Count(body, "\n") != 3 || !strings.Contains(body, `"rating":4`) {
		t.Fatalf("export = %d %s", r.StatusCode, body)
	}
	if r := a.do(t, "GET", base+"/export", "", withSession(labeler)); r.StatusCode != 403 {
		t.Fatalf("labeler export = %d", r.StatusCode)
	}

	// Pages: the project page renders the guidelines safely; the annotation
	// form answers htmx with a fragment, 422 and the message for a missing
	// rating, and the next item after a good one.
	r = a.do(t, "GET", fmt.Sprintf("/labeling/projects/%d", p.ID), "", withSession(owner))
	page := readAll(t, r)
	if r.StatusCode != 200 || !strings.Contains(page, "Rate the answers") || strings.Contains(page, "<script>alert") || !strings.Contains(page, "<h1>Rate</h1>") {
		t.Fatalf("project page = %d", r.StatusCode)
	}
	r = a.do(t, "GET", fmt.Sprintf("/labeling/projects/%d/label", p.ID), "", withSession(labeler))
	page = readAll(t, r)
	if r.StatusCode != 200 || !strings.Contains(page, `id="annotate"`) || !strings.Contains(page, "label.js") {
		t.Fatalf("annotation page = %d", r.StatusCode)
	}
	var next struct {
		Lease string
		Item  int64
	}
	decode(t, a.do(t, "GET", base+"/next", "", withSession(labeler)), &next)
	hx := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": withSession(labeler)["Cookie"], "HX-Request": "true"}
	r = a.do(t, "POST", fmt.Sprintf("/labeling/projects/%d/label", p.ID), url.Values{"action": {"submit"}, "item": {fmt.Sprint(next.Item)}, "lease": {next.Lease}}.Encode(), hx)
	frag := readAll(t, r)
	if r.StatusCode != 422 || !strings.Contains(frag, "Rate from 1") || strings.Contains(frag, "<html") {
		t.Fatalf("missing rating = %d %s", r.StatusCode, frag)
	}
	r = a.do(t, "POST", fmt.Sprintf("/labeling/projects/%d/label", p.ID), url.Values{"action": {"submit"}, "item": {fmt.Sprint(next.Item)}, "lease": {next.Lease}, "rating": {"2"}}.Encode(), hx)
	frag = readAll(t, r)
	if r.StatusCode != 200 || !strings.Contains(frag, "Saved.") || !strings.Contains(frag, `id="lab-mine">2<`) {
		t.Fatalf("htmx submit = %d %s", r.StatusCode, frag)
	}
	// A stranger cannot open the review queue.
	if r := a.do(t, "GET", fmt.Sprintf("/labeling/projects/%d/review", p.ID), "", withSession(stranger)); r.StatusCode != 403 {
		t.Fatalf("stranger review = %d", r.StatusCode)
	}
}
