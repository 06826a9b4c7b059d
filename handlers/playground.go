package handlers

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
)

// generateURL is the generate API address of a model slug or base:<slug>.
func generateURL(id string) string {
	return "/api/v1/models/" + url.PathEscape(id) + "/generate"
}

func playgroundModel(m *store.Model) views.PlaygroundModel {
	return views.PlaygroundModel{Slug: m.Slug, Name: m.Name, Owner: m.Owner, BaseName: m.BaseName, Method: m.Method,
		Endpoint: generateURL(m.Slug), BaseEndpoint: generateURL(BaseModelPrefix + m.BaseSlug),
		Href: "/models/" + url.PathEscape(m.Slug)}
}

// Playground shows the side-by-side chat. GET /playground?model=<slug>;
// without a model it opens the newest one the viewer may use.
func (h *Handlers) Playground(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), actor(r)
	list, _, err := h.Store.ListModels(ctx, a, store.ModelQuery{Limit: 100})
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	v := views.Playground{MaxTokens: defaultMaxTokens, Temperature: defaultTemperature, TopP: defaultTopP,
		MaxTokensLimit: defaultMaxTokens}
	if h.Inference != nil {
		v.MaxTokensLimit = h.Inference.MaxTokens()
		v.MaxTokens = min(v.MaxTokens, v.MaxTokensLimit)
	}
	var sel *store.Model
	found := false
	slug := r.URL.Query().Get("model")
	for i := range list {
		m := &list[i]
		// Suspended models cannot answer; list them only when asked for.
		if m.Status == store.ModelSuspended && m.Slug != slug {
			continue
		}
		v.Models = append(v.Models, playgroundModel(m))
		if m.Slug == slug || (slug == "" && sel == nil) {
			sel, found = m, m.Slug == slug
		}
	}
	if slug != "" {
		// Unlisted models (and any not on the first page) by their link;
		// the full read also brings the Datanet versions.
		if sel, err = h.Store.VisibleModel(ctx, a, slug); err != nil {
			h.Fail(w, r, err)
			return
		}
		if !found {
			v.Models = append([]views.PlaygroundModel{playgroundModel(sel)}, v.Models...)
		}
	} else if sel != nil {
		if sel, err = h.Store.GetModel(ctx, sel.ID); err != nil {
			h.Fail(w, r, err)
			return
		}
	}
	if sel != nil {
		pm := playgroundModel(sel)
		t, err := h.modelTarget(ctx, sel)
		var p *Problem
		switch {
		case errors.As(err, &p):
			v.Problem = p.Message
		case err != nil:
			h.Fail(w, r, err)
			return
		default:
			pm.Instruction = t.Instruction
		}
		if h.Inference == nil {
			v.Problem = "Text generation is not enabled on this server."
		}
		v.Selected = &pm
	}
	pg := h.page(w, r, "Playground", "playground")
	pg.Scripts = []string{"playground.js"}
	h.render(w, r, http.StatusOK, views.PlaygroundPage(pg, v))
}
