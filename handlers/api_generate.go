package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/catalog"
	"github.com/modelfactory/modelfactory/inference"
	"github.com/modelfactory/modelfactory/store"
)

// BaseModelPrefix in a generate URL's {id} names a base model of the
// catalog: /api/v1/models/base:<slug>/generate.
const BaseModelPrefix = "base:"

// Generation defaults, used when the request leaves a field out.
const (
	defaultMaxTokens   = 64
	defaultTemperature = 0.8
	defaultTopP        = 0.95
)

// generateInput is the body of POST /api/v1/models/{id}/generate. Pointer
// fields distinguish "left out" (default) from an explicit bad value.
type generateInput struct {
	Prompt      string   `json:"prompt"`
	MaxTokens   *int     `json:"maxTokens"`
	Temperature *float64 `json:"temperature"`
	TopP        *float64 `json:"topP"`
	Seed        *uint64  `json:"seed"`
	// Format is "raw", "instruction" or "" (instruction when the model was
	// trained on instruction data, raw otherwise).
	Format string `json:"format"`
	Stream bool   `json:"stream"`
}

// generationTarget is what a generate request runs on.
type generationTarget struct {
	Name string // the model's slug, or base:<slug>
	Spec inference.Spec
	// Instruction is true when the model learned from instruction data, so
	// prompts are formatted as instructions unless the caller says raw.
	Instruction bool
}

func catalogFiles(fs []store.ModelFile) []catalog.File {
	out := make([]catalog.File, len(fs))
	for i, f := range fs {
		out[i] = catalog.File{Name: f.Name, Size: f.Size, SHA256: f.SHA256}
	}
	return out
}

// storedFiles describes stored model files for the engine; a missing hash
// is computed from the file list.
func storedFiles(hash, prefix string, fs []store.ModelFile) inference.Files {
	files := catalogFiles(fs)
	if hash == "" {
		hash = catalog.ContentHash(files)
	}
	return inference.Files{Hash: hash, Prefix: prefix, Files: files}
}

func notReady(name string) *Problem {
	return problem(http.StatusConflict, "not_ready", fmt.Sprintf("%s has no model files to load yet. Try again when it is ready.", name))
}

// baseTarget resolves a base model of the catalog by slug.
func (h *Handlers) baseTarget(ctx context.Context, slug string) (*generationTarget, error) {
	b, err := h.Store.GetBaseModelBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	if b.Status != store.BaseModelReady || len(b.Files) == 0 {
		return nil, notReady(b.Name)
	}
	return &generationTarget{Name: BaseModelPrefix + b.Slug,
		Spec: inference.Spec{Base: storedFiles(b.ContentHash, b.BlobPrefix, b.Files)}}, nil
}

// modelTarget resolves a fine-tuned model the actor may see: a LoRA model
// is its base plus its adapter; a full fine-tune is its merged model.
func (h *Handlers) modelTarget(ctx context.Context, m *store.Model) (*generationTarget, error) {
	if m.Status == store.ModelSuspended {
		return nil, problem(http.StatusForbidden, "suspended", "This model is suspended by the moderators and cannot generate text.")
	}
	t := &generationTarget{Name: m.Slug}
	switch {
	case m.Method == "lora" && len(m.AdapterFiles) > 0:
		b, err := h.Store.GetBaseModel(ctx, m.BaseModelID)
		if err != nil {
			return nil, err
		}
		if b.Status != store.BaseModelReady || len(b.Files) == 0 {
			return nil, notReady(b.Name)
		}
		ad := storedFiles(m.AdapterHash, m.AdapterPrefix, m.AdapterFiles)
		t.Spec = inference.Spec{Base: storedFiles(b.ContentHash, b.BlobPrefix, b.Files), Adapter: &ad}
	case len(m.MergedFiles) > 0:
		t.Spec = inference.Spec{Base: storedFiles(m.MergedHash, m.MergedPrefix, m.MergedFiles)}
	default:
		return nil, notReady(m.Name)
	}
	for _, d := range m.Data {
		dn, err := h.Store.DatanetBySlug(ctx, d.DatanetSlug)
		if err != nil {
			return nil, err
		}
		if dn.Schema == "instruction" {
			t.Instruction = true
		}
	}
	return t, nil
}

// visibleModel finds a fine-tuned model by numeric ID or slug that the
// actor may see (ErrNotFound otherwise: private models do not leak).
func (h *Handlers) visibleModel(ctx context.Context, a store.Actor, id string) (*store.Model, error) {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		m, err := h.Store.VisibleModelByID(ctx, a, n)
		if !errors.Is(err, store.ErrNotFound) {
			return m, err
		}
		// A slug may be all digits too.
	}
	return h.Store.VisibleModel(ctx, a, id)
}

// PreloadBaseModel loads the catalog's base model with that slug into the
// inference engine ahead of its first request (serve does it for the
// starter model in the background). A missing or unready model is an error
// the caller may ignore.
func (h *Handlers) PreloadBaseModel(ctx context.Context, slug string) error {
	if h.Inference == nil {
		return nil
	}
	t, err := h.baseTarget(ctx, slug)
	if err != nil {
		return err
	}
	return h.Inference.Preload(ctx, t.Spec.Base)
}

// generationTargetFor resolves {id}: base:<slug>, a model ID or a slug.
func (h *Handlers) generationTargetFor(ctx context.Context, a store.Actor, id string) (*generationTarget, error) {
	if slug, ok := strings.CutPrefix(id, BaseModelPrefix); ok {
		return h.baseTarget(ctx, slug)
	}
	m, err := h.visibleModel(ctx, a, id)
	if err != nil {
		return nil, err
	}
	return h.modelTarget(ctx, m)
}

// request applies defaults (max tokens no more than limit) and the prompt
// format.
func (in *generateInput) request(t *generationTarget, limit int) (inference.Request, string, error) {
	req := inference.Request{MaxTokens: min(defaultMaxTokens, limit), Temperature: defaultTemperature, TopP: defaultTopP}
	if in.MaxTokens != nil {
		req.MaxTokens = *in.MaxTokens
	}
	if in.Temperature != nil {
		req.Temperature = *in.Temperature
	}
	if in.TopP != nil {
		req.TopP = *in.TopP
	}
	if in.Seed != nil {
		req.Seed = *in.Seed
	} else {
		req.Seed = rand.Uint64()
	}
	format := in.Format
	if format == "" {
		format = inference.FormatRaw
		if t.Instruction {
			format = inference.FormatInstruction
		}
	}
	if strings.TrimSpace(in.Prompt) == "" {
		return req, format, &inference.FieldError{Field: "prompt", Message: "Write a prompt for the model to continue."}
	}
	prompt, stop, err := inference.FormatPrompt(format, in.Prompt)
	req.Prompt, req.Stop = prompt, stop
	return req, format, err
}

// generateProblem maps engine errors to what the caller sees.
func generateProblem(err error) error {
	var fe *inference.FieldError
	if errors.As(err, &fe) {
		return &Problem{Status: http.StatusBadRequest, Code: "invalid", Message: fe.Message, Fields: map[string]string{fe.Field: fe.Message}}
	}
	if errors.Is(err, inference.ErrTooLarge) {
		return &Problem{Status: http.StatusServiceUnavailable, Code: "model_too_large", Err: err,
			Message: "This model is larger than the memory this server sets aside for generation (MF_INFERENCE_MEMORY_MB)."}
	}
	return err
}

func generationJSON(t *generationTarget, format string, res *inference.Result) map[string]any {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return map[string]any{
		"model": t.Name, "format": format, "text": res.Text, "tokens": res.Tokens, "promptTokens": res.PromptTokens,
		"finishReason": res.FinishReason, "timeToFirstTokenMs": ms(res.TimeToFirstToken), "durationMs": ms(res.Duration),
		"loadMs": ms(res.Load), "queueMs": ms(res.Queue), "tokensPerSecond": res.TokensPerSecond(),
	}
}

// wantsStream reports whether the caller asked for Server-Sent Events.
func wantsStream(r *http.Request, in *generateInput) bool {
	return in.Stream || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// APIGenerate continues a prompt with a fine-tuned or base model.
// POST /api/v1/models/{id}/generate, {id} = a model slug, a model ID or
// base:<slug>. JSON answers carry the whole text; with Accept:
// text/event-stream (or "stream": true) tokens arrive as "token" events,
// then one "done" event with the same fields as the JSON answer.
func (h *Handlers) APIGenerate(w http.ResponseWriter, r *http.Request) {
	if h.Inference == nil {
		h.Fail(w, r, problem(http.StatusServiceUnavailable, "no_inference", "Text generation is not enabled on this server."))
		return
	}
	var in generateInput
	if err := decodeJSON(r, &in); err != nil {
		h.Fail(w, r, err)
		return
	}
	t, err := h.generationTargetFor(r.Context(), actor(r), chi.URLParam(r, "id"))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	req, format, err := in.request(t, h.Inference.MaxTokens())
	if err != nil {
		h.Fail(w, r, generateProblem(err))
		return
	}
	if !wantsStream(r, &in) {
		res, err := h.Inference.Generate(r.Context(), t.Spec, req, nil)
		if err != nil {
			h.Fail(w, r, generateProblem(err))
			return
		}
		writeJSON(w, http.StatusOK, generationJSON(t, format, res))
		return
	}
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	res, err := h.Inference.Generate(r.Context(), t.Spec, req, func(text string) error {
		return s.event("token", map[string]string{"text": text})
	})
	switch {
	case err != nil && r.Context().Err() != nil:
		// The client went away; generation stopped with it.
	case err != nil && !s.started:
		h.Fail(w, r, generateProblem(err))
	case err != nil:
		p := toProblem(generateProblem(err))
		if p.Status >= 500 {
			h.Log.ErrorContext(r.Context(), "generation failed", "err", err, "model", t.Name)
		}
		_ = s.event("error", map[string]string{"code": p.Code, "message": p.Message})
	default:
		_ = s.event("done", generationJSON(t, format, res))
	}
}

// sseWriter writes Server-Sent Events, sending the headers with the first
// event so that errors found before it can still be plain JSON answers.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func (s *sseWriter) event(name string, v any) error {
	if !s.started {
		sseHeaders(s.w)
		s.started = true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, b); err != nil {
		return err
	}
	return s.rc.Flush()
}
