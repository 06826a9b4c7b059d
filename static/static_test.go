package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestURLHashesContent(t *testing.T) {
	body, err := FS.ReadFile("app.css")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	want := "/static/app.css?v=" + hex.EncodeToString(sum[:])[:12]
	if got := URL("app.css"); got != want {
		t.Errorf("URL(app.css) = %q, want %q", got, want)
	}
	if got := URL("/app.css"); got != want {
		t.Errorf("URL(/app.css) = %q, want %q", got, want)
	}
	if got := URL("nope.js"); got != "/static/nope.js" {
		t.Errorf("URL(nope.js) = %q", got)
	}
	for _, name := range []string{"app.js", "theme.js", "wallet.js", "favicon.svg", "vendor/htmx.min.js", "vendor/htmx-ext-sse.min.js", "vendor/uplot.min.js", "vendor/uplot.min.css"} {
		if _, ok := Hash(name); !ok {
			t.Errorf("%s is not embedded", name)
		}
	}
}

func get(t *testing.T, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandler(t *testing.T) {
	hashed := get(t, URL("app.js"), nil)
	if hashed.StatusCode != 200 {
		t.Fatalf("GET %s: %d", URL("app.js"), hashed.StatusCode)
	}
	if ct := hashed.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("app.js Content-Type = %q", ct)
	}
	if cc := hashed.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("hashed URL Cache-Control = %q", cc)
	}
	body, _ := io.ReadAll(hashed.Body)
	want, _ := FS.ReadFile("app.js")
	if !bytes.Equal(body, want) {
		t.Error("app.js body differs from the embedded file")
	}

	stale := get(t, "/static/app.js?v=000000000000", nil)
	if cc := stale.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("stale hash Cache-Control = %q, want no-cache", cc)
	}
	if ct := get(t, URL("app.css"), nil).Header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("app.css Content-Type = %q", ct)
	}
	if ct := get(t, URL("favicon.svg"), nil).Header.Get("Content-Type"); ct != "image/svg+xml" {
		t.Errorf("favicon Content-Type = %q", ct)
	}

	for _, bad := range []string{"/static/", "/static/vendor", "/static/vendor/", "/static/nope.js", "/static/../static.go", "/static/./app.js", "/static//app.js", "/other/app.js", "/static/static.go", "/static/vendor.sh"} {
		if res := get(t, bad, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, res.StatusCode)
		}
	}

	req := httptest.NewRequest(http.MethodPost, URL("app.js"), nil)
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", rec.Code)
	}
}

func TestHandlerGzipAndETag(t *testing.T) {
	res := get(t, URL("vendor/htmx.min.js"), map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip for a client that accepts it; headers %v", res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	want, _ := FS.ReadFile("vendor/htmx.min.js")
	if !bytes.Equal(body, want) {
		t.Error("gunzipped body differs")
	}
	if v := res.Header.Get("Vary"); v != "Accept-Encoding" {
		t.Errorf("Vary = %q", v)
	}
	if res := get(t, URL("vendor/htmx.min.js"), map[string]string{"Accept-Encoding": "gzip;q=0"}); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent although q=0")
	}
	plain := get(t, URL("app.css"), nil)
	etag := plain.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if res := get(t, "/static/app.css", map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", res.StatusCode)
	}
}

func TestVendoredVersions(t *testing.T) {
	htmx, _ := FS.ReadFile("vendor/htmx.min.js")
	if !bytes.Contains(htmx, []byte(`version:"2.0.11"`)) {
		t.Error("vendor/htmx.min.js is not htmx 2.0.11")
	}
	sse, _ := FS.ReadFile("vendor/htmx-ext-sse.min.js")
	if !bytes.Contains(sse, []byte(`defineExtension("sse"`)) {
		t.Error("vendor/htmx-ext-sse.min.js is not the SSE extension")
	}
}

// --- WCAG 2.2 contrast of the design tokens ---------------------------------

type rgb [3]float64

func parseHex(t *testing.T, s string) rgb {
	t.Helper()
	var c rgb
	for i := range 3 {
		v, err := strconv.ParseUint(s[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatalf("bad colour %q", s)
		}
		c[i] = float64(v) / 255
	}
	return c
}

func luminance(c rgb) float64 {
	var l [3]float64
	for i, v := range c {
		if v <= 0.04045 {
			l[i] = v / 12.92
		} else {
			l[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

func contrast(a, b rgb) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

var lightDark = regexp.MustCompile(`--([a-z0-9-]+):\s*light-dark\((#[0-9a-f]{6}),\s*(#[0-9a-f]{6})\)`)

// tokens returns each colour token's light and dark value from app.css.
func tokens(t *testing.T, css string) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for _, m := range lightDark.FindAllStringSubmatch(css, -1) {
		if _, dup := out[m[1]]; !dup {
			out[m[1]] = [2]string{m[2], m[3]}
		}
	}
	return out
}

func TestContrastAA(t *testing.T) {
	raw, err := FS.ReadFile("app.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(raw)
	root := css[:strings.Index(css, ":root[data-theme")]
	tok := tokens(t, root)

	// foreground, background, minimum ratio (4.5 text, 3 for large text and
	// UI components such as focus rings).
	pairs := []struct {
		fg, bg string
		min    float64
	}{
		{"text", "bg", 4.5}, {"text", "surface", 4.5}, {"text", "surface-2", 4.5}, {"text", "sidebar", 4.5},
		{"text-muted", "bg", 4.5}, {"text-muted", "surface", 4.5}, {"text-muted", "surface-2", 4.5}, {"text-muted", "sidebar", 4.5}, {"text-muted", "surface-hover", 4.5},
		{"text-subtle", "bg", 4.5}, {"text-subtle", "surface", 4.5}, {"text-subtle", "sidebar", 4.5}, {"text-subtle", "surface-2", 4.5},
		{"accent-text", "bg", 4.5}, {"accent-text", "surface", 4.5}, {"accent-text", "accent-soft", 4.5},
		{"on-accent", "accent", 4.5}, {"on-accent", "accent-hover", 4.5},
		{"on-danger", "danger", 4.5}, {"on-danger", "danger-hover", 4.5},
		{"danger", "surface", 4.5}, {"danger", "danger-soft", 4.5},
		{"text", "success-soft", 4.5}, {"text", "warning-soft", 4.5}, {"text", "danger-soft", 4.5}, {"text", "info-soft", 4.5},
		{"focus", "bg", 3}, {"focus", "surface", 3}, {"border-strong", "surface", 1.3},
	}
	for _, p := range pairs {
		fg, ok1 := tok[p.fg]
		bg, ok2 := tok[p.bg]
		if !ok1 || !ok2 {
			t.Errorf("token --%s or --%s missing", p.fg, p.bg)
			continue
		}
		for i, theme := range []string{"light", "dark"} {
			if c := contrast(parseHex(t, fg[i]), parseHex(t, bg[i])); c < p.min {
				t.Errorf("%s: --%s %s on --%s %s has contrast %.2f, want ≥ %.1f", theme, p.fg, fg[i], p.bg, bg[i], c, p.min)
			}
		}
	}

	// Every status badge: its text on its own background.
	badge := regexp.MustCompile(`\.badge\[data-status="([a-z-]+)"\]\s*\{\s*--badge-fg:\s*light-dark\((#[0-9a-f]{6}),\s*(#[0-9a-f]{6})\);\s*--badge-bg:\s*light-dark\((#[0-9a-f]{6}),\s*(#[0-9a-f]{6})\)`)
	seen := map[string]bool{}
	fgs := map[string]string{}
	for _, m := range badge.FindAllStringSubmatch(css, -1) {
		seen[m[1]] = true
		for i, theme := range []string{"light", "dark"} {
			if c := contrast(parseHex(t, m[2+i]), parseHex(t, m[4+i])); c < 4.5 {
				t.Errorf("%s: badge %q contrast %.2f, want ≥ 4.5", theme, m[1], c)
			}
		}
		fgs[m[1]] = m[2]
	}
	vocabulary := []string{"draft", "pending", "processing", "in-review", "accepted", "rejected", "failed", "queued", "running", "succeeded", "cancelled", "published", "suspended"}
	colours := map[string]string{}
	for _, s := range vocabulary {
		if !seen[s] {
			t.Errorf("no badge colour for status %q", s)
			continue
		}
		if other, dup := colours[fgs[s]]; dup {
			t.Errorf("statuses %q and %q share colour %s; each needs its own", s, other, fgs[s])
		}
		colours[fgs[s]] = s
	}
}
