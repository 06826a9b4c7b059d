package modelimport_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/blob/s3test"
	"github.com/modelfactory/modelfactory/catalog"
	"github.com/modelfactory/modelfactory/modelimport"
	"github.com/modelfactory/modelfactory/modelimport/hftest"
)

func names(fs []modelimport.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

var wantFiles = []string{"README.md", "config.json", "merges.txt", "model.safetensors", "vocab.json"}

// checkModel asserts dir holds the tiny model's wanted files, byte for byte.
func checkModel(t *testing.T, src, dir string, got []modelimport.File) {
	t.Helper()
	if !slices.Equal(names(got), wantFiles) {
		// tokenizer.json is written by some tokenizer versions; accept it.
		if !slices.Equal(names(got), append(slices.Clone(wantFiles[:4]), "tokenizer.json", "vocab.json")) {
			t.Fatalf("fetched %v, want %v", names(got), wantFiles)
		}
	}
	for _, f := range got {
		a, _ := os.ReadFile(filepath.Join(src, f.Name))
		b, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil || string(a) != string(b) || int64(len(b)) != f.Size {
			t.Fatalf("%s differs after fetch (err %v)", f.Name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pytorch_model.bin")); !os.IsNotExist(err) {
		t.Fatal("pickled weights were imported")
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		in, endpoint, kind, uri, repo, rev string
	}{
		{"https://huggingface.co/openai-community/gpt2", "", modelimport.KindHuggingFace, "https://huggingface.co/openai-community/gpt2", "openai-community/gpt2", "main"},
		{"https://huggingface.co/org/m/tree/v1.0", "", modelimport.KindHuggingFace, "https://huggingface.co/org/m/tree/v1.0", "org/m", "v1.0"},
		{"http://127.0.0.1:9/org/m", "http://127.0.0.1:9", modelimport.KindHuggingFace, "https://huggingface.co/org/m", "org/m", "main"},
		{"s3://models/gpt2/", "", modelimport.KindS3, "s3://models/gpt2", "", ""},
		{"/srv/models/gpt2/", "", modelimport.KindLocal, "/srv/models/gpt2", "", ""},
	}
	for _, c := range cases {
		s, err := modelimport.Parse(c.in, c.endpoint)
		if err != nil || s.Kind != c.kind || s.URI != c.uri || s.Repo != c.repo || s.Revision != c.rev {
			t.Errorf("Parse(%q) = %+v, %v", c.in, s, err)
		}
	}
	for _, bad := range []string{"", "gpt2", "ftp://x/y", "https://example.com/org/m", "https://huggingface.co/org", "https://huggingface.co/org/m/blob/main/x", "s3:///nobucket"} {
		_, err := modelimport.Parse(bad, "")
		var ue *modelimport.Error
		if !errors.As(err, &ue) || ue.Msg == "" {
			t.Errorf("Parse(%q) err = %v, want a user error", bad, err)
		}
	}
}

func TestFetchHuggingFace(t *testing.T) {
	ctx := context.Background()
	src := hftest.TinyGPT2(t, t.TempDir(), "apache-2.0")
	hub := hftest.Start(t, map[string]string{"tiny/gpt2": src})
	s, err := modelimport.Parse(hub.URL+"/tiny/gpt2", hub.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The first download of the weights is cut midway: the fetch fails with
	// a clear message, keeps the partial file, and the retry resumes it.
	st, _ := os.Stat(filepath.Join(src, "model.safetensors"))
	hub.FailFile, hub.FailAfter = "model.safetensors", int(st.Size()/2)
	var progressed int64
	opt := modelimport.Options{HFEndpoint: hub.URL, Progress: func(_ string, done, _ int64) { progressed = done }}
	_, err = modelimport.Fetch(ctx, s, dir, opt)
	var ue *modelimport.Error
	if !errors.As(err, &ue) || !strings.Contains(ue.Msg, "model.safetensors") {
		t.Fatalf("cut download: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); !os.IsNotExist(err) {
		t.Fatal("a partial download has the final name")
	}
	got, err := modelimport.Fetch(ctx, s, dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	checkModel(t, src, dir, got)
	if hub.Ranged != 1 || progressed == 0 {
		t.Fatalf("resumed downloads with a range: %d (want 1); progress %d", hub.Ranged, progressed)
	}
	// Fetching again downloads nothing: every file is verified in place.
	before := hub.Requests["config.json"]
	if _, err := modelimport.Fetch(ctx, s, dir, opt); err != nil || hub.Requests["config.json"] != before {
		t.Fatalf("refetch: err %v, config.json downloaded %d times", err, hub.Requests["config.json"])
	}

	info, err := modelimport.Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Architecture != "gpt2" || info.ContextLength != 64 || info.License != "apache-2.0" || info.ParamCount <= 0 || info.SizeBytes <= st.Size() {
		t.Fatalf("info = %+v", info)
	}

	// A corrupted file on the hub fails its checksum and is not kept.
	bad := t.TempDir()
	for _, f := range got {
		b, _ := os.ReadFile(filepath.Join(src, f.Name))
		os.WriteFile(filepath.Join(bad, f.Name), b, 0o644)
	}
	hub.Add("tiny/corrupt", bad)
	s2, _ := modelimport.Parse(hub.URL+"/tiny/corrupt", hub.URL)
	dir2 := t.TempDir()
	evil := &modelimport.Options{HFEndpoint: hub.URL}
	// Serve one listing, then change the file behind it.
	hook := *evil
	calls := 0
	hook.Progress = func(name string, _, _ int64) {
		if name == "config.json" && calls == 0 {
			calls++
			// Same size, different bytes: only the checksum can tell.
			os.WriteFile(filepath.Join(bad, "model.safetensors"), make([]byte, st.Size()), 0o644)
		}
	}
	_, err = modelimport.Fetch(ctx, s2, dir2, hook)
	if !errors.As(err, &ue) || !strings.Contains(ue.Msg, "model.safetensors") || !strings.Contains(ue.Msg, "SHA-256") {
		t.Fatalf("tampered weights: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir2, "model.safetensors")); !os.IsNotExist(err) {
		t.Fatal("tampered weights were kept")
	}
}

func TestFetchHuggingFaceErrors(t *testing.T) {
	ctx := context.Background()
	src := hftest.TinyGPT2(t, t.TempDir(), "mit")
	hub := hftest.Start(t, map[string]string{"tiny/gpt2": src})
	hub.Token = "hf_secret"
	s, _ := modelimport.Parse("https://huggingface.co/tiny/gpt2", "")
	var ue *modelimport.Error
	_, err := modelimport.Fetch(ctx, s, t.TempDir(), modelimport.Options{HFEndpoint: hub.URL})
	if !errors.As(err, &ue) || !strings.Contains(ue.Msg, "MF_HF_TOKEN") {
		t.Fatalf("gated repo without token: %v", err)
	}
	if _, err := modelimport.Fetch(ctx, s, t.TempDir(), modelimport.Options{HFEndpoint: hub.URL, HFToken: "hf_secret"}); err != nil {
		t.Fatalf("with token: %v", err)
	}
	missing, _ := modelimport.Parse("https://huggingface.co/tiny/nope", "")
	if _, err := modelimport.Fetch(ctx, missing, t.TempDir(), modelimport.Options{HFEndpoint: hub.URL, HFToken: "hf_secret"}); !errors.As(err, &ue) || !strings.Contains(ue.Msg, "no repository") {
		t.Fatalf("missing repo: %v", err)
	}
	// Size limits are checked against the listing before anything is written.
	small := t.TempDir()
	if _, err := modelimport.Fetch(ctx, s, small, modelimport.Options{HFEndpoint: hub.URL, HFToken: "hf_secret", MaxTotalBytes: 1000}); !errors.As(err, &ue) || !strings.Contains(ue.Msg, "limit") {
		t.Fatalf("over the limit: %v", err)
	}
	if ents, _ := os.ReadDir(small); len(ents) != 0 {
		t.Fatalf("files written before the limit check: %v", ents)
	}
	// Offline: nothing listens on the endpoint.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	_, err = modelimport.Fetch(ctx, s, t.TempDir(), modelimport.Options{HFEndpoint: dead})
	if !errors.As(err, &ue) || !strings.Contains(ue.Msg, "Cannot reach Hugging Face") || !strings.Contains(ue.Msg, "offline") {
		t.Fatalf("offline: %v", err)
	}
}

func TestFetchLocal(t *testing.T) {
	ctx := context.Background()
	src := hftest.TinyGPT2(t, t.TempDir(), "mit")
	s, err := modelimport.Parse(src, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	got, err := modelimport.Fetch(ctx, s, dir, modelimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkModel(t, src, dir, got)
	var ue *modelimport.Error
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "config.json"), []byte(`{}`), 0o644)
	es, _ := modelimport.Parse(empty, "")
	if _, err := modelimport.Fetch(ctx, es, t.TempDir(), modelimport.Options{}); !errors.As(err, &ue) || !strings.Contains(ue.Msg, "safetensors") {
		t.Fatalf("no weights: %v", err)
	}
	ms, _ := modelimport.Parse("/no/such/dir", "")
	if _, err := modelimport.Fetch(ctx, ms, t.TempDir(), modelimport.Options{}); !errors.As(err, &ue) || !strings.Contains(ue.Msg, "not a directory") {
		t.Fatalf("missing dir: %v", err)
	}
}

func TestFetchS3(t *testing.T) {
	ctx := context.Background()
	srv := s3test.StartServer(t)
	cfg := srv.NewBucket(t)
	bucket, err := blob.NewS3(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := hftest.TinyGPT2(t, t.TempDir(), "mit")
	if _, err := catalog.UploadDir(ctx, bucket, "zoo/tiny", src, nil); err != nil {
		t.Fatal(err)
	}
	// Something under a deeper prefix is not part of the model.
	bucket.Put(ctx, "zoo/tiny/old/model.safetensors", strings.NewReader("x"), 1, "")
	s, err := modelimport.Parse("s3://"+cfg.Bucket+"/zoo/tiny", "")
	if err != nil {
		t.Fatal(err)
	}
	opt := modelimport.Options{S3: func(ctx context.Context, b string) (blob.Store, error) {
		c := cfg
		c.Bucket = b
		return blob.NewS3(ctx, c)
	}}
	dir := t.TempDir()
	got, err := modelimport.Fetch(ctx, s, dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	checkModel(t, src, dir, got)
	var ue *modelimport.Error
	none, _ := modelimport.Parse("s3://"+cfg.Bucket+"/nothing", "")
	if _, err := modelimport.Fetch(ctx, none, t.TempDir(), opt); !errors.As(err, &ue) || !strings.Contains(ue.Msg, "no model files") {
		t.Fatalf("empty prefix: %v", err)
	}
	if _, err := modelimport.Fetch(ctx, s, t.TempDir(), modelimport.Options{}); !errors.As(err, &ue) || !strings.Contains(ue.Msg, "MF_S3") {
		t.Fatalf("S3 not configured: %v", err)
	}
}
