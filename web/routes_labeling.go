package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/handlers"
)

// labelingRoutes registers label projects, the annotation queue and their
// API for signed-in users. Who may label, manage or review a project is
// decided by the store from the project and its Datanet.
func labelingRoutes(r chi.Router, h *handlers.Handlers) {
	r.Get("/labeling", h.LabelingHome)
	r.Get("/labeling/new", h.NewLabelProject)
	r.Post("/labeling/projects", h.CreateLabelProject)
	r.Get("/labeling/projects/{id}", h.ShowLabelProject)
	r.Post("/labeling/projects/{id}", h.UpdateLabelProject)
	r.Get("/labeling/projects/{id}/edit", h.EditLabelProject)
	r.Post("/labeling/projects/{id}/members", h.InviteLabeler)
	r.Get("/labeling/projects/{id}/label", h.Annotate)
	r.Post("/labeling/projects/{id}/label", h.AnnotateAction)
	r.Get("/labeling/projects/{id}/review", h.ReviewQueue)
	r.Post("/labeling/projects/{id}/apply", h.ApplyLabelResults)
	r.Get("/labeling/projects/{id}/export", h.ExportLabels)
	r.Post("/labeling/items/{id}/decision", h.DecideItem)

	r.Get("/api/v1/labeling/projects", h.APILabelProjects)
	r.Post("/api/v1/labeling/projects", h.APICreateLabelProject)
	r.Get("/api/v1/labeling/projects/{id}", h.APILabelProject)
	r.Get("/api/v1/labeling/projects/{id}/next", h.APINextLabelItem)
	r.Post("/api/v1/labeling/projects/{id}/undo", h.APIUndoLabel)
	r.Get("/api/v1/labeling/projects/{id}/agreement", h.APILabelAgreement)
	r.Get("/api/v1/labeling/projects/{id}/review", h.APILabelReviewQueue)
	r.Post("/api/v1/labeling/projects/{id}/apply", h.APIApplyLabelResults)
	r.Get("/api/v1/labeling/projects/{id}/export", h.ExportLabels)
	r.Post("/api/v1/labeling/items/{id}/labels", h.APISubmitLabel)
	r.Post("/api/v1/labeling/items/{id}/skip", h.APISkipLabelItem)
	r.Post("/api/v1/labeling/items/{id}/decision", h.APIDecideItem)
}
