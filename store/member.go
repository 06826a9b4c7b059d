package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Member roles on one Datanet: invitees may read and contribute to a
// private (or permissioned) Datanet; reviewers may also review.
const (
	MemberInvitee  = "invitee"
	MemberReviewer = "reviewer"
)

// Member is a wallet the owner added to a Datanet.
type Member struct {
	Address string
	Role    string
	AddedAt time.Time
}

// AddMember adds a wallet (signed in at least once or not) as invitee or
// reviewer; adding twice is not an error. Managers only; audited.
func (s *Store) AddMember(ctx context.Context, a Actor, slug, address, role string) error {
	d, acc, err := s.VisibleDatanet(ctx, a, slug)
	if err != nil {
		return err
	}
	if !acc.Manage {
		return ErrForbidden
	}
	if role != MemberInvitee && role != MemberReviewer {
		return &ValidationError{Fields: map[string]string{"role": "Choose invitee or reviewer."}}
	}
	u, err := s.UpsertUser(ctx, address)
	if err != nil {
		return &ValidationError{Fields: map[string]string{"address": "That is not an Ethereum address (0x followed by 40 hexadecimal digits)."}}
	}
	if u.ID == d.OwnerID {
		return &ValidationError{Fields: map[string]string{"address": "That is the owner's own wallet."}}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO datanet_members (datanet_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, d.ID, u.ID, role)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return audit(ctx, tx, a.UserID, "member.add", "datanet", slug, nil, map[string]string{"address": u.Address, "role": role}, "")
	})
	if err != nil {
		return fmt.Errorf("add member to %s: %w", slug, err)
	}
	return nil
}

// RemoveMember takes a role away; removing a non-member is not an error.
func (s *Store) RemoveMember(ctx context.Context, a Actor, slug, address, role string) error {
	d, acc, err := s.VisibleDatanet(ctx, a, slug)
	if err != nil {
		return err
	}
	if !acc.Manage {
		return ErrForbidden
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			DELETE FROM datanet_members m USING users u
			WHERE m.datanet_id = $1 AND m.user_id = u.id AND u.address_lower = lower($2) AND m.role = $3`, d.ID, address, role)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return audit(ctx, tx, a.UserID, "member.remove", "datanet", slug, map[string]string{"address": address, "role": role}, nil, "")
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("remove member from %s: %w", slug, err)
	}
	return nil
}

// Members lists a Datanet's invitees and reviewers.
func (s *Store) Members(ctx context.Context, datanetID int64) ([]Member, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT u.address, m.role, m.added_at FROM datanet_members m JOIN users u ON u.id = m.user_id
		WHERE m.datanet_id = $1 ORDER BY m.role, m.added_at`, datanetID)
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) {
		var m Member
		return m, r.Scan(&m.Address, &m.Role, &m.AddedAt)
	})
}
