package store

import (
	"context"
	"fmt"
	"time"
)

// CreateNonce stores a fresh SIWE nonce valid for ttl.
func (s *Store) CreateNonce(ctx context.Context, nonce string, ttl time.Duration) (expiresAt time.Time, err error) {
	err = s.pool.QueryRow(ctx, `
		INSERT INTO siwe_nonces (nonce, expires_at) VALUES ($1, now() + make_interval(secs => $2))
		RETURNING expires_at`, nonce, ttl.Seconds()).Scan(&expiresAt)
	if err != nil {
		if isUniqueViolation(err) {
			return time.Time{}, ErrConflict
		}
		return time.Time{}, fmt.Errorf("create nonce: %w", err)
	}
	return expiresAt, nil
}

// ConsumeNonce deletes nonce if it exists and has not expired, reporting
// whether it did. The delete is atomic: of two concurrent consumers of the
// same nonce exactly one gets true.
func (s *Store) ConsumeNonce(ctx context.Context, nonce string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM siwe_nonces WHERE nonce = $1 AND expires_at > now()`, nonce)
	if err != nil {
		return false, fmt.Errorf("consume nonce: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteExpired removes expired nonces and sessions; it returns how many rows
// went. The cleanup job calls it periodically.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgxTx) error {
		a, err := tx.Exec(ctx, `DELETE FROM siwe_nonces WHERE expires_at <= now()`)
		if err != nil {
			return err
		}
		b, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= now()`)
		if err != nil {
			return err
		}
		n = a.RowsAffected() + b.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired nonces and sessions: %w", err)
	}
	return n, nil
}
