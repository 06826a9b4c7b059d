package jobs

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/riverqueue/river"

	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/store"
)

// ChainClient is what the transaction sender needs from a node;
// *ethclient.Client satisfies it.
type ChainClient interface {
	chain.Backend
	NonceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (uint64, error)
	BlockNumber(ctx context.Context) (uint64, error)
	TransactionByHash(ctx context.Context, hash common.Hash) (tx *types.Transaction, isPending bool, err error)
}

// Sender signs and sends the server's transactions through the journal in
// PostgreSQL (store/journal.go), so that a crash at any point between
// intent and confirmation, followed by a restart, neither sends a
// transaction twice nor loses it:
//
//   - Intent records what to send under an idempotency key before anything
//     is signed;
//   - Sign assigns the nonce from the journal under a per-sender lock and
//     commits the raw signed transaction and its hash before any broadcast;
//   - Broadcast sends the stored bytes (again, after a restart: the node
//     answers "already known" or "nonce too low", both fine);
//   - Track finds the receipt of any attempt, waits for the confirmation
//     depth, re-broadcasts a transaction the node dropped, bumps the fee of
//     one that waits too long (same nonce, so only one version can be
//     mined), and re-signs with a new nonce one whose nonce was consumed by
//     a transaction the journal did not send.
//
// The key is used only to sign; it is never logged or stored.
type Sender struct {
	Store   *store.Store
	Client  ChainClient
	Key     *ecdsa.PrivateKey
	ChainID uint64
	// Confirmations is the depth at which a mined transaction is final: 1
	// means its block is the head. 0 means 1.
	Confirmations uint64
	// ResendAfter is how long a broadcast transaction may wait before it is
	// re-signed with a higher fee. 0 means two minutes.
	ResendAfter time.Duration
	Log         *slog.Logger
}

// Address is the sender's account.
func (s *Sender) Address() common.Address { return crypto.PubkeyToAddress(s.Key.PublicKey) }

func (s *Sender) confirmations() uint64 {
	if s.Confirmations == 0 {
		return 1
	}
	return s.Confirmations
}

func (s *Sender) resendAfter() time.Duration {
	if s.ResendAfter == 0 {
		return 2 * time.Minute
	}
	return s.ResendAfter
}

func (s *Sender) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Intent records a transaction to send under key. Recording the same key
// again returns the first intent, whatever has happened to it since.
func (s *Sender) Intent(ctx context.Context, key, kind string, to common.Address, value *big.Int, data []byte) (*store.ChainTx, error) {
	t, _, err := s.Store.CreateChainTx(ctx, store.ChainTxIntent{Key: key, Kind: kind, ChainID: s.ChainID,
		Sender: s.Address().Hex(), To: to.Hex(), Value: value, Data: data})
	return t, err
}

// Sign moves intent id to signed: estimate gas, pick fees, take the next
// nonce from the journal and store the signed bytes.
func (s *Sender) Sign(ctx context.Context, id int64) (*store.ChainTx, error) {
	t, err := s.Store.ChainTx(ctx, id)
	if err != nil {
		return nil, err
	}
	if t.Status != store.TxIntent {
		return t, nil
	}
	if !strings.EqualFold(t.Sender, s.Address().Hex()) || t.ChainID != s.ChainID {
		return nil, fmt.Errorf("sign chain tx %d: journal row is for %s on chain %d, this sender is %s on chain %d",
			id, t.Sender, t.ChainID, s.Address(), s.ChainID)
	}
	to := common.HexToAddress(t.To)
	gas, err := s.Client.EstimateGas(ctx, ethereum.CallMsg{From: s.Address(), To: &to, Value: t.Value, Data: t.Data})
	if err != nil {
		_ = s.Store.NoteChainTxError(ctx, id, "estimate gas: "+err.Error())
		return nil, fmt.Errorf("sign chain tx %d (%s): estimate gas: %w", id, t.Key, err)
	}
	gas += gas/5 + 10_000 // headroom: state may change between estimate and inclusion
	tip, feeCap, err := s.fees(ctx, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("sign chain tx %d: %w", id, err)
	}
	pending, err := s.Client.PendingNonceAt(ctx, s.Address())
	if err != nil {
		return nil, fmt.Errorf("sign chain tx %d: pending nonce: %w", id, err)
	}
	signed, err := s.Store.SignChainTx(ctx, id, pending, func(nonce uint64) (store.SignedTx, error) {
		return s.sign(t, nonce, gas, tip, feeCap)
	})
	if err != nil {
		return nil, err
	}
	s.log().Info("chain tx signed", "id", id, "key", t.Key, "nonce", *signed.Nonce, "hash", signed.TxHash)
	return signed, nil
}

// fees returns a tip and fee cap for the current head; with a previous
// attempt's fees, both are raised by at least 20% (nodes require 10% to
// replace a pending transaction).
func (s *Sender) fees(ctx context.Context, prevTip, prevCap *big.Int) (tip, feeCap *big.Int, err error) {
	head, err := s.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("read head: %w", err)
	}
	tip, err = s.Client.SuggestGasTipCap(ctx)
	if err != nil || tip.Sign() == 0 {
		tip = big.NewInt(params.GWei)
	}
	base := head.BaseFee
	if base == nil {
		base = new(big.Int)
	}
	feeCap = new(big.Int).Add(tip, new(big.Int).Mul(base, big.NewInt(2)))
	if prevTip != nil {
		tip = maxBig(tip, bump(prevTip))
		feeCap = maxBig(feeCap, bump(prevCap))
		if feeCap.Cmp(tip) < 0 {
			feeCap = new(big.Int).Set(tip)
		}
	}
	return tip, feeCap, nil
}

func bump(v *big.Int) *big.Int {
	out := new(big.Int).Mul(v, big.NewInt(6))
	out.Div(out, big.NewInt(5))
	return out.Add(out, big.NewInt(1))
}

func maxBig(a, b *big.Int) *big.Int {
	if a.Cmp(b) >= 0 {
		return new(big.Int).Set(a)
	}
	return new(big.Int).Set(b)
}

func (s *Sender) sign(t *store.ChainTx, nonce, gas uint64, tip, feeCap *big.Int) (store.SignedTx, error) {
	chainID := new(big.Int).SetUint64(s.ChainID)
	to := common.HexToAddress(t.To)
	tx, err := types.SignNewTx(s.Key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: &to, Value: t.Value, Data: t.Data,
	})
	if err != nil {
		return store.SignedTx{}, err
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return store.SignedTx{}, err
	}
	return store.SignedTx{Hash: tx.Hash().Hex(), Raw: raw, GasFeeCap: feeCap, GasTipCap: tip, GasLimit: gas}, nil
}

// Broadcast sends the latest signed attempt of id and marks it broadcast.
// Sending bytes the node already has, or whose nonce is already used, is
// not an error: Track decides what happened.
func (s *Sender) Broadcast(ctx context.Context, id int64) error {
	t, err := s.Store.ChainTx(ctx, id)
	if err != nil {
		return err
	}
	if t.Status != store.TxSigned && t.Status != store.TxBroadcast {
		return nil
	}
	if err := s.sendLatest(ctx, id); err != nil {
		return err
	}
	return s.Store.MarkChainTxBroadcast(ctx, id)
}

func (s *Sender) sendLatest(ctx context.Context, id int64) error {
	attempts, err := s.Store.ChainTxAttempts(ctx, id)
	if err != nil {
		return err
	}
	if len(attempts) == 0 {
		return fmt.Errorf("broadcast chain tx %d: no signed attempt", id)
	}
	last := attempts[len(attempts)-1]
	var tx types.Transaction
	if err := tx.UnmarshalBinary(last.Raw); err != nil {
		return fmt.Errorf("broadcast chain tx %d: decode stored transaction: %w", id, err)
	}
	if err := s.Client.SendTransaction(ctx, &tx); err != nil && !benignSendError(err) {
		_ = s.Store.NoteChainTxError(ctx, id, "broadcast: "+err.Error())
		return fmt.Errorf("broadcast chain tx %d: %w", id, err)
	}
	return nil
}

// benignSendError reports node answers that mean "this nonce is taken
// care of" rather than "this transaction is bad".
func benignSendError(err error) bool {
	msg := err.Error()
	for _, s := range []string{"already known", "nonce too low", "replacement transaction underpriced", "known transaction"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Track advances a broadcast or mined row: records its receipt, confirms it
// at depth, and handles drops, slow inclusion and displaced nonces.
func (s *Sender) Track(ctx context.Context, id int64) (*store.ChainTx, error) {
	t, err := s.Store.ChainTx(ctx, id)
	if err != nil {
		return nil, err
	}
	if t.Status != store.TxBroadcast && t.Status != store.TxMined && t.Status != store.TxSigned {
		return t, nil
	}
	attempts, err := s.Store.ChainTxAttempts(ctx, id)
	if err != nil {
		return nil, err
	}
	// The nonce is read before the receipts: if it is consumed and none of
	// our attempts has a receipt afterwards, another transaction took it.
	head, err := s.Client.BlockNumber(ctx)
	if err != nil {
		return nil, fmt.Errorf("track chain tx %d: head: %w", id, err)
	}
	depth := s.confirmations()
	var nonceAtDepth uint64
	if head+1 >= depth {
		nonceAtDepth, err = s.Client.NonceAt(ctx, s.Address(), new(big.Int).SetUint64(head+1-depth))
		if err != nil {
			return nil, fmt.Errorf("track chain tx %d: nonce: %w", id, err)
		}
	}
	for i := len(attempts) - 1; i >= 0; i-- {
		hash := common.HexToHash(attempts[i].TxHash)
		receipt, err := s.Client.TransactionReceipt(ctx, hash)
		if errors.Is(err, ethereum.NotFound) {
			continue
		}
		if err != nil {
			// Includes "transaction indexing is in progress": without a
			// definite answer nothing may be concluded from the nonce.
			return nil, fmt.Errorf("track chain tx %d: receipt: %w", id, err)
		}
		ok := receipt.Status == types.ReceiptStatusSuccessful
		if err := s.Store.MarkChainTxMined(ctx, id, hash.Hex(), receipt.BlockNumber.Uint64(), receipt.BlockHash.Hex(), receipt.GasUsed, ok); err != nil {
			return nil, err
		}
		if !ok {
			s.log().Warn("chain tx reverted", "id", id, "key", t.Key, "hash", hash)
			return s.Store.ChainTx(ctx, id)
		}
		if head+1 >= receipt.BlockNumber.Uint64()+depth {
			hdr, err := s.Client.HeaderByNumber(ctx, receipt.BlockNumber)
			if err != nil {
				return nil, fmt.Errorf("track chain tx %d: header: %w", id, err)
			}
			if hdr.Hash() == receipt.BlockHash {
				if err := s.Store.MarkChainTxConfirmed(ctx, id); err != nil {
					return nil, err
				}
				s.log().Info("chain tx confirmed", "id", id, "key", t.Key, "hash", hash, "block", receipt.BlockNumber)
			}
		}
		return s.Store.ChainTx(ctx, id)
	}
	if t.Status == store.TxMined {
		// Its block was reorganised away; track it as pending again.
		if err := s.Store.UnmineChainTx(ctx, id); err != nil {
			return nil, err
		}
		return s.Store.ChainTx(ctx, id)
	}
	if t.Nonce != nil && nonceAtDepth > *t.Nonce {
		// The nonce is spent at confirmation depth and no attempt of ours
		// was mined: none ever can be. Sign again with a fresh nonce.
		s.log().Warn("chain tx nonce used by another transaction; re-signing", "id", id, "key", t.Key, "nonce", *t.Nonce)
		if err := s.Store.ReleaseChainTxNonce(ctx, id, fmt.Sprintf("nonce %d used by a transaction outside the journal", *t.Nonce)); err != nil {
			return nil, err
		}
		return s.Store.ChainTx(ctx, id)
	}
	if t.Status == store.TxSigned {
		return t, nil
	}
	last := attempts[len(attempts)-1]
	if time.Since(last.CreatedAt) >= s.resendAfter() {
		return s.replace(ctx, t, last)
	}
	if _, _, err := s.Client.TransactionByHash(ctx, common.HexToHash(last.TxHash)); errors.Is(err, ethereum.NotFound) {
		// The node dropped it (restart, eviction): send the same bytes again.
		s.log().Info("chain tx not in the node's pool; re-broadcasting", "id", id, "hash", last.TxHash)
		if err := s.sendLatest(ctx, id); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// replace re-signs t with the same nonce and higher fees, then broadcasts.
func (s *Sender) replace(ctx context.Context, t *store.ChainTx, last store.ChainTxAttempt) (*store.ChainTx, error) {
	tip, feeCap, err := s.fees(ctx, last.GasTipCap, last.GasFeeCap)
	if err != nil {
		return nil, fmt.Errorf("replace chain tx %d: %w", t.ID, err)
	}
	signed, err := s.sign(t, *t.Nonce, t.GasLimit, tip, feeCap)
	if err != nil {
		return nil, fmt.Errorf("replace chain tx %d: %w", t.ID, err)
	}
	if _, err := s.Store.ReplaceChainTx(ctx, t.ID, signed); err != nil {
		return nil, err
	}
	s.log().Info("chain tx re-signed with a higher fee", "id", t.ID, "key", t.Key, "nonce", *t.Nonce, "hash", signed.Hash, "tip", tip)
	if err := s.Broadcast(ctx, t.ID); err != nil {
		return nil, err
	}
	return s.Store.ChainTx(ctx, t.ID)
}

// Step performs the next step of row id according to its status.
func (s *Sender) Step(ctx context.Context, id int64) (*store.ChainTx, error) {
	t, err := s.Store.ChainTx(ctx, id)
	if err != nil {
		return nil, err
	}
	switch t.Status {
	case store.TxIntent:
		return s.Sign(ctx, id)
	case store.TxSigned:
		if err := s.Broadcast(ctx, id); err != nil {
			return nil, err
		}
		return s.Store.ChainTx(ctx, id)
	case store.TxBroadcast, store.TxMined:
		return s.Track(ctx, id)
	}
	return t, nil
}

// Drive steps row id until it is final or stops making progress (waiting
// for a block or for confirmations), and returns it.
func (s *Sender) Drive(ctx context.Context, id int64) (*store.ChainTx, error) {
	t, err := s.Store.ChainTx(ctx, id)
	if err != nil {
		return nil, err
	}
	for range 8 {
		if t.Final() {
			return t, nil
		}
		next, err := s.Step(ctx, id)
		if err != nil {
			return nil, err
		}
		if next.Status == t.Status && next.Attempts == t.Attempts {
			return next, nil
		}
		t = next
	}
	return t, nil
}

// WaitFinal drives row id until it is final, polling every poll, or until
// ctx ends.
func (s *Sender) WaitFinal(ctx context.Context, id int64, poll time.Duration) (*store.ChainTx, error) {
	for {
		t, err := s.Drive(ctx, id)
		if err != nil {
			return nil, err
		}
		if t.Final() {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for chain tx %d: %w", id, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// ChainSweepArgs drives every unfinished journal row one round: after a
// crash, this is what finishes the work of the process that died.
type ChainSweepArgs struct{}

// Kind identifies the job.
func (ChainSweepArgs) Kind() string { return "chain_sweep" }

// InsertOpts runs it on the chain queue, once per period.
func (ChainSweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueChain, UniqueOpts: river.UniqueOpts{ByPeriod: 10 * time.Second}}
}

// ChainSweepWorker runs ChainSweepArgs.
type ChainSweepWorker struct {
	river.WorkerDefaults[ChainSweepArgs]
	sender *Sender
}

// Work drives each pending row; one failing row does not stop the others.
func (w *ChainSweepWorker) Work(ctx context.Context, job *river.Job[ChainSweepArgs]) error {
	ids, err := w.sender.Store.PendingChainTxIDs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if _, err := w.sender.Drive(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		w.sender.log().Warn("chain sweep", "err", errors.Join(errs...))
	}
	return nil
}
