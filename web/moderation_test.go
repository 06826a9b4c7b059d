package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
)

// fieldsOf decodes an error envelope's field messages.
func fieldsOf(t *testing.T, r *http.Response) map[string]string {
	t.Helper()
	var env struct {
		Error struct {
			Code   string
			Fields map[string]string
		}
	}
	decode(t, r, &env)
	return env.Error.Fields
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
}

// TestModerationOverAPI: a member reports a Datanet; non-admins are refused
// the admin API; bad actions are 422s naming the field and change nothing;
// an admin suspends the Datanet (gone from browse, owner notified, audited)
// and bans the owner, whose session and token stop working on the next
// request.
func TestModerationOverAPI(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	ownerKey, _ := crypto.GenerateKey()
	reporterKey, _ := crypto.GenerateKey()
	owner, reporter, admin := a.signIn(t, ownerKey), a.signIn(t, reporterKey), a.signIn(t, a.admin)
	ownerAddr := crypto.PubkeyToAddress(ownerKey.PublicKey).Hex()

	r := a.do(t, "POST", "/api/v1/datanets", `{"name":"Harbour pilots","license":"CC-BY-4.0","schema":"instruction","visibility":"public","contributionPolicy":"open"}`, jsonHeaders(owner))
	if r.StatusCode != 201 {
		t.Fatalf("create datanet: %d %s", r.StatusCode, readAll(t, r))
	}
	if r := a.do(t, "POST", "/api/v1/datanets/harbour-pilots/publish", "", jsonHeaders(owner)); r.StatusCode != 200 {
		t.Fatalf("publish: %d %s", r.StatusCode, readAll(t, r))
	}

	// Reports.
	r = a.do(t, "POST", "/api/v1/reports", `{"target":"datanet:harbour-pilots","category":"nonsense"}`, jsonHeaders(reporter))
	if r.StatusCode != 422 || fieldsOf(t, r)["category"] == "" {
		t.Fatalf("bad category: %d", r.StatusCode)
	}
	r = a.do(t, "POST", "/api/v1/reports", `{"target":"datanet:harbour-pilots","category":"spam","details":"Ads for boats","extra":1}`, jsonHeaders(reporter))
	if r.StatusCode != 400 {
		t.Fatalf("unknown JSON field: %d", r.StatusCode)
	}
	r = a.do(t, "POST", "/api/v1/reports", `{"target":"datanet:harbour-pilots","category":"spam","details":"Ads for boats"}`, jsonHeaders(reporter))
	var rep struct{ ID int64 }
	if r.StatusCode != 201 {
		t.Fatalf("report: %d %s", r.StatusCode, readAll(t, r))
	}
	decode(t, r, &rep)
	if r := a.do(t, "POST", "/api/v1/reports", `{"target":"datanet:harbour-pilots","category":"spam"}`, jsonHeaders(reporter)); r.StatusCode != 200 {
		t.Fatalf("second report by the same wallet: %d", r.StatusCode)
	}

	// The admin API is for admins.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/v1/admin/reports", ""},
		{"POST", "/api/v1/admin/actions", `{"action":"suspend","target":"datanet:harbour-pilots","reason":"mine"}`},
		{"GET", "/api/v1/admin/audit", ""},
		{"GET", "/admin/moderation", ""},
	} {
		if r := a.do(t, c.method, c.path, c.body, jsonHeaders(reporter)); r.StatusCode != 403 {
			t.Errorf("%s %s as a member = %d, want 403", c.method, c.path, r.StatusCode)
		}
	}
	if r := a.do(t, "GET", "/api/v1/admin/reports", "", nil); r.StatusCode != 401 {
		t.Errorf("admin API signed out = %d, want 401", r.StatusCode)
	}

	var groups struct {
		Groups []struct {
			Target  string
			Count   int64
			Subject struct{ Title, Status, Owner string }
		}
		Total int64
	}
	r = a.do(t, "GET", "/api/v1/admin/reports", "", jsonHeaders(admin))
	decode(t, r, &groups)
	if groups.Total != 1 || groups.Groups[0].Target != "datanet:harbour-pilots" || groups.Groups[0].Subject.Status != "published" ||
		groups.Groups[0].Subject.Owner != ownerAddr {
		t.Fatalf("report groups = %+v", groups)
	}

	// Bad actions: 422 naming the field, nothing changed.
	for _, c := range []struct{ body, field string }{
		{`{"action":"vaporise","target":"datanet:harbour-pilots","reason":"because"}`, "action"},
		{`{"action":"suspend","target":"datanet:Harbour Pilots","reason":"because"}`, "target"},
		{`{"action":"suspend","target":"galaxy:harbour-pilots","reason":"because"}`, "target"},
		{`{"action":"suspend","target":"datanet:no-such-thing","reason":"because"}`, "target"},
		{`{"action":"suspend","target":"datanet:harbour-pilots"}`, "reason"},
		{`{"action":"ban","target":"datanet:harbour-pilots","reason":"because"}`, "action"},
		{`{"action":"ban","target":"user:` + crypto.PubkeyToAddress(a.admin.PublicKey).Hex() + `","reason":"because"}`, "target"},
	} {
		r := a.do(t, "POST", "/api/v1/admin/actions", c.body, jsonHeaders(admin))
		if r.StatusCode != 422 {
			t.Errorf("%s = %d, want 422", c.body, r.StatusCode)
			continue
		}
		if f := fieldsOf(t, r); f[c.field] == "" {
			t.Errorf("%s: fields %v do not name %q", c.body, f, c.field)
		}
	}
	var audit struct {
		Entries []struct{ Actor, Action, Target, Reason string }
		Total   int64
	}
	decode(t, a.do(t, "GET", "/api/v1/admin/audit?action=datanet.suspend", "", jsonHeaders(admin)), &audit)
	if audit.Total != 0 {
		t.Fatalf("refused actions were audited: %+v", audit)
	}

	// Suspend.
	var listed struct{ Total int64 }
	decode(t, a.do(t, "GET", "/api/v1/datanets", "", jsonHeaders(reporter)), &listed)
	if listed.Total != 1 {
		t.Fatalf("published Datanet not listed before suspension: %+v", listed)
	}
	r = a.do(t, "POST", "/api/v1/admin/actions", `{"action":"suspend","target":"datanet:harbour-pilots","reason":"Advertising, not data"}`, jsonHeaders(admin))
	var res struct {
		Action, Target string
		After          map[string]any
		ReportsClosed  int64
	}
	if r.StatusCode != 200 {
		t.Fatalf("suspend: %d %s", r.StatusCode, readAll(t, r))
	}
	decode(t, r, &res)
	if res.After["status"] != "suspended" || res.ReportsClosed != 1 {
		t.Fatalf("suspend = %+v", res)
	}
	var list struct {
		Datanets []struct{ Slug string }
		Total    int64
	}
	decode(t, a.do(t, "GET", "/api/v1/datanets", "", jsonHeaders(reporter)), &list)
	if len(list.Datanets) != 0 || list.Total != 0 {
		t.Fatalf("suspended Datanet still listed: %+v", list)
	}
	if r := a.do(t, "GET", "/api/v1/datanets/harbour-pilots", "", jsonHeaders(reporter)); r.StatusCode != 404 {
		t.Fatalf("suspended Datanet for a member = %d, want 404", r.StatusCode)
	}
	var notes struct {
		Notifications []struct{ Kind, Title, Body string }
	}
	decode(t, a.do(t, "GET", "/api/v1/notifications", "", jsonHeaders(owner)), &notes)
	if len(notes.Notifications) != 1 || notes.Notifications[0].Kind != "datanet.suspended" || !strings.Contains(notes.Notifications[0].Body, "Advertising, not data") {
		t.Fatalf("owner notifications = %+v", notes)
	}
	// The top bar counts it.
	page := readAll(t, a.do(t, "GET", "/datanets", "", withSession(owner)))
	if !strings.Contains(page, `data-unread="1"`) {
		t.Fatal("top bar does not count the unread notification")
	}
	decode(t, a.do(t, "GET", "/api/v1/admin/audit?target=datanet:harbour-pilots&action=datanet", "", jsonHeaders(admin)), &audit)
	if audit.Total != 3 || audit.Entries[0].Action != "datanet.suspend" || audit.Entries[0].Reason != "Advertising, not data" {
		t.Fatalf("audit = %+v", audit)
	}

	// Ban the owner: the session and a token die at once.
	ownerUser, err := a.store.UpsertUser(ctx, ownerAddr)
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := a.store.CreateAPIToken(ctx, ownerUser.ID, "script", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r := a.do(t, "GET", "/api/v1/me", "", bearer(token)); r.StatusCode != 200 {
		t.Fatalf("token before ban = %d", r.StatusCode)
	}
	r = a.do(t, "POST", "/api/v1/admin/actions", `{"action":"ban","target":"user:`+strings.ToLower(ownerAddr)+`","reason":"Spam ring"}`, jsonHeaders(admin))
	if r.StatusCode != 200 {
		t.Fatalf("ban: %d %s", r.StatusCode, readAll(t, r))
	}
	if r := a.do(t, "GET", "/api/v1/me", "", withSession(owner)); r.StatusCode != 401 {
		t.Fatalf("banned session = %d, want 401", r.StatusCode)
	}
	if r := a.do(t, "GET", "/api/v1/me", "", bearer(token)); r.StatusCode != 401 {
		t.Fatalf("banned token = %d, want 401", r.StatusCode)
	} else if code, _ := apiError(t, r); code != "bad_token" {
		t.Fatalf("banned token code = %s", code)
	}
	if r := a.do(t, "GET", "/datanets", "", withSession(owner)); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("banned session on a page = %d, want a redirect to sign in", r.StatusCode)
	}
	msg := message(a.nonce(t), ownerAddr)
	r = a.do(t, "POST", "/auth/verify", verifyBody(msg, sign(ownerKey, msg)), map[string]string{"Content-Type": "application/json"})
	if r.StatusCode != 403 {
		t.Fatalf("banned wallet signs in again: %d", r.StatusCode)
	}
	if r := a.do(t, "POST", "/api/v1/admin/actions", `{"action":"unban","target":"user:`+ownerAddr+`"}`, jsonHeaders(admin)); r.StatusCode != 200 {
		t.Fatalf("unban: %d", r.StatusCode)
	}
	a.signIn(t, ownerKey)
}

// TestModerationPages: the report form returns to the page it came from;
// admins see the queue, act from it, and see the audit log and roles pages.
func TestModerationPages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ownerKey, _ := crypto.GenerateKey()
	owner, admin := a.signIn(t, ownerKey), a.signIn(t, a.admin)
	if r := a.do(t, "POST", "/api/v1/datanets", `{"name":"Tide tables","license":"CC0-1.0","schema":"documents","visibility":"public","contributionPolicy":"open"}`, jsonHeaders(owner)); r.StatusCode != 201 {
		t.Fatalf("create: %d", r.StatusCode)
	}
	a.do(t, "POST", "/api/v1/datanets/tide-tables/publish", "", jsonHeaders(owner))

	post := func(path, sess string, v url.Values, referer string) *http.Response {
		h := withSession(sess)
		h["Content-Type"] = "application/x-www-form-urlencoded"
		if referer != "" {
			h["Referer"] = referer
		}
		return a.do(t, "POST", path, v.Encode(), h)
	}
	r := post("/reports", admin, url.Values{"target": {"datanet:tide-tables"}, "category": {"copyright"}, "details": {"Copied from the almanac"}}, a.URL+"/datanets/tide-tables")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/datanets/tide-tables" {
		t.Fatalf("report form: %d → %s", r.StatusCode, r.Header.Get("Location"))
	}
	// An off-site Referer is not followed.
	r = post("/reports", admin, url.Values{"target": {"datanet:tide-tables"}, "category": {"spam"}}, "https://evil.example/x")
	if loc := r.Header.Get("Location"); loc != "/" {
		t.Fatalf("off-site return = %s", loc)
	}

	body := readAll(t, a.do(t, "GET", "/datanets/tide-tables", "", withSession(admin)))
	if !strings.Contains(body, `data-report="datanet:tide-tables"`) {
		t.Fatal("Datanet page has no Report button")
	}
	body = readAll(t, a.do(t, "GET", "/admin/moderation", "", withSession(admin)))
	for _, want := range []string{"Tide tables", "Copied from the almanac", `data-mod-action="suspend"`, `data-confirm-type="tide-tables"`} {
		if !strings.Contains(body, want) {
			t.Errorf("moderation page lacks %q", want)
		}
	}
	r = post("/admin/moderation/actions", admin, url.Values{"action": {"suspend"}, "target": {"datanet:tide-tables"}}, "")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("suspend without reason: %d", r.StatusCode)
	}
	if d, _ := a.store.DatanetBySlug(context.Background(), "tide-tables"); d.Status != "published" {
		t.Fatal("suspended without a reason")
	}
	r = post("/admin/moderation/actions", admin, url.Values{"action": {"suspend"}, "target": {"datanet:tide-tables"}, "reason": {"Copyright claim"}}, "")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/moderation" {
		t.Fatalf("suspend: %d → %s", r.StatusCode, r.Header.Get("Location"))
	}
	if d, _ := a.store.DatanetBySlug(context.Background(), "tide-tables"); d.Status != "suspended" {
		t.Fatal("not suspended")
	}
	body = readAll(t, a.do(t, "GET", "/admin/audit?action=datanet.suspend", "", withSession(admin)))
	if !strings.Contains(body, "Copyright claim") || !strings.Contains(body, `data-audit-action="datanet.suspend"`) {
		t.Fatal("audit page does not show the suspension")
	}
	r = post("/admin/roles", admin, url.Values{"op": {"grant"}, "address": {crypto.PubkeyToAddress(ownerKey.PublicKey).Hex()}, "role": {"reviewer"}}, "")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("grant: %d", r.StatusCode)
	}
	body = readAll(t, a.do(t, "GET", "/admin/roles", "", withSession(admin)))
	adminAddr := strings.ToLower(crypto.PubkeyToAddress(a.admin.PublicKey).Hex())
	if !strings.Contains(body, adminAddr) || !strings.Contains(body, ">config<") || !strings.Contains(body, crypto.PubkeyToAddress(ownerKey.PublicKey).Hex()) {
		t.Fatal("roles page lacks the configured admin or the granted reviewer")
	}
	body = readAll(t, a.do(t, "GET", "/notifications", "", withSession(owner)))
	if !strings.Contains(body, "Copyright claim") || !strings.Contains(body, `data-kind="datanet.suspended"`) {
		t.Fatal("notifications page lacks the suspension")
	}
	body = readAll(t, a.do(t, "GET", "/notifications", "", withSession(owner)))
	if !strings.Contains(body, `data-unread="0"`) {
		t.Fatal("notifications stay unread after being seen")
	}
	var me struct{ Roles []string }
	r = a.do(t, "GET", "/api/v1/me", "", withSession(owner))
	if err := json.NewDecoder(r.Body).Decode(&me); err != nil || !strings.Contains(strings.Join(me.Roles, ","), "reviewer") {
		t.Fatalf("granted role not in effect: %+v %v", me, err)
	}
}
