package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/modelfactory/modelfactory/store"
)

// fieldErr asserts err is a ValidationError naming field.
func fieldErr(t *testing.T, err error, field string) {
	t.Helper()
	var ve *store.ValidationError
	if !errors.As(err, &ve) || ve.Fields[field] == "" {
		t.Fatalf("want a validation error on %q, got %v", field, err)
	}
}

func auditCount(t *testing.T, s *store.Store) int64 {
	t.Helper()
	var n int64
	if err := s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func datanetStatus(t *testing.T, s *store.Store, slug string) string {
	t.Helper()
	d, err := s.DatanetBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return d.Status
}

func listed(t *testing.T, s *store.Store, a store.Actor, slug string) bool {
	t.Helper()
	items, _, err := s.ListDatanets(context.Background(), a, store.DatanetQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range items {
		if d.Slug == slug {
			return true
		}
	}
	return false
}

func unread(t *testing.T, s *store.Store, userID int64) []store.Notification {
	t.Helper()
	list, _, err := s.Notifications(context.Background(), userID, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Notification
	for _, n := range list {
		if n.ReadAt == nil {
			out = append(out, n)
		}
	}
	return out
}

func TestAuditLogRefusesUpdateDeleteTruncate(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	f.datanet(t, store.VisibilityPublic, store.PolicyOpen) // writes audit entries
	before := auditCount(t, f.s)
	if before == 0 {
		t.Fatal("no audit entries to protect")
	}
	for _, sql := range []string{`UPDATE audit_log SET reason = 'rewritten'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		_, err := f.s.Pool().Exec(ctx, sql)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: got %v, want the append-only refusal", sql, err)
		}
	}
	if got := auditCount(t, f.s); got != before {
		t.Fatalf("audit entries %d → %d", before, got)
	}
}

func TestReportsValidateAndDeduplicate(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	priv := f.datanet(t, store.VisibilityPrivate, store.PolicyOpen)

	_, _, err := f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: "datanet:" + d.Slug, Category: "nonsense"})
	fieldErr(t, err, "category")
	_, _, err = f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: "galaxy:far-away", Category: "spam"})
	fieldErr(t, err, "target")
	_, _, err = f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: "datanet:" + d.Slug, Category: "other", Details: "bad"})
	fieldErr(t, err, "details")
	_, _, err = f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: "user:" + strings.ToLower(f.owner.Address), Category: "spam"})
	fieldErr(t, err, "target")
	// A private Datanet the reporter cannot see is as absent as a missing one.
	_, _, err = f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: "datanet:" + priv.Slug, Category: "spam"})
	fieldErr(t, err, "target")
	_, _, err = f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: "contribution:99999", Category: "spam"})
	fieldErr(t, err, "target")

	r, created, err := f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: "datanet:" + d.Slug, Category: "spam", Details: "  Link farm  "})
	if err != nil || !created || r.Status != store.ReportOpen || r.Details != "Link farm" || r.Target.String() != "datanet:"+d.Slug {
		t.Fatalf("report = %+v, %v, %v", r, created, err)
	}
	again, created, err := f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: "datanet:" + d.Slug, Category: "harmful"})
	if err != nil || created || again.ID != r.ID {
		t.Fatalf("second report by the same wallet = %+v, %v, %v", again, created, err)
	}
	if _, _, err := f.s.CreateReport(ctx, f.requester, store.ReportInput{Target: "datanet:" + d.Slug, Category: "copyright"}); err != nil {
		t.Fatal(err)
	}
	groups, total, err := f.s.ReportGroups(ctx, store.ReportQuery{})
	if err != nil || total != 1 || len(groups) != 1 || groups[0].Count != 2 || len(groups[0].Reports) != 2 {
		t.Fatalf("groups = %+v (%d), %v", groups, total, err)
	}
	if sub := groups[0].Subject; !sub.Exists || sub.Title != d.Name || sub.Status != store.DatanetPublished || sub.Owner != f.owner.Address {
		t.Fatalf("subject = %+v", sub)
	}
	_, _, err = f.s.ReportGroups(ctx, store.ReportQuery{Status: "weird"})
	fieldErr(t, err, "status")
}

func TestSuspendDatanetHidesBlocksNotifiesAndRestores(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	if _, _, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{record(1, "a", 1)}}); err != nil {
		t.Fatal(err)
	}
	root := func(h []string) (string, error) { return "0x" + fmt.Sprintf("%064x", len(h)), nil }
	v1, err := f.s.PublishVersion(ctx, f.owner, d.Slug, root)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: "datanet:" + d.Slug, Category: "illegal"}); err != nil {
		t.Fatal(err)
	}
	target := "datanet:" + d.Slug
	entries := auditCount(t, f.s)

	// Refusals change nothing.
	if _, err := f.s.Moderate(ctx, f.stranger, store.Action{Action: "suspend", Target: target, Reason: "spam"}); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("non-admin suspended: %v", err)
	}
	_, err = f.s.Moderate(ctx, f.admin, store.Action{Action: "suspend", Target: target})
	fieldErr(t, err, "reason")
	_, err = f.s.Moderate(ctx, f.admin, store.Action{Action: "restore", Target: target})
	fieldErr(t, err, "target")
	if datanetStatus(t, f.s, d.Slug) != store.DatanetPublished || auditCount(t, f.s) != entries || len(unread(t, f.s, f.owner.UserID)) != 0 {
		t.Fatal("a refused action changed something")
	}

	res, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "suspend", Target: target, Reason: "Scraped medical records"})
	if err != nil || res.ReportsClosed != 1 || res.After["status"] != store.DatanetSuspended {
		t.Fatalf("suspend = %+v, %v", res, err)
	}
	if datanetStatus(t, f.s, d.Slug) != store.DatanetSuspended {
		t.Fatal("not suspended")
	}
	if listed(t, f.s, f.stranger, d.Slug) || listed(t, f.s, f.admin, d.Slug) {
		t.Fatal("a suspended Datanet is still in browse")
	}
	if !listed(t, f.s, f.owner, d.Slug) {
		t.Fatal("the owner no longer sees their suspended Datanet")
	}
	if _, _, err := f.s.VisibleDatanet(ctx, f.stranger, d.Slug); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stranger opens a suspended Datanet: %v", err)
	}
	_, err = f.s.CreateContribution(ctx, f.owner, d.Slug, store.ContributionInput{Source: "api"}, noJob)
	fieldErr(t, err, "datanet")
	fieldErr(t, f.s.DatanetTrainable(ctx, d.ID), "datanet")
	fieldErr(t, f.s.VersionsTrainable(ctx, []int64{v1.ID}), "versions")
	if _, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "suspend", Target: target, Reason: "again"}); err == nil {
		t.Fatal("suspended twice")
	}
	n := unread(t, f.s, f.owner.UserID)
	if len(n) != 1 || n[0].Kind != "datanet.suspended" || !strings.Contains(n[0].Body, "Scraped medical records") {
		t.Fatalf("owner notifications = %+v", n)
	}
	if got, _ := f.s.UnreadNotifications(ctx, f.owner.UserID); got != 1 {
		t.Fatalf("unread = %d", got)
	}
	if r := unread(t, f.s, f.stranger.UserID); len(r) != 1 || r[0].Kind != "report.actioned" {
		t.Fatalf("reporter notifications = %+v", r)
	}
	log, _, err := f.s.SearchAudit(ctx, store.AuditQuery{Target: target, Action: "datanet.suspend"})
	if err != nil || len(log) != 1 || log[0].Reason != "Scraped medical records" || log[0].Actor != f.admin.Address ||
		!strings.Contains(string(log[0].Before), "published") || !strings.Contains(string(log[0].After), "suspended") {
		t.Fatalf("audit = %+v, %v", log, err)
	}
	groups, _, _ := f.s.ReportGroups(ctx, store.ReportQuery{})
	if len(groups) != 0 {
		t.Fatalf("open report groups after action: %+v", groups)
	}

	if _, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "restore", Target: target}); err != nil {
		t.Fatal(err)
	}
	if datanetStatus(t, f.s, d.Slug) != store.DatanetPublished || !listed(t, f.s, f.stranger, d.Slug) {
		t.Fatal("restore did not bring it back")
	}
	if err := f.s.DatanetTrainable(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.s.VersionsTrainable(ctx, []int64{v1.ID, v1.ID}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.VersionsTrainable(ctx, []int64{v1.ID, 424242}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown version: %v", err)
	}
	if err := f.s.MarkNotificationsRead(ctx, f.owner.UserID, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.UnreadNotifications(ctx, f.owner.UserID); got != 0 {
		t.Fatalf("unread after marking read = %d", got)
	}
}

func TestRemoveRecordKeepsVersionsProvable(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	c, _, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{record(1, "keep", 1), record(2, "toxic", 2)}})
	if err != nil {
		t.Fatal(err)
	}
	root := func(h []string) (string, error) { return "0x" + fmt.Sprintf("%064x", len(h)), nil }
	v1, err := f.s.PublishVersion(ctx, f.owner, d.Slug, root)
	if err != nil {
		t.Fatal(err)
	}
	bad := record(2, "toxic", 2).Hash
	if _, _, err := f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: store.RecordTarget(bad, d.Slug), Category: "harmful"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.Moderate(ctx, f.admin, store.Action{Action: "remove", Target: "record:0x" + strings.Repeat("0", 64) + "@" + d.Slug, Reason: "gone"})
	fieldErr(t, err, "target")
	_, err = f.s.Moderate(ctx, f.admin, store.Action{Action: "suspend", Target: store.RecordTarget(bad, d.Slug), Reason: "x y z"})
	fieldErr(t, err, "action")

	if _, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "remove", Target: "record:0x" + strings.ToUpper(bad[2:]) + "@" + d.Slug, Reason: "Hate speech"}); err != nil {
		t.Fatal(err)
	}
	if n := mustCount(t, f.s, d.Slug); n != 1 {
		t.Fatalf("records served after removal: %d", n)
	}
	recs, _ := f.s.DatanetRecords(ctx, d.ID, 10, 0)
	for _, r := range recs {
		if r.Hash == bad {
			t.Fatal("removed record still browsable")
		}
	}
	// The old version keeps the leaf (proofs stay valid) but not the content.
	hashes, _ := f.s.VersionHashes(ctx, v1.ID)
	if len(hashes) != 2 {
		t.Fatalf("v1 hashes = %v", hashes)
	}
	var exported []store.ExportRow
	if err := f.s.ExportVersion(ctx, v1.ID, func(r store.ExportRow) error { exported = append(exported, r); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, r := range exported {
		if r.Hash == bad && (r.Canonical != `{"removed":true}` || !r.Removed) {
			t.Fatalf("removed record exported with content %s", r.Canonical)
		}
		if r.Hash != bad && (!strings.Contains(r.Canonical, "keep") || r.Removed) {
			t.Fatalf("kept record exported as %s", r.Canonical)
		}
	}
	// New versions leave it out.
	v2, err := f.s.PublishVersion(ctx, f.owner, d.Slug, root)
	if err != nil || v2.Records != 1 {
		t.Fatalf("v2 = %+v, %v", v2, err)
	}
	if n := unread(t, f.s, f.contributor.UserID); len(n) != 1 || n[0].Kind != "record.removed" || !strings.Contains(n[0].Body, "Hate speech") {
		t.Fatalf("contributor notifications = %+v", n)
	}
	if _, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "restore", Target: "record:" + bad + "@" + d.Slug}); err != nil {
		t.Fatal(err)
	}
	if n := mustCount(t, f.s, d.Slug); n != 2 {
		t.Fatalf("records after restore: %d", n)
	}

	// A whole contribution.
	ct := fmt.Sprintf("contribution:%d", c.ID)
	if _, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "remove", Target: ct, Reason: "Copyrighted book"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.ContributionByID(ctx, c.ID); got.Status != store.ContribRemoved || mustCount(t, f.s, d.Slug) != 0 {
		t.Fatalf("after removing the contribution: %s, %d records", got.Status, mustCount(t, f.s, d.Slug))
	}
	_, err = f.s.Moderate(ctx, f.admin, store.Action{Action: "restore", Target: "record:" + bad + "@" + d.Slug})
	fieldErr(t, err, "target")
	if _, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "restore", Target: ct}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.ContributionByID(ctx, c.ID); got.Status != store.ContribAccepted || mustCount(t, f.s, d.Slug) != 2 {
		t.Fatalf("after restoring the contribution: %s, %d records", got.Status, mustCount(t, f.s, d.Slug))
	}
}

func TestBanRevokesAccessHoldsAndUnbanReleases(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyReview)
	review, _, err := f.contribute(t, f.contributor, d.Slug, &recs{list: []store.IngestRecord{record(1, "a", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	// Uploaded before the ban, ingested after it.
	late, err := f.s.CreateContribution(ctx, f.contributor, d.Slug, store.ContributionInput{Source: "api"}, noJob)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := f.s.CreateSession(ctx, f.contributor.UserID, time.Hour, "", "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := f.s.CreateAPIToken(ctx, f.contributor.UserID, "ci", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	target := "user:" + f.contributor.Address
	_, err = f.s.Moderate(ctx, f.admin, store.Action{Action: "ban", Target: target})
	fieldErr(t, err, "reason")
	_, err = f.s.Moderate(ctx, f.admin, store.Action{Action: "ban", Target: "user:" + f.admin.Address, Reason: "oops"})
	fieldErr(t, err, "target")
	if _, _, err := f.s.SessionUser(ctx, sess); err != nil {
		t.Fatalf("refused ban ended the session: %v", err)
	}

	res, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "ban", Target: target, Reason: "Spam uploads"})
	if err != nil {
		t.Fatal(err)
	}
	if res.After["sessionsEnded"] != int64(1) || res.After["tokensRevoked"] != int64(1) || res.After["contributionsHeld"] != int64(1) {
		t.Fatalf("ban result = %+v", res.After)
	}
	if _, _, err := f.s.SessionUser(ctx, sess); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("banned session still works: %v", err)
	}
	if _, err := f.s.APITokenUser(ctx, token); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("banned token still works: %v", err)
	}
	if got, _ := f.s.ContributionByID(ctx, review.ID); got.Status != store.ContribHeld {
		t.Fatalf("contribution in review = %s, want held", got.Status)
	}
	if _, err := f.s.ReviewContribution(ctx, f.owner, review.ID, true, ""); err == nil {
		t.Fatal("a held contribution was accepted")
	}
	if _, ok, err := f.s.StartIngest(ctx, late.ID); err != nil || !ok {
		t.Fatalf("start ingest: %v %v", ok, err)
	}
	res2, err := f.s.CommitIngest(ctx, late.ID, &recs{list: []store.IngestRecord{record(1, "late", 5)}},
		func() store.ParseReport { return store.ParseReport{} }, sameByte, nil)
	if err != nil || res2.Status != store.ContribHeld {
		t.Fatalf("ingest after ban = %+v, %v", res2, err)
	}
	if _, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "ban", Target: target, Reason: "again"}); err == nil {
		t.Fatal("banned twice")
	}

	if _, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "unban", Target: strings.ToUpper(target[:5]) + target[5:], Reason: "Appeal accepted"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{review.ID, late.ID} {
		if got, _ := f.s.ContributionByID(ctx, id); got.Status != store.ContribInReview {
			t.Fatalf("contribution %d after unban = %s, want in_review", id, got.Status)
		}
	}
	if _, _, err := f.s.SessionUser(ctx, sess); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("an unban brought an old session back")
	}
	log, total, err := f.s.SearchAudit(ctx, store.AuditQuery{Target: target, Actor: strings.ToLower(f.admin.Address)})
	if err != nil || total != 2 || log[0].Action != "user.unban" || log[1].Action != "user.ban" {
		t.Fatalf("audit = %+v (%d), %v", log, total, err)
	}
}

func TestModerateRefusesBadInputAndChangesNothing(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	before := auditCount(t, f.s)
	cases := []struct {
		in    store.Action
		field string
	}{
		{store.Action{Action: "obliterate", Target: "datanet:" + d.Slug, Reason: "x y z"}, "action"},
		{store.Action{Action: "suspend", Target: "datanet:NOT A SLUG", Reason: "x y z"}, "target"},
		{store.Action{Action: "suspend", Target: "planet:" + d.Slug, Reason: "x y z"}, "target"},
		{store.Action{Action: "suspend", Target: "datanet:no-such-datanet", Reason: "x y z"}, "target"},
		{store.Action{Action: "ban", Target: "datanet:" + d.Slug, Reason: "x y z"}, "action"},
		{store.Action{Action: "remove", Target: "contribution:abc", Reason: "x y z"}, "target"},
		{store.Action{Action: "remove", Target: "contribution:777", Reason: "x y z"}, "target"},
		{store.Action{Action: "dismiss", Target: "datanet:" + d.Slug}, "target"}, // no open reports
		{store.Action{Action: "suspend", Target: "model:no-such-model", Reason: "x y z"}, "target"},
		{store.Action{Action: "ban", Target: "user:0x123", Reason: "x y z"}, "target"},
	}
	for _, c := range cases {
		_, err := f.s.Moderate(ctx, f.admin, c.in)
		fieldErr(t, err, c.field)
	}
	if auditCount(t, f.s) != before || datanetStatus(t, f.s, d.Slug) != store.DatanetPublished {
		t.Fatal("a refused action changed something")
	}
}

func TestDismissAndModelSuspension(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	d := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	if _, _, err := f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: "datanet:" + d.Slug, Category: "low_quality"}); err != nil {
		t.Fatal(err)
	}
	res, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "dismiss", Target: "datanet:" + d.Slug, Reason: "Fine as it is"})
	if err != nil || res.ReportsClosed != 1 {
		t.Fatalf("dismiss = %+v, %v", res, err)
	}
	groups, _, _ := f.s.ReportGroups(ctx, store.ReportQuery{Status: store.ReportDismissed})
	if len(groups) != 1 || groups[0].Reports[0].Resolution != "dismiss" || groups[0].Reports[0].ResolvedBy != f.admin.Address {
		t.Fatalf("dismissed groups = %+v", groups)
	}
	if datanetStatus(t, f.s, d.Slug) != store.DatanetPublished {
		t.Fatal("dismiss changed the Datanet")
	}

	// A fine-tuned model (rows written directly: the run machinery is not
	// under test here).
	_, err = f.s.Pool().Exec(ctx, `
		WITH b AS (INSERT INTO base_models (slug, name, source) VALUES ('tiny', 'Tiny', 'builtin') RETURNING id)
		INSERT INTO models (slug, name, owner_id, base_model_id, method, visibility) SELECT 'tiny-qa', 'Tiny QA', $1, id, 'lora', 'public' FROM b`,
		f.owner.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.CreateReport(ctx, f.stranger, store.ReportInput{Target: "model:tiny-qa", Category: "harmful", Details: "Gives dangerous advice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "suspend", Target: "model:tiny-qa", Reason: "Dangerous advice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.VisibleModel(ctx, f.stranger, "tiny-qa"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("suspended model visible: %v", err)
	}
	if n := unread(t, f.s, f.owner.UserID); len(n) != 1 || n[0].Kind != "model.suspended" {
		t.Fatalf("owner notifications = %+v", n)
	}
	if _, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "restore", Target: "model:tiny-qa"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.VisibleModel(ctx, f.stranger, "tiny-qa"); err != nil {
		t.Fatalf("restored model: %v", err)
	}
}

func TestRolesAreAudited(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	if err := f.s.SetRole(ctx, f.stranger, f.contributor.Address, store.RoleLabeler, true, ""); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("non-admin granted a role: %v", err)
	}
	fieldErr(t, f.s.SetRole(ctx, f.admin, f.contributor.Address, "king", true, ""), "role")
	if err := f.s.SetRole(ctx, f.admin, f.contributor.Address, store.RoleLabeler, true, "Helps with medical QA"); err != nil {
		t.Fatal(err)
	}
	fieldErr(t, f.s.SetRole(ctx, f.admin, f.contributor.Address, store.RoleLabeler, true, ""), "target")
	if _, err := f.s.Moderate(ctx, f.admin, store.Action{Action: "grant_reviewer", Target: "user:" + f.contributor.Address}); err != nil {
		t.Fatal(err)
	}
	u, _ := f.s.UserByID(ctx, f.contributor.UserID)
	if strings.Join(u.Roles, ",") != "labeler,reviewer" {
		t.Fatalf("roles = %v", u.Roles)
	}
	if err := f.s.SetRole(ctx, f.admin, f.contributor.Address, store.RoleLabeler, false, "Left"); err != nil {
		t.Fatal(err)
	}
	// Granting to a wallet that never signed in creates it.
	fresh := "0x00000000000000000000000000000000000000aa"
	if err := f.s.SetRole(ctx, f.admin, fresh, store.RoleAdmin, true, ""); err != nil {
		t.Fatal(err)
	}
	holders, err := f.s.RoleHolders(ctx)
	if err != nil || len(holders) != 2 {
		t.Fatalf("holders = %+v, %v", holders, err)
	}
	log, total, err := f.s.SearchAudit(ctx, store.AuditQuery{Action: "role"})
	if err != nil || total != 4 || log[0].Action != "role.grant" || log[1].Action != "role.revoke" || log[1].Reason != "Left" {
		t.Fatalf("role audit = %+v (%d), %v", log, total, err)
	}
	page2, total, err := f.s.SearchAudit(ctx, store.AuditQuery{Action: "role", Limit: 3, Offset: 3})
	if err != nil || total != 4 || len(page2) != 1 || page2[0].Action != "role.grant" {
		t.Fatalf("page 2 = %+v (%d), %v", page2, total, err)
	}
	if byActor, _, _ := f.s.SearchAudit(ctx, store.AuditQuery{Actor: f.stranger.Address}); len(byActor) != 0 {
		t.Fatalf("stranger's entries = %+v", byActor)
	}
}

// TestReportGroupsPage checks the queue page loads each group's newest 20
// reports (in one query for the whole page) into the right group.
func TestReportGroupsPage(t *testing.T) {
	t.Parallel()
	f, ctx := newFixture(t), context.Background()
	a := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	b := f.datanet(t, store.VisibilityPublic, store.PolicyOpen)
	report := func(i int, slug string) {
		u, err := f.s.UpsertUser(ctx, fmt.Sprintf("0x%040x", 0x5000+i))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.s.CreateReport(ctx, store.Actor{UserID: u.ID, Address: u.Address},
			store.ReportInput{Target: "datanet:" + slug, Category: "spam", Details: fmt.Sprintf("report %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 22 {
		report(i, a.Slug)
	}
	report(100, b.Slug)
	report(101, b.Slug)
	groups, total, err := f.s.ReportGroups(ctx, store.ReportQuery{})
	if err != nil || total != 2 || len(groups) != 2 {
		t.Fatalf("groups = %d (%d), %v", len(groups), total, err)
	}
	// b was reported last, so it comes first.
	gb, ga := groups[0], groups[1]
	if gb.Target.ID != b.Slug || gb.Count != 2 || len(gb.Reports) != 2 || ga.Target.ID != a.Slug || ga.Count != 22 || len(ga.Reports) != 20 {
		t.Fatalf("groups: %s %d/%d, %s %d/%d", gb.Target, gb.Count, len(gb.Reports), ga.Target, ga.Count, len(ga.Reports))
	}
	for _, g := range groups {
		for i, r := range g.Reports {
			if r.Target != g.Target || i > 0 && r.ID >= g.Reports[i-1].ID {
				t.Fatalf("group %s report %d: %+v", g.Target, i, r)
			}
		}
	}
	if ga.Reports[0].Details != "report 21" || ga.Reports[19].Details != "report 2" {
		t.Fatalf("newest 20 of a: %q … %q", ga.Reports[0].Details, ga.Reports[19].Details)
	}
	if gb.Subject.OwnerBanned || ga.Subject.OwnerBanned || !ga.Subject.Exists || ga.Subject.Owner != f.owner.Address {
		t.Fatalf("subjects before the ban: %+v / %+v", gb.Subject, ga.Subject)
	}
	if _, err := f.s.Pool().Exec(ctx, `UPDATE users SET banned_at = now() WHERE id = $1`, f.owner.UserID); err != nil {
		t.Fatal(err)
	}
	groups, _, err = f.s.ReportGroups(ctx, store.ReportQuery{})
	if err != nil || !groups[0].Subject.OwnerBanned || !groups[1].Subject.OwnerBanned {
		t.Fatalf("subjects after the owner's ban: %+v, %v", groups, err)
	}
}
