package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/ingest"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
)

// ratingFlags names the rating issue flags and their hotkeys.
var ratingFlags = []views.FlagOption{
	{Key: "factual_error", Label: "Factual error", Hotkey: "f"},
	{Key: "toxic", Label: "Toxic", Hotkey: "t"},
	{Key: "pii", Label: "Personal data", Hotkey: "p"},
	{Key: "off_topic", Label: "Off-topic", Hotkey: "o"},
}

// idParam parses a numeric URL parameter; anything else is a 404 (there is
// nothing at that address).
func idParam(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, name), 10, 64)
	if err != nil || id <= 0 {
		return 0, store.ErrNotFound
	}
	return id, nil
}

func labelRow(p *store.LabelProject, rights store.LabelRights) views.LabelProjectRow {
	return views.LabelProjectRow{ID: p.ID, Name: p.Name, Datanet: p.DatanetName, DatanetSlug: p.DatanetSlug, Task: p.Task,
		Source: p.Source, Version: p.Version, Overlap: p.Overlap, Access: p.Access, Status: p.Status, Items: p.Items,
		Done: p.Done, Review: p.Review, Labels: p.Filled, Goal: p.Items * int64(p.Overlap),
		CanLabel: rights.Label, CanManage: rights.Manage, CanReview: rights.Review}
}

// recordBuilder validates and hashes a labeled record exactly as ingest
// does for the project's Datanet.
func (h *Handlers) recordBuilder(r *http.Request, p *store.LabelProject) (store.RecordBuilder, error) {
	d, err := h.Store.DatanetBySlug(r.Context(), p.DatanetSlug)
	if err != nil {
		return nil, err
	}
	schema := ingest.Schema{Kind: d.Schema, Labels: d.Labels}
	lim := ingest.DefaultLimits()
	return func(fields map[string]string) (store.IngestRecord, error) {
		rec, err := ingest.BuildRecord(fields, schema, lim)
		if err != nil {
			return store.IngestRecord{}, err
		}
		var pii json.RawMessage
		if len(rec.PII) > 0 {
			pii, _ = json.Marshal(rec.PII)
		}
		return store.IngestRecord{Hash: rec.Hash, Canonical: string(rec.Canonical), Fields: rec.Fields, Chars: rec.Chars, PII: pii,
			Bands: rec.BandKeys[:], Sketch: rec.Signature.Sketch(), HasSketch: true}, nil
	}, nil
}

// LabelingHome lists projects. GET /labeling
func (h *Handlers) LabelingHome(w http.ResponseWriter, r *http.Request) {
	ps, rights, err := h.Store.VisibleLabelProjects(r.Context(), actor(r), 200)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	var home views.LabelingHome
	for i := range ps {
		home.Projects = append(home.Projects, labelRow(&ps[i], rights[i]))
	}
	if home.Datanets, err = h.datanetOptions(r); err != nil {
		h.Fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, views.LabelingPage(h.page(w, r, "Labeling", "labeling"), home))
}

func (h *Handlers) datanetOptions(r *http.Request) ([]views.DatanetOption, error) {
	ds, err := h.Store.LabelableDatanets(r.Context(), actor(r))
	if err != nil {
		return nil, err
	}
	out := make([]views.DatanetOption, len(ds))
	for i, d := range ds {
		out[i] = views.DatanetOption{Slug: d.Slug, Name: d.Name, Schema: d.Schema, Labels: d.Labels, Versions: d.Versions}
	}
	return out, nil
}

func labelInputFromForm(r *http.Request) store.LabelProjectInput {
	blind := r.PostFormValue("blind") != ""
	in := store.LabelProjectInput{Datanet: r.PostFormValue("datanet"), Name: r.PostFormValue("name"), Task: r.PostFormValue("task"),
		Labels: splitList(r.PostFormValue("labels")), Source: r.PostFormValue("source"), Guidelines: r.PostFormValue("guidelines"),
		Blind: &blind, Access: r.PostFormValue("access"), RewardWei: r.PostFormValue("rewardWei"), Status: r.PostFormValue("status")}
	in.Version, _ = strconv.Atoi(strings.TrimSpace(r.PostFormValue("version")))
	in.Overlap, _ = strconv.Atoi(strings.TrimSpace(r.PostFormValue("overlap")))
	in.LeaseSeconds, _ = strconv.Atoi(strings.TrimSpace(r.PostFormValue("leaseSeconds")))
	if t := strings.TrimSpace(r.PostFormValue("agreementThreshold")); t != "" {
		v, err := strconv.ParseFloat(t, 64)
		if err != nil {
			v = math.NaN() // refused by validation with a field message
		}
		in.AgreementThreshold = &v
	}
	return in
}

// labelFormErrors adds messages for numbers the form could not parse.
func labelFormErrors(r *http.Request, fields map[string]string) map[string]string {
	for _, k := range []string{"version", "overlap", "leaseSeconds"} {
		if v := strings.TrimSpace(r.PostFormValue(k)); v != "" {
			if _, err := strconv.Atoi(v); err != nil && fields[k] == "" {
				fields[k] = "Enter a whole number."
			}
		}
	}
	return fields
}

func labelFormOf(in store.LabelProjectInput) views.LabelProjectForm {
	f := views.LabelProjectForm{Datanet: in.Datanet, Name: in.Name, Task: in.Task, Labels: strings.Join(in.Labels, ", "),
		Source: in.Source, Guidelines: in.Guidelines, Access: in.Access, RewardWei: in.RewardWei, Status: in.Status,
		Blind: in.Blind == nil || *in.Blind}
	if in.Version > 0 {
		f.Version = strconv.Itoa(in.Version)
	}
	if in.Overlap > 0 {
		f.Overlap = strconv.Itoa(in.Overlap)
	}
	if in.LeaseSeconds > 0 {
		f.LeaseSeconds = strconv.Itoa(in.LeaseSeconds)
	}
	if in.AgreementThreshold != nil && !math.IsNaN(*in.AgreementThreshold) {
		f.Threshold = strconv.FormatFloat(*in.AgreementThreshold, 'f', -1, 64)
	}
	return f
}

// NewLabelProject shows the create form. GET /labeling/new?datanet=slug
func (h *Handlers) NewLabelProject(w http.ResponseWriter, r *http.Request) {
	opts, err := h.datanetOptions(r)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	f := labelFormOf(store.LabelProjectInput{Datanet: r.URL.Query().Get("datanet"), Task: store.TaskClassify, Source: store.LabelSourceVersion,
		Overlap: 3, LeaseSeconds: 300, Access: store.LabelAccessSignedIn, RewardWei: "0"})
	f.Threshold, f.Datanets = "0.6", opts
	for _, d := range opts {
		if d.Slug == f.Datanet || f.Datanet == "" {
			f.Datanet = d.Slug
			if len(d.Versions) > 0 {
				f.Version = strconv.Itoa(d.Versions[0])
			}
			if d.Schema == store.SchemaInstruction && len(d.Labels) == 0 {
				f.Task = store.TaskRate
			}
			break
		}
	}
	h.render(w, r, http.StatusOK, views.LabelProjectFormPage(h.page(w, r, "New label project", "labeling"), f))
}

// CreateLabelProject handles the create form. POST /labeling/projects
func (h *Handlers) CreateLabelProject(w http.ResponseWriter, r *http.Request) {
	in := labelInputFromForm(r)
	p, err := h.Store.CreateLabelProject(r.Context(), actor(r), in)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		f := labelFormOf(in)
		f.Errors = labelFormErrors(r, ve.Fields)
		f.Datanets, _ = h.datanetOptions(r)
		h.render(w, r, http.StatusUnprocessableEntity, views.LabelProjectFormPage(h.page(w, r, "New label project", "labeling"), f))
		return
	}
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	addFlash(w, r, "success", fmt.Sprintf("Label project created with %d items.", p.Items))
	http.Redirect(w, r, fmt.Sprintf("/labeling/projects/%d", p.ID), http.StatusSeeOther)
}

// projectFromURL loads the {id} project the viewer may see.
func (h *Handlers) projectFromURL(w http.ResponseWriter, r *http.Request) (*store.LabelProject, store.LabelRights, bool) {
	id, err := idParam(r, "id")
	if err == nil {
		var p *store.LabelProject
		var rights store.LabelRights
		if p, rights, err = h.Store.VisibleLabelProject(r.Context(), actor(r), id); err == nil {
			return p, rights, true
		}
	}
	h.Fail(w, r, err)
	return nil, store.LabelRights{}, false
}

func agreementView(rep *store.LabelAgreement) *views.LabelAgreementView {
	v := &views.LabelAgreementView{Metric: rep.Metric, Alpha: "—", AlphaOK: rep.AlphaOK, Pairable: rep.Pairable, Done: rep.Done,
		Review: rep.Review, Tied: rep.Tied}
	if rep.AlphaOK {
		v.Alpha = strconv.FormatFloat(rep.Alpha, 'f', 3, 64)
	}
	v.Chart = views.ChartSpec{XLabel: "labeler", YLabel: "% agreeing", Series: []views.ChartSeries{{Label: "Agreement with final answer", Unit: "%"}}, Height: 180}
	v.Chart.Y = [][]*float64{{}}
	for i, l := range rep.Labelers {
		share := "—"
		if l.Total > 0 {
			share = fmt.Sprintf("%.0f%%", l.Share*100)
			pct := math.Round(l.Share * 1000 / 10)
			v.Chart.Y[0] = append(v.Chart.Y[0], &pct)
		} else {
			v.Chart.Y[0] = append(v.Chart.Y[0], nil)
		}
		v.Chart.X = append(v.Chart.X, float64(i+1))
		v.Labelers = append(v.Labelers, views.LabelerRate{Labeler: l.Labeler, Agreed: l.Agreed, Total: l.Total, Share: share})
	}
	return v
}

// ShowLabelProject shows a project. GET /labeling/projects/{id}
func (h *Handlers) ShowLabelProject(w http.ResponseWriter, r *http.Request) {
	p, rights, ok := h.projectFromURL(w, r)
	if !ok {
		return
	}
	a := actor(r)
	pr, err := h.Store.LabelProgressFor(r.Context(), a, p.ID)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	v := views.LabelProjectView{LabelProjectRow: labelRow(p, rights), GuidelinesHTML: renderMarkdown(p.Guidelines), LabelSet: p.Labels,
		Blind: p.Blind, Threshold: p.AgreementThreshold, LeaseSeconds: p.LeaseSeconds, RewardWei: p.RewardWei.String(),
		CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt, Why: rights.Why, Mine: pr.Mine}
	v.Goal = pr.LabelsGoal
	if rights.Manage || rights.Review {
		rep, err := h.Store.LabelAgreementReport(r.Context(), a, p.ID)
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		v.Agreement = agreementView(rep)
	}
	if rights.Manage {
		if v.Members, err = h.Store.LabelProjectMembers(r.Context(), p.ID); err != nil {
			h.Fail(w, r, err)
			return
		}
	}
	page := h.page(w, r, p.Name, "labeling")
	page.Breadcrumbs = []views.Crumb{{Label: "Labeling", Href: "/labeling"}, {Label: p.Name}}
	page.Charts = v.Agreement != nil && len(v.Agreement.Labelers) > 0
	h.render(w, r, http.StatusOK, views.LabelProjectPage(page, v))
}

// EditLabelProject shows the settings form. GET /labeling/projects/{id}/edit
func (h *Handlers) EditLabelProject(w http.ResponseWriter, r *http.Request) {
	p, rights, ok := h.projectFromURL(w, r)
	if !ok {
		return
	}
	if !rights.Manage {
		h.Forbidden(w, r)
		return
	}
	t := p.AgreementThreshold
	f := labelFormOf(store.LabelProjectInput{Name: p.Name, Guidelines: p.Guidelines, Access: p.Access, AgreementThreshold: &t,
		LeaseSeconds: p.LeaseSeconds, RewardWei: p.RewardWei.String(), Status: p.Status})
	f.ID = p.ID
	h.render(w, r, http.StatusOK, views.LabelProjectFormPage(h.page(w, r, "Edit "+p.Name, "labeling"), f))
}

// UpdateLabelProject saves the settings form. POST /labeling/projects/{id}
func (h *Handlers) UpdateLabelProject(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	in := labelInputFromForm(r)
	p, err := h.Store.UpdateLabelProject(r.Context(), actor(r), id, in)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		f := labelFormOf(in)
		f.ID, f.Errors = id, labelFormErrors(r, ve.Fields)
		h.render(w, r, http.StatusUnprocessableEntity, views.LabelProjectFormPage(h.page(w, r, "Edit label project", "labeling"), f))
		return
	}
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	addFlash(w, r, "success", "Settings saved.")
	http.Redirect(w, r, fmt.Sprintf("/labeling/projects/%d", p.ID), http.StatusSeeOther)
}

// InviteLabeler adds an invited labeler. POST /labeling/projects/{id}/members
func (h *Handlers) InviteLabeler(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	back := fmt.Sprintf("/labeling/projects/%d", id)
	if err := h.Store.InviteLabeler(r.Context(), actor(r), id, r.PostFormValue("address")); err != nil {
		h.failOrFlash(w, r, err, back)
		return
	}
	addFlash(w, r, "success", "Labeler invited.")
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// ApplyLabelResults writes decided answers back to the Datanet.
// POST /labeling/projects/{id}/apply
func (h *Handlers) ApplyLabelResults(w http.ResponseWriter, r *http.Request) {
	p, _, ok := h.projectFromURL(w, r)
	if !ok {
		return
	}
	res, err := h.applyResults(r, p)
	back := fmt.Sprintf("/labeling/projects/%d", p.ID)
	if err != nil {
		h.failOrFlash(w, r, err, back)
		return
	}
	addFlash(w, r, "success", fmt.Sprintf("Applied: %d records replaced, %d unchanged, %d skipped. Publish a new version of the Datanet to include them.",
		res.Replaced, res.Unchanged, res.Skipped))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (h *Handlers) applyResults(r *http.Request, p *store.LabelProject) (*store.ApplyResult, error) {
	build, err := h.recordBuilder(r, p)
	if err != nil {
		return nil, err
	}
	return h.Store.ApplyLabelResults(r.Context(), actor(r), p.ID, build)
}

// ExportLabels streams a project's labels as JSON Lines.
// GET /labeling/projects/{id}/export and /api/v1/labeling/projects/{id}/export
func (h *Handlers) ExportLabels(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	started := false
	var enc *json.Encoder
	err = h.Store.ExportLabels(r.Context(), actor(r), id, func(row store.LabelExportRow) error {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="label-project-%d.jsonl"`, id))
			enc = json.NewEncoder(w)
		}
		return enc.Encode(row)
	})
	if err != nil {
		if !started {
			h.Fail(w, r, err)
			return
		}
		h.Log.ErrorContext(r.Context(), "label export broke off", "err", err, "project", id)
		return
	}
	if !started {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
	}
}

// annotateView builds the annotation fragment for a lease (nil: nothing
// left) with fresh progress.
func (h *Handlers) annotateView(r *http.Request, p *store.LabelProject, l *store.Lease) (views.Annotate, error) {
	a := views.Annotate{ProjectID: p.ID, ProjectName: p.Name, DatanetSlug: p.DatanetSlug, Task: p.Task, Labels: p.Labels, Flags: ratingFlags}
	pr, err := h.Store.LabelProgressFor(r.Context(), actor(r), p.ID)
	if err != nil {
		return a, err
	}
	a.Mine, a.Done, a.Items, a.Given, a.Goal = pr.Mine, pr.Done, pr.Items, pr.Labels, pr.LabelsGoal
	if l != nil {
		it := &views.AnnotateItem{ID: l.ItemID, Token: l.Token, Hash: l.Record.Hash, ExpiresAt: l.ExpiresAt}
		for _, f := range SchemaFields(p.DatanetSchema) {
			if v, ok := l.Record.Fields[f]; ok {
				it.Fields = append(it.Fields, views.Field{Name: f, Value: v})
			}
		}
		if prev := l.Previous; prev != nil {
			it.Label, it.Rating, it.Flags, it.Response = prev.Label, prev.Rating, prev.Flags, prev.Response
		}
		a.Item = it
	}
	return a, nil
}

// nextLease leases the viewer's next item; nil when nothing is left.
func (h *Handlers) nextLease(r *http.Request, id int64) (*store.Lease, error) {
	l, err := h.Store.NextLabelItem(r.Context(), actor(r), id)
	if errors.Is(err, store.ErrNoLabelItems) {
		return nil, nil
	}
	return l, err
}

// Annotate is the annotation page. GET /labeling/projects/{id}/label
func (h *Handlers) Annotate(w http.ResponseWriter, r *http.Request) {
	p, _, ok := h.projectFromURL(w, r)
	if !ok {
		return
	}
	l, err := h.nextLease(r, p.ID)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	a, err := h.annotateView(r, p, l)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	a.GuidelinesHTML = renderMarkdown(p.Guidelines)
	page := h.page(w, r, "Label: "+p.Name, "labeling")
	page.Breadcrumbs = []views.Crumb{{Label: "Labeling", Href: "/labeling"}, {Label: p.Name, Href: fmt.Sprintf("/labeling/projects/%d", p.ID)}, {Label: "Label"}}
	page.Scripts = []string{"label.js"}
	page.Wide = true
	h.render(w, r, http.StatusOK, views.AnnotatePage(page, a))
}

// labelValueFromForm reads an answer from the annotation or review form.
func labelValueFromForm(r *http.Request) store.LabelValue {
	v := store.LabelValue{Label: r.PostFormValue("label"), Response: r.PostFormValue("response"), Flags: r.PostForm["flags"]}
	if s := r.PostFormValue("rating"); s != "" {
		v.Rating, _ = strconv.Atoi(s)
	}
	return v
}

// AnnotateAction handles the annotation form: submit, skip or undo, then
// answers with the next item's fragment (htmx) or a redirect (no script).
// POST /labeling/projects/{id}/label
func (h *Handlers) AnnotateAction(w http.ResponseWriter, r *http.Request) {
	p, _, ok := h.projectFromURL(w, r)
	if !ok {
		return
	}
	a := actor(r)
	itemID, _ := strconv.ParseInt(r.PostFormValue("item"), 10, 64)
	token := r.PostFormValue("lease")
	var next *store.Lease
	var err error
	msg := ""
	switch r.PostFormValue("action") {
	case "skip":
		if err = h.Store.SkipLabelItem(r.Context(), a, itemID, token, r.PostFormValue("skip_reason")); err == nil {
			msg = "Skipped."
		}
	case "undo":
		if next, err = h.Store.UndoLastLabel(r.Context(), a, p.ID); err == nil {
			msg = "Your last answer is back for a change."
		}
	default:
		var res *store.SubmitResult
		if res, err = h.Store.SubmitLabel(r.Context(), a, itemID, token, labelValueFromForm(r)); err == nil {
			msg = "Saved."
			if res.Duplicate {
				msg = "Already saved."
			}
		}
	}
	status := http.StatusOK
	var ve *store.ValidationError
	if err != nil && !errors.As(err, &ve) {
		h.Fail(w, r, err)
		return
	}
	if r.Header.Get("HX-Request") == "" {
		if ve != nil {
			h.failOrFlash(w, r, err, fmt.Sprintf("/labeling/projects/%d/label", p.ID))
			return
		}
		addFlash(w, r, "success", msg)
		http.Redirect(w, r, fmt.Sprintf("/labeling/projects/%d/label", p.ID), http.StatusSeeOther)
		return
	}
	if next == nil {
		if next, err = h.nextLease(r, p.ID); err != nil {
			h.Fail(w, r, err)
			return
		}
	}
	view, err := h.annotateView(r, p, next)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	view.Message = msg
	if ve != nil {
		status = http.StatusUnprocessableEntity
		view.Errors = ve.Fields
		view.Message = ""
		if m, ok := ve.Fields["lease"]; ok {
			view.Error = m
		} else if m, ok := ve.Fields["undo"]; ok {
			view.Error = m
		} else if m, ok := ve.Fields["reason"]; ok {
			view.Error = m
		}
		// Keep what they chose so they only fix what is wrong.
		if view.Item != nil && view.Item.ID == itemID {
			v := labelValueFromForm(r)
			view.Item.Label, view.Item.Rating, view.Item.Flags, view.Item.Response = v.Label, v.Rating, v.Flags, v.Response
		}
	}
	h.render(w, r, status, views.AnnotateFragment(view))
}

// ReviewQueue is the adjudication page. GET /labeling/projects/{id}/review
func (h *Handlers) ReviewQueue(w http.ResponseWriter, r *http.Request) {
	p, rights, ok := h.projectFromURL(w, r)
	if !ok {
		return
	}
	items, err := h.Store.LabelReviewQueue(r.Context(), actor(r), p.ID, 50)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	q := views.ReviewQueue{Project: labelRow(p, rights), Task: p.Task, Labels: p.Labels, Flags: ratingFlags}
	for _, it := range items {
		ri := views.ReviewItem{ID: it.ID, Hash: it.Record.Hash, Tied: it.Tied, Agreement: "—"}
		if it.Agreement != nil {
			ri.Agreement = fmt.Sprintf("%.0f%%", *it.Agreement*100)
		}
		for _, f := range SchemaFields(p.DatanetSchema) {
			if v, ok := it.Record.Fields[f]; ok {
				ri.Fields = append(ri.Fields, views.Field{Name: f, Value: v})
			}
		}
		for _, ans := range it.Answers {
			ri.Answers = append(ri.Answers, views.ReviewAnswer{Labeler: ans.Labeler, Answer: answerText(p.Task, ans.Value),
				Value: answerRaw(p.Task, ans.Value), Seconds: fmt.Sprintf("%.0f s", ans.Seconds)})
		}
		q.Items = append(q.Items, ri)
	}
	page := h.page(w, r, "Review: "+p.Name, "labeling")
	page.Breadcrumbs = []views.Crumb{{Label: "Labeling", Href: "/labeling"}, {Label: p.Name, Href: fmt.Sprintf("/labeling/projects/%d", p.ID)}, {Label: "Review"}}
	h.render(w, r, http.StatusOK, views.ReviewQueuePage(page, q))
}

func answerRaw(task string, v store.LabelValue) string {
	switch task {
	case store.TaskRate:
		return strconv.Itoa(v.Rating)
	case store.TaskCorrect:
		return v.Response
	}
	return v.Label
}

func answerText(task string, v store.LabelValue) string {
	if task == store.TaskRate && len(v.Flags) > 0 {
		return fmt.Sprintf("%d · %s", v.Rating, strings.Join(v.Flags, ", "))
	}
	return answerRaw(task, v)
}

// DecideItem records a reviewer's final answer. POST /labeling/items/{id}/decision
func (h *Handlers) DecideItem(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	it, err := h.Store.AdjudicateItem(r.Context(), actor(r), id, labelValueFromForm(r), r.PostFormValue("reason"))
	if err != nil {
		back := "/labeling"
		if pid, e := h.Store.LabelItemProject(r.Context(), id); e == nil {
			back = fmt.Sprintf("/labeling/projects/%d/review", pid)
		}
		h.failOrFlash(w, r, err, back)
		return
	}
	addFlash(w, r, "success", fmt.Sprintf("Item %d decided.", it.ID))
	http.Redirect(w, r, fmt.Sprintf("/labeling/projects/%d/review", it.ProjectID), http.StatusSeeOther)
}
