package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/ethclient"
	gethlog "github.com/ethereum/go-ethereum/log"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
)

// DefaultDevChainID is the chain id of the embedded development chain when
// none is configured; it is the id wallets conventionally use for local chains.
const DefaultDevChainID uint64 = 1337

// devGasLimit is the block gas limit of the development genesis, the same as
// geth --dev's default.
const devGasLimit = 60_000_000

// nodeName fixes the per-instance directory under DataDir. geth derives it
// from the executable name when unset, which would give the server binary and
// a test binary different chain directories.
const nodeName = "geth"

// faucetKeyFile holds the developer account's private key (hex) under DataDir.
const faucetKeyFile = "faucet.key"

// DevConfig configures the embedded development chain.
type DevConfig struct {
	// DataDir holds the chain database and the faucet key; it survives restarts.
	DataDir string
	// ChainID is the chain id of the genesis; 0 means DefaultDevChainID.
	ChainID uint64
	// HTTPAddr is the JSON-RPC listen address, e.g. "127.0.0.1:8545";
	// "127.0.0.1:0" picks a free port. Empty means "127.0.0.1:0".
	HTTPAddr string
	// BlockPeriod, when positive, seals a block every period (rounded up to
	// whole seconds) even without transactions. Zero seals a block as soon as
	// transactions arrive, like geth --dev --dev.period 0.
	BlockPeriod time.Duration
	// Logger receives go-ethereum's warnings and errors; nil discards them.
	Logger *slog.Logger
}

// DevChain is a running embedded go-ethereum development node: a real EVM
// with a persisted database, JSON-RPC over HTTP on localhost and a simulated
// beacon client that produces blocks.
type DevChain struct {
	stack   *node.Node
	beacon  *catalyst.SimulatedBeacon
	chainID uint64
	faucet  *ecdsa.PrivateKey
	rpcURL  string

	fundMu sync.Mutex // serialises Fund so concurrent calls get distinct nonces

	closeOnce sync.Once
	closeErr  error
}

// StartDev starts the embedded development chain described by cfg. On the
// first start it creates a faucet key and a developer genesis that funds it;
// later starts on the same DataDir reuse both and continue the chain.
func StartDev(ctx context.Context, cfg DevConfig) (*DevChain, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("start dev chain: DataDir is required")
	}
	if cfg.ChainID == 0 {
		cfg.ChainID = DefaultDevChainID
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if cfg.BlockPeriod < 0 {
		return nil, fmt.Errorf("start dev chain: negative BlockPeriod %s", cfg.BlockPeriod)
	}
	host, portStr, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("start dev chain: HTTPAddr %q: %w", cfg.HTTPAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("start dev chain: HTTPAddr %q: invalid port", cfg.HTTPAddr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start dev chain: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("start dev chain: create data dir: %w", err)
	}
	faucet, err := loadOrCreateKey(filepath.Join(cfg.DataDir, faucetKeyFile))
	if err != nil {
		return nil, fmt.Errorf("start dev chain: faucet key: %w", err)
	}
	faucetAddr := crypto.PubkeyToAddress(faucet.PublicKey)

	var gethLogger gethlog.Logger
	if cfg.Logger != nil {
		gethLogger = newGethLogger(cfg.Logger.With("component", "devchain"))
		// go-ethereum logs through a process-wide root logger.
		gethlog.SetDefault(gethLogger)
	}

	nodeCfg := node.DefaultConfig
	nodeCfg.Name = nodeName
	nodeCfg.DataDir = cfg.DataDir
	nodeCfg.IPCPath = "" // no IPC socket: HTTP on localhost is the interface
	nodeCfg.HTTPHost = host
	nodeCfg.HTTPPort = port
	nodeCfg.HTTPModules = []string{"eth", "net", "web3"}
	// Browser wallets and the app's pages call the node from other origins.
	// The listener is meant for localhost only, so any origin may call it.
	nodeCfg.HTTPCors = []string{"*"}
	nodeCfg.WSHost = ""
	nodeCfg.AuthPort = 0
	nodeCfg.UseLightweightKDF = true
	nodeCfg.P2P = p2p.Config{
		MaxPeers:    0,
		ListenAddr:  "",
		NoDial:      true,
		NoDiscovery: true,
	}
	if gethLogger != nil {
		nodeCfg.Logger = gethLogger
	}
	stack, err := node.New(&nodeCfg)
	if err != nil {
		return nil, fmt.Errorf("start dev chain: create node: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			stack.Close()
		}
	}()

	genesis, err := devGenesis(stack, cfg.ChainID, faucetAddr)
	if err != nil {
		return nil, fmt.Errorf("start dev chain: %w", err)
	}

	ethCfg := ethconfig.Defaults
	ethCfg.NetworkId = cfg.ChainID
	ethCfg.Genesis = genesis
	ethCfg.SyncMode = ethconfig.FullSync
	ethCfg.Miner.PendingFeeRecipient = faucetAddr
	ethCfg.Miner.GasPrice = big.NewInt(1) // as geth --dev: accept any tip
	ethCfg.Miner.GasCeil = devGasLimit
	backend, err := eth.New(stack, &ethCfg)
	if err != nil {
		return nil, fmt.Errorf("start dev chain: create eth backend: %w", err)
	}
	filterSystem := filters.NewFilterSystem(backend.APIBackend, filters.Config{
		LogCacheSize:  ethCfg.FilterLogCacheSize,
		LogQueryLimit: ethCfg.LogQueryLimit,
		RangeLimit:    ethCfg.RangeLimit,
	})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(filterSystem)}})

	periodSec := uint64((cfg.BlockPeriod + time.Second - 1) / time.Second)
	beacon, err := catalyst.NewSimulatedBeacon(periodSec, faucetAddr, backend)
	if err != nil {
		return nil, fmt.Errorf("start dev chain: create simulated beacon: %w", err)
	}
	// Registering the dev API is what starts on-demand sealing when the
	// period is zero; the "dev" namespace itself is not exposed over HTTP.
	catalyst.RegisterSimulatedBeaconAPIs(stack, beacon)
	stack.RegisterLifecycle(beacon)

	if err := stack.Start(); err != nil {
		return nil, fmt.Errorf("start dev chain: start node: %w", err)
	}
	endpoint := stack.HTTPEndpoint()
	if endpoint == "" || endpoint == "http://" {
		return nil, errors.New("start dev chain: HTTP endpoint not available")
	}
	ok = true
	d := &DevChain{
		stack:   stack,
		beacon:  beacon,
		chainID: cfg.ChainID,
		faucet:  faucet,
		rpcURL:  endpoint,
	}
	return d, nil
}

// devGenesis returns the genesis to start the node with: a developer genesis
// on a new data directory, or nil when the directory already holds a chain,
// which is then checked against the configured chain id. Passing nil lets a
// go-ethereum upgrade that changes the default dev allocation keep using the
// stored chain instead of refusing it as a genesis mismatch.
func devGenesis(stack *node.Node, chainID uint64, faucet common.Address) (*core.Genesis, error) {
	readonly := rawdb.PreexistingDatabase(stack.ResolvePath("chaindata")) != ""
	db, err := stack.OpenDatabaseWithOptions("chaindata", node.DatabaseOptions{ReadOnly: readonly})
	if err != nil {
		return nil, fmt.Errorf("open chain database: %w", err)
	}
	defer db.Close()
	if rawdb.ReadCanonicalHash(db, 0) != (common.Hash{}) {
		stored, err := core.ReadGenesis(db)
		if err != nil {
			return nil, fmt.Errorf("read stored genesis: %w", err)
		}
		if stored.Config == nil || stored.Config.ChainID == nil {
			return nil, errors.New("stored genesis has no chain config")
		}
		if got := stored.Config.ChainID.Uint64(); got != chainID {
			return nil, fmt.Errorf("data dir holds a chain with id %d, configured chain id is %d (use another data dir or the same id)", got, chainID)
		}
		return nil, nil
	}
	genesis := core.DeveloperGenesisBlock(devGasLimit, &faucet)
	config := *genesis.Config
	config.ChainID = new(big.Int).SetUint64(chainID)
	// The dev default also schedules forks that mainnet has not adopted
	// (their storage gas is several times mainnet's); stop at mainnet's
	// current fork so gas estimates match what users will pay elsewhere.
	config.BogotaTime = nil
	config.AmsterdamTime = nil
	genesis.Config = &config
	return genesis, nil
}

// RPCURL is the node's JSON-RPC endpoint, http://127.0.0.1:PORT.
func (d *DevChain) RPCURL() string { return d.rpcURL }

// ChainID is the chain id of the development chain.
func (d *DevChain) ChainID() uint64 { return d.chainID }

// FaucetKey is the private key of the developer account funded at genesis.
// It is stored in DataDir, so it stays the same across restarts.
func (d *DevChain) FaucetKey() *ecdsa.PrivateKey { return d.faucet }

// FaucetAddress is the address of FaucetKey.
func (d *DevChain) FaucetAddress() common.Address {
	return crypto.PubkeyToAddress(d.faucet.PublicKey)
}

// Fund sends wei from the faucet to account and waits for the receipt, e.g.
// to give a browser wallet gas on the dev chain. Calls are serialised with
// each other, but not with other transactions signed by FaucetKey.
func (d *DevChain) Fund(ctx context.Context, account common.Address, wei *big.Int) (*types.Receipt, error) {
	if wei == nil || wei.Sign() <= 0 {
		return nil, fmt.Errorf("fund %s: amount must be positive", account)
	}
	d.fundMu.Lock()
	defer d.fundMu.Unlock()
	client := ethclient.NewClient(d.stack.Attach())
	defer client.Close()
	from := d.FaucetAddress()
	nonce, err := client.PendingNonceAt(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("fund %s: nonce: %w", account, err)
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("fund %s: head: %w", account, err)
	}
	tip := big.NewInt(params.GWei)
	feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	chainID := new(big.Int).SetUint64(d.chainID)
	tx, err := types.SignNewTx(d.faucet, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID:   chainID,
		Nonce:     nonce,
		GasTipCap: tip,
		GasFeeCap: feeCap,
		Gas:       params.TxGas,
		To:        &account,
		Value:     wei,
	})
	if err != nil {
		return nil, fmt.Errorf("fund %s: sign: %w", account, err)
	}
	if err := client.SendTransaction(ctx, tx); err != nil {
		return nil, fmt.Errorf("fund %s: send: %w", account, err)
	}
	receipt, err := WaitSuccess(ctx, client, tx)
	if err != nil {
		return nil, fmt.Errorf("fund %s: %w", account, err)
	}
	return receipt, nil
}

// Close stops the node and flushes its database. It is safe to call more
// than once.
func (d *DevChain) Close() error {
	d.closeOnce.Do(func() {
		// Node.Close stops the registered lifecycles (the beacon, the eth
		// backend) in reverse order and closes the databases.
		if err := d.stack.Close(); err != nil {
			d.closeErr = fmt.Errorf("close dev chain: %w", err)
		}
	})
	return d.closeErr
}

// loadOrCreateKey reads a hex secp256k1 key from path, creating it (mode
// 0600, written atomically) when the file does not exist.
func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	key, err := crypto.LoadECDSA(path)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	key, err = crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	tmp := path + ".tmp"
	if err := crypto.SaveECDSA(tmp, key); err != nil {
		return nil, fmt.Errorf("save key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("save key: %w", err)
	}
	return key, nil
}

// gethLogger hands go-ethereum's records at warn level and above to an slog
// logger. It wraps the logger in its own type because gethlog.SetDefault
// replaces slog's process default when given go-ethereum's own logger type,
// which would hijack the application's logging.
type gethLogger struct {
	gethlog.Logger
}

func newGethLogger(l *slog.Logger) gethLogger {
	return gethLogger{gethlog.NewLogger(minLevelHandler{min: slog.LevelWarn, next: l.Handler()})}
}

// minLevelHandler drops records below min.
type minLevelHandler struct {
	min  slog.Level
	next slog.Handler
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.next.Enabled(ctx, l)
}

func (h minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{min: h.min, next: h.next.WithAttrs(attrs)}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{min: h.min, next: h.next.WithGroup(name)}
}
