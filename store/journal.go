package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Journal statuses of a chain transaction, in the order they are reached.
const (
	TxIntent    = "intent"    // recorded, not signed: no nonce yet
	TxSigned    = "signed"    // nonce assigned, raw transaction stored, maybe broadcast
	TxBroadcast = "broadcast" // the node accepted it (or already knew it)
	TxMined     = "mined"     // included in a block, not yet deep enough
	TxConfirmed = "confirmed" // at the configured confirmation depth
	TxFailed    = "failed"    // reverted on chain, or refused for good
)

// ChainTxIntent is what a caller wants sent. Addresses are 0x hex; they are
// stored lower-case.
type ChainTxIntent struct {
	Key     string // idempotency key, e.g. "epoch:3:root"
	Kind    string // short label: "post_root", "fund_distributor", "fund_eth"…
	ChainID uint64
	Sender  string
	To      string
	Value   *big.Int // nil means 0
	Data    []byte
}

// ChainTx is one journal row.
type ChainTx struct {
	ID          int64
	Key         string
	Kind        string
	ChainID     uint64
	Sender      string
	To          string
	Value       *big.Int
	Data        []byte
	GasLimit    uint64
	Nonce       *uint64
	Status      string
	TxHash      string
	Attempts    int
	BlockNumber *uint64
	BlockHash   string
	GasUsed     *uint64
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	BroadcastAt *time.Time
	ConfirmedAt *time.Time
}

// Final reports whether the row will not change any more.
func (t *ChainTx) Final() bool { return t.Status == TxConfirmed || t.Status == TxFailed }

// ChainTxAttempt is one signed version of a journal row.
type ChainTxAttempt struct {
	Attempt   int
	Nonce     uint64
	TxHash    string
	Raw       []byte
	GasFeeCap *big.Int
	GasTipCap *big.Int
	CreatedAt time.Time
}

// SignedTx is what a signer returns for a nonce.
type SignedTx struct {
	Hash      string // 0x + 64 hex
	Raw       []byte // binary encoding, ready for eth_sendRawTransaction
	GasFeeCap *big.Int
	GasTipCap *big.Int
	GasLimit  uint64
}

const chainTxColumns = `id, intent_key, kind, chain_id, sender, to_address, value::text, data, gas_limit, nonce, status,
	coalesce(tx_hash, ''), attempts, block_number, coalesce(block_hash, ''), gas_used, last_error, created_at, updated_at,
	broadcast_at, confirmed_at`

func scanChainTx(row pgx.Row) (*ChainTx, error) {
	var t ChainTx
	var value string
	var chainID int64
	var gasLimit int64
	var nonce, block, gasUsed *int64
	err := row.Scan(&t.ID, &t.Key, &t.Kind, &chainID, &t.Sender, &t.To, &value, &t.Data, &gasLimit, &nonce, &t.Status,
		&t.TxHash, &t.Attempts, &block, &t.BlockHash, &gasUsed, &t.LastError, &t.CreatedAt, &t.UpdatedAt,
		&t.BroadcastAt, &t.ConfirmedAt)
	if err != nil {
		return nil, err
	}
	t.ChainID, t.GasLimit = uint64(chainID), uint64(gasLimit)
	t.Value, _ = new(big.Int).SetString(value, 10)
	t.Nonce, t.BlockNumber, t.GasUsed = u64p(nonce), u64p(block), u64p(gasUsed)
	return &t, nil
}

func u64p(p *int64) *uint64 {
	if p == nil {
		return nil
	}
	v := uint64(*p)
	return &v
}

func numeric(v *big.Int) pgtype.Numeric {
	if v == nil {
		v = new(big.Int)
	}
	return pgtype.Numeric{Int: new(big.Int).Set(v), Exp: 0, Valid: true}
}

// CreateChainTx records an intent. When an intent with the same key exists
// it is returned instead (created is false), whatever its state: retrying a
// step that creates an intent never creates a second transaction.
func (s *Store) CreateChainTx(ctx context.Context, in ChainTxIntent) (tx *ChainTx, created bool, err error) {
	if in.Key == "" || in.Kind == "" || in.ChainID == 0 {
		return nil, false, fmt.Errorf("create chain tx: key, kind and chain id are required")
	}
	if in.Value != nil && in.Value.Sign() < 0 {
		return nil, false, fmt.Errorf("create chain tx %s: negative value", in.Key)
	}
	data := in.Data
	if data == nil {
		data = []byte{}
	}
	row := s.pool.QueryRow(ctx, `
		INSERT INTO chain_txs (intent_key, kind, chain_id, sender, to_address, value, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (intent_key) DO NOTHING
		RETURNING `+chainTxColumns,
		in.Key, in.Kind, int64(in.ChainID), strings.ToLower(in.Sender), strings.ToLower(in.To), numeric(in.Value), data)
	tx, err = scanChainTx(row)
	if errors.Is(err, pgx.ErrNoRows) {
		tx, err = s.ChainTxByKey(ctx, in.Key)
		return tx, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create chain tx %s: %w", in.Key, err)
	}
	return tx, true, nil
}

// ChainTx returns the journal row id.
func (s *Store) ChainTx(ctx context.Context, id int64) (*ChainTx, error) {
	tx, err := scanChainTx(s.pool.QueryRow(ctx, `SELECT `+chainTxColumns+` FROM chain_txs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("chain tx %d: %w", id, err)
	}
	return tx, nil
}

// ChainTxByKey returns the journal row with the idempotency key.
func (s *Store) ChainTxByKey(ctx context.Context, key string) (*ChainTx, error) {
	tx, err := scanChainTx(s.pool.QueryRow(ctx, `SELECT `+chainTxColumns+` FROM chain_txs WHERE intent_key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("chain tx %q: %w", key, err)
	}
	return tx, nil
}

// ChainTxs lists journal rows, newest first.
func (s *Store) ChainTxs(ctx context.Context, limit int) ([]*ChainTx, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+chainTxColumns+` FROM chain_txs ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("chain txs: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ChainTx, error) { return scanChainTx(r) })
}

// PendingChainTxIDs lists rows that are not final, oldest first.
func (s *Store) PendingChainTxIDs(ctx context.Context) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM chain_txs WHERE status NOT IN ('confirmed', 'failed') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("pending chain txs: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// ChainTxAttempts returns every signed version of row id, first first.
func (s *Store) ChainTxAttempts(ctx context.Context, id int64) ([]ChainTxAttempt, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT attempt, nonce, tx_hash, raw_tx, gas_fee_cap::text, gas_tip_cap::text, created_at
		FROM chain_tx_attempts WHERE tx_id = $1 ORDER BY attempt`, id)
	if err != nil {
		return nil, fmt.Errorf("attempts of chain tx %d: %w", id, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChainTxAttempt, error) {
		var a ChainTxAttempt
		var nonce int64
		var fee, tip string
		if err := r.Scan(&a.Attempt, &nonce, &a.TxHash, &a.Raw, &fee, &tip, &a.CreatedAt); err != nil {
			return a, err
		}
		a.Nonce = uint64(nonce)
		a.GasFeeCap, _ = new(big.Int).SetString(fee, 10)
		a.GasTipCap, _ = new(big.Int).SetString(tip, 10)
		return a, nil
	})
}

// senderLockKey is the advisory lock that serialises nonce assignment for
// one sender on one chain, across every process sharing the database.
func senderLockKey(chainID uint64, sender string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "chain-sender:%d:%s", chainID, strings.ToLower(sender))
	return int64(h.Sum64())
}

// ErrTxState is returned (wrapped) when a journal step finds the row in a
// state that does not allow it, e.g. signing a row that is already signed
// by another process.
var ErrTxState = errors.New("chain tx is not in the expected state")

// SignChainTx assigns the next nonce to intent id and stores what sign
// returns for it, all in one database transaction: the nonce is
// max(highest nonce in the journal for this sender + 1, nodePending), taken
// under a per-sender advisory lock so concurrent processes never share one.
// The raw transaction and its hash are committed before the caller may
// broadcast them.
func (s *Store) SignChainTx(ctx context.Context, id int64, nodePending uint64, sign func(nonce uint64) (SignedTx, error)) (*ChainTx, error) {
	err := s.inTx(ctx, func(tx pgxTx) error {
		row, err := scanChainTx(tx.QueryRow(ctx, `SELECT `+chainTxColumns+` FROM chain_txs WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if row.Status != TxIntent {
			return fmt.Errorf("sign chain tx %d: status %s: %w", id, row.Status, ErrTxState)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, senderLockKey(row.ChainID, row.Sender)); err != nil {
			return err
		}
		var maxNonce *int64
		if err := tx.QueryRow(ctx, `SELECT max(nonce) FROM chain_txs WHERE chain_id = $1 AND sender = $2 AND nonce IS NOT NULL`,
			int64(row.ChainID), row.Sender).Scan(&maxNonce); err != nil {
			return err
		}
		nonce := nodePending
		if maxNonce != nil && uint64(*maxNonce)+1 > nonce {
			nonce = uint64(*maxNonce) + 1
		}
		signed, err := sign(nonce)
		if err != nil {
			return fmt.Errorf("sign chain tx %d: %w", id, err)
		}
		return storeAttempt(ctx, tx, id, row.Attempts+1, nonce, signed, true)
	})
	if err != nil {
		return nil, err
	}
	return s.ChainTx(ctx, id)
}

func storeAttempt(ctx context.Context, tx pgxTx, id int64, attempt int, nonce uint64, signed SignedTx, setNonce bool) error {
	if _, err := tx.Exec(ctx, `
		INSERT INTO chain_tx_attempts (tx_id, attempt, nonce, tx_hash, raw_tx, gas_fee_cap, gas_tip_cap)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		id, attempt, int64(nonce), strings.ToLower(signed.Hash), signed.Raw, numeric(signed.GasFeeCap), numeric(signed.GasTipCap)); err != nil {
		return fmt.Errorf("store attempt %d of chain tx %d: %w", attempt, id, err)
	}
	q := `UPDATE chain_txs SET status = 'signed', tx_hash = $2, attempts = $3, gas_limit = $4, last_error = '', updated_at = now()`
	if setNonce {
		q += `, nonce = $5 WHERE id = $1`
		_, err := tx.Exec(ctx, q, id, strings.ToLower(signed.Hash), attempt, int64(signed.GasLimit), int64(nonce))
		return err
	}
	_, err := tx.Exec(ctx, q+` WHERE id = $1 AND nonce = $5`, id, strings.ToLower(signed.Hash), attempt, int64(signed.GasLimit), int64(nonce))
	return err
}

// ReplaceChainTx stores a re-signed version of a signed or broadcast row
// with the same nonce (a fee bump): whichever version is mined, the
// transaction happens once.
func (s *Store) ReplaceChainTx(ctx context.Context, id int64, signed SignedTx) (*ChainTx, error) {
	err := s.inTx(ctx, func(tx pgxTx) error {
		row, err := scanChainTx(tx.QueryRow(ctx, `SELECT `+chainTxColumns+` FROM chain_txs WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if (row.Status != TxSigned && row.Status != TxBroadcast) || row.Nonce == nil {
			return fmt.Errorf("replace chain tx %d: status %s: %w", id, row.Status, ErrTxState)
		}
		return storeAttempt(ctx, tx, id, row.Attempts+1, *row.Nonce, signed, false)
	})
	if err != nil {
		return nil, err
	}
	return s.ChainTx(ctx, id)
}

// MarkChainTxBroadcast records that the node holds the signed row.
func (s *Store) MarkChainTxBroadcast(ctx context.Context, id int64) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE chain_txs SET status = 'broadcast', broadcast_at = coalesce(broadcast_at, now()), updated_at = now()
		WHERE id = $1 AND status = 'signed'`, id)
	if err != nil {
		return fmt.Errorf("mark chain tx %d broadcast: %w", id, err)
	}
	return nil
}

// MarkChainTxMined records the receipt of one attempt. A reverted
// transaction is final (failed): its nonce is spent.
func (s *Store) MarkChainTxMined(ctx context.Context, id int64, txHash string, block uint64, blockHash string, gasUsed uint64, success bool) error {
	status, errText := TxMined, ""
	if !success {
		status, errText = TxFailed, "reverted on chain"
	}
	_, err := s.pool.Exec(ctx, `
		UPDATE chain_txs SET status = $2, tx_hash = $3, block_number = $4, block_hash = $5, gas_used = $6,
			last_error = $7, updated_at = now()
		WHERE id = $1 AND status IN ('signed', 'broadcast', 'mined')`,
		id, status, strings.ToLower(txHash), int64(block), strings.ToLower(blockHash), int64(gasUsed), errText)
	if err != nil {
		return fmt.Errorf("mark chain tx %d mined: %w", id, err)
	}
	return nil
}

// MarkChainTxConfirmed records that the mined row reached the confirmation
// depth.
func (s *Store) MarkChainTxConfirmed(ctx context.Context, id int64) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE chain_txs SET status = 'confirmed', confirmed_at = now(), updated_at = now()
		WHERE id = $1 AND status = 'mined'`, id)
	if err != nil {
		return fmt.Errorf("mark chain tx %d confirmed: %w", id, err)
	}
	return nil
}

// UnmineChainTx puts a mined row back to broadcast after a reorg removed
// its block.
func (s *Store) UnmineChainTx(ctx context.Context, id int64) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE chain_txs SET status = 'broadcast', block_number = NULL, block_hash = NULL, gas_used = NULL,
			last_error = 'block reorganised away', updated_at = now()
		WHERE id = $1 AND status = 'mined'`, id)
	if err != nil {
		return fmt.Errorf("unmine chain tx %d: %w", id, err)
	}
	return nil
}

// ReleaseChainTxNonce puts a signed row back to intent when its nonce was
// consumed by a transaction the journal did not send (no attempt of the row
// can ever be mined any more), so that it is signed again with a new nonce.
func (s *Store) ReleaseChainTxNonce(ctx context.Context, id int64, reason string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE chain_txs SET status = 'intent', nonce = NULL, tx_hash = NULL, last_error = $2, updated_at = now()
		WHERE id = $1 AND status IN ('signed', 'broadcast')`, id, reason)
	if err != nil {
		return fmt.Errorf("release nonce of chain tx %d: %w", id, err)
	}
	return nil
}

// FailChainTx marks a row failed for good (it was never signed, or it
// reverted).
func (s *Store) FailChainTx(ctx context.Context, id int64, reason string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE chain_txs SET status = 'failed', last_error = $2, updated_at = now()
		WHERE id = $1 AND status = 'intent'`, id, reason)
	if err != nil {
		return fmt.Errorf("fail chain tx %d: %w", id, err)
	}
	return nil
}

// NoteChainTxError records a transient problem without changing the status.
func (s *Store) NoteChainTxError(ctx context.Context, id int64, msg string) error {
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	_, err := s.pool.Exec(ctx, `UPDATE chain_txs SET last_error = $2, updated_at = now() WHERE id = $1`, id, msg)
	if err != nil {
		return fmt.Errorf("note error on chain tx %d: %w", id, err)
	}
	return nil
}
