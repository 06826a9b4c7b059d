package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/chain/bindings/open"
	"github.com/modelfactory/modelfactory/chain/bindings/rewards"
	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/store"
)

// Rewards is the payout engine: it closes reward epochs (ledger → Merkle
// tree → proofs → distributor top-up → postRoot → final), reconciles claims
// from the distributor's Claimed events and answers claim requests. Every
// step is idempotent: the ledger settles an epoch in one transaction, the
// tree is stored in one transaction, and every transaction goes through the
// journal under a key naming the epoch, so killing the process anywhere and
// running CloseEpoch again finishes the same epoch without a second root.
type Rewards struct {
	Store      *store.Store
	Sender     *Sender
	Client     ChainClient
	Deployment chain.Deployment
	// StartBlock is where the first scan for Claimed events starts when
	// the database has no cursor for this distributor yet: its deployment
	// block on a long chain, so the scan does not read from genesis.
	StartBlock uint64
	Log        *slog.Logger
}

func (r *Rewards) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

var (
	distributorABI = rewards.NewRewardsDistributor()
	tokenABI       = open.NewOPEN()
)

// ChainEpoch reads the distributor's current epoch.
func (r *Rewards) ChainEpoch(ctx context.Context) (uint64, error) {
	inst := distributorABI.Instance(r.Client, r.Deployment.RewardsDistributor)
	e, err := bind.Call(inst, &bind.CallOpts{Context: ctx}, distributorABI.PackEpoch(), distributorABI.UnpackEpoch)
	if err != nil {
		return 0, fmt.Errorf("read distributor epoch: %w", err)
	}
	return e, nil
}

func (r *Rewards) chainRoot(ctx context.Context) (common.Hash, error) {
	inst := distributorABI.Instance(r.Client, r.Deployment.RewardsDistributor)
	root, err := bind.Call(inst, &bind.CallOpts{Context: ctx}, distributorABI.PackMerkleRoot(), distributorABI.UnpackMerkleRoot)
	if err != nil {
		return common.Hash{}, fmt.Errorf("read distributor root: %w", err)
	}
	return root, nil
}

// ChainClaimed reads what the distributor has paid account so far.
func (r *Rewards) ChainClaimed(ctx context.Context, account common.Address) (*big.Int, error) {
	inst := distributorABI.Instance(r.Client, r.Deployment.RewardsDistributor)
	v, err := bind.Call(inst, &bind.CallOpts{Context: ctx}, distributorABI.PackClaimed(account), distributorABI.UnpackClaimed)
	if err != nil {
		return nil, fmt.Errorf("read claimed of %s: %w", account, err)
	}
	return v, nil
}

// CloseEpoch advances the reward epoch state machine as far as it can
// without waiting: it settles unsettled entries into a new epoch (or
// resumes the unfinished one), builds and stores the tree, tops up the
// distributor, posts the root and marks the epoch final once the root's
// transaction is confirmed. It returns the epoch it worked on — not final
// yet when a transaction is still waiting for confirmations — or nil when
// there was nothing to settle.
func (r *Rewards) CloseEpoch(ctx context.Context) (*store.RewardEpoch, error) {
	ep, err := r.Store.SettleEpoch(ctx)
	if err != nil || ep == nil {
		return nil, err
	}
	if ep.Status == store.EpochSettled {
		if err := r.BuildTree(ctx, ep.Epoch); err != nil {
			return nil, err
		}
		if ep, err = r.Store.RewardEpoch(ctx, ep.Epoch); err != nil {
			return nil, err
		}
	}
	if ep.Status == store.EpochBuilt {
		if err := r.post(ctx, ep); err != nil {
			return nil, err
		}
		if ep, err = r.Store.RewardEpoch(ctx, ep.Epoch); err != nil {
			return nil, err
		}
	}
	return ep, nil
}

// BuildTree builds epoch n's Merkle tree over every account's cumulative
// total and stores all leaves and proofs with the root, in one transaction.
func (r *Rewards) BuildTree(ctx context.Context, n int64) error {
	start := time.Now()
	var leaves []merkle.Leaf
	var accounts []string
	err := r.Store.EpochCumulatives(ctx, n, func(account string, cum *big.Int) error {
		leaves = append(leaves, merkle.Leaf{Account: common.HexToAddress(account), Amount: cum})
		accounts = append(accounts, account)
		return nil
	})
	if err != nil {
		return err
	}
	tree, err := merkle.New(leaves)
	if err != nil {
		return fmt.Errorf("epoch %d tree: %w", n, err)
	}
	built := time.Since(start)
	src := &treeLeaves{tree: tree, leaves: leaves, accounts: accounts, i: -1}
	if err := r.Store.StoreEpochTree(ctx, n, tree.Root().Hex(), src); err != nil {
		return err
	}
	r.log().Info("reward epoch tree stored", "epoch", n, "accounts", len(leaves), "root", tree.Root(),
		"build_ms", built.Milliseconds(), "total_ms", time.Since(start).Milliseconds())
	return nil
}

// treeLeaves yields leaves with their proofs, derived one at a time.
type treeLeaves struct {
	tree     *merkle.Tree
	leaves   []merkle.Leaf
	accounts []string
	i        int
	buf      []byte
}

func (t *treeLeaves) Next() bool { t.i++; return t.i < len(t.leaves) }

func (t *treeLeaves) Leaf() (string, *big.Int, []byte, error) {
	proof, err := t.tree.Proof(t.i)
	if err != nil {
		return "", nil, nil, err
	}
	if t.buf == nil {
		t.buf = make([]byte, 0, 32*24) // never nil: a one-leaf tree has an empty, not a NULL, proof
	}
	t.buf = t.buf[:0]
	for _, h := range proof {
		t.buf = append(t.buf, h[:]...)
	}
	return t.accounts[t.i], t.leaves[t.i].Amount, t.buf, nil
}

// post tops up the distributor when needed, posts the root and finalizes.
func (r *Rewards) post(ctx context.Context, ep *store.RewardEpoch) error {
	onChain, err := r.ChainEpoch(ctx)
	if err != nil {
		return err
	}
	n := uint64(ep.Epoch)
	root := common.HexToHash(ep.MerkleRoot)
	switch {
	case onChain > n:
		return fmt.Errorf("epoch %d: the distributor is already at epoch %d; the ledger and the chain disagree, stopping", n, onChain)
	case onChain+1 < n:
		return fmt.Errorf("epoch %d: the distributor is at epoch %d; the previous epoch's root is missing", n, onChain)
	}
	if onChain < n {
		funded, err := r.topUp(ctx, ep)
		if err != nil || !funded {
			return err
		}
	}
	t, err := r.Sender.Intent(ctx, fmt.Sprintf("epoch:%d:root", n), "post_root", r.Deployment.RewardsDistributor, nil,
		distributorABI.PackPostRoot(n, root, ep.TotalCumulative))
	if err != nil {
		return err
	}
	if err := r.Store.SetEpochRootTx(ctx, ep.Epoch, t.ID); err != nil {
		return err
	}
	if onChain == n && t.Status == store.TxIntent {
		// The root is on chain but this row was never mined (its nonce was
		// released): never sign another root for the epoch.
		got, err := r.chainRoot(ctx)
		if err != nil {
			return err
		}
		if got != root {
			return fmt.Errorf("epoch %d: the distributor holds root %s, the ledger %s; stopping", n, got, root)
		}
		if err := r.Store.FailChainTx(ctx, t.ID, "root already on chain"); err != nil {
			return err
		}
		return r.Store.FinalizeEpoch(ctx, ep.Epoch)
	}
	if t, err = r.Sender.Drive(ctx, t.ID); err != nil {
		return err
	}
	switch t.Status {
	case store.TxFailed:
		return fmt.Errorf("epoch %d: postRoot transaction %s failed: %s", n, t.TxHash, t.LastError)
	case store.TxConfirmed:
		if err := r.Store.FinalizeEpoch(ctx, ep.Epoch); err != nil {
			return err
		}
		r.log().Info("reward epoch final", "epoch", n, "root", root, "tx", t.TxHash)
	}
	return nil
}

// topUp makes sure the distributor holds what every account could still
// claim after this root: total cumulative minus what has been claimed. It
// reports whether the distributor is funded (a top-up still waiting for
// confirmations is not).
func (r *Rewards) topUp(ctx context.Context, ep *store.RewardEpoch) (bool, error) {
	for k := 1; ; k++ {
		key := fmt.Sprintf("epoch:%d:fund:%d", ep.Epoch, k)
		t, err := r.Store.ChainTxByKey(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return false, err
		}
		if t.Status == store.TxFailed {
			continue // a failed top-up does not count; look at the next one
		}
		if t, err = r.Sender.Drive(ctx, t.ID); err != nil {
			return false, err
		}
		return t.Status == store.TxConfirmed, nil
	}
	if err := r.SyncClaims(ctx); err != nil {
		return false, err
	}
	claimed, err := r.Store.ClaimedTotal(ctx)
	if err != nil {
		return false, err
	}
	need := new(big.Int).Sub(ep.TotalCumulative, claimed)
	bal, err := chain.TokenBalance(ctx, r.Client, r.Deployment.OPEN, r.Deployment.RewardsDistributor)
	if err != nil {
		return false, err
	}
	deficit := need.Sub(need, bal)
	if deficit.Sign() <= 0 {
		return true, nil
	}
	k := 1
	for {
		if _, err := r.Store.ChainTxByKey(ctx, fmt.Sprintf("epoch:%d:fund:%d", ep.Epoch, k)); errors.Is(err, store.ErrNotFound) {
			break
		}
		k++
	}
	r.log().Info("topping up the distributor", "epoch", ep.Epoch, "wei", deficit)
	t, err := r.Sender.Intent(ctx, fmt.Sprintf("epoch:%d:fund:%d", ep.Epoch, k), "fund_distributor", r.Deployment.OPEN, nil,
		tokenABI.PackTransfer(r.Deployment.RewardsDistributor, deficit))
	if err != nil {
		return false, err
	}
	if err := r.Store.SetEpochFundTx(ctx, ep.Epoch, t.ID); err != nil {
		return false, err
	}
	if t, err = r.Sender.Drive(ctx, t.ID); err != nil {
		return false, fmt.Errorf("top up the distributor (the operator %s must hold %s OPEN wei): %w", r.Sender.Address(), deficit, err)
	}
	return t.Status == store.TxConfirmed, nil
}

// claimsCursor names the Claimed-event scanner of this deployment.
func (r *Rewards) claimsCursor() string {
	return fmt.Sprintf("claims:%d:%s", r.Deployment.ChainID, r.Deployment.RewardsDistributor.Hex())
}

// claimScanChunk bounds one eth_getLogs call.
const claimScanChunk = 50_000

// SyncClaims reads the distributor's Claimed events since the last scan
// into the database. What the pages call "claimed" comes from here.
func (r *Rewards) SyncClaims(ctx context.Context) error {
	head, err := r.Client.BlockNumber(ctx)
	if err != nil {
		return fmt.Errorf("sync claims: head: %w", err)
	}
	last, found, err := r.Store.ChainCursor(ctx, r.claimsCursor())
	if err != nil {
		return err
	}
	from := r.StartBlock
	if found {
		from = last + 1
	}
	topic := distributorABI.GetABI().Events[rewards.RewardsDistributorClaimedEventName].ID
	for from <= head {
		to := min(head, from+claimScanChunk-1)
		logs, err := r.Client.FilterLogs(ctx, ethereum.FilterQuery{
			FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(to),
			Addresses: []common.Address{r.Deployment.RewardsDistributor}, Topics: [][]common.Hash{{topic}},
		})
		if err != nil {
			return fmt.Errorf("sync claims: logs %d-%d: %w", from, to, err)
		}
		var claims []store.RewardClaim
		for i := range logs {
			if logs[i].Removed {
				continue
			}
			ev, err := distributorABI.UnpackClaimedEvent(&logs[i])
			if err != nil {
				return fmt.Errorf("sync claims: %w", err)
			}
			claims = append(claims, store.RewardClaim{TxHash: logs[i].TxHash.Hex(), LogIndex: int(logs[i].Index),
				Account: ev.Account.Hex(), Amount: ev.Amount, Cumulative: ev.CumulativeAmount, Epoch: int64(ev.Epoch),
				BlockNumber: logs[i].BlockNumber})
		}
		if err := r.Store.RecordClaims(ctx, r.claimsCursor(), to, claims); err != nil {
			return err
		}
		from = to + 1
	}
	return nil
}

// ClaimInfo is what a wallet needs to claim: the leaf of the distributor's
// current root and the calldata of claim(account, cumulativeAmount, proof).
type ClaimInfo struct {
	Account     common.Address
	Epoch       uint64
	Cumulative  *big.Int
	Proof       [][32]byte
	Distributor common.Address
	ClaimedOn   *big.Int // claimed(account) on chain now
	Claimable   *big.Int // Cumulative − ClaimedOn
	Calldata    []byte
}

// ErrNothingToClaim means the account has no leaf in the current root.
var ErrNothingToClaim = errors.New("nothing to claim")

// Claim returns account's claim for the root the distributor holds now.
// Proofs of older roots are refused by the contract, so the epoch comes
// from the chain, not from the database.
func (r *Rewards) Claim(ctx context.Context, account common.Address) (*ClaimInfo, error) {
	e, err := r.ChainEpoch(ctx)
	if err != nil {
		return nil, err
	}
	if e == 0 {
		return nil, ErrNothingToClaim
	}
	cum, proof, err := r.Store.RewardLeaf(ctx, int64(e), account.Hex())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNothingToClaim
	}
	if err != nil {
		return nil, err
	}
	claimed, err := r.ChainClaimed(ctx, account)
	if err != nil {
		return nil, err
	}
	claimable := new(big.Int).Sub(cum, claimed)
	if claimable.Sign() < 0 {
		claimable.SetInt64(0)
	}
	return &ClaimInfo{Account: account, Epoch: e, Cumulative: cum, Proof: proof, Distributor: r.Deployment.RewardsDistributor,
		ClaimedOn: claimed, Claimable: claimable, Calldata: distributorABI.PackClaim(account, cum, proof)}, nil
}

// EpochCloseArgs closes the open reward epoch. Periodic, and inserted by
// admins ("close epoch now"); unique while one is queued or running.
type EpochCloseArgs struct{}

// Kind identifies the job.
func (EpochCloseArgs) Kind() string { return "reward_epoch_close" }

// InsertOpts: chain queue, one at a time.
func (EpochCloseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueChain, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// EpochCloseWorker runs EpochCloseArgs.
type EpochCloseWorker struct {
	river.WorkerDefaults[EpochCloseArgs]
	rewards *Rewards
}

// Timeout allows a large epoch's tree to be built and stored.
func (w *EpochCloseWorker) Timeout(*river.Job[EpochCloseArgs]) time.Duration { return 10 * time.Minute }

// Work advances the epoch; while a transaction waits for confirmations the
// job snoozes and comes back.
func (w *EpochCloseWorker) Work(ctx context.Context, job *river.Job[EpochCloseArgs]) error {
	ep, err := w.rewards.CloseEpoch(ctx)
	if err != nil {
		return err
	}
	if ep != nil && ep.Status != store.EpochFinal {
		return river.JobSnooze(2 * time.Second)
	}
	return nil
}

// ClaimSyncArgs reads new Claimed events.
type ClaimSyncArgs struct{}

// Kind identifies the job.
func (ClaimSyncArgs) Kind() string { return "reward_claim_sync" }

// InsertOpts: chain queue, once per period.
func (ClaimSyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueChain, UniqueOpts: river.UniqueOpts{ByPeriod: 15 * time.Second}}
}

// ClaimSyncWorker runs ClaimSyncArgs.
type ClaimSyncWorker struct {
	river.WorkerDefaults[ClaimSyncArgs]
	rewards *Rewards
}

// Work syncs claims.
func (w *ClaimSyncWorker) Work(ctx context.Context, job *river.Job[ClaimSyncArgs]) error {
	return w.rewards.SyncClaims(ctx)
}

// rewardPeriodicJobs schedules the journal sweep, claim sync, version
// anchoring and epochs.
func rewardPeriodicJobs(epochEvery time.Duration) []*river.PeriodicJob {
	if epochEvery <= 0 {
		epochEvery = 24 * time.Hour
	}
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(15*time.Second), func() (river.JobArgs, *river.InsertOpts) {
			return ChainSweepArgs{}, nil
		}, &river.PeriodicJobOpts{RunOnStart: true, ID: "chain_sweep"}),
		river.NewPeriodicJob(river.PeriodicInterval(15*time.Second), func() (river.JobArgs, *river.InsertOpts) {
			return ClaimSyncArgs{}, nil
		}, &river.PeriodicJobOpts{RunOnStart: true, ID: "reward_claim_sync"}),
		river.NewPeriodicJob(river.PeriodicInterval(30*time.Second), func() (river.JobArgs, *river.InsertOpts) {
			return AnchorVersionsArgs{}, nil
		}, &river.PeriodicJobOpts{RunOnStart: true, ID: "anchor_versions"}),
		river.NewPeriodicJob(river.PeriodicInterval(epochEvery), func() (river.JobArgs, *river.InsertOpts) {
			return EpochCloseArgs{}, nil
		}, &river.PeriodicJobOpts{ID: "reward_epoch_close"}),
	}
}
