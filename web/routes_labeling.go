package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/handlers"
)

// labelingRoutes registers label projects, the annotation queue and their
// API for signed-in users.
func labelingRoutes(r chi.Router, h *handlers.Handlers) {
	r.Get("/labeling", h.Area("labeling"))
}
