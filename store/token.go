package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// TokenPrefix starts every personal access token, so leaked tokens are easy
// to recognise in logs and secret scanners.
const TokenPrefix = "mf_"

// APIToken is a personal access token (never the secret).
type APIToken struct {
	ID         int64
	UserID     int64
	Name       string
	Prefix     string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// CreateAPIToken makes a token for userID and returns it with its secret,
// which is not stored and cannot be shown again.
func (s *Store) CreateAPIToken(ctx context.Context, userID int64, name string, ttl time.Duration) (*APIToken, string, error) {
	raw, _ := newSecret()
	secret := TokenPrefix + raw
	t := APIToken{UserID: userID, Name: name, Prefix: secret[:len(TokenPrefix)+6]}
	err := s.pool.QueryRow(ctx, `
		INSERT INTO api_tokens (user_id, name, prefix, secret_hash, expires_at)
		VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
		RETURNING id, created_at, expires_at`, userID, name, t.Prefix, hashSecret(secret), ttl.Seconds()).
		Scan(&t.ID, &t.CreatedAt, &t.ExpiresAt)
	if err != nil {
		return nil, "", fmt.Errorf("create API token for user %d: %w", userID, err)
	}
	return &t, secret, nil
}

// APITokens lists a user's tokens, newest first.
func (s *Store) APITokens(ctx context.Context, userID int64) ([]APIToken, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at
		FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	tokens, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIToken, error) {
		var t APIToken
		err := r.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	return tokens, nil
}

// RevokeAPIToken revokes one of userID's tokens. Revoking twice is fine;
// another user's token is ErrNotFound.
func (s *Store) RevokeAPIToken(ctx context.Context, userID, tokenID int64) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 AND user_id = $2`, tokenID, userID)
	if err != nil {
		return fmt.Errorf("revoke API token %d: %w", tokenID, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// APITokenUser returns the owner of a live token (not revoked, not expired,
// owner not banned) and records its use.
func (s *Store) APITokenUser(ctx context.Context, secret string) (*User, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return nil, ErrNotFound
	}
	var userID int64
	err := s.pool.QueryRow(ctx, `
		UPDATE api_tokens SET last_used_at = now()
		WHERE secret_hash = $1 AND revoked_at IS NULL AND expires_at > now()
		  AND user_id IN (SELECT id FROM users WHERE banned_at IS NULL)
		RETURNING user_id`, hashSecret(secret)).Scan(&userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("look up API token: %w", err)
	}
	return s.UserByID(ctx, userID)
}
