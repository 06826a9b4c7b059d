package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/store"
)

// apiModelFile is a file in API answers.
type apiModelFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	URL    string `json:"url"`
}

// apiBaseModel is a base model in API answers.
type apiBaseModel struct {
	Slug          string          `json:"slug"`
	Name          string          `json:"name"`
	Source        string          `json:"source"`
	SourceURI     string          `json:"sourceUri"`
	Status        string          `json:"status"`
	Error         string          `json:"error,omitempty"`
	Architecture  string          `json:"architecture"`
	ParamCount    int64           `json:"paramCount"`
	SizeBytes     int64           `json:"sizeBytes"`
	ContextLength int             `json:"contextLength"`
	License       string          `json:"license"`
	TrainableCPU  bool            `json:"trainableCpu"`
	Training      string          `json:"training"` // "cpu" (this deployment) or "gpu" (needs a GPU worker)
	ContentHash   string          `json:"contentHash"`
	Files         []apiModelFile  `json:"files"`
	Config        json.RawMessage `json:"config,omitempty"`
	UpdatedAt     time.Time       `json:"updatedAt"`
}

func apiBase(b *store.BaseModel, withConfig bool) apiBaseModel {
	out := apiBaseModel{Slug: b.Slug, Name: b.Name, Source: b.Source, SourceURI: b.SourceURI, Status: b.Status, Error: b.Error,
		Architecture: b.Architecture, ParamCount: b.ParamCount, SizeBytes: b.SizeBytes, ContextLength: b.ContextLength,
		License: b.License, TrainableCPU: b.TrainableCPU, Training: "gpu", ContentHash: b.ContentHash,
		Files: []apiModelFile{}, UpdatedAt: b.UpdatedAt}
	if b.TrainableCPU {
		out.Training = "cpu"
	}
	for _, f := range b.Files {
		out.Files = append(out.Files, apiModelFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256, URL: baseFileHref(b.Slug, f.Name)})
	}
	if withConfig {
		out.Config = b.Config
	}
	return out
}

// apiDatanetRef is a Datanet version a model was trained on.
type apiDatanetRef struct {
	Datanet    string `json:"datanet"`
	Version    int    `json:"version"`
	Records    int64  `json:"records"`
	MerkleRoot string `json:"merkleRoot"`
	AnchorTx   string `json:"anchorTx,omitempty"`
}

// apiArtifact is a model's adapter or merged files.
type apiArtifact struct {
	Hash  string         `json:"hash"`
	Files []apiModelFile `json:"files"`
}

// apiModel is a fine-tuned model in API answers. Prices are wei as
// decimal strings.
type apiModel struct {
	ID            int64              `json:"id"`
	Slug          string             `json:"slug"`
	Name          string             `json:"name"`
	Owner         string             `json:"owner"`
	Base          string             `json:"baseModel"`
	BaseHash      string             `json:"baseModelHash"`
	Method        string             `json:"method"`
	Visibility    string             `json:"visibility"`
	Status        string             `json:"status"`
	PricePer1kWei string             `json:"pricePer1kTokensWei"`
	PublishedAt   *time.Time         `json:"publishedAt"`
	CreatedAt     time.Time          `json:"createdAt"`
	RunID         *int64             `json:"runId"`
	Adapter       *apiArtifact       `json:"adapter,omitempty"`
	Merged        *apiArtifact       `json:"merged,omitempty"`
	Datanets      []apiDatanetRef    `json:"datanets,omitempty"`
	Metrics       map[string]float64 `json:"metrics,omitempty"`
	RegistryTx    string             `json:"registryTx,omitempty"`
	URL           string             `json:"url"`
	PlaygroundURL string             `json:"playgroundUrl"`
}

func apiModelOf(m *store.Model, detail bool) apiModel {
	out := apiModel{ID: m.ID, Slug: m.Slug, Name: m.Name, Owner: m.Owner, Base: m.BaseSlug, BaseHash: m.BaseHash,
		Method: m.Method, Visibility: m.Visibility, Status: m.Status, PricePer1kWei: m.PricePer1K.String(),
		PublishedAt: m.PublishedAt, CreatedAt: m.CreatedAt, RegistryTx: m.RegistryTx,
		URL: "/models/" + m.Slug, PlaygroundURL: "/playground?model=" + m.Slug}
	if m.RunID != 0 {
		id := m.RunID
		out.RunID = &id
	}
	if !detail {
		return out
	}
	artifact := func(kind, hash string, files []store.ModelFile) *apiArtifact {
		if len(files) == 0 {
			return nil
		}
		a := &apiArtifact{Hash: hash}
		for _, f := range files {
			a.Files = append(a.Files, apiModelFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256, URL: modelFileHref(m.Slug, kind, f.Name)})
		}
		return a
	}
	out.Adapter = artifact("adapter", m.AdapterHash, m.AdapterFiles)
	out.Merged = artifact("merged", m.MergedHash, m.MergedFiles)
	for _, d := range m.Data {
		out.Datanets = append(out.Datanets, apiDatanetRef{Datanet: d.DatanetSlug, Version: d.Version, Records: d.Records,
			MerkleRoot: d.MerkleRoot, AnchorTx: d.AnchorTx})
	}
	out.Metrics = m.MetricsMap()
	return out
}

// APIModels is the catalog. GET /api/v1/models?q=&compute=cpu|gpu&show=mine&page=
func (h *Handlers) APIModels(w http.ResponseWriter, r *http.Request) {
	c, err := h.catalog(r)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	bases, models := c.bases, c.models
	out := struct {
		BaseModels []apiBaseModel `json:"baseModels"`
		Models     []apiModel     `json:"models"`
		Total      int64          `json:"total"`
		Page       int            `json:"page"`
	}{BaseModels: []apiBaseModel{}, Models: []apiModel{}, Total: c.total, Page: c.page}
	for i := range bases {
		out.BaseModels = append(out.BaseModels, apiBase(&bases[i], false))
	}
	for i := range models {
		out.Models = append(out.Models, apiModelOf(&models[i], false))
	}
	writeJSON(w, http.StatusOK, out)
}

// APIBaseModel returns one base model (admins also see imports in
// progress, with their error). GET /api/v1/models/base/{slug}
func (h *Handlers) APIBaseModel(w http.ResponseWriter, r *http.Request) {
	b, err := h.visibleBase(r)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiBase(b, true))
}

// apiVisibleModel resolves {id}: a model ID or slug the viewer may see.
func (h *Handlers) apiVisibleModel(r *http.Request) (*store.Model, error) {
	key := chi.URLParam(r, "id")
	if id, err := strconv.ParseInt(key, 10, 64); err == nil {
		return h.Store.VisibleModelByID(r.Context(), actor(r), id)
	}
	return h.Store.VisibleModel(r.Context(), actor(r), key)
}

// APIModel returns one fine-tuned model with its files and provenance.
// GET /api/v1/models/{id} (ID or slug)
func (h *Handlers) APIModel(w http.ResponseWriter, r *http.Request) {
	m, err := h.apiVisibleModel(r)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiModelOf(m, true))
}

// APIPublishModel sets visibility and price (owner or admin).
// POST /api/v1/models/{id}/publish {"visibility","price"} (price in OPEN, decimal string)
func (h *Handlers) APIPublishModel(w http.ResponseWriter, r *http.Request) {
	m, err := h.apiVisibleModel(r)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	var in store.PublishInput
	if err := decodeJSON(r, &in); err != nil {
		h.Fail(w, r, err)
		return
	}
	m, err = h.Store.PublishModel(r.Context(), actor(r), m.Slug, in, h.EnqueueModelRegistration)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiModelOf(m, true))
}

// APIImportModel starts a base-model import (admins).
// POST /api/v1/admin/models/import {"source","name","slug"} → 202
func (h *Handlers) APIImportModel(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Source string `json:"source"`
		Name   string `json:"name"`
		Slug   string `json:"slug"`
	}
	if err := decodeJSON(r, &in); err != nil {
		h.Fail(w, r, err)
		return
	}
	imp, err := h.importInput(in.Source, in.Name, in.Slug)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	b, err := h.Store.CreateBaseModelImport(r.Context(), actor(r), imp, h.EnqueueModelImport)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, apiBase(b, false))
}
