package handlers

import (
	"net/http"

	"github.com/modelfactory/modelfactory/store"
)

func labelProjectJSON(p *store.LabelProject, rights store.LabelRights) map[string]any {
	labels := p.Labels
	if labels == nil {
		labels = []string{}
	}
	return map[string]any{
		"id": p.ID, "datanet": p.DatanetSlug, "name": p.Name, "task": p.Task, "labels": labels, "source": p.Source,
		"version": p.Version, "guidelines": p.Guidelines, "overlap": p.Overlap, "blind": p.Blind, "access": p.Access,
		"agreementThreshold": p.AgreementThreshold, "leaseSeconds": p.LeaseSeconds, "rewardWei": p.RewardWei.String(),
		"status": p.Status, "createdBy": p.CreatedBy, "createdAt": p.CreatedAt,
		"progress": map[string]any{"items": p.Items, "done": p.Done, "review": p.Review, "labels": p.Filled},
		"you":      map[string]any{"label": rights.Label, "manage": rights.Manage, "review": rights.Review, "why": rights.Why},
	}
}

func leaseJSON(l *store.Lease) map[string]any {
	out := map[string]any{
		"lease": l.Token, "item": l.ItemID, "project": l.ProjectID, "leasedAt": l.LeasedAt, "expiresAt": l.ExpiresAt,
		"record": map[string]any{"hash": l.Record.Hash, "fields": l.Record.Fields},
	}
	if l.Previous != nil {
		out["previous"] = l.Previous
	}
	return out
}

// APILabelProjects: GET /api/v1/labeling/projects
func (h *Handlers) APILabelProjects(w http.ResponseWriter, r *http.Request) {
	ps, rights, err := h.Store.VisibleLabelProjects(r.Context(), actor(r), 200)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(ps))
	for i := range ps {
		out = append(out, labelProjectJSON(&ps[i], rights[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": out})
}

// APICreateLabelProject: POST /api/v1/labeling/projects
func (h *Handlers) APICreateLabelProject(w http.ResponseWriter, r *http.Request) {
	var in store.LabelProjectInput
	if err := decodeJSON(r, &in); err != nil {
		h.Fail(w, r, err)
		return
	}
	p, err := h.Store.CreateLabelProject(r.Context(), actor(r), in)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, labelProjectJSON(p, store.LabelRights{Manage: true, Review: true, Label: true}))
}

// APILabelProject: GET /api/v1/labeling/projects/{id}
func (h *Handlers) APILabelProject(w http.ResponseWriter, r *http.Request) {
	p, rights, ok := h.projectFromURL(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, labelProjectJSON(p, rights))
}

// APINextLabelItem leases the next item: 200 with the lease, 204 when
// nothing is left for this labeler. GET /api/v1/labeling/projects/{id}/next
func (h *Handlers) APINextLabelItem(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	l, err := h.nextLease(r, id)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	if l == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, leaseJSON(l))
}

// labelBody is a submitted answer: the lease and the value's fields.
type labelBody struct {
	Lease string `json:"lease"`
	store.LabelValue
	Reason string `json:"reason"`
}

// APISubmitLabel submits an answer under a lease: 201 for a new label,
// 200 when the lease was already submitted (nothing changes).
// POST /api/v1/labeling/items/{id}/labels
func (h *Handlers) APISubmitLabel(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	var body labelBody
	if err := decodeJSON(r, &body); err != nil {
		h.Fail(w, r, err)
		return
	}
	res, err := h.Store.SubmitLabel(r.Context(), actor(r), id, body.Lease, body.LabelValue)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"label": res.LabelID, "item": id, "itemState": res.ItemState, "duplicate": res.Duplicate})
}

// APISkipLabelItem: POST /api/v1/labeling/items/{id}/skip {"lease","reason"}
func (h *Handlers) APISkipLabelItem(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	var body labelBody
	if err := decodeJSON(r, &body); err != nil {
		h.Fail(w, r, err)
		return
	}
	if err := h.Store.SkipLabelItem(r.Context(), actor(r), id, body.Lease, body.Reason); err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"item": id, "skipped": true})
}

// APIUndoLabel takes back the caller's last answer and leases its item
// again. POST /api/v1/labeling/projects/{id}/undo
func (h *Handlers) APIUndoLabel(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	l, err := h.Store.UndoLastLabel(r.Context(), actor(r), id)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, leaseJSON(l))
}

// APILabelAgreement: GET /api/v1/labeling/projects/{id}/agreement
func (h *Handlers) APILabelAgreement(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	rep, err := h.Store.LabelAgreementReport(r.Context(), actor(r), id)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	var alpha any // null when undefined
	if rep.AlphaOK {
		alpha = rep.Alpha
	}
	labelers := make([]map[string]any, 0, len(rep.Labelers))
	for _, l := range rep.Labelers {
		var share any
		if l.Total > 0 {
			share = l.Share
		}
		labelers = append(labelers, map[string]any{"labeler": l.Labeler, "agreed": l.Agreed, "total": l.Total, "share": share})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"metric": rep.Metric, "alpha": alpha, "pairableItems": rep.Pairable, "items": rep.Items, "done": rep.Done,
		"review": rep.Review, "tied": rep.Tied, "threshold": rep.Threshold, "labelers": labelers,
	})
}

// APILabelReviewQueue: GET /api/v1/labeling/projects/{id}/review
func (h *Handlers) APILabelReviewQueue(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	items, err := h.Store.LabelReviewQueue(r.Context(), actor(r), id, 100)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		out = append(out, map[string]any{"item": it.ID, "record": map[string]any{"hash": it.Record.Hash, "fields": it.Record.Fields},
			"agreement": it.Agreement, "tied": it.Tied, "labels": it.Answers})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

// APIDecideItem: POST /api/v1/labeling/items/{id}/decision {value fields, "reason"}
func (h *Handlers) APIDecideItem(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	var body labelBody
	if err := decodeJSON(r, &body); err != nil {
		h.Fail(w, r, err)
		return
	}
	it, err := h.Store.AdjudicateItem(r.Context(), actor(r), id, body.LabelValue, body.Reason)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"item": it.ID, "state": it.State, "final": it.Final, "decidedBy": it.DecidedBy})
}

// APIApplyLabelResults: POST /api/v1/labeling/projects/{id}/apply
func (h *Handlers) APIApplyLabelResults(w http.ResponseWriter, r *http.Request) {
	p, _, ok := h.projectFromURL(w, r)
	if !ok {
		return
	}
	res, err := h.applyResults(r, p)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"replaced": res.Replaced, "unchanged": res.Unchanged, "skipped": res.Skipped})
}
