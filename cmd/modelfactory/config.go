package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/ingest"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/llamafactory"
	"github.com/modelfactory/modelfactory/pgcluster"
	"github.com/modelfactory/modelfactory/store"
)

// Config is every setting of the server, read from the environment and
// overridable by flags. The README's configuration table documents it.
type Config struct {
	Addr        string   // MF_ADDR
	PublicURL   *url.URL // MF_PUBLIC_URL
	DataDir     string   // MF_DATA_DIR
	Admins      []string // MF_ADMIN_ADDRESSES, checksummed
	Dev         bool     // MF_DEV
	DatabaseURL string   // DATABASE_URL
	S3          blob.S3Config
	ChainRPCURL string // MF_CHAIN_RPC_URL
	ChainID     uint64 // MF_CHAIN_ID
	ChainDevRPC string // MF_CHAIN_DEV_ADDR: where the embedded chain serves JSON-RPC
	LogFormat   string // MF_LOG_FORMAT: text or json
	LogLevel    string // MF_LOG_LEVEL
	Queues      []string
	Workers     int
	// Chain work (rewards): see README.
	Confirmations    uint64        // MF_CONFIRMATIONS; 0 means 1 on the dev chain, 12 elsewhere
	ChainStartBlock  uint64        // MF_CHAIN_START_BLOCK: where the first Claimed-event scan starts
	EpochEvery       time.Duration // MF_EPOCH_INTERVAL
	ExplorerURL      string        // MF_EXPLORER_URL
	OperatorKeystore string        // MF_OPERATOR_KEYSTORE (password in MF_OPERATOR_PASSWORD)
	Contracts        [3]string     // MF_CONTRACT_OPEN, MF_CONTRACT_REWARDS_DISTRIBUTOR, MF_CONTRACT_PROVENANCE_REGISTRY
	// MaxUploadBytes caps one contribution file (MF_MAX_UPLOAD_MB).
	MaxUploadBytes int64
	// FinetuneMaxPerUser is how many of one user's fine-tune runs train at
	// once across all workers (MF_FINETUNE_MAX_PER_USER); more wait queued.
	FinetuneMaxPerUser int
	// LlamaFactoryCLI is the llamafactory-cli that train_gpu workers run
	// (MF_LLAMAFACTORY_CLI: a path, or a name looked up on PATH).
	LlamaFactoryCLI string
	// Demo seeds demo Datanets into an empty database (MF_DEMO, with MF_DEV).
	Demo bool
	// Inference: the Playground's memory budget for loaded models
	// (MF_INFERENCE_MEMORY_MB) and generations on one base model that run
	// at once, each holding a copy of its weights (MF_INFERENCE_REPLICAS).
	InferenceMemoryBytes int64
	InferenceReplicas    int
	// Base-model imports from Hugging Face: the hub (MF_HF_ENDPOINT, a
	// mirror or a test server) and a read token for gated repositories
	// (MF_HF_TOKEN, environment only).
	HFEndpoint string
	HFToken    string
	// PGSharedBuffers is the embedded PostgreSQL's shared_buffers
	// (MF_PG_SHARED_BUFFERS; empty: a quarter of the machine's memory).
	PGSharedBuffers string
}

// finetune is the fine-tune worker configuration.
func (c *Config) finetune() jobs.FinetuneConfig {
	return jobs.FinetuneConfig{MaxPerUser: c.FinetuneMaxPerUser, Backends: map[string]jobs.TrainBackend{
		store.BackendLlamaFactory: &jobs.LlamaFactoryBackend{CLI: c.LlamaFactoryCLI}}}
}

// ingestLimits are the ingest defaults with the configured file size.
func (c *Config) ingestLimits() ingest.Limits {
	l := ingest.DefaultLimits()
	l.MaxFileBytes = c.MaxUploadBytes
	return l
}

// setting is one configuration entry: its environment variable, flag name,
// default and help.
type setting struct {
	env, flag, def, help string
	value                *string
}

type rawConfig struct {
	finetuneMaxPerUser, llamaFactoryCLI                                   string
	addr, publicURL, dataDir, admins, dev, databaseURL                    string
	s3Endpoint, s3Bucket, s3Region, s3Access, s3Secret, s3PathStyle       string
	chainRPC, chainID, chainDevAddr, logFormat, logLevel, queues, workers string
	confirmations, epochInterval, explorerURL, operatorKeystore           string
	chainStartBlock                                                       string
	contractOPEN, contractRewards, contractProvenance                     string
	maxUploadMB, demo                                                     string
	inferenceMemoryMB, inferenceReplicas                                  string
	hfEndpoint                                                            string
	pgSharedBuffers                                                       string
}

func (rc *rawConfig) settings() []setting {
	return []setting{
		{"MF_ADDR", "addr", "127.0.0.1:8080", "HTTP listen address", &rc.addr},
		{"MF_PUBLIC_URL", "public-url", "", "public origin used for sign-in checks and links (default http:// + MF_ADDR)", &rc.publicURL},
		{"MF_DATA_DIR", "data-dir", "./data", "directory for the embedded database, objects and chain", &rc.dataDir},
		{"MF_ADMIN_ADDRESSES", "admin-addresses", "", "comma-separated wallet addresses that are admins", &rc.admins},
		{"MF_DEV", "dev", "", "1 enables development conveniences (local test wallet)", &rc.dev},
		{"DATABASE_URL", "database-url", "", "PostgreSQL URL; empty starts a private cluster under MF_DATA_DIR", &rc.databaseURL},
		{"MF_S3_ENDPOINT", "s3-endpoint", "", "S3-compatible endpoint URL (empty with a bucket set means AWS)", &rc.s3Endpoint},
		{"MF_S3_BUCKET", "s3-bucket", "", "S3 bucket; empty stores objects under MF_DATA_DIR/blobs", &rc.s3Bucket},
		{"MF_S3_REGION", "s3-region", "us-east-1", "S3 region", &rc.s3Region},
		{"MF_S3_ACCESS_KEY", "s3-access-key", "", "S3 access key (empty uses the AWS default credential chain)", &rc.s3Access},
		{"MF_S3_SECRET_KEY", "s3-secret-key", "", "S3 secret key", &rc.s3Secret},
		{"MF_S3_PATH_STYLE", "s3-path-style", "1", "1 addresses buckets by path (most self-hosted servers need it)", &rc.s3PathStyle},
		{"MF_CHAIN_RPC_URL", "chain-rpc-url", "", "EVM JSON-RPC URL; empty runs an embedded development chain", &rc.chainRPC},
		{"MF_CHAIN_ID", "chain-id", "1337", "chain id the app and sign-in messages use", &rc.chainID},
		{"MF_CHAIN_DEV_ADDR", "chain-dev-addr", "127.0.0.1:8545", "JSON-RPC address of the embedded development chain", &rc.chainDevAddr},
		{"MF_LOG_FORMAT", "log-format", "", "text or json (default json, text with MF_DEV=1)", &rc.logFormat},
		{"MF_LOG_LEVEL", "log-level", "info", "debug, info, warn or error", &rc.logLevel},
		{"MF_QUEUES", "queues", strings.Join(jobs.DefaultQueues, ","), "River queues this process works", &rc.queues},
		{"MF_WORKERS", "workers", "4", "concurrent jobs per queue (training queues run one at a time)", &rc.workers},
		{"MF_CONFIRMATIONS", "confirmations", "", "blocks after which a transaction is final (default 1 on the dev chain, 12 elsewhere)", &rc.confirmations},
		{"MF_CHAIN_START_BLOCK", "chain-start-block", "0", "first block scanned for the distributor's Claimed events when this database has never scanned it (its deployment block on a real network)", &rc.chainStartBlock},
		{"MF_EPOCH_INTERVAL", "epoch-interval", "24h", "how often the reward epoch closes (Go duration)", &rc.epochInterval},
		{"MF_EXPLORER_URL", "explorer-url", "", "block explorer base URL for transaction links, e.g. https://etherscan.io", &rc.explorerURL},
		{"MF_OPERATOR_KEYSTORE", "operator-keystore", "", "keystore file of the operator key (password in $MF_OPERATOR_PASSWORD); or set $MF_OPERATOR_KEY (hex)", &rc.operatorKeystore},
		{"MF_CONTRACT_OPEN", "contract-open", "", "OPEN token address (real networks; the dev chain deploys its own)", &rc.contractOPEN},
		{"MF_CONTRACT_REWARDS_DISTRIBUTOR", "contract-rewards-distributor", "", "RewardsDistributor address (real networks)", &rc.contractRewards},
		{"MF_CONTRACT_PROVENANCE_REGISTRY", "contract-provenance-registry", "", "ProvenanceRegistry address (real networks)", &rc.contractProvenance},
		{"MF_MAX_UPLOAD_MB", "max-upload-mb", "25", "largest contribution file, in MB", &rc.maxUploadMB},
		{"MF_FINETUNE_MAX_PER_USER", "finetune-max-per-user", "1", "fine-tune runs of one user that train at once (fair share); more wait in the queue", &rc.finetuneMaxPerUser},
		{"MF_LLAMAFACTORY_CLI", "llamafactory-cli", "llamafactory-cli", "LLaMA-Factory's CLI that train_gpu workers run (a path, or a name on PATH)", &rc.llamaFactoryCLI},
		{"MF_DEMO", "demo", "1", "with MF_DEV=1, seed demo Datanets into an empty database", &rc.demo},
		{"MF_INFERENCE_MEMORY_MB", "inference-memory-mb", "2048", "memory for models loaded by the Playground and the generate API, in MB (least recently used are unloaded)", &rc.inferenceMemoryMB},
		{"MF_INFERENCE_REPLICAS", "inference-replicas", "2", "generations on one base model that run at once (each holds a copy of its weights)", &rc.inferenceReplicas},
		{"MF_HF_ENDPOINT", "hf-endpoint", "https://huggingface.co", "Hugging Face hub (or mirror) that base-model imports download from; token in $MF_HF_TOKEN", &rc.hfEndpoint},
		{"MF_PG_SHARED_BUFFERS", "pg-shared-buffers", "", "shared_buffers of the embedded PostgreSQL, such as 2GB (default a quarter of the machine's memory, 128MB to 8GB)", &rc.pgSharedBuffers},
	}
}

// loadConfig reads the environment, then flags from args.
func loadConfig(name string, args []string) (*Config, error) {
	var rc rawConfig
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	for _, s := range rc.settings() {
		v := s.def
		if e, ok := os.LookupEnv(s.env); ok {
			v = e
		}
		*s.value = v
		fs.StringVar(s.value, s.flag, v, s.help+" ($"+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return rc.validate()
}

func (rc *rawConfig) validate() (*Config, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	c := &Config{
		Addr: rc.addr, DataDir: rc.dataDir, DatabaseURL: rc.databaseURL, ChainRPCURL: rc.chainRPC,
		ChainDevRPC: rc.chainDevAddr, LogLevel: rc.logLevel,
		S3: blob.S3Config{Endpoint: rc.s3Endpoint, Bucket: rc.s3Bucket, Region: rc.s3Region,
			AccessKey: rc.s3Access, SecretKey: rc.s3Secret},
	}
	var err error
	if c.Dev, err = parseBool(rc.dev); err != nil {
		bad("MF_DEV: %v", err)
	}
	if c.S3.PathStyle, err = parseBool(rc.s3PathStyle); err != nil {
		bad("MF_S3_PATH_STYLE: %v", err)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("MF_ADDR %q must be host:port, such as 127.0.0.1:8080", c.Addr)
	}
	public := rc.publicURL
	if public == "" {
		public = "http://" + c.Addr
	}
	u, err := url.Parse(public)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		bad("MF_PUBLIC_URL %q must be an absolute http(s) URL such as https://modelfactory.example.com", public)
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		bad("MF_PUBLIC_URL %q must be an origin only (scheme, host and port; no path, query or credentials)", public)
	default:
		u.Path = ""
		c.PublicURL = u
	}
	if c.DataDir == "" {
		bad("MF_DATA_DIR must not be empty")
	}
	for _, a := range strings.Split(rc.admins, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !common.IsHexAddress(a) || len(a) != 42 {
			bad("MF_ADMIN_ADDRESSES: %q is not an Ethereum address (0x + 40 hex digits)", a)
			continue
		}
		c.Admins = append(c.Admins, common.HexToAddress(a).Hex())
	}
	if c.ChainID, err = strconv.ParseUint(rc.chainID, 10, 64); err != nil || c.ChainID == 0 {
		bad("MF_CHAIN_ID %q must be a positive integer", rc.chainID)
	}
	if c.ChainRPCURL != "" {
		if u, err := url.Parse(c.ChainRPCURL); err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") {
			bad("MF_CHAIN_RPC_URL %q must be an http(s) or ws(s) URL", c.ChainRPCURL)
		}
	} else if _, _, err := net.SplitHostPort(c.ChainDevRPC); err != nil {
		bad("MF_CHAIN_DEV_ADDR %q must be host:port", c.ChainDevRPC)
	}
	anyS3 := c.S3.Endpoint != "" || c.S3.AccessKey != "" || c.S3.SecretKey != ""
	if anyS3 && c.S3.Bucket == "" {
		bad("MF_S3_BUCKET is required when other MF_S3_* settings are given")
	}
	if (c.S3.AccessKey == "") != (c.S3.SecretKey == "") {
		bad("MF_S3_ACCESS_KEY and MF_S3_SECRET_KEY must be given together")
	}
	if c.S3.Endpoint != "" {
		if u, err := url.Parse(c.S3.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("MF_S3_ENDPOINT %q must be an http(s) URL", c.S3.Endpoint)
		}
	}
	c.LogFormat = rc.logFormat
	if c.LogFormat == "" {
		c.LogFormat = "json"
		if c.Dev {
			c.LogFormat = "text"
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("MF_LOG_FORMAT %q must be text or json", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("MF_LOG_LEVEL %q must be debug, info, warn or error", c.LogLevel)
	}
	if c.Queues, err = jobs.ParseQueues(rc.queues); err != nil {
		bad("MF_QUEUES: %v", err)
	}
	if c.Workers, err = strconv.Atoi(rc.workers); err != nil || c.Workers < 1 || c.Workers > 256 {
		bad("MF_WORKERS %q must be an integer from 1 to 256", rc.workers)
	}
	if c.Demo, err = parseBool(rc.demo); err != nil {
		bad("MF_DEMO: %v", err)
	}
	if c.FinetuneMaxPerUser, err = strconv.Atoi(rc.finetuneMaxPerUser); err != nil || c.FinetuneMaxPerUser < 1 || c.FinetuneMaxPerUser > 1000 {
		bad("MF_FINETUNE_MAX_PER_USER %q must be an integer from 1 to 1000", rc.finetuneMaxPerUser)
	}
	c.LlamaFactoryCLI = rc.llamaFactoryCLI
	if slices.Contains(c.Queues, jobs.QueueTrainGPU) {
		// A GPU worker without LLaMA-Factory would fail every run it takes.
		if _, err := exec.LookPath(c.LlamaFactoryCLI); err != nil {
			if c.LlamaFactoryCLI == llamafactory.DefaultCLI {
				bad("queue train_gpu: %v", llamafactory.ErrCLINotFound)
			} else {
				bad("MF_LLAMAFACTORY_CLI %q: %v", c.LlamaFactoryCLI, err)
			}
		}
	}
	if mb, err := strconv.Atoi(rc.maxUploadMB); err != nil || mb < 1 || mb > 10240 {
		bad("MF_MAX_UPLOAD_MB %q must be an integer from 1 to 10240", rc.maxUploadMB)
	} else {
		c.MaxUploadBytes = int64(mb) << 20
	}
	if mb, err := strconv.Atoi(rc.inferenceMemoryMB); err != nil || mb < 16 || mb > 1<<20 {
		bad("MF_INFERENCE_MEMORY_MB %q must be an integer from 16 to 1048576", rc.inferenceMemoryMB)
	} else {
		c.InferenceMemoryBytes = int64(mb) << 20
	}
	if c.InferenceReplicas, err = strconv.Atoi(rc.inferenceReplicas); err != nil || c.InferenceReplicas < 1 || c.InferenceReplicas > 64 {
		bad("MF_INFERENCE_REPLICAS %q must be an integer from 1 to 64", rc.inferenceReplicas)
	}
	if c.ChainStartBlock, err = strconv.ParseUint(rc.chainStartBlock, 10, 64); err != nil {
		bad("MF_CHAIN_START_BLOCK %q must be a block number (a non-negative integer)", rc.chainStartBlock)
	}
	if rc.confirmations != "" {
		if c.Confirmations, err = strconv.ParseUint(rc.confirmations, 10, 64); err != nil || c.Confirmations < 1 || c.Confirmations > 1000 {
			bad("MF_CONFIRMATIONS %q must be an integer from 1 to 1000", rc.confirmations)
		}
	}
	if c.EpochEvery, err = time.ParseDuration(rc.epochInterval); err != nil || c.EpochEvery < time.Minute {
		bad("MF_EPOCH_INTERVAL %q must be a duration of at least 1m, such as 24h", rc.epochInterval)
	}
	if c.ExplorerURL = strings.TrimRight(rc.explorerURL, "/"); c.ExplorerURL != "" {
		if u, err := url.Parse(c.ExplorerURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("MF_EXPLORER_URL %q must be an http(s) URL", rc.explorerURL)
		}
	}
	c.HFEndpoint = strings.TrimRight(rc.hfEndpoint, "/")
	if u, err := url.Parse(c.HFEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		bad("MF_HF_ENDPOINT %q must be an http(s) URL such as https://huggingface.co", rc.hfEndpoint)
	}
	c.HFToken = os.Getenv("MF_HF_TOKEN") // environment only, like other secrets
	if c.PGSharedBuffers = rc.pgSharedBuffers; c.PGSharedBuffers != "" && !pgcluster.ValidMemory(c.PGSharedBuffers) {
		bad("MF_PG_SHARED_BUFFERS %q must be a size such as 512MB or 2GB", rc.pgSharedBuffers)
	}
	c.OperatorKeystore = rc.operatorKeystore
	c.Contracts = [3]string{rc.contractOPEN, rc.contractRewards, rc.contractProvenance}
	set := 0
	for i, a := range c.Contracts {
		if a == "" {
			continue
		}
		set++
		if !common.IsHexAddress(a) || len(a) != 42 {
			bad("%s: %q is not an address", []string{"MF_CONTRACT_OPEN", "MF_CONTRACT_REWARDS_DISTRIBUTOR", "MF_CONTRACT_PROVENANCE_REGISTRY"}[i], a)
		}
	}
	if set != 0 && set != 3 {
		bad("MF_CONTRACT_OPEN, MF_CONTRACT_REWARDS_DISTRIBUTOR and MF_CONTRACT_PROVENANCE_REGISTRY must be given together")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "0", "false", "no", "off":
		return false, nil
	case "1", "true", "yes", "on":
		return true, nil
	}
	return false, fmt.Errorf("%q is not a boolean (use 1 or 0)", s)
}
