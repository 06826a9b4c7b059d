package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Config configures an [S3] store.
type S3Config struct {
	// Endpoint is the base URL of an S3-compatible service, such as
	// "http://127.0.0.1:7070". Empty means AWS S3 itself.
	Endpoint string
	// Bucket must already exist.
	Bucket string
	// Region defaults to "us-east-1", which most S3-compatible servers accept.
	Region string
	// AccessKey and SecretKey are static credentials. Leave both empty to use
	// the AWS SDK's default chain (AWS_* environment variables, shared
	// config files, instance roles).
	AccessKey string
	SecretKey string
	// PathStyle addresses buckets as ENDPOINT/BUCKET/KEY instead of
	// BUCKET.ENDPOINT/KEY; most self-hosted servers need it.
	PathStyle bool
}

// Upload tuning. Memory per large upload is about
// (s3Concurrency+3) * s3PartSize (measured: 60 MB allocated for 64 MiB and
// for 256 MiB objects, see BenchmarkS3PutContent), whatever the object size;
// an object of unknown size may be at most 10,000 parts (78 GiB).
const (
	s3PartSize    = 8 << 20
	s3Concurrency = 4
	// s3AbortTimeout bounds the clean-up (AbortMultipartUpload) after a
	// failed upload; it runs on a fresh context so that cancelling the
	// caller's context still cleans up.
	s3AbortTimeout = 30 * time.Second
)

// S3 is a [Store] in a bucket of an S3-compatible object store.
type S3 struct {
	client *s3.Client
	tm     *transfermanager.Client
	bucket string
}

// NewS3 returns a store for cfg.Bucket. It does no network I/O; use Ping to
// check that the endpoint, credentials and bucket work.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("blob: s3: bucket is required")
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("blob: s3: set both access key and secret key, or neither")
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("blob: s3: endpoint %q is not an http(s) URL", cfg.Endpoint)
		}
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		// The SDK's default adds CRC32 trailers (aws-chunked uploads) to
		// every request, which many S3-compatible servers reject. Only send
		// checksums where the API requires them; TLS covers transport
		// integrity.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("blob: s3: load AWS config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	})
	tm := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = s3PartSize
		o.MultipartUploadThreshold = s3PartSize
		o.Concurrency = s3Concurrency
		o.FailTimeout = s3AbortTimeout
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	return &S3{client: client, tm: tm, bucket: cfg.Bucket}, nil
}

// Client returns the underlying SDK client, for operations outside [Store]
// such as presigned URLs.
func (s *S3) Client() *s3.Client { return s.client }

// Bucket returns the bucket name.
func (s *S3) Bucket() string { return s.bucket }

// Put implements [Store]. Objects up to 8 MiB go up in one PutObject;
// larger or unknown-size ones as a multipart upload, which S3 makes visible
// only when complete and which is aborted on failure.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	ct, err := normalizeContentType(contentType)
	if err != nil {
		return err
	}
	in := &transfermanager.UploadObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(key),
		Body:        ctxReader{ctx: ctx, r: newExactReader(r, size)},
		ContentType: aws.String(ct),
	}
	if size >= 0 {
		in.ContentLength = aws.Int64(size)
	}
	if _, err := s.tm.UploadObject(ctx, in); err != nil {
		return fmt.Errorf("blob: s3 put %q: %w", key, err)
	}
	return nil
}

// Get implements [Store].
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Info{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, Info{}, fmt.Errorf("blob: s3 get %q: %w", key, mapS3Error(err))
	}
	return out.Body, Info{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		ModTime:     aws.ToTime(out.LastModified),
		ETag:        trimETag(out.ETag),
	}, nil
}

// Stat implements [Store].
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return Info{}, fmt.Errorf("blob: s3 stat %q: %w", key, mapS3Error(err))
	}
	return Info{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		ModTime:     aws.ToTime(out.LastModified),
		ETag:        trimETag(out.ETag),
	}, nil
}

// Delete implements [Store].
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil && !errors.Is(mapS3Error(err), ErrNotFound) {
		return fmt.Errorf("blob: s3 delete %q: %w", key, err)
	}
	return nil
}

// List implements [Store].
func (s *S3) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(Info{}, err)
			return
		}
		in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket)}
		if prefix != "" {
			in.Prefix = aws.String(prefix)
		}
		p := s3.NewListObjectsV2Paginator(s.client, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(Info{}, fmt.Errorf("blob: s3 list %q: %w", prefix, err))
				return
			}
			for _, o := range page.Contents {
				// Skip what this package could not have written and
				// cannot read back, such as the "dir/" markers that S3
				// consoles create.
				if ValidateKey(aws.ToString(o.Key)) != nil {
					continue
				}
				info := Info{
					Key:     aws.ToString(o.Key),
					Size:    aws.ToInt64(o.Size),
					ModTime: aws.ToTime(o.LastModified),
					ETag:    trimETag(o.ETag),
				}
				if !yield(info, nil) {
					return
				}
			}
		}
	}
}

// Ping implements [Store]: the bucket must exist and the credentials must
// grant access to it.
func (s *S3) Ping(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return fmt.Errorf("blob: s3 bucket %q: %w", s.bucket, err)
	}
	return nil
}

// mapS3Error turns S3's "no such key" answers into ErrNotFound and keeps
// every other error (including a missing bucket) as it is.
func mapS3Error(err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
	}
	return err
}

// trimETag removes the quotes S3 puts around ETags.
func trimETag(etag *string) string {
	return strings.Trim(aws.ToString(etag), `"`)
}

// Interface checks.
var (
	_ Store = (*Local)(nil)
	_ Store = (*S3)(nil)
)
