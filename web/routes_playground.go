package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/handlers"
)

// playgroundRoutes registers the Playground and the generation API.
func playgroundRoutes(r chi.Router, h *handlers.Handlers) {
	r.Get("/playground", h.Area("playground"))
}
