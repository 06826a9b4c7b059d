package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/handlers"
	"github.com/modelfactory/modelfactory/store"
)

// modelRoutes registers the model catalog, model pages and their API, and
// the admin base-model import (admins only).
func modelRoutes(r chi.Router, h *handlers.Handlers) {
	r.Get("/models", h.Models)
	r.Get("/models/base/{slug}", h.ShowBaseModel)
	r.Get("/models/base/{slug}/files/{name}", h.DownloadBaseFile)
	r.Get("/models/{slug}", h.ShowModel)
	r.Get("/models/{slug}/files/{kind}/{name}", h.DownloadModelFile)
	r.Post("/models/{slug}/publish", h.PublishModel)

	r.Get("/api/v1/models", h.APIModels)
	r.Get("/api/v1/models/base/{slug}", h.APIBaseModel)
	r.Get("/api/v1/models/{id}", h.APIModel)
	r.Post("/api/v1/models/{id}/publish", h.APIPublishModel)

	r.Group(func(r chi.Router) {
		r.Use(h.RequireRole(store.RoleAdmin))
		r.Get("/admin/models/import", h.ImportModelForm)
		r.Post("/admin/models/import", h.ImportModel)
		r.Post("/admin/models/base/{slug}/retry", h.RetryImport)
		r.Post("/api/v1/admin/models/import", h.APIImportModel)
	})
}
