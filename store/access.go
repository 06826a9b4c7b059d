package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// AccessRequest asks a permissioned Datanet's owner for access.
type AccessRequest struct {
	ID          int64
	DatanetID   int64
	DatanetSlug string
	Requester   string
	Purpose     string
	Status      string // pending, approved, denied
	ExpiresAt   *time.Time
	CreatedAt   time.Time
}

// RequestAccess files an access request for a permissioned Datanet.
func (s *Store) RequestAccess(ctx context.Context, a Actor, slug, purpose string) (*AccessRequest, error) {
	d, acc, err := s.VisibleDatanet(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	purpose = strings.TrimSpace(purpose)
	switch {
	case d.Visibility != VisibilityPermissioned:
		return nil, &ValidationError{Fields: map[string]string{"purpose": "Only permissioned Datanets take access requests."}}
	case acc.Read:
		return nil, &ValidationError{Fields: map[string]string{"purpose": "You already have access to this Datanet."}}
	case utf8.RuneCountInString(purpose) < 10 || utf8.RuneCountInString(purpose) > 2000:
		return nil, &ValidationError{Fields: map[string]string{"purpose": "Say in 10 to 2,000 characters what you will use the data for."}}
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO access_requests (datanet_id, requester_id, purpose) VALUES ($1, $2, $3) RETURNING id`,
			d.ID, a.UserID, purpose).Scan(&id); err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "access.request", "datanet", slug, nil, map[string]any{"request": id}, purpose)
	})
	if isUniqueViolation(err) {
		return nil, &ValidationError{Fields: map[string]string{"purpose": "You already have a pending request for this Datanet."}}
	}
	if err != nil {
		return nil, fmt.Errorf("request access to %s: %w", slug, err)
	}
	return s.accessRequest(ctx, id)
}

func (s *Store) accessRequest(ctx context.Context, id int64) (*AccessRequest, error) {
	var r AccessRequest
	err := s.pool.QueryRow(ctx, `
		SELECT ar.id, ar.datanet_id, d.slug, u.address, ar.purpose, ar.status, ar.expires_at, ar.created_at
		FROM access_requests ar JOIN datanets d ON d.id = ar.datanet_id JOIN users u ON u.id = ar.requester_id
		WHERE ar.id = $1`, id).Scan(&r.ID, &r.DatanetID, &r.DatanetSlug, &r.Requester, &r.Purpose, &r.Status, &r.ExpiresAt, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("access request %d: %w", id, err)
	}
	return &r, nil
}

// DecideAccess approves (optionally until expiresAt) or denies a pending
// request; only the Datanet's managers may. Audited.
func (s *Store) DecideAccess(ctx context.Context, a Actor, id int64, approve bool, expiresAt *time.Time) (*AccessRequest, error) {
	r, err := s.accessRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	d, err := s.datanetByID(ctx, r.DatanetID)
	if err != nil {
		return nil, err
	}
	acc, err := s.AccessFor(ctx, a, d)
	if err != nil {
		return nil, err
	}
	if !acc.Manage {
		return nil, ErrNotFound
	}
	if expiresAt != nil && !expiresAt.After(time.Now()) {
		return nil, &ValidationError{Fields: map[string]string{"expires_at": "Choose an expiry in the future, or none."}}
	}
	status := "denied"
	if approve {
		status = "approved"
	} else {
		expiresAt = nil
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE access_requests SET status = $2, expires_at = $3, decided_by = $4, decided_at = now()
			WHERE id = $1 AND status = 'pending'`, id, status, expiresAt, a.UserID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return &ValidationError{Fields: map[string]string{"decision": "This request has already been decided."}}
		}
		return audit(ctx, tx, a.UserID, "access."+status, "datanet", d.Slug,
			map[string]any{"request": id, "status": "pending"}, map[string]any{"request": id, "status": status, "expiresAt": expiresAt}, "")
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return nil, ve
		}
		return nil, fmt.Errorf("decide access request %d: %w", id, err)
	}
	return s.accessRequest(ctx, id)
}

// AccessRequests lists a Datanet's requests, pending first.
func (s *Store) AccessRequests(ctx context.Context, datanetID int64) ([]AccessRequest, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT ar.id FROM access_requests ar WHERE ar.datanet_id = $1
		ORDER BY (ar.status = 'pending') DESC, ar.created_at DESC LIMIT 200`, datanetID)
	if err != nil {
		return nil, fmt.Errorf("access requests: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	out := make([]AccessRequest, 0, len(ids))
	for _, id := range ids {
		r, err := s.accessRequest(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}
