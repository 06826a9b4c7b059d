package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/catalog"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/modelimport"
	"github.com/modelfactory/modelfactory/modelimport/hftest"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

// waitImport waits until base model id leaves "importing".
func waitImport(t *testing.T, st *store.Store, id int64) *store.BaseModel {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := st.GetBaseModel(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != store.BaseModelImporting {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %d still running after a minute", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestModelImportEndToEnd: an admin's import goes through River, fetches a
// tiny GPT-2 from a local server acting as Hugging Face, stores it under
// models/base/<slug>/ with hashes, and reads its metadata; an interrupted
// download fails with a clear message and the retry resumes it; an
// offline hub fails clearly.
func TestModelImportEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	st := store.New(pool)
	blobs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := hftest.TinyGPT2(t, t.TempDir(), "apache-2.0")
	hub := hftest.Start(t, map[string]string{"tiny/gpt2": src})
	dataDir := t.TempDir()
	client, err := jobs.NewClient(pool, jobs.Deps{Store: st, Logger: slog.New(slog.DiscardHandler), Blobs: blobs,
		ModelFetch: modelimport.Options{HFEndpoint: hub.URL}, DataDir: dataDir},
		jobs.Config{Queues: []string{jobs.QueueDefault}})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(context.Background())
	u, _ := st.UpsertUser(ctx, "0x00000000000000000000000000000000000000ad")
	admin := store.Actor{UserID: u.ID, Address: u.Address, Admin: true}
	enqueue := func(ctx context.Context, tx pgx.Tx, id int64) error {
		_, err := client.InsertTx(ctx, tx, jobs.NewModelImportArgs(id), nil)
		return err
	}

	// The first download of the weights is cut midway.
	st0, _ := os.Stat(filepath.Join(src, "model.safetensors"))
	hub.FailFile, hub.FailAfter = "model.safetensors", int(st0.Size()/3)
	src1, _ := modelimport.Parse(hub.URL+"/tiny/gpt2", hub.URL)
	b, err := st.CreateBaseModelImport(ctx, admin, store.BaseModelImportInput{Name: "Tiny GPT-2", Source: src1.Kind, SourceURI: src1.URI}, enqueue)
	if err != nil {
		t.Fatal(err)
	}
	b = waitImport(t, st, b.ID)
	if b.Status != store.BaseModelFailed || !strings.Contains(b.Error, "model.safetensors") || !strings.Contains(b.Error, "resumes") {
		t.Fatalf("cut download: %s %q", b.Status, b.Error)
	}
	if _, err := st.RetryBaseModelImport(ctx, admin, b.Slug, enqueue); err != nil {
		t.Fatal(err)
	}
	b = waitImport(t, st, b.ID)
	if b.Status != store.BaseModelReady {
		t.Fatalf("retry: %s %q", b.Status, b.Error)
	}
	if hub.Ranged != 1 {
		t.Fatalf("the retry did not resume (ranged requests: %d)", hub.Ranged)
	}
	if b.Architecture != "gpt2" || b.ContextLength != 64 || b.License != "apache-2.0" || !b.TrainableCPU || b.ParamCount <= 0 ||
		b.BlobPrefix != "models/base/tiny-gpt-2" || !strings.HasPrefix(b.ContentHash, "0x") || b.SizeBytes <= st0.Size() {
		t.Fatalf("imported = %+v", b)
	}
	files := make([]catalog.File, len(b.Files))
	for i, f := range b.Files {
		files[i] = catalog.File(f)
		if f.Name == "pytorch_model.bin" {
			t.Fatal("pickled weights imported")
		}
	}
	if catalog.ContentHash(files) != b.ContentHash {
		t.Fatal("content hash does not match the file list")
	}
	dst := t.TempDir()
	if err := catalog.Materialize(ctx, blobs, b.BlobPrefix, files, dst); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(src, "model.safetensors"))
	if got, _ := os.ReadFile(filepath.Join(dst, "model.safetensors")); string(got) != string(want) {
		t.Fatal("stored weights differ from the source")
	}
	// The download moved into the model cache, keyed by content hash.
	if _, err := os.Stat(filepath.Join(dataDir, "cache", "models", strings.TrimPrefix(b.ContentHash, "0x"), "config.json")); err != nil {
		t.Fatalf("cache: %v", err)
	}
	// Running the job again changes nothing.
	imp := &jobs.ModelImporter{Store: st, Blobs: blobs, WorkDir: t.TempDir(), Fetch: modelimport.Options{HFEndpoint: hub.URL}}
	before := hub.Requests["config.json"]
	if err := imp.Import(ctx, b.ID); err != nil || hub.Requests["config.json"] != before {
		t.Fatalf("second run: %v, downloads %d → %d", err, before, hub.Requests["config.json"])
	}
	if again, _ := st.GetBaseModel(ctx, b.ID); !again.UpdatedAt.Equal(b.UpdatedAt) {
		t.Fatal("second run changed the entry")
	}

	// A model too big for the CPU trainer is imported but needs a GPU.
	big := &jobs.ModelImporter{Store: st, Blobs: blobs, WorkDir: t.TempDir(), Fetch: modelimport.Options{HFEndpoint: hub.URL}, MaxCPUParams: 10}
	b2, err := st.CreateBaseModelImport(ctx, admin, store.BaseModelImportInput{Name: "Tiny GPT-2 GPU", Source: src1.Kind, SourceURI: src1.URI}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Import(ctx, b2.ID); err != nil {
		t.Fatal(err)
	}
	if b2, _ = st.GetBaseModel(ctx, b2.ID); b2.Status != store.BaseModelReady || b2.TrainableCPU {
		t.Fatalf("large model = %s trainable %v", b2.Status, b2.TrainableCPU)
	}

	// Offline: Hugging Face itself cannot be reached from here.
	offline := &jobs.ModelImporter{Store: st, Blobs: blobs, WorkDir: t.TempDir(), Fetch: modelimport.Options{HFEndpoint: "http://127.0.0.1:1"}}
	b3, err := st.CreateBaseModelImport(ctx, admin, store.BaseModelImportInput{Name: "gpt2", Source: store.SourceHuggingFace, SourceURI: "https://huggingface.co/openai-community/gpt2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := offline.Import(ctx, b3.ID); err != nil {
		t.Fatal(err)
	}
	if b3, _ = st.GetBaseModel(ctx, b3.ID); b3.Status != store.BaseModelFailed || !strings.Contains(b3.Error, "Cannot reach Hugging Face") {
		t.Fatalf("offline = %s %q", b3.Status, b3.Error)
	}
}

// countingBlobs counts Put calls.
type countingBlobs struct {
	blob.Store
	puts atomic.Int64
}

func (c *countingBlobs) Put(ctx context.Context, key string, r io.Reader, size int64, ct string) error {
	c.puts.Add(1)
	return c.Store.Put(ctx, key, r, size, ct)
}

// TestRegisterStarterModel: the starter model is uploaded and registered as
// a ready built-in model once; registering the same files again uploads
// nothing.
func TestRegisterStarterModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(pgtest.New(t))
	local, _ := blob.NewLocal(t.TempDir())
	blobs := &countingBlobs{Store: local}
	dir := hftest.TinyGPT2(t, t.TempDir(), "mit")
	os.Remove(filepath.Join(dir, "pytorch_model.bin"))
	b, err := jobs.RegisterStarterModel(ctx, st, blobs, dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Slug != jobs.StarterModelSlug || b.Source != store.SourceBuiltin || b.Status != store.BaseModelReady || !b.TrainableCPU ||
		b.Architecture != "gpt2" || b.ContextLength != 64 || len(b.Files) == 0 {
		t.Fatalf("starter = %+v", b)
	}
	puts := blobs.puts.Load()
	if puts == 0 {
		t.Fatal("nothing uploaded")
	}
	again, err := jobs.RegisterStarterModel(ctx, st, blobs, dir)
	if err != nil || again.ID != b.ID || blobs.puts.Load() != puts {
		t.Fatalf("second registration: %v, uploads %d → %d", err, puts, blobs.puts.Load())
	}
}
