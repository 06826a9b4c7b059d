// Package blob stores objects (dataset files, adapters, checkpoints, reports)
// behind one small interface with two implementations: [Local], a directory
// on the local file system used as the embedded default, and [S3], any
// S3-compatible object store reached through aws-sdk-go-v2.
//
// Both implementations satisfy the same contract, which is checked by
// [github.com/modelfactory/modelfactory/blob/blobtest.RunContract]:
//
//   - keys are validated by [ValidateKey] before any I/O; a rejected key
//     returns an error wrapping [ErrInvalidKey] and writes nothing;
//   - Put is atomic: readers see either the previous object or the complete
//     new one, never a partial object, and a failed or cancelled Put leaves
//     the previous object (or its absence) untouched;
//   - Get and Stat of a missing key return an error wrapping [ErrNotFound];
//   - Delete of a missing key succeeds;
//   - List yields objects in ascending byte order of their keys, like S3's
//     ListObjectsV2.
//
// A key that is a "directory" of another key (for example "a" and "a/b") is
// not part of the contract: the local store allows it, but S3-compatible
// gateways that map keys onto a file system (such as versitygw's posix
// backend) refuse it. Callers should choose key layouts that never need both.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors returned (wrapped) by every [Store].
var (
	// ErrNotFound reports that no object exists under the key.
	ErrNotFound = errors.New("blob: object not found")
	// ErrInvalidKey reports a key or list prefix that [ValidateKey] rejects.
	ErrInvalidKey = errors.New("blob: invalid key")
)

// Limits on keys and content types, shared by every store so that a key that
// works on one store works on all of them.
const (
	// MaxKeyLen is the maximum length of a key in bytes (S3's limit).
	MaxKeyLen = 1024
	// MaxSegmentLen is the maximum length in bytes of one "/"-separated key
	// segment. File-system backed stores map segments onto file names, which
	// are limited to 255 bytes; the margin leaves room for a suffix.
	MaxSegmentLen = 250
	// MaxContentTypeLen is the maximum length of a content type in bytes.
	MaxContentTypeLen = 255
	// DefaultContentType is stored when Put is given an empty content type.
	DefaultContentType = "application/octet-stream"
)

// Store is an object store. Implementations are safe for concurrent use.
type Store interface {
	// Put stores the object read from r under key, replacing any object
	// already there. size is the exact number of bytes r yields, or -1 if
	// unknown; when it is not -1 and r yields a different number of bytes,
	// Put fails and stores nothing. An empty contentType stores
	// [DefaultContentType]. The object becomes visible atomically once Put
	// returns nil.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Get opens the object for reading. The caller must close the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Stat returns the object's metadata.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List yields the objects whose keys start with prefix (which need not
	// be a valid key: "" and "a/" are fine), in ascending byte order of key.
	// Iteration stops at the first error, which is yielded with a zero Info.
	// ContentType is left empty because S3 listings do not carry it; use
	// Stat when it is needed. Objects with keys ValidateKey rejects (such as
	// "dir/" markers written by other S3 tools) are skipped.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
	// Ping reports whether the store is reachable and usable.
	Ping(ctx context.Context) error
}

// Info describes a stored object.
type Info struct {
	Key         string
	Size        int64
	ContentType string
	ModTime     time.Time
	// ETag identifies this version of the object's content. It is opaque:
	// compare it for equality only (it differs in form between stores).
	ETag string
}

// ValidateKey reports whether key may name an object. Valid keys are
// non-empty valid UTF-8 of at most [MaxKeyLen] bytes, made of "/"-separated
// segments that are non-empty, at most [MaxSegmentLen] bytes, not "." or "..",
// and contain no backslash and no control character. Keys therefore never
// start or end with "/". The returned error wraps [ErrInvalidKey].
func ValidateKey(key string) error {
	if key == "" {
		return invalidKey(key, "empty")
	}
	if err := checkChars(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return invalidKey(key, "empty segment (leading, trailing or doubled \"/\")")
		case seg == "." || seg == "..":
			return invalidKey(key, "\".\" or \"..\" segment")
		case len(seg) > MaxSegmentLen:
			return invalidKey(key, fmt.Sprintf("segment longer than %d bytes", MaxSegmentLen))
		}
	}
	return nil
}

// validatePrefix checks a List prefix: the character rules of keys, without
// the segment rules, since a prefix may end inside a segment or with "/".
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if strings.HasPrefix(prefix, "/") {
		return invalidKey(prefix, "prefix starts with \"/\"")
	}
	return checkChars(prefix)
}

func checkChars(s string) error {
	if len(s) > MaxKeyLen {
		return invalidKey(s, fmt.Sprintf("longer than %d bytes", MaxKeyLen))
	}
	if !utf8.ValidString(s) {
		return invalidKey(s, "not valid UTF-8")
	}
	for _, r := range s {
		switch {
		case r == '\\':
			return invalidKey(s, "contains a backslash")
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return invalidKey(s, "contains a control character")
		}
	}
	return nil
}

func invalidKey(key, reason string) error {
	const show = 64
	if len(key) > show {
		key = key[:show] + "…"
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason)
}

// normalizeContentType applies the default and rejects content types that
// could not travel in an HTTP header.
func normalizeContentType(ct string) (string, error) {
	if ct == "" {
		return DefaultContentType, nil
	}
	if len(ct) > MaxContentTypeLen {
		return "", fmt.Errorf("blob: content type longer than %d bytes", MaxContentTypeLen)
	}
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c < 0x20 || c >= 0x7f {
			return "", fmt.Errorf("blob: content type %q contains a control or non-ASCII character", ct)
		}
	}
	return ct, nil
}

// ListAll collects s.List(ctx, prefix) into a slice. Prefer ranging over
// List directly when the listing may be large.
func ListAll(ctx context.Context, s Store, prefix string) ([]Info, error) {
	var out []Info
	for info, err := range s.List(ctx, prefix) {
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// contentPutter is implemented by stores that can store content-addressed
// objects without spooling them first (the local store renames its own temp
// file into place).
type contentPutter interface {
	putContent(ctx context.Context, prefix string, r io.Reader) (key, sha256hex string, size int64, err error)
}

// PutContent stores the content of r under the key prefix + hex(SHA-256 of
// the content), with content type [DefaultContentType], and returns that key,
// the hex digest and the size. Memory use does not depend on the size of the
// content. Storing identical content again returns the same key, and when the
// object already exists it is not uploaded again.
//
// Because the key is only known once all of r has been read, stores without a
// native path (S3) first spool the content to a temporary file in
// [os.TempDir] while hashing it; make sure TMPDIR has room for the largest
// object. Spooling (rather than uploading under a temporary key and copying)
// keeps one upload per object, skips the upload entirely for content that is
// already stored, and avoids S3's 5 GB single-copy limit.
func PutContent(ctx context.Context, s Store, prefix string, r io.Reader) (key string, sha256hex string, size int64, err error) {
	// The final key is prefix + 64 hex digits; reject a bad prefix before
	// reading anything.
	if err := ValidateKey(prefix + strings.Repeat("0", sha256.Size*2)); err != nil {
		return "", "", 0, fmt.Errorf("put content: prefix: %w", err)
	}
	if cp, ok := s.(contentPutter); ok {
		return cp.putContent(ctx, prefix, r)
	}

	f, err := os.CreateTemp("", "mfblob-spool-*")
	if err != nil {
		return "", "", 0, fmt.Errorf("put content: create spool file: %w", err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(f, h), ctxReader{ctx: ctx, r: r})
	if err != nil {
		return "", "", 0, fmt.Errorf("put content: spool: %w", err)
	}
	sha256hex = hex.EncodeToString(h.Sum(nil))
	key = prefix + sha256hex

	info, err := s.Stat(ctx, key)
	switch {
	case err == nil && info.Size == size:
		return key, sha256hex, size, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return "", "", 0, fmt.Errorf("put content: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", "", 0, fmt.Errorf("put content: rewind spool file: %w", err)
	}
	if err := s.Put(ctx, key, f, size, DefaultContentType); err != nil {
		return "", "", 0, fmt.Errorf("put content: %w", err)
	}
	return key, sha256hex, size, nil
}

// ctxReader stops a copy once its context is done, so that long uploads
// from readers that never block (files, generators) honour cancellation.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// errSizeMismatch is wrapped when a reader yields a different number of
// bytes than the size given to Put.
var errSizeMismatch = errors.New("blob: content length does not match the declared size")

// exactReader yields exactly size bytes from r and fails, instead of
// returning io.EOF, when r is shorter or longer. Failing before EOF makes
// the store abandon the upload rather than commit a wrong object.
type exactReader struct {
	r    io.Reader
	left int64
	size int64
}

func newExactReader(r io.Reader, size int64) io.Reader {
	if size < 0 {
		return r
	}
	return &exactReader{r: r, left: size, size: size}
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		// Everything promised was delivered; make sure nothing follows.
		var one [1]byte
		for range 100 {
			n, err := e.r.Read(one[:])
			if n > 0 {
				return 0, fmt.Errorf("%w: more than %d bytes", errSizeMismatch, e.size)
			}
			if err == io.EOF {
				return 0, io.EOF
			}
			if err != nil {
				return 0, err
			}
		}
		return 0, io.ErrNoProgress
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF {
		if e.left > 0 {
			return n, fmt.Errorf("%w: got %d of %d bytes", errSizeMismatch, e.size-e.left, e.size)
		}
		if n > 0 {
			err = nil
		}
	}
	return n, err
}
