// Package handlers turns HTTP requests into store calls and views: one file
// per area, each handler thin — parse and validate input, call the store,
// render a page or JSON. Errors are mapped to statuses in one place
// (errors.go) so users see a clear message and logs see the cause.
package handlers

import (
	"context"
	"crypto/ecdsa"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/ethereum/go-ethereum/common"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/inference"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/siwe"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "mf_session"

// Deps are everything handlers need, built once in cmd.
type Deps struct {
	Store     *store.Store
	Log       *slog.Logger
	PublicURL *url.URL
	Chain     views.ChainInfo
	// Wallets, when set, lets contract wallets sign in (EIP-1271).
	Wallets siwe.ContractCaller
	// Admins are lower-case addresses from MF_ADMIN_ADDRESSES.
	Admins map[string]bool
	// Dev enables the local test wallet; DevKey signs for it.
	Dev    bool
	DevKey *ecdsa.PrivateKey
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
	// Ready are the readiness checks behind /readyz, in display order.
	Ready []ReadyCheck
	// Rewards is the payout engine; nil when no contracts are configured.
	Rewards *jobs.Rewards
	// Deployment is where the contracts live; nil when not configured.
	Deployment *chain.Deployment
	// InsertJob enqueues a River job; inserted is false when an identical
	// unique job is already queued.
	InsertJob func(ctx context.Context, args river.JobArgs) (inserted bool, err error)
	// ExplorerURL is a block explorer base URL (links go to …/tx/<hash>);
	// empty shows no links.
	ExplorerURL string
	// FundGas sends a wallet gas money on the embedded dev chain; nil elsewhere.
	FundGas func(ctx context.Context, to common.Address) (txHash string, err error)
	// Blobs stores uploads and artefacts.
	Blobs blob.Store
	// EnqueueIngest inserts a contribution's ingest job inside tx.
	EnqueueIngest func(ctx context.Context, tx pgx.Tx, contributionID int64) error
	// MaxUploadBytes caps a contribution file.
	MaxUploadBytes int64
	// HFEndpoint is the Hugging Face hub that base-model imports use;
	// repository URLs on it are accepted besides huggingface.co.
	HFEndpoint string
	// EnqueueModelImport inserts a base-model import job inside tx.
	EnqueueModelImport store.BaseModelEnqueue
	// EnqueueModelRegistration inserts a model's ProvenanceRegistry
	// registration job inside tx; nil when no chain engine is configured.
	EnqueueModelRegistration store.ModelEnqueue
	// EnqueueFinetune inserts a fine-tune run's River job inside the
	// launch transaction and returns the job ID.
	EnqueueFinetune store.FinetuneEnqueue
	// Inference generates text for the Playground and the generate API;
	// nil disables both (503).
	Inference *inference.Engine
}

// ReadyCheck is one component of /readyz.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Handlers serves every route of the app.
type Handlers struct {
	Deps
	verifier *siwe.Verifier
	balances *balanceCache // the wallet pill's OPEN balances
	ftHub    ftHub         // fans fine-tune run events out to SSE streams
}

// New checks deps and returns the handlers.
func New(d Deps) (*Handlers, error) {
	v, err := siwe.NewVerifier(d.PublicURL.String(), d.Chain.ChainID, d.Wallets)
	if err != nil {
		return nil, err
	}
	if d.MaxUploadBytes == 0 {
		d.MaxUploadBytes = 25 << 20
	}
	if d.SessionTTL == 0 {
		d.SessionTTL = 7 * 24 * time.Hour
	}
	return &Handlers{Deps: d, verifier: v, balances: newBalanceCache()}, nil
}

// Viewer is the signed-in user of a request and how they proved it.
type Viewer struct {
	User    *store.User
	Roles   []string // always includes "user"
	IsAdmin bool
	Via     string // "session" or "token"
}

// HasRole reports whether the viewer holds role (admins hold every role).
func (v *Viewer) HasRole(role string) bool {
	return v != nil && (v.IsAdmin || slices.Contains(v.Roles, role))
}

type viewerKey struct{}

// WithViewer returns ctx carrying v.
func WithViewer(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// ViewerFrom returns the request's viewer, nil when signed out.
func ViewerFrom(ctx context.Context) *Viewer {
	v, _ := ctx.Value(viewerKey{}).(*Viewer)
	return v
}

// NewViewer combines a user's granted roles with the configured admins.
func (h *Handlers) NewViewer(u *store.User, via string) *Viewer {
	v := &Viewer{User: u, Via: via, Roles: []string{store.RoleUser}}
	v.Roles = append(v.Roles, u.Roles...)
	if h.Admins[strings.ToLower(u.Address)] && !slices.Contains(v.Roles, store.RoleAdmin) {
		v.Roles = append(v.Roles, store.RoleAdmin)
	}
	v.IsAdmin = slices.Contains(v.Roles, store.RoleAdmin)
	return v
}

// page builds the shell data every full page needs.
func (h *Handlers) page(w http.ResponseWriter, r *http.Request, title, section string) views.Page {
	p := views.Page{
		Title:     title,
		Section:   section,
		Chain:     h.Chain,
		Dev:       h.Dev,
		RequestID: middleware.GetReqID(r.Context()),
		Flashes:   takeFlashes(w, r),
	}
	if v := ViewerFrom(r.Context()); v != nil {
		p.User = &views.User{Address: v.User.Address, Roles: v.Roles, IsAdmin: v.IsAdmin,
			OpenBalance: h.openBalance(r.Context(), v.User.Address), Unread: h.unreadCount(r.Context(), v.User.ID)}
	}
	return p
}

// render writes a templ component with status.
func (h *Handlers) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil {
		h.Log.ErrorContext(r.Context(), "render page", "err", err, "path", r.URL.Path)
	}
}

// isAPI reports whether the request wants JSON rather than a page.
func isAPI(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/auth/") && p != "/auth/logout" ||
		strings.Contains(r.Header.Get("Accept"), "application/json") && !strings.Contains(r.Header.Get("Accept"), "text/html")
}
