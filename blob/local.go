package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Local is a [Store] kept in a directory of the local file system.
//
// Layout: the object "a/b/c" lives in the file ROOT/a.d/b.d/c.f. The suffixes
// keep the key "a" (file a.f) apart from the directory of "a/b" (a.d), so
// every S3 key layout works, and no mapped name can be "." or "..". Each file
// starts with a one-line header carrying the size, the SHA-256 of the content
// (used as ETag) and the content type, followed by the content itself; keeping
// metadata in the same file is what makes a Put a single atomic rename.
// Uploads are written to ROOT/.tmp, fsynced, then renamed into place.
//
// Several processes may share one directory (serve and worker on one host).
type Local struct {
	root string
	tmp  string
}

const (
	dirSuffix   = ".d"
	fileSuffix  = ".f"
	tmpDirName  = ".tmp"
	headerMagic = "MFBLOB1 "
	// headerLen excludes the content type: magic, 20-digit size, space,
	// 64 hex digits, space, content type, newline.
	headerFixedLen = len(headerMagic) + 20 + 1 + sha256.Size*2 + 1 + 1
	maxHeaderLen   = headerFixedLen + MaxContentTypeLen
	// staleTempAge is how old an upload temp file must be before NewLocal
	// treats it as left over by a crashed process. Other processes sharing
	// the directory may be writing younger ones.
	staleTempAge = 24 * time.Hour
	copyBufSize  = 256 << 10
)

// NewLocal opens (creating if needed) a local store rooted at dir.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("blob: local store: empty directory")
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: local store %q: %w", dir, err)
	}
	l := &Local{root: root, tmp: filepath.Join(root, tmpDirName)}
	if err := os.MkdirAll(l.tmp, 0o750); err != nil {
		return nil, fmt.Errorf("blob: local store: create %q: %w", l.tmp, err)
	}
	l.removeStaleTemps()
	return l, nil
}

// Root returns the absolute directory the store lives in.
func (l *Local) Root() string { return l.root }

func (l *Local) removeStaleTemps() {
	entries, err := os.ReadDir(l.tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTempAge {
			os.Remove(filepath.Join(l.tmp, e.Name()))
		}
	}
}

// path maps a valid key to its file.
func (l *Local) path(key string) string {
	segs := strings.Split(key, "/")
	parts := make([]string, 0, len(segs)+1)
	parts = append(parts, l.root)
	for _, s := range segs[:len(segs)-1] {
		parts = append(parts, s+dirSuffix)
	}
	parts = append(parts, segs[len(segs)-1]+fileSuffix)
	return filepath.Join(parts...)
}

// Put implements [Store].
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	ct, err := normalizeContentType(contentType)
	if err != nil {
		return err
	}
	tmp, _, _, err := l.writeTemp(ctx, r, size, ct)
	if err != nil {
		return fmt.Errorf("blob: local put %q: %w", key, err)
	}
	if err := l.commit(ctx, tmp, key); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("blob: local put %q: %w", key, err)
	}
	return nil
}

func (l *Local) putContent(ctx context.Context, prefix string, r io.Reader) (key, sum string, size int64, err error) {
	tmp, sum, size, err := l.writeTemp(ctx, r, -1, DefaultContentType)
	if err != nil {
		return "", "", 0, fmt.Errorf("put content: local: %w", err)
	}
	key = prefix + sum
	if info, err := l.Stat(ctx, key); err == nil && info.Size == size {
		os.Remove(tmp)
		return key, sum, size, nil
	}
	if err := l.commit(ctx, tmp, key); err != nil {
		os.Remove(tmp)
		return "", "", 0, fmt.Errorf("put content: local %q: %w", key, err)
	}
	return key, sum, size, nil
}

func formatHeader(size int64, sum []byte, ct string) []byte {
	return fmt.Appendf(nil, "%s%020d %x %s\n", headerMagic, size, sum, ct)
}

// writeTemp writes header and content to a new fsynced temp file and returns
// its path. On error the temp file is already removed.
func (l *Local) writeTemp(ctx context.Context, r io.Reader, size int64, ct string) (path, sum string, n int64, err error) {
	if err := ctx.Err(); err != nil {
		return "", "", 0, err
	}
	f, err := os.CreateTemp(l.tmp, "put-*")
	if err != nil {
		return "", "", 0, fmt.Errorf("create temp file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// The header has a fixed length for a given content type, so write a
	// placeholder now and the real size and digest once they are known.
	if _, err := f.Write(formatHeader(0, make([]byte, sha256.Size), ct)); err != nil {
		return "", "", 0, fmt.Errorf("write temp file: %w", err)
	}
	h := sha256.New()
	n, err = io.CopyBuffer(io.MultiWriter(f, h), ctxReader{ctx: ctx, r: newExactReader(r, size)}, make([]byte, copyBufSize))
	if err != nil {
		return "", "", 0, fmt.Errorf("write content: %w", err)
	}
	digest := h.Sum(nil)
	if _, err := f.WriteAt(formatHeader(n, digest, ct), 0); err != nil {
		return "", "", 0, fmt.Errorf("write temp file header: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", "", 0, fmt.Errorf("sync temp file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", "", 0, fmt.Errorf("close temp file: %w", err)
	}
	return f.Name(), hex.EncodeToString(digest), n, nil
}

// commit renames a finished temp file into place.
func (l *Local) commit(ctx context.Context, tmp, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	target := l.path(key)
	dir := filepath.Dir(target)
	var err error
	// A concurrent Delete may remove an emptied parent directory between
	// MkdirAll and Rename; try again a few times.
	for range 5 {
		if err = os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
		if err = os.Rename(tmp, target); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// open opens key's file and parses its header.
func (l *Local) open(key string) (*os.File, Info, int64, error) {
	f, err := os.Open(l.path(key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
			return nil, Info{}, 0, fmt.Errorf("%w: %q", ErrNotFound, key)
		}
		return nil, Info{}, 0, err
	}
	info, hdrLen, err := readHeader(f, key)
	if err != nil {
		f.Close()
		return nil, Info{}, 0, err
	}
	return f, info, hdrLen, nil
}

func readHeader(f *os.File, key string) (Info, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return Info{}, 0, err
	}
	if !st.Mode().IsRegular() {
		return Info{}, 0, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	buf := make([]byte, maxHeaderLen)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return Info{}, 0, fmt.Errorf("read header: %w", err)
	}
	corrupt := func(why string) error {
		return fmt.Errorf("blob: local object %q (%s) is corrupt: %s", key, f.Name(), why)
	}
	line, _, ok := bytes.Cut(buf[:n], []byte{'\n'})
	if !ok || len(line)+1 < headerFixedLen || !bytes.HasPrefix(line, []byte(headerMagic)) {
		return Info{}, 0, corrupt("bad header")
	}
	rest := string(line[len(headerMagic):])
	sizeStr, rest, _ := strings.Cut(rest, " ")
	etag, ct, _ := strings.Cut(rest, " ")
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	if err != nil || len(etag) != sha256.Size*2 {
		return Info{}, 0, corrupt("bad header fields")
	}
	hdrLen := int64(len(line) + 1)
	if st.Size() != hdrLen+size {
		return Info{}, 0, corrupt(fmt.Sprintf("file holds %d content bytes, header says %d", st.Size()-hdrLen, size))
	}
	return Info{Key: key, Size: size, ContentType: ct, ModTime: st.ModTime(), ETag: etag}, hdrLen, nil
}

// localReader reads an object's content; it also implements io.Seeker and
// io.ReaderAt (over the content only), which http.ServeContent can use.
type localReader struct {
	*io.SectionReader
	f *os.File
}

func (r *localReader) Close() error { return r.f.Close() }

// Get implements [Store]. The returned reader also implements io.ReadSeeker
// and io.ReaderAt.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, Info{}, err
	}
	f, info, hdrLen, err := l.open(key)
	if err != nil {
		return nil, Info{}, fmt.Errorf("blob: local get: %w", err)
	}
	return &localReader{SectionReader: io.NewSectionReader(f, hdrLen, info.Size), f: f}, info, nil
}

// Stat implements [Store].
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	f, info, _, err := l.open(key)
	if err != nil {
		return Info{}, fmt.Errorf("blob: local stat: %w", err)
	}
	f.Close()
	return info, nil
}

// Delete implements [Store].
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	target := l.path(key)
	if err := os.Remove(target); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("blob: local delete %q: %w", key, err)
	}
	// Prune directories the deletion emptied; Remove fails on the first
	// non-empty one, which ends the walk.
	for dir := filepath.Dir(target); dir != l.root && strings.HasPrefix(dir, l.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// List implements [Store].
func (l *Local) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(Info{}, err)
			return
		}
		// Start at the deepest directory the prefix names completely; only
		// the last, possibly partial, segment needs filtering.
		dir, base := l.root, ""
		segs := strings.Split(prefix, "/")
		for _, s := range segs[:len(segs)-1] {
			if s == "" || s == "." || s == ".." || len(s) > MaxSegmentLen {
				return // no valid key has this prefix
			}
			dir = filepath.Join(dir, s+dirSuffix)
			base += s + "/"
		}
		l.walk(ctx, dir, base, prefix, yield)
	}
}

type listEntry struct {
	name string // file name
	key  string // key, or key prefix ending in "/" for directories
	dir  bool
}

// walk yields the objects under dir (whose keys start with base) in key
// order. Sorting each directory's entries by key, with directories compared
// as "name/", gives global key order because all keys under a directory share
// that prefix and are therefore contiguous in the order.
func (l *Local) walk(ctx context.Context, dir, base, prefix string, yield func(Info, error) bool) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return true
		}
		return yield(Info{}, fmt.Errorf("blob: local list: %w", err))
	}
	list := make([]listEntry, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() && len(name) > len(dirSuffix) && strings.HasSuffix(name, dirSuffix):
			list = append(list, listEntry{name: name, key: base + strings.TrimSuffix(name, dirSuffix) + "/", dir: true})
		case e.Type().IsRegular() && len(name) > len(fileSuffix) && strings.HasSuffix(name, fileSuffix):
			list = append(list, listEntry{name: name, key: base + strings.TrimSuffix(name, fileSuffix)})
		}
	}
	slices.SortFunc(list, func(a, b listEntry) int { return strings.Compare(a.key, b.key) })
	for _, e := range list {
		if err := ctx.Err(); err != nil {
			yield(Info{}, err)
			return false
		}
		if e.dir {
			if strings.HasPrefix(e.key, prefix) || strings.HasPrefix(prefix, e.key) {
				if !l.walk(ctx, filepath.Join(dir, e.name), e.key, prefix, yield) {
					return false
				}
			}
			continue
		}
		if !strings.HasPrefix(e.key, prefix) {
			continue
		}
		info, err := l.statFile(filepath.Join(dir, e.name), e.key)
		if errors.Is(err, ErrNotFound) {
			continue // deleted while listing
		}
		if err != nil {
			yield(Info{}, fmt.Errorf("blob: local list: %w", err))
			return false
		}
		info.ContentType = "" // as on S3; see Store.List
		if !yield(info, nil) {
			return false
		}
	}
	return true
}

func (l *Local) statFile(path, key string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, ErrNotFound
		}
		return Info{}, err
	}
	defer f.Close()
	info, _, err := readHeader(f, key)
	return info, err
}

// Ping implements [Store]: the root must exist and be writable.
func (l *Local) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.CreateTemp(l.tmp, "ping-*")
	if err != nil {
		return fmt.Errorf("blob: local store %q not writable: %w", l.root, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
