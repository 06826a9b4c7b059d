package handlers

import (
	"net/http"

	"github.com/modelfactory/modelfactory/views"
)

// Home shows the dashboard to signed-in users and the sign-in page to others.
func (h *Handlers) Home(w http.ResponseWriter, r *http.Request) {
	v := ViewerFrom(r.Context())
	if v == nil {
		h.render(w, r, http.StatusOK, views.SignInPage(h.page(w, r, "Sign in", "")))
		return
	}
	counts, err := h.Store.DashboardCounts(r.Context(), v.User.ID)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	jobCounts, err := h.Store.JobCounts(r.Context())
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	d := views.Dashboard{
		Stats: []views.Stat{
			{Label: "Members", Value: counts.Users, Help: "Wallets that have signed in to this ModelFactory."},
			{Label: "Active sessions", Value: counts.ActiveSessions, Help: "Browsers signed in right now, across all members."},
			{Label: "Your API tokens", Value: counts.MyTokens, Help: "Live personal access tokens for scripts.", Href: "/settings/tokens"},
			{Label: "Jobs completed", Value: counts.JobsCompleted, Help: "Background jobs finished by the workers."},
		},
		SignedInAt: v.User.LastSeenAt,
	}
	for _, c := range jobCounts {
		d.Jobs = append(d.Jobs, views.JobCount{State: c.State, Count: c.Count})
	}
	h.render(w, r, http.StatusOK, views.DashboardPage(h.page(w, r, "Dashboard", "dashboard"), d))
}

// Admin is the admin home.
func (h *Handlers) Admin(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, views.AdminPage(h.page(w, r, "Admin", "admin")))
}
