// Package catalog moves model files between a local directory and object
// storage: upload with per-file SHA-256, a content hash that identifies the
// whole model, and materialisation of a stored model into a local cache
// directory (verified, atomic), which is what the trainer and the inference
// engine read.
package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/modelfactory/modelfactory/blob"
)

// File is one stored file of a model.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex, no 0x
}

// ContentHash is the identity of a set of files: 0x-prefixed SHA-256 over
// "name\x00size\x00sha256\n" for each file in name order. It does not depend
// on where the files are stored.
func ContentHash(files []File) string {
	fs := slices.Clone(files)
	slices.SortFunc(fs, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	h := sha256.New()
	for _, f := range fs {
		fmt.Fprintf(h, "%s\x00%d\x00%s\n", f.Name, f.Size, f.SHA256)
	}
	return "0x" + hex.EncodeToString(h.Sum(nil))
}

// validName accepts plain file names (no directories), so a stored file list
// can never write outside the target directory.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`) && !strings.HasPrefix(name, ".")
}

// UploadDir stores the named files of dir under prefix ("models/base/x/"),
// computing each file's SHA-256 while it streams. names nil uploads every
// regular, non-hidden file of dir.
func UploadDir(ctx context.Context, blobs blob.Store, prefix, dir string, names []string) ([]File, error) {
	if names == nil {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", dir, err)
		}
		for _, e := range ents {
			if e.Type().IsRegular() && validName(e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	files := make([]File, 0, len(names))
	for _, name := range names {
		if !validName(name) {
			return nil, fmt.Errorf("upload %s: invalid file name %q", dir, name)
		}
		f, err := uploadFile(ctx, blobs, path.Join(prefix, name), filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		f.Name = name
		files = append(files, f)
	}
	return files, nil
}

func uploadFile(ctx context.Context, blobs blob.Store, key, file string) (File, error) {
	fh, err := os.Open(file)
	if err != nil {
		return File{}, fmt.Errorf("upload %s: %w", file, err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return File{}, fmt.Errorf("upload %s: %w", file, err)
	}
	h := sha256.New()
	if err := blobs.Put(ctx, key, io.TeeReader(fh, h), st.Size(), ""); err != nil {
		return File{}, fmt.Errorf("upload %s: %w", file, err)
	}
	return File{Size: st.Size(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// ErrCorrupt reports a stored file whose size or SHA-256 differs from the
// recorded one.
var ErrCorrupt = errors.New("catalog: stored file does not match its recorded hash")

// Materialize makes dir hold exactly files, downloading them from prefix.
// Files already present with the right size and hash are kept; others are
// downloaded to a temporary name, verified and renamed, so a killed download
// never leaves a file that looks complete. Safe to call concurrently for
// different dirs; callers serialise calls for the same dir.
func Materialize(ctx context.Context, blobs blob.Store, prefix string, files []File, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("materialize: %w", err)
	}
	for _, f := range files {
		if !validName(f.Name) {
			return fmt.Errorf("materialize: invalid file name %q", f.Name)
		}
		dst := filepath.Join(dir, f.Name)
		if ok, err := fileMatches(dst, f); err != nil {
			return err
		} else if ok {
			continue
		}
		if err := download(ctx, blobs, path.Join(prefix, f.Name), dst, f); err != nil {
			return err
		}
	}
	return nil
}

func fileMatches(file string, f File) (bool, error) {
	fh, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("materialize: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil || st.Size() != f.Size {
		return false, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return false, fmt.Errorf("materialize: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)) == f.SHA256, nil
}

func download(ctx context.Context, blobs blob.Store, key, dst string, f File) error {
	rc, _, err := blobs.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("materialize %s: %w", f.Name, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+f.Name+".*.part")
	if err != nil {
		return fmt.Errorf("materialize: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("materialize %s: %w", f.Name, err)
	}
	if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("materialize %s: %w", f.Name, ErrCorrupt)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("materialize: %w", err)
	}
	return nil
}
