package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
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
		// One scan of the accepted records gives everything: the leaves
		// (sorted here rather than by PostgreSQL), the shares and the
		// character count. The leaf rows are then copied in leaf order.
		leaves, byContributor, err := versionLeaves(ctx, tx, d.ID)
		if err != nil {
			return err
		}
		if len(leaves) == 0 {
			return ErrNothingToPublish
		}
		hashes := make([]string, len(leaves))
		for i := range leaves {
			hashes[i] = leaves[i].hash
		}
		r, err := root(hashes)
		if err != nil {
			return fmt.Errorf("merkle root: %w", err)
		}
		var next int
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
		shares, chars, err := versionShares(ctx, tx, byContributor, int64(len(leaves)))
		if err != nil {
			return err
		}
		sj, _ := json.Marshal(shares)
		// Tokens are estimated at 4 characters each (the GPT-2 family
		// average on English text) until a model's own tokenizer counts them.
		if err := tx.QueryRow(ctx, `
			INSERT INTO datanet_versions (datanet_id, version, record_count, char_count, token_count, merkle_root, shares, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			d.ID, next, len(leaves), chars, (chars+3)/4, r, sj, a.UserID).Scan(&versionID); err != nil {
			return err
		}
		i := 0
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"version_records"}, []string{"version_id", "leaf_index", "record_id", "hash"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(leaves) {
					return nil, nil
				}
				l := leaves[i]
				i++
				return []any{versionID, i - 1, l.id, l.hash}, nil
			})); err != nil {
			return fmt.Errorf("version records: %w", err)
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

// versionLeaf is one record of a version being published.
type versionLeaf struct {
	hash string
	id   int64
}

// contributorTally counts one contributor's records in a version.
type contributorTally struct{ records, chars int64 }

// versionLeaves reads a Datanet's accepted records as leaves sorted by hash
// (lower-case hex sorts like the bytes it encodes, so this is the Merkle
// tree's leaf order) and tallies them by contributor.
func versionLeaves(ctx context.Context, tx pgx.Tx, datanetID int64) ([]versionLeaf, map[int64]contributorTally, error) {
	rows, err := tx.Query(ctx, `SELECT id, hash, contributor_id, chars FROM records WHERE datanet_id = $1 AND status = 'accepted'`, datanetID)
	if err != nil {
		return nil, nil, err
	}
	var leaves []versionLeaf
	tally := map[int64]contributorTally{}
	var l versionLeaf
	var contributor, chars int64
	if _, err := pgx.ForEachRow(rows, []any{&l.id, &l.hash, &contributor, &chars}, func() error {
		leaves = append(leaves, l)
		t := tally[contributor]
		t.records++
		t.chars += chars
		tally[contributor] = t
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("version leaves: %w", err)
	}
	slices.SortFunc(leaves, func(a, b versionLeaf) int { return strings.Compare(a.hash, b.hash) })
	return leaves, tally, nil
}

// versionShares turns the tally into shares, largest first (ties by
// address), and sums the characters.
func versionShares(ctx context.Context, tx pgx.Tx, tally map[int64]contributorTally, total int64) ([]Share, int64, error) {
	ids := make([]int64, 0, len(tally))
	counts := make([]int64, 0, len(tally))
	var chars int64
	for id, t := range tally {
		ids, counts = append(ids, id), append(counts, t.records)
		chars += t.chars
	}
	rows, err := tx.Query(ctx, `
		SELECT u.address, t.records FROM unnest($1::bigint[], $2::bigint[]) AS t(id, records)
		JOIN users u ON u.id = t.id ORDER BY t.records DESC, u.address`, ids, counts)
	if err != nil {
		return nil, 0, err
	}
	shares, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Share, error) {
		var sh Share
		err := r.Scan(&sh.Address, &sh.Records)
		sh.ShareBps = sh.Records * 10000 / total
		return sh, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("version shares: %w", err)
	}
	return shares, chars, nil
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
	// Removed is set for a record moderators removed: Canonical is then
	// {"removed":true} and holds no content (training must skip it).
	Removed bool
}

// removedExport is what an export shows instead of a removed record's
// content.
const removedExport = `{"removed":true}`

// ExportVersion streams a version's records in leaf order to fn. A record
// moderators removed keeps its place and hash (so the version's Merkle
// proofs still verify) but its content is withheld: Canonical is
// {"removed":true}.
func (s *Store) ExportVersion(ctx context.Context, versionID int64, fn func(ExportRow) error) error {
	rows, err := s.pool.Query(ctx, `
		SELECT r.hash, CASE WHEN r.status = 'removed' THEN $2 ELSE r.canonical END, u.address FROM version_records vr
		JOIN records r ON r.id = vr.record_id JOIN users u ON u.id = r.contributor_id
		WHERE vr.version_id = $1 ORDER BY vr.leaf_index`, versionID, removedExport)
	if err != nil {
		return fmt.Errorf("export version: %w", err)
	}
	var row ExportRow
	_, err = pgx.ForEachRow(rows, []any{&row.Hash, &row.Canonical, &row.Contributor}, func() error {
		row.Removed = row.Canonical == removedExport
		return fn(row)
	})
	if err != nil {
		return fmt.Errorf("export version: %w", err)
	}
	return nil
}
