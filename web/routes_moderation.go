package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/handlers"
	"github.com/modelfactory/modelfactory/store"
)

// moderationRoutes registers what every signed-in user may do for
// moderation (reporting, notifications) and the admin moderation API.
func moderationRoutes(r chi.Router, h *handlers.Handlers) {
	r.Post("/reports", h.CreateReport)
	r.Post("/api/v1/reports", h.APICreateReport)
	r.Get("/notifications", h.NotificationsPage)
	r.Get("/api/v1/notifications", h.APINotifications)
	r.Group(func(r chi.Router) {
		r.Use(h.RequireRole(store.RoleAdmin))
		r.Get("/api/v1/admin/reports", h.APIReports)
		r.Post("/api/v1/admin/actions", h.APIAction)
		r.Get("/api/v1/admin/audit", h.APIAudit)
	})
}

// adminModerationRoutes registers the admin-only moderation pages under
// /admin (the caller has already required the admin role).
func adminModerationRoutes(r chi.Router, h *handlers.Handlers) {
	r.Get("/moderation", h.ModerationPage)
	r.Post("/moderation/actions", h.ModerationAction)
	r.Get("/audit", h.AuditPage)
	r.Get("/roles", h.RolesPage)
	r.Post("/roles", h.ChangeRole)
}
