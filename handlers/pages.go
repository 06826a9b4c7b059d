package handlers

import (
	"net/http"

	"github.com/modelfactory/modelfactory/views"
)

// Home shows the dashboard to signed-in users and the sign-in page to others.
func (h *Handlers) Home(w http.ResponseWriter, r *http.Request) {
	v := ViewerFrom(r.Context())
	if v == nil {
		h.render(w, r, http.StatusOK, views.SignInPage(h.page(w, r, "Sign in", "")))
		return
	}
	counts, err := h.Store.DashboardCounts(r.Context(), v.User.ID)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	jobCounts, err := h.Store.JobCounts(r.Context())
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	d := views.Dashboard{
		Stats: []views.Stat{
			{Label: "Members", Value: counts.Users, Help: "Wallets that have signed in to this ModelFactory."},
			{Label: "Active sessions", Value: counts.ActiveSessions, Help: "Browsers signed in right now, across all members."},
			{Label: "Your API tokens", Value: counts.MyTokens, Help: "Live personal access tokens for scripts.", Href: "/settings/tokens"},
			{Label: "Jobs completed", Value: counts.JobsCompleted, Help: "Background jobs finished by the workers."},
		},
		SignedInAt: v.User.LastSeenAt,
	}
	for _, c := range jobCounts {
		d.Jobs = append(d.Jobs, views.JobCount{State: c.State, Count: c.Count})
	}
	h.render(w, r, http.StatusOK, views.DashboardPage(h.page(w, r, "Dashboard", "dashboard"), d))
}

// areas describes the product areas that later work fills in.
var areas = map[string]views.Area{
	"datanets": {Title: "Datanets", Icon: "database",
		Lead: "Datanets are domain datasets that a community builds together. Every model trained here points at an immutable Datanet version, so contributors can be credited for what the model learned.",
		Bullets: []string{
			"Create a Datanet with a schema: documents, instruction → response, or labelled text.",
			"Contribute files or single records; ingest validates, de-duplicates and flags personal data.",
			"Review contributions, publish immutable versions with a Merkle root, and anchor them on-chain.",
			"Grant access to permissioned Datanets and export versions as JSONL.",
		}},
	"models": {Title: "Models", Icon: "cube",
		Lead: "The model catalog: open base models this deployment can fine-tune, and the adapters people have published, each with a model card and full provenance.",
		Bullets: []string{
			"Browse base models with their size, context length, licence and hardware needs.",
			"Open a published adapter to see exactly which Datanet versions shaped it.",
		}},
	"finetunes": {Title: "Fine-tunes", Icon: "sliders",
		Lead: "No-code fine-tuning: pick a base model, pick Datanet versions, choose LoRA settings with good defaults, and press Launch. Runs stream their loss curves live.",
		Bullets: []string{
			"Launch a run from a preset (Quick, Balanced, Thorough) or tune every option.",
			"Watch train and validation loss, throughput and ETA as the run learns.",
			"Compare runs on one chart and publish the best adapter.",
		}},
	"playground": {Title: "Playground", Icon: "chat",
		Lead: "Chat with any published adapter. One base model serves many adapters at once, and every answer comes with an attribution receipt naming the records that shaped it.",
		Bullets: []string{
			"Switch adapters without reloading the base model.",
			"See which training records and contributors each answer is credited to.",
		}},
	"labeling": {Title: "Labeling", Icon: "tag",
		Lead: "Annotation queues that turn raw contributions into training-grade data: several labelers per item, blind by default, with agreement scores and adjudication.",
		Bullets: []string{
			"Work a queue with the keyboard alone: digits choose labels, auto-advance, undo.",
			"See your quality score and the project's agreement as you go.",
		}},
	"rewards": {Title: "Rewards", Icon: "coins",
		Lead: "Your OPEN rewards: what you earned from contributions, labels and models, settled in epochs and claimable from your wallet.",
		Bullets: []string{
			"See earned, claimable and claimed OPEN per epoch and per source.",
			"Claim with one transaction from your wallet; every amount is verifiable on-chain.",
		}},
}

// Area renders the page of a product area that later work fills in.
func (h *Handlers) Area(name string) http.HandlerFunc {
	a, ok := areas[name]
	if !ok {
		panic("handlers: unknown area " + name)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusOK, views.AreaPage(h.page(w, r, a.Title, name), a))
	}
}

// Admin is the admin home.
func (h *Handlers) Admin(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, views.AdminPage(h.page(w, r, "Admin", "admin")))
}
