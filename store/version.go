package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Version is an immutable, published snapshot of a Datanet's accepted
// records.
type Version struct {
	ID         int64
	DatanetID  int64
	Version    int
	Records    int64
	Chars      int64
	Tokens     int64
	MerkleRoot string
	Shares     []Share
	CreatedBy  string
	CreatedAt  time.Time
	AnchorTx   string
}

// MerkleRoot computes the root over record hashes (0x-hex); the store
// passes the hashes sorted.
type MerkleRoot func(hashes []string) (string, error)

// ErrNothingToPublish means there are no accepted records.
var ErrNothingToPublish = errors.New("no accepted records to publish")

// PublishVersion snapshots the Datanet's accepted records as the next
// version, with contributor shares and a Merkle root, in one transaction.
// Concurrent publishes are serialised on the Datanet row.
func (s *Store) PublishVersion(ctx context.Context, a Actor, slug string, root MerkleRoot) (*Version, error) {
	d, acc, err := s.VisibleDatanet(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if !acc.Review {
		return nil, ErrForbidden
	}
	if d.Status != DatanetPublished {
		return nil, &ValidationError{Fields: map[string]string{"status": "Publish the Datanet before publishing versions of it."}}
	}
	var versionID int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM datanets WHERE id = $1 FOR UPDATE`, d.ID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT hash FROM records WHERE datanet_id = $1 AND status = 'accepted' ORDER BY hash`, d.ID)
		if err != nil {
			return err
		}
		hashes, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(hashes) == 0 {
			return ErrNothingToPublish
		}
		r, err := root(hashes)
		if err != nil {
			return fmt.Errorf("merkle root: %w", err)
		}
		var next int
		var chars int64
		var lastRoot string
		if err := tx.QueryRow(ctx, `
			SELECT coalesce(max(version), 0) + 1,
			       coalesce((SELECT merkle_root FROM datanet_versions WHERE datanet_id = $1 ORDER BY version DESC LIMIT 1), '')
			FROM datanet_versions WHERE datanet_id = $1`, d.ID).Scan(&next, &lastRoot); err != nil {
			return err
		}
		if r == lastRoot {
			return &ValidationError{Fields: map[string]string{"version": fmt.Sprintf("Nothing changed since version %d: accept new records first.", next-1)}}
		}
		srows, err := tx.Query(ctx, `
			SELECT u.address, count(*), sum(r.chars) FROM records r JOIN users u ON u.id = r.contributor_id
			WHERE r.datanet_id = $1 AND r.status = 'accepted' GROUP BY u.address ORDER BY count(*) DESC, u.address`, d.ID)
		if err != nil {
			return err
		}
		var shares []Share
		var c int64
		var sh Share
		if _, err := pgx.ForEachRow(srows, []any{&sh.Address, &sh.Records, &c}, func() error {
			chars += c
			shares = append(shares, sh)
			return nil
		}); err != nil {
			return err
		}
		for i := range shares {
			shares[i].ShareBps = shares[i].Records * 10000 / int64(len(hashes))
		}
		sj, _ := json.Marshal(shares)
		// Tokens are estimated at 4 characters each (the GPT-2 family
		// average on English text) until a model's own tokenizer counts them.
		if err := tx.QueryRow(ctx, `
			INSERT INTO datanet_versions (datanet_id, version, record_count, char_count, token_count, merkle_root, shares, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			d.ID, next, len(hashes), chars, (chars+3)/4, r, sj, a.UserID).Scan(&versionID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO version_records (version_id, leaf_index, record_id, hash)
			SELECT $1, (row_number() OVER (ORDER BY hash)) - 1, id, hash
			FROM records WHERE datanet_id = $2 AND status = 'accepted'`, versionID, d.ID); err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "version.publish", "datanet", slug, nil,
			map[string]any{"version": next, "records": len(hashes), "merkleRoot": r}, "")
	})
	var ve *ValidationError
	if errors.As(err, &ve) {
		return nil, ve
	}
	if err != nil {
		if errors.Is(err, ErrNothingToPublish) {
			return nil, &ValidationError{Fields: map[string]string{"version": "There are no accepted records yet: accept a contribution first."}}
		}
		return nil, fmt.Errorf("publish version of %s: %w", slug, err)
	}
	vs, err := s.Versions(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	for i := range vs {
		if vs[i].ID == versionID {
			return &vs[i], nil
		}
	}
	return nil, ErrNotFound
}

// Versions lists a Datanet's versions, newest first.
func (s *Store) Versions(ctx context.Context, datanetID int64) ([]Version, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT v.id, v.datanet_id, v.version, v.record_count, v.char_count, v.token_count, v.merkle_root, v.shares,
		       u.address, v.created_at, coalesce(v.anchor_tx, '')
		FROM datanet_versions v JOIN users u ON u.id = v.created_by
		WHERE v.datanet_id = $1 ORDER BY v.version DESC`, datanetID)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Version, error) {
		var v Version
		var shares []byte
		if err := r.Scan(&v.ID, &v.DatanetID, &v.Version, &v.Records, &v.Chars, &v.Tokens, &v.MerkleRoot, &shares, &v.CreatedBy, &v.CreatedAt, &v.AnchorTx); err != nil {
			return v, err
		}
		return v, json.Unmarshal(shares, &v.Shares)
	})
}

// VersionByNumber returns one version of a Datanet.
func (s *Store) VersionByNumber(ctx context.Context, datanetID int64, number int) (*Version, error) {
	vs, err := s.Versions(ctx, datanetID)
	if err != nil {
		return nil, err
	}
	for i := range vs {
		if vs[i].Version == number {
			return &vs[i], nil
		}
	}
	return nil, ErrNotFound
}

// VersionHashes returns a version's record hashes in leaf order (sorted).
func (s *Store) VersionHashes(ctx context.Context, versionID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT hash FROM version_records WHERE version_id = $1 ORDER BY leaf_index`, versionID)
	if err != nil {
		return nil, fmt.Errorf("version hashes: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ExportRow is one record of a version export.
type ExportRow struct {
	Hash        string
	Canonical   string
	Contributor string
}

// ExportVersion streams a version's records in leaf order to fn. A record
// moderators removed keeps its place and hash (so the version's Merkle
// proofs still verify) but its content is withheld: Canonical is
// {"removed":true}.
func (s *Store) ExportVersion(ctx context.Context, versionID int64, fn func(ExportRow) error) error {
	rows, err := s.pool.Query(ctx, `
		SELECT r.hash, CASE WHEN r.status = 'removed' THEN '{"removed":true}' ELSE r.canonical END, u.address FROM version_records vr
		JOIN records r ON r.id = vr.record_id JOIN users u ON u.id = r.contributor_id
		WHERE vr.version_id = $1 ORDER BY vr.leaf_index`, versionID)
	if err != nil {
		return fmt.Errorf("export version: %w", err)
	}
	var row ExportRow
	_, err = pgx.ForEachRow(rows, []any{&row.Hash, &row.Canonical, &row.Contributor}, func() error { return fn(row) })
	if err != nil {
		return fmt.Errorf("export version: %w", err)
	}
	return nil
}
