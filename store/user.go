package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Role names. Every signed-in wallet is a user; the others are granted.
const (
	RoleUser     = "user"
	RoleLabeler  = "labeler"
	RoleReviewer = "reviewer"
	RoleAdmin    = "admin"
)

// User is a wallet that has signed in.
type User struct {
	ID         int64
	Address    string // EIP-55 checksummed
	CreatedAt  time.Time
	LastSeenAt time.Time
	BannedAt   *time.Time
	Roles      []string // granted roles from the database, sorted; never includes "user"
}

// UpsertUser records a sign-in by address (checksummed) and returns the user.
func (s *Store) UpsertUser(ctx context.Context, address string) (*User, error) {
	var u User
	err := s.pool.QueryRow(ctx, `
		INSERT INTO users (address) VALUES ($1)
		ON CONFLICT (address_lower) DO UPDATE SET last_seen_at = now(), address = EXCLUDED.address
		RETURNING id, address, created_at, last_seen_at, banned_at`, address).
		Scan(&u.ID, &u.Address, &u.CreatedAt, &u.LastSeenAt, &u.BannedAt)
	if err != nil {
		return nil, fmt.Errorf("upsert user %s: %w", address, err)
	}
	if u.Roles, err = s.userRoles(ctx, u.ID); err != nil {
		return nil, err
	}
	return &u, nil
}

// UserByID returns the user with id.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	var u User
	err := s.pool.QueryRow(ctx, `SELECT id, address, created_at, last_seen_at, banned_at FROM users WHERE id = $1`, id).
		Scan(&u.ID, &u.Address, &u.CreatedAt, &u.LastSeenAt, &u.BannedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", id, err)
	}
	if u.Roles, err = s.userRoles(ctx, u.ID); err != nil {
		return nil, err
	}
	return &u, nil
}

func (s *Store) userRoles(ctx context.Context, userID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role`, userID)
	if err != nil {
		return nil, fmt.Errorf("roles of user %d: %w", userID, err)
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("roles of user %d: %w", userID, err)
	}
	return roles, nil
}

// GrantRole gives a user a role; granting a role twice is not an error. It
// is not audited: it is for setup and tests. Admins change roles with
// SetRole (or the grant_ROLE moderation actions), which audits.
func (s *Store) GrantRole(ctx context.Context, userID int64, role string, grantedBy *int64) error {
	if !slices.Contains([]string{RoleLabeler, RoleReviewer, RoleAdmin}, role) {
		return fmt.Errorf("grant role %q: unknown role", role)
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO user_roles (user_id, role, granted_by) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, userID, role, grantedBy)
	if err != nil {
		return fmt.Errorf("grant role %s to user %d: %w", role, userID, err)
	}
	return nil
}

// RevokeRole removes a granted role.
func (s *Store) RevokeRole(ctx context.Context, userID int64, role string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM user_roles WHERE user_id = $1 AND role = $2`, userID, role); err != nil {
		return fmt.Errorf("revoke role %s from user %d: %w", role, userID, err)
	}
	return nil
}
