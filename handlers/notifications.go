package handlers

import (
	"context"
	"net/http"

	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
)

const notificationsPerPage = 30

// unreadCount is the top bar's unread notification count; a failure is
// logged and shows as none rather than failing the page.
func (h *Handlers) unreadCount(ctx context.Context, userID int64) int64 {
	n, err := h.Store.UnreadNotifications(ctx, userID)
	if err != nil {
		h.Log.WarnContext(ctx, "unread notifications", "err", err)
		return 0
	}
	return n
}

// notifications reads the viewer's page (?page=) of notifications.
func (h *Handlers) notifications(r *http.Request) ([]store.Notification, int64, int, error) {
	page := pageNumber(r)
	list, total, err := h.Store.Notifications(r.Context(), ViewerFrom(r.Context()).User.ID, notificationsPerPage, (page-1)*notificationsPerPage)
	return list, total, page, err
}

// NotificationsPage lists the viewer's notifications and marks the ones it
// shows as read. GET /notifications
func (h *Handlers) NotificationsPage(w http.ResponseWriter, r *http.Request) {
	v := ViewerFrom(r.Context())
	list, total, page, err := h.notifications(r)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	nv := views.NotificationsView{Pager: views.Pager{Page: page, PerPage: notificationsPerPage, Total: total, Href: "/notifications"}}
	var newest int64
	for _, n := range list {
		nv.Rows = append(nv.Rows, views.NotificationRow{ID: n.ID, Kind: n.Kind, Title: n.Title, Body: n.Body, Href: n.Href,
			CreatedAt: n.CreatedAt, Unread: n.ReadAt == nil})
		newest = max(newest, n.ID)
	}
	// Read once seen: only up to the newest shown, so one that arrives
	// meanwhile stays unread.
	if newest > 0 {
		if err := h.Store.MarkNotificationsRead(r.Context(), v.User.ID, newest); err != nil {
			h.Fail(w, r, err)
			return
		}
	}
	p := h.page(w, r, "Notifications", "")
	h.render(w, r, http.StatusOK, views.NotificationsPage(p, nv))
}

// APINotifications lists the viewer's notifications as JSON without
// marking them read. GET /api/v1/notifications
func (h *Handlers) APINotifications(w http.ResponseWriter, r *http.Request) {
	list, total, page, err := h.notifications(r)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(list))
	for _, n := range list {
		out = append(out, map[string]any{"id": n.ID, "kind": n.Kind, "title": n.Title, "body": n.Body, "href": n.Href,
			"createdAt": n.CreatedAt, "readAt": n.ReadAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": out, "total": total, "page": page})
}
