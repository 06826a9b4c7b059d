package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// UnanchoredVersion is a published Datanet version whose anchoring
// transaction has not been recorded yet.
type UnanchoredVersion struct {
	ID         int64 // datanet_versions.id
	DatanetID  int64
	Slug       string
	Version    int
	MerkleRoot string // 0x-hex bytes32
	Records    int64
}

// AnchorIntentKey is the journal key of version id's anchoring
// transaction.
func AnchorIntentKey(versionID int64) string { return fmt.Sprintf("anchor:version:%d", versionID) }

// UnanchoredVersions lists up to limit published versions without an
// anchor transaction, oldest first; versions whose anchoring transaction
// failed come after all others, so that they never starve new ones.
func (s *Store) UnanchoredVersions(ctx context.Context, limit int) ([]UnanchoredVersion, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT v.id, v.datanet_id, d.slug, v.version, v.merkle_root, v.record_count
		FROM datanet_versions v JOIN datanets d ON d.id = v.datanet_id
		LEFT JOIN chain_txs t ON t.intent_key = 'anchor:version:' || v.id
		WHERE v.anchor_tx IS NULL
		ORDER BY coalesce(t.status = 'failed', false), v.id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("unanchored versions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (UnanchoredVersion, error) {
		var v UnanchoredVersion
		err := r.Scan(&v.ID, &v.DatanetID, &v.Slug, &v.Version, &v.MerkleRoot, &v.Records)
		return v, err
	})
}

// SetVersionAnchorTx records the transaction that anchored version id. A
// recorded anchor is never replaced: the registry is write-once, so the
// first confirmed transaction is the anchor.
func (s *Store) SetVersionAnchorTx(ctx context.Context, versionID int64, txHash string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE datanet_versions SET anchor_tx = $2 WHERE id = $1 AND anchor_tx IS NULL`, versionID, txHash)
	if err != nil {
		return fmt.Errorf("anchor tx of version %d: %w", versionID, err)
	}
	if tag.RowsAffected() == 0 {
		var cur string
		if err := s.pool.QueryRow(ctx, `SELECT coalesce(anchor_tx, '') FROM datanet_versions WHERE id = $1`, versionID).Scan(&cur); err != nil {
			return fmt.Errorf("anchor tx of version %d: %w", versionID, err)
		}
		if cur != txHash {
			return fmt.Errorf("anchor tx of version %d: already anchored by %s: %w", versionID, cur, ErrConflict)
		}
	}
	return nil
}
