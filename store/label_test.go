package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/ingest"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

// labelFixture is a published instruction Datanet with n records in
// version 1.
type labelFixture struct {
	*fixture
	d *store.Datanet
}

func newLabelFixture(t testing.TB, n int) *labelFixture {
	t.Helper()
	return newLabelFixtureOn(t, store.New(pgtest.New(t)), n)
}

func newLabelFixtureOn(t testing.TB, s *store.Store, n int) *labelFixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{s: s}
	for i, a := range []*store.Actor{&f.owner, &f.contributor, &f.stranger, &f.requester, &f.admin} {
		u, err := s.UpsertUser(ctx, fmt.Sprintf("0x%040x", i+1))
		if err != nil {
			t.Fatal(err)
		}
		*a = store.Actor{UserID: u.ID, Address: u.Address}
	}
	f.admin.Admin = true
	d, err := f.s.CreateDatanet(ctx, f.owner, store.DatanetInput{Name: "Support answers", License: "CC-BY-4.0",
		Schema: store.SchemaInstruction, Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyOpen})
	if err != nil {
		t.Fatal(err)
	}
	if d, err = f.s.PublishDatanet(ctx, f.owner, d.Slug); err != nil {
		t.Fatal(err)
	}
	src := &recs{}
	for i := range n {
		rec := buildRecord(t, map[string]string{"instruction": fmt.Sprintf("Question number %d?", i), "response": "An answer."})
		rec.Bands = nil // the records are near-duplicates of each other by design; skip that search
		src.list = append(src.list, rec)
	}
	c, err := f.s.CreateContribution(ctx, f.contributor, d.Slug, store.ContributionInput{Source: "api", Filename: "x.jsonl"}, noJob)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.StartIngest(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CommitIngest(ctx, c.ID, src, func() store.ParseReport { return store.ParseReport{} }, sameByte, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.PublishVersion(ctx, f.owner, d.Slug, merkle.HexRoot); err != nil {
		t.Fatal(err)
	}
	return &labelFixture{fixture: f, d: d}
}

// buildRecord validates, normalises and hashes fields exactly as ingest
// does for an instruction Datanet.
func buildRecord(t testing.TB, fields map[string]string) store.IngestRecord {
	t.Helper()
	rec, err := instructionBuilder(fields)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func instructionBuilder(fields map[string]string) (store.IngestRecord, error) {
	return builderFor(ingest.Schema{Kind: ingest.KindInstruction})(fields)
}

func builderFor(schema ingest.Schema) store.RecordBuilder {
	return func(fields map[string]string) (store.IngestRecord, error) {
		rec, err := ingest.BuildRecord(fields, schema, ingest.DefaultLimits())
		if err != nil {
			return store.IngestRecord{}, err
		}
		var pii json.RawMessage
		if len(rec.PII) > 0 {
			pii, _ = json.Marshal(rec.PII)
		}
		return store.IngestRecord{Hash: rec.Hash, Canonical: string(rec.Canonical), Fields: rec.Fields, Chars: rec.Chars, PII: pii,
			Bands: rec.BandKeys[:], Sketch: rec.Signature.Sketch(), HasSketch: true}, nil
	}
}

func (f *labelFixture) project(t testing.TB, in store.LabelProjectInput) *store.LabelProject {
	t.Helper()
	in.Datanet = f.d.Slug
	if in.Name == "" {
		in.Name = "Check answers"
	}
	if in.Source == "" {
		in.Source, in.Version = store.LabelSourceVersion, 1
	}
	p, err := f.s.CreateLabelProject(context.Background(), f.owner, in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// labelers creates n signed-in wallets.
func (f *labelFixture) labelers(t testing.TB, n int) []store.Actor {
	t.Helper()
	out := make([]store.Actor, n)
	for i := range out {
		u, err := f.s.UpsertUser(context.Background(), fmt.Sprintf("0x%040x", 0x1000+i))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = store.Actor{UserID: u.ID, Address: u.Address}
	}
	return out
}

func labelFieldErr(t *testing.T, err error, field string) {
	t.Helper()
	var ve *store.ValidationError
	if !errors.As(err, &ve) || ve.Fields[field] == "" {
		t.Fatalf("err = %v, want a validation error on %q", err, field)
	}
}

// checkSlots asserts no item ever holds more labels plus live leases than
// the overlap, and nobody labeled an item twice.
func checkSlots(t *testing.T, s *store.Store, projectID int64, overlap int) {
	t.Helper()
	var over, doubled int
	err := s.Pool().QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM (
		          SELECT i.id FROM label_items i WHERE i.project_id = $1
		          AND (SELECT count(*) FROM labels l WHERE l.item_id = i.id)
		            + (SELECT count(*) FROM label_slots s WHERE s.item_id = i.id AND NOT s.filled AND s.lease_expires > now()) > $2) x),
		       (SELECT count(*) FROM (SELECT 1 FROM labels WHERE project_id = $1 GROUP BY item_id, user_id HAVING count(*) > 1) y)`,
		projectID, overlap).Scan(&over, &doubled)
	if err != nil {
		t.Fatal(err)
	}
	if over != 0 || doubled != 0 {
		t.Fatalf("%d items over their overlap, %d labeled twice by one labeler", over, doubled)
	}
}

func TestLabelLeaseRace(t *testing.T) {
	t.Parallel()
	f, ctx := newLabelFixture(t, 12), context.Background()
	p := f.project(t, store.LabelProjectInput{Task: store.TaskRate, Overlap: 2})
	labelers := f.labelers(t, 16)

	// 16 labelers at once: every lease they get at the same moment is a
	// distinct slot, and no item is leased beyond its overlap.
	var mu sync.Mutex
	seen := map[string]bool{}
	perItem := map[int64]int{}
	var wg sync.WaitGroup
	for _, a := range labelers {
		wg.Go(func() {
			l, err := f.s.NextLabelItem(ctx, a, p.ID)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[l.Token] {
				t.Errorf("lease %s handed out twice", l.Token)
			}
			seen[l.Token] = true
			perItem[l.ItemID]++
		})
	}
	wg.Wait()
	for item, n := range perItem {
		if n > 2 {
			t.Fatalf("item %d leased %d times with overlap 2", item, n)
		}
	}
	checkSlots(t, f.s, p.ID, 2)

	// Now everybody labels until nothing is left, concurrently.
	for _, a := range labelers {
		wg.Go(func() {
			for {
				l, err := f.s.NextLabelItem(ctx, a, p.ID)
				if errors.Is(err, store.ErrNoLabelItems) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := f.s.SubmitLabel(ctx, a, l.ItemID, l.Token, store.LabelValue{Rating: 1 + int(l.ItemID%5)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	checkSlots(t, f.s, p.ID, 2)
	pr, err := f.s.LabelProgressFor(ctx, f.owner, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Labels != 24 || pr.Done != 12 || pr.Items != 12 {
		t.Fatalf("progress %+v, want 24 labels and 12 items done", pr)
	}
}

func TestLabelLeaseExpiry(t *testing.T) {
	t.Parallel()
	f, ctx := newLabelFixture(t, 1), context.Background()
	p := f.project(t, store.LabelProjectInput{Task: store.TaskClassify, Labels: []string{"good", "bad"}, Overlap: 1})
	ls := f.labelers(t, 2)
	alice, bob := ls[0], ls[1]

	la, err := f.s.NextLabelItem(ctx, alice, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Asking again returns the same lease (a reload burns nothing).
	if again, err := f.s.NextLabelItem(ctx, alice, p.ID); err != nil || again.Token != la.Token {
		t.Fatalf("second next = %+v, %v; want the same lease", again, err)
	}
	if _, err := f.s.NextLabelItem(ctx, bob, p.ID); !errors.Is(err, store.ErrNoLabelItems) {
		t.Fatalf("bob got %v while the only slot is leased", err)
	}
	expire := func() {
		if _, err := f.s.Pool().Exec(ctx, `UPDATE label_slots SET lease_expires = now() - interval '1 second' WHERE project_id = $1 AND NOT filled`, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Expired but not yet taken: alice's late submit is honoured… after
	// an undo makes the item open again, expire once more and let bob take it.
	expire()
	lb, err := f.s.NextLabelItem(ctx, bob, p.ID)
	if err != nil {
		t.Fatalf("expired lease did not return to the pool: %v", err)
	}
	if lb.ItemID != la.ItemID || lb.Token == la.Token {
		t.Fatalf("bob's lease %+v", lb)
	}
	_, err = f.s.SubmitLabel(ctx, alice, la.ItemID, la.Token, store.LabelValue{Label: "good"})
	labelFieldErr(t, err, "lease")
	if _, err := f.s.SubmitLabel(ctx, bob, lb.ItemID, lb.Token, store.LabelValue{Label: "bad"}); err != nil {
		t.Fatal(err)
	}
	checkSlots(t, f.s, p.ID, 1)

	// A lease that expired while nobody took the slot is still honoured.
	f2 := f.project(t, store.LabelProjectInput{Name: "Second pass", Task: store.TaskClassify, Labels: []string{"good", "bad"}, Overlap: 1})
	l2, err := f.s.NextLabelItem(ctx, alice, f2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Pool().Exec(ctx, `UPDATE label_slots SET lease_expires = now() - interval '1 second' WHERE project_id = $1`, f2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.SubmitLabel(ctx, alice, l2.ItemID, l2.Token, store.LabelValue{Label: "good"}); err != nil {
		t.Fatalf("late submit of an untaken lease: %v", err)
	}
}

func TestLabelDoubleNextLeasesOnce(t *testing.T) {
	t.Parallel()
	f, ctx := newLabelFixture(t, 5), context.Background()
	p := f.project(t, store.LabelProjectInput{Task: store.TaskRate, Overlap: 1})
	a := f.labelers(t, 1)[0]
	// One labeler asking ten times at once (a double click, several tabs)
	// holds one lease.
	tokens := make([]string, 10)
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Go(func() {
			l, err := f.s.NextLabelItem(ctx, a, p.ID)
			if err != nil {
				t.Error(err)
				return
			}
			tokens[i] = l.Token
		})
	}
	wg.Wait()
	for _, tok := range tokens {
		if tok != tokens[0] {
			t.Fatalf("one labeler got several leases: %v", tokens)
		}
	}
}

func TestLabelSubmitIsIdempotent(t *testing.T) {
	t.Parallel()
	f, ctx := newLabelFixture(t, 2), context.Background()
	p := f.project(t, store.LabelProjectInput{Task: store.TaskClassify, Labels: []string{"good", "bad"}, Overlap: 2})
	a := f.labelers(t, 1)[0]
	l, err := f.s.NextLabelItem(ctx, a, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Bad input changes nothing.
	_, err = f.s.SubmitLabel(ctx, a, l.ItemID, l.Token, store.LabelValue{Label: "excellent"})
	labelFieldErr(t, err, "label")
	_, err = f.s.SubmitLabel(ctx, a, l.ItemID, "not-a-token", store.LabelValue{Label: "good"})
	labelFieldErr(t, err, "lease")

	// Four concurrent submits of one lease make one label.
	var wg sync.WaitGroup
	ids := make([]int64, 4)
	dups := make([]bool, 4)
	for i := range 4 {
		wg.Go(func() {
			res, err := f.s.SubmitLabel(ctx, a, l.ItemID, l.Token, store.LabelValue{Label: "good"})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i], dups[i] = res.LabelID, res.Duplicate
		})
	}
	wg.Wait()
	fresh := 0
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("label ids %v differ", ids)
		}
		if !dups[i] {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d submits created a label, want 1", fresh)
	}
	pr, _ := f.s.LabelProgressFor(ctx, a, p.ID)
	if pr.Mine != 1 || pr.Labels != 1 {
		t.Fatalf("progress %+v, want one label", pr)
	}
	// The next lease is a different item (the labeler never gets their own item again).
	l2, err := f.s.NextLabelItem(ctx, a, p.ID)
	if err != nil || l2.ItemID == l.ItemID {
		t.Fatalf("next = %+v, %v", l2, err)
	}
}

func TestLabelPermissions(t *testing.T) {
	t.Parallel()
	f, ctx := newLabelFixture(t, 3), context.Background()
	p := f.project(t, store.LabelProjectInput{Task: store.TaskClassify, Labels: []string{"good", "bad"}, Overlap: 1, Access: store.LabelAccessInvited})
	ls := f.labelers(t, 3)
	invited, stranger, roled := ls[0], ls[1], ls[2]

	// Only the owner (or an admin) creates projects.
	_, err := f.s.CreateLabelProject(ctx, f.stranger, store.LabelProjectInput{Datanet: f.d.Slug, Name: "Mine now", Task: store.TaskRate,
		Source: store.LabelSourceVersion, Version: 1})
	if !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("stranger created a project: %v", err)
	}
	if _, err := f.s.NextLabelItem(ctx, stranger, p.ID); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("stranger on an invite-only project: %v", err)
	}
	if err := f.s.InviteLabeler(ctx, stranger, p.ID, invited.Address); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("stranger invited: %v", err)
	}
	if err := f.s.InviteLabeler(ctx, f.owner, p.ID, invited.Address); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.NextLabelItem(ctx, invited, p.ID); err != nil {
		t.Fatalf("invited labeler: %v", err)
	}
	// The global labeler role qualifies on a public Datanet.
	if err := f.s.GrantRole(ctx, roled.UserID, store.RoleLabeler, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.NextLabelItem(ctx, roled, p.ID); err != nil {
		t.Fatalf("labeler role: %v", err)
	}
	// Agreement, export and adjudication are for managers and reviewers.
	if _, err := f.s.LabelAgreementReport(ctx, invited, p.ID); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("labeler saw agreement: %v", err)
	}
	if _, err := f.s.LabelReviewQueue(ctx, invited, p.ID, 10); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("labeler saw the review queue: %v", err)
	}
	if _, err := f.s.LabelAgreementReport(ctx, f.owner, p.ID); err != nil {
		t.Fatal(err)
	}
	// A banned wallet gets no lease and cannot submit.
	lease, err := f.s.NextLabelItem(ctx, invited, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Pool().Exec(ctx, `UPDATE users SET banned_at = now() WHERE id = $1`, invited.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.NextLabelItem(ctx, invited, p.ID); !errors.Is(err, store.ErrBanned) {
		t.Fatalf("banned next: %v", err)
	}
	if _, err := f.s.SubmitLabel(ctx, invited, lease.ItemID, lease.Token, store.LabelValue{Label: "good"}); !errors.Is(err, store.ErrBanned) {
		t.Fatalf("banned submit: %v", err)
	}
	// Bad project input is refused with field messages and creates nothing.
	_, err = f.s.CreateLabelProject(ctx, f.owner, store.LabelProjectInput{Datanet: f.d.Slug, Name: "x", Task: "draw", Overlap: 11,
		Source: store.LabelSourceVersion, Version: 9, RewardWei: "1.5"})
	var ve *store.ValidationError
	if !errors.As(err, &ve) || ve.Fields["name"] == "" || ve.Fields["task"] == "" || ve.Fields["overlap"] == "" || ve.Fields["rewardWei"] == "" {
		t.Fatalf("bad project: %v", err)
	}
	_, err = f.s.CreateLabelProject(ctx, f.owner, store.LabelProjectInput{Datanet: f.d.Slug, Name: "Labels", Task: store.TaskClassify,
		Source: store.LabelSourceVersion, Version: 1})
	labelFieldErr(t, err, "labels") // an instruction Datanet has no label set
	_, err = f.s.CreateLabelProject(ctx, f.owner, store.LabelProjectInput{Datanet: f.d.Slug, Name: "Later", Task: store.TaskRate,
		Source: store.LabelSourceVersion, Version: 9})
	labelFieldErr(t, err, "version")
	ps, _ := f.s.DatanetLabelProjects(ctx, f.d.ID)
	if len(ps) != 1 {
		t.Fatalf("%d projects after refused creates, want 1", len(ps))
	}
}

func TestLabelConsensusAdjudicationAndRewards(t *testing.T) {
	t.Parallel()
	f, ctx := newLabelFixture(t, 2), context.Background()
	p := f.project(t, store.LabelProjectInput{Task: store.TaskClassify, Labels: []string{"good", "bad", "unsure"}, Overlap: 3, RewardWei: "1000000000000000000"})
	ls := f.labelers(t, 3)
	// Item A: good, good, bad → majority good at 2/3 ≥ 0.6: done.
	// Item B: good, bad, unsure → three-way tie: review.
	answers := map[int]map[int64]string{}
	for i, a := range ls {
		answers[i] = map[int64]string{}
		for range 2 {
			l, err := f.s.NextLabelItem(ctx, a, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			first := l.Record.Fields["instruction"] == "Question number 0?"
			v := map[bool][]string{true: {"good", "good", "bad"}, false: {"good", "bad", "unsure"}}[first][i]
			answers[i][l.ItemID] = v
			if _, err := f.s.SubmitLabel(ctx, a, l.ItemID, l.Token, store.LabelValue{Label: v}); err != nil {
				t.Fatal(err)
			}
		}
	}
	queue, err := f.s.LabelReviewQueue(ctx, f.owner, p.ID, 10)
	if err != nil || len(queue) != 1 || !queue[0].Tied || len(queue[0].Answers) != 3 {
		t.Fatalf("review queue = %+v, %v", queue, err)
	}
	rep, err := f.s.LabelAgreementReport(ctx, f.owner, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Done != 1 || rep.Review != 1 || rep.Tied != 1 || rep.Pairable != 2 || !rep.AlphaOK || rep.Metric != "nominal" {
		t.Fatalf("report %+v", rep)
	}
	// Labeler 3 said "bad" on the decided item: half agreement so far.
	if len(rep.Labelers) != 3 || rep.Labelers[2].Agreed != 0 || rep.Labelers[0].Agreed != 1 {
		t.Fatalf("labelers %+v", rep.Labelers)
	}
	// A labeler cannot adjudicate; the owner can, once.
	if _, err := f.s.AdjudicateItem(ctx, ls[0], queue[0].ID, store.LabelValue{Label: "bad"}, ""); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("labeler adjudicated: %v", err)
	}
	_, err = f.s.AdjudicateItem(ctx, f.owner, queue[0].ID, store.LabelValue{Label: "nonsense"}, "")
	labelFieldErr(t, err, "label")
	it, err := f.s.AdjudicateItem(ctx, f.owner, queue[0].ID, store.LabelValue{Label: "bad"}, "Guideline 2: partial answers are bad")
	if err != nil || it.State != store.ItemDone || it.Final.Label != "bad" {
		t.Fatalf("adjudicated = %+v, %v", it, err)
	}
	_, err = f.s.AdjudicateItem(ctx, f.owner, queue[0].ID, store.LabelValue{Label: "good"}, "")
	labelFieldErr(t, err, "decision")
	log, err := f.s.AuditLog(ctx, "label_item", fmt.Sprint(queue[0].ID), 5)
	if err != nil || len(log) != 1 || log[0].Action != "label.adjudicate" || log[0].Reason == "" {
		t.Fatalf("audit = %+v, %v", log, err)
	}
	// Accepted labels: two on item A, one on item B (labeler 2 said bad):
	// three ledger entries of 1 OPEN each, one per accepted label.
	var entries int
	var total string
	if err := f.s.Pool().QueryRow(ctx, `SELECT count(*), coalesce(sum(amount), 0)::text FROM reward_entries WHERE source = 'labeling'`).
		Scan(&entries, &total); err != nil {
		t.Fatal(err)
	}
	if entries != 3 || total != "3000000000000000000" {
		t.Fatalf("%d labeling entries totalling %s wei, want 3 and 3e18", entries, total)
	}
	var rows []store.LabelExportRow
	if err := f.s.ExportLabels(ctx, f.owner, p.ID, func(r store.LabelExportRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Consensus == nil || len(rows[0].Labels) != 3 || rows[1].DecidedBy != f.owner.Address {
		t.Fatalf("export = %+v", rows)
	}
	if err := f.s.ExportLabels(ctx, ls[0], p.ID, func(store.LabelExportRow) error { return nil }); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("labeler exported: %v", err)
	}
}

func TestLabelUndoAndSkip(t *testing.T) {
	t.Parallel()
	f, ctx := newLabelFixture(t, 3), context.Background()
	p := f.project(t, store.LabelProjectInput{Task: store.TaskRate, Overlap: 2})
	a := f.labelers(t, 1)[0]
	if _, err := f.s.UndoLastLabel(ctx, a, p.ID); err == nil {
		t.Fatal("undo with nothing to undo")
	}
	l1, _ := f.s.NextLabelItem(ctx, a, p.ID)
	if _, err := f.s.SubmitLabel(ctx, a, l1.ItemID, l1.Token, store.LabelValue{Rating: 4, Flags: []string{"toxic", "toxic"}}); err != nil {
		t.Fatal(err)
	}
	l2, _ := f.s.NextLabelItem(ctx, a, p.ID)
	back, err := f.s.UndoLastLabel(ctx, a, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if back.ItemID != l1.ItemID || back.Previous == nil || back.Previous.Rating != 4 || len(back.Previous.Flags) != 1 {
		t.Fatalf("undo = %+v", back)
	}
	// The old token is dead; the lease on l2 went back to the pool.
	_, err = f.s.SubmitLabel(ctx, a, l1.ItemID, l1.Token, store.LabelValue{Rating: 4})
	if res, _ := f.s.LabelProgressFor(ctx, a, p.ID); err == nil && res.Mine != 0 {
		t.Fatalf("old token submitted after undo")
	}
	if next, err := f.s.NextLabelItem(ctx, a, p.ID); err != nil || next.Token != back.Token {
		t.Fatalf("next after undo = %+v, %v; want the undone item's lease", next, err)
	}
	if _, err := f.s.SubmitLabel(ctx, a, back.ItemID, back.Token, store.LabelValue{Rating: 2}); err != nil {
		t.Fatal(err)
	}
	// Skip needs a reason; a skipped item is never offered again.
	l3, _ := f.s.NextLabelItem(ctx, a, p.ID)
	labelFieldErr(t, f.s.SkipLabelItem(ctx, a, l3.ItemID, l3.Token, "  "), "reason")
	if err := f.s.SkipLabelItem(ctx, a, l3.ItemID, l3.Token, "Not in English"); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{l1.ItemID: true, l3.ItemID: true}
	for {
		l, err := f.s.NextLabelItem(ctx, a, p.ID)
		if errors.Is(err, store.ErrNoLabelItems) {
			break
		}
		if err != nil || seen[l.ItemID] {
			t.Fatalf("next = %+v, %v (offered a done or skipped item)", l, err)
		}
		seen[l.ItemID] = true
		if _, err := f.s.SubmitLabel(ctx, a, l.ItemID, l.Token, store.LabelValue{Rating: 5}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := seen[l2.ItemID]; !ok {
		t.Fatalf("item %d released by undo was never offered again", l2.ItemID)
	}
}

func TestLabelUndoCompletedItem(t *testing.T) {
	t.Parallel()
	f, ctx := newLabelFixture(t, 2), context.Background()
	free := f.project(t, store.LabelProjectInput{Task: store.TaskClassify, Labels: []string{"good", "bad"}, Overlap: 1})
	paid := f.project(t, store.LabelProjectInput{Name: "Paid pass", Task: store.TaskClassify, Labels: []string{"good", "bad"}, Overlap: 1, RewardWei: "7"})
	a := f.labelers(t, 1)[0]
	// Overlap 1: the answer completes the item, and undo reopens it.
	l, _ := f.s.NextLabelItem(ctx, a, free.ID)
	if res, err := f.s.SubmitLabel(ctx, a, l.ItemID, l.Token, store.LabelValue{Label: "bad"}); err != nil || res.ItemState != store.ItemDone {
		t.Fatalf("submit = %+v, %v", res, err)
	}
	back, err := f.s.UndoLastLabel(ctx, a, free.ID)
	if err != nil || back.ItemID != l.ItemID || back.Previous.Label != "bad" {
		t.Fatalf("undo = %+v, %v", back, err)
	}
	if pr, _ := f.s.LabelProgressFor(ctx, a, free.ID); pr.Done != 0 || pr.Labels != 0 {
		t.Fatalf("after undo: %+v", pr)
	}
	if res, err := f.s.SubmitLabel(ctx, a, back.ItemID, back.Token, store.LabelValue{Label: "good"}); err != nil || res.ItemState != store.ItemDone {
		t.Fatalf("resubmit = %+v, %v", res, err)
	}
	// Once the answer is rewarded, it stays.
	l, _ = f.s.NextLabelItem(ctx, a, paid.ID)
	if _, err := f.s.SubmitLabel(ctx, a, l.ItemID, l.Token, store.LabelValue{Label: "good"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.UndoLastLabel(ctx, a, paid.ID)
	labelFieldErr(t, err, "undo")
}

// TestLabelWriteBackKeepsVersions checks that applying corrections changes
// the Datanet for its next version only: version 1's export, hashes and
// Merkle root stay exactly as published.
func TestLabelWriteBackKeepsVersions(t *testing.T) {
	t.Parallel()
	f, ctx := newLabelFixture(t, 3), context.Background()
	v1, err := f.s.VersionByNumber(ctx, f.d.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	export := func(v *store.Version) string {
		var b strings.Builder
		if err := f.s.ExportVersion(ctx, v.ID, func(r store.ExportRow) error { b.WriteString(r.Hash + r.Canonical + r.Contributor + "\n"); return nil }); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	before := export(v1)
	hashes1, _ := f.s.VersionHashes(ctx, v1.ID)

	p := f.project(t, store.LabelProjectInput{Task: store.TaskCorrect, Overlap: 1})
	a := f.labelers(t, 1)[0]
	corrected := ""
	for {
		l, err := f.s.NextLabelItem(ctx, a, p.ID)
		if errors.Is(err, store.ErrNoLabelItems) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		resp := l.Record.Fields["response"] // unchanged: nothing to write back
		if l.Record.Fields["instruction"] == "Question number 1?" {
			resp, corrected = "A better, complete answer.", l.Record.Hash
		}
		if _, err := f.s.SubmitLabel(ctx, a, l.ItemID, l.Token, store.LabelValue{Response: resp}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.s.ApplyLabelResults(ctx, a, p.ID, instructionBuilder); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("labeler applied results: %v", err)
	}
	res, err := f.s.ApplyLabelResults(ctx, f.owner, p.ID, instructionBuilder)
	if err != nil {
		t.Fatal(err)
	}
	if res.Replaced != 1 || res.Unchanged != 2 || res.Skipped != 0 {
		t.Fatalf("apply = %+v", res)
	}
	if again, err := f.s.ApplyLabelResults(ctx, f.owner, p.ID, instructionBuilder); err != nil || *again != (store.ApplyResult{}) {
		t.Fatalf("second apply = %+v, %v", again, err)
	}

	// Version 1 is untouched: same export, same leaves, same root.
	v1again, _ := f.s.VersionByNumber(ctx, f.d.ID, 1)
	hashes1again, _ := f.s.VersionHashes(ctx, v1.ID)
	root, _ := merkle.HexRoot(hashes1again)
	if export(v1again) != before || strings.Join(hashes1, ",") != strings.Join(hashes1again, ",") || root != v1.MerkleRoot || v1again.MerkleRoot != v1.MerkleRoot {
		t.Fatal("version 1 changed after write-back")
	}
	// Version 2 carries the corrected record instead of the old one.
	v2, err := f.s.PublishVersion(ctx, f.owner, f.d.Slug, merkle.HexRoot)
	if err != nil {
		t.Fatal(err)
	}
	hashes2, _ := f.s.VersionHashes(ctx, v2.ID)
	out := export(v2)
	if v2.Records != 3 || strings.Contains(strings.Join(hashes2, ","), corrected) || !strings.Contains(out, "A better, complete answer.") {
		t.Fatalf("version 2 = %d records, hashes %v", v2.Records, hashes2)
	}
	// Superseded is final: moving the old record through another status
	// (as removing and restoring its contribution does) never makes it
	// accepted next to its replacement.
	var status string
	if err := f.s.Pool().QueryRow(ctx, `UPDATE records SET status = 'pending' WHERE hash = $1 RETURNING status`, corrected).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Pool().QueryRow(ctx, `UPDATE records SET status = 'accepted' WHERE hash = $1 RETURNING status`, corrected).Scan(&status); err != nil || status != "superseded" {
		t.Fatalf("superseded record became %q (%v)", status, err)
	}
	// The Datanet still counts three records from the same contributor.
	lb, _ := f.s.Leaderboard(ctx, f.d.ID, 5)
	if len(lb) != 1 || lb[0].Records != 3 || lb[0].Address != f.contributor.Address {
		t.Fatalf("leaderboard = %+v", lb)
	}
}

func TestLabelIncomingProject(t *testing.T) {
	t.Parallel()
	f, ctx := newLabelFixture(t, 2), context.Background()
	p := f.project(t, store.LabelProjectInput{Task: store.TaskRate, Overlap: 1, Source: store.LabelSourceIncoming})
	if p.Items != 0 {
		t.Fatalf("incoming project starts with %d items", p.Items)
	}
	a := f.labelers(t, 1)[0]
	if _, err := f.s.NextLabelItem(ctx, a, p.ID); !errors.Is(err, store.ErrNoLabelItems) {
		t.Fatalf("next on an empty incoming project: %v", err)
	}
	_, _, err := f.contribute(t, f.contributor, f.d.Slug, &recs{list: []store.IngestRecord{
		buildRecord(t, map[string]string{"instruction": "A new question?", "response": "A new answer."})}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.s.NextLabelItem(ctx, a, p.ID)
	if err != nil || l.Record.Fields["instruction"] != "A new question?" {
		t.Fatalf("next = %+v, %v", l, err)
	}
	rep, _ := f.s.LabelProgressFor(ctx, a, p.ID)
	if rep.Items != 1 || rep.LabelsGoal != 1 {
		t.Fatalf("progress %+v", rep)
	}
}

// TestLabelLeasePaths covers the ways NextLabelItem finds a slot: once
// nothing is free after a labeler's latest item, a slot freed earlier in
// the pool is found from the start; a returned slot (expired lease) comes
// before new items; on a permissioned Datanet the grant is checked outside
// the one-round-trip path and the lease still comes; a stranger's refused
// request leases nothing.
func TestLabelLeasePaths(t *testing.T) {
	t.Parallel()
	f, ctx := newLabelFixture(t, 3), context.Background()
	p := f.project(t, store.LabelProjectInput{Task: store.TaskClassify, Labels: []string{"good", "bad"}, Overlap: 1})
	ls := f.labelers(t, 2)
	alice, bob := ls[0], ls[1]

	// bob holds item 1; alice labels items 2 and 3, so her latest item is
	// the last one.
	lb, err := f.s.NextLabelItem(ctx, bob, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var aliceItems []int64
	for range 2 {
		l, err := f.s.NextLabelItem(ctx, alice, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		aliceItems = append(aliceItems, l.ItemID)
		if _, err := f.s.SubmitLabel(ctx, alice, l.ItemID, l.Token, store.LabelValue{Label: "good"}); err != nil {
			t.Fatal(err)
		}
	}
	if !(lb.ItemID < aliceItems[0] && aliceItems[0] < aliceItems[1]) {
		t.Fatalf("items not handed out in order: bob %d, alice %v", lb.ItemID, aliceItems)
	}
	if _, err := f.s.NextLabelItem(ctx, alice, p.ID); !errors.Is(err, store.ErrNoLabelItems) {
		t.Fatalf("alice while bob holds the last slot: %v", err)
	}
	// bob skips: item 1 is free again, before alice's latest item.
	if err := f.s.SkipLabelItem(ctx, bob, lb.ItemID, lb.Token, "Not sure"); err != nil {
		t.Fatal(err)
	}
	la, err := f.s.NextLabelItem(ctx, alice, p.ID)
	if err != nil || la.ItemID != lb.ItemID {
		t.Fatalf("alice after the skip: %+v, %v; want item %d", la, err, lb.ItemID)
	}

	// A returned slot comes before new items after the labeler's latest
	// one: in a fresh project bob leases item 1 and walks away, alice
	// labels item 2; when bob's lease expires alice gets item 1, not 3.
	pr := f.project(t, store.LabelProjectInput{Name: "Returned first", Task: store.TaskClassify, Labels: []string{"good", "bad"}, Overlap: 1})
	lb1, err := f.s.NextLabelItem(ctx, bob, pr.ID)
	if err != nil {
		t.Fatal(err)
	}
	la2, err := f.s.NextLabelItem(ctx, alice, pr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.SubmitLabel(ctx, alice, la2.ItemID, la2.Token, store.LabelValue{Label: "bad"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Pool().Exec(ctx, `UPDATE label_slots SET lease_expires = now() - interval '1 second' WHERE token = $1`, lb1.Token); err != nil {
		t.Fatal(err)
	}
	if la, err := f.s.NextLabelItem(ctx, alice, pr.ID); err != nil || la.ItemID != lb1.ItemID {
		t.Fatalf("alice after bob's lease expired: %+v, %v; want the returned item %d", la, err, lb1.ItemID)
	}

	// A permissioned Datanet: only holders of a grant may label.
	if _, err := f.s.Pool().Exec(ctx, `UPDATE datanets SET visibility = 'permissioned' WHERE id = $1`, f.d.ID); err != nil {
		t.Fatal(err)
	}
	p2 := f.project(t, store.LabelProjectInput{Name: "Second pass", Task: store.TaskRate, Overlap: 1})
	if _, err := f.s.NextLabelItem(ctx, f.requester, p2.ID); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("requester without a grant: %v", err)
	}
	req, err := f.s.RequestAccess(ctx, f.requester, f.d.Slug, "Label answers for the support bot")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.DecideAccess(ctx, f.owner, req.ID, true, nil); err != nil {
		t.Fatal(err)
	}
	lr, err := f.s.NextLabelItem(ctx, f.requester, p2.ID)
	if err != nil {
		t.Fatalf("requester with a grant: %v", err)
	}
	if _, err := f.s.NextLabelItem(ctx, f.stranger, p2.ID); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("stranger: %v", err)
	}
	rows, err := f.s.Pool().Query(ctx, `SELECT user_id, count(*) FROM label_slots WHERE project_id = $1 AND user_id IS NOT NULL GROUP BY user_id`, p2.ID)
	if err != nil {
		t.Fatal(err)
	}
	held := map[int64]int64{}
	for rows.Next() {
		var u, n int64
		if err := rows.Scan(&u, &n); err != nil {
			t.Fatal(err)
		}
		held[u] = n
	}
	if len(held) != 1 || held[f.requester.UserID] != 1 || lr.ProjectID != p2.ID {
		t.Fatalf("slots held in the permissioned project: %v", held)
	}
}
