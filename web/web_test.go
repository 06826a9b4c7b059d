package web_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/modelfactory/modelfactory/handlers"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
	"github.com/modelfactory/modelfactory/web"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const publicURL = "http://app.test:8080"

type app struct {
	*httptest.Server
	store *store.Store
	admin *ecdsa.PrivateKey
}

func newApp(t *testing.T, ready ...handlers.ReadyCheck) *app {
	t.Helper()
	st := store.New(pgtest.New(t))
	admin, _ := crypto.GenerateKey()
	u, _ := url.Parse(publicURL)
	if ready == nil {
		ready = []handlers.ReadyCheck{{Name: "database", Check: st.Ping}}
	}
	h, err := handlers.New(handlers.Deps{
		Store: st, Log: slog.New(slog.DiscardHandler), PublicURL: u,
		Chain:  views.ChainInfo{ChainID: 1337, Name: "test"},
		Admins: map[string]bool{strings.ToLower(crypto.PubkeyToAddress(admin.PublicKey).Hex()): true},
		Ready:  ready,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.NewRouter(web.Options{Handlers: h, Store: st, Log: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	return &app{Server: srv, store: st, admin: admin}
}

// do sends a request without following redirects.
func (a *app) do(t *testing.T, method, path, body string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// apiError decodes the JSON error envelope.
func apiError(t *testing.T, r *http.Response) (code, message string) {
	t.Helper()
	var env struct {
		Error struct{ Code, Message string }
	}
	body := readAll(t, r)
	if err := json.Unmarshal([]byte(body), &env); err != nil || env.Error.Code == "" {
		t.Fatalf("not an error envelope (%d): %s", r.StatusCode, body)
	}
	return env.Error.Code, env.Error.Message
}

type nonceResp struct {
	Nonce, Domain, URI, Version, Statement, IssuedAt, ExpirationTime, Address string
	ChainID                                                                   uint64
}

func (a *app) nonce(t *testing.T) nonceResp {
	t.Helper()
	r := a.do(t, "GET", "/auth/nonce", "", nil)
	var n nonceResp
	if err := json.NewDecoder(r.Body).Decode(&n); err != nil || r.StatusCode != 200 {
		t.Fatalf("nonce: %d %v", r.StatusCode, err)
	}
	return n
}

func message(n nonceResp, address string) string {
	return fmt.Sprintf("%s wants you to sign in with your Ethereum account:\n%s\n\n%s\n\nURI: %s\nVersion: 1\nChain ID: %d\nNonce: %s\nIssued At: %s\nExpiration Time: %s",
		n.Domain, address, n.Statement, n.URI, n.ChainID, n.Nonce, n.IssuedAt, n.ExpirationTime)
}

func sign(key *ecdsa.PrivateKey, msg string) string {
	sig, _ := crypto.Sign(accounts.TextHash([]byte(msg)), key)
	sig[64] += 27
	return hexutil.Encode(sig)
}

func verifyBody(msg, sig string) string {
	b, _ := json.Marshal(map[string]string{"message": msg, "signature": sig})
	return string(b)
}

func sessionCookie(r *http.Response) string {
	for _, c := range r.Cookies() {
		if c.Name == handlers.SessionCookie && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// signIn performs a full SIWE sign-in and returns the session cookie value.
func (a *app) signIn(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	msg := message(a.nonce(t), crypto.PubkeyToAddress(key.PublicKey).Hex())
	r := a.do(t, "POST", "/auth/verify", verifyBody(msg, sign(key, msg)), map[string]string{"Content-Type": "application/json"})
	if r.StatusCode != 200 {
		t.Fatalf("sign in: %d %s", r.StatusCode, readAll(t, r))
	}
	c := sessionCookie(r)
	if c == "" {
		t.Fatal("no session cookie")
	}
	return c
}

func withSession(c string) map[string]string {
	return map[string]string{"Cookie": handlers.SessionCookie + "=" + c}
}

func TestSignInAndMe(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	key, _ := crypto.GenerateKey()
	addr := crypto.PubkeyToAddress(key.PublicKey).Hex()
	msg := message(a.nonce(t), addr)
	r := a.do(t, "POST", "/auth/verify", verifyBody(msg, sign(key, msg)), nil)
	if r.StatusCode != 200 {
		t.Fatalf("verify = %d: %s", r.StatusCode, readAll(t, r))
	}
	var cookie *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == handlers.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure {
		t.Fatalf("session cookie = %+v", cookie)
	}
	me := a.do(t, "GET", "/api/v1/me", "", withSession(cookie.Value))
	var got struct {
		Address string
		Roles   []string
	}
	if err := json.NewDecoder(me.Body).Decode(&got); err != nil || me.StatusCode != 200 {
		t.Fatalf("me = %d %v", me.StatusCode, err)
	}
	if got.Address != addr || len(got.Roles) != 1 || got.Roles[0] != "user" {
		t.Fatalf("me = %+v", got)
	}
}

// TestBadSignInsChangeNothing: every refused sign-in is a 4xx with a named
// reason, sets no session, and — except for a replay — leaves the nonce
// usable.
func TestBadSignInsChangeNothing(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	key, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	addr := crypto.PubkeyToAddress(key.PublicKey).Hex()

	n := a.nonce(t)
	good := message(n, addr)
	wrongDomain := strings.Replace(good, "app.test:8080 wants", "evil.test wants", 1)
	wrongURI := strings.Replace(good, "URI: http://app.test:8080", "URI: http://evil.test", 1)
	wrongChain := strings.Replace(good, "Chain ID: 1337", "Chain ID: 1", 1)
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"garbled message", verifyBody("hello\nworld", sign(key, "hello\nworld")), 400, "malformed_message"},
		{"wrong domain", verifyBody(wrongDomain, sign(key, wrongDomain)), 401, "domain_mismatch"},
		{"wrong uri", verifyBody(wrongURI, sign(key, wrongURI)), 401, "uri_mismatch"},
		{"wrong chain", verifyBody(wrongChain, sign(key, wrongChain)), 401, "chain_mismatch"},
		{"2-byte signature", verifyBody(good, "0xabcd"), 400, "bad_signature_length"},
		{"66-byte signature", verifyBody(good, sign(key, good)+"00"), 400, "bad_signature_length"},
		{"signature by another key", verifyBody(good, sign(other, good)), 401, "address_mismatch"},
		{"not json", "{", 400, "bad_json"},
		{"unknown field", `{"message":"x","signature":"0x","extra":1}`, 400, "bad_json"},
		{"missing signature", `{"message":"x"}`, 400, "missing_fields"},
	}
	for _, tc := range cases {
		r := a.do(t, "POST", "/auth/verify", tc.body, map[string]string{"Content-Type": "application/json"})
		code, msg := apiError(t, r)
		if r.StatusCode != tc.status || code != tc.code {
			t.Errorf("%s: %d %s (%s), want %d %s", tc.name, r.StatusCode, code, msg, tc.status, tc.code)
		}
		if sessionCookie(r) != "" {
			t.Errorf("%s: a session cookie was set", tc.name)
		}
		if strings.Contains(msg, "SQL") || strings.Contains(msg, "goroutine") {
			t.Errorf("%s: message shows internals: %s", tc.name, msg)
		}
	}
	// None of that burnt the nonce: the genuine message still signs in once…
	r := a.do(t, "POST", "/auth/verify", verifyBody(good, sign(key, good)), nil)
	if r.StatusCode != 200 || sessionCookie(r) == "" {
		t.Fatalf("genuine sign-in after refusals = %d", r.StatusCode)
	}
	// …and a replay of it is refused and creates no session.
	r = a.do(t, "POST", "/auth/verify", verifyBody(good, sign(key, good)), nil)
	if code, _ := apiError(t, r); r.StatusCode != 401 || code != "nonce_invalid" || sessionCookie(r) != "" {
		t.Fatalf("replay = %d %s", r.StatusCode, code)
	}
	// A made-up nonce is refused the same way.
	n.Nonce = "madeupnonce12345"
	forged := message(n, addr)
	r = a.do(t, "POST", "/auth/verify", verifyBody(forged, sign(key, forged)), nil)
	if code, _ := apiError(t, r); r.StatusCode != 401 || code != "nonce_invalid" {
		t.Fatalf("unissued nonce = %d %s", r.StatusCode, code)
	}
	// Oversized bodies are refused before parsing.
	r = a.do(t, "POST", "/auth/verify", `{"message":"`+strings.Repeat("a", 2<<20)+`"}`, nil)
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB body = %d", r.StatusCode)
	}
}

func TestSessionRotationAndLogout(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	key, _ := crypto.GenerateKey()
	first := a.signIn(t, key)
	// Signing in again from the same browser replaces the session.
	msg := message(a.nonce(t), crypto.PubkeyToAddress(key.PublicKey).Hex())
	r := a.do(t, "POST", "/auth/verify", verifyBody(msg, sign(key, msg)), withSession(first))
	second := sessionCookie(r)
	if second == "" || second == first {
		t.Fatalf("session not rotated: %q", second)
	}
	if r := a.do(t, "GET", "/api/v1/me", "", withSession(first)); r.StatusCode != 401 {
		t.Fatalf("old session still works: %d", r.StatusCode)
	}
	// A cross-site logout is refused and changes nothing.
	h := withSession(second)
	h["Origin"], h["Sec-Fetch-Site"] = "http://evil.test", "cross-site"
	if r := a.do(t, "POST", "/auth/logout", "", h); r.StatusCode != 403 {
		t.Fatalf("cross-site logout = %d, want 403", r.StatusCode)
	}
	if r := a.do(t, "GET", "/api/v1/me", "", withSession(second)); r.StatusCode != 200 {
		t.Fatalf("session lost after refused cross-site request: %d", r.StatusCode)
	}
	r = a.do(t, "POST", "/auth/logout", "", withSession(second))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d", r.StatusCode)
	}
	if r := a.do(t, "GET", "/api/v1/me", "", withSession(second)); r.StatusCode != 401 {
		t.Fatalf("session works after logout: %d", r.StatusCode)
	}
}

var tokenRE = regexp.MustCompile(`mf_[A-Za-z0-9_-]{43}`)

func TestPersonalAccessTokens(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	key, _ := crypto.GenerateKey()
	sess := a.signIn(t, key)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": handlers.SessionCookie + "=" + sess}

	// Invalid input: field errors, nothing created.
	r := a.do(t, "POST", "/settings/tokens", "name=&expiry_days=999", form)
	body := readAll(t, r)
	if r.StatusCode != http.StatusUnprocessableEntity || tokenRE.MatchString(body) {
		t.Fatalf("invalid token form = %d", r.StatusCode)
	}
	if !strings.Contains(body, "between 1 and 365 days") {
		t.Fatal("expiry error not shown")
	}
	u, _ := a.store.UpsertUser(context.Background(), crypto.PubkeyToAddress(key.PublicKey).Hex())
	if list, _ := a.store.APITokens(context.Background(), u.ID); len(list) != 0 {
		t.Fatalf("invalid form created %d tokens", len(list))
	}

	r = a.do(t, "POST", "/settings/tokens", "name=ci+runner&expiry_days=30", form)
	body = readAll(t, r)
	token := tokenRE.FindString(body)
	if r.StatusCode != 200 || token == "" {
		t.Fatalf("create token = %d, token shown: %v", r.StatusCode, token != "")
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Error("page with a secret is cacheable")
	}
	// Shown once: the settings page no longer contains it.
	if again := readAll(t, a.do(t, "GET", "/settings/tokens", "", withSession(sess))); strings.Contains(again, token) {
		t.Fatal("token secret shown twice")
	}
	bearer := map[string]string{"Authorization": "Bearer " + token}
	if r := a.do(t, "GET", "/api/v1/me", "", bearer); r.StatusCode != 200 {
		t.Fatalf("me with token = %d", r.StatusCode)
	}
	r = a.do(t, "GET", "/api/v1/me", "", map[string]string{"Authorization": "Bearer mf_wrong"})
	if code, _ := apiError(t, r); r.StatusCode != 401 || code != "bad_token" {
		t.Fatalf("wrong token = %d %s", r.StatusCode, code)
	}
	list, _ := a.store.APITokens(context.Background(), u.ID)
	if len(list) != 1 {
		t.Fatalf("tokens = %d", len(list))
	}
	r = a.do(t, "POST", fmt.Sprintf("/settings/tokens/%d/revoke", list[0].ID), "", form)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke = %d", r.StatusCode)
	}
	if r := a.do(t, "GET", "/api/v1/me", "", bearer); r.StatusCode != 401 {
		t.Fatalf("revoked token still works: %d", r.StatusCode)
	}
}

func TestRolesAndErrorPages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	user, _ := crypto.GenerateKey()
	us, as := a.signIn(t, user), a.signIn(t, a.admin)

	if r := a.do(t, "GET", "/admin/", "", withSession(us)); r.StatusCode != 403 {
		t.Fatalf("admin page for user = %d", r.StatusCode)
	}
	if r := a.do(t, "GET", "/admin/", "", withSession(as)); r.StatusCode != 200 {
		t.Fatalf("admin page for admin = %d", r.StatusCode)
	}
	// Signed-out pages redirect to sign-in, APIs answer 401 JSON.
	if r := a.do(t, "GET", "/datanets", "", nil); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/?next=") {
		t.Fatalf("signed-out page = %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	r := a.do(t, "GET", "/api/v1/nothing", "", withSession(us))
	if code, _ := apiError(t, r); r.StatusCode != 404 || code != "not_found" {
		t.Fatalf("unknown API = %d %s", r.StatusCode, code)
	}
	r = a.do(t, "GET", "/no/such/page", "", nil)
	body := readAll(t, r)
	if r.StatusCode != 404 || !strings.Contains(body, "<html") || !strings.Contains(body, "Page not found") {
		t.Fatalf("404 page = %d", r.StatusCode)
	}
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("security headers missing: %q", csp)
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	t.Parallel()
	a := newApp(t,
		handlers.ReadyCheck{Name: "database", Check: func(context.Context) error { return nil }},
		handlers.ReadyCheck{Name: "chain", Check: func(context.Context) error { return errors.New("connection refused") }},
	)
	if r := a.do(t, "GET", "/healthz", "", nil); r.StatusCode != 200 {
		t.Fatalf("healthz = %d", r.StatusCode)
	}
	r := a.do(t, "GET", "/readyz", "", nil)
	var ready struct {
		Status     string
		Components map[string]struct{ Status string }
	}
	if err := json.NewDecoder(r.Body).Decode(&ready); err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 503 || ready.Components["chain"].Status != "error" || ready.Components["database"].Status != "ok" {
		t.Fatalf("readyz = %d %+v", r.StatusCode, ready)
	}
	metrics := readAll(t, a.do(t, "GET", "/metrics", "", nil))
	for _, want := range []string{`modelfactory_http_request_duration_seconds_bucket{code="503",method="GET",route="/readyz"`, `modelfactory_river_jobs{state="available"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	_ = time.Second
}

func TestLogLinesCarryRequestID(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	log := slog.New(web.LogHandler(slog.NewTextHandler(&buf, nil)))
	h := web.NewRouter(web.Options{Handlers: mustHandlers(t, log), Log: log})
	req := httptest.NewRequest("GET", "/no/such/page", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if !strings.Contains(buf.String(), "request_id=") {
		t.Fatalf("log lacks request IDs:\n%s", buf.String())
	}
}

func mustHandlers(t *testing.T, log *slog.Logger) *handlers.Handlers {
	t.Helper()
	u, _ := url.Parse(publicURL)
	h, err := handlers.New(handlers.Deps{Store: store.New(pgtest.New(t)), Log: log, PublicURL: u, Chain: views.ChainInfo{ChainID: 1337}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}
