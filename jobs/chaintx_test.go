package jobs_test

import (
	"context"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/chain/bindings/open"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

// chainEnv is a real dev chain with ModelFactory's contracts and a fresh
// database.
type chainEnv struct {
	dev    *chain.DevChain
	client *ethclient.Client
	dep    chain.Deployment
	st     *store.Store
}

func newChainEnv(t *testing.T) *chainEnv { return newChainEnvB(t) }

func newChainEnvB(t testing.TB) *chainEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dev, err := chain.StartDev(ctx, chain.DevConfig{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	client, err := chain.Dial(ctx, dev.RPCURL(), dev.ChainID())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	dep, err := chain.DeployDev(ctx, client, dev.FaucetKey())
	if err != nil {
		t.Fatal(err)
	}
	return &chainEnv{dev: dev, client: client, dep: dep, st: store.New(pgtest.New(t))}
}

// sender is a fresh Sender: a "restarted process" holds nothing but what the
// journal and the chain hold.
func (e *chainEnv) sender(confirmations uint64) *jobs.Sender {
	return &jobs.Sender{Store: e.st, Client: e.client, Key: e.dev.FaucetKey(), ChainID: e.dev.ChainID(),
		Confirmations: confirmations, ResendAfter: time.Hour}
}

func (e *chainEnv) nonce(t *testing.T) uint64 {
	t.Helper()
	n, err := e.client.NonceAt(context.Background(), e.dev.FaucetAddress(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *chainEnv) balance(t *testing.T, a common.Address) *big.Int {
	t.Helper()
	b, err := chain.TokenBalance(context.Background(), e.client, e.dep.OPEN, a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newAddress(t *testing.T) common.Address {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return crypto.PubkeyToAddress(k.PublicKey)
}

var payment = new(big.Int).Mul(big.NewInt(123), big.NewInt(1e18))

// pay records the intent to pay payment OPEN to a fresh recipient.
func (e *chainEnv) pay(t *testing.T, s *jobs.Sender, key string, to common.Address) *store.ChainTx {
	t.Helper()
	tx, err := s.Intent(context.Background(), key, "transfer", e.dep.OPEN, nil, open.NewOPEN().PackTransfer(to, payment))
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// finish restarts: a new sender re-records the same intent (as a restarted
// caller would) and drives the journal to the end; then exactly one payment
// must have happened and exactly one nonce been used.
func (e *chainEnv) finish(t *testing.T, key string, to common.Address, nonceBefore uint64) *store.ChainTx {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := e.sender(1)
	tx := e.pay(t, s, key, to)
	got, err := s.WaitFinal(ctx, tx.ID, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.TxConfirmed {
		t.Fatalf("status %s (%s), want confirmed", got.Status, got.LastError)
	}
	// Running the journal again after the end changes nothing.
	if _, err := e.sender(1).Drive(ctx, tx.ID); err != nil {
		t.Fatal(err)
	}
	if b := e.balance(t, to); b.Cmp(payment) != 0 {
		t.Fatalf("recipient holds %s, want exactly one payment of %s", b, payment)
	}
	if n := e.nonce(t); n != nonceBefore+1 {
		t.Fatalf("sender nonce went from %d to %d, want exactly one transaction", nonceBefore, n)
	}
	return got
}

// TestJournalCrashRecovery kills the process (drops the Sender and any
// state it held) after each journal step, restarts from the journal and
// checks that the payment happens exactly once on the real dev chain.
func TestJournalCrashRecovery(t *testing.T) {
	e := newChainEnv(t)
	ctx := context.Background()

	t.Run("after intent", func(t *testing.T) {
		to, n0 := newAddress(t), e.nonce(t)
		tx := e.pay(t, e.sender(1), "crash:intent", to)
		if tx.Status != store.TxIntent || tx.Nonce != nil {
			t.Fatalf("intent: %+v", tx)
		}
		e.finish(t, "crash:intent", to, n0)
	})

	t.Run("after signing, before broadcast", func(t *testing.T) {
		to, n0 := newAddress(t), e.nonce(t)
		s := e.sender(1)
		tx := e.pay(t, s, "crash:signed", to)
		signed, err := s.Sign(ctx, tx.ID)
		if err != nil {
			t.Fatal(err)
		}
		if signed.Status != store.TxSigned || signed.Nonce == nil || *signed.Nonce != n0 || signed.TxHash == "" {
			t.Fatalf("signed: %+v", signed)
		}
		got := e.finish(t, "crash:signed", to, n0)
		if got.TxHash != signed.TxHash || got.Attempts != 1 {
			t.Fatalf("restart signed anew: hash %s → %s, attempts %d", signed.TxHash, got.TxHash, got.Attempts)
		}
	})

	t.Run("after broadcast, before the journal recorded it", func(t *testing.T) {
		to, n0 := newAddress(t), e.nonce(t)
		s := e.sender(1)
		tx := e.pay(t, s, "crash:broadcast", to)
		if _, err := s.Sign(ctx, tx.ID); err != nil {
			t.Fatal(err)
		}
		// The process sent the stored bytes and died before writing anything.
		raw := sendStored(t, e, tx.ID)
		if _, err := chain.WaitSuccess(ctx, e.client, raw); err != nil {
			t.Fatal(err)
		}
		e.finish(t, "crash:broadcast", to, n0)
	})

	t.Run("after receipt, before confirmation", func(t *testing.T) {
		to, n0 := newAddress(t), e.nonce(t)
		s := e.sender(50) // a depth the dev chain will not reach: stays mined
		tx := e.pay(t, s, "crash:receipt", to)
		got, err := s.WaitFinal(withTimeout(t, 2*time.Second), tx.ID, 50*time.Millisecond)
		if err == nil {
			t.Fatalf("confirmed at depth 50 on an idle chain: %+v", got)
		}
		mid, err := e.st.ChainTx(ctx, tx.ID)
		if err != nil {
			t.Fatal(err)
		}
		if mid.Status != store.TxMined || mid.BlockNumber == nil {
			t.Fatalf("status %s, want mined", mid.Status)
		}
		e.finish(t, "crash:receipt", to, n0)
	})

	t.Run("dropped by the node: re-sent with the same nonce and a higher fee", func(t *testing.T) {
		to, n0 := newAddress(t), e.nonce(t)
		s := e.sender(1)
		tx := e.pay(t, s, "drop:bump", to)
		if _, err := s.Sign(ctx, tx.ID); err != nil {
			t.Fatal(err)
		}
		// The journal believes the node has it; the node never saw it.
		if err := e.st.MarkChainTxBroadcast(ctx, tx.ID); err != nil {
			t.Fatal(err)
		}
		impatient := e.sender(1)
		impatient.ResendAfter = time.Nanosecond
		got, err := impatient.WaitFinal(withTimeout(t, time.Minute), tx.ID, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.TxConfirmed {
			t.Fatalf("status %s", got.Status)
		}
		attempts, err := e.st.ChainTxAttempts(ctx, tx.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(attempts) < 2 {
			t.Fatalf("%d attempts, want a fee-bumped replacement", len(attempts))
		}
		first, last := attempts[0], attempts[len(attempts)-1]
		if first.Nonce != last.Nonce || last.GasTipCap.Cmp(first.GasTipCap) <= 0 || last.GasFeeCap.Cmp(first.GasFeeCap) <= 0 {
			t.Fatalf("replacement: nonce %d→%d tip %s→%s cap %s→%s", first.Nonce, last.Nonce, first.GasTipCap, last.GasTipCap, first.GasFeeCap, last.GasFeeCap)
		}
		e.finish(t, "drop:bump", to, n0)
	})

	t.Run("nonce taken by a transaction outside the journal", func(t *testing.T) {
		to, n0 := newAddress(t), e.nonce(t)
		s := e.sender(1)
		tx := e.pay(t, s, "displaced", to)
		signed, err := s.Sign(ctx, tx.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Someone else uses the faucet key with the same nonce first.
		if _, err := e.dev.Fund(ctx, newAddress(t), big.NewInt(1)); err != nil {
			t.Fatal(err)
		}
		got := e.finish(t, "displaced", to, n0+1)
		if *got.Nonce != *signed.Nonce+1 {
			t.Fatalf("re-signed with nonce %d, want %d", *got.Nonce, *signed.Nonce+1)
		}
	})
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// sendStored broadcasts the journal's latest signed bytes of id directly.
func sendStored(t *testing.T, e *chainEnv, id int64) *types.Transaction {
	t.Helper()
	attempts, err := e.st.ChainTxAttempts(context.Background(), id)
	if err != nil || len(attempts) == 0 {
		t.Fatalf("attempts: %v %d", err, len(attempts))
	}
	var tx types.Transaction
	if err := tx.UnmarshalBinary(attempts[len(attempts)-1].Raw); err != nil {
		t.Fatal(err)
	}
	if err := e.client.SendTransaction(context.Background(), &tx); err != nil {
		t.Fatal(err)
	}
	return &tx
}

// TestJournalNoncesUnderConcurrency signs many intents from several
// "processes" at once: every nonce is distinct and consecutive, and every
// payment lands once.
func TestJournalNoncesUnderConcurrency(t *testing.T) {
	e := newChainEnv(t)
	ctx := withTimeout(t, 2*time.Minute)
	n0 := e.nonce(t)
	const n = 8
	recipients := make([]common.Address, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		recipients[i] = newAddress(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := e.sender(1)
			tx := e.pay(t, s, "concurrent:"+recipients[i].Hex(), recipients[i])
			if _, err := s.WaitFinal(ctx, tx.ID, 50*time.Millisecond); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	txs, err := e.st.ChainTxs(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range txs {
		if tx.Status != store.TxConfirmed || seen[*tx.Nonce] || *tx.Nonce < n0 || *tx.Nonce >= n0+n {
			t.Fatalf("tx %d: status %s nonce %v", tx.ID, tx.Status, *tx.Nonce)
		}
		seen[*tx.Nonce] = true
	}
	for _, r := range recipients {
		if b := e.balance(t, r); b.Cmp(payment) != 0 {
			t.Fatalf("%s holds %s", r, b)
		}
	}
	if got := e.nonce(t); got != n0+n {
		t.Fatalf("nonce %d, want %d", got, n0+n)
	}
}
