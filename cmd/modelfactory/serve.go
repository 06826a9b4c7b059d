package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/handlers"
	"github.com/modelfactory/modelfactory/inference"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/modelimport"
	"github.com/modelfactory/modelfactory/pgcluster"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/views"
	"github.com/modelfactory/modelfactory/web"
)

// shutdownBudget is how long a graceful stop may take in all.
const shutdownBudget = 10 * time.Second

// closers run in reverse order at shutdown.
type closers []func()

func (c *closers) add(f func()) { *c = append(*c, f) }
func (c *closers) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
}

// openDatabase connects to DATABASE_URL, or starts the embedded cluster
// under the data directory, then applies migrations.
func openDatabase(ctx context.Context, cfg *Config, log *slog.Logger, cl *closers) (*pgxpool.Pool, []string, error) {
	dbURL := cfg.DatabaseURL
	if dbURL == "" {
		if err := lockDataDir(cfg.DataDir, cl); err != nil {
			return nil, nil, err
		}
		pg, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(cfg.DataDir, "postgres"), Logger: log,
			SharedBuffers: cfg.PGSharedBuffers})
		if err != nil {
			return nil, nil, fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		cl.add(func() {
			if err := pg.Stop(); err != nil {
				log.Error("stop embedded PostgreSQL", "err", err)
			}
		})
		if err := ensureDatabase(ctx, pg.URL("postgres"), "modelfactory"); err != nil {
			return nil, nil, err
		}
		dbURL = pg.URL("modelfactory")
		log.Info("embedded PostgreSQL ready", "DATABASE_URL", dbURL)
	}
	pool, err := store.Open(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	cl.add(pool.Close)
	applied, err := store.Migrate(ctx, pool)
	if err != nil {
		return nil, nil, err
	}
	if len(applied) > 0 {
		log.Info("applied migrations", "migrations", applied)
	}
	return pool, applied, nil
}

func ensureDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to embedded PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return nil
}

// lockDataDir makes sure one process owns the data directory's embedded
// services: a second serve on the same directory would fight over them.
func lockDataDir(dir string, cl *closers) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("data directory %s is in use by another modelfactory process; stop it, or give this one its own MF_DATA_DIR (a worker sharing the embedded database needs DATABASE_URL)", dir)
	}
	cl.add(func() { f.Close() })
	return nil
}

// openBlobs returns the S3 store when a bucket is configured, else the
// local directory store.
func openBlobs(ctx context.Context, cfg *Config) (blob.Store, string, error) {
	if cfg.S3.Bucket != "" {
		s, err := blob.NewS3(ctx, cfg.S3)
		if err != nil {
			return nil, "", err
		}
		return s, "s3://" + cfg.S3.Bucket, nil
	}
	dir := filepath.Join(cfg.DataDir, "blobs")
	s, err := blob.NewLocal(dir)
	if err != nil {
		return nil, "", err
	}
	return s, dir, nil
}

// modelFetch configures base-model imports: the Hugging Face hub and
// token, and S3 buckets reached with the deployment's S3 endpoint and
// credentials.
func modelFetch(cfg *Config) modelimport.Options {
	return modelimport.Options{HFEndpoint: cfg.HFEndpoint, HFToken: cfg.HFToken,
		S3: func(ctx context.Context, bucket string) (blob.Store, error) {
			c := cfg.S3
			c.Bucket = bucket
			return blob.NewS3(ctx, c)
		}}
}

// registerStarter puts an already built starter model into the catalog
// (the starter-model job does it when it builds the model).
func registerStarter(ctx context.Context, cfg *Config, st *store.Store, blobs blob.Store, log *slog.Logger) {
	dir := filepath.Join(cfg.DataDir, "models", trainer.StarterName)
	if !trainer.IsModelDir(dir) {
		return
	}
	if b, err := jobs.RegisterStarterModel(ctx, st, blobs, dir); err != nil {
		log.Warn("starter model not registered in the catalog", "err", err)
	} else {
		log.Info("starter model in the catalog", "slug", b.Slug, "hash", b.ContentHash)
	}
}

// openChain dials MF_CHAIN_RPC_URL or starts the embedded dev chain.
func openChain(ctx context.Context, cfg *Config, log *slog.Logger, cl *closers) (*ethclient.Client, *chain.DevChain, views.ChainInfo, error) {
	info := views.ChainInfo{ChainID: cfg.ChainID, Name: fmt.Sprintf("Chain %d", cfg.ChainID)}
	rpcURL := cfg.ChainRPCURL
	var dev *chain.DevChain
	if rpcURL == "" {
		var err error
		dev, err = chain.StartDev(ctx, chain.DevConfig{DataDir: filepath.Join(cfg.DataDir, "chain"), ChainID: cfg.ChainID,
			HTTPAddr: cfg.ChainDevRPC, Logger: log.With("component", "devchain")})
		if err != nil {
			return nil, nil, info, fmt.Errorf("embedded dev chain: %w", err)
		}
		cl.add(func() {
			if err := dev.Close(); err != nil {
				log.Error("stop dev chain", "err", err)
			}
		})
		rpcURL = dev.RPCURL()
		info.Name = "ModelFactory dev chain"
		log.Info("embedded dev chain ready", "rpc", rpcURL, "chain_id", cfg.ChainID)
	}
	info.RPCURL = rpcURL
	client, err := chain.Dial(ctx, rpcURL, cfg.ChainID)
	if err != nil {
		return nil, nil, info, err
	}
	cl.add(client.Close)
	return client, dev, info, nil
}

// devWalletKey loads or creates the local test wallet's key (MF_DEV=1).
func devWalletKey(dataDir string) (*ecdsa.PrivateKey, error) {
	path := filepath.Join(dataDir, "dev-wallet.key")
	if b, err := os.ReadFile(path); err == nil {
		return crypto.HexToECDSA(strings.TrimSpace(string(b)))
	}
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(crypto.FromECDSA(key))), 0o600); err != nil {
		return nil, fmt.Errorf("save dev wallet key: %w", err)
	}
	return key, nil
}

func serve(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error {
	var cl closers
	defer cl.run()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	pool, _, err := openDatabase(ctx, cfg, log, &cl)
	if err != nil {
		return err
	}
	st := store.New(pool)
	blobs, blobWhere, err := openBlobs(ctx, cfg)
	if err != nil {
		return err
	}
	log.Info("object storage ready", "where", blobWhere)
	// The Playground's engine loads models lazily into
	// MF_DATA_DIR/cache, the same cache the fine-tune workers use.
	engine, err := inference.New(inference.Options{Blobs: blobs, CacheDir: filepath.Join(cfg.DataDir, "cache"),
		MemoryBytes: cfg.InferenceMemoryBytes, Replicas: cfg.InferenceReplicas})
	if err != nil {
		return err
	}
	defer engine.Close()
	eth, devChain, chainInfo, err := openChain(ctx, cfg, log, &cl)
	if err != nil {
		return err
	}
	rw, err := setupRewards(ctx, cfg, log, st, eth, devChain)
	if err != nil {
		return err
	}

	riverClient, err := jobs.NewClient(pool, jobs.Deps{Store: st, Logger: log, Rewards: rw.jobs, Blobs: blobs, IngestLimits: cfg.ingestLimits(), DataDir: cfg.DataDir, Finetune: cfg.finetune(), PublicURL: cfg.PublicURL.String(), ModelFetch: modelFetch(cfg)}, jobs.Config{Queues: cfg.Queues, Workers: cfg.Workers, EpochEvery: cfg.EpochEvery})
	if err != nil {
		return err
	}
	if err := riverClient.Start(ctx); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	registerStarter(ctx, cfg, st, blobs, log)
	if cfg.Dev && cfg.Demo {
		// Unique and a no-op once any Datanet exists: safe on every start.
		if _, err := riverClient.Insert(ctx, jobs.SeedDemoArgs{}, nil); err != nil {
			return fmt.Errorf("enqueue demo data: %w", err)
		}
		// The offline starter base model, built in the background once.
		if _, err := riverClient.Insert(ctx, jobs.StarterModelArgs{}, nil); err != nil {
			return fmt.Errorf("enqueue starter model: %w", err)
		}
	}
	cl.add(func() { stopRiver(riverClient, log, shutdownBudget/2) })

	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(riverClient, nil),
		Logger:    log.With("component", "riverui"),
		Prefix:    "/admin/jobs",
	})
	if err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	uiCtx, stopUI := context.WithCancel(context.WithoutCancel(ctx))
	cl.add(stopUI)
	if err := ui.Start(uiCtx); err != nil {
		return fmt.Errorf("river UI: %w", err)
	}

	admins := map[string]bool{}
	for _, a := range cfg.Admins {
		admins[strings.ToLower(a)] = true
	}
	deps := handlers.Deps{
		Store: st, Log: log, PublicURL: cfg.PublicURL, Chain: chainInfo, Wallets: eth, Admins: admins, Dev: cfg.Dev,
		Rewards: rw.handlers, Deployment: rw.deployment, ExplorerURL: cfg.ExplorerURL, FundGas: rw.fundGas,
		InsertJob: insertJob(riverClient),
		Blobs:     blobs, MaxUploadBytes: cfg.MaxUploadBytes,
		Inference: engine,
		EnqueueIngest: func(ctx context.Context, tx pgx.Tx, id int64) error {
			return jobs.InsertIngest(ctx, riverClient, tx, id)
		},
		EnqueueFinetune: func(ctx context.Context, tx pgx.Tx, run *store.FinetuneRun) (int64, error) {
			return jobs.InsertFinetune(ctx, riverClient, tx, run)
		},
		HFEndpoint: cfg.HFEndpoint,
		EnqueueModelImport: func(ctx context.Context, tx pgx.Tx, id int64) error {
			_, err := riverClient.InsertTx(ctx, tx, jobs.NewModelImportArgs(id), nil)
			return err
		},
		Ready: []handlers.ReadyCheck{
			{Name: "database", Check: st.Ping},
			{Name: "queue", Check: func(ctx context.Context) error { _, err := st.JobCounts(ctx); return err }},
			{Name: "storage", Check: blobs.Ping},
			{Name: "chain", Check: func(ctx context.Context) error { return chain.Ping(ctx, eth) }},
		},
	}
	if cfg.Dev {
		if deps.DevKey, err = devWalletKey(cfg.DataDir); err != nil {
			return err
		}
		// The local test wallet administers a development instance, so
		// every page (Admin → Jobs included) can be tried without config.
		admins[strings.ToLower(crypto.PubkeyToAddress(deps.DevKey.PublicKey).Hex())] = true
	}
	if rw.jobs != nil {
		deps.EnqueueModelRegistration = func(ctx context.Context, tx pgx.Tx, id int64) error {
			_, err := riverClient.InsertTx(ctx, tx, jobs.RegisterModelArgs{ModelID: id}, nil)
			return err
		}
	}
	h, err := handlers.New(deps)
	if err != nil {
		return err
	}
	go func() {
		// The starter model is what most people try first in the
		// Playground: load it before they ask.
		if err := h.PreloadBaseModel(ctx, jobs.StarterModelSlug); err != nil {
			log.Info("starter model not preloaded for the Playground", "reason", err)
		}
	}()
	router := web.NewRouter(web.Options{Handlers: h, Store: st, Log: log, Jobs: ui})
	srv, err := web.Listen(cfg.Addr, router, log)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	log.Info("ModelFactory is running", "url", cfg.PublicURL.String(), "listen", srv.Addr(), "version", buildVersion())
	fmt.Fprintf(stdout, "\n  ModelFactory is running at %s\n\n", cfg.PublicURL.String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownBudget/3)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("HTTP shutdown", "err", err)
	}
	return nil
}

// stopRiver asks workers to finish their jobs, then cancels them when the
// budget runs out; cancelled jobs are retried by River later.
func stopRiver(c *river.Client[pgx.Tx], log *slog.Logger, budget time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		log.Warn("workers did not stop in time; cancelling running jobs", "err", err)
		hctx, hcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer hcancel()
		if err := c.StopAndCancel(hctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			log.Error("cancel workers", "err", err)
		}
	}
}

func worker(ctx context.Context, cfg *Config, log *slog.Logger) error {
	if cfg.DatabaseURL == "" {
		return errors.New("worker needs DATABASE_URL: point it at the PostgreSQL that serve uses (serve logs it at start)")
	}
	var cl closers
	defer cl.run()
	pool, _, err := openDatabase(ctx, cfg, log, &cl)
	if err != nil {
		return err
	}
	st := store.New(pool)
	blobs, _, err := openBlobs(ctx, cfg)
	if err != nil {
		return err
	}
	rw, queues, err := workerChain(ctx, cfg, log, st, &cl)
	if err != nil {
		return err
	}
	c, err := jobs.NewClient(pool, jobs.Deps{Store: st, Logger: log, Blobs: blobs, IngestLimits: cfg.ingestLimits(), DataDir: cfg.DataDir, Finetune: cfg.finetune(),
		Rewards: rw.jobs, PublicURL: cfg.PublicURL.String(), ModelFetch: modelFetch(cfg)}, jobs.Config{Queues: queues, Workers: cfg.Workers, EpochEvery: cfg.EpochEvery})
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	log.Info("worker running", "queues", queues)
	<-ctx.Done()
	log.Info("shutting down")
	stopRiver(c, log, shutdownBudget-2*time.Second)
	return nil
}

func migrate(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error {
	var cl closers
	defer cl.run()
	_, applied, err := openDatabase(ctx, cfg, log, &cl)
	if err != nil {
		return err
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "applied", m)
	}
	fmt.Fprintln(stdout, "database is up to date")
	return nil
}
