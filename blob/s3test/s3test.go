// Package s3test starts a real S3-compatible server (versitygw with its posix
// backend) for tests, so that code using [blob.S3] is tested against the
// wire protocol rather than a mock.
//
// The versitygw binary is built once per machine with
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// into a cache directory (see [Binary]) and reused afterwards. Building needs
// the Go module proxy or a module cache that already holds versitygw; when it
// cannot be built the test fails (it is never skipped). Set MF_VERSITYGW to
// the path of a versitygw binary to use that one instead.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sys/unix"

	"github.com/modelfactory/modelfactory/blob"
)

// Version is the versitygw release the harness builds.
const Version = "v1.8.0"

const (
	modulePath = "github.com/versity/versitygw/cmd/versitygw"
	accessKey  = "mftestaccess"
	secretKey  = "mftestsecret0123456789"
	region     = "us-east-1"
	healthPath = "/health"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's base URL, e.g. "http://127.0.0.1:41234".
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	// Dir is the gateway's posix root; each bucket is a directory in it.
	Dir string

	client *s3.Client
}

// Start starts a server for the test (stopped when the test ends), creates a
// fresh bucket in it and returns the configuration for [blob.NewS3].
func Start(t testing.TB) blob.S3Config {
	t.Helper()
	return StartServer(t).NewBucket(t)
}

// Config returns the configuration for bucket on this server.
func (s *Server) Config(bucket string) blob.S3Config {
	return blob.S3Config{
		Endpoint:  s.Endpoint,
		Bucket:    bucket,
		Region:    s.Region,
		AccessKey: s.AccessKey,
		SecretKey: s.SecretKey,
		PathStyle: true,
	}
}

// NewBucket creates an empty bucket with a unique name and returns its
// configuration.
func (s *Server) NewBucket(t testing.TB) blob.S3Config {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "mf-test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("s3test: create bucket %q: %v", name, err)
	}
	return s.Config(name)
}

// StartServer builds versitygw if needed, starts it on a free localhost port
// serving a fresh temporary directory, and waits until it answers. The
// server is stopped when the test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "gw")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	args := []string{"--access", accessKey, "--secret", secretKey, "--region", region, "--health", healthPath, "--quiet"}
	posixArgs := []string{"posix"}
	// The posix backend keeps object metadata (content type, ETag) in
	// extended attributes; on file systems without user xattrs (older
	// tmpfs, some overlays) use a sidecar directory instead.
	if !xattrSupported(root) {
		sidecar := filepath.Join(dir, "meta")
		if err := os.Mkdir(sidecar, 0o755); err != nil {
			t.Fatalf("s3test: %v", err)
		}
		posixArgs = append(posixArgs, "--sidecar", sidecar)
	}
	posixArgs = append(posixArgs, root)

	var lastErr error
	for range 3 { // the free port may be taken between probing and binding
		port, err := freePort()
		if err != nil {
			t.Fatalf("s3test: find a free port: %v", err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		s, err := start(t, bin, addr, append(append(args, "--port", addr), posixArgs...))
		if err == nil {
			s.Dir = root
			return s
		}
		lastErr = err
	}
	t.Fatalf("s3test: start versitygw: %v", lastErr)
	return nil
}

// lockedBuffer collects a process's output safely while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t testing.TB, bin, addr string, args []string) (*Server, error) {
	out := &lockedBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}

	endpoint := "http://" + addr
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("versitygw exited before answering (%v); output:\n%s", err, out.String())
		default:
		}
		resp, err := hc.Get(endpoint + healthPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("versitygw did not answer on %s within 60s; output:\n%s", endpoint, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("versitygw output:\n%s", out.String())
		}
	})

	s := &Server{Endpoint: endpoint, AccessKey: accessKey, SecretKey: secretKey, Region: region}
	bs, err := blob.NewS3(context.Background(), s.Config("unused"))
	if err != nil {
		return nil, err
	}
	s.client = bs.Client()
	return s, nil
}

// cleanEnv keeps the environment but drops versitygw's own VGW_* settings,
// which would otherwise override the harness's flags.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VGW_") {
			env = append(env, kv)
		}
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func xattrSupported(dir string) bool {
	f, err := os.CreateTemp(dir, ".xattr-probe-*")
	if err != nil {
		return false
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	return unix.Setxattr(name, "user.mfprobe", []byte("1"), 0) == nil
}

// Binary returns the path of a versitygw binary, building it on first use
// into CACHE/modelfactory-tools/versitygw-VERSION/ where CACHE is
// os.UserCacheDir(). MF_VERSITYGW overrides it. Concurrent test processes
// coordinate with a file lock so the binary is built once.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MF_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("s3test: MF_VERSITYGW=%q: %v", p, err)
		}
		return p
	}
	path, err := ensureBinary()
	if err != nil {
		t.Fatalf("s3test: cannot build versitygw %s, which the S3 tests need: %v\n"+
			"Building needs the Go module proxy (or a module cache holding %s@%s). "+
			"Alternatively set MF_VERSITYGW to an existing versitygw binary.", Version, err, modulePath, Version)
	}
	return path
}

func ensureBinary() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locate cache directory: %w", err)
	}
	dir := filepath.Join(cache, "modelfactory-tools", "versitygw-"+Version)
	bin := filepath.Join(dir, "versitygw")
	if isExecutable(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if isExecutable(bin) { // built by another process while we waited
		return bin, nil
	}

	goBin, err := goCommand()
	if err != nil {
		return "", err
	}
	// Install into a scratch GOBIN and rename, so nobody ever runs a
	// half-written binary.
	tmpBin, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmpBin)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "install", modulePath+"@"+Version)
	cmd.Dir = tmpBin // outside any module, so go.mod and go.work play no part
	cmd.Env = append(os.Environ(), "GOBIN="+tmpBin, "GOWORK=off", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", modulePath, Version, err, out)
	}
	if err := os.Rename(filepath.Join(tmpBin, "versitygw"), bin); err != nil {
		return "", err
	}
	return bin, nil
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// goCommand finds the go tool that is running the tests.
func goCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := runtime.GOROOT(); root != "" { //nolint:staticcheck // fallback when PATH lacks go
		p := filepath.Join(root, "bin", "go")
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("no go command in PATH")
}
