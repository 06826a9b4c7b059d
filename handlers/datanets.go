package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/ingest"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
)

// actor is the store's view of the request's user.
func actor(r *http.Request) store.Actor {
	v := ViewerFrom(r.Context())
	if v == nil {
		return store.Actor{}
	}
	return store.Actor{UserID: v.User.ID, Address: v.User.Address, Admin: v.IsAdmin, Reviewer: v.HasRole(store.RoleReviewer)}
}

// pageNumber reads ?page= (1-based).
func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, 10000)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func summaryOf(d *store.Datanet) views.DatanetSummary {
	return views.DatanetSummary{Slug: d.Slug, Name: d.Name, Summary: d.Summary, Tags: d.Tags, Schema: d.Schema,
		Visibility: d.Visibility, Status: d.Status, Owner: d.Owner, Records: d.Records, Contributors: d.Contributors,
		Versions: d.Versions, UpdatedAt: d.UpdatedAt}
}

const datanetsPerPage = 20

// Datanets is the browse and search page. GET /datanets
func (h *Handlers) Datanets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page := pageNumber(r)
	dq := store.DatanetQuery{Q: q.Get("q"), Tag: q.Get("tag"), Schema: q.Get("schema"), Sort: q.Get("sort"),
		Limit: datanetsPerPage, Offset: (page - 1) * datanetsPerPage}
	items, total, err := h.Store.ListDatanets(r.Context(), actor(r), dq)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	tags, err := h.Store.PopularTags(r.Context(), 20)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	l := views.DatanetList{Query: dq.Q, Tag: dq.Tag, Schema: dq.Schema, Sort: dq.Sort, AllTags: tags,
		Pager: views.Pager{Page: page, PerPage: datanetsPerPage, Total: total, Href: pagerHref(r)}}
	for i := range items {
		l.Items = append(l.Items, summaryOf(&items[i]))
	}
	h.render(w, r, http.StatusOK, views.DatanetsPage(h.page(w, r, "Datanets", "datanets"), l))
}

// pagerHref is the current URL without its page parameter, ready for
// "&page=N" or "?page=N".
func pagerHref(r *http.Request) string {
	q := r.URL.Query()
	q.Del("page")
	if len(q) == 0 {
		return r.URL.Path
	}
	return r.URL.Path + "?" + q.Encode()
}

func formOf(in store.DatanetInput) views.DatanetForm {
	return views.DatanetForm{Name: in.Name, Summary: in.Summary, Description: in.Description,
		Tags: strings.Join(in.Tags, ", "), License: in.License, Schema: in.Schema, Labels: strings.Join(in.Labels, ", "),
		Visibility: in.Visibility, ContributionPolicy: in.ContributionPolicy, Licenses: store.Licenses}
}

func inputFromForm(r *http.Request) store.DatanetInput {
	return store.DatanetInput{
		Name: r.PostFormValue("name"), Summary: r.PostFormValue("summary"), Description: r.PostFormValue("description"),
		Tags: splitList(r.PostFormValue("tags")), License: r.PostFormValue("license"), Schema: r.PostFormValue("schema"),
		Labels: splitList(r.PostFormValue("labels")), Visibility: r.PostFormValue("visibility"),
		ContributionPolicy: r.PostFormValue("contribution_policy"),
	}
}

// NewDatanet shows the wizard. GET /datanets/new
func (h *Handlers) NewDatanet(w http.ResponseWriter, r *http.Request) {
	f := formOf(store.DatanetInput{License: "CC-BY-4.0", Schema: store.SchemaInstruction, Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyReview})
	h.render(w, r, http.StatusOK, views.DatanetFormPage(h.page(w, r, "New Datanet", "datanets"), f))
}

// CreateDatanet handles the wizard. POST /datanets
func (h *Handlers) CreateDatanet(w http.ResponseWriter, r *http.Request) {
	in := inputFromForm(r)
	d, err := h.Store.CreateDatanet(r.Context(), actor(r), in)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		f := formOf(in)
		f.Errors = ve.Fields
		h.render(w, r, http.StatusUnprocessableEntity, views.DatanetFormPage(h.page(w, r, "New Datanet", "datanets"), f))
		return
	}
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	addFlash(w, r, "success", "Datanet created as a draft. Add records, then publish it when it is ready.")
	http.Redirect(w, r, "/datanets/"+d.Slug, http.StatusSeeOther)
}

// EditDatanet shows the settings form. GET /datanets/{slug}/edit
func (h *Handlers) EditDatanet(w http.ResponseWriter, r *http.Request) {
	d, acc, err := h.Store.VisibleDatanet(r.Context(), actor(r), chi.URLParam(r, "slug"))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	if !acc.Manage {
		h.Forbidden(w, r)
		return
	}
	f := formOf(store.DatanetInput{Name: d.Name, Summary: d.Summary, Description: d.Description, Tags: d.Tags, License: d.License,
		Schema: d.Schema, Labels: d.Labels, Visibility: d.Visibility, ContributionPolicy: d.ContributionPolicy})
	f.Slug, f.Published = d.Slug, d.Status != store.DatanetDraft
	h.render(w, r, http.StatusOK, views.DatanetFormPage(h.page(w, r, "Edit "+d.Name, "datanets"), f))
}

// UpdateDatanet saves the settings form. POST /datanets/{slug}
func (h *Handlers) UpdateDatanet(w http.ResponseWriter, r *http.Request) {
	slug := chi.URLParam(r, "slug")
	in := inputFromForm(r)
	d, err := h.Store.UpdateDatanet(r.Context(), actor(r), slug, in)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		f := formOf(in)
		f.Slug, f.Errors = slug, ve.Fields
		if cur, err := h.Store.DatanetBySlug(r.Context(), slug); err == nil {
			f.Published = cur.Status != store.DatanetDraft
		}
		h.render(w, r, http.StatusUnprocessableEntity, views.DatanetFormPage(h.page(w, r, "Edit Datanet", "datanets"), f))
		return
	}
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	addFlash(w, r, "success", "Settings saved.")
	http.Redirect(w, r, "/datanets/"+d.Slug, http.StatusSeeOther)
}

// PublishDatanet opens a draft. POST /datanets/{slug}/publish
func (h *Handlers) PublishDatanet(w http.ResponseWriter, r *http.Request) {
	d, err := h.Store.PublishDatanet(r.Context(), actor(r), chi.URLParam(r, "slug"))
	if err != nil {
		h.failOrFlash(w, r, err, "/datanets/"+chi.URLParam(r, "slug"))
		return
	}
	addFlash(w, r, "success", d.Name+" is published: people can find it and contribute.")
	http.Redirect(w, r, "/datanets/"+d.Slug, http.StatusSeeOther)
}

// failOrFlash shows validation problems as a flash on the page the form
// came from; other errors go to Fail.
func (h *Handlers) failOrFlash(w http.ResponseWriter, r *http.Request, err error, back string) {
	var ve *store.ValidationError
	if errors.As(err, &ve) && !isAPI(r) {
		for _, m := range ve.Fields {
			addFlash(w, r, "danger", m)
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	h.Fail(w, r, err)
}

const recordsPerPage = 25

func recordRows(recs []store.Record, schema string) []views.RecordRow {
	out := make([]views.RecordRow, 0, len(recs))
	for _, rec := range recs {
		row := views.RecordRow{Hash: rec.Hash, Contributor: rec.Contributor, CreatedAt: rec.CreatedAt,
			NearDupOf: rec.NearDupOf, NearDupSim: rec.NearDupScore}
		for _, f := range SchemaFields(schema) {
			if v, ok := rec.Fields[f]; ok {
				row.Fields = append(row.Fields, views.Field{Name: f, Value: v})
			}
			if v, ok := rec.NearDupFields[f]; ok {
				row.NearDupFields = append(row.NearDupFields, views.Field{Name: f, Value: v})
			}
		}
		var flags []struct {
			Kind string `json:"kind"`
		}
		if json.Unmarshal(rec.PII, &flags) == nil {
			for _, f := range flags {
				row.PII = append(row.PII, f.Kind)
			}
		}
		out = append(out, row)
	}
	return out
}

// SchemaFields lists a schema's fields in display order.
func SchemaFields(schema string) []string {
	switch schema {
	case store.SchemaDocuments:
		return []string{"text"}
	case store.SchemaInstruction:
		return []string{"instruction", "input", "response"}
	case store.SchemaClassification:
		return []string{"text", "label"}
	}
	return nil
}

func contributionRow(c *store.Contribution) views.ContributionRow {
	return views.ContributionRow{ID: c.ID, Datanet: c.DatanetSlug, Contributor: c.Contributor, Source: c.Source, Filename: c.Filename,
		Status: c.Status, Accepted: c.Accepted, Duplicates: c.Duplicates, NearDups: c.NearDups, Rejected: c.Rejected, CreatedAt: c.CreatedAt}
}

func sharesOf(in []store.Share) []views.ContributorShare {
	out := make([]views.ContributorShare, len(in))
	for i, s := range in {
		out[i] = views.ContributorShare{Address: s.Address, Records: s.Records, ShareBps: s.ShareBps}
	}
	return out
}

// ShowDatanet is the Datanet page with its tabs. GET /datanets/{slug}
func (h *Handlers) ShowDatanet(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), actor(r)
	d, acc, err := h.Store.VisibleDatanet(ctx, a, chi.URLParam(r, "slug"))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	tab := r.URL.Query().Get("tab")
	switch tab {
	case "records", "versions", "contributions", "access":
	default:
		tab = "overview"
	}
	v := views.Datanet{
		DatanetSummary: summaryOf(d), DescriptionHTML: renderMarkdown(d.Description), License: d.License, Labels: d.Labels,
		ContributionPolicy: d.ContributionPolicy, CreatedAt: d.CreatedAt, Chars: d.Chars, IsOwner: d.OwnerID == a.UserID,
		CanContribute: acc.Contribute, CanReview: acc.Review, CanRead: acc.Read, Access: acc.Grant, Tab: tab,
		MaxUploadBytes: h.MaxUploadBytes,
	}
	if acc.Review {
		if v.PendingReviews, err = h.Store.CountInReview(ctx, d.ID); err != nil {
			h.Fail(w, r, err)
			return
		}
	}
	if acc.Read {
		lb, err := h.Store.Leaderboard(ctx, d.ID, 10)
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		v.Leaderboard = sharesOf(lb)
		vs, err := h.Store.Versions(ctx, d.ID)
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		for _, ver := range vs {
			v.VersionList = append(v.VersionList, views.DatanetVersion{Version: ver.Version, Records: ver.Records, Chars: ver.Chars,
				Tokens: ver.Tokens, MerkleRoot: ver.MerkleRoot, CreatedAt: ver.CreatedAt, Shares: sharesOf(ver.Shares), AnchorTx: ver.AnchorTx,
				ExportURL: fmt.Sprintf("/datanets/%s/versions/%d/export", d.Slug, ver.Version)})
		}
	}
	switch {
	case tab == "records" && acc.Read:
		page := pageNumber(r)
		total := d.Records
		var recs []store.Record
		var err error
		if v.RecordQuery = strings.TrimSpace(r.URL.Query().Get("q")); v.RecordQuery != "" {
			recs, total, err = h.Store.SearchRecords(ctx, d.ID, v.RecordQuery, recordsPerPage, (page-1)*recordsPerPage)
			v.RecordMatchesMore = total > store.SearchCountLimit
			if err == nil {
				v.RecordsIndexing, err = h.Store.UnindexedRecords(ctx, d.ID)
			}
		} else {
			recs, err = h.Store.DatanetRecords(ctx, d.ID, recordsPerPage, (page-1)*recordsPerPage)
		}
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		v.Records = recordRows(recs, d.Schema)
		v.RecordPager = views.Pager{Page: page, PerPage: recordsPerPage, Total: total, Href: pagerHref(r)}
	case tab == "contributions" && a.UserID != 0:
		only := a.UserID
		if acc.Review {
			only = 0
		}
		cs, err := h.Store.Contributions(ctx, d.ID, only, 100, 0)
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		for i := range cs {
			v.Contributions = append(v.Contributions, contributionRow(&cs[i]))
		}
	case tab == "access" && acc.Manage:
		reqs, err := h.Store.AccessRequests(ctx, d.ID)
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		members, err := h.Store.Members(ctx, d.ID)
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		for _, m := range members {
			v.Members = append(v.Members, views.MemberRow{Address: m.Address, Role: m.Role, AddedAt: m.AddedAt})
		}
		for _, ar := range reqs {
			status := ar.Status
			if status == "approved" && ar.ExpiresAt != nil && ar.ExpiresAt.Before(time.Now()) {
				status = "expired"
			}
			v.AccessRequests = append(v.AccessRequests, views.AccessRequestRow{ID: ar.ID, Datanet: ar.DatanetSlug, Requester: ar.Requester,
				Purpose: ar.Purpose, Status: status, ExpiresAt: ar.ExpiresAt, CreatedAt: ar.CreatedAt})
		}
	}
	p := h.page(w, r, d.Name, "datanets")
	p.Breadcrumbs = []views.Crumb{{Label: "Datanets", Href: "/datanets"}, {Label: d.Name}}
	h.render(w, r, http.StatusOK, views.DatanetPage(p, v))
}

// Contribute shows the upload and single-record forms. GET /datanets/{slug}/contribute
func (h *Handlers) Contribute(w http.ResponseWriter, r *http.Request) {
	d, acc, err := h.Store.VisibleDatanet(r.Context(), actor(r), chi.URLParam(r, "slug"))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	if !acc.Contribute {
		h.Fail(w, r, problem(http.StatusForbidden, "forbidden", "You can't contribute to this Datanet yet: it may be a draft, suspended, or need approved access."))
		return
	}
	p := h.page(w, r, "Contribute to "+d.Name, "datanets")
	p.Breadcrumbs = []views.Crumb{{Label: "Datanets", Href: "/datanets"}, {Label: d.Name, Href: "/datanets/" + d.Slug}, {Label: "Contribute"}}
	h.render(w, r, http.StatusOK, views.ContributePage(p, views.UploadPage{Datanet: summaryOf(d), Labels: d.Labels, MaxUploadBytes: h.MaxUploadBytes,
		ContributionPolicy: d.ContributionPolicy, License: d.License}))
}

// storeUpload streams the multipart "file" part (or, for mode=record, the
// single-record form) into object storage, content-addressed.
func (h *Handlers) storeUpload(r *http.Request, schema string) (store.ContributionInput, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var body struct {
			Records []map[string]any `json:"records"`
		}
		if err := decodeJSON(r, &body); err != nil {
			return store.ContributionInput{}, err
		}
		if len(body.Records) == 0 {
			return store.ContributionInput{}, problem(http.StatusBadRequest, "no_records", `Send {"records":[...]} with at least one record, or a file as multipart field "file".`)
		}
		return h.storeRecords(r.Context(), body.Records, "api")
	}
	if ct != "multipart/form-data" {
		return store.ContributionInput{}, problem(http.StatusUnsupportedMediaType, "unsupported_media_type", `Upload a file as multipart/form-data field "file", or send JSON {"records":[...]}.`)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return store.ContributionInput{}, &Problem{Status: http.StatusBadRequest, Code: "bad_multipart", Message: "The upload could not be read: send the file as multipart/form-data field \"file\".", Err: err}
	}
	form := map[string]any{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return store.ContributionInput{}, h.uploadErr(err)
		}
		name := part.FormName()
		if name == "file" && part.FileName() != "" {
			key, sum, size, err := blob.PutContent(r.Context(), h.Blobs, "uploads/", part)
			if err != nil {
				return store.ContributionInput{}, h.uploadErr(err)
			}
			if size == 0 {
				return store.ContributionInput{}, problem(http.StatusBadRequest, "empty_file", "The file is empty.")
			}
			return store.ContributionInput{Source: "file", Filename: cleanFilename(part.FileName()), BlobKey: key, SHA256: sum, SizeBytes: size}, nil
		}
		b, err := io.ReadAll(io.LimitReader(part, 1<<20))
		if err != nil {
			return store.ContributionInput{}, h.uploadErr(err)
		}
		form[name] = string(b)
	}
	if form["mode"] != "record" {
		return store.ContributionInput{}, problem(http.StatusBadRequest, "no_file", "Choose a file to upload.")
	}
	rec := map[string]any{}
	for _, f := range SchemaFields(schema) {
		if v, ok := form[f].(string); ok && strings.TrimSpace(v) != "" {
			rec[f] = v
		}
	}
	return h.storeRecords(r.Context(), []map[string]any{rec}, "form")
}

func (h *Handlers) uploadErr(err error) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return problem(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("The file is larger than the %.0f MB limit.", float64(h.MaxUploadBytes)/(1<<20)))
	}
	// A truncated or malformed body, or a client that went away: the
	// user's side. The cause stays in the log.
	return &Problem{Status: http.StatusBadRequest, Code: "bad_upload", Message: "The upload could not be read completely. Please try again.", Err: err}
}

// storeRecords writes records as a JSONL object so that form and API
// records go through exactly the same ingest as files.
func (h *Handlers) storeRecords(ctx context.Context, recs []map[string]any, source string) (store.ContributionInput, error) {
	var b strings.Builder
	for _, rec := range recs {
		line, err := json.Marshal(rec)
		if err != nil {
			return store.ContributionInput{}, err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	key, sum, size, err := blob.PutContent(ctx, h.Blobs, "uploads/", strings.NewReader(b.String()))
	if err != nil {
		return store.ContributionInput{}, err
	}
	return store.ContributionInput{Source: source, Filename: "records.jsonl", BlobKey: key, SHA256: sum, SizeBytes: size}, nil
}

func cleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

// CreateContribution accepts an upload or single record and enqueues its
// ingest. POST /datanets/{slug}/contributions (pages and API)
func (h *Handlers) CreateContribution(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), actor(r)
	slug := chi.URLParam(r, "slug")
	d, acc, err := h.Store.VisibleDatanet(ctx, a, slug)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	if !acc.Contribute {
		h.Fail(w, r, problem(http.StatusForbidden, "forbidden", "You can't contribute to this Datanet: it may be a draft, suspended, or need approved access."))
		return
	}
	in, err := h.storeUpload(r, d.Schema)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	c, err := h.Store.CreateContribution(ctx, a, slug, in, func(ctx context.Context, tx pgx.Tx, id int64) error {
		return h.EnqueueIngest(ctx, tx, id)
	})
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	url := fmt.Sprintf("/contributions/%d", c.ID)
	if isAPI(r) || strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusAccepted, map[string]any{"id": c.ID, "status": c.Status, "url": url})
		return
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
}

func contributionView(c *store.Contribution, acc store.Access) views.Contribution {
	v := views.Contribution{ContributionRow: contributionRow(c), DatanetName: c.DatanetName, SizeBytes: c.SizeBytes, SHA256: c.SHA256,
		Progress: c.ProgressRows, ReviewReason: c.ReviewReason, CanReview: acc.Review && c.Status == store.ContribInReview,
		Schema: c.Schema, Labels: c.Labels, Indexing: c.Indexing}
	for _, p := range c.Problems {
		v.Problems = append(v.Problems, views.Problem{Line: p.Line, Reason: p.Reason})
	}
	return v
}

func (h *Handlers) contributionFromURL(w http.ResponseWriter, r *http.Request) (*store.Contribution, store.Access, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		h.NotFound(w, r)
		return nil, store.Access{}, false
	}
	c, acc, err := h.Store.VisibleContribution(r.Context(), actor(r), id)
	if err != nil {
		h.Fail(w, r, err)
		return nil, acc, false
	}
	return c, acc, true
}

// ShowContribution is the per-contribution report. GET /contributions/{id}
func (h *Handlers) ShowContribution(w http.ResponseWriter, r *http.Request) {
	c, acc, ok := h.contributionFromURL(w, r)
	if !ok {
		return
	}
	v := contributionView(c, acc)
	page := pageNumber(r)
	recs, err := h.Store.ContributionRecords(r.Context(), c.ID, recordsPerPage, (page-1)*recordsPerPage)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	v.Records = recordRows(recs, c.Schema)
	v.RecordPager = views.Pager{Page: page, PerPage: recordsPerPage, Total: c.Accepted, Href: pagerHref(r)}
	p := h.page(w, r, fmt.Sprintf("Contribution #%d", c.ID), "datanets")
	p.Breadcrumbs = []views.Crumb{{Label: "Datanets", Href: "/datanets"}, {Label: c.DatanetName, Href: "/datanets/" + c.DatanetSlug}, {Label: fmt.Sprintf("Contribution #%d", c.ID)}}
	h.render(w, r, http.StatusOK, views.ContributionPage(p, v))
}

// ContributionEvents streams the live part of the report over Server-Sent
// Events until the status is final. GET /contributions/{id}/events
func (h *Handlers) ContributionEvents(w http.ResponseWriter, r *http.Request) {
	c, acc, ok := h.contributionFromURL(w, r)
	if !ok {
		return
	}
	flusher, ok := sseStream(w)
	if !ok {
		h.Fail(w, r, errors.New("streaming unsupported"))
		return
	}
	// htmx's SSE extension reconnects after every swap, so the page tells
	// us what it shows (?state=) and we send only when that changed.
	last := r.URL.Query().Get("state")
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		v := contributionView(c, acc)
		if st := views.ContributionLiveState(v); st != last {
			last = st
			var buf strings.Builder
			if err := views.ContributionLive(v).Render(r.Context(), &buf); err != nil {
				return
			}
			writeSSE(w, "status", 0, buf.String())
			flusher.Flush()
		}
		if c.Final() && !(c.Indexing && c.Status == store.ContribAccepted) {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		next, err := h.Store.ContributionByID(r.Context(), c.ID)
		if err != nil {
			return
		}
		c = next
	}
}

// ReviewContribution accepts or rejects. POST /contributions/{id}/review
func (h *Handlers) ReviewContribution(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		h.NotFound(w, r)
		return
	}
	decision, reason := r.PostFormValue("decision"), r.PostFormValue("reason")
	if isJSON(r) {
		var body struct {
			Decision string `json:"decision"`
			Reason   string `json:"reason"`
		}
		if err := decodeJSON(r, &body); err != nil {
			h.Fail(w, r, err)
			return
		}
		decision, reason = body.Decision, body.Reason
	}
	if decision != "accept" && decision != "reject" {
		h.Fail(w, r, &store.ValidationError{Fields: map[string]string{"decision": `Decide "accept" or "reject".`}})
		return
	}
	c, err := h.Store.ReviewContribution(r.Context(), actor(r), id, decision == "accept", strings.TrimSpace(reason))
	if isAPI(r) {
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, contributionJSON(c))
		return
	}
	back := fmt.Sprintf("/contributions/%d", id)
	if err != nil {
		h.failOrFlash(w, r, err, back)
		return
	}
	if c.Status == store.ContribAccepted {
		addFlash(w, r, "success", fmt.Sprintf("Accepted %d records into %s.", c.Accepted, c.DatanetName))
	} else {
		addFlash(w, r, "info", "Contribution rejected; the contributor sees your reason.")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func isJSON(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/json"
}

// PublishVersion snapshots accepted records. POST /datanets/{slug}/versions
func (h *Handlers) PublishVersion(w http.ResponseWriter, r *http.Request) {
	slug := chi.URLParam(r, "slug")
	v, err := h.Store.PublishVersion(r.Context(), actor(r), slug, merkle.HexRoot)
	if isAPI(r) {
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, versionJSON(v))
		return
	}
	if err != nil {
		h.failOrFlash(w, r, err, "/datanets/"+slug)
		return
	}
	addFlash(w, r, "success", fmt.Sprintf("Published version %d: %d records, Merkle root %s…", v.Version, v.Records, v.MerkleRoot[:10]))
	http.Redirect(w, r, "/datanets/"+slug+"?tab=versions", http.StatusSeeOther)
}

// versionFromURL resolves /datanets/{slug}/versions/{v} for a reader.
func (h *Handlers) versionFromURL(w http.ResponseWriter, r *http.Request) (*store.Datanet, *store.Version, bool) {
	d, acc, err := h.Store.VisibleDatanet(r.Context(), actor(r), chi.URLParam(r, "slug"))
	if err != nil {
		h.Fail(w, r, err)
		return nil, nil, false
	}
	if !acc.Read {
		h.Fail(w, r, problem(http.StatusForbidden, "forbidden", "This Datanet's data needs approved access. Request access on its page."))
		return nil, nil, false
	}
	n, err := strconv.Atoi(chi.URLParam(r, "v"))
	if err != nil {
		h.NotFound(w, r)
		return nil, nil, false
	}
	v, err := h.Store.VersionByNumber(r.Context(), d.ID, n)
	if err != nil {
		h.Fail(w, r, err)
		return nil, nil, false
	}
	return d, v, true
}

// ExportVersion streams a version as JSONL: hash, the schema fields and
// the contributor's address. GET /datanets/{slug}/versions/{v}/export
func (h *Handlers) ExportVersion(w http.ResponseWriter, r *http.Request) {
	d, v, ok := h.versionFromURL(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-v%d.jsonl"`, d.Slug, v.Version))
	err := h.Store.ExportVersion(r.Context(), v.ID, func(row store.ExportRow) error {
		// The canonical JSON is an object; splice hash and contributor in
		// front so each line is one flat object.
		_, err := fmt.Fprintf(w, `{"hash":%q,"contributor":%q,%s`+"\n", row.Hash, row.Contributor, row.Canonical[1:])
		return err
	})
	if err != nil {
		h.Log.ErrorContext(r.Context(), "export version", "err", err)
	}
}

// RequestAccess files an access request. POST /datanets/{slug}/access-requests
func (h *Handlers) RequestAccess(w http.ResponseWriter, r *http.Request) {
	slug := chi.URLParam(r, "slug")
	purpose := r.PostFormValue("purpose")
	if isJSON(r) {
		var body struct {
			Purpose string `json:"purpose"`
		}
		if err := decodeJSON(r, &body); err != nil {
			h.Fail(w, r, err)
			return
		}
		purpose = body.Purpose
	}
	req, err := h.Store.RequestAccess(r.Context(), actor(r), slug, purpose)
	if isAPI(r) {
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"id": req.ID, "status": req.Status})
		return
	}
	if err != nil {
		h.failOrFlash(w, r, err, "/datanets/"+slug)
		return
	}
	addFlash(w, r, "success", "Access requested. The owner will approve or deny it.")
	http.Redirect(w, r, "/datanets/"+slug, http.StatusSeeOther)
}

// DecideAccess approves or denies. POST /access-requests/{id}/decision
func (h *Handlers) DecideAccess(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		h.NotFound(w, r)
		return
	}
	decision, expires := r.PostFormValue("decision"), r.PostFormValue("expires_at")
	if isJSON(r) {
		var body struct {
			Decision  string `json:"decision"`
			ExpiresAt string `json:"expiresAt"`
		}
		if err := decodeJSON(r, &body); err != nil {
			h.Fail(w, r, err)
			return
		}
		decision, expires = body.Decision, body.ExpiresAt
	}
	var exp *time.Time
	if expires != "" {
		t, err := time.Parse(time.RFC3339, expires)
		if err != nil {
			t, err = time.Parse("2006-01-02", expires)
			t = t.Add(24*time.Hour - time.Second)
		}
		if err != nil {
			h.Fail(w, r, &store.ValidationError{Fields: map[string]string{"expires_at": "Use a date (YYYY-MM-DD) or an RFC 3339 time."}})
			return
		}
		exp = &t
	}
	if decision != "approve" && decision != "deny" {
		h.Fail(w, r, &store.ValidationError{Fields: map[string]string{"decision": `Decide "approve" or "deny".`}})
		return
	}
	req, err := h.Store.DecideAccess(r.Context(), actor(r), id, decision == "approve", exp)
	if isAPI(r) {
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": req.ID, "status": req.Status, "expiresAt": req.ExpiresAt})
		return
	}
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	addFlash(w, r, "success", "Access "+req.Status+".")
	http.Redirect(w, r, "/datanets/"+req.DatanetSlug+"?tab=access", http.StatusSeeOther)
}

// FixRecord corrects a record of a contribution in review (fix-and-accept):
// the edited fields are validated and hashed exactly as ingest does.
// POST /contributions/{id}/records/{hash}
func (h *Handlers) FixRecord(w http.ResponseWriter, r *http.Request) {
	c, _, ok := h.contributionFromURL(w, r)
	if !ok {
		return
	}
	back := fmt.Sprintf("/contributions/%d", c.ID)
	fields := map[string]string{}
	for _, f := range SchemaFields(c.Schema) {
		if v := strings.TrimSpace(r.PostFormValue(f)); v != "" {
			fields[f] = v
		}
	}
	lim := ingest.DefaultLimits()
	rec, err := ingest.BuildRecord(fields, ingest.Schema{Kind: c.Schema, Labels: c.Labels}, lim)
	if err != nil {
		var pe *ingest.ProblemError
		if errors.As(err, &pe) {
			err = &store.ValidationError{Fields: map[string]string{"record": pe.Reason}}
		}
		h.failOrFlash(w, r, err, back)
		return
	}
	var pii json.RawMessage
	if len(rec.PII) > 0 {
		pii, _ = json.Marshal(rec.PII)
	}
	fixed, err := h.Store.FixRecord(r.Context(), actor(r), c.ID, chi.URLParam(r, "hash"), store.IngestRecord{
		Hash: rec.Hash, Canonical: string(rec.Canonical), Fields: rec.Fields, Chars: rec.Chars, PII: pii,
		Bands: rec.BandKeys[:], Sketch: rec.Signature.Sketch(), HasSketch: true})
	if err != nil {
		h.failOrFlash(w, r, err, back)
		return
	}
	addFlash(w, r, "success", "Record fixed; its new hash is "+fixed.Hash[:14]+"…")
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// AddMember adds an invitee or reviewer. POST /datanets/{slug}/members
// (form) and /api/v1/datanets/{slug}/members (JSON {"address","role"}).
func (h *Handlers) AddMember(w http.ResponseWriter, r *http.Request) {
	slug := chi.URLParam(r, "slug")
	address, role := r.PostFormValue("address"), r.PostFormValue("role")
	if isJSON(r) {
		var body struct {
			Address string `json:"address"`
			Role    string `json:"role"`
		}
		if err := decodeJSON(r, &body); err != nil {
			h.Fail(w, r, err)
			return
		}
		address, role = body.Address, body.Role
	}
	address = strings.TrimSpace(address)
	var err error
	if !common.IsHexAddress(address) || len(address) != 42 {
		err = &store.ValidationError{Fields: map[string]string{"address": "That is not an Ethereum address (0x followed by 40 hexadecimal digits)."}}
	} else {
		err = h.Store.AddMember(r.Context(), actor(r), slug, common.HexToAddress(address).Hex(), role)
	}
	if isAPI(r) {
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"address": common.HexToAddress(address).Hex(), "role": role})
		return
	}
	if err != nil {
		h.failOrFlash(w, r, err, "/datanets/"+slug+"?tab=access")
		return
	}
	addFlash(w, r, "success", "Added "+common.HexToAddress(address).Hex()+" as "+role+".")
	http.Redirect(w, r, "/datanets/"+slug+"?tab=access", http.StatusSeeOther)
}

// RemoveMember takes a role away. POST /datanets/{slug}/members/remove
func (h *Handlers) RemoveMember(w http.ResponseWriter, r *http.Request) {
	slug := chi.URLParam(r, "slug")
	if err := h.Store.RemoveMember(r.Context(), actor(r), slug, r.PostFormValue("address"), r.PostFormValue("role")); err != nil {
		h.Fail(w, r, err)
		return
	}
	addFlash(w, r, "success", "Removed.")
	http.Redirect(w, r, "/datanets/"+slug+"?tab=access", http.StatusSeeOther)
}
