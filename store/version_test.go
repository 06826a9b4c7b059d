package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/modelfactory/modelfactory/store"
)

// TestVersionRecordsCannotBeDeleted: a record that belongs to a published
// version cannot be deleted (the version_records rows are copied without a
// per-row foreign key; a trigger on records guards the delete instead),
// while a record outside every version can.
func TestVersionRecordsCannotBeDeleted(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	if _, res, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{record(1, "first", 1), record(2, "second", 2)}}); err != nil || res.Accepted != 2 {
		t.Fatalf("ingest = %+v, %v", res, err)
	}
	root := func(hashes []string) (string, error) { return hashes[0], nil }
	v, err := f.s.PublishVersion(ctx, f.owner, d.Slug, root)
	if err != nil || v.Records != 2 {
		t.Fatalf("publish = %+v, %v", v, err)
	}
	hashes, err := f.s.VersionHashes(ctx, v.ID)
	if err != nil || len(hashes) != 2 || hashes[0] >= hashes[1] {
		t.Fatalf("version hashes = %v, %v", hashes, err)
	}
	// A record added after the version is not part of it.
	if _, res, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{record(1, "third", 3)}}); err != nil || res.Accepted != 1 {
		t.Fatalf("ingest = %+v, %v", res, err)
	}
	_, err = f.s.Pool().Exec(ctx, `DELETE FROM records WHERE hash = $1`, hashes[0])
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23503" {
		t.Fatalf("deleting a versioned record: %v, want a foreign-key violation", err)
	}
	third := record(1, "third", 3)
	tag, err := f.s.Pool().Exec(ctx, `DELETE FROM records WHERE hash = $1`, third.Hash)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("deleting an unversioned record: %v %v", tag, err)
	}
	if got, err := f.s.VersionHashes(ctx, v.ID); err != nil || len(got) != 2 {
		t.Fatalf("version changed: %v %v", got, err)
	}
}
