package store

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Label task types, sources and access modes.
const (
	TaskClassify = "classify"
	TaskRate     = "rate"
	TaskCorrect  = "correct"

	LabelSourceVersion  = "version"
	LabelSourceIncoming = "incoming"

	LabelAccessSignedIn = "signed_in"
	LabelAccessInvited  = "invited"

	LabelProjectOpen   = "open"
	LabelProjectClosed = "closed"
)

// RatingFlags are the issue flags a rating may raise.
var RatingFlags = []string{"factual_error", "toxic", "pii", "off_topic"}

// MaxProjectLabels caps a project's own label set.
const MaxProjectLabels = 100

// LabelProject is annotation work over a Datanet's records.
type LabelProject struct {
	ID                 int64
	DatanetID          int64
	DatanetSlug        string
	DatanetName        string
	DatanetSchema      string
	DatanetOwnerID     int64
	CreatedBy          string // address
	Name               string
	Task               string
	Labels             []string
	Source             string
	Version            int // the version labeled, 0 for incoming
	Guidelines         string
	Overlap            int
	Blind              bool
	Access             string
	AgreementThreshold float64
	LeaseSeconds       int
	RewardWei          *big.Int // per accepted label; 0 for none
	Status             string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	// Progress.
	Items  int64 // items in the project
	Done   int64 // items with a final answer
	Review int64 // items waiting for a reviewer
	Filled int64 // labels given
}

// LabelProjectInput is the project form. On update only Name, Guidelines,
// Access, AgreementThreshold, LeaseSeconds, RewardWei and Status change:
// the task, label set, source and overlap shape items already handed out.
type LabelProjectInput struct {
	Datanet            string   `json:"datanet"` // slug
	Name               string   `json:"name"`
	Task               string   `json:"task"`
	Labels             []string `json:"labels"` // classify: empty means the Datanet's label set
	Source             string   `json:"source"`
	Version            int      `json:"version"` // source "version": the version number
	Guidelines         string   `json:"guidelines"`
	Overlap            int      `json:"overlap"`
	Blind              *bool    `json:"blind"` // default true
	Access             string   `json:"access"`
	AgreementThreshold *float64 `json:"agreementThreshold"` // default 0.6
	LeaseSeconds       int      `json:"leaseSeconds"`       // default 300
	RewardWei          string   `json:"rewardWei"`          // decimal integer, "" for none
	Status             string   `json:"status"`             // update only
}

// LabelRights is what an actor may do in a project.
type LabelRights struct {
	Label  bool // take items and submit labels
	Manage bool // edit, invite, see agreement, apply results, export
	Review bool // adjudicate, see agreement, export
	Banned bool // the wallet is banned: it may do nothing
	Why    string
}

func (in *LabelProjectInput) normalize(creating bool) (*big.Int, map[string]string) {
	errs := map[string]string{}
	in.Name = strings.TrimSpace(in.Name)
	if n := utf8.RuneCountInString(in.Name); n < 3 || n > 80 {
		errs["name"] = "Give the project a name of 3 to 80 characters."
	}
	if utf8.RuneCountInString(in.Guidelines) > 20000 {
		errs["guidelines"] = "Keep the guidelines under 20,000 characters."
	}
	if in.Access == "" {
		in.Access = LabelAccessSignedIn
	}
	if in.Access != LabelAccessSignedIn && in.Access != LabelAccessInvited {
		errs["access"] = "Choose who may label: anyone signed in, or invited labelers only."
	}
	if in.AgreementThreshold == nil {
		t := 0.6
		in.AgreementThreshold = &t
	}
	if t := *in.AgreementThreshold; !(t >= 0 && t <= 1) {
		errs["agreementThreshold"] = "The agreement threshold is a share between 0 and 1 (0.6 means 60% must agree)."
	}
	if in.LeaseSeconds == 0 {
		in.LeaseSeconds = 300
	}
	if in.LeaseSeconds < 30 || in.LeaseSeconds > 3600 {
		errs["leaseSeconds"] = "Leases last between 30 and 3,600 seconds."
	}
	reward := new(big.Int)
	if r := strings.TrimSpace(in.RewardWei); r != "" {
		v, ok := new(big.Int).SetString(r, 10)
		if !ok || v.Sign() < 0 || v.Cmp(maxUint256) > 0 || strings.HasPrefix(r, "+") {
			errs["rewardWei"] = "The reward is a whole number of wei (OPEN × 10¹⁸), 0 or more, digits only."
		} else {
			reward = v
		}
	}
	if !creating {
		if in.Status != LabelProjectOpen && in.Status != LabelProjectClosed {
			errs["status"] = "A project is open or closed."
		}
		return reward, errs
	}
	if in.Blind == nil {
		b := true
		in.Blind = &b
	}
	switch in.Task {
	case TaskClassify, TaskRate, TaskCorrect:
	default:
		errs["task"] = "Choose a task: classify, rate or correct."
	}
	if in.Overlap == 0 {
		in.Overlap = 3
	}
	if in.Overlap < 1 || in.Overlap > 10 {
		errs["overlap"] = "Ask for 1 to 10 labels per item."
	}
	switch in.Source {
	case LabelSourceVersion:
		if in.Version < 1 {
			errs["version"] = "Choose the published version to label."
		}
	case LabelSourceIncoming:
		in.Version = 0
	default:
		errs["source"] = "Label a published version, or incoming contributions."
	}
	labels := make([]string, 0, len(in.Labels))
	seen := map[string]bool{}
	for _, l := range in.Labels {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" || seen[l] {
			continue
		}
		if utf8.RuneCountInString(l) > 100 {
			errs["labels"] = "Labels are at most 100 characters."
		}
		seen[l] = true
		labels = append(labels, l)
	}
	in.Labels = labels
	if len(in.Labels) > MaxProjectLabels {
		errs["labels"] = fmt.Sprintf("A project takes at most %d labels.", MaxProjectLabels)
	}
	if in.Task != TaskClassify && len(in.Labels) > 0 {
		errs["labels"] = "Only classification projects take labels."
	}
	return reward, errs
}

// CreateLabelProject creates a project over a Datanet (its owner or an
// admin) with its items and their slots, in one transaction.
func (s *Store) CreateLabelProject(ctx context.Context, a Actor, in LabelProjectInput) (*LabelProject, error) {
	reward, errs := in.normalize(true)
	d, acc, err := s.VisibleDatanet(ctx, a, in.Datanet)
	if errors.Is(err, ErrNotFound) {
		errs["datanet"] = "There is no Datanet with that name that you can see."
	} else if err != nil {
		return nil, err
	}
	if len(errs) > 0 && d == nil {
		return nil, &ValidationError{Fields: errs}
	}
	if !acc.Manage {
		return nil, ErrForbidden
	}
	if d.Status != DatanetPublished {
		errs["datanet"] = "Publish the Datanet before labeling it."
	}
	if in.Task == TaskClassify && len(in.Labels) == 0 {
		if len(d.Labels) < 2 {
			errs["labels"] = "This Datanet has no label set: give the project at least two labels."
		}
		in.Labels = d.Labels
	}
	if in.Task == TaskClassify && len(in.Labels) == 1 {
		errs["labels"] = "Give at least two labels."
	}
	if in.Task == TaskCorrect && d.Schema != SchemaInstruction {
		errs["task"] = "Corrections edit the response of instruction records; this Datanet holds " + d.Schema + " records."
	}
	var versionID *int64
	if in.Source == LabelSourceVersion && in.Version >= 1 {
		v, err := s.VersionByNumber(ctx, d.ID, in.Version)
		if errors.Is(err, ErrNotFound) {
			errs["version"] = fmt.Sprintf("This Datanet has no version %d.", in.Version)
		} else if err != nil {
			return nil, err
		} else {
			versionID = &v.ID
		}
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO label_projects (datanet_id, created_by, name, task, labels, source, version_id, guidelines, overlap,
			       blind, access, agreement_threshold, lease_seconds, reward_wei)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
			d.ID, a.UserID, in.Name, in.Task, in.Labels, in.Source, versionID, in.Guidelines, in.Overlap,
			*in.Blind, in.Access, *in.AgreementThreshold, in.LeaseSeconds, numeric(reward)).Scan(&id)
		if err != nil {
			return err
		}
		if versionID != nil {
			if _, err := tx.Exec(ctx, `
				INSERT INTO label_items (project_id, record_id)
				SELECT $1, record_id FROM version_records WHERE version_id = $2 ORDER BY leaf_index`, id, *versionID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO label_slots (project_id, item_id, slot)
				SELECT $1, i.id, g FROM label_items i, generate_series(1, $2::int) g WHERE i.project_id = $1`, id, in.Overlap); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a.UserID, "label_project.create", "label_project", fmt.Sprint(id), nil,
			map[string]any{"datanet": d.Slug, "name": in.Name, "task": in.Task, "source": in.Source, "version": in.Version,
				"overlap": in.Overlap, "access": in.Access, "rewardWei": reward.String()}, "")
	})
	if err != nil {
		return nil, fmt.Errorf("create label project on %s: %w", d.Slug, err)
	}
	return s.LabelProject(ctx, id)
}

// UpdateLabelProject changes a project's editable settings (Datanet
// managers). Audited.
func (s *Store) UpdateLabelProject(ctx context.Context, a Actor, id int64, in LabelProjectInput) (*LabelProject, error) {
	p, rights, err := s.VisibleLabelProject(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if !rights.Manage {
		return nil, ErrForbidden
	}
	reward, errs := in.normalize(false)
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			UPDATE label_projects SET name = $2, guidelines = $3, access = $4, agreement_threshold = $5, lease_seconds = $6,
			       reward_wei = $7, status = $8, updated_at = now() WHERE id = $1`,
			id, in.Name, in.Guidelines, in.Access, *in.AgreementThreshold, in.LeaseSeconds, numeric(reward), in.Status); err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "label_project.update", "label_project", fmt.Sprint(id),
			map[string]any{"name": p.Name, "access": p.Access, "threshold": p.AgreementThreshold, "rewardWei": p.RewardWei.String(), "status": p.Status},
			map[string]any{"name": in.Name, "access": in.Access, "threshold": *in.AgreementThreshold, "rewardWei": reward.String(), "status": in.Status}, "")
	})
	if err != nil {
		return nil, fmt.Errorf("update label project %d: %w", id, err)
	}
	return s.LabelProject(ctx, id)
}

const labelProjectColumns = `p.id, p.datanet_id, d.slug, d.name, d.schema_kind, d.owner_id, u.address, p.name, p.task, p.labels, p.source,
	coalesce((SELECT v.version FROM datanet_versions v WHERE v.id = p.version_id), 0), p.guidelines, p.overlap, p.blind, p.access,
	p.agreement_threshold, p.lease_seconds, p.reward_wei::text, p.status, p.created_at, p.updated_at,
	(SELECT count(*) FROM label_items i WHERE i.project_id = p.id),
	(SELECT count(*) FROM label_items i WHERE i.project_id = p.id AND i.state = 'done'),
	(SELECT count(*) FROM label_items i WHERE i.project_id = p.id AND i.state = 'review'),
	(SELECT count(*) FROM labels l WHERE l.project_id = p.id)`

const labelProjectFrom = ` FROM label_projects p JOIN datanets d ON d.id = p.datanet_id JOIN users u ON u.id = p.created_by `

func scanLabelProject(row pgx.Row) (*LabelProject, error) {
	var p LabelProject
	var threshold float32
	var reward string
	err := row.Scan(&p.ID, &p.DatanetID, &p.DatanetSlug, &p.DatanetName, &p.DatanetSchema, &p.DatanetOwnerID, &p.CreatedBy,
		&p.Name, &p.Task, &p.Labels, &p.Source, &p.Version, &p.Guidelines, &p.Overlap, &p.Blind, &p.Access,
		&threshold, &p.LeaseSeconds, &reward, &p.Status, &p.CreatedAt, &p.UpdatedAt, &p.Items, &p.Done, &p.Review, &p.Filled)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	p.AgreementThreshold = float64(threshold)
	p.RewardWei = parseWei(reward)
	return &p, nil
}

// LabelProject returns a project by ID, without permission checks.
func (s *Store) LabelProject(ctx context.Context, id int64) (*LabelProject, error) {
	p, err := scanLabelProject(s.pool.QueryRow(ctx, `SELECT `+labelProjectColumns+labelProjectFrom+`WHERE p.id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("label project %d: %w", id, err)
	}
	return p, err
}

// labelerProject returns the project (without progress counts) and what a
// may do in it: one query for the project and the facts the rules need,
// and AccessFor's (none for owners and admins). It runs on every lease.
func (s *Store) labelerProject(ctx context.Context, a Actor, id int64) (*LabelProject, LabelRights, error) {
	f, err := scanLabelerFacts(s.pool.QueryRow(ctx, labelerFactsSQL, id, a.UserID), id)
	if err != nil {
		return nil, LabelRights{}, err
	}
	return s.labelerRights(ctx, a, f)
}

// labelerFacts is what labelerFactsSQL reads: the project and the facts
// about the actor that the labeling rules need.
type labelerFacts struct {
	p                            LabelProject
	d                            Datanet
	invited, labelerRole, banned bool
	fast                         bool // may certainly label: see labelerFactsSQL
}

// labelerFactsSQL reads project $1 and the facts about user $2. Its last
// column, fast, is true when the user may certainly label the project by
// these facts alone: an open project on a published public Datanet (whose
// records every signed-in user may read), a wallet that is not banned, and
// a project open to anyone signed in, or one the user was invited to or
// holds the labeler role for. That is a strict subset of what labelRights
// allows (which may also consult access grants): NextLabelItem leases in
// the same round trip as this check when fast holds.
const labelerFactsSQL = `
		SELECT q.*, q.p_status = 'open' AND q.d_status = 'published' AND q.d_visibility = 'public' AND NOT q.banned
		       AND (q.access = 'signed_in' OR q.invited OR q.labeler) AS fast
		FROM (
		SELECT p.id, p.datanet_id, d.slug, d.schema_kind, d.owner_id, d.status AS d_status, d.visibility AS d_visibility,
		       p.name, p.task, p.labels, p.overlap,
		       p.access, p.agreement_threshold, p.lease_seconds, p.reward_wei::text, p.status AS p_status,
		       EXISTS (SELECT 1 FROM label_project_members WHERE project_id = p.id AND user_id = $2) AS invited,
		       EXISTS (SELECT 1 FROM user_roles WHERE user_id = $2 AND role = 'labeler') AS labeler,
		       coalesce((SELECT banned_at IS NOT NULL FROM users WHERE id = $2), true) AS banned
		FROM label_projects p JOIN datanets d ON d.id = p.datanet_id WHERE p.id = $1) q`

// scanLabelerFacts scans labelerFactsSQL's columns, then any more into
// extra.
func scanLabelerFacts(row pgx.Row, id int64, extra ...any) (*labelerFacts, error) {
	var f labelerFacts
	var threshold float32
	var reward string
	p, d := &f.p, &f.d
	err := row.Scan(append([]any{&p.ID, &p.DatanetID, &p.DatanetSlug, &p.DatanetSchema, &p.DatanetOwnerID, &d.Status, &d.Visibility, &p.Name, &p.Task,
		&p.Labels, &p.Overlap, &p.Access, &threshold, &p.LeaseSeconds, &reward, &p.Status, &f.invited, &f.labelerRole, &f.banned, &f.fast}, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("label project %d: %w", id, err)
	}
	p.AgreementThreshold, p.RewardWei = float64(threshold), parseWei(reward)
	d.ID, d.Slug, d.OwnerID = p.DatanetID, p.DatanetSlug, p.DatanetOwnerID
	return &f, nil
}

// labelerRights decides what a may do in the project f describes.
func (s *Store) labelerRights(ctx context.Context, a Actor, f *labelerFacts) (*LabelProject, LabelRights, error) {
	if a.UserID == 0 {
		return nil, LabelRights{}, ErrNotFound
	}
	r, see, err := s.decideLabelRights(ctx, a, &f.p, &f.d, f.invited, f.labelerRole, f.banned, true)
	if err != nil {
		return nil, r, err
	}
	if !see {
		return nil, r, ErrNotFound
	}
	return &f.p, r, nil
}

// VisibleLabelProject returns the project if the actor may see it (those
// who may label, manage or review it; ErrNotFound for everyone else) and
// what they may do.
func (s *Store) VisibleLabelProject(ctx context.Context, a Actor, id int64) (*LabelProject, LabelRights, error) {
	p, err := s.LabelProject(ctx, id)
	if err != nil {
		return nil, LabelRights{}, err
	}
	r, see, err := s.labelRights(ctx, a, p)
	if err != nil {
		return nil, r, err
	}
	if !see {
		return nil, r, ErrNotFound
	}
	return p, r, nil
}

// labelRights decides what a may do in p. Labeling needs an open project
// on a published Datanet and a wallet that is not banned; then:
//   - "signed_in" projects: anyone who may read the Datanet's records;
//   - "invited" projects: invited labelers (even on a private Datanet: the
//     invitation is the owner's consent to show them the items), the
//     Datanet's managers, and holders of the global labeler role when the
//     Datanet is public (its records are public anyway).
//
// Managers are the Datanet's owner and admins; reviewers are its managers,
// its reviewers and global reviewers.
func (s *Store) labelRights(ctx context.Context, a Actor, p *LabelProject) (LabelRights, bool, error) {
	var r LabelRights
	if a.UserID == 0 {
		return r, false, nil
	}
	// Only what AccessFor needs: this runs on every lease and submit.
	d := &Datanet{ID: p.DatanetID, Slug: p.DatanetSlug, OwnerID: p.DatanetOwnerID}
	var invited, labelerRole, banned bool
	err := s.pool.QueryRow(ctx, `
		SELECT d.status, d.visibility,
		       EXISTS (SELECT 1 FROM label_project_members WHERE project_id = $1 AND user_id = $2),
		       EXISTS (SELECT 1 FROM user_roles WHERE user_id = $2 AND role = 'labeler'),
		       coalesce((SELECT banned_at IS NOT NULL FROM users WHERE id = $2), true)
		FROM datanets d WHERE d.id = $3`, p.ID, a.UserID, p.DatanetID).
		Scan(&d.Status, &d.Visibility, &invited, &labelerRole, &banned)
	if err != nil {
		return r, false, fmt.Errorf("label rights: %w", err)
	}
	return s.decideLabelRights(ctx, a, p, d, invited, labelerRole, banned, false)
}

// decideLabelRights applies the rules of labelRights to the facts. With
// onlyLabel (the lease and submit path) a public Datanet's reader access
// is taken as given for everyone signed in, without AccessFor's query;
// Manage and Review are then not decided for non-owners and must not be
// used.
func (s *Store) decideLabelRights(ctx context.Context, a Actor, p *LabelProject, d *Datanet, invited, labelerRole, banned, onlyLabel bool) (LabelRights, bool, error) {
	var r LabelRights
	var acc Access
	var err error
	if onlyLabel && d.Visibility == VisibilityPublic && d.Status == DatanetPublished && a.UserID != d.OwnerID && !a.Admin {
		acc = Access{See: true, Read: true, Contribute: true, Grant: "public"}
	} else if acc, err = s.AccessFor(ctx, a, d); err != nil {
		return r, false, err
	}
	r.Manage, r.Review, r.Banned = acc.Manage && !banned, acc.Review && !banned, banned
	may := false
	switch p.Access {
	case LabelAccessSignedIn:
		may = acc.Read
	case LabelAccessInvited:
		may = invited || acc.Manage || labelerRole && d.Visibility == VisibilityPublic
	}
	switch {
	case banned:
		r.Why = "This wallet has been suspended from ModelFactory."
	case p.Status != LabelProjectOpen:
		r.Why = "This project is closed."
	case d.Status != DatanetPublished:
		r.Why = "This Datanet is not open for labeling."
	case !may && p.Access == LabelAccessInvited:
		r.Why = "This project is for invited labelers only."
	case !may:
		r.Why = "You need access to this Datanet's records to label them."
	default:
		r.Label = true
	}
	see := acc.See || invited || r.Manage || r.Review
	return r, see, nil
}

// LabelProjects lists the projects an actor is involved in or may label:
// projects on Datanets they manage or review, projects they were invited
// to, and open projects for anyone signed in on public Datanets. Newest
// first.
func (s *Store) LabelProjects(ctx context.Context, a Actor, limit int) ([]LabelProject, error) {
	if limit <= 0 || limit > 200 {
		limit = 200
	}
	rows, err := s.pool.Query(ctx, `SELECT `+labelProjectColumns+labelProjectFrom+`
		WHERE $2 OR d.owner_id = $1 OR p.created_by = $1
		   OR EXISTS (SELECT 1 FROM label_project_members m WHERE m.project_id = p.id AND m.user_id = $1)
		   OR EXISTS (SELECT 1 FROM datanet_members m WHERE m.datanet_id = d.id AND m.user_id = $1)
		   OR EXISTS (SELECT 1 FROM labels l WHERE l.project_id = p.id AND l.user_id = $1)
		   OR (p.status = 'open' AND d.status = 'published' AND d.visibility = 'public'
		       AND (p.access = 'signed_in' OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = $1 AND r.role = 'labeler')))
		ORDER BY p.id DESC LIMIT $3`, a.UserID, a.Admin, limit)
	if err != nil {
		return nil, fmt.Errorf("label projects: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LabelProject, error) {
		p, err := scanLabelProject(r)
		if err != nil {
			return LabelProject{}, err
		}
		return *p, nil
	})
}

// VisibleLabelProjects is LabelProjects narrowed to the projects a may
// see, each with a's rights in it (rights[i] belongs to projects[i]).
func (s *Store) VisibleLabelProjects(ctx context.Context, a Actor, limit int) ([]LabelProject, []LabelRights, error) {
	ps, err := s.LabelProjects(ctx, a, limit)
	if err != nil {
		return nil, nil, err
	}
	out, rights := ps[:0], make([]LabelRights, 0, len(ps))
	for i := range ps {
		r, see, err := s.labelRights(ctx, a, &ps[i])
		if err != nil {
			return nil, nil, err
		}
		if see {
			out, rights = append(out, ps[i]), append(rights, r)
		}
	}
	return out, rights, nil
}

// DatanetLabelProjects lists a Datanet's projects, newest first.
func (s *Store) DatanetLabelProjects(ctx context.Context, datanetID int64) ([]LabelProject, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+labelProjectColumns+labelProjectFrom+`WHERE p.datanet_id = $1 ORDER BY p.id DESC`, datanetID)
	if err != nil {
		return nil, fmt.Errorf("datanet label projects: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LabelProject, error) {
		p, err := scanLabelProject(r)
		if err != nil {
			return LabelProject{}, err
		}
		return *p, nil
	})
}

// InviteLabeler adds a wallet to an invite-only project's labelers
// (managers only; inviting twice is not an error). Audited.
func (s *Store) InviteLabeler(ctx context.Context, a Actor, id int64, address string) error {
	_, rights, err := s.VisibleLabelProject(ctx, a, id)
	if err != nil {
		return err
	}
	if !rights.Manage {
		return ErrForbidden
	}
	u, err := s.UpsertUser(ctx, strings.TrimSpace(address))
	if err != nil {
		return &ValidationError{Fields: map[string]string{"address": "That is not an Ethereum address (0x followed by 40 hexadecimal digits)."}}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO label_project_members (project_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, u.ID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return audit(ctx, tx, a.UserID, "label_project.invite", "label_project", fmt.Sprint(id), nil, map[string]string{"address": u.Address}, "")
	})
	if err != nil {
		return fmt.Errorf("invite labeler to project %d: %w", id, err)
	}
	return nil
}

// LabelProjectMembers lists an invite-only project's labelers' addresses.
func (s *Store) LabelProjectMembers(ctx context.Context, id int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT u.address FROM label_project_members m JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 ORDER BY m.added_at`, id)
	if err != nil {
		return nil, fmt.Errorf("label project members: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// LabelableDatanet is a published Datanet an actor may start a project on.
type LabelableDatanet struct {
	Slug     string
	Name     string
	Schema   string
	Labels   []string
	Versions []int // newest first
}

// LabelableDatanets lists the published Datanets the actor manages (all of
// them for admins, capped), for the project form.
func (s *Store) LabelableDatanets(ctx context.Context, a Actor) ([]LabelableDatanet, error) {
	if a.UserID == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT d.slug, d.name, d.schema_kind, d.labels,
		       coalesce((SELECT array_agg(v.version ORDER BY v.version DESC) FROM datanet_versions v WHERE v.datanet_id = d.id), '{}')
		FROM datanets d WHERE d.status = 'published' AND (d.owner_id = $1 OR $2) ORDER BY d.name LIMIT 200`, a.UserID, a.Admin)
	if err != nil {
		return nil, fmt.Errorf("labelable datanets: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LabelableDatanet, error) {
		var d LabelableDatanet
		var versions []int32
		err := r.Scan(&d.Slug, &d.Name, &d.Schema, &d.Labels, &versions)
		for _, v := range versions {
			d.Versions = append(d.Versions, int(v))
		}
		return d, err
	})
}
