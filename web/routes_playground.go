package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/handlers"
)

// playgroundRoutes registers the Playground and the generation API
// ({id} is a model slug, a model ID or base:<slug>).
func playgroundRoutes(r chi.Router, h *handlers.Handlers) {
	r.Get("/playground", h.Playground)
	r.Post("/api/v1/models/{id}/generate", h.APIGenerate)
}
