package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/modelfactory/modelfactory/store"
)

// finetuneRequest is the body of POST /api/v1/finetunes: the wizard's
// fields. settings overrides the preset's values field by field.
type finetuneRequest struct {
	Name      string            `json:"name"`
	BaseModel json.RawMessage   `json:"baseModel"` // ID or slug
	Versions  []json.RawMessage `json:"versions"`  // version IDs or {"datanet":slug,"version":n}
	Method    string            `json:"method"`
	Preset    string            `json:"preset"`
	Settings  json.RawMessage   `json:"settings"`
	Priority  int               `json:"priority"`
	GPU       bool              `json:"gpu"`
}

// badRequest is a 400 naming the fields (the API contract for bad settings).
func badRequest(fields map[string]string) *Problem {
	msg := "Some fields are invalid: see fields."
	if len(fields) == 1 {
		for k, m := range fields {
			msg = k + ": " + m
		}
	}
	return &Problem{Status: http.StatusBadRequest, Code: "invalid", Message: msg, Fields: fields}
}

// APICreateFinetune launches a run. POST /api/v1/finetunes → 202 {"id"}
func (h *Handlers) APICreateFinetune(w http.ResponseWriter, r *http.Request) {
	var body finetuneRequest
	if err := decodeJSON(r, &body); err != nil {
		h.Fail(w, r, err)
		return
	}
	ctx := r.Context()
	a := actor(r)
	errs := map[string]string{}
	l := store.FinetuneLaunch{Name: body.Name, Preset: body.Preset, Priority: body.Priority, GPU: body.GPU}
	if len(body.BaseModel) > 0 {
		var id int64
		var slug string
		switch {
		case json.Unmarshal(body.BaseModel, &id) == nil:
			l.BaseModelID = id
		case json.Unmarshal(body.BaseModel, &slug) == nil:
			if b, err := h.Store.GetBaseModelBySlug(ctx, slug); err == nil {
				l.BaseModelID = b.ID
			} else if !errors.Is(err, store.ErrNotFound) {
				h.Fail(w, r, err)
				return
			}
		default:
			errs["baseModel"] = "Give the base model's ID or slug."
		}
	}
	for _, raw := range body.Versions {
		var id int64
		var ref struct {
			Datanet string `json:"datanet"`
			Version int    `json:"version"`
		}
		switch {
		case json.Unmarshal(raw, &id) == nil:
			l.VersionIDs = append(l.VersionIDs, id)
		case json.Unmarshal(raw, &ref) == nil && ref.Datanet != "":
			d, _, err := h.Store.VisibleDatanet(ctx, a, ref.Datanet)
			if err == nil {
				var v *store.Version
				if v, err = h.Store.VersionByNumber(ctx, d.ID, ref.Version); err == nil {
					l.VersionIDs = append(l.VersionIDs, v.ID)
				}
			}
			if errors.Is(err, store.ErrNotFound) {
				errs["versions"] = fmt.Sprintf("There is no version %d of %q you can see.", ref.Version, ref.Datanet)
			} else if err != nil {
				h.Fail(w, r, err)
				return
			}
		default:
			errs["versions"] = `Give version IDs or {"datanet": slug, "version": n}.`
		}
	}
	method := body.Method
	if method == "" {
		method = store.MethodLoRA
	}
	preset := body.Preset
	if preset == "" || preset == store.PresetCustom {
		preset = store.PresetBalanced
	}
	l.Settings = store.PresetSettings(preset, method)
	if len(body.Settings) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body.Settings))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l.Settings); err != nil {
			var te *json.UnmarshalTypeError
			switch {
			case errors.As(err, &te) && te.Field != "":
				errs[te.Field] = fmt.Sprintf("Expected a %s.", te.Type)
			case strings.HasPrefix(err.Error(), "json: unknown field "):
				// Name the field without showing the decoder's own text.
				errs["settings"] = "Unknown trainer option " + strings.TrimPrefix(err.Error(), "json: unknown field ") + "."
			default:
				errs["settings"] = "settings must be an object of trainer options."
			}
		}
	}
	if body.Method != "" {
		l.Settings.Method = body.Method
	}
	if len(errs) > 0 {
		h.Fail(w, r, badRequest(errs))
		return
	}
	if len(l.VersionIDs) == 0 {
		h.Fail(w, r, badRequest(map[string]string{"versions": "Choose at least one published Datanet version."}))
		return
	}
	run, err := h.launchFinetune(ctx, a, l)
	if err != nil {
		var ve *store.ValidationError
		if errors.As(err, &ve) {
			fields := map[string]string{}
			for k, v := range ve.Fields {
				if k == "data" {
					k = "versions"
				}
				fields[k] = v
			}
			h.Fail(w, r, badRequest(fields))
			return
		}
		h.Fail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/finetunes/%d", run.ID))
	writeJSON(w, http.StatusAccepted, map[string]any{"id": run.ID, "status": run.Status, "queue": run.Queue})
}

// finetuneJSON is a run in the API.
func (h *Handlers) finetuneJSON(r *http.Request, run *store.FinetuneRun) (map[string]any, error) {
	ctx := r.Context()
	data, err := h.Store.FinetuneRunData(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	vs := make([]map[string]any, 0, len(data))
	for _, d := range data {
		vs = append(vs, map[string]any{"id": d.VersionID, "datanet": d.DatanetSlug, "version": d.Version,
			"records": d.Records, "merkleRoot": d.MerkleRoot})
	}
	out := map[string]any{
		"id": run.ID, "name": run.Name, "status": run.Status, "error": run.Error, "baseModel": run.BaseModelSlug,
		"method": run.Method, "preset": run.Preset, "backend": run.Backend, "queue": run.Queue, "priority": run.Priority,
		"attempt": run.Attempt, "step": run.Step, "totalSteps": run.TotalSteps, "settings": run.Settings,
		"metrics": run.Metrics, "versions": vs, "trainRecords": run.TrainRecords, "valRecords": run.ValRecords,
		"estimatedSeconds": run.EstimatedSeconds, "createdAt": run.CreatedAt, "startedAt": run.StartedAt,
		"finishedAt": run.FinishedAt, "progress": nil, "model": nil,
	}
	if run.Progress != nil {
		out["progress"] = run.Progress
	}
	if run.ModelSlug != "" {
		out["model"] = map[string]any{"slug": run.ModelSlug, "url": "/models/" + run.ModelSlug}
	}
	if run.Status == store.RunQueued {
		pos, err := h.Store.QueuePositions(ctx, []int64{run.ID})
		if err != nil {
			return nil, err
		}
		out["queuePosition"] = pos[run.ID]
	}
	return out, nil
}

// APIGetFinetune returns a run's status, metrics and latest progress.
// GET /api/v1/finetunes/{id}
func (h *Handlers) APIGetFinetune(w http.ResponseWriter, r *http.Request) {
	run, ok := h.finetuneFromURL(w, r)
	if !ok {
		return
	}
	out, err := h.finetuneJSON(r, run)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// APIListFinetunes lists the caller's runs. GET /api/v1/finetunes
func (h *Handlers) APIListFinetunes(w http.ResponseWriter, r *http.Request) {
	runs, err := h.Store.ListFinetuneRuns(r.Context(), actor(r), false, 100)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(runs))
	for i := range runs {
		run := &runs[i]
		out = append(out, map[string]any{"id": run.ID, "name": run.Name, "status": run.Status, "baseModel": run.BaseModelSlug,
			"method": run.Method, "step": run.Step, "totalSteps": run.TotalSteps, "createdAt": run.CreatedAt, "model": run.ModelSlug})
	}
	writeJSON(w, http.StatusOK, map[string]any{"finetunes": out})
}

// APICancelFinetune cancels a run. POST /api/v1/finetunes/{id}/cancel
func (h *Handlers) APICancelFinetune(w http.ResponseWriter, r *http.Request) {
	run, ok := h.finetuneFromURL(w, r)
	if !ok {
		return
	}
	run, err := h.Store.RequestFinetuneCancel(r.Context(), actor(r), run.ID)
	if err != nil {
		var ve *store.ValidationError
		if errors.As(err, &ve) {
			h.Fail(w, r, &Problem{Status: http.StatusConflict, Code: "final", Message: ve.Fields["status"], Fields: ve.Fields})
			return
		}
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": run.ID, "status": run.Status})
}

// APIFinetuneEvents streams a run's events as Server-Sent Events: each
// event's kind is the SSE event name (progress, log, sample, status,
// early_stop), its id the event ID (reconnects resume with Last-Event-ID),
// its data {"id","step","data","createdAt"}. The stream ends when the run
// is final. GET /api/v1/finetunes/{id}/events
func (h *Handlers) APIFinetuneEvents(w http.ResponseWriter, r *http.Request) {
	run, ok := h.finetuneFromURL(w, r)
	if !ok {
		return
	}
	flusher, ok := sseStream(w)
	if !ok {
		return
	}
	ctx := r.Context()
	after := lastEventID(r)
	h.watchRun(ctx, w, flusher, run.ID, func() (bool, time.Duration, error) {
		cur, err := h.Store.FinetuneRunByID(ctx, run.ID)
		if err != nil {
			return false, 0, err
		}
		for {
			evs, err := h.Store.FinetuneEvents(ctx, run.ID, after, nil, 500)
			if err != nil {
				return false, 0, err
			}
			for _, e := range evs {
				after = e.ID
				b, _ := json.Marshal(map[string]any{"id": e.ID, "step": e.Step, "data": e.Data, "createdAt": e.CreatedAt.Format(time.RFC3339Nano)})
				writeSSE(w, e.Kind, e.ID, string(b))
			}
			if len(evs) < 500 {
				break
			}
		}
		if cur.Final() {
			writeSSE(w, "end", 0, strconv.Quote(cur.Status))
			return false, 0, nil
		}
		return true, 0, nil
	})
}
