package blob_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/blob/blobtest"
	"github.com/modelfactory/modelfactory/blob/s3test"
)

func newS3(t testing.TB, cfg blob.S3Config) *blob.S3 {
	t.Helper()
	s, err := blob.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestS3Contract runs the contract suite against a real versitygw started
// by the harness, with a fresh bucket per subtest.
func TestS3Contract(t *testing.T) {
	srv := s3test.StartServer(t)
	blobtest.RunContract(t, func(t *testing.T) blob.Store { return newS3(t, srv.NewBucket(t)) })
}

func TestS3PingMissingBucket(t *testing.T) {
	srv := s3test.StartServer(t)
	s := newS3(t, srv.Config("no-such-bucket"))
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping of a missing bucket succeeded")
	}
	// A missing bucket is not a missing key: Put must fail.
	if err := s.Put(t.Context(), "k", strings.NewReader("x"), 1, ""); err == nil {
		t.Error("Put into a missing bucket succeeded")
	}
}

func TestS3WrongCredentials(t *testing.T) {
	srv := s3test.StartServer(t)
	cfg := srv.NewBucket(t)
	cfg.SecretKey = "wrong-secret"
	s := newS3(t, cfg)
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping with a wrong secret succeeded")
	}
	if _, err := s.Stat(t.Context(), "k"); err == nil || errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat with a wrong secret: err = %v, want an access error, not ErrNotFound", err)
	}
}

func TestNewS3Validation(t *testing.T) {
	ctx := t.Context()
	for name, cfg := range map[string]blob.S3Config{
		"no bucket":        {Endpoint: "http://127.0.0.1:1"},
		"only access key":  {Bucket: "b", AccessKey: "a"},
		"only secret key":  {Bucket: "b", SecretKey: "s"},
		"endpoint no host": {Bucket: "b", Endpoint: "http://"},
		"endpoint scheme":  {Bucket: "b", Endpoint: "ftp://host"},
		"endpoint garbage": {Bucket: "b", Endpoint: "::not a url"},
	} {
		if _, err := blob.NewS3(ctx, cfg); err == nil {
			t.Errorf("%s: NewS3(%+v) succeeded", name, cfg)
		}
	}
}

// The same objects written through S3 are visible through a second client:
// nothing is cached client-side.
func TestS3SharedBucket(t *testing.T) {
	cfg := s3test.Start(t)
	a, b := newS3(t, cfg), newS3(t, cfg)
	if err := a.Put(t.Context(), "shared/x", bytes.NewReader([]byte("hi")), 2, "text/plain"); err != nil {
		t.Fatal(err)
	}
	st, err := b.Stat(t.Context(), "shared/x")
	if err != nil || st.Size != 2 || st.ContentType != "text/plain" {
		t.Errorf("Stat via second client = %+v, %v", st, err)
	}
}

func BenchmarkS3Put1MiB(b *testing.B) {
	s := newS3(b, s3test.Start(b))
	data := bytes.Repeat([]byte("x"), 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := s.Put(b.Context(), "bench/obj", bytes.NewReader(data), int64(len(data)), ""); err != nil {
			b.Fatal(err)
		}
	}
}
