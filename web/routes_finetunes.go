package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/handlers"
)

// finetuneRoutes registers the fine-tune wizard, run pages and their API.
func finetuneRoutes(r chi.Router, h *handlers.Handlers) {
	r.Get("/finetunes", h.Area("finetunes"))
}
