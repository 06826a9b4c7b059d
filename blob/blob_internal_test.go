package blob

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestValidateKeyAccepts(t *testing.T) {
	for _, k := range []string{
		"a", "a/b", "datanets/12/files/abc.jsonl", "...", "a/.../b", ".hidden", "with space",
		"ünïcödé/😀", "a-b_c.d~e", "x.d", strings.Repeat("k", MaxSegmentLen),
	} {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
}

func TestValidateKeyErrorNamesReason(t *testing.T) {
	err := ValidateKey("a/../b")
	if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), `".."`) {
		t.Errorf("ValidateKey(a/../b) = %v", err)
	}
	long := ValidateKey(strings.Repeat("z", 5000))
	if long == nil || len(long.Error()) > 200 {
		t.Errorf("error for a 5000-byte key should be short, got %d bytes", len(long.Error()))
	}
}

// FuzzValidateKey checks the property the local store relies on: every key
// ValidateKey accepts maps to a path strictly inside the root.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../x", "a/../../b", "/etc/passwd", "a\\..\\b", "a/./b", "...", "a//b", ""} {
		f.Add(s)
	}
	l := &Local{root: "/srv/blobroot", tmp: "/srv/blobroot/.tmp"}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateKey(key) != nil {
			return
		}
		p := l.path(key)
		rel, err := filepath.Rel(l.root, p)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			t.Fatalf("key %q maps to %q, outside root", key, p)
		}
		if filepath.Clean(p) != p {
			t.Fatalf("key %q maps to unclean path %q", key, p)
		}
		if strings.HasPrefix(rel, tmpDirName) && (len(rel) == len(tmpDirName) || rel[len(tmpDirName)] == filepath.Separator) {
			t.Fatalf("key %q maps into the temp directory: %q", key, p)
		}
	})
}

func TestExactReader(t *testing.T) {
	for _, c := range []struct {
		data string
		size int64
		ok   bool
	}{
		{"hello", 5, true},
		{"", 0, true},
		{"hello", 4, false},
		{"hello", 6, false},
		{"", 1, false},
		{"x", 0, false},
	} {
		for _, r := range []io.Reader{strings.NewReader(c.data), iotest.OneByteReader(strings.NewReader(c.data)), iotest.DataErrReader(strings.NewReader(c.data))} {
			got, err := io.ReadAll(newExactReader(r, c.size))
			if c.ok && (err != nil || string(got) != c.data) {
				t.Errorf("exactReader(%q, %d) = %q, %v; want the data", c.data, c.size, got, err)
			}
			if !c.ok && !errors.Is(err, errSizeMismatch) {
				t.Errorf("exactReader(%q, %d) err = %v, want size mismatch", c.data, c.size, err)
			}
		}
	}
	// A reader error is passed through.
	boom := errors.New("boom")
	if _, err := io.ReadAll(newExactReader(iotest.ErrReader(boom), 3)); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
}

func TestNormalizeContentType(t *testing.T) {
	if ct, err := normalizeContentType(""); err != nil || ct != DefaultContentType {
		t.Errorf(`normalizeContentType("") = %q, %v`, ct, err)
	}
	if ct, err := normalizeContentType("image/png"); err != nil || ct != "image/png" {
		t.Errorf("normalizeContentType(image/png) = %q, %v", ct, err)
	}
}
