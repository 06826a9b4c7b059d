package handlers

import "net/http"

// Me answers GET /api/v1/me with the caller's address and roles.
func (h *Handlers) Me(w http.ResponseWriter, r *http.Request) {
	v := ViewerFrom(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"address": v.User.Address, "roles": v.Roles})
}
