// Package web is the HTTP front door: the router, the middleware every
// request passes through (request IDs, logging, metrics, recovery, security
// headers, body limits, cross-origin protection, authentication, roles) and
// the server's start and graceful stop.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/modelfactory/modelfactory/handlers"
	"github.com/modelfactory/modelfactory/static"
	"github.com/modelfactory/modelfactory/store"
)

// MaxBodyBytes caps request bodies on ordinary routes.
const MaxBodyBytes = 1 << 20

// Options wire the router.
type Options struct {
	Handlers *handlers.Handlers
	Store    *store.Store
	Log      *slog.Logger
	// Jobs is River's UI, mounted for admins at /admin/jobs; nil leaves it out.
	Jobs http.Handler
	// Registry collects /metrics; nil makes a fresh one.
	Registry *prometheus.Registry
}

// NewRouter builds the app's HTTP handler.
func NewRouter(o Options) http.Handler {
	h := o.Handlers
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := newMetrics(reg, o.Store)

	r := chi.NewRouter()
	r.Use(middleware.RequestID, requestIDHeader, logRequests(o.Log), m.instrument, recoverer(h), securityHeaders)
	r.NotFound(h.NotFound)
	r.MethodNotAllowed(h.MethodNotAllowed)

	// Operations: no session, no CSRF concerns (read-only).
	r.Get("/healthz", h.Healthz)
	r.Get("/readyz", h.Readyz)
	r.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	r.Handle("/static/*", static.Handler())
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, static.URL("favicon.svg"), http.StatusMovedPermanently)
	})

	r.Group(func(r chi.Router) {
		r.Use(limitBody(MaxBodyBytes, h.MaxUploadBytes+MaxBodyBytes), crossOriginProtection(h), h.Authenticate)

		r.Get("/", h.Home)
		r.Get("/auth/nonce", h.Nonce)
		r.Get("/api/v1/chain", h.ChainAPI)
		r.Post("/auth/verify", h.Verify)
		r.Post("/auth/logout", h.Logout)
		if h.Dev {
			r.Post("/auth/dev/wallet", h.DevWallet)
			r.Post("/auth/dev/sign", h.DevSign)
		}

		r.Group(func(r chi.Router) {
			r.Use(h.RequireRole(store.RoleUser))
			// Areas owned by their own files (routes_*.go).
			labelingRoutes(r, h)
			moderationRoutes(r, h)
			finetuneRoutes(r, h)
			modelRoutes(r, h)
			playgroundRoutes(r, h)
			// Rewards (handlers/rewards.go).
			r.Get("/rewards", h.RewardsPage)
			r.Get("/api/v1/rewards", h.RewardsAPI)
			r.Get("/api/v1/rewards/claim", h.ClaimAPI)
			r.Post("/api/v1/dev/gas", h.DevGasAPI)
			r.With(h.RequireRole(store.RoleAdmin)).Post("/api/v1/admin/rewards/grants", h.GrantAPI)
			r.With(h.RequireRole(store.RoleAdmin)).Post("/api/v1/admin/epochs/close", h.CloseEpochAPI)
			r.Get("/settings/tokens", h.Tokens)
			r.Post("/settings/tokens", h.CreateToken)
			r.Post("/settings/tokens/{id}/revoke", h.RevokeToken)
			r.Get("/api/v1/me", h.Me)

			// Datanets: pages.
			r.Get("/datanets", h.Datanets)
			r.Get("/datanets/new", h.NewDatanet)
			r.Post("/datanets", h.CreateDatanet)
			r.Get("/datanets/{slug}", h.ShowDatanet)
			r.Get("/datanets/{slug}/edit", h.EditDatanet)
			r.Post("/datanets/{slug}", h.UpdateDatanet)
			r.Post("/datanets/{slug}/publish", h.PublishDatanet)
			r.Get("/datanets/{slug}/contribute", h.Contribute)
			r.Post("/datanets/{slug}/contributions", h.CreateContribution)
			r.Post("/datanets/{slug}/versions", h.PublishVersion)
			r.Get("/datanets/{slug}/versions/{v}/export", h.ExportVersion)
			r.Post("/datanets/{slug}/access-requests", h.RequestAccess)
			r.Post("/access-requests/{id}/decision", h.DecideAccess)
			r.Post("/datanets/{slug}/members", h.AddMember)
			r.Post("/datanets/{slug}/members/remove", h.RemoveMember)
			r.Get("/contributions/{id}", h.ShowContribution)
			r.Get("/contributions/{id}/events", h.ContributionEvents)
			r.Post("/contributions/{id}/review", h.ReviewContribution)
			r.Post("/contributions/{id}/records/{hash}", h.FixRecord)

			// Datanets: API (same handlers where the shapes agree).
			r.Post("/api/v1/datanets", h.APICreateDatanet)
			r.Get("/api/v1/datanets", h.APIListDatanets)
			r.Get("/api/v1/datanets/{slug}", h.APIGetDatanet)
			r.Post("/api/v1/datanets/{slug}/publish", h.APIPublishDatanet)
			r.Post("/api/v1/datanets/{slug}/contributions", h.CreateContribution)
			r.Get("/api/v1/contributions/{id}", h.APIGetContribution)
			r.Post("/api/v1/contributions/{id}/review", h.ReviewContribution)
			r.Post("/api/v1/datanets/{slug}/versions", h.PublishVersion)
			r.Get("/api/v1/datanets/{slug}/versions", h.APIVersions)
			r.Get("/api/v1/datanets/{slug}/versions/{v}/export", h.ExportVersion)
			r.Get("/api/v1/datanets/{slug}/versions/{v}/proof/{hash}", h.APIProof)
			r.Post("/api/v1/datanets/{slug}/access-requests", h.RequestAccess)
			r.Post("/api/v1/access-requests/{id}/decision", h.DecideAccess)
			r.Post("/api/v1/datanets/{slug}/members", h.AddMember)
		})

		r.Route("/admin", func(r chi.Router) {
			r.Use(h.RequireRole(store.RoleAdmin))
			r.Get("/", h.Admin)
			r.Get("/rewards", h.AdminRewardsPage)
			r.Post("/rewards/grants", h.AdminGrant)
			r.Post("/rewards/close", h.AdminCloseEpoch)
			adminModerationRoutes(r, h)
			if o.Jobs != nil {
				r.With(riverUIHeaders).Mount("/jobs", o.Jobs)
			}
		})
	})
	return r
}

// requestIDHeader echoes the request ID so users and logs can be matched.
func requestIDHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-ID", middleware.GetReqID(r.Context()))
		next.ServeHTTP(w, r)
	})
}

// logRequests writes one structured line per request.
func logRequests(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			level := slog.LevelInfo
			if ww.Status() >= 500 {
				level = slog.LevelError
			}
			log.Log(r.Context(), level, "http request",
				"method", r.Method, "path", r.URL.Path, "status", ww.Status(),
				"bytes", ww.BytesWritten(), "duration_ms", time.Since(start).Milliseconds())
		})
	}
}

// recoverer turns a panic into a logged 500 page; the user never sees the
// stack.
func recoverer(h *handlers.Handlers) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					h.Fail(w, r, fmt.Errorf("panic: %v\n%s", v, stack()))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// securityHeaders sets a strict CSP (only our own scripts and styles), no
// framing and no MIME sniffing.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		next.ServeHTTP(w, r)
	})
}

// riverUIHeaders relaxes the style policy for River's UI, a prebuilt
// single-page app that sets inline styles; scripts stay 'self' only.
func riverUIHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies: n for ordinary requests, upload for
// contribution uploads (POST …/contributions).
func limitBody(n, upload int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			limit := n
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/contributions") {
				limit = upload
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
}

// crossOriginProtection rejects cross-site state-changing requests (Go's
// Sec-Fetch-Site / Origin check) with our own error page.
func crossOriginProtection(h *handlers.Handlers) func(http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Fail(w, r, &handlers.Problem{Status: http.StatusForbidden, Code: "cross_origin",
			Message: "This request came from another site and was blocked to protect your account. Use ModelFactory's own pages."})
	}))
	return cop.Handler
}

// Server is the HTTP server with graceful shutdown.
type Server struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
}

// Listen binds addr.
func Listen(addr string, handler http.Handler, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return &Server{
		ln:  ln,
		log: log,
		srv: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve runs until Shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections and drains requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
