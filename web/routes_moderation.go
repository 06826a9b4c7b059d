package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/handlers"
)

// moderationRoutes registers what every signed-in user may do for
// moderation (reporting).
func moderationRoutes(r chi.Router, h *handlers.Handlers) {
}

// adminModerationRoutes registers the admin-only moderation pages under
// /admin (the caller has already required the admin role).
func adminModerationRoutes(r chi.Router, h *handlers.Handlers) {
}
