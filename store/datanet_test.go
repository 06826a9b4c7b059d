package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/store"
)

type fixture struct {
	s                                       *store.Store
	owner, contributor, stranger, requester store.Actor
	admin                                   store.Actor
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, ctx := newStore(t), context.Background()
	f := &fixture{s: s}
	for i, a := range []*store.Actor{&f.owner, &f.contributor, &f.stranger, &f.requester, &f.admin} {
		u, err := s.UpsertUser(ctx, fmt.Sprintf("0x%040x", i+1))
		if err != nil {
			t.Fatal(err)
		}
		*a = store.Actor{UserID: u.ID, Address: u.Address}
	}
	f.admin.Admin = true
	return f
}

func (f *fixture) datanet(t *testing.T, visibility, policy string) *store.Datanet {
	t.Helper()
	ctx := context.Background()
	d, err := f.s.CreateDatanet(ctx, f.owner, store.DatanetInput{Name: "Medical QA " + visibility + policy, Summary: "Questions",
		Tags: []string{"Health", "qa"}, License: "CC-BY-4.0", Schema: store.SchemaInstruction, Visibility: visibility, ContributionPolicy: policy})
	if err != nil {
		t.Fatal(err)
	}
	d, err = f.s.PublishDatanet(ctx, f.owner, d.Slug)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func noJob(context.Context, pgx.Tx, int64) error { return nil }

// recs is a RecordSource over fixed records; failAt > 0 makes it fail
// after that many records, like a parser hitting garbage mid-file.
type recs struct {
	list   []store.IngestRecord
	i      int
	failAt int
	err    error
}

func (r *recs) Next() bool {
	if r.failAt > 0 && r.i == r.failAt {
		r.err = errors.New("garbage at line 3")
		return false
	}
	r.i++
	return r.i <= len(r.list)
}
func (r *recs) Record() store.IngestRecord { return r.list[r.i-1] }
func (r *recs) Err() error                 { return r.err }

func record(line int, text string, sig byte) store.IngestRecord {
	canonical := fmt.Sprintf(`{"instruction":%q,"response":"ok"}`, text)
	testSignatures.Store(canonical, sig)
	sum := sha256.Sum256([]byte(canonical))
	return store.IngestRecord{Line: line, Hash: "0x" + hex.EncodeToString(sum[:]), Canonical: canonical,
		Fields: map[string]string{"instruction": text, "response": "ok"}, Chars: len(text) + 2,
		Bands: []int64{int64(sig)}}
}

// testSignatures maps a record's text to the signature byte record gave
// it (the tests give a text the same byte every time).
var testSignatures sync.Map

// sameByte says two records whose signature bytes are equal are nearly
// identical documents.
func sameByte(a, b string) float64 {
	sa, okA := testSignatures.Load(a)
	sb, okB := testSignatures.Load(b)
	if okA && okB && sa == sb {
		return 0.9
	}
	return 0
}

func (f *fixture) contribute(t *testing.T, a store.Actor, slug string, src *recs) (*store.Contribution, store.IngestResult, error) {
	t.Helper()
	ctx := context.Background()
	c, err := f.s.CreateContribution(ctx, a, slug, store.ContributionInput{Source: "api", Filename: "x.jsonl"}, noJob)
	if err != nil {
		return nil, store.IngestResult{}, err
	}
	if _, ok, err := f.s.StartIngest(ctx, c.ID); err != nil || !ok {
		t.Fatalf("start ingest: %v %v", ok, err)
	}
	res, err := f.s.CommitIngest(ctx, c.ID, src, func() store.ParseReport { return store.ParseReport{} }, sameByte, nil)
	return c, res, err
}

func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	public := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	perm := f.datanet(t, store.VisibilityPermissioned, store.PolicyOpen)
	private := f.datanet(t, store.VisibilityPrivate, store.PolicyOpen)
	draft, _ := f.s.CreateDatanet(ctx, f.owner, store.DatanetInput{Name: "Draft set", License: "MIT", Schema: store.SchemaDocuments,
		Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyOpen})

	check := func(who string, a store.Actor, d *store.Datanet, see, read, contribute, review bool) {
		t.Helper()
		acc, err := f.s.AccessFor(ctx, a, d)
		if err != nil {
			t.Fatal(err)
		}
		if acc.See != see || acc.Read != read || acc.Contribute != contribute || acc.Review != review {
			t.Errorf("%s on %s: %+v, want see=%v read=%v contribute=%v review=%v", who, d.Slug, acc, see, read, contribute, review)
		}
	}
	check("owner", f.owner, private, true, true, true, true)
	check("admin", f.admin, private, true, true, true, true)
	check("stranger", f.stranger, public, true, true, true, false)
	check("stranger", f.stranger, perm, true, false, false, false)
	check("stranger", f.stranger, private, false, false, false, false)
	check("stranger", f.stranger, draft, false, false, false, false)
	check("anonymous", store.Actor{}, public, false, false, false, false)

	// Private Datanets do not leak: 404, not 403.
	if _, _, err := f.s.VisibleDatanet(ctx, f.stranger, private.Slug); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stranger sees private: %v", err)
	}
	// Permissioned: request → approve with expiry → read; expiry passes → no read.
	if _, err := f.s.RequestAccess(ctx, f.requester, perm.Slug, "short"); err == nil {
		t.Error("too-short purpose accepted")
	}
	req, err := f.s.RequestAccess(ctx, f.requester, perm.Slug, "Fine-tune a triage assistant")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.RequestAccess(ctx, f.requester, perm.Slug, "Another reason for the same"); err == nil {
		t.Error("second pending request accepted")
	}
	check("pending requester", f.requester, perm, true, false, false, false)
	if _, err := f.s.DecideAccess(ctx, f.stranger, req.ID, true, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stranger decided a request: %v", err)
	}
	soon := time.Now().Add(400 * time.Millisecond)
	if _, err := f.s.DecideAccess(ctx, f.owner, req.ID, true, &soon); err != nil {
		t.Fatal(err)
	}
	check("approved requester", f.requester, perm, true, true, true, false)
	if _, err := f.s.DecideAccess(ctx, f.owner, req.ID, false, nil); err == nil {
		t.Error("request decided twice")
	}
	time.Sleep(500 * time.Millisecond)
	check("expired grant", f.requester, perm, true, false, false, false)

	// Contributions follow access.
	if _, _, err := f.contribute(t, f.stranger, perm.Slug, &recs{}); !errors.Is(err, store.ErrForbidden) {
		t.Errorf("stranger contributed to permissioned: %v", err)
	}
	// Every access decision is in the audit log.
	log, err := f.s.AuditLog(ctx, "datanet", perm.Slug, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action)
	}
	if len(actions) < 3 || actions[0] != "access.approved" || actions[1] != "access.request" {
		t.Errorf("audit actions = %v", actions)
	}
}

func TestIngestAllOrNothingAndDuplicates(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)

	// A parser failure mid-file keeps nothing.
	c, _, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{record(1, "a", 1), record(2, "b", 2), record(3, "c", 3)}, failAt: 2})
	if err == nil {
		t.Fatal("failed source committed")
	}
	if err := f.s.FailIngest(ctx, c.ID, 1, []store.Problem{{Line: 3, Reason: "garbage"}}); err != nil {
		t.Fatal(err)
	}
	got, _ := f.s.ContributionByID(ctx, c.ID)
	if got.Status != store.ContribFailed || got.Accepted != 0 || len(got.Problems) != 1 {
		t.Fatalf("failed contribution = %+v", got)
	}
	if n := mustCount(t, f.s, d.Slug); n != 0 {
		t.Fatalf("%d records kept from a failed ingest", n)
	}

	// A clean file is accepted whole.
	_, res, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{record(1, "a", 1), record(2, "b", 2)}})
	if err != nil || res.Accepted != 2 || res.Status != store.ContribAccepted {
		t.Fatalf("ingest = %+v, %v", res, err)
	}
	// Exact duplicates are dropped and reported by line; a near-duplicate
	// (same signature byte) is flagged against the older record.
	c2, res, err := f.contribute(t, f.stranger, d.Slug, &recs{list: []store.IngestRecord{record(1, "a", 1), record(2, "a slightly changed", 2)}})
	if err != nil || res.Accepted != 1 || res.Duplicates != 1 || res.NearDups != 1 {
		t.Fatalf("second ingest = %+v, %v", res, err)
	}
	got, _ = f.s.ContributionByID(ctx, c2.ID)
	if len(got.Problems) != 1 || got.Problems[0].Line != 1 {
		t.Fatalf("duplicate not reported by line: %+v", got.Problems)
	}
	recsOf, _ := f.s.ContributionRecords(ctx, c2.ID, 10, 0)
	if len(recsOf) != 1 || recsOf[0].NearDupOf == "" || recsOf[0].NearDupScore < 0.8 || recsOf[0].NearDupFields["instruction"] != "b" {
		t.Fatalf("near duplicate not flagged: %+v", recsOf)
	}
	// Re-running the job on a final contribution does nothing.
	if _, ok, _ := f.s.StartIngest(ctx, c2.ID); ok {
		t.Fatal("final contribution restarted")
	}
	// A late, failing duplicate run cannot wipe what another run committed.
	if err := f.s.FailIngest(ctx, c2.ID, 0, []store.Problem{{Reason: "late"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.ContributionByID(ctx, c2.ID); got.Status != store.ContribAccepted || got.Accepted != 1 {
		t.Fatalf("late failure changed a final contribution: %+v", got)
	}
	if n := mustCount(t, f.s, d.Slug); n != 3 {
		t.Fatalf("records after a late failure = %d, want 3", n)
	}
}

func mustCount(t *testing.T, s *store.Store, slug string) int64 {
	t.Helper()
	d, err := s.DatanetBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return d.Records
}

func TestReviewAndVersions(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyReview)
	c, res, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{record(1, "a", 1), record(2, "b", 2)}})
	if err != nil || res.Status != store.ContribInReview {
		t.Fatalf("review-policy ingest = %+v, %v", res, err)
	}
	if n := mustCount(t, f.s, d.Slug); n != 0 {
		t.Fatalf("records visible before review: %d", n)
	}
	if _, err := f.s.ReviewContribution(ctx, f.contributor, c.ID, true, ""); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("contributor reviewed own work: %v", err)
	}
	if _, err := f.s.ReviewContribution(ctx, f.owner, c.ID, false, ""); err == nil {
		t.Fatal("rejection without reason accepted")
	}
	root := func(h []string) (string, error) { return "0x" + fmt.Sprintf("%064x", len(h)), nil }
	if _, err := f.s.PublishVersion(ctx, f.owner, d.Slug, root); err == nil {
		t.Fatal("published a version with no accepted records")
	}
	if _, err := f.s.ReviewContribution(ctx, f.owner, c.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	v1, err := f.s.PublishVersion(ctx, f.owner, d.Slug, root)
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || v1.Records != 2 || len(v1.Shares) != 1 || v1.Shares[0].ShareBps != 10000 {
		t.Fatalf("version = %+v", v1)
	}
	// A rejected contribution frees its hashes and adds nothing.
	c2, _, _ := f.contribute(t, f.stranger, d.Slug, &recs{list: []store.IngestRecord{record(1, "z", 9)}})
	if _, err := f.s.ReviewContribution(ctx, f.owner, c2.ID, false, "Off-topic for this Datanet"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.ContributionByID(ctx, c2.ID); got.ReviewReason != "Off-topic for this Datanet" || got.Status != store.ContribRejected {
		t.Fatalf("rejected = %+v", got)
	}
	// Nothing new was accepted: the same records make the same root, and a
	// second identical version is refused.
	var ve *store.ValidationError
	if _, err := f.s.PublishVersion(ctx, f.owner, d.Slug, root); !errors.As(err, &ve) {
		t.Fatalf("identical version published: %v", err)
	}
	c3, _, _ := f.contribute(t, f.stranger, d.Slug, &recs{list: []store.IngestRecord{record(1, "new", 11)}})
	if _, err := f.s.ReviewContribution(ctx, f.owner, c3.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	v2, err := f.s.PublishVersion(ctx, f.owner, d.Slug, root)
	if err != nil || v2.Version != 2 || v2.Records != 3 || len(v2.Shares) != 2 {
		t.Fatalf("v2 = %+v, %v", v2, err)
	}
	// Versions are immutable in the database itself.
	if _, err := f.s.Pool().Exec(ctx, `UPDATE datanet_versions SET record_count = 99 WHERE id = $1`, v1.ID); err == nil {
		t.Fatal("a published version was changed")
	}
	if _, err := f.s.Pool().Exec(ctx, `DELETE FROM version_records WHERE version_id = $1`, v1.ID); err == nil {
		t.Fatal("a version's records were deleted")
	}
	if _, err := f.s.Pool().Exec(ctx, `UPDATE audit_log SET reason = 'x'`); err == nil {
		t.Fatal("audit log was updated")
	}
	hashes, _ := f.s.VersionHashes(ctx, v1.ID)
	if len(hashes) != 2 || hashes[0] > hashes[1] {
		t.Fatalf("version hashes not sorted: %v", hashes)
	}
}

func TestDatanetValidationAndSearch(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	_, err := f.s.CreateDatanet(ctx, f.owner, store.DatanetInput{Name: "x", License: "WTFPL", Schema: "tabular",
		Visibility: "secret", ContributionPolicy: "open"})
	var ve *store.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) < 4 {
		t.Fatalf("validation = %v", err)
	}
	_, err = f.s.CreateDatanet(ctx, f.owner, store.DatanetInput{Name: "Sentiment", License: "MIT", Schema: store.SchemaClassification,
		Labels: []string{"pos"}, Visibility: "public", ContributionPolicy: "open"})
	if !errors.As(err, &ve) || ve.Fields["labels"] == "" {
		t.Fatalf("one-label classification accepted: %v", err)
	}
	a := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	b := f.datanet(t, store.VisibilityPublic, store.PolicyReview)
	if a.Slug == b.Slug {
		t.Fatal("slug collision")
	}
	list, total, err := f.s.ListDatanets(ctx, f.stranger, store.DatanetQuery{Q: "medical questions", Tag: "health"})
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("search = %d %d %v", total, len(list), err)
	}
	if _, total, _ := f.s.ListDatanets(ctx, f.stranger, store.DatanetQuery{Q: "astronomy"}); total != 0 {
		t.Fatalf("unrelated search found %d", total)
	}
	// Published schema is locked.
	in := store.DatanetInput{Name: a.Name, License: "MIT", Schema: store.SchemaDocuments, Visibility: "public", ContributionPolicy: "open"}
	if _, err := f.s.UpdateDatanet(ctx, f.owner, a.Slug, in); !errors.As(err, &ve) || ve.Fields["schema"] == "" {
		t.Fatalf("schema change after publish: %v", err)
	}
	if _, err := f.s.UpdateDatanet(ctx, f.stranger, a.Slug, in); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("stranger edited: %v", err)
	}
}

func TestPrivateDatanetInvitees(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPrivate, store.PolicyReview)
	if _, _, err := f.s.VisibleDatanet(ctx, f.contributor, d.Slug); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("uninvited sees private: %v", err)
	}
	if err := f.s.AddMember(ctx, f.stranger, d.Slug, f.contributor.Address, store.MemberInvitee); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stranger invited someone: %v", err)
	}
	if err := f.s.AddMember(ctx, f.owner, d.Slug, f.contributor.Address, "king"); err == nil {
		t.Fatal("unknown role accepted")
	}
	if err := f.s.AddMember(ctx, f.owner, d.Slug, f.contributor.Address, store.MemberInvitee); err != nil {
		t.Fatal(err)
	}
	if err := f.s.AddMember(ctx, f.owner, d.Slug, f.requester.Address, store.MemberReviewer); err != nil {
		t.Fatal(err)
	}
	acc, err := f.s.AccessFor(ctx, f.contributor, d)
	if err != nil || !acc.See || !acc.Read || !acc.Contribute || acc.Review {
		t.Fatalf("invitee access = %+v %v", acc, err)
	}
	if acc, _ := f.s.AccessFor(ctx, f.requester, d); !acc.See || !acc.Review {
		t.Fatalf("reviewer access = %+v", acc)
	}
	c, _, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{record(1, "private", 7)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.ReviewContribution(ctx, f.requester, c.ID, true, ""); err != nil {
		t.Fatalf("member reviewer could not review: %v", err)
	}
	members, _ := f.s.Members(ctx, d.ID)
	if len(members) != 2 {
		t.Fatalf("members = %+v", members)
	}
	if err := f.s.RemoveMember(ctx, f.owner, d.Slug, f.contributor.Address, store.MemberInvitee); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.VisibleDatanet(ctx, f.contributor, d.Slug); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removed invitee still sees it: %v", err)
	}
	log, _ := f.s.AuditLog(ctx, "datanet", d.Slug, 20)
	if len(log) == 0 || log[0].Action != "member.remove" {
		t.Fatalf("member changes not audited: %+v", log)
	}
}
