package views

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
)

const (
	addrA = "0x71C7656EC7ab88b098defB751B7401B5f6d8976F"
	addrB = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"
	addrC = "0x6813Eb9362372EEF6200f3b1dbC3f819671cBA69"
	rootH = "0x3f1a5c0e9b7d2a4f6e8c1b3d5f7a9c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d0f1a"
	recH1 = "0x9c2e4a6b8d0f1a3c5e7b9d1f3a5c7e9b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c"
	recH2 = "0x1b3d5f7a9c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d0f1a3c5e7b9d1f3a5c7e9b0d"
	shaH  = "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func sampleSummaries() []DatanetSummary {
	return []DatanetSummary{
		{Slug: "maritime-law-qa", Name: "Maritime law Q&A", Summary: "Questions and answers on port regulations, collision rules and charter parties, written by practising lawyers.",
			Tags: []string{"law", "maritime", "english"}, Schema: "instruction", Visibility: "public", Status: "published", Owner: addrA,
			Records: 48213, Contributors: 37, Versions: 4, UpdatedAt: testNow.Add(-2 * time.Hour)},
		{Slug: "go-stdlib-docs", Name: "Go standard library docs", Summary: "Package documentation of the Go toolchain, split into paragraphs.",
			Tags: []string{"code", "go", "documentation"}, Schema: "documents", Visibility: "public", Status: "published", Owner: addrB,
			Records: 1284410, Contributors: 5, Versions: 2, UpdatedAt: testNow.Add(-26 * time.Hour)},
		{Slug: "ticket-sentiment", Name: "Support ticket sentiment", Summary: "Customer support messages labelled positive, negative or neutral.",
			Tags: []string{"support", "sentiment"}, Schema: "classification", Visibility: "permissioned", Status: "published", Owner: addrC,
			Records: 9120, Contributors: 12, Versions: 1, UpdatedAt: testNow.Add(-5 * 24 * time.Hour)},
		{Slug: "clinic-notes", Name: "Clinic notes <draft>", Summary: "", Tags: nil, Schema: "documents", Visibility: "private", Status: "draft", Owner: addrA},
	}
}

func sampleList() DatanetList {
	items := sampleSummaries()
	return DatanetList{Query: "", Sort: "updated", Items: items, AllTags: []string{"law", "code", "support", "sentiment", "maritime", "go"},
		Pager: Pager{Page: 1, PerPage: 20, Total: 64, Href: "/datanets?sort=updated"}}
}

const sampleDescription = `<h2>What is in it</h2><p>Question–answer pairs drawn from <a href="https://example.org/colregs">COLREGs</a> commentary and port authority notices. Each answer cites the rule it relies on.</p><ul><li>Collision regulations (Rules 1–38)</li><li>Port state control</li><li>Charter party disputes</li></ul><h2>Good contributions</h2><p>Answer as a lawyer would to a ship's master: short, with the rule number, e.g. <code>Rule 15</code>.</p><blockquote>Do not include client names or vessel IMO numbers.</blockquote>`

func sampleDatanet() Datanet {
	s := sampleSummaries()[0]
	return Datanet{
		DatanetSummary:     s,
		DescriptionHTML:    sampleDescription,
		License:            "CC-BY-4.0",
		ContributionPolicy: "review",
		CreatedAt:          testNow.Add(-90 * 24 * time.Hour),
		Chars:              31_402_118,
		IsOwner:            true,
		CanContribute:      true,
		CanReview:          true,
		CanRead:            true,
		Access:             "owner",
		PendingReviews:     3,
		Leaderboard: []ContributorShare{
			{Address: addrA, Records: 21030, ShareBps: 4362},
			{Address: addrB, Records: 14002, ShareBps: 2904},
			{Address: addrC, Records: 8120, ShareBps: 1684},
			{Address: "0x0000000000000000000000000000000000000Bee", Records: 5061, ShareBps: 1050},
		},
		VersionList: []DatanetVersion{
			{Version: 4, Records: 47002, Chars: 30_110_204, Tokens: 7_612_003, MerkleRoot: rootH, CreatedAt: testNow.Add(-3 * 24 * time.Hour),
				Shares:   []ContributorShare{{Address: addrA, Records: 20500, ShareBps: 4361}, {Address: addrB, Records: 13800, ShareBps: 2936}, {Address: addrC, Records: 8000, ShareBps: 1702}, {Address: addrC, Records: 4702, ShareBps: 1001}},
				AnchorTx: "0xabc1230000000000000000000000000000000000000000000000000000000def"},
			{Version: 3, Records: 31877, Chars: 20_001_554, Tokens: 5_100_402, MerkleRoot: recH2, CreatedAt: testNow.Add(-30 * 24 * time.Hour),
				Shares: []ContributorShare{{Address: addrA, Records: 20000, ShareBps: 6274}, {Address: addrB, Records: 11877, ShareBps: 3726}}},
			{Version: 2, Records: 12003, Chars: 7_400_100, Tokens: 1_900_455, MerkleRoot: recH1, CreatedAt: testNow.Add(-60 * 24 * time.Hour)},
			{Version: 1, Records: 1500, Chars: 900_331, Tokens: 231_020, MerkleRoot: shaH, CreatedAt: testNow.Add(-85 * 24 * time.Hour), ExportURL: "/datanets/maritime-law-qa/versions/1/export?fmt=jsonl"},
		},
		Records: []RecordRow{
			{Hash: recH1, Contributor: addrB, CreatedAt: testNow.Add(-5 * time.Hour), Fields: []Field{
				{Name: "instruction", Value: "Under COLREGs, which vessel gives way when two power-driven vessels are crossing?"},
				{Name: "input", Value: ""},
				{Name: "response", Value: "Rule 15: the vessel which has the other on her own starboard side keeps out of the way and, if the circumstances allow, avoids crossing ahead of her."}}},
			{Hash: recH2, Contributor: addrC, CreatedAt: testNow.Add(-6 * time.Hour), PII: []string{"email"}, NearDupOf: recH1, NearDupSim: 0.86,
				NearDupFields: []Field{{Name: "instruction", Value: "Who has to report to the port before arriving?"}, {Name: "input", Value: ""}, {Name: "response", Value: "Vessels over 300 GT, 24 hours before arrival."}}, Fields: []Field{
					{Name: "instruction", Value: "Who must report to the port before arrival <script>alert(1)</script>?"},
					{Name: "input", Value: "Notice 12/2024: vessels over 300 GT report 24 h before arrival to ops@port.example."},
					{Name: "response", Value: "Every vessel over 300 gross tonnage, at least 24 hours before it arrives.\nReports go to the port operations desk."}}},
		},
		RecordPager: Pager{Page: 1, PerPage: 25, Total: 48213, Href: "/datanets/maritime-law-qa?tab=records"},
		Tab:         "overview",
		Contributions: []ContributionRow{
			{ID: 812, Datanet: "maritime-law-qa", Contributor: addrB, Source: "file", Filename: "colregs-part-b.jsonl", Status: "in_review", Accepted: 412, Duplicates: 9, NearDups: 3, Rejected: 2, CreatedAt: testNow.Add(-40 * time.Minute)},
			{ID: 811, Datanet: "maritime-law-qa", Contributor: addrC, Source: "form", Status: "accepted", Accepted: 1, CreatedAt: testNow.Add(-3 * time.Hour)},
			{ID: 809, Datanet: "maritime-law-qa", Contributor: addrC, Source: "file", Filename: "scan.pdf", Status: "failed", CreatedAt: testNow.Add(-26 * time.Hour)},
			{ID: 808, Datanet: "maritime-law-qa", Contributor: addrA, Source: "api", Status: "processing", Accepted: 0, CreatedAt: testNow.Add(-1 * time.Minute)},
		},
		AccessRequests: []AccessRequestRow{
			{ID: 41, Datanet: "maritime-law-qa", Requester: addrC, Purpose: "Fine-tuning an assistant for our harbour pilots; internal use only.", Status: "pending", CreatedAt: testNow.Add(-4 * time.Hour)},
			{ID: 40, Datanet: "maritime-law-qa", Requester: addrB, Purpose: "University course on maritime law.", Status: "approved", ExpiresAt: ptrTime(testNow.Add(60 * 24 * time.Hour)), CreatedAt: testNow.Add(-9 * 24 * time.Hour)},
			{ID: 39, Datanet: "maritime-law-qa", Requester: addrA, Purpose: "Resale.", Status: "denied", CreatedAt: testNow.Add(-20 * 24 * time.Hour)},
		},
		MaxUploadBytes: 25_000_000,
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

// strangerView is the same Datanet seen by someone without access.
func strangerView(d Datanet) Datanet {
	d.IsOwner, d.CanReview, d.CanRead, d.CanContribute = false, false, false, false
	d.Visibility, d.Access = "permissioned", "none"
	d.Contributions, d.AccessRequests = nil, nil
	return d
}

func sampleContribution(status string) Contribution {
	c := Contribution{
		ContributionRow: ContributionRow{ID: 812, Datanet: "maritime-law-qa", Contributor: addrB, Source: "file", Filename: "colregs-part-b.jsonl",
			Status: status, CreatedAt: testNow.Add(-40 * time.Minute)},
		DatanetName: "Maritime law Q&A",
		SizeBytes:   12_400_000,
		SHA256:      shaH,
		Schema:      "instruction",
	}
	switch status {
	case "processing":
		c.Progress, c.BytesRead = 5210, 5_100_000
		c.Accepted, c.Duplicates, c.Rejected = 5100, 88, 2
		c.Problems = []Problem{{Line: 17, Reason: "missing field \"response\""}, {Line: 912, Reason: "invalid JSON: unexpected end of input"}}
	case "in_review", "accepted", "rejected":
		c.Accepted, c.Duplicates, c.NearDups, c.Rejected = 412, 9, 3, 2
		c.Problems = []Problem{{Line: 17, Reason: "missing field \"response\""}, {Line: 391, Reason: "record longer than 32,000 characters after normalisation"}}
		c.Records = sampleDatanet().Records
		c.RecordPager = Pager{Page: 1, PerPage: 50, Total: 412, Href: "/contributions/812"}
	case "failed":
		c.Filename, c.SizeBytes = "scan.docx", 3_201_000
		for i := 1; i <= 130; i++ {
			c.Problems = append(c.Problems, Problem{Line: i, Reason: "not valid UTF-8"})
		}
		c.Problems[0] = Problem{Line: 0, Reason: "the DOCX expands to more than 200 MB: refused as a likely zip bomb"}
	}
	if status == "rejected" {
		c.ReviewReason = "Answers copy the commentary verbatim; please paraphrase and cite the rule instead."
	}
	return c
}

func reviewer(c Contribution) Contribution {
	c.CanReview = true
	return c
}

func sampleUpload(schema string, labels []string) UploadPage {
	s := sampleSummaries()[0]
	s.Schema = schema
	return UploadPage{Datanet: s, Labels: labels, MaxUploadBytes: 25_000_000, ContributionPolicy: "review", License: "CC-BY-4.0"}
}

func datanetPages() map[string]templ.Component {
	pg := func(title string) Page {
		p := page(plainUser, title, "datanets")
		p.Breadcrumbs = []Crumb{{Label: "Datanets", Href: "/datanets"}, {Label: title}}
		return p
	}
	d := sampleDatanet()
	tab := func(t string) Datanet { x := sampleDatanet(); x.Tab = t; return x }
	filteredEmpty := DatanetList{Query: "whale songs", Schema: "classification", Tag: "audio", AllTags: []string{"law"}}
	formErrs := DatanetForm{Name: "", Summary: "x", Schema: "classification", Labels: "spam", Visibility: "public", ContributionPolicy: "review",
		Errors: map[string]string{"name": "Give the Datanet a name of 3 to 80 characters.", "labels": "Define at least two labels, separated by commas."}}
	edit := DatanetForm{Slug: "maritime-law-qa", Name: "Maritime law Q&A", Summary: d.Summary, Description: "## What is in it\n\nQuestion–answer pairs…",
		Tags: "law, maritime, english", License: "CC-BY-4.0", Schema: "instruction", Visibility: "public", ContributionPolicy: "review", Published: true}
	upErr := sampleUpload("classification", []string{"positive", "negative", "neutral"})
	upErr.Errors = map[string]string{"text": "Write the text to classify.", "label": "Choose one of the labels."}
	upErr.Form = map[string]string{"text": ""}
	return map[string]templ.Component{
		"datanets":                DatanetsPage(page(plainUser, "Datanets", "datanets"), sampleList()),
		"datanets-empty":          DatanetsPage(page(plainUser, "Datanets", "datanets"), DatanetList{}),
		"datanets-none-match":     DatanetsPage(page(plainUser, "Datanets", "datanets"), filteredEmpty),
		"datanet-new":             DatanetFormPage(pg("New Datanet"), DatanetForm{}),
		"datanet-new-errors":      DatanetFormPage(pg("New Datanet"), formErrs),
		"datanet-edit":            DatanetFormPage(pg("Edit"), edit),
		"datanet":                 DatanetPage(pg(d.Name), d),
		"datanet-records":         DatanetPage(pg(d.Name), tab("records")),
		"datanet-versions":        DatanetPage(pg(d.Name), tab("versions")),
		"datanet-contributions":   DatanetPage(pg(d.Name), tab("contributions")),
		"datanet-access":          DatanetPage(pg(d.Name), tab("access")),
		"datanet-stranger":        DatanetPage(pg(d.Name), strangerView(d)),
		"contribute":              ContributePage(pg("Contribute"), sampleUpload("instruction", nil)),
		"contribute-classify":     ContributePage(pg("Contribute"), upErr),
		"contribution-processing": ContributionPage(pg("Contribution #812"), sampleContribution("processing")),
		"contribution-pending":    ContributionPage(pg("Contribution #812"), sampleContribution("pending")),
		"contribution-review":     ContributionPage(pg("Contribution #812"), reviewer(sampleContribution("in_review"))),
		"contribution-in-review":  ContributionPage(pg("Contribution #812"), sampleContribution("in_review")),
		"contribution-rejected":   ContributionPage(pg("Contribution #812"), sampleContribution("rejected")),
		"contribution-failed":     ContributionPage(pg("Contribution #812"), sampleContribution("failed")),
		"contribution-accepted":   ContributionPage(pg("Contribution #812"), sampleContribution("accepted")),
	}
}

// TestRenderDatanetPages renders every Datanet page, checks it against the
// CSP and writes it to $MF_RENDER_DIR (when set) for screenshots.
func TestRenderDatanetPages(t *testing.T) {
	dir := os.Getenv("MF_RENDER_DIR")
	for name, c := range datanetPages() {
		html := render(t, c)
		if !strings.HasPrefix(strings.ToLower(html), "<!doctype html>") {
			t.Errorf("%s: not a full document", name)
		}
		assertCSPSafe(t, name, html)
		if strings.Contains(html, `class="icon icon-`) && regexp.MustCompile(`<svg class="icon icon-[a-z-]+"[^>]*><circle cx="12" cy="12" r="3"></circle></svg>`).MatchString(html) {
			t.Errorf("%s: an unknown icon name fell back to the placeholder dot", name)
		}
		if dir != "" {
			if err := os.WriteFile(filepath.Join(dir, name+".html"), []byte(html), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func mustContain(t *testing.T, what, html string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(html, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func mustNotContain(t *testing.T, what, html string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(html, b) {
			t.Errorf("%s contains %q", what, b)
		}
	}
}

func TestDatanetsPage(t *testing.T) {
	l := sampleList()
	l.Query, l.Tag = "colregs", "law"
	html := render(t, DatanetsPage(page(plainUser, "Datanets", "datanets"), l))
	mustContain(t, "browse page", html,
		`action="/datanets"`, `name="q" value="colregs"`, `name="tag" value="law"`, `<option value="updated" selected>`,
		`href="/datanets/maritime-law-qa"`, "Maritime law Q&amp;A", `data-schema="instruction"`, `data-visibility="permissioned"`,
		"48.2k", "1.2M", "37</strong> contributors", `data-status="draft"`, "Clinic notes &lt;draft&gt;",
		// filter links keep the other filters and drop the page
		`href="/datanets?q=colregs&amp;schema=documents&amp;sort=updated&amp;tag=law"`,
		`href="/datanets?q=colregs&amp;sort=updated"`, // removing the tag
		"64 Datanets", "Page 1 of 4", `href="/datanets/new"`)
	mustNotContain(t, "browse page", html, "Clinic notes <draft>")
	// published Datanets carry no status badge: only the exceptions do.
	if n := strings.Count(html, `class="badge" data-status="published"`); n != 0 {
		t.Errorf("%d published badges on the browse list, want 0", n)
	}

	empty := render(t, DatanetsPage(page(plainUser, "Datanets", "datanets"), DatanetList{}))
	mustContain(t, "empty browse page", empty, "No Datanets yet", "Create a Datanet", `href="/datanets/new"`)
	none := render(t, DatanetsPage(page(plainUser, "Datanets", "datanets"), DatanetList{Query: "whales"}))
	mustContain(t, "no-match page", none, "No Datanets match", "Clear filters", "matching “whales”")
}

func TestDatanetFormPage(t *testing.T) {
	create := render(t, DatanetFormPage(page(plainUser, "New", "datanets"), DatanetForm{}))
	mustContain(t, "create form", create, `method="post" action="/datanets"`, "Create draft Datanet",
		`name="name"`, `name="summary"`, `name="description"`, `name="tags"`, `name="license"`, `name="labels"`,
		`name="schema" value="documents" checked`, `name="visibility" value="public" checked`, `name="contribution_policy" value="review" checked`,
		"Basics", "Schema", "Access", `<option value="CC-BY-4.0" selected>`)
	mustNotContain(t, "create form", create, "disabled", "schema is locked")

	f := DatanetForm{Name: "<b>x</b>", Schema: "classification", Labels: "a", Errors: map[string]string{"labels": "Define at least two labels."}}
	errs := render(t, DatanetFormPage(page(plainUser, "New", "datanets"), f))
	mustContain(t, "form with errors", errs, `id="dn-labels-error"`, "Define at least two labels.",
		`aria-invalid="true" aria-describedby="dn-labels-help dn-labels-error"`, `value="&lt;b&gt;x&lt;/b&gt;"`,
		`name="schema" value="classification" checked`, "Some fields need attention.")

	edit := render(t, DatanetFormPage(page(plainUser, "Edit", "datanets"), DatanetForm{Slug: "law qa", Name: "Law", Schema: "instruction", Published: true, License: "LicenseRef-custom"}))
	mustContain(t, "edit form", edit, `action="/datanets/law%20qa"`, "Save changes", "The schema is locked",
		`<fieldset class="choice-group" disabled>`, `placeholder="positive, negative, neutral" disabled`,
		`<option value="LicenseRef-custom" selected>`)
}

func TestDatanetPageOwner(t *testing.T) {
	d := sampleDatanet()
	html := render(t, DatanetPage(page(plainUser, d.Name, "datanets"), d))
	mustContain(t, "owner page", html,
		`<button type="submit" class="btn btn-secondary" data-publish-version="5">`, "Publish version 5",
		`action="/datanets/maritime-law-qa/versions"`, `data-confirm-button="Publish version 5"`, "Snapshot the 48,213 accepted records as version 5",
		`href="/datanets/maritime-law-qa/contribute"`, `href="/datanets/maritime-law-qa/edit"`,
		"48,213", "31,402,118", // stat tiles
		`<a class="tab" href="/datanets/maritime-law-qa" aria-current="page">`, `href="/datanets/maritime-law-qa?tab=access"`,
		`<span class="tab-count is-attention">3</span>`, // pending reviews
		"43.6%", `width="43.62"`, // leaderboard share and bar
		"Version 4", `href="/datanets/maritime-law-qa/versions/4/export"`)
	// The sanitised description is emitted raw; every other field is escaped.
	mustContain(t, "owner page", html, `<h2>What is in it</h2>`, `<code>Rule 15</code>`, `<blockquote>Do not include`)
	mustNotContain(t, "owner page", html, "Publish Datanet", "Request access")

	draft := sampleDatanet()
	draft.Status, draft.VersionList = "draft", nil
	dhtml := render(t, DatanetPage(page(plainUser, d.Name, "datanets"), draft))
	mustContain(t, "draft page", dhtml, `action="/datanets/maritime-law-qa/publish"`, "Publish Datanet", `data-confirm=`)
	mustNotContain(t, "draft page", dhtml, "Publish version")

	none := sampleDatanet()
	none.VersionList = nil
	if got := render(t, DatanetPage(page(plainUser, d.Name, "datanets"), none)); !strings.Contains(got, "Publish version 1") {
		t.Error("first version not offered as version 1")
	}

	evil := sampleDatanet()
	evil.Name, evil.Summary, evil.Tags = "<img src=x>", "<script>alert(1)</script>", []string{"<b>"}
	eh := render(t, DatanetPage(page(plainUser, "x", "datanets"), evil))
	mustNotContain(t, "escaped page", eh, "<img src=x>", "<script>alert(1)</script>", "<b>")
	mustContain(t, "escaped page", eh, "&lt;img src=x&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;")
}

func TestDatanetPageTabs(t *testing.T) {
	d := sampleDatanet()
	d.Tab = "records"
	rec := render(t, DatanetPage(page(plainUser, d.Name, "datanets"), d))
	mustContain(t, "records tab", rec, `<th scope="col">instruction</th>`, `<th scope="col">response</th>`,
		"Rule 15: the vessel", "PII: email", "Near-duplicate · 86% similar", `data-copy="`+recH1+`"`, "Page 1 of 1929",
		"Who must report to the port before arrival &lt;script&gt;")
	mustNotContain(t, "records tab", rec, "<script>alert(1)</script>")

	d.Tab = "versions"
	ver := render(t, DatanetPage(page(plainUser, d.Name, "datanets"), d))
	mustContain(t, "versions tab", ver, "v4", "v1", "47,002", "7,612,003", `title="`+rootH+`"`, "anchored",
		`href="/datanets/maritime-law-qa/versions/4/export"`, `href="/datanets/maritime-law-qa/versions/1/export?fmt=jsonl"`, "+2 more", "43.6%")

	d.Tab = "contributions"
	con := render(t, DatanetPage(page(plainUser, d.Name, "datanets"), d))
	mustContain(t, "contributions tab", con, `href="/contributions/812"`, "colregs-part-b.jsonl", `data-status="in-review"`,
		"Single record", "3 contributions wait for review", `<th scope="col">Contributor</th>`)

	d.Tab = "access"
	acc := render(t, DatanetPage(page(plainUser, d.Name, "datanets"), d))
	mustContain(t, "access tab", acc, `action="/access-requests/41/decision"`, `name="decision" value="approve"`, `name="decision" value="deny"`,
		`type="date" id="expires-41" name="expires_at"`, "Fine-tuning an assistant", "Approved", "Denied")
	mustNotContain(t, "access tab", acc, `/access-requests/40/decision`, `/access-requests/39/decision`)

	// a stranger cannot open the access tab: it falls back to the overview
	s := strangerView(sampleDatanet())
	s.Tab = "access"
	st := render(t, DatanetPage(page(plainUser, d.Name, "datanets"), s))
	mustNotContain(t, "stranger page", st, "/access-requests/41/decision", "?tab=access", "Publish version", "/edit\"", "/contribute\"", "download")
	mustContain(t, "stranger page", st, `href="#request-access"`, `action="/datanets/maritime-law-qa/access-requests"`, `name="purpose"`,
		`<a class="tab" href="/datanets/maritime-law-qa" aria-current="page">`)
	s.Tab = "records"
	mustContain(t, "stranger records", render(t, DatanetPage(page(plainUser, d.Name, "datanets"), s)), "Records are visible to people with access")
	mustNotContain(t, "stranger records", render(t, DatanetPage(page(plainUser, d.Name, "datanets"), s)), "Rule 15: the vessel")

	s.Access = "pending"
	pend := render(t, DatanetPage(page(plainUser, d.Name, "datanets"), s))
	mustContain(t, "pending requester", pend, "You asked for access")
	mustNotContain(t, "pending requester", pend, `name="purpose"`, `href="#request-access"`)

	// a reviewer who is not the owner publishes versions but sees no access tab
	r := sampleDatanet()
	r.IsOwner = false
	rh := render(t, DatanetPage(page(plainUser, d.Name, "datanets"), r))
	mustContain(t, "reviewer page", rh, "Publish version 5")
	mustNotContain(t, "reviewer page", rh, "?tab=access", "/edit\"")
}

func TestContributePage(t *testing.T) {
	html := render(t, ContributePage(page(plainUser, "Contribute", "datanets"), sampleUpload("instruction", nil)))
	mustContain(t, "contribute page", html,
		`action="/datanets/maritime-law-qa/contributions" enctype="multipart/form-data" data-upload data-max-bytes="25000000"`,
		`type="file" id="upload-file" name="file"`, "up to 25 MB", "JSONL", "CSV", "PDF", "DOCX", "Markdown",
		`name="mode" value="record"`, `name="instruction"`, `name="input"`, `name="response"`,
		"instruction,input,response", `{&#34;instruction&#34;:`, "/static/upload.js", "data-upload-bar", "data-upload-error", "CC-BY-4.0")
	mustNotContain(t, "contribute page", html, `name="label"`, `name="text"`)

	u := sampleUpload("classification", []string{"positive", "negative"})
	u.Form = map[string]string{"label": "negative", "text": "<i>slow</i>"}
	u.Errors = map[string]string{"text": "Too short.", "file": "The file is not valid UTF-8."}
	c := render(t, ContributePage(page(plainUser, "Contribute", "datanets"), u))
	mustContain(t, "classification form", c, `<select class="select" id="rec-label" name="label"`, `<option value="negative" selected>`,
		"&lt;i&gt;slow&lt;/i&gt;", "Too short.", `id="rec-text-error"`, "The file is not valid UTF-8.", `&#34;label&#34;: &#34;positive&#34;`)
	if regexp.MustCompile(`data-upload-error hidden`).MatchString(c) {
		t.Error("server-side file error rendered hidden")
	}
	if !regexp.MustCompile(`data-upload-error hidden`).MatchString(html) {
		t.Error("empty file error box not hidden")
	}
}

func TestContributionLive(t *testing.T) {
	for _, tc := range []struct {
		status string
		live   bool
	}{{"pending", true}, {"processing", true}, {"in_review", false}, {"accepted", false}, {"rejected", false}, {"failed", false}} {
		c := sampleContribution(tc.status)
		html := render(t, ContributionLive(c))
		if !strings.HasPrefix(html, `<section id="contribution-live"`) {
			t.Errorf("%s: fragment does not start with #contribution-live: %.60q", tc.status, html)
		}
		has := strings.Contains(html, "sse-connect=")
		if has != tc.live {
			t.Errorf("%s: sse-connect present = %v, want %v", tc.status, has, tc.live)
		}
		for _, attr := range []string{`hx-ext="sse"`, `sse-swap="status"`, `hx-swap="outerHTML"`} {
			if strings.Contains(html, attr) != tc.live {
				t.Errorf("%s: %s present = %v, want %v", tc.status, attr, !tc.live, tc.live)
			}
		}
		mustContain(t, tc.status, html, `data-status="`+StatusKey(tc.status)+`"`, "Accepted", "Duplicates", "Near-duplicates", "Rejected")
		assertCSPSafe(t, tc.status, html)
	}

	p := sampleContribution("processing")
	html := render(t, ContributionLive(p))
	mustContain(t, "processing", html, `sse-connect="/contributions/812/events?state=processing.5210.5100000.5100.88.0.2.2.false"`,
		"5,210</strong> rows parsed", "5.1 MB of 12.4 MB", "41%", `<progress max="12400000" value="5100000"`,
		`missing field &#34;response&#34;`, ">17<", ">912<")

	// Accepted but not yet indexed for search: still live, and says so.
	ix := sampleContribution("accepted")
	ix.Indexing = true
	ih := render(t, ContributionLive(ix))
	mustContain(t, "indexing", ih, `data-final="true"`, `sse-connect="/contributions/812/events?state=accepted.`, `.true"`, `id="indexing-note"`, "Adding the accepted records to search")
	if ah := render(t, ContributionLive(sampleContribution("accepted"))); strings.Contains(ah, "indexing-note") || strings.Contains(ah, "sse-connect") {
		t.Error("indexing note or live stream on an indexed contribution")
	}
	rv := sampleContribution("in_review")
	rv.Indexing = true
	if rh := render(t, ContributionLive(rv)); strings.Contains(rh, "indexing-note") || strings.Contains(rh, "sse-connect") {
		t.Error("indexing note or live stream on a contribution in review")
	}

	f := sampleContribution("failed")
	fh := render(t, ContributionLive(f))
	mustContain(t, "failed", fh, "first 100 of 130", ">file<", "zip bomb", "nothing was kept")
	if n := strings.Count(fh, "not valid UTF-8"); n != 99 {
		t.Errorf("failed: %d UTF-8 problems listed, want 99 (first 100 minus the file-level one)", n)
	}

	r := sampleContribution("rejected")
	mustContain(t, "rejected", render(t, ContributionLive(r)), "Reviewer's reason:", "paraphrase and cite the rule")

	if ContributionLiveState(p) == ContributionLiveState(sampleContribution("pending")) {
		t.Error("live state does not change with status")
	}
	q := p
	q.Progress++
	if ContributionLiveState(p) == ContributionLiveState(q) {
		t.Error("live state does not change with progress")
	}
}

func TestContributionPageReview(t *testing.T) {
	rv := render(t, ContributionPage(page(plainUser, "C", "datanets"), reviewer(sampleContribution("in_review"))))
	mustContain(t, "reviewer", rv, `id="contribution"`, `action="/contributions/812/review"`, `name="decision" value="accept"`,
		`name="decision" value="reject"`, `<textarea class="textarea" id="reject-reason" name="reason" rows="2" required`,
		"Accept 412 records", "Reject with reason", `action="/contributions/`+"812"+`/records/`+recH1+`"`,
		"Fix this record", `name="instruction"`, "Compare with the matching record", "PII: email",
		`href="/datanets/maritime-law-qa"`, "Maritime law Q&amp;A", "12.4 MB", `data-copy="`+shaH+`"`)
	mustNotContain(t, "reviewer", rv, "sse-connect", "<script>alert(1)</script>")
	assertCSPSafe(t, "reviewer", rv)

	other := render(t, ContributionPage(page(plainUser, "C", "datanets"), sampleContribution("in_review")))
	mustNotContain(t, "contributor", other, "/review\"", `name="decision"`, "Fix this record", "/records/")
	mustContain(t, "contributor", other, "A reviewer decides")

	done := render(t, ContributionPage(page(plainUser, "C", "datanets"), reviewer(sampleContribution("accepted"))))
	mustNotContain(t, "accepted", done, `name="decision"`, "Fix this record")
	mustContain(t, "accepted", done, "412 records joined")

	live := render(t, ContributionPage(page(plainUser, "C", "datanets"), reviewer(sampleContribution("processing"))))
	mustContain(t, "processing page", live, `sse-connect="/contributions/812/events?state=`)
	mustNotContain(t, "processing page", live, `name="decision"`)
}

func TestFormatHelpersDatanets(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1 kB", 1500: "1.5 kB", 25_000_000: "25 MB", 12_400_000: "12.4 MB", 150_000_000: "150 MB", 3_000_000_000: "3 GB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1k", 48213: "48.2k", 9120: "9.1k", 250_400: "250k", 1_284_410: "1.2M", 25_000_000: "25M", 120_000_000: "120M"} {
		if got := compactInt(n); got != want {
			t.Errorf("compactInt(%d) = %q, want %q", n, got, want)
		}
	}
	if got := bpsLabel(4362); got != "43.6%" {
		t.Errorf("bpsLabel = %q", got)
	}
	if got := bpsWidth(12000); got != "100.00" {
		t.Errorf("bpsWidth clamps: %q", got)
	}
	l := DatanetList{Query: "a b", Tag: "law", Sort: "name"}
	if got := listHref(l, "tag", ""); got != "/datanets?q=a+b&sort=name" {
		t.Errorf("listHref = %q", got)
	}
	if got := listHref(DatanetList{}, "schema", ""); got != "/datanets" {
		t.Errorf("listHref(empty) = %q", got)
	}
}
