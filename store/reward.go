package store

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reward sources: where an entry of the ledger comes from.
const (
	RewardGrant       = "grant"
	RewardAttribution = "attribution"
	RewardLabeling    = "labeling"
)

// Epoch statuses.
const (
	EpochSettled = "settled" // entries assigned, tree not yet stored
	EpochBuilt   = "built"   // tree and proofs stored, root being posted
	EpochFinal   = "final"   // root confirmed on chain at the confirmation depth
)

// maxUint256 bounds every amount: the distributor's leaves are uint256.
var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// RewardEntryInput is a new line of the ledger.
type RewardEntryInput struct {
	Account   string   // EIP-55 checksummed address
	Amount    *big.Int // wei, > 0
	Source    string   // RewardGrant, RewardAttribution, RewardLabeling
	Reference string   // what it pays for, e.g. "datanet:12:v3"
	Reason    string
}

// RewardEntry is one line of the ledger.
type RewardEntry struct {
	ID        int64
	Account   string
	Amount    *big.Int
	Source    string
	Reference string
	Reason    string
	Epoch     *int64 // nil while unsettled
	CreatedAt time.Time
}

// RewardEpoch is one settlement.
type RewardEpoch struct {
	Epoch           int64
	Status          string
	MerkleRoot      string
	TotalCumulative *big.Int // every entry settled in this epoch or before
	EpochAmount     *big.Int // entries settled in this epoch
	AccountCount    int64
	FundTxID        *int64
	RootTxID        *int64
	RootTxHash      string
	CreatedAt       time.Time
	BuiltAt         *time.Time
	FinalizedAt     *time.Time
}

func parseWei(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return new(big.Int)
	}
	return v
}

// AddRewardEntry appends an entry to the ledger and, for grants by a person,
// to the audit log, in one transaction. actorID 0 means the system.
func (s *Store) AddRewardEntry(ctx context.Context, actorID int64, in RewardEntryInput) (*RewardEntry, error) {
	if in.Amount == nil || in.Amount.Sign() <= 0 || in.Amount.Cmp(maxUint256) > 0 {
		return nil, fmt.Errorf("add reward entry: amount must be a positive integer below 2^256")
	}
	switch in.Source {
	case RewardGrant, RewardAttribution, RewardLabeling:
	default:
		return nil, fmt.Errorf("add reward entry: unknown source %q", in.Source)
	}
	var actor *int64
	if actorID != 0 {
		actor = &actorID
	}
	var e RewardEntry
	err := s.inTx(ctx, func(tx pgxTx) error {
		var amount string
		err := tx.QueryRow(ctx, `
			INSERT INTO reward_entries (account, amount, source, reference, reason, created_by)
			VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING id, account, amount::text, source, reference, reason, epoch, created_at`,
			in.Account, numeric(in.Amount), in.Source, in.Reference, in.Reason, actor).
			Scan(&e.ID, &e.Account, &amount, &e.Source, &e.Reference, &e.Reason, &e.Epoch, &e.CreatedAt)
		if err != nil {
			return fmt.Errorf("add reward entry: %w", err)
		}
		e.Amount = parseWei(amount)
		return audit(ctx, tx, actorID, "reward."+in.Source, "reward_entry", fmt.Sprint(e.ID), nil,
			map[string]string{"account": e.Account, "amountWei": amount, "source": e.Source, "reference": e.Reference}, in.Reason)
	})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

const epochColumns = `e.epoch, e.status, coalesce(e.merkle_root, ''), e.total_cumulative::text, e.epoch_amount::text,
	e.account_count, e.fund_tx_id, e.root_tx_id, coalesce(t.tx_hash, ''), e.created_at, e.built_at, e.finalized_at`

const epochFrom = ` FROM reward_epochs e LEFT JOIN chain_txs t ON t.id = e.root_tx_id `

func scanEpoch(row pgx.Row) (*RewardEpoch, error) {
	var ep RewardEpoch
	var total, amount string
	err := row.Scan(&ep.Epoch, &ep.Status, &ep.MerkleRoot, &total, &amount, &ep.AccountCount, &ep.FundTxID, &ep.RootTxID,
		&ep.RootTxHash, &ep.CreatedAt, &ep.BuiltAt, &ep.FinalizedAt)
	if err != nil {
		return nil, err
	}
	ep.TotalCumulative, ep.EpochAmount = parseWei(total), parseWei(amount)
	return &ep, nil
}

// RewardEpoch returns epoch n.
func (s *Store) RewardEpoch(ctx context.Context, n int64) (*RewardEpoch, error) {
	ep, err := scanEpoch(s.pool.QueryRow(ctx, `SELECT `+epochColumns+epochFrom+`WHERE e.epoch = $1`, n))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reward epoch %d: %w", n, err)
	}
	return ep, nil
}

// RewardEpochs lists epochs, newest first.
func (s *Store) RewardEpochs(ctx context.Context, limit int) ([]*RewardEpoch, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+epochColumns+epochFrom+`ORDER BY e.epoch DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("reward epochs: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*RewardEpoch, error) { return scanEpoch(r) })
}

// epochLockID serialises epoch settlement across processes.
const epochLockID = 0x6d66_6570_6f63 // "mfepoc"

// SettleEpoch returns the epoch that is not final yet, if any; otherwise it
// opens epoch max+1 and settles every unsettled entry in it, in one
// transaction. It returns nil, nil when there is nothing to settle. Running
// it again after a crash resumes the same epoch: no entry is settled twice
// and none is skipped.
func (s *Store) SettleEpoch(ctx context.Context) (*RewardEpoch, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgxTx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, epochLockID); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT epoch FROM reward_epochs WHERE status <> 'final' ORDER BY epoch LIMIT 1`).Scan(&n)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var amount string
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0)::text FROM reward_entries WHERE epoch IS NULL`).Scan(&amount); err != nil {
			return err
		}
		if amount == "0" {
			n = 0
			return nil
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(epoch), 0) + 1 FROM reward_epochs`).Scan(&n); err != nil {
			return err
		}
		// The epoch row must exist before entries reference it; its amounts
		// are fixed right after, from the rows actually settled.
		if _, err := tx.Exec(ctx, `INSERT INTO reward_epochs (epoch, total_cumulative, epoch_amount) VALUES ($1, 0, 1)`, n); err != nil {
			return err
		}
		// The epoch's amount is summed from the rows the UPDATE settled, and
		// the running total from the previous epoch's: rescanning the whole
		// ledger twice costs seconds at a million entries.
		// CheckRewardInvariants recomputes both from the entries. Accounts
		// are counted in byte order (COLLATE "C"), much cheaper to sort than
		// the database's locale and the same set.
		_, err = tx.Exec(ctx, `
			WITH settled AS (
				UPDATE reward_entries SET epoch = $1 WHERE epoch IS NULL RETURNING amount
			)
			UPDATE reward_epochs SET
				epoch_amount = (SELECT sum(amount) FROM settled),
				total_cumulative = (SELECT sum(amount) FROM settled)
					+ coalesce((SELECT total_cumulative FROM reward_epochs WHERE epoch = $1 - 1), 0),
				account_count = (SELECT count(DISTINCT account COLLATE "C") FROM reward_entries WHERE epoch <= $1 OR epoch IS NULL)
			WHERE epoch = $1`, n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("settle epoch: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	return s.RewardEpoch(ctx, n)
}

// EpochCumulatives streams every account's cumulative total as of epoch n
// (entries settled in n or before), ordered by account.
func (s *Store) EpochCumulatives(ctx context.Context, n int64, fn func(account string, cumulative *big.Int) error) error {
	rows, err := s.pool.Query(ctx, `
		SELECT account COLLATE "C", sum(amount)::text FROM reward_entries WHERE epoch <= $1
		GROUP BY 1 ORDER BY 1`, n)
	if err != nil {
		return fmt.Errorf("cumulatives of epoch %d: %w", n, err)
	}
	defer rows.Close()
	var account, sum string
	for rows.Next() {
		if err := rows.Scan(&account, &sum); err != nil {
			return fmt.Errorf("cumulatives of epoch %d: %w", n, err)
		}
		if err := fn(account, parseWei(sum)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cumulatives of epoch %d: %w", n, err)
	}
	return nil
}

// RewardLeafSource yields the leaves of an epoch's tree one at a time, so
// that a million proofs never sit in memory at once. Next returns false at
// the end.
type RewardLeafSource interface {
	Next() bool
	Leaf() (account string, cumulative *big.Int, proof []byte, err error)
}

type leafCopy struct {
	epoch int64
	src   RewardLeafSource
	err   error
	sum   *big.Int // of the cumulative amounts sent
}

func (c *leafCopy) Next() bool { return c.src.Next() }
func (c *leafCopy) Err() error { return c.err }
func (c *leafCopy) Values() ([]any, error) {
	account, cum, proof, err := c.src.Leaf()
	if err != nil {
		c.err = err
		return nil, err
	}
	if cum == nil || cum.Sign() <= 0 || cum.Cmp(maxUint256) > 0 {
		c.err = fmt.Errorf("leaf of %s: cumulative amount %v outside (0, 2^256)", account, cum)
		return nil, c.err
	}
	c.sum.Add(c.sum, cum)
	return []any{c.epoch, account, numeric(cum), proof}, nil
}

// StoreEpochTree stores every leaf and proof of epoch n and its root, and
// moves it to built, in one transaction: a crash leaves either the whole
// tree or none of it. The leaves' cumulative amounts must add up to the
// epoch's total; otherwise nothing is stored.
func (s *Store) StoreEpochTree(ctx context.Context, n int64, root string, leaves RewardLeafSource) error {
	err := s.inTx(ctx, func(tx pgxTx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM reward_epochs WHERE epoch = $1 FOR UPDATE`, n).Scan(&status); err != nil {
			return err
		}
		if status != EpochSettled {
			return fmt.Errorf("epoch is %s: %w", status, ErrConflict)
		}
		src := &leafCopy{epoch: n, src: leaves, sum: new(big.Int)}
		count, err := tx.CopyFrom(ctx, pgx.Identifier{"reward_leaves"}, []string{"epoch", "account", "cumulative", "proof"}, src)
		if err != nil {
			return err
		}
		// The rows COPY stored are exactly those sent, so their count and sum
		// are checked here rather than by rescanning a million proofs.
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT total_cumulative = $2::numeric AND account_count = $3 FROM reward_epochs WHERE epoch = $1`,
			n, numeric(src.sum), count).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("leaves (%d, %s wei) do not add up to the epoch's settled total", count, src.sum)
		}
		_, err = tx.Exec(ctx, `UPDATE reward_epochs SET status = 'built', merkle_root = $2, built_at = now() WHERE epoch = $1`, n, root)
		return err
	})
	if err != nil {
		return fmt.Errorf("store tree of epoch %d: %w", n, err)
	}
	return nil
}

// SetEpochFundTx links the distributor top-up transaction to epoch n; an
// existing link is kept.
func (s *Store) SetEpochFundTx(ctx context.Context, n, txID int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE reward_epochs SET fund_tx_id = coalesce(fund_tx_id, $2) WHERE epoch = $1`, n, txID); err != nil {
		return fmt.Errorf("epoch %d fund tx: %w", n, err)
	}
	return nil
}

// SetEpochRootTx links the postRoot transaction to epoch n; an existing
// link is kept.
func (s *Store) SetEpochRootTx(ctx context.Context, n, txID int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE reward_epochs SET root_tx_id = coalesce(root_tx_id, $2) WHERE epoch = $1`, n, txID); err != nil {
		return fmt.Errorf("epoch %d root tx: %w", n, err)
	}
	return nil
}

// FinalizeEpoch marks built epoch n final and prunes the leaves of older
// epochs, whose proofs the distributor no longer accepts.
func (s *Store) FinalizeEpoch(ctx context.Context, n int64) error {
	err := s.inTx(ctx, func(tx pgxTx) error {
		tag, err := tx.Exec(ctx, `UPDATE reward_epochs SET status = 'final', finalized_at = now()
			WHERE epoch = $1 AND status = 'built' AND root_tx_id IS NOT NULL`, n)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("epoch is not built with a root transaction: %w", ErrConflict)
		}
		_, err = tx.Exec(ctx, `DELETE FROM reward_leaves WHERE epoch < $1`, n)
		return err
	})
	if err != nil {
		return fmt.Errorf("finalize epoch %d: %w", n, err)
	}
	return nil
}

// RewardLeaf returns account's cumulative total and proof in epoch n.
func (s *Store) RewardLeaf(ctx context.Context, n int64, account string) (*big.Int, [][32]byte, error) {
	var cum string
	var proof []byte
	err := s.pool.QueryRow(ctx, `SELECT cumulative::text, proof FROM reward_leaves WHERE epoch = $1 AND account = $2`, n, account).
		Scan(&cum, &proof)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("leaf of %s in epoch %d: %w", account, n, err)
	}
	out := make([][32]byte, len(proof)/32)
	for i := range out {
		copy(out[i][:], proof[i*32:])
	}
	return parseWei(cum), out, nil
}

// AccountEpoch is what one account earned in one epoch.
type AccountEpoch struct {
	Epoch      int64
	Status     string
	Amount     *big.Int
	BySource   map[string]*big.Int
	RootTxHash string
	At         time.Time
}

// AccountRewards is an account's view of the ledger.
type AccountRewards struct {
	Account  string
	Earned   *big.Int            // every entry
	Pending  *big.Int            // not settled in an epoch yet
	Settled  *big.Int            // settled in some epoch
	Final    *big.Int            // settled in final epochs
	BySource map[string]*big.Int // every entry, by source
	Epochs   []AccountEpoch      // newest first; Epoch 0 holds pending entries
	Claimed  *big.Int            // from the distributor's Claimed events
	Claims   []RewardClaim
}

// AccountRewards derives account's totals from the ledger and the synced
// Claimed events.
func (s *Store) AccountRewards(ctx context.Context, account string) (*AccountRewards, error) {
	ar := &AccountRewards{Account: account, Earned: new(big.Int), Pending: new(big.Int), Settled: new(big.Int),
		Final: new(big.Int), BySource: map[string]*big.Int{}, Claimed: new(big.Int)}
	rows, err := s.pool.Query(ctx, `
		SELECT coalesce(r.epoch, 0), coalesce(e.status, ''), r.source, sum(r.amount)::text, coalesce(t.tx_hash, ''),
			coalesce(e.finalized_at, e.created_at, max(r.created_at))
		FROM reward_entries r
		LEFT JOIN reward_epochs e ON e.epoch = r.epoch
		LEFT JOIN chain_txs t ON t.id = e.root_tx_id
		WHERE r.account = $1
		GROUP BY 1, 2, 3, 5, e.finalized_at, e.created_at
		ORDER BY coalesce(r.epoch, 0) = 0 DESC, coalesce(r.epoch, 0) DESC, r.source`, account)
	if err != nil {
		return nil, fmt.Errorf("rewards of %s: %w", account, err)
	}
	defer rows.Close()
	for rows.Next() {
		var epoch int64
		var status, source, sum, hash string
		var at time.Time
		if err := rows.Scan(&epoch, &status, &source, &sum, &hash, &at); err != nil {
			return nil, fmt.Errorf("rewards of %s: %w", account, err)
		}
		v := parseWei(sum)
		if len(ar.Epochs) == 0 || ar.Epochs[len(ar.Epochs)-1].Epoch != epoch {
			ar.Epochs = append(ar.Epochs, AccountEpoch{Epoch: epoch, Status: status, Amount: new(big.Int),
				BySource: map[string]*big.Int{}, RootTxHash: hash, At: at})
		}
		row := &ar.Epochs[len(ar.Epochs)-1]
		row.Amount.Add(row.Amount, v)
		row.BySource[source] = new(big.Int).Add(v, zeroIfNil(row.BySource[source]))
		ar.BySource[source] = new(big.Int).Add(v, zeroIfNil(ar.BySource[source]))
		ar.Earned.Add(ar.Earned, v)
		switch {
		case epoch == 0:
			ar.Pending.Add(ar.Pending, v)
		case status == EpochFinal:
			ar.Final.Add(ar.Final, v)
			ar.Settled.Add(ar.Settled, v)
		default:
			ar.Settled.Add(ar.Settled, v)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rewards of %s: %w", account, err)
	}
	if ar.Claims, err = s.RewardClaims(ctx, account); err != nil {
		return nil, err
	}
	for _, c := range ar.Claims {
		ar.Claimed.Add(ar.Claimed, c.Amount)
	}
	return ar, nil
}

func zeroIfNil(v *big.Int) *big.Int {
	if v == nil {
		return new(big.Int)
	}
	return v
}

// RewardClaim is one Claimed event of the distributor.
type RewardClaim struct {
	TxHash      string
	LogIndex    int
	Account     string
	Amount      *big.Int
	Cumulative  *big.Int
	Epoch       int64
	BlockNumber uint64
}

// RewardClaims lists account's claims, newest first.
func (s *Store) RewardClaims(ctx context.Context, account string) ([]RewardClaim, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT tx_hash, log_index, account, amount::text, cumulative::text, epoch, block_number
		FROM reward_claims WHERE account = $1 ORDER BY block_number DESC, log_index DESC`, account)
	if err != nil {
		return nil, fmt.Errorf("claims of %s: %w", account, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (RewardClaim, error) {
		var c RewardClaim
		var amount, cum string
		var block int64
		err := r.Scan(&c.TxHash, &c.LogIndex, &c.Account, &amount, &cum, &c.Epoch, &block)
		c.Amount, c.Cumulative, c.BlockNumber = parseWei(amount), parseWei(cum), uint64(block)
		return c, err
	})
}

// ClaimedTotal is the sum of every synced Claimed event.
func (s *Store) ClaimedTotal(ctx context.Context) (*big.Int, error) {
	var sum string
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(amount), 0)::text FROM reward_claims`).Scan(&sum); err != nil {
		return nil, fmt.Errorf("claimed total: %w", err)
	}
	return parseWei(sum), nil
}

// ChainCursor returns the last block an event scanner named name has read.
func (s *Store) ChainCursor(ctx context.Context, name string) (block uint64, found bool, err error) {
	var b int64
	err = s.pool.QueryRow(ctx, `SELECT block FROM chain_cursors WHERE name = $1`, name).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("chain cursor %s: %w", name, err)
	}
	return uint64(b), true, nil
}

// RecordClaims stores Claimed events read up to block toBlock and moves the
// cursor there, in one transaction. Events already stored are skipped, so
// overlapping scans are harmless.
func (s *Store) RecordClaims(ctx context.Context, cursor string, toBlock uint64, claims []RewardClaim) error {
	err := s.inTx(ctx, func(tx pgxTx) error {
		for _, c := range claims {
			if _, err := tx.Exec(ctx, `
				INSERT INTO reward_claims (tx_hash, log_index, account, amount, cumulative, epoch, block_number)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
				c.TxHash, c.LogIndex, c.Account, numeric(c.Amount), numeric(c.Cumulative), c.Epoch, int64(c.BlockNumber)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO chain_cursors (name, block) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET block = greatest(chain_cursors.block, EXCLUDED.block), updated_at = now()`,
			cursor, int64(toBlock))
		return err
	})
	if err != nil {
		return fmt.Errorf("record claims: %w", err)
	}
	return nil
}

// CheckRewardInvariants verifies the ledger: every epoch's totals equal
// the sums of its entries, every stored tree's leaves add up to the epoch's
// total, and no final epoch lacks a root transaction. It returns an error
// naming the first violation.
func (s *Store) CheckRewardInvariants(ctx context.Context) error {
	var bad int64
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM reward_epochs e
		WHERE e.epoch_amount <> (SELECT coalesce(sum(amount), 0) FROM reward_entries WHERE epoch = e.epoch)
		   OR e.total_cumulative <> (SELECT coalesce(sum(amount), 0) FROM reward_entries WHERE epoch <= e.epoch)`).Scan(&bad)
	if err != nil {
		return fmt.Errorf("check reward invariants: %w", err)
	}
	if bad > 0 {
		return fmt.Errorf("reward invariants: %d epochs whose totals differ from their entries", bad)
	}
	err = s.pool.QueryRow(ctx, `
		SELECT count(*) FROM reward_epochs e
		WHERE e.status <> 'settled' AND EXISTS (SELECT 1 FROM reward_leaves WHERE epoch = e.epoch)
		  AND e.total_cumulative <> (SELECT sum(cumulative) FROM reward_leaves WHERE epoch = e.epoch)`).Scan(&bad)
	if err != nil {
		return fmt.Errorf("check reward invariants: %w", err)
	}
	if bad > 0 {
		return fmt.Errorf("reward invariants: %d epochs whose leaves differ from their totals", bad)
	}
	return nil
}
