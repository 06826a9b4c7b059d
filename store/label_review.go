package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/agreement"
)

// LabelAgreement is a project's agreement report.
type LabelAgreement struct {
	Metric    string  // "nominal" (classify, correct) or "interval" (rate)
	Alpha     float64 // Krippendorff's alpha over items with two labels or more
	AlphaOK   bool    // false when alpha is undefined (too few labels, or no variation)
	Items     int64
	Pairable  int // items with two labels or more
	Done      int64
	Review    int64
	Tied      int64            // items whose labels tied
	Labelers  []agreement.Rate // agreement with the final answer, by labeler address
	Threshold float64
}

func (s *Store) reviewerProject(ctx context.Context, a Actor, projectID int64) (*LabelProject, LabelRights, error) {
	p, rights, err := s.VisibleLabelProject(ctx, a, projectID)
	if err != nil {
		return nil, rights, err
	}
	if !rights.Manage && !rights.Review {
		return nil, rights, ErrForbidden
	}
	return p, rights, nil
}

// LabelAgreementReport computes the project's agreement: Krippendorff's
// alpha (nominal for labels and corrections, interval for ratings) and
// each labeler's agreement with the final answers. Managers and reviewers
// only: labeling is blind.
func (s *Store) LabelAgreementReport(ctx context.Context, a Actor, projectID int64) (*LabelAgreement, error) {
	p, _, err := s.reviewerProject(ctx, a, projectID)
	if err != nil {
		return nil, err
	}
	rep := &LabelAgreement{Metric: "nominal", Items: p.Items, Done: p.Done, Review: p.Review, Threshold: p.AgreementThreshold}
	if p.Task == TaskRate {
		rep.Metric = "interval"
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM label_items WHERE project_id = $1 AND tied`, projectID).Scan(&rep.Tied); err != nil {
		return nil, fmt.Errorf("agreement: %w", err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT l.item_id, u.address, l.value, i.final FROM labels l JOIN users u ON u.id = l.user_id
		JOIN label_items i ON i.id = l.item_id WHERE l.project_id = $1 ORDER BY l.item_id, l.id`, projectID)
	if err != nil {
		return nil, fmt.Errorf("agreement: %w", err)
	}
	byItem := map[int64][]string{}
	var order []int64
	var answers []agreement.Answer[string]
	consensus := map[int64]string{}
	var item int64
	var addr string
	var v LabelValue
	var final *LabelValue
	_, err = pgx.ForEachRow(rows, []any{&item, &addr, &v, &final}, func() error {
		if _, ok := byItem[item]; !ok {
			order = append(order, item)
		}
		k := v.key(p.Task)
		byItem[item] = append(byItem[item], k)
		answers = append(answers, agreement.Answer[string]{Item: item, Labeler: addr, Value: k})
		if final != nil {
			consensus[item] = final.key(p.Task)
		}
		final = nil
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("agreement: %w", err)
	}
	units := make([][]string, 0, len(order))
	for _, id := range order {
		if len(byItem[id]) >= 2 {
			rep.Pairable++
		}
		units = append(units, byItem[id])
	}
	if p.Task == TaskRate {
		num := make([][]float64, len(units))
		for i, u := range units {
			for _, k := range u {
				f, _ := strconv.ParseFloat(k, 64)
				num[i] = append(num[i], f)
			}
		}
		rep.Alpha, rep.AlphaOK = agreement.Alpha(num, agreement.Interval)
	} else {
		rep.Alpha, rep.AlphaOK = agreement.Alpha(agreement.Codes(units), agreement.Nominal)
	}
	rep.Labelers = agreement.LabelerAgreement(answers, consensus)
	return rep, nil
}

// ItemAnswer is one labeler's answer as reviewers and exports see it.
type ItemAnswer struct {
	Labeler     string     `json:"labeler"`
	Value       LabelValue `json:"value"`
	LeasedAt    time.Time  `json:"leasedAt"`
	SubmittedAt time.Time  `json:"submittedAt"`
	Seconds     float64    `json:"seconds"`
	Accepted    *bool      `json:"accepted"`
}

// LabelItem is an item with its record and answers.
type LabelItem struct {
	ID        int64
	ProjectID int64
	State     string
	Record    LeasedRecord
	Final     *LabelValue
	Agreement *float64
	Tied      bool
	Answers   []ItemAnswer
	DecidedBy string
	AppliedTo string // hash of the record carrying the result
}

func (s *Store) labelItems(ctx context.Context, where string, args ...any) ([]LabelItem, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT i.id, i.project_id, i.state, r.id, r.hash, r.canonical::jsonb, i.final, i.agreement, i.tied,
		       coalesce((SELECT address FROM users WHERE id = i.decided_by), ''),
		       coalesce((SELECT hash FROM records WHERE id = i.applied_record_id), ''),
		       coalesce((SELECT json_agg(json_build_object('labeler', u.address, 'value', l.value, 'leasedAt', l.leased_at,
		                  'submittedAt', l.submitted_at, 'seconds', extract(epoch FROM l.submitted_at - l.leased_at),
		                  'accepted', l.accepted) ORDER BY l.submitted_at, l.id)
		                 FROM labels l JOIN users u ON u.id = l.user_id WHERE l.item_id = i.id), '[]')
		FROM label_items i JOIN records r ON r.id = i.record_id WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("label items: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (LabelItem, error) {
		var it LabelItem
		var agreementShare *float32
		var answers []byte
		err := row.Scan(&it.ID, &it.ProjectID, &it.State, &it.Record.ID, &it.Record.Hash, &it.Record.Fields, &it.Final, &agreementShare,
			&it.Tied, &it.DecidedBy, &it.AppliedTo, &answers)
		if err != nil {
			return it, err
		}
		if agreementShare != nil {
			f := float64(*agreementShare)
			it.Agreement = &f
		}
		return it, json.Unmarshal(answers, &it.Answers)
	})
}

// LabelReviewQueue lists a project's items waiting for a reviewer, oldest
// first, with every answer (reviewers are not blind). Reviewers only.
func (s *Store) LabelReviewQueue(ctx context.Context, a Actor, projectID int64, limit int) ([]LabelItem, error) {
	p, rights, err := s.VisibleLabelProject(ctx, a, projectID)
	if err != nil {
		return nil, err
	}
	if !rights.Review {
		return nil, ErrForbidden
	}
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	return s.labelItems(ctx, `i.project_id = $1 AND i.state = 'review' ORDER BY i.id LIMIT $2`, p.ID, limit)
}

// AdjudicateItem records a reviewer's final answer for an item in review:
// labels that agree with it are accepted (and rewarded). The decision is
// final and audited.
func (s *Store) AdjudicateItem(ctx context.Context, a Actor, itemID int64, v LabelValue, reason string) (*LabelItem, error) {
	projectID, err := s.LabelItemProject(ctx, itemID)
	if err != nil {
		return nil, err
	}
	p, rights, err := s.VisibleLabelProject(ctx, a, projectID)
	if err != nil {
		return nil, err
	}
	if !rights.Review {
		return nil, ErrForbidden
	}
	if err := v.validate(p); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if len(reason) > 500 {
		return nil, &ValidationError{Fields: map[string]string{"reason": "Keep the reason under 500 characters."}}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var state string
		var share *float32
		var tied bool
		if err := tx.QueryRow(ctx, `SELECT state, agreement, tied FROM label_items WHERE id = $1 FOR UPDATE`, itemID).Scan(&state, &share, &tied); err != nil {
			return err
		}
		if state != ItemReview {
			return &ValidationError{Fields: map[string]string{"decision": "This item is not waiting for review: it has been decided already, or still collects labels."}}
		}
		labels, err := itemLabels(ctx, tx, itemID)
		if err != nil {
			return err
		}
		before := map[string]any{"state": state, "agreement": share, "tied": tied}
		answers := make([]LabelValue, len(labels))
		for i, l := range labels {
			answers[i] = l.value
		}
		before["answers"] = answers
		if err := decideItem(ctx, tx, p, itemID, labels, v, a.UserID); err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, "label.adjudicate", "label_item", fmt.Sprint(itemID), before,
			map[string]any{"state": ItemDone, "final": v, "project": projectID}, reason)
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return nil, ve
		}
		return nil, fmt.Errorf("adjudicate item %d: %w", itemID, err)
	}
	items, err := s.labelItems(ctx, `i.id = $1`, itemID)
	if err != nil || len(items) != 1 {
		return nil, fmt.Errorf("adjudicated item %d: %w", itemID, err)
	}
	return &items[0], nil
}

// RecordBuilder validates and normalises a record's fields exactly as
// ingest does (the caller passes ingest.BuildRecord for the Datanet's
// schema), so a labeled record hashes like an uploaded one.
type RecordBuilder func(fields map[string]string) (IngestRecord, error)

// ApplyResult counts what a write-back did.
type ApplyResult struct {
	Replaced  int64 // records superseded by a corrected record
	Unchanged int64 // the final answer is already what the record says, or has no record field (ratings)
	Skipped   int64 // the record changed since it was labeled, or the answer does not fit the Datanet's schema
}

// ApplyLabelResults writes the final answers of a project's decided items
// back to the Datanet for its next version (managers only), in one
// transaction. Published versions never change: a record whose content
// changes is replaced by a new record (new hash) that names it in
// `replaces`, and the old one becomes 'superseded', so it leaves future
// versions while old versions still export it through version_records.
// Classification answers set the label of classification Datanets;
// corrections set the response of instruction records; ratings have no
// record field and stay in the project (export). Applying twice changes
// nothing.
func (s *Store) ApplyLabelResults(ctx context.Context, a Actor, projectID int64, build RecordBuilder) (*ApplyResult, error) {
	p, rights, err := s.VisibleLabelProject(ctx, a, projectID)
	if err != nil {
		return nil, err
	}
	if !rights.Manage {
		return nil, ErrForbidden
	}
	res := &ApplyResult{}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM label_projects WHERE id = $1 FOR UPDATE`, projectID); err != nil {
			return err
		}
		// The Datanet row serialises write-backs with version publishing.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM datanets WHERE id = $1 FOR UPDATE`, p.DatanetID); err != nil {
			return err
		}
		type todo struct {
			item      int64
			final     LabelValue
			rec       int64
			status    string
			fields    map[string]string
			hash      string
			contrib   int64
			contribBy int64
			line      int
		}
		rows, err := tx.Query(ctx, `
			SELECT i.id, i.final, r.id, r.status, r.canonical::jsonb, r.hash, r.contribution_id, r.contributor_id, r.line
			FROM label_items i JOIN records r ON r.id = i.record_id
			WHERE i.project_id = $1 AND i.state = 'done' AND i.applied_at IS NULL ORDER BY i.id FOR UPDATE OF i`, projectID)
		if err != nil {
			return err
		}
		var t todo
		var list []todo
		if _, err := pgx.ForEachRow(rows, []any{&t.item, &t.final, &t.rec, &t.status, &t.fields, &t.hash, &t.contrib, &t.contribBy, &t.line},
			func() error { list = append(list, t); t = todo{}; return nil }); err != nil {
			return err
		}
		for _, t := range list {
			fields := map[string]string{}
			for k, v := range t.fields {
				fields[k] = v
			}
			switch {
			case p.Task == TaskClassify && p.DatanetSchema == SchemaClassification:
				fields["label"] = t.final.Label
			case p.Task == TaskCorrect:
				fields["response"] = t.final.Response
			}
			appliedTo := &t.rec
			var rec IngestRecord
			var berr error
			if t.status == "accepted" {
				rec, berr = build(fields)
			}
			switch {
			case t.status != "accepted" || berr != nil:
				res.Skipped++
				appliedTo = nil
			case rec.Hash == t.hash:
				res.Unchanged++
			default:
				id, err := replaceRecord(ctx, tx, p.DatanetID, t.rec, t.contrib, t.contribBy, t.line, rec)
				if err != nil {
					return err
				}
				appliedTo = &id
				res.Replaced++
			}
			if _, err := tx.Exec(ctx, `UPDATE label_items SET applied_at = now(), applied_record_id = $2 WHERE id = $1`, t.item, appliedTo); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a.UserID, "label_project.apply", "label_project", fmt.Sprint(projectID), nil,
			map[string]any{"replaced": res.Replaced, "unchanged": res.Unchanged, "skipped": res.Skipped, "datanet": p.DatanetSlug}, "")
	})
	if err != nil {
		return nil, fmt.Errorf("apply label results of project %d: %w", projectID, err)
	}
	return res, nil
}

// replaceRecord supersedes record old with rec, inside tx, and returns the
// record now carrying the content: the new row, or an existing accepted
// record of the Datanet with the same hash.
func replaceRecord(ctx context.Context, tx pgx.Tx, datanetID, old, contributionID, contributorID int64, line int, rec IngestRecord) (int64, error) {
	pii := rec.PII
	if pii == nil {
		pii = json.RawMessage("[]")
	}
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO records (datanet_id, contribution_id, contributor_id, hash, canonical, chars, line, status, pii, bands, sketch, replaces)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'accepted', $8, $9, $10, $11)
		ON CONFLICT (datanet_id, hash) DO NOTHING RETURNING id`,
		datanetID, contributionID, contributorID, rec.Hash, rec.Canonical, rec.Chars, line, pii, rec.Bands, rec.sketchBytes(), old).Scan(&id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// The corrected content is already a record of this Datanet.
		if err := tx.QueryRow(ctx, `SELECT id FROM records WHERE datanet_id = $1 AND hash = $2`, datanetID, rec.Hash).Scan(&id); err != nil {
			return 0, err
		}
	case err != nil:
		return 0, err
	default:
		// Searchable and near-duplicate-checkable at once, like the record
		// it replaces.
		if _, err := tx.Exec(ctx, `INSERT INTO record_index (record_id, datanet_id, search, status)
			VALUES ($1, $2, to_tsvector('english'::regconfig, $3::jsonb), 'accepted')`, id, datanetID, rec.Canonical); err != nil {
			return 0, err
		}
		if len(rec.Bands) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO record_band_keys (record_id, datanet_id, bands) VALUES ($1, $2, $3)`,
				id, datanetID, rec.Bands); err != nil {
				return 0, err
			}
		}
	}
	_, err = tx.Exec(ctx, `UPDATE records SET status = 'superseded' WHERE id = $1`, old)
	return id, err
}

// LabelExportRow is one line of a project's JSONL export.
type LabelExportRow struct {
	Item       int64             `json:"item"`
	RecordHash string            `json:"recordHash"`
	Record     map[string]string `json:"record"`
	State      string            `json:"state"`
	Consensus  *LabelValue       `json:"consensus"`
	Agreement  *float64          `json:"agreement"`
	Tied       bool              `json:"tied"`
	DecidedBy  string            `json:"decidedBy,omitempty"`
	AppliedTo  string            `json:"appliedTo,omitempty"`
	Labels     []ItemAnswer      `json:"labels"`
}

// ExportLabels streams a project's items in order with their consensus
// and every labeler's answer and timings (managers and reviewers).
func (s *Store) ExportLabels(ctx context.Context, a Actor, projectID int64, fn func(LabelExportRow) error) error {
	if _, _, err := s.reviewerProject(ctx, a, projectID); err != nil {
		return err
	}
	var after int64
	for {
		items, err := s.labelItems(ctx, `i.project_id = $1 AND i.id > $2 ORDER BY i.id LIMIT 500`, projectID, after)
		if err != nil {
			return err
		}
		for _, it := range items {
			answers := it.Answers
			if answers == nil {
				answers = []ItemAnswer{}
			}
			if err := fn(LabelExportRow{Item: it.ID, RecordHash: it.Record.Hash, Record: it.Record.Fields, State: it.State,
				Consensus: it.Final, Agreement: it.Agreement, Tied: it.Tied, DecidedBy: it.DecidedBy, AppliedTo: it.AppliedTo,
				Labels: answers}); err != nil {
				return err
			}
			after = it.ID
		}
		if len(items) < 500 {
			return nil
		}
	}
}
