package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
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

// auditSelect reads AuditEntry columns for scanAuditEntry.
const auditSelect = `SELECT a.id, coalesce(u.address, ''), a.action, a.target_type, a.target_id, a.before, a.after, a.reason, a.created_at
		FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id`

func scanAuditEntry(r pgx.CollectableRow) (AuditEntry, error) {
	var e AuditEntry
	err := r.Scan(&e.ID, &e.Actor, &e.Action, &e.TargetType, &e.TargetID, &e.Before, &e.After, &e.Reason, &e.CreatedAt)
	return e, err
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
	rows, err := s.pool.Query(ctx, auditSelect+`
		WHERE a.target_type = $1 AND a.target_id = $2 ORDER BY a.id DESC LIMIT $3`, targetType, targetID, limit)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return pgx.CollectRows(rows, scanAuditEntry)
}

// AuditQuery filters the audit log.
type AuditQuery struct {
	Actor  string // wallet address (any case), or "system"
	Target string // "type:id", a type alone ("datanet"), or an ID alone
	Action string // an action ("datanet.suspend") or its prefix ("datanet")
	Limit  int
	Offset int
}

// SearchAudit returns audit entries matching q, newest first, and how many
// match.
func (s *Store) SearchAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, int64, error) {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	q.Actor, q.Target, q.Action = strings.TrimSpace(q.Actor), strings.TrimSpace(q.Target), strings.TrimSpace(q.Action)
	var targetType, targetID string
	if typ, id, ok := strings.Cut(q.Target, ":"); ok {
		targetType, targetID = strings.ToLower(typ), id
		if t, err := ParseTarget(q.Target); err == nil {
			targetID = t.ID
		}
		if targetType == TargetUser {
			targetID = strings.ToLower(targetID)
		}
	} else if slices.Contains([]string{TargetDatanet, TargetRecord, TargetContribution, TargetModel, TargetUser, "reward_entry"}, strings.ToLower(q.Target)) {
		targetType = strings.ToLower(q.Target)
	} else {
		targetID = q.Target
	}
	where := `
		WHERE ($1 = '' OR ($1 = 'system' AND a.actor_id IS NULL) OR u.address_lower = lower($1))
		  AND ($2 = '' OR a.target_type = $2)
		  AND ($3 = '' OR a.target_id = $3 OR (a.target_type = 'user' AND lower(a.target_id) = lower($3)))
		  AND ($4 = '' OR a.action = $4 OR a.action LIKE $4 || '.%')`
	args := []any{q.Actor, targetType, targetID, q.Action}
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count audit log: %w", err)
	}
	rows, err := s.pool.Query(ctx, auditSelect+where+` ORDER BY a.id DESC LIMIT $5 OFFSET $6`,
		append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("search audit log: %w", err)
	}
	entries, err := pgx.CollectRows(rows, scanAuditEntry)
	if err != nil {
		return nil, 0, fmt.Errorf("search audit log: %w", err)
	}
	return entries, total, nil
}
