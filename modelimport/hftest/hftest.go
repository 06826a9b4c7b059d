// Package hftest serves directories as Hugging Face model repositories over
// real HTTP (the file-list API and resolve downloads, with range requests
// and checksums as the hub sends them), and builds tiny GPT-2 models for
// tests of imports, training and inference.
package hftest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

// Hub is a fake Hugging Face hub.
type Hub struct {
	*httptest.Server
	// Token, when set, is required as a bearer token.
	Token string

	mu    sync.Mutex
	repos map[string]string // "org/name" → directory
	// Requests counts resolve downloads by file name.
	Requests map[string]int
	// Ranged counts downloads that asked for a byte range.
	Ranged int
	// FailAfter, when > 0, cuts resolve responses of FailFile after that
	// many bytes (once), to test resumption.
	FailFile  string
	FailAfter int
}

// Start serves repos ("org/name" → directory) until the test ends. Use
// hub.URL as MF_HF_ENDPOINT.
func Start(t testing.TB, repos map[string]string) *Hub {
	t.Helper()
	h := &Hub{repos: repos, Requests: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

// Add serves another repository.
func (h *Hub) Add(repo, dir string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.repos[repo] = dir
}

const revision = "0123456789abcdef0123456789abcdef01234567"

func (h *Hub) serve(w http.ResponseWriter, r *http.Request) {
	if h.Token != "" && r.Header.Get("Authorization") != "Bearer "+h.Token {
		http.Error(w, `{"error":"Access to this model is restricted"}`, http.StatusUnauthorized)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if rest, ok := strings.CutPrefix(p, "api/models/"); ok {
		// org/name/revision/rev
		parts := strings.SplitN(rest, "/", 4)
		if len(parts) < 4 || parts[2] != "revision" {
			http.NotFound(w, r)
			return
		}
		h.list(w, r, parts[0]+"/"+parts[1], parts[3])
		return
	}
	parts := strings.SplitN(p, "/", 5) // org/name/resolve/rev/file
	if len(parts) != 5 || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	dir, ok := h.repos[parts[0]+"/"+parts[1]]
	h.mu.Unlock()
	if !ok || (parts[3] != revision && parts[3] != "main") || strings.Contains(parts[4], "/") {
		http.NotFound(w, r)
		return
	}
	file := filepath.Join(dir, parts[4])
	f, err := os.Open(file)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, _ := f.Stat()
	h.mu.Lock()
	h.Requests[parts[4]]++
	if r.Header.Get("Range") != "" {
		h.Ranged++
	}
	cut := 0
	if h.FailFile == parts[4] && h.FailAfter > 0 {
		cut, h.FailAfter = h.FailAfter, 0
	}
	h.mu.Unlock()
	if cut > 0 {
		// Promise the whole file, send part of it, and drop the connection.
		w.Header().Set("Content-Length", fmt.Sprint(st.Size()))
		w.WriteHeader(http.StatusOK)
		buf := make([]byte, cut)
		n, _ := f.Read(buf)
		w.Write(buf[:n])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, parts[4], st.ModTime(), f)
}

type sibling struct {
	RFilename string `json:"rfilename"`
	BlobID    string `json:"blobId"`
	Size      int64  `json:"size"`
	LFS       *lfs   `json:"lfs,omitempty"`
}

type lfs struct {
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	PointerSize int    `json:"pointerSize"`
}

func (h *Hub) list(w http.ResponseWriter, r *http.Request, repo, rev string) {
	h.mu.Lock()
	dir, ok := h.repos[repo]
	h.mu.Unlock()
	if !ok || (rev != "main" && rev != revision) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"Repository not found"}`))
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	sibs := []sibling{{RFilename: ".gitattributes", BlobID: "a6344aac8c09253b3b630fb776ae94478aa0275b", Size: 1519}}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		git := sha1.Sum(append([]byte(fmt.Sprintf("blob %d\x00", len(b))), b...))
		s := sibling{RFilename: e.Name(), BlobID: hex.EncodeToString(git[:]), Size: int64(len(b))}
		if strings.HasSuffix(e.Name(), ".safetensors") || strings.HasSuffix(e.Name(), ".bin") {
			sum := sha256.Sum256(b)
			s.LFS = &lfs{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b)), PointerSize: 134}
		}
		sibs = append(sibs, s)
	}
	slices.SortFunc(sibs, func(a, b sibling) int { return strings.Compare(a.RFilename, b.RFilename) })
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": repo, "modelId": repo, "sha": revision, "private": false,
		"gated": false, "siblings": sibs})
}

// TinyGPT2 writes a tiny GPT-2 model that the native trainer loads
// (config.json, model.safetensors, tokenizer files) and a model card with
// the licence in its front matter into dir, and returns dir.
func TinyGPT2(t testing.TB, dir, license string) string {
	t.Helper()
	corpus := []string{"the quick brown fox jumps over the lazy dog", "func main() { fmt.Println(\"hello\") }", "a tiny model for tests"}
	tok, err := tokenizer.Train(slices.Values(corpus), 300, []string{"<|endoftext|>"})
	if err != nil {
		t.Fatal(err)
	}
	pool := gemm.NewPool(1)
	defer pool.Close()
	m, err := trainer.NewModel(trainer.Config{MaxSeqLen: 64, VocabSize: tok.VocabSize(), NumLayers: 1, NumHeads: 2, Channels: 16}, pool)
	if err != nil {
		t.Fatal(err)
	}
	m.InitRandom(1)
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	card := "---\nlicense: " + license + "\nlanguage: en\n---\n# Tiny GPT-2\n\nA model for tests.\n"
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(card), 0o644); err != nil {
		t.Fatal(err)
	}
	// A pickled copy of the weights, which imports must leave out.
	if err := os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), []byte("not imported"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
