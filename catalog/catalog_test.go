package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfactory/modelfactory/blob"
)

func TestUploadMaterializeRoundTrip(t *testing.T) {
	ctx := context.Background()
	blobs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "config.json"), []byte(`{"model_type":"gpt2"}`), 0o644)
	os.WriteFile(filepath.Join(src, "model.safetensors"), []byte(strings.Repeat("w", 1000)), 0o644)
	os.WriteFile(filepath.Join(src, ".hidden"), []byte("x"), 0o644)
	files, err := UploadDir(ctx, blobs, "models/base/m", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Name != "config.json" || files[1].Size != 1000 {
		t.Fatalf("files = %+v", files)
	}
	h := ContentHash(files)
	if !strings.HasPrefix(h, "0x") || len(h) != 66 || ContentHash([]File{files[1], files[0]}) != h {
		t.Fatalf("content hash %q is not order independent", h)
	}
	files2 := append([]File(nil), files...)
	files2[0].Size++
	if ContentHash(files2) == h {
		t.Fatal("content hash ignores sizes")
	}

	dst := filepath.Join(t.TempDir(), "cache")
	if err := Materialize(ctx, blobs, "models/base/m", files, dst); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dst, "model.safetensors"))
	if string(got) != strings.Repeat("w", 1000) {
		t.Fatal("materialized content differs")
	}
	// A damaged local copy is replaced.
	os.WriteFile(filepath.Join(dst, "config.json"), []byte(`{"model_type":"llama"}`), 0o644)
	if err := Materialize(ctx, blobs, "models/base/m", files, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "config.json")); string(got) != `{"model_type":"gpt2"}` {
		t.Fatalf("damaged file not replaced: %s", got)
	}
	// A stored object that no longer matches its hash is refused.
	blobs.Put(ctx, "models/base/m/config.json", strings.NewReader(`{"model_type":"evil"}`), -1, "")
	os.Remove(filepath.Join(dst, "config.json"))
	if err := Materialize(ctx, blobs, "models/base/m", files, dst); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "config.json")); !os.IsNotExist(err) {
		t.Fatal("a corrupt download was left in place")
	}
	// Names cannot escape the directory.
	if err := Materialize(ctx, blobs, "p", []File{{Name: "../x"}}, dst); err == nil {
		t.Fatal("path traversal accepted")
	}
}
