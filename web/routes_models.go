package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/handlers"
)

// modelRoutes registers the model catalog, model pages and their API.
func modelRoutes(r chi.Router, h *handlers.Handlers) {
	r.Get("/models", h.Area("models"))
}
