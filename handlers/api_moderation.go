package handlers

import (
	"net/http"

	"github.com/modelfactory/modelfactory/store"
)

func reportJSON(r store.Report) map[string]any {
	return map[string]any{"id": r.ID, "target": r.Target.String(), "reporter": r.Reporter, "category": r.Category,
		"details": r.Details, "status": r.Status, "resolution": r.Resolution, "resolvedBy": r.ResolvedBy,
		"resolvedAt": r.ResolvedAt, "createdAt": r.CreatedAt}
}

// APICreateReport files a report. POST /api/v1/reports
// {"target":"datanet:slug","category":"spam","details":"…"}: 201 for a new
// report, 200 with the open one when this wallet already reported it.
func (h *Handlers) APICreateReport(w http.ResponseWriter, r *http.Request) {
	var in store.ReportInput
	if err := decodeJSON(r, &in); err != nil {
		h.Fail(w, r, err)
		return
	}
	rep, created, err := h.Store.CreateReport(r.Context(), actor(r), in)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, reportJSON(*rep))
}

// APIReports lists reports grouped by target, with each target's current
// state. GET /api/v1/admin/reports?status=open|dismissed|actioned|all&type=&page=
func (h *Handlers) APIReports(w http.ResponseWriter, r *http.Request) {
	rq, page := reportQuery(r, reportGroupsPerPage)
	groups, total, err := h.Store.ReportGroups(r.Context(), rq)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(groups))
	for _, g := range groups {
		reports := make([]map[string]any, 0, len(g.Reports))
		for _, rep := range g.Reports {
			reports = append(reports, reportJSON(rep))
		}
		sub := g.Subject
		out = append(out, map[string]any{"target": g.Target.String(), "count": g.Count, "firstAt": g.FirstAt, "lastAt": g.LastAt,
			"reports": reports, "subject": map[string]any{"exists": sub.Exists, "title": sub.Title, "status": sub.Status,
				"owner": sub.Owner, "ownerBanned": sub.OwnerBanned, "href": sub.Href, "text": sub.Text}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": out, "total": total, "page": page})
}

// APIAction performs a moderation action.
// POST /api/v1/admin/actions {"action","target","reason"}
func (h *Handlers) APIAction(w http.ResponseWriter, r *http.Request) {
	var in store.Action
	if err := decodeJSON(r, &in); err != nil {
		h.Fail(w, r, err)
		return
	}
	res, err := h.moderate(r, in)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"action": res.Action, "target": res.Target.String(), "before": res.Before,
		"after": res.After, "reportsClosed": res.ReportsClosed})
}

// APIAudit searches the audit log.
// GET /api/v1/admin/audit?actor=&target=&action=&page=
func (h *Handlers) APIAudit(w http.ResponseWriter, r *http.Request) {
	aq, page := auditQuery(r)
	entries, total, err := h.Store.SearchAudit(r.Context(), aq)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(entries))
	for _, e := range entries {
		out = append(out, map[string]any{"id": e.ID, "actor": e.Actor, "action": e.Action, "target": e.TargetType + ":" + e.TargetID,
			"before": e.Before, "after": e.After, "reason": e.Reason, "createdAt": e.CreatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out, "total": total, "page": page})
}
