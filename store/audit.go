package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// audit appends one entry to the append-only audit log, inside the caller's
// transaction so the action and its record commit together.
func audit(ctx context.Context, tx pgx.Tx, actorID int64, action, targetType, targetID string, before, after any, reason string) error {
	var actor *int64
	if actorID != 0 {
		actor = &actorID
	}
	b, err := jsonOrNil(before)
	if err != nil {
		return err
	}
	a, err := jsonOrNil(after)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO audit_log (actor_id, action, target_type, target_id, before, after, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, actor, action, targetType, targetID, b, a, reason)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

func jsonOrNil(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID         int64
	Actor      string // address, "" for the system
	Action     string
	TargetType string
	TargetID   string
	Before     json.RawMessage
	After      json.RawMessage
	Reason     string
	CreatedAt  time.Time
}

// AuditLog returns entries for a target, newest first.
func (s *Store) AuditLog(ctx context.Context, targetType, targetID string, limit int) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT a.id, coalesce(u.address, ''), a.action, a.target_type, a.target_id, a.before, a.after, a.reason, a.created_at
		FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
		WHERE a.target_type = $1 AND a.target_id = $2 ORDER BY a.id DESC LIMIT $3`, targetType, targetID, limit)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.Actor, &e.Action, &e.TargetType, &e.TargetID, &e.Before, &e.After, &e.Reason, &e.CreatedAt)
		return e, err
	})
}
