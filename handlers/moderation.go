package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
)

const (
	reportGroupsPerPage = 20
	auditPerPage        = 50
)

// moderate runs an admin action after the one check the store cannot make:
// admins from MF_ADMIN_ADDRESSES are configuration, so they cannot be
// banned or lose the admin role from here.
func (h *Handlers) moderate(r *http.Request, act store.Action) (*store.ActionResult, error) {
	if t, err := store.ParseTarget(act.Target); err == nil && t.Type == store.TargetUser && h.Admins[t.ID] &&
		(act.Action == "ban" || act.Action == "revoke_admin") {
		return nil, &store.ValidationError{Fields: map[string]string{"target": "That wallet is an admin from MF_ADMIN_ADDRESSES: remove it from the configuration first."}}
	}
	return h.Store.Moderate(r.Context(), actor(r), act)
}

// actionSummary is the sentence an admin reads after an action.
func actionSummary(res *store.ActionResult) string {
	verbs := map[string]string{"dismiss": "Dismissed the reports about", "remove": "Removed", "suspend": "Suspended",
		"restore": "Restored", "ban": "Banned", "unban": "Unbanned"}
	verb, ok := verbs[res.Action]
	if op, role, found := strings.Cut(res.Action, "_"); !ok && found {
		verb = "Granted the " + role + " role to"
		if op == "revoke" {
			verb = "Revoked the " + role + " role from"
		}
	}
	s := fmt.Sprintf("%s %s.", verb, res.Target)
	if res.ReportsClosed > 0 {
		s += fmt.Sprintf(" %s closed.", plural(res.ReportsClosed, "report", "reports"))
	}
	return s
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// localReturn is where a form asks to go back to: its "return" field or the
// Referer, if it is a path on this site; otherwise fallback.
func (h *Handlers) localReturn(r *http.Request, fallback string) string {
	back := r.PostFormValue("return")
	if back == "" {
		if ref, err := url.Parse(r.Referer()); err == nil && (ref.Host == h.PublicURL.Host || ref.Host == r.Host) && ref.Path != "" {
			back = ref.RequestURI()
		}
	}
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.HasPrefix(back, "/\\") {
		return fallback
	}
	return back
}

// CreateReport files a report from a ReportButton form. POST /reports
func (h *Handlers) CreateReport(w http.ResponseWriter, r *http.Request) {
	back := h.localReturn(r, "/")
	in := store.ReportInput{Target: r.PostFormValue("target"), Category: r.PostFormValue("category"), Details: r.PostFormValue("details")}
	_, created, err := h.Store.CreateReport(r.Context(), actor(r), in)
	if err != nil {
		h.failOrFlash(w, r, err, back)
		return
	}
	if created {
		addFlash(w, r, "success", "Thank you — your report was sent to the moderators. You will be notified when they act on it.")
	} else {
		addFlash(w, r, "info", "You already reported this; the moderators have it in their queue.")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// reportQuery reads the queue's filters (?status=&type=&page=).
func reportQuery(r *http.Request, perPage int) (store.ReportQuery, int) {
	page := pageNumber(r)
	q := r.URL.Query()
	return store.ReportQuery{Status: q.Get("status"), Type: q.Get("type"), Limit: perPage, Offset: (page - 1) * perPage}, page
}

// ModerationPage is the admin moderation queue. GET /admin/moderation
func (h *Handlers) ModerationPage(w http.ResponseWriter, r *http.Request) {
	rq, page := reportQuery(r, reportGroupsPerPage)
	groups, total, err := h.Store.ReportGroups(r.Context(), rq)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	if rq.Status == "" {
		rq.Status = store.ReportOpen
	}
	q := views.ModerationQueue{Status: rq.Status, Type: rq.Type,
		Pager: views.Pager{Page: page, PerPage: reportGroupsPerPage, Total: total, Href: pagerHref(r)}}
	for _, g := range groups {
		vg := views.ReportGroup{TargetType: g.Target.Type, Target: g.Target.String(), Count: g.Count, LastAt: g.LastAt,
			Exists: g.Subject.Exists, Title: g.Subject.Title, Status: g.Subject.Status, Owner: g.Subject.Owner,
			OwnerBanned: g.Subject.OwnerBanned, Href: g.Subject.Href, Text: g.Subject.Text, ConfirmName: g.Target.ID}
		for _, rep := range g.Reports {
			vg.Reports = append(vg.Reports, views.ReportRow{ID: rep.ID, Reporter: rep.Reporter, Category: rep.Category,
				Details: rep.Details, Status: rep.Status, Resolution: rep.Resolution, CreatedAt: rep.CreatedAt})
		}
		q.Groups = append(q.Groups, vg)
	}
	p := h.page(w, r, "Moderation", "admin")
	p.Breadcrumbs = []views.Crumb{{Label: "Admin", Href: "/admin"}, {Label: "Moderation"}}
	h.render(w, r, http.StatusOK, views.ModerationPage(p, q))
}

// ModerationAction performs an action from the queue or the roles page.
// POST /admin/moderation/actions (action, target or address, reason, return)
func (h *Handlers) ModerationAction(w http.ResponseWriter, r *http.Request) {
	back := h.localReturn(r, "/admin/moderation")
	target := r.PostFormValue("target")
	if a := strings.TrimSpace(r.PostFormValue("address")); target == "" && a != "" {
		target = store.TargetUser + ":" + a
	}
	res, err := h.moderate(r, store.Action{Action: r.PostFormValue("action"), Target: target, Reason: r.PostFormValue("reason")})
	if err != nil {
		h.failOrFlash(w, r, err, back)
		return
	}
	addFlash(w, r, "success", actionSummary(res))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// auditRows turns entries into table rows.
func auditRows(entries []store.AuditEntry) []views.AuditRow {
	out := make([]views.AuditRow, 0, len(entries))
	for _, e := range entries {
		out = append(out, views.AuditRow{ID: e.ID, Actor: e.Actor, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
			Before: compactJSON(e.Before), After: compactJSON(e.After), Reason: e.Reason, CreatedAt: e.CreatedAt})
	}
	return out
}

func compactJSON(b json.RawMessage) string {
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	return string(b)
}

// auditQuery reads the audit filters (?actor=&target=&action=&page=).
func auditQuery(r *http.Request) (store.AuditQuery, int) {
	page := pageNumber(r)
	q := r.URL.Query()
	return store.AuditQuery{Actor: q.Get("actor"), Target: q.Get("target"), Action: q.Get("action"),
		Limit: auditPerPage, Offset: (page - 1) * auditPerPage}, page
}

// AuditPage is the admin audit log. GET /admin/audit
func (h *Handlers) AuditPage(w http.ResponseWriter, r *http.Request) {
	aq, page := auditQuery(r)
	entries, total, err := h.Store.SearchAudit(r.Context(), aq)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	v := views.AuditView{Actor: aq.Actor, Target: aq.Target, Action: aq.Action, Rows: auditRows(entries),
		Pager: views.Pager{Page: page, PerPage: auditPerPage, Total: total, Href: pagerHref(r)}}
	p := h.page(w, r, "Audit log", "admin")
	p.Wide = true
	p.Breadcrumbs = []views.Crumb{{Label: "Admin", Href: "/admin"}, {Label: "Audit log"}}
	h.render(w, r, http.StatusOK, views.AuditPage(p, v))
}

// RolesPage lists configured admins, granted roles and bans. GET /admin/roles
func (h *Handlers) RolesPage(w http.ResponseWriter, r *http.Request) {
	holders, err := h.Store.RoleHolders(r.Context())
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	v := views.RolesView{Me: ViewerFrom(r.Context()).User.Address}
	for a := range h.Admins {
		v.ConfigAdmins = append(v.ConfigAdmins, a)
	}
	slices.Sort(v.ConfigAdmins)
	for _, u := range holders {
		hv := views.RoleHolder{Address: u.Address, Roles: u.Roles, Banned: u.BannedAt != nil, Since: u.CreatedAt}
		if u.BannedAt != nil {
			hv.Since = *u.BannedAt
		}
		v.Holders = append(v.Holders, hv)
	}
	p := h.page(w, r, "Roles and bans", "admin")
	p.Breadcrumbs = []views.Crumb{{Label: "Admin", Href: "/admin"}, {Label: "Roles and bans"}}
	h.render(w, r, http.StatusOK, views.RolesPage(p, v))
}

// ChangeRole grants or revokes a role from the roles page.
// POST /admin/roles (op=grant|revoke, address, role, reason)
func (h *Handlers) ChangeRole(w http.ResponseWriter, r *http.Request) {
	op := r.PostFormValue("op")
	if op != "grant" && op != "revoke" {
		h.failOrFlash(w, r, &store.ValidationError{Fields: map[string]string{"op": "Choose grant or revoke."}}, "/admin/roles")
		return
	}
	address, role := strings.TrimSpace(r.PostFormValue("address")), r.PostFormValue("role")
	if !slices.Contains(store.GrantableRoles, role) {
		h.failOrFlash(w, r, &store.ValidationError{Fields: map[string]string{"role": "Choose labeler, reviewer or admin."}}, "/admin/roles")
		return
	}
	res, err := h.moderate(r, store.Action{Action: op + "_" + role, Target: store.TargetUser + ":" + address, Reason: r.PostFormValue("reason")})
	if err != nil {
		h.failOrFlash(w, r, err, "/admin/roles")
		return
	}
	addFlash(w, r, "success", actionSummary(res))
	http.Redirect(w, r, "/admin/roles", http.StatusSeeOther)
}
