package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Session is a signed-in browser.
type Session struct {
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// newSecret returns 32 random bytes, URL-safe base64 encoded, and its SHA-256.
func newSecret() (string, []byte) {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than returning short reads)
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	return secret, hashSecret(secret)
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateSession starts a session for userID and returns the cookie value.
// If replaced is a previous session's cookie value it is deleted in the same
// transaction, so signing in always rotates the session ID.
func (s *Store) CreateSession(ctx context.Context, userID int64, ttl time.Duration, replaced, userAgent, ip string) (string, error) {
	secret, hash := newSecret()
	if len(userAgent) > 512 {
		userAgent = userAgent[:512]
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if replaced != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, hashSecret(replaced)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO sessions (id_hash, user_id, expires_at, user_agent, ip)
			VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5)`,
			hash, userID, ttl.Seconds(), userAgent, ip)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create session for user %d: %w", userID, err)
	}
	return secret, nil
}

// SessionUser returns the user of a live session (not expired, user not
// banned) and refreshes its last-seen time at most once a minute.
func (s *Store) SessionUser(ctx context.Context, secret string) (*User, *Session, error) {
	var sess Session
	err := s.pool.QueryRow(ctx, `
		UPDATE sessions SET last_seen_at = CASE WHEN last_seen_at < now() - interval '1 minute' THEN now() ELSE last_seen_at END
		WHERE id_hash = $1 AND expires_at > now()
		  AND user_id IN (SELECT id FROM users WHERE banned_at IS NULL)
		RETURNING user_id, created_at, expires_at`, hashSecret(secret)).
		Scan(&sess.UserID, &sess.CreatedAt, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up session: %w", err)
	}
	u, err := s.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, nil, err
	}
	return u, &sess, nil
}

// DeleteSession ends the session with this cookie value; an unknown value is
// not an error (signing out twice is fine).
func (s *Store) DeleteSession(ctx context.Context, secret string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, hashSecret(secret)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
