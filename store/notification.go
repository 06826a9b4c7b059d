package store

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Notification is a message to one wallet, shown on the notifications page
// and counted in the top bar until read.
type Notification struct {
	ID        int64
	Kind      string // "datanet.suspended", "report.actioned", …
	Title     string
	Body      string
	Href      string // where to look, "" for nowhere
	CreatedAt time.Time
	ReadAt    *time.Time
}

// notify queues a notification inside the caller's transaction, so it is
// sent exactly when the decision it reports commits.
func notify(ctx context.Context, tx pgx.Tx, userID int64, n Notification) error {
	if utf8.RuneCountInString(n.Title) > 200 {
		n.Title = string([]rune(n.Title)[:199]) + "…"
	}
	if utf8.RuneCountInString(n.Body) > 4000 {
		n.Body = string([]rune(n.Body)[:3999]) + "…"
	}
	_, err := tx.Exec(ctx, `INSERT INTO notifications (user_id, kind, title, body, href) VALUES ($1, $2, $3, $4, $5)`,
		userID, n.Kind, n.Title, n.Body, n.Href)
	if err != nil {
		return fmt.Errorf("notify user %d: %w", userID, err)
	}
	return nil
}

// Notify sends a notification to a wallet on its own (other areas use it
// for their events; moderation notifies inside its transactions).
func (s *Store) Notify(ctx context.Context, userID int64, n Notification) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return notify(ctx, tx, userID, n) })
}

// Notifications returns a wallet's notifications, newest first, and how
// many there are.
func (s *Store) Notifications(ctx context.Context, userID int64, limit, offset int) ([]Notification, int64, error) {
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id = $1`, userID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count notifications: %w", err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, kind, title, body, href, created_at, read_at FROM notifications
		WHERE user_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, userID, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("notifications: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := r.Scan(&n.ID, &n.Kind, &n.Title, &n.Body, &n.Href, &n.CreatedAt, &n.ReadAt)
		return n, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("notifications: %w", err)
	}
	return list, total, nil
}

// UnreadNotifications counts a wallet's unread notifications.
func (s *Store) UnreadNotifications(ctx context.Context, userID int64) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("unread notifications: %w", err)
	}
	return n, nil
}

// MarkNotificationsRead marks a wallet's notifications up to and including
// upTo as read (upTo 0: all), so one arriving while the page was open stays
// unread.
func (s *Store) MarkNotificationsRead(ctx context.Context, userID, upTo int64) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL AND ($2 = 0 OR id <= $2)`, userID, upTo)
	if err != nil {
		return fmt.Errorf("mark notifications read: %w", err)
	}
	return nil
}
