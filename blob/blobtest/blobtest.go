// Package blobtest holds the contract test suite that every
// [blob.Store] implementation must pass.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modelfactory/modelfactory/blob"
)

// RunContract runs the contract suite as subtests of t. newStore is called
// once per subtest and must return an empty store that stays usable until the
// subtest ends (register clean-up with t.Cleanup).
func RunContract(t *testing.T, newStore func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, blob.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"EmptyObject", testEmptyObject},
		{"DefaultContentType", testDefaultContentType},
		{"Overwrite", testOverwrite},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"List", testList},
		{"ListInvalidPrefix", testListInvalidPrefix},
		{"InvalidKeys", testInvalidKeys},
		{"InvalidContentType", testInvalidContentType},
		{"SizeMismatch", testSizeMismatch},
		{"FailedUploadKeepsOldObject", testFailedUpload},
		{"LargeUnknownSize", testLargeUnknownSize},
		{"LargeKnownSize", testLargeKnownSize},
		{"ConcurrentPuts", testConcurrentPuts},
		{"AtomicOverwrite", testAtomicOverwrite},
		{"PutContent", testPutContent},
		{"PutContentLarge", testPutContentLarge},
		{"PutContentInvalidPrefix", testPutContentInvalidPrefix},
		{"CancelledContext", testCancelledContext},
		{"CancelDuringUpload", testCancelDuringUpload},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// onlyReader hides every method but Read, so stores cannot seek or learn
// the size: the body must be streamed.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// patternReader yields n pseudo-random bytes determined by seed without
// holding them in memory.
func patternReader(seed uint64, n int64) io.Reader {
	return io.LimitReader(&prngReader{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}, n)
}

type prngReader struct{ r *rand.Rand }

func (p *prngReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.r.Uint32())
	}
	return len(b), nil
}

func sha256Hex(r io.Reader) (string, int64) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		panic(err) // only used on in-memory generators
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func put(t *testing.T, s blob.Store, key string, data []byte, ct string) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), ct); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, s blob.Store, key string) ([]byte, blob.Info) {
	t.Helper()
	rc, info, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return data, info
}

func keys(t *testing.T, s blob.Store, prefix string) []string {
	t.Helper()
	infos, err := blob.ListAll(t.Context(), s, prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	out := []string{}
	for _, i := range infos {
		out = append(out, i.Key)
	}
	return out
}

func mustNotExist(t *testing.T, s blob.Store, key string) {
	t.Helper()
	if info, err := s.Stat(t.Context(), key); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat(%q) = %+v, %v; want ErrNotFound", key, info, err)
	}
}

func testRoundTrip(t *testing.T, s blob.Store) {
	data := []byte("hello, datanet\x00\xff binary ok")
	const ct = "text/plain; charset=utf-8"
	put(t, s, "dir/sub/hello.txt", data, ct)

	got, info := get(t, s, "dir/sub/hello.txt")
	if !bytes.Equal(got, data) {
		t.Errorf("Get content = %q, want %q", got, data)
	}
	if info.Key != "dir/sub/hello.txt" || info.Size != int64(len(data)) || info.ContentType != ct {
		t.Errorf("Get info = %+v, want key, size %d, content type %q", info, len(data), ct)
	}
	if info.ModTime.IsZero() || info.ETag == "" {
		t.Errorf("Get info = %+v, want ModTime and ETag set", info)
	}

	st, err := s.Stat(t.Context(), "dir/sub/hello.txt")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Key != info.Key || st.Size != info.Size || st.ContentType != info.ContentType || st.ETag != info.ETag {
		t.Errorf("Stat = %+v, Get info = %+v; want equal", st, info)
	}
	if !st.ModTime.Equal(info.ModTime) {
		t.Errorf("Stat ModTime %v != Get ModTime %v", st.ModTime, info.ModTime)
	}

	// Keys with characters that need escaping in URLs and paths.
	odd := "odd/spaces and+plus%25?q=1#frag&ü€😀/'quote\"/ok"
	put(t, s, odd, []byte("odd"), "application/x-odd")
	if got, _ := get(t, s, odd); string(got) != "odd" {
		t.Errorf("Get(%q) = %q, want %q", odd, got, "odd")
	}
	if ks := keys(t, s, "odd/"); !slices.Equal(ks, []string{odd}) {
		t.Errorf("List(odd/) = %q, want [%q]", ks, odd)
	}
}

func testEmptyObject(t *testing.T, s blob.Store) {
	put(t, s, "empty", nil, "text/plain")
	got, info := get(t, s, "empty")
	if len(got) != 0 || info.Size != 0 {
		t.Errorf("empty object: got %d bytes, info.Size %d", len(got), info.Size)
	}
	// Unknown size, empty reader.
	if err := s.Put(t.Context(), "empty2", onlyReader{strings.NewReader("")}, -1, ""); err != nil {
		t.Fatalf("Put empty unknown size: %v", err)
	}
	if st, err := s.Stat(t.Context(), "empty2"); err != nil || st.Size != 0 {
		t.Errorf("Stat(empty2) = %+v, %v; want size 0", st, err)
	}
}

func testDefaultContentType(t *testing.T, s blob.Store) {
	put(t, s, "noct", []byte("x"), "")
	st, err := s.Stat(t.Context(), "noct")
	if err != nil {
		t.Fatal(err)
	}
	if st.ContentType != blob.DefaultContentType {
		t.Errorf("ContentType = %q, want %q", st.ContentType, blob.DefaultContentType)
	}
}

func testOverwrite(t *testing.T, s blob.Store) {
	put(t, s, "k", []byte("first version, longer"), "text/plain")
	first, err := s.Stat(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "k", []byte("second"), "application/json")
	got, info := get(t, s, "k")
	if string(got) != "second" || info.Size != 6 || info.ContentType != "application/json" {
		t.Errorf("after overwrite: %q %+v", got, info)
	}
	if info.ETag == first.ETag {
		t.Errorf("ETag unchanged (%q) after content changed", info.ETag)
	}
	if ks := keys(t, s, ""); !slices.Equal(ks, []string{"k"}) {
		t.Errorf("List = %q, want [k]", ks)
	}
}

func testNotFound(t *testing.T, s blob.Store) {
	ctx := t.Context()
	if rc, _, err := s.Get(ctx, "missing/key"); !errors.Is(err, blob.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Get(missing) err = %v, want ErrNotFound", err)
	}
	mustNotExist(t, s, "missing/key")

	// A prefix of an existing key is not an object.
	put(t, s, "parent/child", []byte("x"), "")
	mustNotExist(t, s, "parent")
	if _, _, err := s.Get(ctx, "parent"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get(parent) err = %v, want ErrNotFound", err)
	}
	mustNotExist(t, s, "parent/chil")
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := t.Context()
	put(t, s, "a/b/c", []byte("x"), "")
	put(t, s, "a/b2", []byte("y"), "")
	if err := s.Delete(ctx, "a/b/c"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustNotExist(t, s, "a/b/c")
	if err := s.Delete(ctx, "a/b/c"); err != nil {
		t.Errorf("second Delete: %v, want nil", err)
	}
	if err := s.Delete(ctx, "never/existed"); err != nil {
		t.Errorf("Delete(never existed): %v, want nil", err)
	}
	if ks := keys(t, s, ""); !slices.Equal(ks, []string{"a/b2"}) {
		t.Errorf("List after delete = %q, want [a/b2]", ks)
	}
	// The emptied "directory" can be used again.
	put(t, s, "a/b/d", []byte("z"), "")
	if got, _ := get(t, s, "a/b/d"); string(got) != "z" {
		t.Errorf("Get(a/b/d) = %q", got)
	}
}

func testList(t *testing.T, s blob.Store) {
	// Chosen so that naive directory walks order them wrongly: '-' < '.' <
	// '/' < '0' in bytes, and non-ASCII sorts after ASCII.
	all := []string{
		"lis",
		"list/a-b",
		"list/a.d",
		"list/a.f",
		"list/a/x",
		"list/a/y/z",
		"list/a0",
		"list/b",
		"list/ä",
		"listx",
		"m",
	}
	shuffled := slices.Clone(all)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i, k := range shuffled {
		put(t, s, k, bytes.Repeat([]byte{'x'}, i+1), "text/plain")
	}

	cases := []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"list/", all[1:9]},
		{"list", all[1:10]},
		{"list/a", all[1:7]},
		{"list/a/", all[4:6]},
		{"list/a/y/", all[5:6]},
		{"list/a.", all[2:4]},
		{"list/ä", all[8:9]},
		{"nothing/", nil},
		{"list/a/y/z/", nil},
		{"list//", nil},
		{"list/../", nil},
	}
	for _, c := range cases {
		got := keys(t, s, c.prefix)
		want := c.want
		if want == nil {
			want = []string{}
		}
		if !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", c.prefix, got, want)
		}
	}

	// Listed metadata agrees with Stat.
	infos, err := blob.ListAll(t.Context(), s, "list/")
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		st, err := s.Stat(t.Context(), info.Key)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != st.Size || info.ETag != st.ETag || info.ModTime.IsZero() {
			t.Errorf("List info %+v disagrees with Stat %+v", info, st)
		}
	}

	// Stopping early is allowed.
	n := 0
	for _, err := range s.List(t.Context(), "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("early break: saw %d entries", n)
	}
}

func testListInvalidPrefix(t *testing.T, s blob.Store) {
	for _, p := range []string{"/abs", "a\\b", "a\x00", "bad\nprefix", "\xff", strings.Repeat("p", blob.MaxKeyLen+1)} {
		var gotErr error
		for _, err := range s.List(t.Context(), p) {
			gotErr = err
			break
		}
		if !errors.Is(gotErr, blob.ErrInvalidKey) {
			t.Errorf("List(%q) err = %v, want ErrInvalidKey", p, gotErr)
		}
	}
}

// InvalidKeys are keys every store must reject.
var InvalidKeys = []string{
	"",
	"/",
	"/leading",
	"trailing/",
	"double//slash",
	".",
	"..",
	"../escape",
	"a/../../escape",
	"a/./b",
	"a/..",
	"back\\slash",
	"..\\escape",
	"nul\x00byte",
	"new\nline",
	"tab\tchar",
	"del\x7f",
	"c1\u0085control",
	"bad\xffutf8",
	strings.Repeat("k", blob.MaxKeyLen+1),
	strings.Repeat("s", blob.MaxSegmentLen+1),
	"ok/" + strings.Repeat("s", blob.MaxSegmentLen+1),
}

func testInvalidKeys(t *testing.T, s blob.Store) {
	ctx := t.Context()
	for _, key := range InvalidKeys {
		if err := blob.ValidateKey(key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Put(ctx, key, strings.NewReader("data"), 4, "text/plain"); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q) err = %v, want ErrInvalidKey", key, err)
		}
		if rc, _, err := s.Get(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Get(%q) err = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Stat(%q) err = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Delete(%q) err = %v, want ErrInvalidKey", key, err)
		}
	}
	if ks := keys(t, s, ""); len(ks) != 0 {
		t.Errorf("invalid puts wrote objects: %q", ks)
	}
	// The longest valid key and segment are accepted.
	longest := strings.Repeat(strings.Repeat("s", blob.MaxSegmentLen)+"/", 4)
	longest += strings.Repeat("t", blob.MaxKeyLen-len(longest))
	put(t, s, longest, []byte("long"), "")
	if got, _ := get(t, s, longest); string(got) != "long" {
		t.Errorf("longest key: got %q", got)
	}
}

func testInvalidContentType(t *testing.T, s blob.Store) {
	for _, ct := range []string{"text/plain\r\nX-Injected: 1", "text/\x00plain", strings.Repeat("a", blob.MaxContentTypeLen+1), "tëxt/plain"} {
		if err := s.Put(t.Context(), "ct", strings.NewReader("x"), 1, ct); err == nil {
			t.Errorf("Put with content type %q succeeded, want error", ct)
		}
	}
	mustNotExist(t, s, "ct")
}

func testSizeMismatch(t *testing.T, s blob.Store) {
	ctx := t.Context()
	put(t, s, "sized", []byte("original"), "text/plain")
	for _, c := range []struct {
		data string
		size int64
	}{
		{"short", 10},
		{"much longer than declared", 5},
		{"", 1},
		{"x", 0},
	} {
		if err := s.Put(ctx, "sized", onlyReader{strings.NewReader(c.data)}, c.size, "text/plain"); err == nil {
			t.Errorf("Put %d bytes declared as %d succeeded, want error", len(c.data), c.size)
		}
		if err := s.Put(ctx, "fresh", onlyReader{strings.NewReader(c.data)}, c.size, "text/plain"); err == nil {
			t.Errorf("Put %d bytes declared as %d succeeded, want error", len(c.data), c.size)
		}
	}
	if got, _ := get(t, s, "sized"); string(got) != "original" {
		t.Errorf("failed puts changed the object to %q", got)
	}
	mustNotExist(t, s, "fresh")
}

// failingReader yields n bytes and then fails.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func testFailedUpload(t *testing.T, s blob.Store) {
	put(t, s, "stable", []byte("keep me"), "text/plain")
	boom := errors.New("reader exploded")
	// Small (single request) and large (multipart on S3) failures.
	for _, n := range []int64{100, 12 << 20} {
		err := s.Put(t.Context(), "stable", &failingReader{r: patternReader(1, n), err: boom}, -1, "")
		if err == nil {
			t.Fatalf("Put from a failing reader (%d bytes) succeeded", n)
		}
		err = s.Put(t.Context(), "fresh", &failingReader{r: patternReader(1, n), err: boom}, -1, "")
		if err == nil {
			t.Fatalf("Put from a failing reader (%d bytes) succeeded", n)
		}
	}
	if got, _ := get(t, s, "stable"); string(got) != "keep me" {
		t.Errorf("failed puts changed the object to %q", got)
	}
	mustNotExist(t, s, "fresh")
	if ks := keys(t, s, ""); !slices.Equal(ks, []string{"stable"}) {
		t.Errorf("List = %q, want [stable]", ks)
	}
}

func checkStreamed(t *testing.T, s blob.Store, key string, seed uint64, size int64) {
	t.Helper()
	want, _ := sha256Hex(patternReader(seed, size))
	rc, info, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, n := sha256Hex(rc)
	if got != want || n != size || info.Size != size {
		t.Errorf("large object: read %d bytes (info.Size %d), sha256 %s; want %d bytes, sha256 %s", n, info.Size, got, size, want)
	}
}

func testLargeUnknownSize(t *testing.T, s blob.Store) {
	const size = 20<<20 + 12345 // several parts on S3, odd tail
	if err := s.Put(t.Context(), "large/unknown", onlyReader{patternReader(7, size)}, -1, "application/x-large"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	checkStreamed(t, s, "large/unknown", 7, size)
	st, err := s.Stat(t.Context(), "large/unknown")
	if err != nil || st.Size != size || st.ContentType != "application/x-large" {
		t.Errorf("Stat = %+v, %v", st, err)
	}
}

func testLargeKnownSize(t *testing.T, s blob.Store) {
	const size = 9 << 20
	if err := s.Put(t.Context(), "large/known", onlyReader{patternReader(8, size)}, size, ""); err != nil {
		t.Fatalf("Put: %v", err)
	}
	checkStreamed(t, s, "large/known", 8, size)
}

func testConcurrentPuts(t *testing.T, s blob.Store) {
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			data := bytes.Repeat([]byte{byte('a' + i)}, 1000+i*4096)
			key := fmt.Sprintf("conc/%02d", i)
			if err := s.Put(t.Context(), key, bytes.NewReader(data), -1, "text/plain"); err != nil {
				errs <- fmt.Errorf("Put(%q): %w", key, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ks := keys(t, s, "conc/")
	if len(ks) != n {
		t.Fatalf("List = %d keys, want %d", len(ks), n)
	}
	for i := range n {
		got, _ := get(t, s, fmt.Sprintf("conc/%02d", i))
		if want := bytes.Repeat([]byte{byte('a' + i)}, 1000+i*4096); !bytes.Equal(got, want) {
			t.Errorf("conc/%02d: got %d bytes, want %d of %q", i, len(got), len(want), rune('a'+i))
		}
	}
}

func testAtomicOverwrite(t *testing.T, s blob.Store) {
	// Writers keep replacing one key with versions that are each a single
	// repeated byte; readers must only ever see a whole version.
	const size = 256 << 10
	put(t, s, "atomic", bytes.Repeat([]byte{'A'}, size), "")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v := byte('B' + (w*7+i)%20)
				if err := s.Put(t.Context(), "atomic", onlyReader{bytes.NewReader(bytes.Repeat([]byte{v}, size))}, -1, ""); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 40 {
		rc, info, err := s.Get(t.Context(), "atomic")
		if err != nil {
			t.Errorf("Get during overwrites: %v", err)
			break
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Errorf("read during overwrites: %v", err)
			break
		}
		if len(data) != size || info.Size != size || bytes.Count(data, data[:1]) != size {
			t.Errorf("saw a partial or mixed object: %d bytes, info.Size %d", len(data), info.Size)
			break
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Put during overwrites: %v", err)
	}
}

func testPutContent(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := []byte("content addressed bytes")
	sum := sha256.Sum256(data)
	wantHex := hex.EncodeToString(sum[:])

	key, gotHex, size, err := blob.PutContent(ctx, s, "cas/", bytes.NewReader(data))
	if err != nil {
		t.Fatalf("PutContent: %v", err)
	}
	if key != "cas/"+wantHex || gotHex != wantHex || size != int64(len(data)) {
		t.Fatalf("PutContent = %q, %q, %d; want %q, %q, %d", key, gotHex, size, "cas/"+wantHex, wantHex, len(data))
	}
	got, info := get(t, s, key)
	if !bytes.Equal(got, data) || info.ContentType != blob.DefaultContentType {
		t.Errorf("Get(%q) = %q, %+v", key, got, info)
	}

	key2, hex2, size2, err := blob.PutContent(ctx, s, "cas/", onlyReader{bytes.NewReader(data)})
	if err != nil || key2 != key || hex2 != wantHex || size2 != size {
		t.Errorf("second PutContent = %q, %q, %d, %v; want same key", key2, hex2, size2, err)
	}
	other, _, _, err := blob.PutContent(ctx, s, "cas/", strings.NewReader("different"))
	if err != nil || other == key {
		t.Errorf("PutContent(different) = %q, %v", other, err)
	}
	if ks := keys(t, s, "cas/"); len(ks) != 2 {
		t.Errorf("List(cas/) = %q, want 2 objects", ks)
	}
	// Empty content has a well-known digest.
	ek, eh, es, err := blob.PutContent(ctx, s, "", strings.NewReader(""))
	const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if err != nil || ek != emptySHA || eh != emptySHA || es != 0 {
		t.Errorf("PutContent(empty) = %q, %q, %d, %v", ek, eh, es, err)
	}
}

func testPutContentLarge(t *testing.T, s blob.Store) {
	const size = 10<<20 + 3
	want, _ := sha256Hex(patternReader(9, size))
	key, sum, n, err := blob.PutContent(t.Context(), s, "cas/big/", onlyReader{patternReader(9, size)})
	if err != nil {
		t.Fatalf("PutContent: %v", err)
	}
	if sum != want || n != size || key != "cas/big/"+want {
		t.Fatalf("PutContent = %q, %q, %d; want sha256 %s, %d bytes", key, sum, n, want, size)
	}
	checkStreamed(t, s, key, 9, size)
}

func testPutContentInvalidPrefix(t *testing.T, s blob.Store) {
	for _, p := range []string{"/abs/", "a//", "../", "x\\", "bad\x00"} {
		if _, _, _, err := blob.PutContent(t.Context(), s, p, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("PutContent(prefix %q) err = %v, want ErrInvalidKey", p, err)
		}
	}
	if ks := keys(t, s, ""); len(ks) != 0 {
		t.Errorf("invalid PutContent wrote %q", ks)
	}
}

func testCancelledContext(t *testing.T, s blob.Store) {
	put(t, s, "exists", []byte("x"), "")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with cancelled context: err = %v, want context.Canceled", op, err)
		}
	}
	check("Put", s.Put(ctx, "new", strings.NewReader("y"), 1, ""))
	_, _, err := s.Get(ctx, "exists")
	check("Get", err)
	_, err = s.Stat(ctx, "exists")
	check("Stat", err)
	check("Delete", s.Delete(ctx, "exists"))
	for _, err = range s.List(ctx, "") {
		break
	}
	check("List", err)
	check("Ping", s.Ping(ctx))
	_, _, _, err = blob.PutContent(ctx, s, "cas/", strings.NewReader("z"))
	check("PutContent", err)

	mustNotExist(t, s, "new")
	if _, err := s.Stat(t.Context(), "exists"); err != nil {
		t.Errorf("cancelled Delete removed the object: %v", err)
	}
}

// cancellingReader cancels its context after after bytes and keeps going.
type cancellingReader struct {
	r      io.Reader
	after  int64
	read   int64
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}

func testCancelDuringUpload(t *testing.T, s blob.Store) {
	for _, size := range []int64{1 << 20, 24 << 20} {
		ctx, cancel := context.WithCancel(t.Context())
		r := &cancellingReader{r: patternReader(3, size), after: size / 2, cancel: cancel}
		err := s.Put(ctx, "cancelled", onlyReader{r}, -1, "")
		cancel()
		if err == nil {
			t.Errorf("Put of %d bytes cancelled halfway succeeded", size)
		}
		mustNotExist(t, s, "cancelled")
	}
}

func testPing(t *testing.T, s blob.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
