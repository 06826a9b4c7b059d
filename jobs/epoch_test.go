package jobs_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/chain/bindings/rewards"

	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

func (e *chainEnv) rewards(confirmations uint64) *jobs.Rewards {
	return &jobs.Rewards{Store: e.st, Sender: e.sender(confirmations), Client: e.client, Deployment: e.dep}
}

func oneOPEN(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }

func (e *chainEnv) grant(t *testing.T, to common.Address, amount *big.Int) {
	t.Helper()
	if _, err := e.st.AddRewardEntry(context.Background(), 0, store.RewardEntryInput{Account: to.Hex(), Amount: amount,
		Source: store.RewardGrant, Reference: "test", Reason: "test grant"}); err != nil {
		t.Fatal(err)
	}
}

// closeFinal runs CloseEpoch until the epoch is final, as the periodic job
// would, and returns it.
func (e *chainEnv) closeFinal(t *testing.T, r *jobs.Rewards) *store.RewardEpoch {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ep, err := r.CloseEpoch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ep == nil || ep.Status == store.EpochFinal {
			return ep
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("epoch not final within a minute")
	return nil
}

func (e *chainEnv) chainEpoch(t *testing.T) uint64 {
	t.Helper()
	n, err := e.rewards(1).ChainEpoch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// claim submits the server-provided calldata from a third party (anyone
// may submit; funds go to the account).
func (e *chainEnv) claim(t *testing.T, account common.Address) *jobs.ClaimInfo {
	t.Helper()
	ctx := context.Background()
	info, err := e.rewards(1).Claim(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.Transact(ctx, e.client, e.dev.FaucetKey(), info.Distributor, info.Calldata); err != nil {
		t.Fatal(err)
	}
	return info
}

// TestEpochsEndToEnd settles grants into epochs on the real dev chain,
// claims with the stored proofs, and checks that claims across epochs pay
// exactly the increments and the ledger's invariants hold.
func TestEpochsEndToEnd(t *testing.T) {
	e := newChainEnv(t)
	ctx := context.Background()
	a, b, c := newAddress(t), newAddress(t), newAddress(t)

	if ep, err := e.rewards(1).CloseEpoch(ctx); err != nil || ep != nil {
		t.Fatalf("empty ledger closed an epoch: %v %v", ep, err)
	}
	e.grant(t, a, oneOPEN(10))
	e.grant(t, a, oneOPEN(5))
	e.grant(t, b, oneOPEN(7))
	ep1 := e.closeFinal(t, e.rewards(1))
	if ep1.Epoch != 1 || ep1.AccountCount != 2 || ep1.TotalCumulative.Cmp(oneOPEN(22)) != 0 || ep1.RootTxHash == "" {
		t.Fatalf("epoch 1: %+v", ep1)
	}
	if got := e.chainEpoch(t); got != 1 {
		t.Fatalf("distributor epoch %d", got)
	}
	info := e.claim(t, a)
	if info.Cumulative.Cmp(oneOPEN(15)) != 0 || info.Claimable.Cmp(oneOPEN(15)) != 0 {
		t.Fatalf("claim info %+v", info)
	}
	if bal := e.balance(t, a); bal.Cmp(oneOPEN(15)) != 0 {
		t.Fatalf("a holds %s after claiming epoch 1", bal)
	}

	// Epoch 2: a earns 3 more, c appears; b does not claim until later.
	e.grant(t, a, oneOPEN(3))
	e.grant(t, c, oneOPEN(1))
	ep2 := e.closeFinal(t, e.rewards(1))
	if ep2.Epoch != 2 || ep2.EpochAmount.Cmp(oneOPEN(4)) != 0 || ep2.TotalCumulative.Cmp(oneOPEN(26)) != 0 || ep2.AccountCount != 3 {
		t.Fatalf("epoch 2: %+v", ep2)
	}
	info = e.claim(t, a)
	if info.Claimable.Cmp(oneOPEN(3)) != 0 {
		t.Fatalf("a's second claimable %s", info.Claimable)
	}
	if bal := e.balance(t, a); bal.Cmp(oneOPEN(18)) != 0 {
		t.Fatalf("a holds %s, want 18 OPEN", bal)
	}
	e.claim(t, b)
	if bal := e.balance(t, b); bal.Cmp(oneOPEN(7)) != 0 {
		t.Fatalf("b holds %s", bal)
	}
	// A second claim of the same amount pays nothing (the contract refuses).
	if info, err := e.rewards(1).Claim(ctx, a); err != nil || info.Claimable.Sign() != 0 {
		t.Fatalf("after claiming: %+v %v", info, err)
	}

	// A database that never scanned this distributor starts at StartBlock:
	// from just after the head it records none of the claims, from 0 all.
	head, err := e.client.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		start uint64
		want  *big.Int
	}{{head + 1, new(big.Int)}, {0, oneOPEN(25)}} {
		fresh := *e.rewards(1)
		fresh.Store = store.New(pgtestPool(t))
		fresh.StartBlock = tc.start
		if err := fresh.SyncClaims(ctx); err != nil {
			t.Fatal(err)
		}
		if total, err := fresh.Store.ClaimedTotal(ctx); err != nil || total.Cmp(tc.want) != 0 {
			t.Fatalf("first scan from block %d recorded %s claimed (%v), want %s", tc.start, total, err, tc.want)
		}
	}

	// Claims are reconciled from Claimed events.
	if err := e.rewards(1).SyncClaims(ctx); err != nil {
		t.Fatal(err)
	}
	ar, err := e.st.AccountRewards(ctx, a.Hex())
	if err != nil {
		t.Fatal(err)
	}
	if ar.Claimed.Cmp(oneOPEN(18)) != 0 || len(ar.Claims) != 2 || ar.Earned.Cmp(oneOPEN(18)) != 0 || ar.Final.Cmp(oneOPEN(18)) != 0 {
		t.Fatalf("a's rewards: claimed %s (%d claims) earned %s final %s", ar.Claimed, len(ar.Claims), ar.Earned, ar.Final)
	}
	if len(ar.Epochs) != 2 || ar.Epochs[0].Epoch != 2 || ar.Epochs[0].Amount.Cmp(oneOPEN(3)) != 0 {
		t.Fatalf("a's epochs: %+v", ar.Epochs)
	}
	// Syncing again stores nothing twice.
	if err := e.rewards(1).SyncClaims(ctx); err != nil {
		t.Fatal(err)
	}
	if total, _ := e.st.ClaimedTotal(ctx); total.Cmp(oneOPEN(25)) != 0 {
		t.Fatalf("claimed total %s, want 25 OPEN", total)
	}
	if err := e.st.CheckRewardInvariants(ctx); err != nil {
		t.Fatal(err)
	}
	// Old epochs' proofs are pruned: only the current root accepts claims.
	if _, _, err := e.st.RewardLeaf(ctx, 1, a.Hex()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("epoch 1 leaf after epoch 2 final: %v", err)
	}
}

// TestEpochKilledAtEveryStep stops the epoch job after each step, then a
// fresh engine resumes: the epoch gets exactly one root, every entry is
// settled once, and claims pay the right amount.
func TestEpochKilledAtEveryStep(t *testing.T) {
	e := newChainEnv(t)
	ctx := context.Background()
	a := newAddress(t)

	// Killed right after settling.
	e.grant(t, a, oneOPEN(2))
	ep, err := e.st.SettleEpoch(ctx)
	if err != nil || ep == nil || ep.Status != store.EpochSettled {
		t.Fatalf("settle: %+v %v", ep, err)
	}
	e.grant(t, a, oneOPEN(100)) // arrives while epoch 1 is open: belongs to epoch 2
	if again, err := e.st.SettleEpoch(ctx); err != nil || again.Epoch != 1 {
		t.Fatalf("settling again opened %+v, %v", again, err)
	}
	ep = e.closeFinal(t, e.rewards(1))
	if ep.Epoch != 1 || ep.TotalCumulative.Cmp(oneOPEN(2)) != 0 {
		t.Fatalf("epoch 1 after a kill after settling: %+v", ep)
	}

	// Killed after the tree was stored.
	ep, err = e.st.SettleEpoch(ctx)
	if err != nil || ep.Epoch != 2 {
		t.Fatalf("settle 2: %+v %v", ep, err)
	}
	if err := e.rewards(1).BuildTree(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := e.rewards(1).BuildTree(ctx, 2); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second tree for epoch 2: %v", err)
	}
	ep = e.closeFinal(t, e.rewards(1))
	if ep.Epoch != 2 || ep.TotalCumulative.Cmp(oneOPEN(102)) != 0 || e.chainEpoch(t) != 2 {
		t.Fatalf("epoch 2: %+v on chain %d", ep, e.chainEpoch(t))
	}

	// Killed after the root's intent, after signing, after broadcast, after
	// the receipt: each time a fresh engine finishes with one root.
	for i, stop := range []string{"intent", "signed", "broadcast", "mined"} {
		n := int64(3 + i)
		e.grant(t, a, oneOPEN(1))
		ep, err := e.st.SettleEpoch(ctx)
		if err != nil || ep.Epoch != n {
			t.Fatalf("settle %d: %+v %v", n, ep, err)
		}
		if err := e.rewards(1).BuildTree(ctx, n); err != nil {
			t.Fatal(err)
		}
		ep, _ = e.st.RewardEpoch(ctx, n)
		s := e.sender(1)
		tx, err := s.Intent(ctx, fmt.Sprintf("epoch:%d:root", n), "post_root", e.dep.RewardsDistributor, nil,
			rewards.NewRewardsDistributor().PackPostRoot(uint64(n), common.HexToHash(ep.MerkleRoot), ep.TotalCumulative))
		if err != nil {
			t.Fatal(err)
		}
		switch stop {
		case "signed":
			_, err = s.Sign(ctx, tx.ID)
		case "broadcast":
			if _, err = s.Sign(ctx, tx.ID); err == nil {
				_, err = chain.WaitSuccess(ctx, e.client, sendStored(t, e, tx.ID))
			}
		case "mined":
			deep := e.sender(50)
			_, err = deep.WaitFinal(withTimeout(t, time.Second), tx.ID, 50*time.Millisecond)
			if got, _ := e.st.ChainTx(ctx, tx.ID); got.Status == store.TxMined {
				err = nil
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", stop, err)
		}
		nonce := e.nonce(t)
		ep = e.closeFinal(t, e.rewards(1))
		if ep.Epoch != n || e.chainEpoch(t) != uint64(n) {
			t.Fatalf("after a kill at %s: epoch %+v, chain at %d", stop, ep, e.chainEpoch(t))
		}
		wantNonce := nonce
		if stop == "intent" || stop == "signed" {
			wantNonce++ // the root had not reached the chain yet
		}
		if got := e.nonce(t); got != wantNonce {
			t.Fatalf("after a kill at %s: operator sent %d transactions to finish, want %d", stop, got-nonce, wantNonce-nonce)
		}
	}
	e.claim(t, a)
	if bal := e.balance(t, a); bal.Cmp(oneOPEN(106)) != 0 {
		t.Fatalf("a holds %s, want 106 OPEN", bal)
	}
	if err := e.st.CheckRewardInvariants(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestEpochTopsUpDistributor grants more than the distributor holds: the
// epoch moves the deficit from the operator (treasury) before the root.
func TestEpochTopsUpDistributor(t *testing.T) {
	e := newChainEnv(t)
	big1 := new(big.Int).Add(chain.DevDistributorFunding, oneOPEN(1000))
	a := newAddress(t)
	e.grant(t, a, big1)
	ep := e.closeFinal(t, e.rewards(1))
	if ep.FundTxID == nil {
		t.Fatal("no top-up transaction")
	}
	if bal := e.balance(t, e.dep.RewardsDistributor); bal.Cmp(big1) != 0 {
		t.Fatalf("distributor holds %s, want %s", bal, big1)
	}
	e.claim(t, a)
	if bal := e.balance(t, a); bal.Cmp(big1) != 0 {
		t.Fatalf("a holds %s", bal)
	}
}

// TestLedgerRules checks the ledger's constraints: settled entries cannot
// change, amounts must fit uint256, sources are known, and grants are
// audited.
func TestLedgerRules(t *testing.T) {
	e := &chainEnv{st: store.New(pgtestPool(t))}
	ctx := context.Background()
	a := crypto.PubkeyToAddress(mustKey(t).PublicKey)
	for _, bad := range []store.RewardEntryInput{
		{Account: a.Hex(), Amount: big.NewInt(0), Source: store.RewardGrant},
		{Account: a.Hex(), Amount: big.NewInt(-1), Source: store.RewardGrant},
		{Account: a.Hex(), Amount: new(big.Int).Lsh(big.NewInt(1), 256), Source: store.RewardGrant},
		{Account: a.Hex(), Amount: big.NewInt(1), Source: "gift"},
		{Account: "0xnotanaddress", Amount: big.NewInt(1), Source: store.RewardGrant},
	} {
		if _, err := e.st.AddRewardEntry(ctx, 0, bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	entry, err := e.st.AddRewardEntry(ctx, 0, store.RewardEntryInput{Account: a.Hex(), Amount: big.NewInt(5), Source: store.RewardGrant, Reason: "why"})
	if err != nil {
		t.Fatal(err)
	}
	log, err := e.st.AuditLog(ctx, "reward_entry", fmt.Sprint(entry.ID), 10)
	if err != nil || len(log) != 1 || log[0].Reason != "why" {
		t.Fatalf("audit: %+v %v", log, err)
	}
	if _, err := e.st.SettleEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	pool := e.st.Pool()
	for _, q := range []string{
		`UPDATE reward_entries SET amount = 6`,
		`UPDATE reward_entries SET epoch = NULL`,
		`DELETE FROM reward_entries`,
	} {
		if _, err := pool.Exec(ctx, q); err == nil {
			t.Errorf("%s: allowed on a settled entry", q)
		}
	}
	if err := e.st.CheckRewardInvariants(ctx); err != nil {
		t.Fatal(err)
	}
	// A forged epoch total is caught by the invariant check.
	if _, err := pool.Exec(ctx, `UPDATE reward_epochs SET total_cumulative = 7`); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CheckRewardInvariants(ctx); err == nil {
		t.Fatal("invariant check missed a forged total")
	}
}

func pgtestPool(t *testing.T) *pgxpool.Pool { return pgtest.New(t) }

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
