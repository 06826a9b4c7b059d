package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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

// Large uploads go up in parts, and a failed or cancelled multipart upload
// is aborted rather than left holding parts in the bucket.
func TestS3MultipartUploads(t *testing.T) {
	cfg := s3test.Start(t)
	s := newS3(t, cfg)
	ctx := t.Context()

	const size = 20 << 20
	if err := s.Put(ctx, "mp/ok", io.LimitReader(zeros{}, size), -1, ""); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stat(ctx, "mp/ok")
	if err != nil || st.Size != size {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	// S3 marks multipart ETags with "-<number of parts>".
	if !strings.HasSuffix(st.ETag, "-3") {
		t.Errorf("ETag %q: want a 3-part multipart ETag", st.ETag)
	}

	boom := errors.New("boom")
	if err := s.Put(ctx, "mp/failed", io.MultiReader(io.LimitReader(zeros{}, size), iotest.ErrReader(boom)), -1, ""); !errors.Is(err, boom) {
		t.Errorf("Put from a failing reader: err = %v, want it to wrap the reader's error", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if err := s.Put(cctx, "mp/cancelled", slowZeros{}, -1, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Put: err = %v, want context.Canceled", err)
	}
	out, err := s.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(cfg.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Uploads {
		t.Errorf("multipart upload left behind: key %q id %q", aws.ToString(u.Key), aws.ToString(u.UploadId))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// slowZeros never ends, at a pace that lets a test cancel mid-upload.
type slowZeros struct{}

func (slowZeros) Read(p []byte) (int, error) {
	p = p[:min(len(p), 64<<10)]
	time.Sleep(time.Millisecond)
	clear(p)
	return len(p), nil
}

func TestS3ListSkipsForeignKeys(t *testing.T) {
	cfg := s3test.Start(t)
	s := newS3(t, cfg)
	ctx := t.Context()
	if err := s.Put(ctx, "dir/file", strings.NewReader("x"), 1, ""); err != nil {
		t.Fatal(err)
	}
	// A directory marker as S3 consoles create it, written around blob.
	_, err := s.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(cfg.Bucket), Key: aws.String("dir/"), Body: strings.NewReader(""),
	})
	if err != nil {
		t.Fatal(err)
	}
	infos, err := blob.ListAll(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Key != "dir/file" {
		t.Errorf("List = %+v, want only dir/file", infos)
	}
}

// BenchmarkS3PutContent reports allocated bytes per upload for two sizes;
// they should not grow with the size (buffers are per part, not per object).
func BenchmarkS3PutContent(b *testing.B) {
	s := newS3(b, s3test.Start(b))
	for _, size := range []int64{64 << 20, 256 << 20} {
		b.Run(strconv.FormatInt(size>>20, 10)+"MiB", func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				// Distinct content each round so every iteration uploads.
				tag := strconv.Itoa(i) + b.Name()
				r := io.MultiReader(strings.NewReader(tag), io.LimitReader(zeros{}, size-int64(len(tag))))
				if _, _, _, err := blob.PutContent(b.Context(), s, "bench/", r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
