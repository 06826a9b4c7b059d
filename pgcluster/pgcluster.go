// Package pgcluster runs a private PostgreSQL cluster from the machine's
// PostgreSQL binaries. It backs two things: the embedded database that
// `modelfactory serve` starts when no DATABASE_URL is configured, and the
// ephemeral clusters that tests start. The cluster listens only on a Unix
// socket inside its own directory, so it never collides with another
// PostgreSQL on the machine.
//
// initdb refuses to run as root. When the process is root the cluster's
// processes run as the `postgres` system user (created by the distribution's
// postgresql package) and the cluster directory is owned by that user.
package pgcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options configure a cluster.
type Options struct {
	// Dir holds the cluster: Dir/data (PGDATA), Dir/run (socket), Dir/log.
	Dir string
	// Ephemeral clusters trade durability for speed (fsync off); tests use it.
	Ephemeral bool
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
	// SharedBuffers is PostgreSQL's shared_buffers ("6GB", "512MB"); empty
	// means DefaultSharedBuffers(Ephemeral).
	SharedBuffers string
}

// DefaultSharedBuffers is the shared_buffers a cluster gets unless told
// otherwise. The usual sizing for a database server is a quarter of the
// machine's memory: PostgreSQL's own 128MB default keeps little more than
// a small Datanet's records in its cache, and a query that rechecks tens
// of thousands of rows (a phrase search, say) then pays a system call per
// page. Bounded to 128MB–8GB. Ephemeral (test) clusters keep 128MB: many
// run at once.
func DefaultSharedBuffers(ephemeral bool) string {
	if ephemeral {
		return "128MB"
	}
	mb := memTotalMB() / 4
	return strconv.FormatInt(min(max(mb, 128), 8192), 10) + "MB"
}

// memTotalMB is the memory this process may use, in MiB: the machine's,
// or its control group's limit when lower (a container sees the host's
// MemTotal). 0 when unknown.
func memTotalMB() int64 {
	var total int64
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				total = kb >> 10
			}
		}
	}
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && limit > 0 && (total == 0 || limit>>20 < total) {
			total = limit >> 20
		}
	}
	return total
}

// Cluster is a running PostgreSQL server.
type Cluster struct {
	dir     string // where the cluster actually lives (may differ from Options.Dir for root)
	bin     string
	cred    *syscall.Credential
	log     *slog.Logger
	stopped bool
}

// ErrNoBinaries says PostgreSQL is not installed.
var ErrNoBinaries = errors.New("PostgreSQL server binaries not found: install the distribution's postgresql package (apt-get install postgresql) or set DATABASE_URL")

// FindBinDir returns the directory holding initdb and pg_ctl: the newest
// /usr/lib/postgresql/N/bin, else the directory of initdb on PATH.
func FindBinDir() (string, error) {
	if dir := os.Getenv("MF_PG_BIN"); dir != "" {
		return dir, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return pgMajor(matches[i]) > pgMajor(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoBinaries
}

func pgMajor(initdbPath string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdbPath))))
	return n
}

// Start initialises the cluster on first use and starts the server. A cluster
// left running by a crashed process is stopped and restarted cleanly.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin, log: log}
	if os.Geteuid() == 0 {
		if err := c.prepareForRoot(); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	for _, sub := range []string{"run"} {
		if err := c.mkdirOwned(filepath.Join(c.dir, sub)); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		log.Info("initialising PostgreSQL cluster", "dir", c.dataDir())
		if err := c.initdb(ctx, opts.Ephemeral); err != nil {
			return nil, err
		}
	}
	// A postmaster.pid from a crashed run: pg_ctl start copes with stale pid
	// files itself, but a live server from an earlier process must be stopped.
	if c.running(ctx) {
		log.Warn("PostgreSQL cluster was already running; restarting it", "dir", c.dataDir())
		_ = c.pgctl(ctx, "stop", "-m", "fast", "-w")
	}
	buffers := opts.SharedBuffers
	if buffers == "" {
		buffers = DefaultSharedBuffers(opts.Ephemeral)
	}
	if !ValidMemory(buffers) {
		return nil, fmt.Errorf("shared_buffers %q: want a size such as 512MB or 4GB", buffers)
	}
	start := func(buffers string) error {
		return c.pgctl(ctx, "start", "-w", "-t", "60", "-l", filepath.Join(c.dir, "postgres.log"),
			"-o", "-c listen_addresses='' -c unix_socket_directories='"+c.socketDir()+"' -c shared_buffers="+buffers)
	}
	err = start(buffers)
	if err != nil && opts.SharedBuffers == "" && buffers != "128MB" {
		// The machine would not give PostgreSQL that much shared memory
		// (strict overcommit, a small container): fall back to its default.
		log.Warn("PostgreSQL did not start with the default shared_buffers; retrying with 128MB", "shared_buffers", buffers, "err", err)
		err = start("128MB")
	}
	if err != nil {
		tail, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		return nil, fmt.Errorf("start PostgreSQL: %w\n%s", err, lastLines(tail, 15))
	}
	log.Info("PostgreSQL started", "socket", c.socketDir())
	return c, nil
}

// ValidMemory reports whether s is a PostgreSQL memory size: digits and kB, MB or GB.
func ValidMemory(s string) bool {
	for unit, least := range map[string]int{"kB": 128, "MB": 1, "GB": 1} { // PostgreSQL's minimum is 128kB
		if n, ok := strings.CutSuffix(s, unit); ok {
			v, err := strconv.Atoi(n)
			return err == nil && v >= least && n[0] != '+'
		}
	}
	return false
}

// prepareForRoot makes the cluster directory usable by the postgres user. If
// that user cannot reach opts.Dir (a home directory with mode 0700, say), the
// cluster lives under /var/tmp instead and opts.Dir becomes a symlink to it.
func (c *Cluster) prepareForRoot() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs the 'postgres' system user (apt-get install postgresql): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}

	if fi, err := os.Lstat(c.dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(c.dir)
		if err != nil {
			return err
		}
		c.dir = target
	} else if !traversableByOthers(filepath.Dir(c.dir)) {
		sum := sha256.Sum256([]byte(c.dir))
		alt := filepath.Join("/var/tmp", "modelfactory-pg-"+hex.EncodeToString(sum[:6]))
		if err := os.MkdirAll(filepath.Dir(c.dir), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(alt, c.dir); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("link cluster directory: %w", err)
		}
		c.log.Info("cluster directory not reachable by the postgres user; using a private directory", "dir", alt, "link", c.dir)
		c.dir = alt
	}
	return c.mkdirOwned(c.dir)
}

// traversableByOthers reports whether every directory from / down to dir is
// searchable by users other than the owner.
func traversableByOthers(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil && fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" || d == "." {
			return true
		}
	}
}

func (c *Cluster) mkdirOwned(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if c.cred != nil {
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	return nil
}

func (c *Cluster) dataDir() string   { return filepath.Join(c.dir, "data") }
func (c *Cluster) socketDir() string { return filepath.Join(c.dir, "run") }

// Dir is where the cluster lives.
func (c *Cluster) Dir() string { return c.dir }

// URL returns a connection string for database name on this cluster.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&sslmode=disable", database, c.socketDir())
}

func (c *Cluster) initdb(ctx context.Context, ephemeral bool) error {
	args := []string{"-D", c.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"}
	if ephemeral {
		args = append(args, "--no-sync")
	}
	if err := c.run(ctx, "initdb", args...); err != nil {
		// Some minimal systems lack the C.UTF-8 locale.
		args = append(args[:len(args):len(args)], "--no-locale")
		args = removeArg(args, "--locale=C.UTF-8")
		if err2 := c.run(ctx, "initdb", args...); err2 != nil {
			return fmt.Errorf("initdb: %w", err)
		}
	}
	conf := "\n# ModelFactory\nmax_connections = 200\n"
	if ephemeral {
		conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
	}
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(conf)
	return err
}

func removeArg(args []string, drop string) []string {
	out := args[:0]
	for _, a := range args {
		if a != drop {
			out = append(out, a)
		}
	}
	return out
}

func (c *Cluster) running(ctx context.Context) bool {
	return c.pgctl(ctx, "status") == nil
}

func (c *Cluster) pgctl(ctx context.Context, args ...string) error {
	return c.run(ctx, "pg_ctl", append([]string{"-D", c.dataDir()}, args...)...)
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Stop shuts the server down cleanly (fast mode: active sessions are
// rolled back, everything committed is on disk).
func (c *Cluster) Stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.pgctl(ctx, "stop", "-m", "fast", "-w"); err != nil {
		return fmt.Errorf("stop PostgreSQL: %w", err)
	}
	c.log.Info("PostgreSQL stopped")
	return nil
}

// Remove stops the cluster and deletes its directory (tests).
func (c *Cluster) Remove() error {
	err := c.Stop()
	return errors.Join(err, os.RemoveAll(c.dir))
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
