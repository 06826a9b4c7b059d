// Package modelimport fetches a pretrained model's files into a local
// directory from one of three sources — a local directory, an S3 URL
// (s3://bucket/prefix) or a Hugging Face repository URL
// (https://huggingface.co/org/repo[/tree/revision]) — and reads what a
// catalog needs from them (architecture, context length, parameter count,
// size, licence).
//
// Downloads are bounded (per file and in total), written to a temporary
// name and renamed only once complete and verified, so a killed import never
// leaves a file that looks whole; an interrupted Hugging Face download
// resumes from its partial file with an HTTP range request. Files Hugging
// Face lists with a checksum (the LFS SHA-256 of weights, the git blob id of
// small files) are verified. The package knows nothing of HTTP handlers or
// of the application's database.
package modelimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/modelfactory/modelfactory/blob"
)

// Source kinds.
const (
	KindLocal       = "local"
	KindS3          = "s3"
	KindHuggingFace = "huggingface"
)

// DefaultHFEndpoint is Hugging Face's public hub.
const DefaultHFEndpoint = "https://huggingface.co"

// Source is a parsed import location.
type Source struct {
	Kind string
	// URI is the normalised location, as shown to people.
	URI string
	// Path is the directory of a local source.
	Path string
	// Bucket and Prefix locate an S3 source; Prefix has no trailing slash.
	Bucket, Prefix string
	// Repo ("org/name") and Revision (branch, tag or commit; default
	// "main") locate a Hugging Face source.
	Repo, Revision string
}

// Name suggests a catalog name for the source: the last path segment.
func (s Source) Name() string {
	switch s.Kind {
	case KindHuggingFace:
		return s.Repo
	case KindS3:
		if s.Prefix == "" {
			return s.Bucket
		}
		return path.Base(s.Prefix)
	}
	return filepath.Base(s.Path)
}

// Error is a problem with the source that a person can act on; its message
// is meant to be shown as it is.
type Error struct {
	Msg string
	Err error // cause, for logs
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

func userErr(err error, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Err: err}
}

var (
	hfRepoPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$`)
	hfRevision = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$`)
)

// Parse reads a source location: an absolute local directory, an
// s3://bucket/prefix URL, or a Hugging Face repository URL on
// huggingface.co or on hfEndpoint (a mirror, or a test server), optionally
// with /tree/<revision>.
func Parse(raw, hfEndpoint string) (Source, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Source{}, userErr(nil, "Enter a local directory, an s3:// URL or a Hugging Face repository URL.")
	}
	if strings.HasPrefix(raw, "/") {
		p := filepath.Clean(raw)
		return Source{Kind: KindLocal, URI: p, Path: p}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return Source{}, userErr(err, "%q is not an absolute directory or a URL. Use /path/to/model, s3://bucket/prefix or https://huggingface.co/org/model.", raw)
	}
	switch u.Scheme {
	case "s3":
		bucket := u.Host
		prefix := strings.Trim(u.Path, "/")
		if bucket == "" || strings.Contains(prefix, "..") {
			return Source{}, userErr(nil, "S3 URLs look like s3://bucket/path/to/model.")
		}
		uri := "s3://" + bucket
		if prefix != "" {
			uri += "/" + prefix
		}
		return Source{Kind: KindS3, URI: uri, Bucket: bucket, Prefix: prefix}, nil
	case "http", "https":
		ep, _ := url.Parse(endpointOr(hfEndpoint))
		if u.Host != "huggingface.co" && (ep == nil || u.Host != ep.Host) {
			return Source{}, userErr(nil, "Only Hugging Face repository URLs (https://huggingface.co/org/model) can be imported over HTTP.")
		}
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) < 2 || !hfRepoPart.MatchString(parts[0]) || !hfRepoPart.MatchString(parts[1]) {
			return Source{}, userErr(nil, "Hugging Face URLs look like https://huggingface.co/org/model or …/org/model/tree/revision.")
		}
		s := Source{Kind: KindHuggingFace, Repo: parts[0] + "/" + parts[1], Revision: "main"}
		switch {
		case len(parts) == 2:
		case len(parts) >= 4 && parts[2] == "tree":
			s.Revision = strings.Join(parts[3:], "/")
		default:
			return Source{}, userErr(nil, "Hugging Face URLs look like https://huggingface.co/org/model or …/org/model/tree/revision.")
		}
		if !hfRevision.MatchString(s.Revision) || strings.Contains(s.Revision, "..") {
			return Source{}, userErr(nil, "%q is not a valid revision.", s.Revision)
		}
		s.URI = "https://huggingface.co/" + s.Repo
		if s.Revision != "main" {
			s.URI += "/tree/" + s.Revision
		}
		return s, nil
	}
	return Source{}, userErr(nil, "Unsupported source %q: use /path/to/model, s3://bucket/prefix or https://huggingface.co/org/model.", u.Scheme+"://")
}

func endpointOr(e string) string {
	if e == "" {
		return DefaultHFEndpoint
	}
	return strings.TrimRight(e, "/")
}

// Options configure Fetch.
type Options struct {
	// HFEndpoint is where Hugging Face requests go (default
	// DefaultHFEndpoint); HFToken, when set, is sent as a bearer token.
	HFEndpoint string
	HFToken    string
	// HTTPClient defaults to a client with no overall timeout (downloads
	// can be long; cancel the context instead).
	HTTPClient *http.Client
	// S3 opens a bucket of the deployment's S3-compatible store; nil
	// refuses S3 sources.
	S3 func(ctx context.Context, bucket string) (blob.Store, error)
	// MaxFileBytes and MaxTotalBytes bound one file and the whole model
	// (defaults 8 GiB and 32 GiB).
	MaxFileBytes, MaxTotalBytes int64
	// Progress, when set, is called as bytes arrive.
	Progress func(file string, done, total int64)
}

func (o *Options) defaults() {
	o.HFEndpoint = endpointOr(o.HFEndpoint)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 8 << 30
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = 32 << 30
	}
}

// WantedFile reports whether a file of a model repository is imported:
// configuration, safetensors weights (and their index), tokenizer files,
// the model card and licence. Pickled PyTorch weights, other frameworks'
// weights and hidden files are left out.
func WantedFile(name string) bool {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return false
	}
	lower := strings.ToLower(name)
	switch lower {
	case "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
		"merges.txt", "special_tokens_map.json", "added_tokens.json", "tokenizer.model", "vocab.txt", "readme.md",
		"model.safetensors.index.json":
		return true
	}
	if strings.HasSuffix(lower, ".safetensors") {
		return true
	}
	return strings.HasPrefix(lower, "license") || strings.HasPrefix(lower, "licence")
}

// checkFileSet refuses a listing that cannot be a usable model.
func checkFileSet(names []string, where string) error {
	if !slices.Contains(names, "config.json") {
		return userErr(nil, "%s has no config.json: it does not look like a Hugging Face model directory.", where)
	}
	if !slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(strings.ToLower(n), ".safetensors") }) {
		return userErr(nil, "%s has no .safetensors weights (only safetensors are imported; convert pickled .bin weights first).", where)
	}
	return nil
}

// File is one fetched file.
type File struct {
	Name string
	Size int64
}

// Fetch copies the model's wanted files into dir (created if needed) and
// returns them sorted by name. Files already in dir with the expected size
// (and checksum, where the source gives one) are kept, so running Fetch
// again after a crash only fetches what is missing.
func Fetch(ctx context.Context, src Source, dir string, opt Options) ([]File, error) {
	opt.defaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	var files []File
	var err error
	switch src.Kind {
	case KindLocal:
		files, err = fetchLocal(ctx, src, dir, opt)
	case KindS3:
		files, err = fetchS3(ctx, src, dir, opt)
	case KindHuggingFace:
		files, err = fetchHF(ctx, src, dir, opt)
	default:
		return nil, fmt.Errorf("fetch: unknown source kind %q", src.Kind)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return files, nil
}

func checkSizes(names []string, sizes map[string]int64, opt Options) error {
	var total int64
	for _, n := range names {
		s := sizes[n]
		if s > opt.MaxFileBytes {
			return userErr(nil, "%s is %s, over the %s limit for one file.", n, humanBytes(s), humanBytes(opt.MaxFileBytes))
		}
		total += s
	}
	if total > opt.MaxTotalBytes {
		return userErr(nil, "The model is %s, over the %s import limit.", humanBytes(total), humanBytes(opt.MaxTotalBytes))
	}
	return nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func fetchLocal(ctx context.Context, src Source, dir string, opt Options) ([]File, error) {
	st, err := os.Stat(src.Path)
	if err != nil || !st.IsDir() {
		return nil, userErr(err, "%s is not a directory on this server.", src.Path)
	}
	ents, err := os.ReadDir(src.Path)
	if err != nil {
		return nil, userErr(err, "Cannot read %s: %v.", src.Path, errors.Unwrap(err))
	}
	sizes := map[string]int64{}
	var names []string
	for _, e := range ents {
		if !e.Type().IsRegular() || !WantedFile(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", e.Name(), err)
		}
		names = append(names, e.Name())
		sizes[e.Name()] = info.Size()
	}
	return copyFiles(ctx, dir, src.Path, names, sizes, opt,
		func(n, dst string) bool { return same(filepath.Join(src.Path, n), dst) },
		func(n string) (io.ReadCloser, error) {
			f, err := os.Open(filepath.Join(src.Path, n))
			if err != nil {
				return nil, userErr(err, "Cannot read %s.", filepath.Join(src.Path, n))
			}
			return f, nil
		})
}

// copyFiles checks a listing (a usable model, within the limits) and copies
// each file into dir through writeAtomic. A file already in dir with the
// listed size is kept when fresh says it is current.
func copyFiles(ctx context.Context, dir, where string, names []string, sizes map[string]int64, opt Options,
	fresh func(name, dst string) bool, open func(name string) (io.ReadCloser, error)) ([]File, error) {
	if err := checkFileSet(names, where); err != nil {
		return nil, err
	}
	if err := checkSizes(names, sizes, opt); err != nil {
		return nil, err
	}
	out := make([]File, 0, len(names))
	for _, n := range names {
		dst := filepath.Join(dir, n)
		if st, err := os.Stat(dst); err != nil || st.Size() != sizes[n] || !fresh(n, dst) {
			rc, err := open(n)
			if err != nil {
				return nil, err
			}
			_, err = writeAtomic(ctx, dst, rc, sizes[n], opt)
			rc.Close()
			if err != nil {
				return nil, err
			}
		}
		out = append(out, File{Name: n, Size: sizes[n]})
	}
	return out, nil
}

// same reports whether two files have equal contents.
func same(a, b string) bool {
	ha, err1 := fileSHA256(a)
	hb, err2 := fileSHA256(b)
	return err1 == nil && err2 == nil && ha == hb
}

func fetchS3(ctx context.Context, src Source, dir string, opt Options) ([]File, error) {
	if opt.S3 == nil {
		return nil, userErr(nil, "S3 imports need this deployment's S3 settings (MF_S3_ENDPOINT and credentials).")
	}
	bucket, err := opt.S3(ctx, src.Bucket)
	if err != nil {
		return nil, userErr(err, "Cannot open bucket %q: %v.", src.Bucket, err)
	}
	prefix := src.Prefix
	if prefix != "" {
		prefix += "/"
	}
	sizes := map[string]int64{}
	var names []string
	for info, err := range bucket.List(ctx, prefix) {
		if err != nil {
			return nil, userErr(err, "Cannot list %s: %v.", src.URI, err)
		}
		name := strings.TrimPrefix(info.Key, prefix)
		if !WantedFile(name) {
			continue // sub-directories and files we do not import
		}
		names = append(names, name)
		sizes[name] = info.Size
	}
	if len(names) == 0 {
		return nil, userErr(nil, "%s holds no model files (is the bucket or prefix right?).", src.URI)
	}
	// S3 ETags are not content hashes everywhere: a file of the right size
	// is taken as fetched (it was renamed into place only when complete).
	return copyFiles(ctx, dir, src.URI, names, sizes, opt,
		func(string, string) bool { return true },
		func(n string) (io.ReadCloser, error) {
			rc, _, err := bucket.Get(ctx, prefix+n)
			if err != nil {
				return nil, userErr(err, "Cannot read %s/%s: %v.", src.URI, n, err)
			}
			return rc, nil
		})
}
