package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// GrantableRoles are the roles admins grant and revoke in user_roles.
var GrantableRoles = []string{RoleLabeler, RoleReviewer, RoleAdmin}

// SetRole grants (grant true) or revokes a role of the wallet at address,
// audited with the reason. Admins only. The wallet need not have signed in
// yet. It is the same change as the grant_ROLE and revoke_ROLE moderation
// actions.
func (s *Store) SetRole(ctx context.Context, a Actor, address, role string, grant bool, reason string) error {
	verb := "revoke_"
	if grant {
		verb = "grant_"
	}
	if !slices.Contains(GrantableRoles, role) {
		return &ValidationError{Fields: map[string]string{"role": "Choose labeler, reviewer or admin."}}
	}
	_, err := s.Moderate(ctx, a, Action{Action: verb + role, Target: TargetUser + ":" + address, Reason: reason})
	return err
}

// setRole changes one role inside a moderation transaction.
func setRole(ctx context.Context, tx pgx.Tx, a Actor, u *User, role string, grant bool, reason string) error {
	has := slices.Contains(u.Roles, role)
	switch {
	case grant && has:
		return &ValidationError{Fields: map[string]string{"target": fmt.Sprintf("%s is already a %s.", u.Address, role)}}
	case !grant && !has:
		return &ValidationError{Fields: map[string]string{"target": fmt.Sprintf("%s does not hold the %s role.", u.Address, role)}}
	case !grant && role == RoleAdmin && u.ID == a.UserID:
		return &ValidationError{Fields: map[string]string{"target": "You cannot revoke your own admin role; ask another admin."}}
	}
	action := "role.revoke"
	if grant {
		action = "role.grant"
		if _, err := tx.Exec(ctx, `INSERT INTO user_roles (user_id, role, granted_by) VALUES ($1, $2, $3)`, u.ID, role, a.UserID); err != nil {
			return err
		}
	} else if _, err := tx.Exec(ctx, `DELETE FROM user_roles WHERE user_id = $1 AND role = $2`, u.ID, role); err != nil {
		return err
	}
	after := slices.DeleteFunc(slices.Clone(u.Roles), func(r string) bool { return r == role })
	if grant {
		after = append(after, role)
		slices.Sort(after)
	}
	return audit(ctx, tx, a.UserID, action, TargetUser, strings.ToLower(u.Address), map[string]any{"roles": u.Roles}, map[string]any{"roles": after}, reason)
}

// RoleHolders lists the wallets with a granted role or a ban, by address.
func (s *Store) RoleHolders(ctx context.Context) ([]User, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT u.id, u.address, u.created_at, u.last_seen_at, u.banned_at,
		       coalesce(array_agg(r.role ORDER BY r.role) FILTER (WHERE r.role IS NOT NULL), '{}')
		FROM users u LEFT JOIN user_roles r ON r.user_id = u.id
		WHERE u.banned_at IS NOT NULL OR r.role IS NOT NULL
		GROUP BY u.id ORDER BY u.address_lower`)
	if err != nil {
		return nil, fmt.Errorf("role holders: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) {
		var u User
		err := r.Scan(&u.ID, &u.Address, &u.CreatedAt, &u.LastSeenAt, &u.BannedAt, &u.Roles)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("role holders: %w", err)
	}
	return users, nil
}
