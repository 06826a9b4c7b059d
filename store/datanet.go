package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Datanet schemas, visibilities, policies and statuses.
const (
	SchemaDocuments      = "documents"
	SchemaInstruction    = "instruction"
	SchemaClassification = "classification"

	VisibilityPublic       = "public"
	VisibilityPermissioned = "permissioned"
	VisibilityPrivate      = "private"

	PolicyOpen   = "open"
	PolicyReview = "review"

	DatanetDraft     = "draft"
	DatanetPublished = "published"
	DatanetSuspended = "suspended"
)

// Actor is who performs an operation; permissions that depend on data are
// decided in the store from it.
type Actor struct {
	UserID   int64
	Address  string
	Admin    bool
	Reviewer bool // global reviewer role
}

// ValidationError lists problems with user input, by field.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// ErrForbidden means the actor may see the thing but not do this to it.
var ErrForbidden = errors.New("forbidden")

// DatanetInput is what an owner sets in the wizard or the API.
type DatanetInput struct {
	Name               string   `json:"name"`
	Summary            string   `json:"summary"`
	Description        string   `json:"description"`
	Tags               []string `json:"tags"`
	License            string   `json:"license"`
	Schema             string   `json:"schema"`
	Labels             []string `json:"labels"`
	Visibility         string   `json:"visibility"`
	ContributionPolicy string   `json:"contributionPolicy"`
}

// Licenses are the SPDX ids offered for Datanets.
var Licenses = []string{"CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "ODC-By-1.0", "ODbL-1.0", "PDDL-1.0", "MIT", "Apache-2.0", "CDLA-Permissive-2.0", "CDLA-Sharing-1.0", "other"}

var tagRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// normalize trims and lower-cases what should be, and validates.
func (in *DatanetInput) normalize() error {
	errs := map[string]string{}
	in.Name = strings.TrimSpace(in.Name)
	in.Summary = strings.TrimSpace(in.Summary)
	in.Description = strings.TrimSpace(in.Description)
	if n := utf8.RuneCountInString(in.Name); n < 3 || n > 80 {
		errs["name"] = "Use 3 to 80 characters."
	} else if slugify(in.Name) == "" {
		errs["name"] = "Include at least one letter or digit."
	}
	if utf8.RuneCountInString(in.Summary) > 280 {
		errs["summary"] = "Keep the summary under 280 characters."
	}
	if utf8.RuneCountInString(in.Description) > 20000 {
		errs["description"] = "Keep the description under 20,000 characters."
	}
	var tags []string
	for _, t := range in.Tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || slices.Contains(tags, t) {
			continue
		}
		if !tagRE.MatchString(t) {
			errs["tags"] = fmt.Sprintf("Tag %q: use lower-case letters, digits and hyphens (up to 32).", t)
		}
		tags = append(tags, t)
	}
	if len(tags) > 10 {
		errs["tags"] = "Use at most 10 tags."
	}
	in.Tags = tags
	if tags == nil {
		in.Tags = []string{}
	}
	if !slices.Contains(Licenses, in.License) {
		errs["license"] = "Choose a licence from the list (SPDX identifiers)."
	}
	if !slices.Contains([]string{SchemaDocuments, SchemaInstruction, SchemaClassification}, in.Schema) {
		errs["schema"] = "Choose documents, instruction or classification."
	}
	var labels []string
	for _, l := range in.Labels {
		l = strings.TrimSpace(l)
		if l == "" || slices.Contains(labels, l) {
			continue
		}
		if utf8.RuneCountInString(l) > 64 {
			errs["labels"] = "Keep each label under 64 characters."
		}
		labels = append(labels, l)
	}
	if in.Schema == SchemaClassification {
		if len(labels) < 2 || len(labels) > 100 {
			errs["labels"] = "A classification Datanet needs 2 to 100 distinct labels."
		}
	} else {
		labels = nil
	}
	in.Labels = labels
	if in.Labels == nil {
		in.Labels = []string{}
	}
	if !slices.Contains([]string{VisibilityPublic, VisibilityPermissioned, VisibilityPrivate}, in.Visibility) {
		errs["visibility"] = "Choose public, permissioned or private."
	}
	if !slices.Contains([]string{PolicyOpen, PolicyReview}, in.ContributionPolicy) {
		errs["contribution_policy"] = "Choose open or review."
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slugify(name string) string {
	s := nonSlug.ReplaceAllString(strings.ToLower(name), "-")
	s = strings.Trim(s, "-")
	if len(s) > 56 {
		s = strings.TrimRight(s[:56], "-")
	}
	return s
}

// Datanet is a community dataset.
type Datanet struct {
	ID                 int64
	Slug               string
	OwnerID            int64
	Owner              string // address
	Name               string
	Summary            string
	Description        string
	Tags               []string
	License            string
	Schema             string
	Labels             []string
	Visibility         string
	ContributionPolicy string
	Status             string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	PublishedAt        *time.Time
	// Figures over accepted records.
	Records      int64
	Chars        int64
	Contributors int64
	Versions     int
}

const datanetColumns = `d.id, d.slug, d.owner_id, u.address, d.name, d.summary, d.description, d.tags, d.license,
	d.schema_kind, d.labels, d.visibility, d.contribution_policy, d.status, d.created_at, d.updated_at, d.published_at,
	(SELECT count(*) FROM records r WHERE r.datanet_id = d.id AND r.status = 'accepted'),
	(SELECT coalesce(sum(chars), 0) FROM records r WHERE r.datanet_id = d.id AND r.status = 'accepted'),
	(SELECT count(DISTINCT contributor_id) FROM records r WHERE r.datanet_id = d.id AND r.status = 'accepted'),
	(SELECT count(*) FROM datanet_versions v WHERE v.datanet_id = d.id)`

func scanDatanet(row pgx.Row) (*Datanet, error) {
	var d Datanet
	err := row.Scan(&d.ID, &d.Slug, &d.OwnerID, &d.Owner, &d.Name, &d.Summary, &d.Description, &d.Tags, &d.License,
		&d.Schema, &d.Labels, &d.Visibility, &d.ContributionPolicy, &d.Status, &d.CreatedAt, &d.UpdatedAt, &d.PublishedAt,
		&d.Records, &d.Chars, &d.Contributors, &d.Versions)
	return &d, err
}

// CreateDatanet creates a draft Datanet owned by the actor. The slug comes
// from the name, with a number added when it is taken.
func (s *Store) CreateDatanet(ctx context.Context, a Actor, in DatanetInput) (*Datanet, error) {
	if err := in.normalize(); err != nil {
		return nil, err
	}
	base := slugify(in.Name)
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		slug := base
		for n := 2; ; n++ {
			var taken bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM datanets WHERE slug = $1)`, slug).Scan(&taken); err != nil {
				return err
			}
			if !taken {
				break
			}
			slug = fmt.Sprintf("%s-%d", base, n)
		}
		err := tx.QueryRow(ctx, `
			INSERT INTO datanets (slug, owner_id, name, summary, description, tags, license, schema_kind, labels, visibility, contribution_policy)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			slug, a.UserID, in.Name, in.Summary, in.Description, in.Tags, in.License, in.Schema, in.Labels, in.Visibility, in.ContributionPolicy).Scan(&id)
		if err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "datanet.create", "datanet", slug, nil, in, "")
	})
	if err != nil {
		if isUniqueViolation(err) {
			return nil, ErrConflict
		}
		return nil, fmt.Errorf("create datanet: %w", err)
	}
	return s.datanetByID(ctx, id)
}

func (s *Store) datanetByID(ctx context.Context, id int64) (*Datanet, error) {
	d, err := scanDatanet(s.pool.QueryRow(ctx, `SELECT `+datanetColumns+` FROM datanets d JOIN users u ON u.id = d.owner_id WHERE d.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("datanet %d: %w", id, err)
	}
	return d, nil
}

// DatanetBySlug returns a Datanet without checking access; use
// VisibleDatanet for anything a user asked for.
func (s *Store) DatanetBySlug(ctx context.Context, slug string) (*Datanet, error) {
	d, err := scanDatanet(s.pool.QueryRow(ctx, `SELECT `+datanetColumns+` FROM datanets d JOIN users u ON u.id = d.owner_id WHERE d.slug = $1`, slug))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("datanet %s: %w", slug, err)
	}
	return d, nil
}

// Access is what an actor may do with a Datanet.
type Access struct {
	See        bool // the Datanet page exists for them (else 404)
	Read       bool // records, versions, export
	Contribute bool
	Review     bool   // review contributions, publish versions
	Manage     bool   // edit, publish, decide access requests
	Grant      string // "owner", "admin", "public", "granted", "invitee", "pending", "denied", "expired", "none"
}

// AccessFor decides the actor's access to d.
func (s *Store) AccessFor(ctx context.Context, a Actor, d *Datanet) (Access, error) {
	var acc Access
	owner := a.UserID != 0 && a.UserID == d.OwnerID
	switch {
	case owner:
		acc = Access{See: true, Read: true, Contribute: d.Status != DatanetSuspended, Review: true, Manage: true, Grant: "owner"}
		return acc, nil
	case a.Admin:
		return Access{See: true, Read: true, Contribute: d.Status == DatanetPublished, Review: true, Manage: true, Grant: "admin"}, nil
	}
	if a.UserID == 0 || d.Status != DatanetPublished {
		return Access{Grant: "none"}, nil
	}
	var member, reviewer bool
	var reqStatus string
	var reqExpires *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM datanet_members WHERE datanet_id = $1 AND user_id = $2 AND role = 'invitee'),
		       EXISTS (SELECT 1 FROM datanet_members WHERE datanet_id = $1 AND user_id = $2 AND role = 'reviewer'),
		       coalesce((SELECT status FROM access_requests WHERE datanet_id = $1 AND requester_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1), ''),
		       (SELECT expires_at FROM access_requests WHERE datanet_id = $1 AND requester_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1)`,
		d.ID, a.UserID).Scan(&member, &reviewer, &reqStatus, &reqExpires)
	if err != nil {
		return acc, fmt.Errorf("access to %s: %w", d.Slug, err)
	}
	granted := reqStatus == "approved" && (reqExpires == nil || reqExpires.After(time.Now()))
	switch d.Visibility {
	case VisibilityPublic:
		acc = Access{See: true, Read: true, Contribute: true, Grant: "public"}
	case VisibilityPermissioned:
		acc = Access{See: true, Read: granted || member, Contribute: granted || member}
		switch {
		case member:
			acc.Grant = "invitee"
		case granted:
			acc.Grant = "granted"
		case reqStatus == "approved":
			acc.Grant = "expired"
		case reqStatus != "":
			acc.Grant = reqStatus
		default:
			acc.Grant = "none"
		}
	case VisibilityPrivate:
		acc = Access{See: member || reviewer, Read: member, Contribute: member, Grant: "none"}
		if member {
			acc.Grant = "invitee"
		}
	}
	if acc.See && (reviewer || a.Reviewer) {
		acc.Review, acc.Read = true, true
	}
	return acc, nil
}

// VisibleDatanet returns the Datanet if the actor may see it (ErrNotFound
// otherwise, so private Datanets do not leak their existence) and the
// actor's access.
func (s *Store) VisibleDatanet(ctx context.Context, a Actor, slug string) (*Datanet, Access, error) {
	d, err := s.DatanetBySlug(ctx, slug)
	if err != nil {
		return nil, Access{}, err
	}
	acc, err := s.AccessFor(ctx, a, d)
	if err != nil {
		return nil, acc, err
	}
	if !acc.See {
		return nil, acc, ErrNotFound
	}
	return d, acc, nil
}

// UpdateDatanet changes a Datanet's settings (owner or admin). Once
// published, its schema and label set are fixed.
func (s *Store) UpdateDatanet(ctx context.Context, a Actor, slug string, in DatanetInput) (*Datanet, error) {
	d, acc, err := s.VisibleDatanet(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if !acc.Manage {
		return nil, ErrForbidden
	}
	if d.Status != DatanetDraft {
		// Forms render the locked fields disabled, so browsers omit them.
		if in.Schema == "" {
			in.Schema, in.Labels = d.Schema, d.Labels
		}
		if in.Schema != d.Schema || (d.Schema == SchemaClassification && !slices.Equal(cleanList(in.Labels), d.Labels)) {
			return nil, &ValidationError{Fields: map[string]string{"schema": "The schema and labels of a published Datanet cannot change: records and versions depend on them."}}
		}
	}
	if err := in.normalize(); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			UPDATE datanets SET name = $2, summary = $3, description = $4, tags = $5, license = $6, schema_kind = $7,
			       labels = $8, visibility = $9, contribution_policy = $10, updated_at = now()
			WHERE id = $1`, d.ID, in.Name, in.Summary, in.Description, in.Tags, in.License, in.Schema, in.Labels, in.Visibility, in.ContributionPolicy)
		if err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "datanet.update", "datanet", slug, datanetInputOf(d), in, "")
	})
	if err != nil {
		return nil, fmt.Errorf("update datanet %s: %w", slug, err)
	}
	return s.datanetByID(ctx, d.ID)
}

func cleanList(in []string) []string {
	var out []string
	for _, v := range in {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func datanetInputOf(d *Datanet) DatanetInput {
	return DatanetInput{Name: d.Name, Summary: d.Summary, Description: d.Description, Tags: d.Tags, License: d.License,
		Schema: d.Schema, Labels: d.Labels, Visibility: d.Visibility, ContributionPolicy: d.ContributionPolicy}
}

// PublishDatanet makes a draft Datanet visible and open to contributions.
func (s *Store) PublishDatanet(ctx context.Context, a Actor, slug string) (*Datanet, error) {
	d, acc, err := s.VisibleDatanet(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if !acc.Manage {
		return nil, ErrForbidden
	}
	if d.Status != DatanetDraft {
		return nil, &ValidationError{Fields: map[string]string{"status": "Only a draft can be published; this Datanet is " + d.Status + "."}}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE datanets SET status = 'published', published_at = now(), updated_at = now() WHERE id = $1 AND status = 'draft'`, d.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrConflict
		}
		return audit(ctx, tx, a.UserID, "datanet.publish", "datanet", slug, map[string]string{"status": "draft"}, map[string]string{"status": "published"}, "")
	})
	if err != nil {
		return nil, fmt.Errorf("publish datanet %s: %w", slug, err)
	}
	return s.datanetByID(ctx, d.ID)
}

// DatanetQuery filters and orders the browse list.
type DatanetQuery struct {
	Q      string
	Tag    string
	Schema string
	Sort   string // "relevance" (with Q), "updated", "records", "name"
	Limit  int
	Offset int
}

// ListDatanets returns the Datanets the actor may see, with the total.
// Drafts appear only to their owner and admins, suspended Datanets only to
// their owner (admins find them in the moderation queue); private ones only
// to members.
func (s *Store) ListDatanets(ctx context.Context, a Actor, q DatanetQuery) ([]Datanet, int64, error) {
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 20
	}
	order := "d.updated_at DESC, d.id DESC"
	switch q.Sort {
	case "records":
		order = "n DESC, d.id DESC"
	case "name":
		order = "lower(d.name), d.id"
	case "relevance", "":
		if strings.TrimSpace(q.Q) != "" {
			order = "ts_rank_cd(d.search, websearch_to_tsquery('english', $2)) DESC, d.id DESC"
		}
	}
	where := `
		WHERE ($2 = '' OR d.search @@ websearch_to_tsquery('english', $2))
		  AND ($3 = '' OR $3 = ANY (d.tags))
		  AND ($4 = '' OR d.schema_kind = $4)
		  AND (d.owner_id = $1 OR ($5 AND d.status <> 'suspended')
		       OR (d.status = 'published' AND (d.visibility <> 'private'
		           OR EXISTS (SELECT 1 FROM datanet_members m WHERE m.datanet_id = d.id AND m.user_id = $1))))`
	args := []any{a.UserID, strings.TrimSpace(q.Q), strings.ToLower(strings.TrimSpace(q.Tag)), q.Schema, a.Admin}
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM datanets d`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count datanets: %w", err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT d.id, (SELECT count(*) FROM records r WHERE r.datanet_id = d.id AND r.status = 'accepted') AS n
		FROM datanets d`+where+` ORDER BY `+order+` LIMIT $6 OFFSET $7`,
		append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list datanets: %w", err)
	}
	ids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (int64, error) {
		var id, n int64
		return id, r.Scan(&id, &n)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list datanets: %w", err)
	}
	out := make([]Datanet, 0, len(ids))
	for _, id := range ids {
		d, err := s.datanetByID(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, *d)
	}
	return out, total, nil
}

// PopularTags returns the most used tags of visible, published Datanets.
func (s *Store) PopularTags(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT t FROM datanets d, unnest(d.tags) t
		WHERE d.status = 'published' AND d.visibility <> 'private'
		GROUP BY t ORDER BY count(*) DESC, t LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("popular tags: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
