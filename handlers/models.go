package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/modelimport"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
)

const modelsPerPage = 20

func baseFileHref(slug, name string) string {
	return "/models/base/" + url.PathEscape(slug) + "/files/" + url.PathEscape(name)
}

func modelFileHref(slug, kind, name string) string {
	return "/models/" + url.PathEscape(slug) + "/files/" + kind + "/" + url.PathEscape(name)
}

func fileViews(files []store.ModelFile, href func(name string) string) []views.ModelFileView {
	out := make([]views.ModelFileView, len(files))
	for i, f := range files {
		out[i] = views.ModelFileView{Name: f.Name, Size: f.Size, SHA256: f.SHA256, Href: href(f.Name)}
	}
	return out
}

func baseView(b *store.BaseModel) views.BaseModelView {
	v := views.BaseModelView{Slug: b.Slug, Name: b.Name, Source: b.Source, SourceURI: b.SourceURI, Status: b.Status,
		Error: b.Error, Architecture: b.Architecture, ParamCount: b.ParamCount, SizeBytes: b.SizeBytes,
		ContextLength: b.ContextLength, License: b.License, TrainableCPU: b.TrainableCPU, ContentHash: b.ContentHash,
		UpdatedAt: b.UpdatedAt}
	v.Files = fileViews(b.Files, func(n string) string { return baseFileHref(b.Slug, n) })
	return v
}

func fineTunedView(m *store.Model, a store.Actor) views.FineTunedView {
	return views.FineTunedView{Slug: m.Slug, Name: m.Name, Owner: m.Owner, BaseSlug: m.BaseSlug, BaseName: m.BaseName,
		Method: m.Method, Visibility: m.Visibility, Status: m.Status, PriceWei: m.PricePer1K.String(),
		PublishedAt: m.PublishedAt, CreatedAt: m.CreatedAt, Mine: a.UserID != 0 && a.UserID == m.OwnerID}
}

// catalogBases returns the base models the viewer may see, filtered:
// admins see imports in progress and failed ones too.
func (h *Handlers) catalogBases(r *http.Request, q, compute string) ([]store.BaseModel, error) {
	a := actor(r)
	all, err := h.Store.ListBaseModels(r.Context(), !a.Admin)
	if err != nil {
		return nil, err
	}
	q = strings.ToLower(strings.TrimSpace(q))
	out := all[:0]
	for _, b := range all {
		if q != "" && !strings.Contains(strings.ToLower(b.Name+" "+b.Slug+" "+b.Architecture), q) {
			continue
		}
		switch compute {
		case "cpu":
			if b.Status != store.BaseModelReady || !b.TrainableCPU {
				continue
			}
		case "gpu":
			if b.Status != store.BaseModelReady || b.TrainableCPU {
				continue
			}
		}
		out = append(out, b)
	}
	return out, nil
}

func catalogQuery(r *http.Request) (q, compute, show string, page int) {
	v := r.URL.Query()
	q, compute, show = strings.TrimSpace(v.Get("q")), v.Get("compute"), v.Get("show")
	if compute != "cpu" && compute != "gpu" {
		compute = ""
	}
	if show != "mine" {
		show = ""
	}
	return q, compute, show, pageNumber(r)
}

// modelCatalog is one page of the catalog, as the page and the API show it.
type modelCatalog struct {
	q, compute, show string
	page             int
	bases            []store.BaseModel
	models           []store.Model
	total            int64
}

// catalog reads the catalog for the request's filters.
func (h *Handlers) catalog(r *http.Request) (*modelCatalog, error) {
	c := &modelCatalog{}
	c.q, c.compute, c.show, c.page = catalogQuery(r)
	var err error
	if c.bases, err = h.catalogBases(r, c.q, c.compute); err != nil {
		return nil, err
	}
	c.models, c.total, err = h.Store.ListModels(r.Context(), actor(r), store.ModelQuery{Q: c.q, Mine: c.show == "mine",
		Limit: modelsPerPage, Offset: (c.page - 1) * modelsPerPage})
	return c, err
}

// Models is the catalog. GET /models
func (h *Handlers) Models(w http.ResponseWriter, r *http.Request) {
	a := actor(r)
	cat, err := h.catalog(r)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	bases, models := cat.bases, cat.models
	c := views.ModelCatalog{Query: cat.q, Compute: cat.compute, Show: cat.show, IsAdmin: a.Admin,
		Pager: views.Pager{Page: cat.page, PerPage: modelsPerPage, Total: cat.total, Href: pagerHref(r)}}
	for i := range bases {
		c.Bases = append(c.Bases, baseView(&bases[i]))
	}
	for i := range models {
		c.Models = append(c.Models, fineTunedView(&models[i], a))
	}
	h.render(w, r, http.StatusOK, views.ModelsPage(h.page(w, r, "Models", "models"), c))
}

// visibleBase returns a base model the viewer may see: ready ones for
// everyone, any for admins.
func (h *Handlers) visibleBase(r *http.Request) (*store.BaseModel, error) {
	b, err := h.Store.GetBaseModelBySlug(r.Context(), chi.URLParam(r, "slug"))
	if err != nil {
		return nil, err
	}
	if b.Status != store.BaseModelReady && !actor(r).Admin {
		return nil, store.ErrNotFound
	}
	return b, nil
}

// ShowBaseModel is a base model's page. GET /models/base/{slug}
func (h *Handlers) ShowBaseModel(w http.ResponseWriter, r *http.Request) {
	b, err := h.visibleBase(r)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	a := actor(r)
	models, _, err := h.Store.ListModels(r.Context(), a, store.ModelQuery{Base: b.Slug, Limit: 50})
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	v := views.BaseModelPageView{Base: baseView(b), IsAdmin: a.Admin}
	for i := range models {
		v.Models = append(v.Models, fineTunedView(&models[i], a))
	}
	p := h.page(w, r, b.Name, "models")
	p.Breadcrumbs = []views.Crumb{{Label: "Models", Href: "/models"}, {Label: b.Name}}
	h.render(w, r, http.StatusOK, views.BaseModelPage(p, v))
}

// DownloadBaseFile streams one file of a base model.
// GET /models/base/{slug}/files/{name}
func (h *Handlers) DownloadBaseFile(w http.ResponseWriter, r *http.Request) {
	b, err := h.visibleBase(r)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	h.streamFile(w, r, b.BlobPrefix, b.Files, chi.URLParam(r, "name"))
}

// DownloadModelFile streams one adapter or merged-model file of a model
// the viewer may see. GET /models/{slug}/files/{kind}/{name}
func (h *Handlers) DownloadModelFile(w http.ResponseWriter, r *http.Request) {
	m, err := h.Store.VisibleModel(r.Context(), actor(r), chi.URLParam(r, "slug"))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	switch chi.URLParam(r, "kind") {
	case "adapter":
		h.streamFile(w, r, m.AdapterPrefix, m.AdapterFiles, chi.URLParam(r, "name"))
	case "merged":
		h.streamFile(w, r, m.MergedPrefix, m.MergedFiles, chi.URLParam(r, "name"))
	default:
		h.NotFound(w, r)
	}
}

// streamFile sends a listed file from object storage with its recorded
// SHA-256; names not in the list are 404s, so nothing else under the
// prefix can be fetched.
func (h *Handlers) streamFile(w http.ResponseWriter, r *http.Request, prefix string, files []store.ModelFile, name string) {
	i := slices.IndexFunc(files, func(f store.ModelFile) bool { return f.Name == name })
	if i < 0 || prefix == "" {
		h.NotFound(w, r)
		return
	}
	f := files[i]
	rc, _, err := h.Blobs.Get(r.Context(), path.Join(prefix, f.Name))
	if err != nil {
		h.Fail(w, r, fmt.Errorf("download %s/%s: %w", prefix, f.Name, err))
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(f.Size, 10))
	w.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(f.Name, `"`, "")+`"`)
	w.Header().Set("X-Checksum-SHA256", f.SHA256)
	w.Header().Set("ETag", `"`+f.SHA256+`"`)
	w.Header().Set("Cache-Control", "private, max-age=3600")
	if _, err := io.Copy(w, rc); err != nil {
		h.Log.WarnContext(r.Context(), "download interrupted", "file", f.Name, "err", err)
	}
}

// perplexityKeys are the metric names a run may record for validation
// perplexity before (base model) and after fine-tuning, most specific
// first.
var (
	pplBeforeKeys = []string{"val_perplexity_before", "eval_perplexity_before", "perplexity_before", "base_val_perplexity", "base_perplexity"}
	pplAfterKeys  = []string{"val_perplexity_after", "eval_perplexity_after", "perplexity_after", "val_perplexity", "eval_perplexity", "perplexity"}
)

func firstMetric(m map[string]float64, keys []string) string {
	for _, k := range keys {
		if v, ok := m[k]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			return formatMetric(v)
		}
	}
	return ""
}

func formatMetric(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 5, 64)
}

// kvFromJSON turns a JSON object into sorted, readable rows; nested
// values are shown as compact JSON.
func kvFromJSON(raw json.RawMessage) []views.KV {
	var obj map[string]any
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]views.KV, 0, len(keys))
	for _, k := range keys {
		var s string
		switch v := obj[k].(type) {
		case float64:
			s = formatMetric(v)
		case string:
			s = v
		case bool:
			s = strconv.FormatBool(v)
		case nil:
			continue
		case []any:
			parts := make([]string, 0, len(v))
			for _, e := range v {
				parts = append(parts, fmt.Sprint(e))
			}
			s = strings.Join(parts, ", ")
		default:
			b, _ := json.Marshal(v)
			s = string(b)
		}
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		out = append(out, views.KV{Key: k, Value: s})
	}
	return out
}

// registryState says where a model's ProvenanceRegistry registration is.
func (h *Handlers) registryState(r *http.Request, m *store.Model) (state, errMsg string) {
	if m.RegistryTx != "" {
		return views.RegistryConfirmed, ""
	}
	if h.EnqueueModelRegistration == nil || m.PublishedAt == nil {
		return views.RegistryNone, ""
	}
	t, err := h.Store.ChainTxByKey(r.Context(), store.ModelRegistryIntentKey(m.ID))
	if err == nil && t.Status == store.TxFailed {
		// The node's error text is for operators (it is on the admin
		// journal too); everyone else reads the page's plain sentence.
		if v := ViewerFrom(r.Context()); v != nil && v.IsAdmin {
			return views.RegistryFailed, t.LastError
		}
		return views.RegistryFailed, ""
	}
	return views.RegistryPending, ""
}

func (h *Handlers) modelPageView(r *http.Request, m *store.Model) views.ModelPageView {
	a := actor(r)
	v := views.ModelPageView{Model: fineTunedView(m, a), BaseHash: m.BaseHash, RunID: m.RunID,
		Settings: kvFromJSON(m.Settings), Metrics: kvFromJSON(m.Metrics),
		AdapterHash: m.AdapterHash, MergedHash: m.MergedHash, CanPublish: store.IsModelOwner(a, m),
		ChainEnabled: h.EnqueueModelRegistration != nil, RegistryTx: m.RegistryTx, RegistryHref: h.explorerTx(m.RegistryTx),
		CanReport: a.UserID != m.OwnerID}
	metrics := m.MetricsMap()
	v.PPLBefore, v.PPLAfter = firstMetric(metrics, pplBeforeKeys), firstMetric(metrics, pplAfterKeys)
	v.AdapterFiles = fileViews(m.AdapterFiles, func(n string) string { return modelFileHref(m.Slug, "adapter", n) })
	v.MergedFiles = fileViews(m.MergedFiles, func(n string) string { return modelFileHref(m.Slug, "merged", n) })
	for _, d := range m.Data {
		v.Data = append(v.Data, views.ModelDataView{DatanetSlug: d.DatanetSlug, DatanetName: d.DatanetName, Version: d.Version,
			Records: d.Records, MerkleRoot: d.MerkleRoot, AnchorTx: d.AnchorTx})
	}
	v.RegistryState, v.RegistryError = h.registryState(r, m)
	price, _ := views.FormatOPEN(m.PricePer1K.String(), 18)
	v.Form = views.PublishForm{Visibility: m.Visibility, Price: strings.ReplaceAll(price, ",", "")}
	return v
}

// ShowModel is a fine-tuned model's page. GET /models/{slug}
func (h *Handlers) ShowModel(w http.ResponseWriter, r *http.Request) {
	m, err := h.Store.VisibleModel(r.Context(), actor(r), chi.URLParam(r, "slug"))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	h.renderModel(w, r, http.StatusOK, m, h.modelPageView(r, m))
}

func (h *Handlers) renderModel(w http.ResponseWriter, r *http.Request, status int, m *store.Model, v views.ModelPageView) {
	p := h.page(w, r, m.Name, "models")
	p.Breadcrumbs = []views.Crumb{{Label: "Models", Href: "/models"}, {Label: m.Name}}
	h.render(w, r, status, views.ModelPage(p, v))
}

// PublishModel saves the publish form (owner or admin). POST /models/{slug}/publish
func (h *Handlers) PublishModel(w http.ResponseWriter, r *http.Request) {
	slug := chi.URLParam(r, "slug")
	in := store.PublishInput{Visibility: r.PostFormValue("visibility"), Price: r.PostFormValue("price")}
	m, err := h.Store.PublishModel(r.Context(), actor(r), slug, in, h.EnqueueModelRegistration)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		cur, gerr := h.Store.VisibleModel(r.Context(), actor(r), slug)
		if gerr != nil {
			h.Fail(w, r, gerr)
			return
		}
		v := h.modelPageView(r, cur)
		v.Form = views.PublishForm{Visibility: in.Visibility, Price: in.Price, Errors: ve.Fields}
		h.renderModel(w, r, http.StatusUnprocessableEntity, cur, v)
		return
	}
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	msg := m.Name + " is private: only you can see it."
	if m.Visibility != store.ModelPrivate {
		msg = m.Name + " is " + m.Visibility + "."
		if h.EnqueueModelRegistration != nil && m.RegistryTx == "" {
			msg += " It is being registered in the ProvenanceRegistry."
		}
	}
	addFlash(w, r, "success", msg)
	http.Redirect(w, r, "/models/"+url.PathEscape(m.Slug), http.StatusSeeOther)
}

// importForm lists the imports under the form.
func (h *Handlers) importForm(r *http.Request, f views.ImportForm) (views.ImportForm, error) {
	all, err := h.Store.ListBaseModels(r.Context(), false)
	if err != nil {
		return f, err
	}
	slices.SortFunc(all, func(a, b store.BaseModel) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	for i := range all {
		if all[i].Source != store.SourceBuiltin {
			f.Imports = append(f.Imports, baseView(&all[i]))
		}
	}
	return f, nil
}

func (h *Handlers) renderImport(w http.ResponseWriter, r *http.Request, status int, f views.ImportForm) {
	f, err := h.importForm(r, f)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	p := h.page(w, r, "Import a base model", "admin")
	p.Breadcrumbs = []views.Crumb{{Label: "Admin", Href: "/admin"}, {Label: "Import a base model"}}
	h.render(w, r, status, views.ModelImportPage(p, f))
}

// ImportModelForm is the admin import page. GET /admin/models/import
func (h *Handlers) ImportModelForm(w http.ResponseWriter, r *http.Request) {
	h.renderImport(w, r, http.StatusOK, views.ImportForm{})
}

// importInput parses the source and fills the name from it.
func (h *Handlers) importInput(source, name, slug string) (store.BaseModelImportInput, error) {
	src, err := modelimport.Parse(source, h.HFEndpoint)
	if err != nil {
		var ue *modelimport.Error
		if errors.As(err, &ue) {
			return store.BaseModelImportInput{}, &store.ValidationError{Fields: map[string]string{"source": ue.Msg}}
		}
		return store.BaseModelImportInput{}, err
	}
	if strings.TrimSpace(name) == "" {
		name = src.Name()
	}
	return store.BaseModelImportInput{Name: name, Slug: slug, Source: src.Kind, SourceURI: src.URI}, nil
}

// ImportModel starts an import. POST /admin/models/import
func (h *Handlers) ImportModel(w http.ResponseWriter, r *http.Request) {
	f := views.ImportForm{Source: r.PostFormValue("source"), Name: r.PostFormValue("name"), Slug: r.PostFormValue("slug")}
	in, err := h.importInput(f.Source, f.Name, f.Slug)
	var b *store.BaseModel
	if err == nil {
		b, err = h.Store.CreateBaseModelImport(r.Context(), actor(r), in, h.EnqueueModelImport)
	}
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		f.Errors = ve.Fields
		h.renderImport(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	addFlash(w, r, "success", "Importing "+b.Name+". It appears in the catalog when its files are stored.")
	http.Redirect(w, r, "/admin/models/import", http.StatusSeeOther)
}

// RetryImport restarts a failed import. POST /admin/models/base/{slug}/retry
func (h *Handlers) RetryImport(w http.ResponseWriter, r *http.Request) {
	b, err := h.Store.RetryBaseModelImport(r.Context(), actor(r), chi.URLParam(r, "slug"), h.EnqueueModelImport)
	if err != nil {
		h.failOrFlash(w, r, err, "/admin/models/import")
		return
	}
	addFlash(w, r, "info", "Retrying the import of "+b.Name+"; downloads resume where they stopped.")
	http.Redirect(w, r, "/admin/models/import", http.StatusSeeOther)
}
