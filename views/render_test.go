package views

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
)

var (
	testNow   = time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)
	adminUser = &User{Address: "0x12Ab34cD56eF7890aBcDeF1234567890AbCdCd34", Roles: []string{"user", "admin"}, IsAdmin: true, OpenBalance: "12500000000000000000"}
	plainUser = &User{Address: "0x9f8E7d6C5b4A39281706F5e4d3C2b1A09F8e7D6c", Roles: []string{"user", "labeler"}}
	testChain = ChainInfo{ChainID: 1337, Name: "ModelFactory dev chain", RPCURL: "http://127.0.0.1:8545"}
)

func page(u *User, title, section string) Page {
	return Page{Title: title, Section: section, User: u, Chain: testChain, RequestID: "req-7f3a9c"}
}

func sampleTokens() TokenSettings {
	used := testNow.Add(-3 * time.Hour)
	revoked := testNow.Add(-24 * time.Hour)
	return TokenSettings{
		Now: testNow,
		Tokens: []APIToken{
			{ID: 1, Name: "training-notebook", Prefix: "mf_4kQ9", CreatedAt: testNow.Add(-72 * time.Hour), ExpiresAt: testNow.Add(27 * 24 * time.Hour), LastUsedAt: &used},
			{ID: 2, Name: "ci <pipeline>", Prefix: "mf_Zx81", CreatedAt: testNow.Add(-40 * 24 * time.Hour), ExpiresAt: testNow.Add(-10 * 24 * time.Hour)},
			{ID: 3, Name: "old-laptop", Prefix: "mf_aa01", CreatedAt: testNow.Add(-20 * 24 * time.Hour), ExpiresAt: testNow.Add(10 * 24 * time.Hour), RevokedAt: &revoked},
		},
		Form: TokenForm{ExpiryDays: "30"},
	}
}

func sampleDashboard() Dashboard {
	return Dashboard{
		Stats: []Stat{
			{Label: "Members", Value: 1284, Help: "Wallets that have signed in."},
			{Label: "Active sessions", Value: 37, Help: "Browsers signed in right now."},
			{Label: "Your API tokens", Value: 2, Help: "Live personal access tokens.", Href: "/settings/tokens"},
			{Label: "Jobs completed", Value: 90210, Help: "Background jobs finished."},
		},
		Jobs: []JobCount{
			{State: "completed", Count: 900}, {State: "running", Count: 12}, {State: "available", Count: 40},
			{State: "discarded", Count: 3}, {State: "retryable", Count: 5}, {State: "scheduled", Count: 20},
		},
		SignedInAt: testNow.Add(-5 * time.Minute),
	}
}

// pages are the rendered samples; TestRenderPages also writes them to
// $MF_RENDER_DIR (when set) so they can be looked at in a browser.
func pages() map[string]templ.Component {
	withNew := sampleTokens()
	withNew.NewToken = "mf_4kQ9secretSECRETsecret0123456789abcdef"
	withErr := sampleTokens()
	withErr.Form = TokenForm{Name: "", ExpiryDays: "400", Errors: map[string]string{
		"name": "Give the token a name, such as the script or machine that will use it.", "expiry_days": "Choose a lifetime between 1 and 365 days."}}
	devPage := page(nil, "Sign in", "")
	devPage.Dev = true
	flashPage := page(adminUser, "Dashboard", "dashboard")
	flashPage.Flashes = []Flash{{Kind: "success", Message: "Signed in as 0x12Ab…cd34."}, {Kind: "danger", Message: "Could not load the job counts."}}
	area := Area{Title: "Datanets", Icon: "database", Lead: "Datanets are domain datasets that a community builds together.",
		Bullets: []string{"Create a Datanet with a schema.", "Contribute files or single records.", "Publish immutable versions."}}
	run := page(adminUser, "Run 42", "finetunes")
	run.Charts = true
	loss := ChartSpec{Title: "Loss", XLabel: "step", Series: []ChartSeries{{Label: "train"}, {Label: "validation"}}, SSEEvent: "loss", Y: [][]*float64{{}, {}}}
	for i := 0; i <= 60; i++ {
		tr := 3.2*math.Exp(-float64(i)/18) + 0.4 + 0.05*math.Sin(float64(i))
		loss.X = append(loss.X, float64(i*10))
		loss.Y[0] = append(loss.Y[0], &tr)
		var val *float64
		if i%10 == 0 {
			v := tr + 0.12
			val = &v
		}
		loss.Y[1] = append(loss.Y[1], val)
	}
	return map[string]templ.Component{
		"chart":         chartPage(run, loss),
		"signin":        SignInPage(page(nil, "Sign in", "")),
		"signin-dev":    SignInPage(devPage),
		"dashboard":     DashboardPage(flashPage, sampleDashboard()),
		"dashboard-new": DashboardPage(page(plainUser, "Dashboard", "dashboard"), Dashboard{}),
		"area":          AreaPage(page(plainUser, "Datanets", "datanets"), area),
		"admin":         AdminPage(page(adminUser, "Admin", "admin")),
		"tokens":        TokensPage(page(adminUser, "API tokens", "settings"), sampleTokens()),
		"tokens-new":    TokensPage(page(adminUser, "API tokens", "settings"), withNew),
		"tokens-errors": TokensPage(page(adminUser, "API tokens", "settings"), withErr),
		"tokens-empty":  TokensPage(page(plainUser, "API tokens", "settings"), TokenSettings{}),
		"error-404":     ErrorPage(page(nil, "", ""), ErrorInfo{Status: 404}),
		"error-403":     ErrorPage(page(plainUser, "", ""), ErrorInfo{Status: 403}),
		"error-500":     ErrorPage(page(adminUser, "", ""), ErrorInfo{Status: 500}),
	}
}

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	return buf.String()
}

func TestRenderPages(t *testing.T) {
	dir := os.Getenv("MF_RENDER_DIR")
	for name, c := range pages() {
		html := render(t, c)
		if !strings.HasPrefix(html, "<!doctype html>") && !strings.HasPrefix(html, "<!DOCTYPE html>") {
			t.Errorf("%s: not a full document: %.40q", name, html)
		}
		assertCSPSafe(t, name, html)
		if dir != "" {
			if err := os.WriteFile(filepath.Join(dir, name+".html"), []byte(html), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// assertCSPSafe fails on markup our CSP (script-src 'self'; style-src
// 'self') would block: inline scripts, inline styles, event handler
// attributes and htmx's eval-based attributes.
func assertCSPSafe(t *testing.T, name, html string) {
	t.Helper()
	checks := map[string]*regexp.Regexp{
		"style attribute": regexp.MustCompile(`\sstyle=`),
		"style element":   regexp.MustCompile(`<style`),
		"on* handler":     regexp.MustCompile(`\son[a-z]+=`),
		"hx-on":           regexp.MustCompile(`hx-on`),
		"javascript: URL": regexp.MustCompile(`(?i)javascript:`),
	}
	for _, m := range regexp.MustCompile(`<script([^>]*)>([\s\S]*?)</script>`).FindAllStringSubmatch(html, -1) {
		attrs, body := m[1], strings.TrimSpace(m[2])
		switch {
		case strings.Contains(attrs, `type="application/json"`):
			// A JSON data block is never executed, so the CSP does not apply.
		case !strings.Contains(attrs, " src="):
			t.Errorf("%s: script without src: %q", name, m[0])
		case body != "":
			t.Errorf("%s: script with src and inline code: %q", name, m[0])
		}
	}
	for what, re := range checks {
		if m := re.FindString(html); m != "" {
			t.Errorf("%s: %s found: %q", name, what, m)
		}
	}
}

func TestLayoutNavigation(t *testing.T) {
	admin := render(t, AdminPage(page(adminUser, "Admin", "admin")))
	if !strings.Contains(admin, `href="/admin"`) {
		t.Error("admin does not see the Admin link")
	}
	if !regexp.MustCompile(`<a class="nav-link" href="/admin" aria-current="page">`).MatchString(admin) {
		t.Error("Admin section is not marked current on the admin page")
	}
	if n := strings.Count(admin, `aria-current="page"`); n != 2 { // sidebar + breadcrumb
		t.Errorf("aria-current=page appears %d times, want 2 (sidebar and breadcrumb)", n)
	}

	user := render(t, AreaPage(page(plainUser, "Datanets", "datanets"), Area{Title: "Datanets"}))
	if strings.Contains(user, `href="/admin"`) {
		t.Error("non-admin sees the Admin link")
	}
	if !strings.Contains(user, `<a class="nav-link" href="/datanets" aria-current="page">`) {
		t.Error("Datanets section is not marked current")
	}
	for _, href := range []string{"/", "/datanets", "/models", "/finetunes", "/playground", "/labeling", "/rewards", "/settings/tokens"} {
		if !strings.Contains(user, `href="`+href+`"`) {
			t.Errorf("sidebar lacks %s", href)
		}
	}
	// wallet pill: short address, full on hover, copy, network, sign out
	for _, want := range []string{
		"0x9f8E…7D6c", `title="` + plainUser.Address + `"`, `data-copy="` + plainUser.Address + `"`,
		"ModelFactory dev chain", `action="/auth/logout"`,
	} {
		if !strings.Contains(user, want) {
			t.Errorf("wallet pill lacks %q", want)
		}
	}
	if strings.Contains(user, " OPEN</span>") {
		t.Error("balance shown although unknown")
	}
	if !strings.Contains(admin, "12.5 OPEN") {
		t.Error("admin's 12.5 OPEN balance not shown")
	}
}

func TestAssetsAreCacheBusted(t *testing.T) {
	html := render(t, SignInPage(page(nil, "Sign in", "")))
	for _, asset := range []string{"app.css", "theme.js", "app.js", "wallet.js", "vendor/htmx.min.js", "vendor/htmx-ext-sse.min.js"} {
		if !regexp.MustCompile(`"/static/` + regexp.QuoteMeta(asset) + `\?v=[0-9a-f]{12}"`).MatchString(html) {
			t.Errorf("%s not linked with a content hash", asset)
		}
	}
	if strings.Contains(html, "uplot") {
		t.Error("uPlot loaded on a page without charts")
	}
	p := page(plainUser, "Run", "finetunes")
	p.Charts = true
	if html := render(t, AreaPage(p, Area{Title: "Run"})); !strings.Contains(html, "vendor/uplot.min.js?v=") || !strings.Contains(html, "vendor/uplot.min.css?v=") {
		t.Error("uPlot not loaded although Page.Charts is set")
	}
	if !strings.Contains(html, `name="htmx-config"`) || !strings.Contains(html, `&#34;allowEval&#34;:false`) {
		t.Error("htmx-config meta missing or allows eval")
	}
}

func TestSignInPage(t *testing.T) {
	plain := render(t, SignInPage(page(nil, "Sign in", "")))
	for _, want := range []string{`data-siwe="wallet"`, `data-chain-id="1337"`, `data-chain-name="ModelFactory dev chain"`, `data-rpc-url="http://127.0.0.1:8545"`, `id="wallet-status"`, `aria-live="polite"`, "Connect wallet"} {
		if !strings.Contains(plain, want) {
			t.Errorf("sign-in page lacks %q", want)
		}
	}
	if strings.Contains(plain, `data-siwe="dev"`) || strings.Contains(plain, "test wallet") {
		t.Error("dev test wallet offered without Page.Dev")
	}
	if strings.Contains(plain, `class="sidebar"`) {
		t.Error("sign-in page shows the app sidebar")
	}
	p := page(nil, "Sign in", "")
	p.Dev = true
	dev := render(t, SignInPage(p))
	if !strings.Contains(dev, `data-siwe="dev"`) || !strings.Contains(dev, "Use local test wallet (development only)") {
		t.Error("dev test wallet missing with Page.Dev")
	}
}

func TestDashboardPage(t *testing.T) {
	html := render(t, DashboardPage(page(adminUser, "Dashboard", "dashboard"), sampleDashboard()))
	for _, want := range []string{"1,284", "90,210", `href="/settings/tokens"`, `data-role="admin"`, `data-role="user"`,
		`class="fill-succeeded"`, `class="fill-running"`, "980", `href="/admin/jobs"`} {
		if !strings.Contains(html, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	// admin listed before user
	if strings.Index(html, `data-role="admin"`) > strings.Index(html, `data-role="user"`) {
		t.Error("roles not ordered by power")
	}
	one := render(t, DashboardPage(page(plainUser, "Dashboard", "dashboard"), Dashboard{Jobs: []JobCount{{State: "completed", Count: 1}, {State: "running", Count: 0}}}))
	if !strings.Contains(one, "1</strong> <span class=\"muted\">job in") {
		t.Error("one job not singular")
	}
	if strings.Contains(one, "<span>running</span>") {
		t.Error("zero-count state listed in the legend")
	}
	empty := render(t, DashboardPage(page(plainUser, "Dashboard", "dashboard"), Dashboard{}))
	if !strings.Contains(empty, "No background jobs yet") {
		t.Error("empty job state not explained")
	}
	if strings.Contains(empty, `href="/admin/jobs"`) {
		t.Error("job console offered to a non-admin")
	}
}

func TestTokensPage(t *testing.T) {
	s := sampleTokens()
	html := render(t, TokensPage(page(adminUser, "API tokens", "settings"), s))
	if strings.Contains(html, "Copy it now") {
		t.Error("new-token box shown without a new token")
	}
	for _, want := range []string{
		`id="tokens"`, `hx-post="/settings/tokens"`, `hx-target="#tokens"`, `hx-swap="outerHTML"`, `hx-indicator="#token-spinner"`,
		`method="post" action="/settings/tokens"`, `name="name"`, `name="expiry_days"`, `value="30"`, `min="1"`, `max="365"`,
		`action="/settings/tokens/1/revoke"`, `data-confirm=`, "mf_4kQ9…", "ci &lt;pipeline&gt;",
		`data-status="active"`, `data-status="expired"`, `data-status="revoked"`, "never",
		`datetime="2025-11-22T12:00:00Z"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("tokens page lacks %q", want)
		}
	}
	if strings.Contains(html, "/settings/tokens/2/revoke") || strings.Contains(html, "/settings/tokens/3/revoke") {
		t.Error("revoke offered for an expired or revoked token")
	}
	if strings.Contains(html, "<pipeline>") {
		t.Error("token name not escaped")
	}

	s.NewToken = "mf_secretvalue123"
	frag := render(t, TokensFragment(s))
	if !strings.HasPrefix(strings.TrimSpace(frag), `<div id="tokens"`) {
		t.Errorf("fragment does not start with #tokens: %.60q", frag)
	}
	if strings.Contains(frag, "<html") || strings.Contains(frag, "sidebar") {
		t.Error("fragment contains the page shell")
	}
	if strings.Count(frag, "mf_secretvalue123") != 2 { // shown once + copy button
		t.Errorf("new token appears %d times, want 2", strings.Count(frag, "mf_secretvalue123"))
	}

	s.NewToken = ""
	s.Form = TokenForm{Name: "x", ExpiryDays: "0", Errors: map[string]string{"expiry_days": "Choose between 1 and 365 days."}}
	errs := render(t, TokensFragment(s))
	if !strings.Contains(errs, `id="token-expiry-error"`) || !strings.Contains(errs, "Choose between 1 and 365 days.") {
		t.Error("field error not shown")
	}
	if !strings.Contains(errs, `aria-invalid="true" aria-describedby="token-expiry-help token-expiry-error"`) {
		t.Error("invalid field not marked and linked to its error")
	}
	if !strings.Contains(errs, `value="0"`) || !strings.Contains(errs, `value="x"`) {
		t.Error("submitted values not kept")
	}
}

func TestErrorPage(t *testing.T) {
	anon := render(t, ErrorPage(page(nil, "", ""), ErrorInfo{Status: 404}))
	for _, want := range []string{">404<", "Page not found", "req-7f3a9c", "Page not found · ModelFactory"} {
		if !strings.Contains(anon, want) {
			t.Errorf("404 page lacks %q", want)
		}
	}
	if strings.Contains(anon, `class="sidebar"`) {
		t.Error("signed-out error page shows the sidebar")
	}
	in := render(t, ErrorPage(page(plainUser, "", ""), ErrorInfo{Status: 403, Message: "Only admins can see jobs."}))
	if !strings.Contains(in, `class="sidebar"`) || !strings.Contains(in, "Only admins can see jobs.") || !strings.Contains(in, "Go to dashboard") {
		t.Error("signed-in 403 page lacks shell, message or way home")
	}
	odd := render(t, ErrorPage(page(nil, "", ""), ErrorInfo{Status: 0}))
	if !strings.Contains(odd, "Error") {
		t.Error("status 0 not handled")
	}
}

func TestBadgeVocabulary(t *testing.T) {
	for _, s := range []string{"draft", "pending", "processing", "in review", "in_review", "accepted", "rejected", "failed",
		"queued", "running", "succeeded", "cancelled", "canceled", "published", "suspended"} {
		html := render(t, Badge(s))
		key := StatusKey(s)
		if _, ok := statusLabels[key]; !ok {
			t.Errorf("%q maps to unknown key %q", s, key)
		}
		if !strings.Contains(html, `data-status="`+key+`"`) {
			t.Errorf("badge %q: %s", s, html)
		}
	}
	if got := StatusLabel("in_review"); got != "In review" {
		t.Errorf("StatusLabel(in_review) = %q", got)
	}
}

func TestFormatOPEN(t *testing.T) {
	cases := []struct {
		wei  string
		frac int
		want string
		ok   bool
	}{
		{"0", 4, "0", true},
		{"12500000000000000000", 4, "12.5", true},
		{"1234567000000000000000000", 2, "1,234,567", true},
		{"1000000000000000001", 18, "1.000000000000000001", true},
		{"1", 4, "<0.0001", true},
		{"123456789", 4, "<0.0001", true},
		{"-5", 4, "", false},
		{"12.5", 4, "", false},
		{"", 4, "", false},
	}
	for _, c := range cases {
		got, ok := FormatOPEN(c.wei, c.frac)
		if got != c.want || ok != c.ok {
			t.Errorf("FormatOPEN(%q, %d) = %q, %v; want %q, %v", c.wei, c.frac, got, ok, c.want, c.ok)
		}
	}
}

func TestFormatHelpers(t *testing.T) {
	if got := ShortAddress("0x12Ab34cD56eF7890aBcDeF1234567890AbCdCd34"); got != "0x12Ab…Cd34" {
		t.Errorf("ShortAddress = %q", got)
	}
	if got := ShortAddress("bob"); got != "bob" {
		t.Errorf("ShortAddress(bob) = %q", got)
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567"} {
		if got := FormatInt(n); got != want {
			t.Errorf("FormatInt(%d) = %q, want %q", n, got, want)
		}
	}
	tok := APIToken{ExpiresAt: testNow}
	if TokenStatus(tok, testNow) != "expired" || TokenStatus(tok, testNow.Add(-time.Second)) != "active" {
		t.Error("TokenStatus expiry boundary wrong")
	}
}

func TestPagination(t *testing.T) {
	p := Pager{Page: 2, PerPage: 20, Total: 1234, Href: "/datanets?q=law&page=9"}
	html := render(t, Pagination(p))
	for _, want := range []string{"21–40 of 1,234", "Page 2 of 62", `href="/datanets?page=1&amp;q=law"`, `href="/datanets?page=3&amp;q=law"`} {
		if !strings.Contains(html, want) {
			t.Errorf("pagination lacks %q in %s", want, html)
		}
	}
	last := render(t, Pagination(Pager{Page: 1, PerPage: 20, Total: 0, Href: "/x"}))
	if !strings.Contains(last, "0–0 of 0") || strings.Contains(last, "rel=\"next\"") || strings.Contains(last, "rel=\"prev\"") {
		t.Errorf("empty list pagination: %s", last)
	}
	if got := render(t, SortHeader("Name", "/x?sort=name", "ascending")); !strings.Contains(got, `aria-sort="ascending"`) {
		t.Errorf("SortHeader: %s", got)
	}
}

func TestHashAndAmount(t *testing.T) {
	h := "0x" + strings.Repeat("ab", 32)
	html := render(t, HashText(h))
	if !strings.Contains(html, "0xababab…ababab") || !strings.Contains(html, `data-copy="`+h+`"`) {
		t.Errorf("HashText: %s", html)
	}
	if got := render(t, Amount("1500000000000000000")); !strings.Contains(got, "1.5 OPEN") || !strings.Contains(got, `title="1500000000000000000 wei"`) {
		t.Errorf("Amount: %s", got)
	}
	if got := render(t, Amount("lots")); !strings.Contains(got, "—") {
		t.Errorf("Amount(invalid): %s", got)
	}
}

// chartPage shows a chart inside the shell, as a fine-tune run page will.
func chartPage(p Page, c ChartSpec) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return Layout(p).Render(templ.WithChildren(ctx, Chart("loss-chart", c)), w)
	})
}

func TestChart(t *testing.T) {
	c := ChartSpec{Title: "Loss", Series: []ChartSeries{{Label: "train", Unit: "nats"}}, X: []float64{1, 2}, Y: [][]*float64{{ptr(2.5), nil}}, SSEEvent: "loss"}
	html := render(t, Chart("c1", c))
	for _, want := range []string{`data-chart`, `sse-swap="loss"`, `hx-swap="none"`, `<script id="c1-data" type="application/json">`, `"y":[[2.5,null]]`, `"unit":"nats"`, "<figcaption>Loss</figcaption>"} {
		if !strings.Contains(html, want) {
			t.Errorf("chart lacks %q in %s", want, html)
		}
	}
	c.Series[0].Label = "</script><script>alert(1)</script>"
	if html := render(t, Chart("c2", c)); strings.Contains(html, "</script><script>alert") {
		t.Error("series label breaks out of the JSON block")
	}
	c.SSEEvent = ""
	if html := render(t, Chart("c3", c)); strings.Contains(html, "sse-swap") {
		t.Error("sse-swap set on a static chart")
	}
}

func ptr(f float64) *float64 { return &f }
