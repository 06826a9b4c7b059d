package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/modelfactory/modelfactory/siwe"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
)

// Problem is an error meant for the user: a status, a stable code and a
// sentence that says what went wrong and what to do next.
type Problem struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string // per-field messages for invalid input
	Err     error             // cause, for logs only
}

func (p *Problem) Error() string {
	if p.Err != nil {
		return fmt.Sprintf("%s: %s: %v", p.Code, p.Message, p.Err)
	}
	return p.Code + ": " + p.Message
}

func (p *Problem) Unwrap() error { return p.Err }

func problem(status int, code, message string) *Problem {
	return &Problem{Status: status, Code: code, Message: message}
}

// toProblem maps any error to what the user may see. Anything unknown is a
// 500 whose details go to the log only.
func toProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var se *siwe.Error
	if errors.As(err, &se) {
		status := http.StatusUnauthorized
		switch se.Code {
		case siwe.CodeMessageTooLong, siwe.CodeMalformedMessage, siwe.CodeMalformedSignature, siwe.CodeBadSignatureLength:
			status = http.StatusBadRequest
		case siwe.CodeChainUnavailable:
			status = http.StatusServiceUnavailable
		case siwe.CodeVerifierMisconfigured:
			status = http.StatusInternalServerError
		}
		return &Problem{Status: status, Code: se.Code, Message: se.Message, Err: se.Err}
	}
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		msg := "Some fields need attention."
		if len(ve.Fields) == 1 {
			for _, m := range ve.Fields {
				msg = m
			}
		}
		return &Problem{Status: http.StatusUnprocessableEntity, Code: "invalid", Message: msg, Fields: ve.Fields}
	}
	switch {
	case errors.Is(err, store.ErrForbidden):
		return &Problem{Status: http.StatusForbidden, Code: "forbidden", Message: "You don't have permission to do that here.", Err: err}
	case errors.Is(err, store.ErrNotFound):
		return &Problem{Status: http.StatusNotFound, Code: "not_found", Message: "We could not find that. It may have been removed, or the link is wrong.", Err: err}
	case errors.Is(err, store.ErrConflict):
		return &Problem{Status: http.StatusConflict, Code: "conflict", Message: "That changed while you were working on it. Reload and try again.", Err: err}
	}
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return &Problem{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("The request is larger than the %d bytes allowed here.", maxErr.Limit), Err: err}
	}
	return &Problem{Status: http.StatusInternalServerError, Code: "internal", Message: "Something went wrong on our side. It has been logged; please try again, and quote the request ID if it keeps happening.", Err: err}
}

// Fail answers a request with err: JSON envelope for API calls, a rendered
// error page otherwise. Server faults are logged with their cause.
func (h *Handlers) Fail(w http.ResponseWriter, r *http.Request, err error) {
	p := toProblem(err)
	if p.Status >= 500 {
		h.Log.ErrorContext(r.Context(), "request failed", "err", err, "path", r.URL.Path, "status", p.Status)
	} else if p.Err != nil {
		h.Log.InfoContext(r.Context(), "request refused", "code", p.Code, "err", p.Err, "path", r.URL.Path)
	}
	if isAPI(r) {
		e := map[string]any{"code": p.Code, "message": p.Message}
		if len(p.Fields) > 0 {
			e["fields"] = p.Fields
		}
		writeJSON(w, p.Status, map[string]any{"error": e})
		return
	}
	page := h.page(w, r, statusTitle(p.Status), "")
	h.render(w, r, p.Status, views.ErrorPage(page, views.ErrorInfo{Status: p.Status, Title: statusTitle(p.Status), Message: p.Message}))
}

func statusTitle(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Page not found"
	case http.StatusForbidden:
		return "You don't have access to this page"
	case http.StatusUnauthorized:
		return "Sign in to continue"
	case http.StatusInternalServerError:
		return "Something went wrong"
	}
	return http.StatusText(status)
}

// NotFound renders the 404 page or JSON.
func (h *Handlers) NotFound(w http.ResponseWriter, r *http.Request) {
	h.Fail(w, r, problem(http.StatusNotFound, "not_found", "There is nothing at this address. Check the link, or start again from the dashboard."))
}

// MethodNotAllowed answers 405.
func (h *Handlers) MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	h.Fail(w, r, problem(http.StatusMethodNotAllowed, "method_not_allowed", "This address does not accept that kind of request."))
}

// Forbidden answers 403.
func (h *Handlers) Forbidden(w http.ResponseWriter, r *http.Request) {
	h.Fail(w, r, problem(http.StatusForbidden, "forbidden", "Your wallet does not have the role this page needs. Ask an admin if you think it should."))
}

// Unauthorized answers 401 for APIs and redirects pages to sign-in.
func (h *Handlers) Unauthorized(w http.ResponseWriter, r *http.Request) {
	if isAPI(r) {
		h.Fail(w, r, problem(http.StatusUnauthorized, "unauthorized", "Sign in, or send a personal access token as 'Authorization: Bearer <token>'."))
		return
	}
	http.Redirect(w, r, "/?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON reads a JSON body strictly into v.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return err
		}
		return &Problem{Status: http.StatusBadRequest, Code: "bad_json", Message: "The request body must be a JSON object with the documented fields.", Err: err}
	}
	return nil
}
