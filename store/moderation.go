package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Moderation statuses beyond the Datanet and contribution vocabularies.
const (
	// ContribHeld is a banned wallet's contribution waiting for an unban.
	ContribHeld = "held"
	// ContribRemoved is a contribution an admin took down.
	ContribRemoved = "removed"
	// RecordRemoved is a record an admin took down: not served, not in new
	// versions, still named by hash in the versions that hold it.
	RecordRemoved = "removed"
)

// Moderation actions, by the target types they apply to.
var moderationActions = map[string][]string{
	"dismiss":         {TargetDatanet, TargetRecord, TargetContribution, TargetModel},
	"remove":          {TargetRecord, TargetContribution},
	"suspend":         {TargetDatanet, TargetModel},
	"restore":         {TargetDatanet, TargetRecord, TargetContribution, TargetModel},
	"ban":             {TargetUser},
	"unban":           {TargetUser},
	"grant_labeler":   {TargetUser},
	"grant_reviewer":  {TargetUser},
	"grant_admin":     {TargetUser},
	"revoke_labeler":  {TargetUser},
	"revoke_reviewer": {TargetUser},
	"revoke_admin":    {TargetUser},
}

// ModerationActions lists the action names Moderate accepts.
func ModerationActions() []string {
	out := make([]string, 0, len(moderationActions))
	for a := range moderationActions {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// reasonRequired are the actions whose reason is shown to the people
// affected, so it must be given.
var reasonRequired = []string{"remove", "suspend", "ban"}

// Action is one moderation decision: what to do, to what, and why.
type Action struct {
	Action string `json:"action"`
	Target string `json:"target"`
	Reason string `json:"reason"`
}

// ActionResult is what an action changed.
type ActionResult struct {
	Action        string
	Target        Target
	Before        map[string]any
	After         map[string]any
	ReportsClosed int64
}

// Moderate performs an admin's moderation action in one transaction: the
// change, its audit entry, the notification to whoever is affected and the
// closing of the target's open reports commit together, or none does.
// Unknown actions and malformed or missing targets are ValidationErrors
// naming the field; non-admins get ErrForbidden.
func (s *Store) Moderate(ctx context.Context, a Actor, in Action) (*ActionResult, error) {
	if !a.Admin {
		return nil, ErrForbidden
	}
	errs := map[string]string{}
	in.Action = strings.TrimSpace(in.Action)
	in.Reason = strings.TrimSpace(in.Reason)
	types, known := moderationActions[in.Action]
	if !known {
		errs["action"] = fmt.Sprintf("Unknown action %q. Use one of: %s.", in.Action, strings.Join(ModerationActions(), ", "))
	}
	t, err := ParseTarget(in.Target)
	var ve *ValidationError
	if errors.As(err, &ve) {
		errs["target"] = ve.Fields["target"]
	} else if known && !slices.Contains(types, t.Type) {
		errs["action"] = fmt.Sprintf("%q applies to %s targets, not to a %s.", in.Action, strings.Join(types, " and "), t.Type)
	}
	if n := utf8.RuneCountInString(in.Reason); n > 2000 {
		errs["reason"] = "Keep the reason under 2,000 characters."
	} else if n < 3 && slices.Contains(reasonRequired, in.Action) {
		errs["reason"] = "Give a reason: it is shown to the people affected and kept in the audit log."
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	res := &ActionResult{Action: in.Action, Target: t}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		m := &moderation{tx: tx, actor: a, target: t, reason: in.Reason, res: res}
		var err error
		switch {
		case in.Action == "dismiss":
			err = m.dismiss(ctx)
		case t.Type == TargetDatanet:
			err = m.datanetStatus(ctx, in.Action == "suspend")
		case t.Type == TargetModel:
			err = m.modelStatus(ctx, in.Action == "suspend")
		case t.Type == TargetRecord:
			err = m.recordStatus(ctx, in.Action == "remove")
		case t.Type == TargetContribution:
			err = m.contributionStatus(ctx, in.Action == "remove")
		case in.Action == "ban" || in.Action == "unban":
			err = m.ban(ctx, in.Action == "ban")
		default:
			verb, role, _ := strings.Cut(in.Action, "_")
			var u *User
			if u, err = m.user(ctx); err == nil {
				err = setRole(ctx, tx, a, u, role, verb == "grant", in.Reason)
				res.Before, res.After = map[string]any{"roles": u.Roles}, map[string]any{verb: role}
			}
		}
		return err
	})
	if err != nil {
		if errors.As(err, &ve) {
			return nil, ve
		}
		return nil, fmt.Errorf("%s %s: %w", in.Action, t, err)
	}
	return res, nil
}

// moderation carries one action's transaction and context.
type moderation struct {
	tx     pgx.Tx
	actor  Actor
	target Target
	reason string
	res    *ActionResult
}

func (m *moderation) invalid(field, msg string) error {
	return &ValidationError{Fields: map[string]string{field: msg}}
}

func (m *moderation) missing() error {
	return m.invalid("target", fmt.Sprintf("There is no %s %s.", m.target.Type, m.target.ID))
}

// record audits the change and closes the target's open reports as
// actioned (or dismissed), telling each reporter the outcome.
func (m *moderation) record(ctx context.Context, action string, before, after map[string]any) error {
	m.res.Before, m.res.After = before, after
	if err := audit(ctx, m.tx, m.actor.UserID, action, m.target.Type, m.target.ID, before, after, m.reason); err != nil {
		return err
	}
	status := ReportActioned
	if m.res.Action == "dismiss" {
		status = ReportDismissed
	}
	rows, err := m.tx.Query(ctx, `
		UPDATE reports SET status = $3, resolution = $4, resolved_by = $5, resolved_at = now()
		WHERE target_type = $1 AND target_id = $2 AND status = 'open' RETURNING reporter_id`,
		m.target.Type, m.target.ID, status, m.res.Action, m.actor.UserID)
	if err != nil {
		return err
	}
	reporters, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	m.res.ReportsClosed = int64(len(reporters))
	if status != ReportActioned {
		return nil
	}
	for _, id := range reporters {
		if err := notify(ctx, m.tx, id, Notification{Kind: "report.actioned", Title: "Moderators acted on your report",
			Body: fmt.Sprintf("You reported %s. Moderators decided to %s it. Thank you for keeping ModelFactory clean.", m.target, m.res.Action)}); err != nil {
			return err
		}
	}
	return nil
}

// dismiss closes the open reports about a target without changing it.
func (m *moderation) dismiss(ctx context.Context) error {
	var n int64
	if err := m.tx.QueryRow(ctx, `SELECT count(*) FROM reports WHERE target_type = $1 AND target_id = $2 AND status = 'open'`,
		m.target.Type, m.target.ID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return m.invalid("target", fmt.Sprintf("There are no open reports about %s to dismiss.", m.target))
	}
	return m.record(ctx, "report.dismiss", map[string]any{"openReports": n}, map[string]any{"openReports": 0})
}

// datanetStatus suspends or restores a Datanet and tells its owner.
func (m *moderation) datanetStatus(ctx context.Context, suspend bool) error {
	var id, owner int64
	var name, status string
	var published bool
	err := m.tx.QueryRow(ctx, `SELECT id, owner_id, name, status, published_at IS NOT NULL FROM datanets WHERE slug = $1 FOR UPDATE`,
		m.target.ID).Scan(&id, &owner, &name, &status, &published)
	if errors.Is(err, pgx.ErrNoRows) {
		return m.missing()
	}
	if err != nil {
		return err
	}
	next, action := DatanetSuspended, "datanet.suspend"
	n := Notification{Kind: "datanet.suspended", Title: "Your Datanet “" + name + "” was suspended",
		Body: "Reason: " + m.reason + "\n\nWhile suspended it is hidden from browse, takes no contributions and cannot be used for training. Existing versions stay intact. Contact the moderators if you think this is a mistake.",
		Href: "/datanets/" + m.target.ID}
	switch {
	case suspend && status == DatanetSuspended:
		return m.invalid("target", "“"+name+"” is already suspended.")
	case !suspend && status != DatanetSuspended:
		return m.invalid("target", "“"+name+"” is not suspended; only a suspended Datanet can be restored.")
	case !suspend:
		next, action = DatanetDraft, "datanet.restore"
		if published {
			next = DatanetPublished
		}
		n = Notification{Kind: "datanet.restored", Title: "Your Datanet “" + name + "” was restored",
			Body: "It is " + next + " again: visible, open to contributions and usable for training as before.", Href: n.Href}
		if m.reason != "" {
			n.Body = "Reason: " + m.reason + "\n\n" + n.Body
		}
	}
	if _, err := m.tx.Exec(ctx, `UPDATE datanets SET status = $2, updated_at = now() WHERE id = $1`, id, next); err != nil {
		return err
	}
	if err := notify(ctx, m.tx, owner, n); err != nil {
		return err
	}
	return m.record(ctx, action, map[string]any{"status": status}, map[string]any{"status": next})
}

// modelStatus suspends or restores a fine-tuned model and tells its owner.
func (m *moderation) modelStatus(ctx context.Context, suspend bool) error {
	var id, owner int64
	var name, status string
	err := m.tx.QueryRow(ctx, `SELECT id, owner_id, name, status FROM models WHERE slug = $1 FOR UPDATE`, m.target.ID).
		Scan(&id, &owner, &name, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return m.missing()
	}
	if err != nil {
		return err
	}
	next, action, kind, title := ModelSuspended, "model.suspend", "model.suspended", "Your model “"+name+"” was suspended"
	body := "Reason: " + m.reason + "\n\nWhile suspended it is hidden from the catalog and the playground."
	if !suspend {
		next, action, kind, title = ModelActive, "model.restore", "model.restored", "Your model “"+name+"” was restored"
		body = "It is listed and usable again as before."
	}
	if status == next {
		return m.invalid("target", fmt.Sprintf("“%s” is already %s.", name, next))
	}
	if _, err := m.tx.Exec(ctx, `UPDATE models SET status = $2, updated_at = now() WHERE id = $1`, id, next); err != nil {
		return err
	}
	if err := notify(ctx, m.tx, owner, Notification{Kind: kind, Title: title, Body: body, Href: "/models/" + m.target.ID}); err != nil {
		return err
	}
	return m.record(ctx, action, map[string]any{"status": status}, map[string]any{"status": next})
}

// recordStatus removes or restores one record. The row stays (published
// versions name it by hash); only its status changes.
func (m *moderation) recordStatus(ctx context.Context, remove bool) error {
	hash, slug := m.target.recordParts()
	var id, contributor int64
	var status, contribStatus, name string
	err := m.tx.QueryRow(ctx, `
		SELECT r.id, r.contributor_id, r.status, c.status, d.name FROM records r
		JOIN datanets d ON d.id = r.datanet_id JOIN contributions c ON c.id = r.contribution_id
		WHERE d.slug = $1 AND r.hash = $2 FOR UPDATE OF r`, slug, hash).Scan(&id, &contributor, &status, &contribStatus, &name)
	if errors.Is(err, pgx.ErrNoRows) {
		return m.missing()
	}
	if err != nil {
		return err
	}
	next, action := RecordRemoved, "record.remove"
	n := Notification{Kind: "record.removed", Title: "A record you contributed to “" + name + "” was removed",
		Body: "Record " + hash + "\n\nReason: " + m.reason + "\n\nIt is no longer shown or included in new versions.", Href: "/datanets/" + slug}
	switch {
	case remove && status == RecordRemoved:
		return m.invalid("target", "That record is already removed.")
	case !remove && status != RecordRemoved:
		return m.invalid("target", "That record is not removed; only a removed record can be restored.")
	case !remove && contribStatus == ContribRemoved:
		return m.invalid("target", "Its whole contribution is removed: restore contribution instead.")
	case !remove:
		next, action = "pending", "record.restore"
		if contribStatus == ContribAccepted {
			next = "accepted"
		}
		n = Notification{Kind: "record.restored", Title: "A record you contributed to “" + name + "” was restored",
			Body: "Record " + hash + " is back.", Href: n.Href}
	}
	if _, err := m.tx.Exec(ctx, `UPDATE records SET status = $2 WHERE id = $1`, id, next); err != nil {
		return err
	}
	if err := notify(ctx, m.tx, contributor, n); err != nil {
		return err
	}
	return m.record(ctx, action, map[string]any{"status": status}, map[string]any{"status": next})
}

// contributionStatus removes or restores a whole contribution and its
// records. Only contributions whose ingest has finished can be removed.
func (m *moderation) contributionStatus(ctx context.Context, remove bool) error {
	id, _ := strconv.ParseInt(m.target.ID, 10, 64)
	var contributor int64
	var status, name string
	var prior *string
	err := m.tx.QueryRow(ctx, `
		SELECT c.contributor_id, c.status, c.prior_status, d.name FROM contributions c JOIN datanets d ON d.id = c.datanet_id
		WHERE c.id = $1 FOR UPDATE OF c`, id).Scan(&contributor, &status, &prior, &name)
	if errors.Is(err, pgx.ErrNoRows) {
		return m.missing()
	}
	if err != nil {
		return err
	}
	href := "/contributions/" + m.target.ID
	if remove {
		switch status {
		case ContribRemoved:
			return m.invalid("target", "That contribution is already removed.")
		case ContribPending, ContribProcessing:
			return m.invalid("target", "That contribution is still being processed; remove it once its report is final.")
		}
		if _, err := m.tx.Exec(ctx, `UPDATE contributions SET status = 'removed', prior_status = status, updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		if _, err := m.tx.Exec(ctx, `UPDATE records SET status = 'removed' WHERE contribution_id = $1`, id); err != nil {
			return err
		}
		if err := notify(ctx, m.tx, contributor, Notification{Kind: "contribution.removed",
			Title: "Your contribution #" + m.target.ID + " to “" + name + "” was removed",
			Body:  "Reason: " + m.reason + "\n\nIts records are no longer shown or included in new versions.", Href: href}); err != nil {
			return err
		}
		return m.record(ctx, "contribution.remove", map[string]any{"status": status}, map[string]any{"status": ContribRemoved})
	}
	if status != ContribRemoved {
		return m.invalid("target", "That contribution is not removed; only a removed contribution can be restored.")
	}
	next := ContribInReview
	if prior != nil {
		next = *prior
	}
	recStatus := "pending"
	if next == ContribAccepted {
		recStatus = "accepted"
	}
	if _, err := m.tx.Exec(ctx, `UPDATE contributions SET status = $2, prior_status = NULL, updated_at = now() WHERE id = $1`, id, next); err != nil {
		return err
	}
	if _, err := m.tx.Exec(ctx, `UPDATE records SET status = $2 WHERE contribution_id = $1 AND status = 'removed'`, id, recStatus); err != nil {
		return err
	}
	if err := notify(ctx, m.tx, contributor, Notification{Kind: "contribution.restored",
		Title: "Your contribution #" + m.target.ID + " to “" + name + "” was restored", Body: "It is " + strings.ReplaceAll(next, "_", " ") + " again.", Href: href}); err != nil {
		return err
	}
	return m.record(ctx, "contribution.restore", map[string]any{"status": ContribRemoved}, map[string]any{"status": next})
}

// user locks the target wallet's row, creating it for a wallet that has
// never signed in (so a known bad wallet can be banned in advance).
func (m *moderation) user(ctx context.Context) (*User, error) {
	if _, err := m.tx.Exec(ctx, `INSERT INTO users (address) VALUES ($1) ON CONFLICT (address_lower) DO NOTHING`, checksum(m.target.ID)); err != nil {
		return nil, err
	}
	var u User
	err := m.tx.QueryRow(ctx, `SELECT id, address, created_at, last_seen_at, banned_at FROM users WHERE address_lower = $1 FOR UPDATE`,
		m.target.ID).Scan(&u.ID, &u.Address, &u.CreatedAt, &u.LastSeenAt, &u.BannedAt)
	if err != nil {
		return nil, err
	}
	rows, err := m.tx.Query(ctx, `SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role`, u.ID)
	if err != nil {
		return nil, err
	}
	if u.Roles, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, err
	}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return &u, nil
}

// ban bans or unbans a wallet. Banning ends its sessions and revokes its
// API tokens at once (its next request is signed out) and holds its
// contributions waiting for review; unbanning releases them to where they
// were. Tokens stay revoked: the owner makes new ones after signing in.
func (m *moderation) ban(ctx context.Context, ban bool) error {
	u, err := m.user(ctx)
	if err != nil {
		return err
	}
	if !ban {
		if u.BannedAt == nil {
			return m.invalid("target", u.Address+" is not banned.")
		}
		if _, err := m.tx.Exec(ctx, `UPDATE users SET banned_at = NULL WHERE id = $1`, u.ID); err != nil {
			return err
		}
		released, err := releaseHeld(ctx, m.tx, u.ID)
		if err != nil {
			return err
		}
		return m.record(ctx, "user.unban", map[string]any{"banned": true},
			map[string]any{"banned": false, "contributionsReleased": released})
	}
	switch {
	case u.BannedAt != nil:
		return m.invalid("target", u.Address+" is already banned.")
	case u.ID == m.actor.UserID:
		return m.invalid("target", "You cannot ban your own wallet.")
	}
	if _, err := m.tx.Exec(ctx, `UPDATE users SET banned_at = now() WHERE id = $1`, u.ID); err != nil {
		return err
	}
	sessions, err := m.tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, u.ID)
	if err != nil {
		return err
	}
	tokens, err := m.tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`, u.ID)
	if err != nil {
		return err
	}
	held, err := m.tx.Exec(ctx, `
		UPDATE contributions SET status = 'held', prior_status = status, updated_at = now()
		WHERE contributor_id = $1 AND status = 'in_review'`, u.ID)
	if err != nil {
		return err
	}
	return m.record(ctx, "user.ban", map[string]any{"banned": false}, map[string]any{"banned": true,
		"sessionsEnded": sessions.RowsAffected(), "tokensRevoked": tokens.RowsAffected(), "contributionsHeld": held.RowsAffected()})
}

// releaseHeld returns a wallet's held contributions to their prior status
// (and accepted ones' records to accepted).
func releaseHeld(ctx context.Context, tx pgx.Tx, userID int64) (int64, error) {
	rows, err := tx.Query(ctx, `
		UPDATE contributions SET status = coalesce(prior_status, 'in_review'), prior_status = NULL, updated_at = now()
		WHERE contributor_id = $1 AND status = 'held' RETURNING id, status`, userID)
	if err != nil {
		return 0, err
	}
	var released int64
	var accepted []int64
	var id int64
	var status string
	if _, err := pgx.ForEachRow(rows, []any{&id, &status}, func() error {
		released++
		if status == ContribAccepted {
			accepted = append(accepted, id)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	if len(accepted) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE records SET status = 'accepted' WHERE contribution_id = ANY($1) AND status = 'pending'`, accepted); err != nil {
			return 0, err
		}
	}
	return released, nil
}

// holdIfBanned is called by CommitIngest before it writes a contribution's
// final status: a banned contributor's contribution is held instead (its
// records pending) and remembers the status it would have had. The share
// lock on the user row orders this against a concurrent ban, which updates
// that row first.
func holdIfBanned(ctx context.Context, tx pgx.Tx, contributionID, contributorID int64, final string) (string, error) {
	var banned bool
	if err := tx.QueryRow(ctx, `SELECT banned_at IS NOT NULL FROM users WHERE id = $1 FOR SHARE`, contributorID).Scan(&banned); err != nil {
		return "", err
	}
	if !banned || final == ContribRejected {
		return final, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE records SET status = 'pending' WHERE contribution_id = $1 AND status = 'accepted'`, contributionID); err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, `UPDATE contributions SET prior_status = $2 WHERE id = $1`, contributionID, final); err != nil {
		return "", err
	}
	return ContribHeld, nil
}

// DatanetTrainable reports whether a Datanet's versions may be used for
// training: nil when they may, a ValidationError on field "datanet" when
// moderators suspended it, ErrNotFound when there is no such Datanet.
func (s *Store) DatanetTrainable(ctx context.Context, datanetID int64) error {
	var name, status string
	err := s.pool.QueryRow(ctx, `SELECT name, status FROM datanets WHERE id = $1`, datanetID).Scan(&name, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("datanet %d trainable: %w", datanetID, err)
	}
	if status == DatanetSuspended {
		return &ValidationError{Fields: map[string]string{"datanet": suspendedForTraining(name)}}
	}
	return nil
}

// VersionsTrainable is DatanetTrainable for the Datanets of a set of
// version IDs (a fine-tune's data): a ValidationError on field "versions"
// names the first suspended Datanet; unknown versions are ErrNotFound.
func (s *Store) VersionsTrainable(ctx context.Context, versionIDs []int64) error {
	var found int
	var suspended string
	err := s.pool.QueryRow(ctx, `
		SELECT count(DISTINCT v.id), coalesce(min(d.name) FILTER (WHERE d.status = 'suspended'), '')
		FROM datanet_versions v JOIN datanets d ON d.id = v.datanet_id WHERE v.id = ANY($1)`, versionIDs).Scan(&found, &suspended)
	if err != nil {
		return fmt.Errorf("versions trainable: %w", err)
	}
	if suspended != "" {
		return &ValidationError{Fields: map[string]string{"versions": suspendedForTraining(suspended)}}
	}
	if found != len(slices.Compact(slices.Sorted(slices.Values(versionIDs)))) {
		return ErrNotFound
	}
	return nil
}

func suspendedForTraining(name string) string {
	return "The Datanet “" + name + "” is suspended by moderators: its versions cannot be used for training until it is restored."
}
