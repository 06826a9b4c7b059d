package blob_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/blob/blobtest"
)

func newLocal(t *testing.T) *blob.Local {
	t.Helper()
	l, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLocalContract(t *testing.T) {
	blobtest.RunContract(t, func(t *testing.T) blob.Store { return newLocal(t) })
}

// files lists every file under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLocalNeverEscapesRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	l, err := blob.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range blobtest.InvalidKeys {
		l.Put(t.Context(), key, strings.NewReader("x"), 1, "")
	}
	// Valid keys that look dangerous stay inside the root.
	for _, key := range []string{"...", "a/...", ".tmp", ".tmp/x", "x.d", "x.f", "x.f/y", "~", "$HOME"} {
		if err := l.Put(t.Context(), key, strings.NewReader(key), -1, ""); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "root" {
		t.Errorf("files written next to the root: %v", entries)
	}
	for _, f := range files(t, root) {
		if strings.HasPrefix(f, ".tmp"+string(filepath.Separator)) {
			t.Errorf("temp file left behind: %s", f)
		}
	}
	for _, key := range []string{"...", "a/...", ".tmp", ".tmp/x", "x.d", "x.f", "x.f/y", "~", "$HOME"} {
		rc, _, err := l.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != key {
			t.Errorf("Get(%q) = %q", key, got)
		}
	}
}

// The local store, unlike posix-backed S3 gateways, keeps S3's flat
// namespace: "a" and "a/b" can both exist.
func TestLocalKeyAndDirectoryCoexist(t *testing.T) {
	l := newLocal(t)
	ctx := t.Context()
	for _, k := range []string{"a", "a/b", "a/b/c", "a.d", "a.f"} {
		if err := l.Put(ctx, k, strings.NewReader(k), -1, ""); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
	}
	infos, err := blob.ListAll(ctx, l, "")
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, i := range infos {
		ks = append(ks, i.Key)
		if i.Size != int64(len(i.Key)) {
			t.Errorf("%q: size %d", i.Key, i.Size)
		}
	}
	if want := []string{"a", "a.d", "a.f", "a/b", "a/b/c"}; !slices.Equal(ks, want) {
		t.Errorf("List = %q, want %q", ks, want)
	}
	// Deleting the deepest key prunes its directories but keeps the rest.
	if err := l.Delete(ctx, "a/b/c"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.Root(), "a.d", "b.d")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directory a.d/b.d not pruned: %v", err)
	}
	if _, err := l.Stat(ctx, "a/b"); err != nil {
		t.Errorf("Stat(a/b) after deleting a/b/c: %v", err)
	}
}

func TestLocalGetIsSeekable(t *testing.T) {
	l := newLocal(t)
	if err := l.Put(t.Context(), "s", strings.NewReader("0123456789"), 10, "text/plain"); err != nil {
		t.Fatal(err)
	}
	rc, _, err := l.Get(t.Context(), "s")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rs, ok := rc.(io.ReadSeeker)
	if !ok {
		t.Fatalf("%T is not an io.ReadSeeker", rc)
	}
	// Offsets are relative to the content, not the file with its header.
	if _, err := rs.Seek(3, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(rs, buf); err != nil || string(buf) != "3456" {
		t.Errorf("after Seek(3): %q, %v", buf, err)
	}
	if end, err := rs.Seek(0, io.SeekEnd); err != nil || end != 10 {
		t.Errorf("Seek(0, end) = %d, %v; want 10", end, err)
	}
}

func TestLocalCorruptObject(t *testing.T) {
	l := newLocal(t)
	if err := l.Put(t.Context(), "c", strings.NewReader("content"), -1, ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(l.Root(), "c.f")
	for name, data := range map[string][]byte{
		"truncated": nil,
		"garbage":   []byte("not a blob header\nxx"),
		"short":     []byte("MFBLOB1 00000000000000000007 e3b0\n"),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Stat(t.Context(), "c"); err == nil || errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%s: Stat err = %v, want a corruption error", name, err)
		}
	}
	// A file whose content length disagrees with its header.
	if err := l.Put(t.Context(), "c", strings.NewReader("content"), -1, ""); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("extra")
	f.Close()
	if _, _, err := l.Get(t.Context(), "c"); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Get of a grown file: err = %v, want corruption error", err)
	}
}

func TestLocalRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	if _, err := blob.NewLocal(dir); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".tmp", "put-stale")
	fresh := filepath.Join(dir, ".tmp", "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(stale, old, old)
	if _, err := blob.NewLocal(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file (maybe another process's upload) removed: %v", err)
	}
}

func TestLocalPingUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: permissions are not enforced, checking a removed root instead")
	}
	dir := t.TempDir()
	l, err := blob.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := l.Ping(t.Context()); err == nil {
		t.Error("Ping with the root removed: nil error")
	}
}

func TestNewLocalErrors(t *testing.T) {
	if _, err := blob.NewLocal(""); err == nil {
		t.Error("NewLocal(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := blob.NewLocal(file); err == nil {
		t.Error("NewLocal(a regular file) succeeded")
	}
}

func BenchmarkLocalPut1MiB(b *testing.B) {
	l, err := blob.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := l.Put(b.Context(), "bench/obj", bytes.NewReader(data), int64(len(data)), ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLocalPutContent64MiB(b *testing.B) {
	l, err := blob.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 20)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tag := strconv.Itoa(i)
		r := io.MultiReader(strings.NewReader(tag), io.LimitReader(zeroReader{}, 64<<20-int64(len(tag))))
		if _, _, _, err := blob.PutContent(b.Context(), l, "bench/", r); err != nil {
			b.Fatal(err)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
