package store_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/modelfactory/modelfactory/migrations"
	"github.com/modelfactory/modelfactory/store"
)

// TestRecordIndexMigrationKeepsData: migrations 00017 and 00018 move a
// populated Datanet's search vectors and band keys out of records and back
// (down), and a record written under the old schema is searchable and
// carries its band keys after the upgrade.
func TestRecordIndexMigrationKeepsData(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	r1 := record(1, "Harbour pilots guide ships through the channel", 51)
	r1.Bands = []int64{51, 52}
	if _, res, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{r1}}); err != nil || res.Accepted != 1 {
		t.Fatalf("ingest = %+v, %v", res, err)
	}
	db := stdlib.OpenDBFromPool(f.s.Pool())
	defer db.Close()
	sub, err := fs.Sub(migrations.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.DownTo(ctx, 16); err != nil {
		t.Fatalf("down to 16: %v", err)
	}
	// Under the old schema: the record kept its fields, vector and keys,
	// and a new one gets its vector from the insert trigger.
	var c1 int64
	var fieldsOK, searchOK bool
	if err := f.s.Pool().QueryRow(ctx, `SELECT contribution_id, fields = canonical::jsonb, search = to_tsvector('english', fields)
		FROM records WHERE datanet_id = $1 AND bands = '{51,52}'`, d.ID).Scan(&c1, &fieldsOK, &searchOK); err != nil || !fieldsOK || !searchOK {
		t.Fatalf("record after down: fields %v, search %v, %v", fieldsOK, searchOK, err)
	}
	r2 := record(2, "Tugboats push tankers against the tide", 61)
	if _, err := f.s.Pool().Exec(ctx, `
		INSERT INTO records (datanet_id, contribution_id, contributor_id, hash, canonical, fields, chars, line, status, bands)
		SELECT datanet_id, contribution_id, contributor_id, $2::text, $3::text, $3::text::jsonb, 10, 2, 'accepted', '{61,62}' FROM records WHERE contribution_id = $1 LIMIT 1`,
		c1, r2.Hash, r2.Canonical); err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	var indexed, keyed, right int
	if err := f.s.Pool().QueryRow(ctx, `
		SELECT count(x.record_id), count(k.record_id),
		       count(*) FILTER (WHERE x.search = to_tsvector('english', r.canonical::jsonb) AND x.status = r.status AND k.bands = r.bands)
		FROM records r LEFT JOIN record_index x ON x.record_id = r.id LEFT JOIN record_band_keys k ON k.record_id = r.id
		WHERE r.datanet_id = $1`, d.ID).Scan(&indexed, &keyed, &right); err != nil {
		t.Fatal(err)
	}
	if indexed != 2 || keyed != 2 || right != 2 {
		t.Fatalf("after the upgrade: %d indexed, %d with keys, %d right; want 2 each", indexed, keyed, right)
	}
	for q, want := range map[string]int64{"tankers": 1, "pilots": 1, "ships": 1} {
		if _, n, err := f.s.SearchRecords(ctx, d.ID, q, 10, 0); err != nil || n != want {
			t.Fatalf("search %q after the upgrade = %d, %v", q, n, err)
		}
	}
}
