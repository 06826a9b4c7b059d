// Package pgtest gives tests a real PostgreSQL: one ephemeral cluster per
// test binary, a migrated template database, and a fresh database cloned
// from the template for every test that asks (cloning takes milliseconds).
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// then call pgtest.New(t) in each test.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/modelfactory/modelfactory/pgcluster"
	"github.com/modelfactory/modelfactory/store"
)

const templateDB = "mf_template"

var (
	once    sync.Once
	cluster *pgcluster.Cluster
	initErr error
	seq     atomic.Int64
	tmpDir  string // this process's mfpg directory, with the owner file
)

// Main runs the tests and stops the cluster afterwards.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		if err := cluster.Remove(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
		_ = os.RemoveAll(tmpDir) // the cluster may live elsewhere (see pgcluster's prepareForRoot)
	}
	os.Exit(code)
}

func start() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reapOrphans()
	// Short path: the Unix socket path must stay under 107 bytes.
	dir, err := os.MkdirTemp("", "mfpg")
	if err != nil {
		initErr = err
		return
	}
	tmpDir = dir
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		initErr = err
		return
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		initErr = err
		return
	}
	cluster, initErr = pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "c"), Ephemeral: true,
		SharedBuffers: os.Getenv("MF_PG_SHARED_BUFFERS")})
	if initErr != nil {
		return
	}
	initErr = createTemplate(ctx)
}

func createTemplate(ctx context.Context) error {
	admin, err := pgx.Connect(ctx, cluster.URL("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+templateDB); err != nil {
		return err
	}
	pool, err := store.Open(ctx, cluster.URL(templateDB))
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	return nil
}

// URL returns a connection string for a fresh, migrated database that is
// dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(start)
	if initErr != nil {
		t.Fatalf("pgtest: start PostgreSQL: %v", initErr)
	}
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), seq.Add(1))
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, cluster.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+templateDB); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := pgx.Connect(ctx, cluster.URL("postgres"))
		if err != nil {
			return
		}
		defer admin.Close(ctx)
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return cluster.URL(name)
}

// New returns a pool on a fresh, migrated database, closed when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := store.Open(context.Background(), URL(t))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// SocketDir is the cluster's socket directory (for tests that spawn the
// server binary with a DATABASE_URL); empty before the first New/URL.
func SocketDir() string {
	if cluster == nil {
		return ""
	}
	u := cluster.URL("x")
	return u[strings.Index(u, "host=")+5 : strings.Index(u, "&")]
}
