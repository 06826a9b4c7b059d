package modelimport

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// hfModelInfo is the part of GET /api/models/{repo}/revision/{rev}?blobs=true
// that an import reads.
type hfModelInfo struct {
	ID       string `json:"id"`
	SHA      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
		BlobID    string `json:"blobId"`
		Size      *int64 `json:"size"`
		LFS       *struct {
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		} `json:"lfs"`
	} `json:"siblings"`
}

// hfFile is one file to download with what verifies it.
type hfFile struct {
	name    string
	size    int64  // -1 when the listing has no size
	sha256  string // LFS files
	gitSHA1 string // small files: the git blob id
}

func (o *Options) hfRequest(ctx context.Context, u string, rangeFrom int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if o.HFToken != "" {
		req.Header.Set("Authorization", "Bearer "+o.HFToken)
	}
	if rangeFrom > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(rangeFrom, 10)+"-")
	}
	req.Header.Set("User-Agent", "modelfactory-import/1")
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, userErr(err, "Cannot reach Hugging Face at %s (%v). This server may be offline: import from a local path or an S3 URL instead, or set MF_HF_ENDPOINT to a reachable mirror.",
			o.HFEndpoint, rootCause(err))
	}
	return resp, nil
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func hfStatusErr(resp *http.Response, src Source, what string) error {
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return userErr(nil, "Hugging Face refused access to %s: the repository is gated or private. Accept its terms on huggingface.co and set MF_HF_TOKEN to a token that may read it.", src.Repo)
	case http.StatusNotFound:
		return userErr(nil, "Hugging Face has no %s in %s at revision %q.", what, src.Repo, src.Revision)
	}
	return userErr(nil, "Hugging Face answered %s for %s of %s; try again later.", resp.Status, what, src.Repo)
}

func fetchHF(ctx context.Context, src Source, dir string, opt Options) ([]File, error) {
	api := fmt.Sprintf("%s/api/models/%s/revision/%s?blobs=true", opt.HFEndpoint, src.Repo, url.PathEscape(src.Revision))
	resp, err := opt.hfRequest(ctx, api, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, hfStatusErr(resp, src, "repository")
	}
	var info hfModelInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&info); err != nil {
		return nil, userErr(err, "Hugging Face sent an unreadable file list for %s.", src.Repo)
	}
	rev := info.SHA
	if rev == "" {
		rev = src.Revision
	}
	var files []hfFile
	var names []string
	sizes := map[string]int64{}
	for _, s := range info.Siblings {
		if !WantedFile(s.RFilename) {
			continue
		}
		f := hfFile{name: s.RFilename, size: -1}
		switch {
		case s.LFS != nil:
			f.size, f.sha256 = s.LFS.Size, strings.ToLower(s.LFS.SHA256)
		case s.Size != nil:
			f.size, f.gitSHA1 = *s.Size, strings.ToLower(s.BlobID)
		}
		files = append(files, f)
		names = append(names, f.name)
		sizes[f.name] = max(f.size, 0)
	}
	if err := checkFileSet(names, "Hugging Face repository "+src.Repo); err != nil {
		return nil, err
	}
	if err := checkSizes(names, sizes, opt); err != nil {
		return nil, err
	}
	out := make([]File, 0, len(files))
	for _, f := range files {
		u := fmt.Sprintf("%s/%s/resolve/%s/%s", opt.HFEndpoint, src.Repo, url.PathEscape(rev), url.PathEscape(f.name))
		n, err := downloadResumable(ctx, u, filepath.Join(dir, f.name), f, src, opt)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: f.name, Size: n})
	}
	return out, nil
}

// verified reports whether file already holds f.
func (f hfFile) verified(file string) bool {
	st, err := os.Stat(file)
	if err != nil || (f.size >= 0 && st.Size() != f.size) {
		return false
	}
	return f.check(file) == nil
}

// check verifies a complete file against the listing's checksum, if any.
func (f hfFile) check(file string) error {
	switch {
	case f.sha256 != "":
		got, err := fileSHA256(file)
		if err != nil {
			return err
		}
		if got != f.sha256 {
			return userErr(nil, "%s does not match the SHA-256 Hugging Face lists for it (got %s, want %s); the download was discarded.", f.name, got, f.sha256)
		}
	case f.gitSHA1 != "":
		got, err := gitBlobSHA1(file)
		if err != nil {
			return err
		}
		if got != f.gitSHA1 {
			return userErr(nil, "%s does not match the git blob id Hugging Face lists for it; the download was discarded.", f.name)
		}
	}
	return nil
}

// downloadResumable fetches u into dst through dst's hidden .part file,
// continuing a partial file with a range request, and renames it once its
// size and checksum are right.
func downloadResumable(ctx context.Context, u, dst string, f hfFile, src Source, opt Options) (int64, error) {
	if f.verified(dst) {
		st, _ := os.Stat(dst)
		return st.Size(), nil
	}
	part := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".part")
	var have int64
	if st, err := os.Stat(part); err == nil && (f.size < 0 || st.Size() < f.size) {
		have = st.Size()
	} else {
		os.Remove(part)
	}
	resp, err := opt.hfRequest(ctx, u, have)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch resp.StatusCode {
	case http.StatusPartialContent:
		flags |= os.O_APPEND
	case http.StatusOK:
		have = 0
		flags |= os.O_TRUNC
	default:
		return 0, hfStatusErr(resp, src, "file "+f.name)
	}
	out, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", f.name, err)
	}
	limit := opt.MaxFileBytes
	if f.size >= 0 {
		limit = f.size
	}
	n, err := copyProgress(ctx, out, io.LimitReader(resp.Body, limit-have+1), f.name, have, f.size, opt)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		// The partial file stays: the next attempt resumes from it.
		return 0, userErr(err, "Downloading %s from Hugging Face failed after %s: %v. Retrying resumes where it stopped.", f.name, humanBytes(have+n), rootCause(err))
	}
	total := have + n
	if total > limit {
		os.Remove(part)
		if f.size >= 0 {
			return 0, userErr(nil, "%s is larger than the %s Hugging Face lists for it.", f.name, humanBytes(f.size))
		}
		return 0, userErr(nil, "%s is over the %s limit for one file.", f.name, humanBytes(opt.MaxFileBytes))
	}
	if f.size >= 0 && total != f.size {
		return 0, userErr(nil, "%s ended after %s of %s; retrying resumes where it stopped.", f.name, humanBytes(total), humanBytes(f.size))
	}
	if err := f.check(part); err != nil {
		os.Remove(part)
		return 0, err
	}
	if err := os.Rename(part, dst); err != nil {
		return 0, fmt.Errorf("download %s: %w", f.name, err)
	}
	return total, nil
}

// writeAtomic copies size bytes from r into dst through a temporary file.
func writeAtomic(ctx context.Context, dst string, r io.Reader, size int64, opt Options) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", dst, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	n, err := copyProgress(ctx, tmp, io.LimitReader(r, size+1), filepath.Base(dst), 0, size, opt)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", filepath.Base(dst), err)
	}
	if n != size {
		return 0, userErr(nil, "%s changed while it was being copied (%d bytes, expected %d); try again.", filepath.Base(dst), n, size)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return 0, fmt.Errorf("write %s: %w", dst, err)
	}
	return n, nil
}

// copyProgress copies r to w in chunks, checking ctx between them and
// reporting progress.
func copyProgress(ctx context.Context, w io.Writer, r io.Reader, name string, base, total int64, opt Options) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, err := r.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
			if opt.Progress != nil {
				opt.Progress(name, base+n, total)
			}
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func fileSHA256(file string) (string, error) {
	return hashFile(file, sha256.New(), "")
}

// gitBlobSHA1 is git's object id of the file's contents.
func gitBlobSHA1(file string) (string, error) {
	st, err := os.Stat(file)
	if err != nil {
		return "", err
	}
	return hashFile(file, sha1.New(), fmt.Sprintf("blob %d\x00", st.Size()))
}

func hashFile(file string, h hash.Hash, header string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	io.WriteString(h, header)
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
