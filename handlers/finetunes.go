package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
)

// finetuneField describes one trainer option: where it shows in the wizard
// and how it reads from and writes to store.FinetuneSettings.
type finetuneField struct {
	name, label, help, kind, step string
	options                       []string
	advanced                      bool
	get                           func(s *store.FinetuneSettings) string
	set                           func(s *store.FinetuneSettings, v string) error
}

func intField(p func(*store.FinetuneSettings) *int) (func(*store.FinetuneSettings) string, func(*store.FinetuneSettings, string) error) {
	return func(s *store.FinetuneSettings) string { return strconv.Itoa(*p(s)) },
		func(s *store.FinetuneSettings, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return errors.New("Enter a whole number.")
			}
			*p(s) = n
			return nil
		}
}

func floatField(p func(*store.FinetuneSettings) *float64) (func(*store.FinetuneSettings) string, func(*store.FinetuneSettings, string) error) {
	return func(s *store.FinetuneSettings) string { return strconv.FormatFloat(*p(s), 'g', -1, 64) },
		func(s *store.FinetuneSettings, v string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return errors.New("Enter a number, such as 0.001 or 1e-3.")
			}
			*p(s) = f
			return nil
		}
}

func field(name, label, help, kind string, advanced bool, gs func(*store.FinetuneSettings) string, ss func(*store.FinetuneSettings, string) error) finetuneField {
	return finetuneField{name: name, label: label, help: help, kind: kind, advanced: advanced, get: gs, set: ss}
}

// finetuneFields is every trainer option, in wizard order.
var finetuneFields = func() []finetuneField {
	f := func(name, label, help, kind string, adv bool, gs func(*store.FinetuneSettings) string, ss func(*store.FinetuneSettings, string) error) finetuneField {
		return field(name, label, help, kind, adv, gs, ss)
	}
	var out []finetuneField
	add := func(ff finetuneField) { out = append(out, ff) }
	g, s := intField(func(x *store.FinetuneSettings) *int { return &x.LoRARank })
	add(f("loraRank", "Rank", "Adapter rank r: capacity of the adapters (4–64).", "lora", false, g, s))
	g, s = floatField(func(x *store.FinetuneSettings) *float64 { return &x.LoRAAlpha })
	add(f("loraAlpha", "Alpha", "Scale alpha; updates are scaled by alpha/r (typically 2r).", "lora", false, g, s))
	g, s = floatField(func(x *store.FinetuneSettings) *float64 { return &x.LoRADropout })
	add(f("loraDropout", "Dropout", "Dropout on the adapter input (0–0.3).", "lora", false, g, s))
	g, s = floatField(func(x *store.FinetuneSettings) *float64 { return &x.LearningRate })
	add(f("learningRate", "Learning rate", "Peak learning rate (LoRA 1e-4–3e-3, full 1e-5–5e-4).", "number", false, g, s))
	g, s = floatField(func(x *store.FinetuneSettings) *float64 { return &x.Epochs })
	add(f("epochs", "Epochs", "Passes over the training split.", "number", false, g, s))
	g, s = intField(func(x *store.FinetuneSettings) *int { return &x.BatchSize })
	add(f("batchSize", "Batch size", "Rows of context length tokens per micro-batch.", "number", false, g, s))
	g, s = intField(func(x *store.FinetuneSettings) *int { return &x.GradAccum })
	add(f("gradAccum", "Gradient accumulation", "Micro-batches per optimizer step.", "number", false, g, s))
	g, s = intField(func(x *store.FinetuneSettings) *int { return &x.ContextLength })
	add(f("contextLength", "Context length", "Tokens per training row; at most the base model's context.", "number", false, g, s))
	g, s = intField(func(x *store.FinetuneSettings) *int { return &x.WarmupSteps })
	add(f("warmupSteps", "Warm-up steps", "Steps of linear warm-up to the peak learning rate.", "number", false, g, s))
	add(finetuneField{name: "scheduler", label: "Scheduler", help: "Learning-rate shape after warm-up.", kind: "select",
		options: []string{"cosine", "linear", "constant"},
		get:     func(x *store.FinetuneSettings) string { return x.Scheduler },
		set:     func(x *store.FinetuneSettings, v string) error { x.Scheduler = strings.TrimSpace(v); return nil }})
	g, s = intField(func(x *store.FinetuneSettings) *int { return &x.EarlyStoppingPatience })
	add(f("earlyStoppingPatience", "Early-stopping patience", "Evaluations without improvement before stopping (0: never).", "number", false, g, s))
	g, s = intField(func(x *store.FinetuneSettings) *int { return &x.EvalEvery })
	add(f("evalEvery", "Evaluate every", "Steps between validation evaluations and samples (0: never).", "number", false, g, s))
	g, s = floatField(func(x *store.FinetuneSettings) *float64 { return &x.ValSplit })
	add(f("valSplit", "Validation split", "", "number", false, g, s))
	g, s = intField(func(x *store.FinetuneSettings) *int { return &x.MaxSteps })
	add(f("maxSteps", "Max steps", "Stop after this many steps (0: from epochs).", "number", true, g, s))
	g, s = floatField(func(x *store.FinetuneSettings) *float64 { return &x.MinLRRatio })
	add(f("minLrRatio", "Minimum LR ratio", "Where cosine/linear decay ends, as a fraction of the peak.", "number", true, g, s))
	g, s = floatField(func(x *store.FinetuneSettings) *float64 { return &x.WeightDecay })
	add(f("weightDecay", "Weight decay", "AdamW decoupled weight decay.", "number", true, g, s))
	g, s = floatField(func(x *store.FinetuneSettings) *float64 { return &x.GradClip })
	add(f("gradClip", "Gradient clipping", "Global gradient-norm limit (0: off).", "number", true, g, s))
	g, s = intField(func(x *store.FinetuneSettings) *int { return &x.EvalBatches })
	add(f("evalBatches", "Evaluation batches", "Batches per evaluation (0: the whole validation split).", "number", true, g, s))
	g, s = intField(func(x *store.FinetuneSettings) *int { return &x.CheckpointEvery })
	add(f("checkpointEvery", "Checkpoint every", "Steps between checkpoints in object storage (a resumed run restarts from the last).", "number", true, g, s))
	add(finetuneField{name: "seed", label: "Seed", help: "Random seed (data order, initialisation, dropout).", kind: "number", advanced: true,
		get: func(x *store.FinetuneSettings) string { return strconv.FormatUint(x.Seed, 10) },
		set: func(x *store.FinetuneSettings, v string) error {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return errors.New("Enter a whole number of 0 or more.")
			}
			x.Seed = n
			return nil
		}})
	add(finetuneField{name: "samplePrompts", label: "Sample prompts", help: "Prompts generated from at each evaluation, separated by |.", kind: "text", advanced: true,
		get: func(x *store.FinetuneSettings) string { return strings.Join(x.SamplePrompts, " | ") },
		set: func(x *store.FinetuneSettings, v string) error {
			x.SamplePrompts = nil
			for _, p := range strings.Split(v, "|") {
				if p = strings.TrimSpace(p); p != "" {
					x.SamplePrompts = append(x.SamplePrompts, p)
				}
			}
			return nil
		}})
	g, s = intField(func(x *store.FinetuneSettings) *int { return &x.SampleTokens })
	add(f("sampleTokens", "Sample length", "Tokens generated per sample (0: no samples).", "number", true, g, s))
	return out
}()

// wizardStepOf says which wizard step shows a field's error.
func wizardStepOf(field string) int {
	switch field {
	case "baseModel":
		return 1
	case "data", "valSplit":
		return 2
	case "name", "priority", "preset", "templateName", "form":
		return 4
	}
	return 3
}

// wizardInput is the wizard's state parsed from the form.
type wizardInput struct {
	step         int
	launch       store.FinetuneLaunch
	templateName string
	errs         map[string]string
}

// parseWizard reads the wizard form; unparsable numbers become field errors.
func parseWizard(r *http.Request) wizardInput {
	in := wizardInput{errs: map[string]string{}}
	in.step, _ = strconv.Atoi(r.PostFormValue("step"))
	in.step = min(max(in.step, 1), 4)
	l := &in.launch
	l.BaseModelID, _ = strconv.ParseInt(r.PostFormValue("baseModel"), 10, 64)
	for _, v := range r.PostForm["versions"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			l.VersionIDs = append(l.VersionIDs, id)
		}
	}
	method := r.PostFormValue("method")
	if method == "" {
		method = store.MethodLoRA
	}
	l.Preset = r.PostFormValue("preset")
	if l.Preset == "" {
		l.Preset = store.PresetBalanced
	}
	l.Settings = store.PresetSettings(l.Preset, method)
	l.Settings.Method = method
	for _, f := range finetuneFields {
		v, ok := r.PostForm[f.name]
		if !ok {
			continue
		}
		if err := f.set(&l.Settings, v[0]); err != nil {
			in.errs[f.name] = err.Error()
		}
	}
	if _, ok := r.PostForm["loraTargets"]; ok || in.step >= 3 {
		l.Settings.LoRATargets = r.PostForm["loraTargets"]
	}
	l.Name = r.PostFormValue("name")
	l.Priority, _ = strconv.Atoi(r.PostFormValue("priority"))
	l.GPU = r.PostFormValue("gpu") == "1"
	in.templateName = r.PostFormValue("templateName")
	return in
}

// NewFinetune shows the wizard's first step (prefilled from ?template=).
// GET /finetunes/new
func (h *Handlers) NewFinetune(w http.ResponseWriter, r *http.Request) {
	in := wizardInput{step: 1, errs: map[string]string{}}
	in.launch.Preset = store.PresetBalanced
	in.launch.Settings = store.PresetSettings(store.PresetBalanced, store.MethodLoRA)
	in.launch.Priority = 2
	if id, err := strconv.ParseInt(r.URL.Query().Get("template"), 10, 64); err == nil {
		t, err := h.Store.FinetuneTemplateByID(r.Context(), actor(r), id)
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		c := t.Config
		in.launch = store.FinetuneLaunch{BaseModelID: c.BaseModelID, VersionIDs: c.VersionIDs, Preset: c.Preset,
			Settings: c.Settings, Priority: c.Priority, GPU: c.GPU}
		in.templateName = t.Name
	}
	h.renderWizard(w, r, in, http.StatusOK)
}

// WizardFinetune moves the wizard: next/back validate and move between
// steps, preset:* fills the settings, launch starts the run, template
// saves the configuration. POST /finetunes/new
func (h *Handlers) WizardFinetune(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.Fail(w, r, err)
		return
	}
	in := parseWizard(r)
	action := r.PostFormValue("action")
	ctx := r.Context()
	a := actor(r)
	switch {
	case strings.HasPrefix(action, "preset:"):
		p := strings.TrimPrefix(action, "preset:")
		if slices.Contains(store.FinetunePresets, p) {
			val := in.launch.Settings.ValSplit
			in.launch.Settings = store.PresetSettings(p, in.launch.Settings.Method)
			in.launch.Settings.ValSplit = val
			in.launch.Preset = p
		}
		in.step = 3
		clear(in.errs)
	case action == "back":
		in.step = max(1, in.step-1)
		clear(in.errs)
	case action == "next", action == "launch", action == "template":
		upto := in.step
		if action != "next" {
			upto = 4
		}
		errs := h.checkWizard(ctx, a, &in)
		for k, v := range errs {
			if wizardStepOf(k) <= upto && !(action == "template" && (k == "name" || k == "data")) {
				in.errs[k] = v
			}
		}
		if len(in.errs) > 0 {
			first := 4
			for k := range in.errs {
				first = min(first, wizardStepOf(k))
			}
			in.step = first
			h.renderWizard(w, r, in, http.StatusUnprocessableEntity)
			return
		}
		switch action {
		case "next":
			in.step++
		case "template":
			l := in.launch
			if _, err := h.Store.SaveFinetuneTemplate(ctx, a, in.templateName, store.TemplateConfig{BaseModelID: l.BaseModelID,
				VersionIDs: l.VersionIDs, Preset: l.Preset, Settings: l.Settings, Priority: l.Priority, GPU: l.GPU}); err != nil {
				var ve *store.ValidationError
				if errors.As(err, &ve) {
					in.errs = ve.Fields
					h.renderWizard(w, r, in, http.StatusUnprocessableEntity)
					return
				}
				h.Fail(w, r, err)
				return
			}
			addFlash(w, r, "success", fmt.Sprintf("Template %q saved. It is listed when you start a new fine-tune.", strings.TrimSpace(in.templateName)))
		case "launch":
			run, err := h.launchFinetune(ctx, a, in.launch)
			if err != nil {
				var ve *store.ValidationError
				if errors.As(err, &ve) {
					in.errs = ve.Fields
					in.step = 4
					h.renderWizard(w, r, in, http.StatusUnprocessableEntity)
					return
				}
				h.Fail(w, r, err)
				return
			}
			addFlash(w, r, "success", "Fine-tune launched. This page updates live.")
			http.Redirect(w, r, fmt.Sprintf("/finetunes/%d", run.ID), http.StatusSeeOther)
			return
		}
	}
	h.renderWizard(w, r, in, http.StatusOK)
}

// checkWizard runs the store's launch checks and returns field errors.
func (h *Handlers) checkWizard(ctx context.Context, a store.Actor, in *wizardInput) map[string]string {
	l := in.launch
	if strings.TrimSpace(l.Name) == "" {
		l.Name = "draft" // the name is asked for on the last step
	}
	_, _, _, err := h.Store.CheckFinetune(ctx, a, &l)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return ve.Fields
	}
	if err != nil {
		return map[string]string{"form": "The settings could not be checked; please try again."}
	}
	in.launch.Settings = l.Settings // normalised lists
	return nil
}

// launchFinetune estimates the run time and launches the run with its job.
func (h *Handlers) launchFinetune(ctx context.Context, a store.Actor, l store.FinetuneLaunch) (*store.FinetuneRun, error) {
	if h.EnqueueFinetune == nil {
		return nil, problem(http.StatusServiceUnavailable, "no_queue", "Fine-tuning is not available on this server.")
	}
	if base, err := h.Store.GetBaseModel(ctx, l.BaseModelID); err == nil {
		l.TokensPerSec, _ = h.tokensPerSec(ctx, base, l.Settings.Method, queueFor(base, l.GPU))
	}
	return h.Store.LaunchFinetune(ctx, a, l, h.EnqueueFinetune)
}

func queueFor(b *store.BaseModel, gpu bool) string {
	if b.TrainableCPU && !gpu {
		return store.QueueTrainCPU
	}
	return store.QueueTrainGPU
}

// tokensPerSec is the throughput an estimate uses and where it comes from:
// past runs of the model on this deployment, else the trainer benchmark.
func (h *Handlers) tokensPerSec(ctx context.Context, b *store.BaseModel, method, queue string) (float64, string) {
	if tps, err := h.Store.MeasuredTokensPerSec(ctx, b.ID, queue); err == nil && tps > 0 {
		return tps, "measured on this deployment's last runs of this model"
	}
	if queue == store.QueueTrainGPU {
		return 0, "no GPU run of this model has finished here yet"
	}
	if tps := store.BenchTokensPerSec(b, method); tps > 0 {
		return tps, fmt.Sprintf("from the trainer benchmark, %d GFLOP/s on this machine's CPU", store.BenchGFLOPS)
	}
	return 0, "model size unknown"
}

// renderWizard fills the wizard view from the input and the catalog.
func (h *Handlers) renderWizard(w http.ResponseWriter, r *http.Request, in wizardInput, status int) {
	ctx := r.Context()
	a := actor(r)
	l := in.launch
	bases, err := h.Store.ListBaseModels(ctx, true)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	data, err := h.Store.FinetuneDataChoices(ctx, a)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	tpls, err := h.Store.ListFinetuneTemplates(ctx, a)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	v := views.FinetuneWizard{Step: in.step, Errors: in.errs, BaseModelID: l.BaseModelID, VersionIDs: map[int64]bool{},
		Method: l.Settings.Method, Preset: l.Preset, LoRATargets: l.Settings.LoRATargets, Targets: store.GPT2LoRATargets,
		Name: l.Name, Priority: l.Priority, GPU: l.GPU, TemplateName: in.templateName}
	if v.Priority == 0 {
		v.Priority = 2
	}
	for _, t := range tpls {
		v.Templates = append(v.Templates, views.FinetuneTemplateOption{ID: t.ID, Name: t.Name,
			Summary: fmt.Sprintf("%s, %s preset", t.Config.Settings.Method, t.Config.Preset)})
	}
	var chosen *store.BaseModel
	for i := range bases {
		b := &bases[i]
		v.Bases = append(v.Bases, views.FinetuneBaseOption{ID: b.ID, Slug: b.Slug, Name: b.Name, Architecture: b.Architecture,
			Params: b.ParamCount, SizeBytes: b.SizeBytes, ContextLength: b.Shape().Context, Width: b.Shape().Width,
			License: b.License, TrainableCPU: b.TrainableCPU})
		if b.ID == l.BaseModelID {
			chosen = b
		}
	}
	if chosen != nil && !chosen.TrainableCPU {
		v.Targets = nil // free-form for other architectures: keep what was chosen
		v.Targets = append(v.Targets, l.Settings.LoRATargets...)
		for _, t := range []string{"q_proj", "k_proj", "v_proj", "o_proj"} {
			if !slices.Contains(v.Targets, t) {
				v.Targets = append(v.Targets, t)
			}
		}
	}
	var names []string
	for _, id := range l.VersionIDs {
		v.VersionIDs[id] = true
	}
	for _, d := range data {
		v.Data = append(v.Data, views.FinetuneDataOption{VersionID: d.VersionID, DatanetSlug: d.DatanetSlug, DatanetName: d.DatanetName,
			Schema: d.Schema, Version: d.Version, Records: d.Records, Tokens: d.Tokens, MerkleRoot: d.MerkleRoot, Usable: d.Usable, Why: d.Why})
		if v.VersionIDs[d.VersionID] && !slices.Contains(names, d.DatanetName) {
			names = append(names, d.DatanetName)
		}
	}
	for _, f := range finetuneFields {
		v.Fields = append(v.Fields, views.FinetuneField{Name: f.name, Label: f.label, Help: f.help, Value: f.get(&l.Settings),
			Kind: f.kind, Options: f.options, Advanced: f.advanced})
	}
	if in.step == 4 && chosen != nil {
		if v.Name == "" {
			v.Name = chosen.Name + " on " + strings.Join(names, " + ")
		}
		if _, _, est, err := h.Store.CheckFinetune(ctx, a, &store.FinetuneLaunch{Name: "x", BaseModelID: l.BaseModelID,
			VersionIDs: slices.Clone(l.VersionIDs), Preset: l.Preset, Settings: l.Settings, Priority: v.Priority}); err == nil {
			v.Records, v.TrainRecords, v.ValRecords, v.Tokens = est.Records, est.TrainRecords, est.ValRecords, est.Tokens
			trainTokens := est.Tokens - est.Tokens*est.ValRecords/max(1, est.Records)
			v.Steps = store.EstimateSteps(l.Settings, trainTokens)
			v.Queue = queueFor(chosen, l.GPU)
			v.TokensPerSec, v.EstimateSource = h.tokensPerSec(ctx, chosen, l.Settings.Method, v.Queue)
			v.EstimatedSeconds = store.EstimateSeconds(l.Settings, trainTokens, v.TokensPerSec)
			if v.Queue == store.QueueTrainCPU {
				v.Cost = "Free: CPU runs on this deployment's own workers are not charged (0 OPEN)."
			} else {
				v.Cost = "0 OPEN charged by this deployment; the GPU worker's operator bears its compute."
			}
		}
	}
	p := h.page(w, r, "New fine-tune", "finetunes")
	p.Breadcrumbs = []views.Crumb{{Label: "Fine-tunes", Href: "/finetunes"}, {Label: "New"}}
	h.render(w, r, status, views.FinetuneWizardPage(p, v))
}

// progressLine is a trainer_log.jsonl line as stored in progress events.
type progressLine struct {
	Step         int      `json:"current_steps"`
	TotalSteps   int      `json:"total_steps"`
	Loss         *float64 `json:"loss"`
	EvalLoss     *float64 `json:"eval_loss"`
	LR           float64  `json:"lr"`
	Epoch        float64  `json:"epoch"`
	Elapsed      string   `json:"elapsed_time"`
	Remaining    string   `json:"remaining_time"`
	TokensPerSec float64  `json:"tokens_per_sec"`
}

func runRow(r *store.FinetuneRun, pos map[int64]int) views.FinetuneRunRow {
	row := views.FinetuneRunRow{ID: r.ID, Name: r.Name, BaseModel: r.BaseModelName, Method: r.Method, Status: r.Status,
		Step: r.Step, Total: r.TotalSteps, QueuePosition: pos[r.ID], Queue: r.Queue, Priority: r.Priority,
		CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt, ModelSlug: r.ModelSlug}
	if v, ok := r.Metrics["train_loss"]; ok {
		row.TrainLoss = &v
	}
	if v, ok := r.Metrics["eval_loss"]; ok {
		row.EvalLoss = &v
	}
	if row.TrainLoss == nil && r.Progress != nil {
		var p progressLine
		if json.Unmarshal(r.Progress, &p) == nil {
			row.TrainLoss = p.Loss
		}
	}
	return row
}

// Finetunes lists the viewer's runs. GET /finetunes
func (h *Handlers) Finetunes(w http.ResponseWriter, r *http.Request) {
	runs, err := h.Store.ListFinetuneRuns(r.Context(), actor(r), false, 200)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	pos, err := h.Store.QueuePositions(r.Context(), runIDs(runs))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	var l views.FinetuneList
	for i := range runs {
		l.Runs = append(l.Runs, runRow(&runs[i], pos))
	}
	p := h.page(w, r, "Fine-tunes", "finetunes")
	p.Wide = true
	h.render(w, r, http.StatusOK, views.FinetunesPage(p, l))
}

func runIDs(runs []store.FinetuneRun) []int64 {
	ids := make([]int64, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids
}

// finetuneFromURL loads the run in {id} for the viewer (404 otherwise).
func (h *Handlers) finetuneFromURL(w http.ResponseWriter, r *http.Request) (*store.FinetuneRun, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		h.NotFound(w, r)
		return nil, false
	}
	run, err := h.Store.VisibleFinetuneRun(r.Context(), actor(r), id)
	if err != nil {
		h.Fail(w, r, err)
		return nil, false
	}
	return run, true
}

// curves builds the loss and learning-rate charts from progress events.
func curves(evs []store.FinetuneEvent) (loss, lr views.ChartSpec, last int64) {
	loss = views.ChartSpec{XLabel: "step", YLabel: "loss", Series: []views.ChartSeries{{Label: "train loss"}, {Label: "validation loss"}},
		Y: [][]*float64{{}, {}}, SSEEvent: "loss"}
	lr = views.ChartSpec{XLabel: "step", YLabel: "learning rate", Series: []views.ChartSeries{{Label: "learning rate"}},
		Y: [][]*float64{{}}, SSEEvent: "lr", Height: 180}
	for _, e := range evs {
		last = max(last, e.ID)
		if e.Kind != store.EventProgress {
			continue
		}
		var p progressLine
		if json.Unmarshal(e.Data, &p) != nil {
			continue
		}
		x := float64(p.Step)
		loss.X = append(loss.X, x)
		loss.Y[0] = append(loss.Y[0], p.Loss)
		loss.Y[1] = append(loss.Y[1], p.EvalLoss)
		lrv := p.LR
		lr.X = append(lr.X, x)
		lr.Y[0] = append(lr.Y[0], &lrv)
	}
	return loss, lr, last
}

// live builds the live part of the run page.
func (h *Handlers) live(ctx context.Context, run *store.FinetuneRun) (views.FinetuneLive, error) {
	l := views.FinetuneLive{RunID: run.ID, Status: run.Status, Step: run.Step, Total: run.TotalSteps, ModelSlug: run.ModelSlug,
		Error: run.Error, CanCancel: !run.Final() && run.Status != store.RunCancelling, Attempt: run.Attempt}
	if run.Progress != nil {
		var p progressLine
		if json.Unmarshal(run.Progress, &p) == nil {
			l.Epoch, l.TokensPerSec, l.Elapsed, l.Remaining = p.Epoch, p.TokensPerSec, p.Elapsed, p.Remaining
		}
	}
	if run.Final() {
		l.Remaining = "—"
	}
	if run.Status == store.RunQueued {
		pos, err := h.Store.QueuePositions(ctx, []int64{run.ID})
		if err != nil {
			return l, err
		}
		l.QueuePosition = pos[run.ID]
	}
	var err error
	if l.LastEventID, err = h.Store.LastFinetuneEventID(ctx, run.ID); err != nil {
		return l, err
	}
	logs, err := h.Store.LastFinetuneEvents(ctx, run.ID, []string{store.EventLog, store.EventStatus}, 14)
	if err != nil {
		return l, err
	}
	for _, e := range logs {
		var d struct {
			Line, Message, Reason, Prompt, Output string
		}
		_ = json.Unmarshal(e.Data, &d)
		switch e.Kind {
		case store.EventLog:
			l.Logs = append(l.Logs, views.FinetuneLogLine{At: e.CreatedAt, Text: d.Line})
		case store.EventStatus:
			l.Logs = append(l.Logs, views.FinetuneLogLine{At: e.CreatedAt, Text: d.Message})
		}
	}
	samples, err := h.Store.LastFinetuneEvents(ctx, run.ID, []string{store.EventSample}, 6)
	if err != nil {
		return l, err
	}
	for _, e := range samples {
		var d struct{ Prompt, Output string }
		_ = json.Unmarshal(e.Data, &d)
		l.Samples = append(l.Samples, views.FinetuneSample{Step: e.Step, Prompt: d.Prompt, Output: d.Output})
	}
	stops, err := h.Store.LastFinetuneEvents(ctx, run.ID, []string{store.EventEarlyStop}, 1)
	if err != nil {
		return l, err
	}
	for _, e := range stops {
		var d struct{ Reason string }
		_ = json.Unmarshal(e.Data, &d)
		l.EarlyStop = d.Reason
	}
	return l, nil
}

var metricLabels = []struct{ key, label string }{
	{"train_loss", "Final training loss"}, {"eval_loss", "Best validation loss"},
	{"val_perplexity_before", "Validation perplexity before"}, {"val_perplexity_after", "Validation perplexity after"},
	{"tokens_per_sec", "Mean tokens/s"}, {"steps", "Steps"},
}

// ShowFinetune is the run page. GET /finetunes/{id}
func (h *Handlers) ShowFinetune(w http.ResponseWriter, r *http.Request) {
	run, ok := h.finetuneFromURL(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	evs, err := h.Store.FinetuneEvents(ctx, run.ID, 0, []string{store.EventProgress}, 0)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	live, err := h.live(ctx, run)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	data, err := h.Store.FinetuneRunData(ctx, run.ID)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	pos := map[int64]int{run.ID: live.QueuePosition}
	v := views.FinetuneRunPage{Run: runRow(run, pos), Owner: run.Owner, Error: run.Error, Live: live, Attempt: run.Attempt,
		Worker: run.Worker, CanCancel: !run.Final() && run.Status != store.RunCancelling, CanDelete: run.Final(),
		StartedAt: run.StartedAt, EstimatedS: run.EstimatedSeconds}
	var last int64
	v.Loss, v.LR, last = curves(evs)
	v.EventsURL = fmt.Sprintf("/finetunes/%d/events?after=%d", run.ID, last)
	for _, d := range data {
		v.Data = append(v.Data, views.FinetuneDataOption{VersionID: d.VersionID, DatanetSlug: d.DatanetSlug, DatanetName: d.DatanetName,
			Schema: d.Schema, Version: d.Version, Records: d.Records, Tokens: d.Tokens, MerkleRoot: d.MerkleRoot})
	}
	v.Settings = append(v.Settings, views.FinetuneField{Label: "Method", Value: run.Settings.Method}, views.FinetuneField{Label: "Preset", Value: run.Preset})
	for _, f := range finetuneFields {
		if f.kind == "lora" && run.Method != store.MethodLoRA {
			continue
		}
		v.Settings = append(v.Settings, views.FinetuneField{Label: f.label, Value: f.get(&run.Settings)})
	}
	if run.Method == store.MethodLoRA {
		v.Settings = append(v.Settings, views.FinetuneField{Label: "Target modules", Value: strings.Join(run.Settings.LoRATargets, ", ")})
	}
	for _, m := range metricLabels {
		if x, ok := run.Metrics[m.key]; ok {
			v.Metrics = append(v.Metrics, views.FinetuneMetric{Label: m.label, Value: strconv.FormatFloat(x, 'f', 4, 64)})
		}
	}
	p := h.page(w, r, run.Name, "finetunes")
	p.Breadcrumbs = []views.Crumb{{Label: "Fine-tunes", Href: "/finetunes"}, {Label: run.Name}}
	p.Charts = true
	h.render(w, r, http.StatusOK, views.FinetuneRunView(p, v))
}

// CancelFinetune asks the run to stop. POST /finetunes/{id}/cancel
func (h *Handlers) CancelFinetune(w http.ResponseWriter, r *http.Request) {
	run, ok := h.finetuneFromURL(w, r)
	if !ok {
		return
	}
	if _, err := h.Store.RequestFinetuneCancel(r.Context(), actor(r), run.ID); err != nil {
		var ve *store.ValidationError
		if !errors.As(err, &ve) {
			h.Fail(w, r, err)
			return
		}
		addFlash(w, r, "warning", ve.Fields["status"])
	} else {
		addFlash(w, r, "info", "Cancel requested: training stops after the current step.")
	}
	http.Redirect(w, r, fmt.Sprintf("/finetunes/%d", run.ID), http.StatusSeeOther)
}

// DeleteFinetune hides a finished run. POST /finetunes/{id}/delete
func (h *Handlers) DeleteFinetune(w http.ResponseWriter, r *http.Request) {
	run, ok := h.finetuneFromURL(w, r)
	if !ok {
		return
	}
	if err := h.Store.DeleteFinetuneRun(r.Context(), actor(r), run.ID); err != nil {
		h.Fail(w, r, err)
		return
	}
	addFlash(w, r, "success", "Run deleted. A model it created is kept.")
	http.Redirect(w, r, "/finetunes", http.StatusSeeOther)
}

// CompareFinetunes draws several runs on one chart.
// GET /finetunes/compare?ids=1&ids=2 (or ids=1,2)
func (h *Handlers) CompareFinetunes(w http.ResponseWriter, r *http.Request) {
	var ids []int64
	for _, v := range r.URL.Query()["ids"] {
		for _, s := range strings.Split(v, ",") {
			if id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil && !slices.Contains(ids, id) && len(ids) < 8 {
				ids = append(ids, id)
			}
		}
	}
	runs, err := h.Store.FinetuneRunsByIDs(r.Context(), actor(r), ids)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	c := views.FinetuneCompare{
		Loss: views.ChartSpec{XLabel: "step", YLabel: "training loss"},
		Eval: views.ChartSpec{XLabel: "step", YLabel: "validation loss"},
	}
	// One x axis (the union of steps); each run is a series with gaps.
	type pt struct{ loss, eval *float64 }
	per := make([]map[int]pt, len(runs))
	stepSet := map[int]bool{}
	for i := range runs {
		c.Runs = append(c.Runs, runRow(&runs[i], nil))
		c.Loss.Series = append(c.Loss.Series, views.ChartSeries{Label: runs[i].Name})
		c.Eval.Series = append(c.Eval.Series, views.ChartSeries{Label: runs[i].Name})
		evs, err := h.Store.FinetuneEvents(r.Context(), runs[i].ID, 0, []string{store.EventProgress}, 0)
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		per[i] = map[int]pt{}
		for _, e := range evs {
			var p progressLine
			if json.Unmarshal(e.Data, &p) == nil {
				per[i][p.Step] = pt{p.Loss, p.EvalLoss}
				stepSet[p.Step] = true
			}
		}
	}
	steps := make([]int, 0, len(stepSet))
	for s := range stepSet {
		steps = append(steps, s)
	}
	slices.Sort(steps)
	c.Loss.Y = make([][]*float64, len(runs))
	c.Eval.Y = make([][]*float64, len(runs))
	for _, s := range steps {
		c.Loss.X = append(c.Loss.X, float64(s))
		c.Eval.X = append(c.Eval.X, float64(s))
		for i := range runs {
			p := per[i][s]
			c.Loss.Y[i] = append(c.Loss.Y[i], p.loss)
			c.Eval.Y[i] = append(c.Eval.Y[i], p.eval)
		}
	}
	p := h.page(w, r, "Compare fine-tunes", "finetunes")
	p.Breadcrumbs = []views.Crumb{{Label: "Fine-tunes", Href: "/finetunes"}, {Label: "Compare"}}
	p.Charts = true
	p.Wide = true
	h.render(w, r, http.StatusOK, views.FinetuneComparePage(p, c))
}

// ftHub fans PostgreSQL notifications about run events out to the SSE
// streams watching those runs: one LISTEN connection per process while any
// stream is open (none is held when nobody watches, so shutdown never waits
// on it), and a stream wakes only when its run changed (or, for queued
// runs, when any run did, since that can move it in the queue).
type ftHub struct {
	mu     sync.Mutex
	subs   map[int64]map[chan struct{}]bool // run ID (0: every run) → wake channels
	n      int                              // open subscriptions
	cancel context.CancelFunc               // stops the listener
}

func (hub *ftHub) notify(runID int64) {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	for _, key := range []int64{runID, 0} {
		for ch := range hub.subs[key] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// subscribe registers a wake channel for runID, starting the listener for
// the first subscriber; the returned func unsubscribes (and stops the
// listener after the last).
func (hub *ftHub) subscribe(st *store.Store, runID int64) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	hub.mu.Lock()
	if hub.subs == nil {
		hub.subs = map[int64]map[chan struct{}]bool{}
	}
	if hub.subs[runID] == nil {
		hub.subs[runID] = map[chan struct{}]bool{}
	}
	hub.subs[runID][ch] = true
	hub.n++
	if hub.n == 1 {
		ctx, cancel := context.WithCancel(context.Background())
		hub.cancel = cancel
		go st.ListenFinetuneEvents(ctx, hub.notify) //nolint:errcheck // ends with ctx
	}
	hub.mu.Unlock()
	return ch, func() {
		hub.mu.Lock()
		defer hub.mu.Unlock()
		delete(hub.subs[runID], ch)
		if len(hub.subs[runID]) == 0 {
			delete(hub.subs, runID)
		}
		hub.n--
		if hub.n == 0 && hub.cancel != nil {
			hub.cancel()
			hub.cancel = nil
		}
	}
}

// watchRun calls step each time the run may have changed (its events, or
// for a queued run any run's), after the delay step asks for (a deferred
// update), and every 15 s as a safety net, until step returns false or the
// client goes away.
func (h *Handlers) watchRun(ctx context.Context, w http.ResponseWriter, flusher http.Flusher, runID int64, step func() (bool, time.Duration, error)) {
	wake, unsub := h.ftHub.subscribe(h.Store, runID)
	defer unsub()
	all, unsubAll := h.ftHub.subscribe(h.Store, 0)
	defer unsubAll()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	var again <-chan time.Time
	for {
		more, delay, err := step()
		if err != nil || !more {
			flusher.Flush()
			return
		}
		flusher.Flush()
		again = nil
		if delay > 0 {
			again = time.After(delay)
		}
		select {
		case <-ctx.Done():
			return
		case <-again:
		case <-wake:
		case <-all:
			// Another run changed: only a queued run's position can move.
			run, err := h.Store.FinetuneRunByID(ctx, runID)
			if err != nil || run.Status != store.RunQueued {
				continue
			}
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		}
	}
}

// lastEventID is where a stream resumes: the browser's Last-Event-ID on a
// reconnect, else ?after= (what the page already drew).
func lastEventID(r *http.Request) int64 {
	for _, s := range []string{r.Header.Get("Last-Event-ID"), r.URL.Query().Get("after")} {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
			return id
		}
	}
	return 0
}

// FinetuneEvents streams the run page's live parts: the "live" fragment
// when it changed, and "loss" / "lr" chart points for new progress.
// GET /finetunes/{id}/events
func (h *Handlers) FinetuneEvents(w http.ResponseWriter, r *http.Request) {
	run, ok := h.finetuneFromURL(w, r)
	if !ok {
		return
	}
	flusher, ok := sseStream(w)
	if !ok {
		return
	}
	ctx := r.Context()
	after := lastEventID(r) // what the page already drew
	lastState, lastStatus := "", ""
	var lastLive time.Time
	h.watchRun(ctx, w, flusher, run.ID, func() (bool, time.Duration, error) {
		cur, err := h.Store.FinetuneRunByID(ctx, run.ID)
		if err != nil {
			return false, 0, err
		}
		evs, err := h.Store.FinetuneEvents(ctx, run.ID, after, []string{store.EventProgress}, 1000)
		if err != nil {
			return false, 0, err
		}
		for _, e := range evs {
			after = e.ID
			var p progressLine
			if json.Unmarshal(e.Data, &p) != nil {
				continue
			}
			lp, _ := json.Marshal(map[string]any{"x": p.Step, "y": []*float64{p.Loss, p.EvalLoss}})
			writeSSE(w, "loss", 0, string(lp))
			lr, _ := json.Marshal(map[string]any{"x": p.Step, "y": []float64{p.LR}})
			writeSSE(w, "lr", e.ID, string(lr))
		}
		// The status block is re-sent at most once a second while the run
		// trains (chart points go out as they come); a status change goes
		// out at once.
		if wait := time.Second - time.Since(lastLive); cur.Status == lastStatus && wait > 0 {
			return true, wait, nil
		}
		live, err := h.live(ctx, cur)
		if err != nil {
			return false, 0, err
		}
		if st := views.FinetuneLiveState(live); st != lastState {
			lastState, lastStatus, lastLive = st, cur.Status, time.Now()
			var buf strings.Builder
			if err := views.FinetuneLiveBody(live).Render(ctx, &buf); err != nil {
				return false, 0, err
			}
			writeSSE(w, "live", 0, buf.String())
		}
		return !cur.Final(), 0, nil
	})
}
