package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/handlers"
)

// finetuneRoutes registers the fine-tune wizard, run pages and their API.
func finetuneRoutes(r chi.Router, h *handlers.Handlers) {
	r.Get("/finetunes", h.Finetunes)
	r.Get("/finetunes/new", h.NewFinetune)
	r.Post("/finetunes/new", h.WizardFinetune)
	r.Get("/finetunes/compare", h.CompareFinetunes)
	r.Get("/finetunes/{id}", h.ShowFinetune)
	r.Get("/finetunes/{id}/events", h.FinetuneEvents)
	r.Post("/finetunes/{id}/cancel", h.CancelFinetune)
	r.Post("/finetunes/{id}/delete", h.DeleteFinetune)

	r.Get("/api/v1/finetunes", h.APIListFinetunes)
	r.Post("/api/v1/finetunes", h.APICreateFinetune)
	r.Get("/api/v1/finetunes/{id}", h.APIGetFinetune)
	r.Get("/api/v1/finetunes/{id}/events", h.APIFinetuneEvents)
	r.Post("/api/v1/finetunes/{id}/cancel", h.APICancelFinetune)
}
