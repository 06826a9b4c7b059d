// Package static holds ModelFactory's front-end files — the CSS design
// system, the small app and wallet scripts and the vendored htmx, its SSE
// extension and uPlot — embedded into the binary so that a deployment is one
// file and `go build` needs no Node.
//
// Pages link files through URL, which appends a content hash; Handler serves
// them and lets browsers cache a hashed URL for a year, so a new release is
// picked up at once without stale assets.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// FS holds the embedded files, named relative to this folder
// ("app.css", "vendor/htmx.min.js", …).
//
//go:embed app.css app.js charts.js theme.js wallet.js rewards.js favicon.svg upload.js playground.js label.js vendor
var FS embed.FS

// Prefix is the URL path under which Handler serves the files.
const Prefix = "/static/"

// file is one embedded file prepared for serving.
type file struct {
	body        []byte
	gz          []byte // gzip-compressed body; nil when compression does not pay
	hash        string // first 12 hex digits of the body's SHA-256
	contentType string
}

// files is computed once from the immutable embedded FS. It is derived data
// rather than mutable global state: nothing writes to it after init.
var files = mustLoad()

// contentTypes is explicit so that responses do not depend on the host's
// MIME database (some minimal systems map .js to text/plain).
var contentTypes = map[string]string{
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
	".json": "application/json",
}

func mustLoad() map[string]*file {
	out := make(map[string]*file)
	err := fs.WalkDir(FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := FS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		f := &file{body: body, hash: hex.EncodeToString(sum[:])[:12], contentType: ct}
		if strings.HasPrefix(ct, "text/") || ct == "image/svg+xml" || ct == "application/json" {
			f.gz = compress(body)
		}
		out[name] = f
		return nil
	})
	if err != nil {
		// The files are compiled into the binary; failing to read them is a
		// build defect, not a runtime condition.
		panic("static: read embedded files: " + err.Error())
	}
	return out
}

func compress(body []byte) []byte {
	if len(body) < 1024 {
		return nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(body); err != nil {
		return nil
	}
	if err := zw.Close(); err != nil {
		return nil
	}
	if buf.Len() >= len(body) {
		return nil
	}
	return buf.Bytes()
}

// URL returns the cache-busted path of an embedded file, for example
// URL("app.css") == "/static/app.css?v=1a2b3c4d5e6f". An unknown name yields
// the plain path (which Handler answers with 404), so a typo shows up as a
// missing asset in the browser rather than a crash.
func URL(name string) string {
	name = strings.TrimPrefix(name, "/")
	f, ok := files[name]
	if !ok {
		return Prefix + name
	}
	return Prefix + name + "?v=" + f.hash
}

// Hash returns the content hash used in URL for name, and whether the file
// exists.
func Hash(name string) (string, bool) {
	f, ok := files[strings.TrimPrefix(name, "/")]
	if !ok {
		return "", false
	}
	return f.hash, true
}

// Handler serves the embedded files. Mount it at Prefix with the full request
// path (for chi: r.Handle("/static/*", static.Handler())). A request whose
// v= query equals the file's hash is cacheable for a year; any other request
// must revalidate (the ETag is the hash). Only GET and HEAD are allowed.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, ok := files[name]
	if !ok || name != path.Clean(name) {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+f.hash+`"`)
	if r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	body := f.body
	if f.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			h.Set("ETag", `"`+f.hash+`-gz"`)
			body = f.gz
		}
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q, found := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !found {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}
