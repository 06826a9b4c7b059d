package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
)

func (h *Handlers) tokenSettings(r *http.Request, form views.TokenForm, newToken string) (views.TokenSettings, error) {
	v := ViewerFrom(r.Context())
	tokens, err := h.Store.APITokens(r.Context(), v.User.ID)
	if err != nil {
		return views.TokenSettings{}, err
	}
	s := views.TokenSettings{NewToken: newToken, Form: form}
	for _, t := range tokens {
		s.Tokens = append(s.Tokens, views.APIToken{ID: t.ID, Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt,
			ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt})
	}
	return s, nil
}

// Tokens shows Settings → API tokens.
func (h *Handlers) Tokens(w http.ResponseWriter, r *http.Request) {
	s, err := h.tokenSettings(r, views.TokenForm{ExpiryDays: "30"}, "")
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, views.TokensPage(h.page(w, r, "API tokens", "settings"), s))
}

// parseTokenForm validates the create form.
func parseTokenForm(r *http.Request) (form views.TokenForm, name string, days int) {
	form = views.TokenForm{
		Name:       strings.TrimSpace(r.PostFormValue("name")),
		ExpiryDays: strings.TrimSpace(r.PostFormValue("expiry_days")),
		Errors:     map[string]string{},
	}
	switch n := utf8.RuneCountInString(form.Name); {
	case n == 0:
		form.Errors["name"] = "Give the token a name, such as the script or machine that will use it."
	case n > 100:
		form.Errors["name"] = "Keep the name under 100 characters."
	}
	days, err := strconv.Atoi(form.ExpiryDays)
	if err != nil || days < 1 || days > 365 {
		form.Errors["expiry_days"] = "Choose a lifetime between 1 and 365 days."
	}
	return form, form.Name, days
}

// CreateToken creates a token and shows its secret once. htmx requests get
// the #tokens fragment; plain form posts get the whole page.
func (h *Handlers) CreateToken(w http.ResponseWriter, r *http.Request) {
	form, name, days := parseTokenForm(r)
	status, secret := http.StatusOK, ""
	if len(form.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	} else {
		v := ViewerFrom(r.Context())
		_, s, err := h.Store.CreateAPIToken(r.Context(), v.User.ID, name, time.Duration(days)*24*time.Hour)
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		secret = s
		form = views.TokenForm{ExpiryDays: "30"}
	}
	s, err := h.tokenSettings(r, form, secret)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store") // the secret must not be cached
	if r.Header.Get("HX-Request") == "true" {
		// htmx swaps 2xx responses only by default; a 422 fragment still has
		// to show the field errors, so answer 200 with the errors inside.
		h.render(w, r, http.StatusOK, views.TokensFragment(s))
		return
	}
	h.render(w, r, status, views.TokensPage(h.page(w, r, "API tokens", "settings"), s))
}

// RevokeToken revokes one of the viewer's tokens.
func (h *Handlers) RevokeToken(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		h.NotFound(w, r)
		return
	}
	v := ViewerFrom(r.Context())
	if err := h.Store.RevokeAPIToken(r.Context(), v.User.ID, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			h.NotFound(w, r)
			return
		}
		h.Fail(w, r, err)
		return
	}
	addFlash(w, r, "success", "Token revoked. Scripts using it stop working now.")
	http.Redirect(w, r, "/settings/tokens", http.StatusSeeOther)
}
