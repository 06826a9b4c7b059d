package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/store"
)

// rewardsSetup is the chain wiring serve hands to workers and handlers.
type rewardsSetup struct {
	deployment *chain.Deployment                                            // nil: no contracts
	handlers   *jobs.Rewards                                                // reads (claims, proofs); nil without contracts
	jobs       *jobs.Rewards                                                // also signs; nil without an operator key
	fundGas    func(ctx context.Context, to common.Address) (string, error) // dev chain only
}

// setupRewards deploys the contracts on the embedded dev chain (first start;
// later starts reuse MF_DATA_DIR/chain/deployment.json) with the faucet as
// operator, or verifies the configured contracts on a real network and
// loads the operator key from MF_OPERATOR_KEYSTORE + MF_OPERATOR_PASSWORD
// or MF_OPERATOR_KEY. The key is never logged or stored.
func setupRewards(ctx context.Context, cfg *Config, log *slog.Logger, st *store.Store, eth *ethclient.Client, dev *chain.DevChain) (*rewardsSetup, error) {
	var (
		dep   chain.Deployment
		key   *ecdsa.PrivateKey
		err   error
		depth = cfg.Confirmations
	)
	if dev != nil {
		key = dev.FaucetKey()
		dep, err = chain.EnsureDevDeployment(ctx, eth, key, filepath.Join(cfg.DataDir, "chain"))
		if err != nil {
			return nil, fmt.Errorf("dev chain contracts: %w", err)
		}
		if depth == 0 {
			depth = 1
		}
	} else {
		if cfg.Contracts[0] == "" {
			log.Warn("no contracts configured (MF_CONTRACT_*): rewards and claims are disabled")
			return &rewardsSetup{}, nil
		}
		dep = chain.Deployment{ChainID: cfg.ChainID, OPEN: common.HexToAddress(cfg.Contracts[0]),
			RewardsDistributor: common.HexToAddress(cfg.Contracts[1]), ProvenanceRegistry: common.HexToAddress(cfg.Contracts[2])}
		if err := dep.Verify(ctx, eth); err != nil {
			return nil, err
		}
		if key, err = operatorKey(cfg); err != nil {
			return nil, err
		}
		if depth == 0 {
			depth = 12
		}
	}
	log.Info("contracts ready", "chain_id", dep.ChainID, "OPEN", dep.OPEN, "RewardsDistributor", dep.RewardsDistributor,
		"ProvenanceRegistry", dep.ProvenanceRegistry, "confirmations", depth)
	rw := &jobs.Rewards{Store: st, Client: eth, Deployment: dep, StartBlock: cfg.ChainStartBlock, Log: log.With("component", "rewards")}
	out := &rewardsSetup{deployment: &dep, handlers: rw}
	if key == nil {
		log.Warn("no operator key (MF_OPERATOR_KEYSTORE or MF_OPERATOR_KEY): epochs will not be posted")
		return out, nil
	}
	rw.Sender = &jobs.Sender{Store: st, Client: eth, Key: key, ChainID: dep.ChainID, Confirmations: depth,
		Log: log.With("component", "chaintx")}
	log.Info("operator", "address", rw.Sender.Address())
	out.jobs = rw
	if dev != nil {
		out.fundGas = func(ctx context.Context, to common.Address) (string, error) {
			oneETH := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
			t, err := rw.Sender.Intent(ctx, fmt.Sprintf("dev-gas:%s:%d", to.Hex(), time.Now().UnixNano()), "fund_gas", to, oneETH, nil)
			if err != nil {
				return "", err
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if t, err = rw.Sender.WaitFinal(wctx, t.ID, 100*time.Millisecond); err != nil {
				return "", err
			}
			return t.TxHash, nil
		}
	}
	return out, nil
}

// operatorKey reads the operator key; nil, nil when none is configured.
func operatorKey(cfg *Config) (*ecdsa.PrivateKey, error) {
	if cfg.OperatorKeystore != "" {
		data, err := os.ReadFile(cfg.OperatorKeystore)
		if err != nil {
			return nil, fmt.Errorf("MF_OPERATOR_KEYSTORE: %w", err)
		}
		k, err := keystore.DecryptKey(data, os.Getenv("MF_OPERATOR_PASSWORD"))
		if err != nil {
			return nil, fmt.Errorf("MF_OPERATOR_KEYSTORE: decrypt with MF_OPERATOR_PASSWORD: %w", err)
		}
		return k.PrivateKey, nil
	}
	if hexKey := strings.TrimPrefix(strings.TrimSpace(os.Getenv("MF_OPERATOR_KEY")), "0x"); hexKey != "" {
		k, err := crypto.HexToECDSA(hexKey)
		if err != nil {
			// The message must not echo the value.
			return nil, errors.New("MF_OPERATOR_KEY is not a hex secp256k1 private key")
		}
		return k, nil
	}
	return nil, nil
}

// insertJob adapts the River client for handlers: inserted is false when a
// unique job is already queued.
func insertJob(c *river.Client[pgx.Tx]) func(ctx context.Context, args river.JobArgs) (bool, error) {
	return func(ctx context.Context, args river.JobArgs) (bool, error) {
		res, err := c.Insert(ctx, args, nil)
		if err != nil {
			return false, fmt.Errorf("queue %s: %w", args.Kind(), err)
		}
		return !res.UniqueSkippedAsDuplicate, nil
	}
}

// workerChain opens the chain for `worker`: only MF_CHAIN_RPC_URL (the
// embedded dev chain lives in serve), with the configured contracts and
// operator key. Without them the worker runs no chain jobs and leaves the
// chain queue to processes that can, rather than failing its jobs; it
// returns the queues to work.
func workerChain(ctx context.Context, cfg *Config, log *slog.Logger, st *store.Store, cl *closers) (*rewardsSetup, []string, error) {
	rw := &rewardsSetup{}
	if cfg.ChainRPCURL == "" {
		log.Warn("MF_CHAIN_RPC_URL is not set: this worker runs no chain jobs (transaction journal, reward epochs, claim sync, " +
			"version anchoring); set it with MF_CONTRACT_* and the operator key to run them here")
	} else {
		eth, _, _, err := openChain(ctx, cfg, log, cl)
		if err != nil {
			return nil, nil, err
		}
		if rw, err = setupRewards(ctx, cfg, log, st, eth, nil); err != nil {
			return nil, nil, err
		}
		if rw.jobs == nil {
			log.Warn("this worker runs no chain jobs: it needs MF_CONTRACT_* and an operator key (MF_OPERATOR_KEYSTORE or MF_OPERATOR_KEY)")
		}
	}
	queues := cfg.Queues
	if rw.jobs == nil && slices.Contains(queues, jobs.QueueChain) {
		queues = slices.DeleteFunc(slices.Clone(queues), func(q string) bool { return q == jobs.QueueChain })
		log.Warn("not working the chain queue", "queues", queues)
		if len(queues) == 0 {
			return nil, nil, errors.New("worker: the only queue asked for is chain, and this worker cannot run chain jobs (set MF_CHAIN_RPC_URL, MF_CONTRACT_* and the operator key)")
		}
	}
	return rw, queues, nil
}
