package handlers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/modelfactory/modelfactory/views"
)

const flashCookie = "mf_flash"

// addFlash queues a message for the next page the browser renders.
func addFlash(w http.ResponseWriter, r *http.Request, kind, message string) {
	flashes := readFlashes(r)
	flashes = append(flashes, views.Flash{Kind: kind, Message: message})
	b, _ := json.Marshal(flashes)
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

func readFlashes(r *http.Request) []views.Flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	var flashes []views.Flash
	if json.Unmarshal(b, &flashes) != nil || len(flashes) > 5 {
		return nil
	}
	return flashes
}

// takeFlashes returns queued messages and clears them.
func takeFlashes(w http.ResponseWriter, r *http.Request) []views.Flash {
	flashes := readFlashes(r)
	if flashes != nil {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1})
	}
	return flashes
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
