package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
)

// Kinds of moderation target. Users are acted on (ban, roles) but not
// reported.
const (
	TargetDatanet      = "datanet"
	TargetRecord       = "record"
	TargetContribution = "contribution"
	TargetModel        = "model"
	TargetUser         = "user"
)

// ReportCategories are the reasons a report can give, in display order.
var ReportCategories = []string{"spam", "illegal", "personal_data", "copyright", "harmful", "low_quality", "other"}

// Report statuses.
const (
	ReportOpen      = "open"
	ReportDismissed = "dismissed"
	ReportActioned  = "actioned"
)

// Target names what a report or a moderation action is about, in the one
// syntax the API, the forms and the audit log share:
//
//	datanet:SLUG
//	record:0xHASH@SLUG        (a record of that Datanet)
//	contribution:ID
//	model:SLUG
//	user:0xADDRESS
type Target struct {
	Type string
	ID   string // canonical: slug, "0xhash@slug", decimal ID or lower-case address
}

// String is the target in its canonical "type:id" form.
func (t Target) String() string { return t.Type + ":" + t.ID }

var (
	targetSlugRE = regexp.MustCompile(`^[a-z0-9]+([.-][a-z0-9]+)*$`)
	targetHashRE = regexp.MustCompile(`^0x[0-9a-f]{64}$`)
	targetAddrRE = regexp.MustCompile(`^0x[0-9a-f]{40}$`)
)

// targetSyntax is the help shown with every malformed target.
const targetSyntax = `Name the target as datanet:SLUG, record:0xHASH@SLUG, contribution:ID, model:SLUG or user:0xADDRESS.`

// ParseTarget checks a target's syntax and returns it in canonical form; a
// malformed one is a ValidationError on field "target".
func ParseTarget(s string) (Target, error) {
	bad := func(msg string) (Target, error) {
		return Target{}, &ValidationError{Fields: map[string]string{"target": msg}}
	}
	typ, id, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || id == "" {
		return bad(targetSyntax)
	}
	typ = strings.ToLower(typ)
	switch typ {
	case TargetDatanet, TargetModel:
		if len(id) > 96 || !targetSlugRE.MatchString(id) {
			return bad(fmt.Sprintf("%q is not a %s slug (lower-case letters, digits and hyphens).", id, typ))
		}
	case TargetRecord:
		hash, slug, ok := strings.Cut(id, "@")
		hash = strings.ToLower(hash)
		if !ok || !targetHashRE.MatchString(hash) || len(slug) > 96 || !targetSlugRE.MatchString(slug) {
			return bad("Name a record as record:0xHASH@SLUG: its 0x-prefixed SHA-256 hash, then @ and the Datanet's slug.")
		}
		id = hash + "@" + slug
	case TargetContribution:
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 {
			return bad(fmt.Sprintf("%q is not a contribution number.", id))
		}
		id = strconv.FormatInt(n, 10)
	case TargetUser:
		id = strings.ToLower(id)
		if !targetAddrRE.MatchString(id) {
			return bad("Name a wallet as user:0x followed by 40 hexadecimal digits.")
		}
	default:
		return bad(fmt.Sprintf("Unknown target type %q. %s", typ, targetSyntax))
	}
	return Target{Type: typ, ID: id}, nil
}

// recordParts splits a record target's ID into hash and Datanet slug.
func (t Target) recordParts() (hash, slug string) {
	hash, slug, _ = strings.Cut(t.ID, "@")
	return hash, slug
}

// RecordTarget is the target naming a record of a Datanet.
func RecordTarget(hash, datanetSlug string) string {
	return TargetRecord + ":" + strings.ToLower(hash) + "@" + datanetSlug
}

// ReportInput is what a reporter sends.
type ReportInput struct {
	Target   string `json:"target"`
	Category string `json:"category"`
	Details  string `json:"details"`
}

// Report is one wallet's report about a target.
type Report struct {
	ID         int64
	Target     Target
	Reporter   string // address
	Category   string
	Details    string
	Status     string
	Resolution string // the action that closed it
	ResolvedBy string // address
	ResolvedAt *time.Time
	CreatedAt  time.Time
}

// CreateReport files a report about something the actor can see. Reporting
// the same target again while the first report is open returns that report
// with created false: a second report from the same wallet is not louder.
func (s *Store) CreateReport(ctx context.Context, a Actor, in ReportInput) (*Report, bool, error) {
	errs := map[string]string{}
	t, err := ParseTarget(in.Target)
	var ve *ValidationError
	if errors.As(err, &ve) {
		errs["target"] = ve.Fields["target"]
	} else if t.Type == TargetUser {
		errs["target"] = "Report what a wallet published (a Datanet, record, contribution or model), not the wallet itself."
	}
	if !slices.Contains(ReportCategories, in.Category) {
		errs["category"] = "Choose a reason: " + strings.Join(ReportCategories, ", ") + "."
	}
	in.Details = strings.TrimSpace(in.Details)
	switch n := utf8.RuneCountInString(in.Details); {
	case n > 2000:
		errs["details"] = "Keep the details under 2,000 characters."
	case in.Category == "other" && n < 10:
		errs["details"] = "Say in a sentence what is wrong: moderators need it to act."
	}
	if len(errs) > 0 {
		return nil, false, &ValidationError{Fields: errs}
	}
	if err := s.canSeeTarget(ctx, a, t); err != nil {
		return nil, false, err
	}
	var id int64
	created := true
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO reports (reporter_id, target_type, target_id, category, details)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (reporter_id, target_type, target_id) WHERE status = 'open' DO NOTHING
			RETURNING id`, a.UserID, t.Type, t.ID, in.Category, in.Details).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			created = false
			return tx.QueryRow(ctx, `SELECT id FROM reports WHERE reporter_id = $1 AND target_type = $2 AND target_id = $3 AND status = 'open'`,
				a.UserID, t.Type, t.ID).Scan(&id)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "report.create", t.Type, t.ID, nil,
			map[string]any{"report": id, "category": in.Category}, in.Details)
	})
	if err != nil {
		return nil, false, fmt.Errorf("report %s: %w", t, err)
	}
	r, err := s.reportByID(ctx, id)
	return r, created, err
}

// canSeeTarget refuses targets the actor cannot see (ValidationError on
// "target", so hidden things do not reveal themselves differently from
// missing ones).
func (s *Store) canSeeTarget(ctx context.Context, a Actor, t Target) error {
	var err error
	switch t.Type {
	case TargetDatanet:
		_, _, err = s.VisibleDatanet(ctx, a, t.ID)
	case TargetRecord:
		hash, slug := t.recordParts()
		var acc Access
		var d *Datanet
		if d, acc, err = s.VisibleDatanet(ctx, a, slug); err == nil {
			var status string
			var contributor int64
			err = s.pool.QueryRow(ctx, `SELECT status, contributor_id FROM records WHERE datanet_id = $1 AND hash = $2`, d.ID, hash).Scan(&status, &contributor)
			if errors.Is(err, pgx.ErrNoRows) || err == nil && (status == "removed" ||
				!(status == "accepted" && acc.Read || acc.Review || contributor == a.UserID)) {
				err = ErrNotFound
			}
		}
	case TargetContribution:
		id, _ := strconv.ParseInt(t.ID, 10, 64)
		_, _, err = s.VisibleContribution(ctx, a, id)
	case TargetModel:
		_, err = s.VisibleModel(ctx, a, t.ID)
	}
	if errors.Is(err, ErrNotFound) {
		return &ValidationError{Fields: map[string]string{"target": fmt.Sprintf("There is no %s %s that you can see.", t.Type, t.ID)}}
	}
	return err
}

const reportColumns = `r.id, r.target_type, r.target_id, u.address, r.category, r.details, r.status, r.resolution,
	coalesce(ru.address, ''), r.resolved_at, r.created_at`

const reportFrom = ` FROM reports r JOIN users u ON u.id = r.reporter_id LEFT JOIN users ru ON ru.id = r.resolved_by`

func scanReport(row pgx.CollectableRow) (Report, error) {
	var r Report
	err := row.Scan(&r.ID, &r.Target.Type, &r.Target.ID, &r.Reporter, &r.Category, &r.Details, &r.Status, &r.Resolution,
		&r.ResolvedBy, &r.ResolvedAt, &r.CreatedAt)
	return r, err
}

func (s *Store) reportByID(ctx context.Context, id int64) (*Report, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+reportColumns+reportFrom+` WHERE r.id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("report %d: %w", id, err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanReport)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("report %d: %w", id, err)
	}
	return &r, nil
}

// ReportQuery selects report groups for the moderation queue.
type ReportQuery struct {
	Status string // "open" (default), "dismissed", "actioned" or "all"
	Type   string // a target type, or "" for all
	Limit  int
	Offset int
}

// ReportGroup is every report about one target, with the target itself.
type ReportGroup struct {
	Target  Target
	Count   int64 // reports in the group
	FirstAt time.Time
	LastAt  time.Time
	Reports []Report // newest first, at most 20
	Subject Subject
}

// Subject is what a target is now, shown inline in the moderation queue.
type Subject struct {
	Exists bool
	Title  string
	Status string // the target's own status (published, suspended, accepted, removed, active…)
	Owner  string // the wallet answerable for it: Datanet/model owner, contributor
	// OwnerBanned says the owner's wallet is banned.
	OwnerBanned bool
	Href        string
	Text        string // the content, abridged
	Datanet     string // the Datanet's slug, for records and contributions
}

// ReportGroups lists reports grouped by target, most recently reported
// first, with the total number of groups.
func (s *Store) ReportGroups(ctx context.Context, q ReportQuery) ([]ReportGroup, int64, error) {
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 20
	}
	if q.Status == "" {
		q.Status = ReportOpen
	}
	if !slices.Contains([]string{ReportOpen, ReportDismissed, ReportActioned, "all"}, q.Status) {
		return nil, 0, &ValidationError{Fields: map[string]string{"status": "Use open, dismissed, actioned or all."}}
	}
	if q.Type != "" && !slices.Contains([]string{TargetDatanet, TargetRecord, TargetContribution, TargetModel}, q.Type) {
		return nil, 0, &ValidationError{Fields: map[string]string{"type": "Use datanet, record, contribution or model."}}
	}
	where := ` WHERE ($1 = 'all' OR status = $1) AND ($2 = '' OR target_type = $2)`
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(DISTINCT (target_type, target_id)) FROM reports`+where, q.Status, q.Type).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count report groups: %w", err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT target_type, target_id, count(*), min(created_at), max(created_at) FROM reports`+where+`
		GROUP BY target_type, target_id ORDER BY max(created_at) DESC, target_type, target_id LIMIT $3 OFFSET $4`,
		q.Status, q.Type, q.Limit, q.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("report groups: %w", err)
	}
	groups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReportGroup, error) {
		var g ReportGroup
		err := r.Scan(&g.Target.Type, &g.Target.ID, &g.Count, &g.FirstAt, &g.LastAt)
		return g, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("report groups: %w", err)
	}
	if len(groups) == 0 {
		return groups, total, nil
	}
	// The newest 20 reports of every group on the page, in one query.
	types, ids := make([]string, len(groups)), make([]string, len(groups))
	at := make(map[Target]int, len(groups))
	for i, g := range groups {
		types[i], ids[i], at[g.Target] = g.Target.Type, g.Target.ID, i
	}
	rows, err = s.pool.Query(ctx, `SELECT `+reportColumns+` FROM (
			SELECT r.*, row_number() OVER (PARTITION BY r.target_type, r.target_id ORDER BY r.id DESC) AS n
			FROM reports r JOIN unnest($1::text[], $2::text[]) AS t(type, id) ON r.target_type = t.type AND r.target_id = t.id
			WHERE ($3 = 'all' OR r.status = $3)) r
		JOIN users u ON u.id = r.reporter_id LEFT JOIN users ru ON ru.id = r.resolved_by
		WHERE r.n <= 20 ORDER BY r.id DESC`, types, ids, q.Status)
	if err != nil {
		return nil, 0, fmt.Errorf("reports of the page's groups: %w", err)
	}
	reports, err := pgx.CollectRows(rows, scanReport)
	if err != nil {
		return nil, 0, fmt.Errorf("reports of the page's groups: %w", err)
	}
	for _, r := range reports {
		g := &groups[at[r.Target]]
		g.Reports = append(g.Reports, r)
	}
	subjects := make([]*Subject, len(groups))
	for i := range groups {
		g := &groups[i]
		if g.Subject, err = s.subjectOf(ctx, g.Target); err != nil {
			return nil, 0, err
		}
		subjects[i] = &g.Subject
	}
	if err := s.markBannedOwners(ctx, subjects); err != nil {
		return nil, 0, err
	}
	return groups, total, nil
}

// excerpt shortens s to about n characters for the queue.
func excerpt(s string, n int) string {
	if t := truncate(s, n); t != s {
		return t + "…"
	}
	return s
}

// markBannedOwners sets OwnerBanned on the subjects whose owner's wallet
// is banned, in one query.
func (s *Store) markBannedOwners(ctx context.Context, subs []*Subject) error {
	var owners []string
	for _, sub := range subs {
		if sub.Owner != "" {
			owners = append(owners, strings.ToLower(sub.Owner))
		}
	}
	if len(owners) == 0 {
		return nil
	}
	rows, err := s.pool.Query(ctx, `SELECT address_lower FROM users WHERE address_lower = ANY($1) AND banned_at IS NOT NULL`, owners)
	if err != nil {
		return fmt.Errorf("banned owners: %w", err)
	}
	banned, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("banned owners: %w", err)
	}
	for _, sub := range subs {
		sub.OwnerBanned = sub.Owner != "" && slices.Contains(banned, strings.ToLower(sub.Owner))
	}
	return nil
}

// subjectOf describes a target as it is now (a target that no longer
// exists has Exists false), all but OwnerBanned (see markBannedOwners).
func (s *Store) subjectOf(ctx context.Context, t Target) (Subject, error) {
	var sub Subject
	var err error
	switch t.Type {
	case TargetDatanet:
		var d *Datanet
		if d, err = s.DatanetBySlug(ctx, t.ID); err == nil {
			sub = Subject{Exists: true, Title: d.Name, Status: d.Status, Owner: d.Owner, Href: "/datanets/" + d.Slug,
				Text: excerpt(strings.TrimSpace(d.Summary+"\n\n"+d.Description), 600), Datanet: d.Slug}
		}
	case TargetRecord:
		hash, slug := t.recordParts()
		var name, canonical string
		err = s.pool.QueryRow(ctx, `
			SELECT d.name, r.canonical, r.status, u.address FROM records r
			JOIN datanets d ON d.id = r.datanet_id JOIN users u ON u.id = r.contributor_id
			WHERE d.slug = $1 AND r.hash = $2`, slug, hash).Scan(&name, &canonical, &sub.Status, &sub.Owner)
		if errors.Is(err, pgx.ErrNoRows) {
			err = ErrNotFound
		}
		if err == nil {
			sub.Exists, sub.Title, sub.Datanet = true, "Record "+hash[:10]+"… in "+name, slug
			sub.Href, sub.Text = "/datanets/"+slug+"?tab=records", excerpt(canonical, 1200)
		}
	case TargetContribution:
		id, _ := strconv.ParseInt(t.ID, 10, 64)
		var c *Contribution
		if c, err = s.ContributionByID(ctx, id); err == nil {
			sub = Subject{Exists: true, Title: "Contribution #" + t.ID + " to " + c.DatanetName, Status: c.Status,
				Owner: c.Contributor, Href: "/contributions/" + t.ID, Datanet: c.DatanetSlug}
			var texts []string
			rows, qerr := s.pool.Query(ctx, `SELECT canonical FROM records WHERE contribution_id = $1 ORDER BY line LIMIT 3`, id)
			if qerr != nil {
				return sub, fmt.Errorf("subject %s: %w", t, qerr)
			}
			if texts, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return sub, fmt.Errorf("subject %s: %w", t, err)
			}
			sub.Text = fmt.Sprintf("%s · %d records", cmp.Or(c.Filename, c.Source), c.Accepted)
			for _, x := range texts {
				sub.Text += "\n" + excerpt(x, 400)
			}
		}
	case TargetModel:
		var m *Model
		if m, err = s.GetModelBySlug(ctx, t.ID); err == nil {
			sub = Subject{Exists: true, Title: m.Name, Status: m.Status, Owner: m.Owner, Href: "/models/" + m.Slug,
				Text: m.Method + " fine-tune of " + m.BaseName + " · " + m.Visibility}
		}
	case TargetUser:
		var u User
		err = s.pool.QueryRow(ctx, `SELECT address, banned_at FROM users WHERE address_lower = $1`, t.ID).Scan(&u.Address, &u.BannedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			err = ErrNotFound
		}
		if err == nil {
			sub = Subject{Exists: true, Title: u.Address, Status: "active", Owner: u.Address}
			if u.BannedAt != nil {
				sub.Status = "banned"
			}
		}
	}
	if errors.Is(err, ErrNotFound) {
		return Subject{Title: t.String() + " no longer exists"}, nil
	}
	if err != nil {
		return sub, fmt.Errorf("subject %s: %w", t, err)
	}
	return sub, nil
}

// checksum returns an address in its EIP-55 form.
func checksum(addr string) string { return common.HexToAddress(addr).Hex() }
