package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Contribution statuses.
const (
	ContribPending    = "pending"
	ContribProcessing = "processing"
	ContribInReview   = "in_review"
	ContribAccepted   = "accepted"
	ContribRejected   = "rejected"
	ContribFailed     = "failed"
)

// Problem is one rejected row (Line > 0) or a file-level problem (Line 0).
type Problem struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// MaxProblems is how many problems a contribution report keeps.
const MaxProblems = 100

// Contribution is one upload or batch of records to a Datanet.
type Contribution struct {
	ID            int64
	DatanetID     int64
	DatanetSlug   string
	DatanetName   string
	Schema        string
	Labels        []string
	Policy        string
	ContributorID int64
	Contributor   string
	Source        string
	Filename      string
	BlobKey       string
	SHA256        string
	SizeBytes     int64
	Status        string
	ProgressRows  int64
	Accepted      int64
	Duplicates    int64
	NearDups      int64
	Rejected      int64
	Problems      []Problem
	ReviewReason  string
	// Indexing is true while the contribution's committed records wait for
	// the indexing job: listed and exported, not yet found by search.
	Indexing  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Final reports whether the status can no longer change by itself.
func (c *Contribution) Final() bool {
	return c.Status != ContribPending && c.Status != ContribProcessing
}

// ContributionInput describes a stored upload.
type ContributionInput struct {
	Source    string // "file", "form", "api"
	Filename  string
	BlobKey   string
	SHA256    string
	SizeBytes int64
}

// Enqueue inserts the job that processes a contribution, inside the
// transaction that creates it.
type Enqueue func(ctx context.Context, tx pgx.Tx, contributionID int64) error

// CreateContribution records an upload for slug and enqueues its ingest in
// the same transaction: either both happen or neither.
func (s *Store) CreateContribution(ctx context.Context, a Actor, slug string, in ContributionInput, enqueue Enqueue) (*Contribution, error) {
	d, acc, err := s.VisibleDatanet(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if !acc.Contribute {
		if d.Status == DatanetSuspended {
			return nil, &ValidationError{Fields: map[string]string{"datanet": "This Datanet is suspended and takes no contributions."}}
		}
		return nil, ErrForbidden
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			INSERT INTO contributions (datanet_id, contributor_id, source, filename, blob_key, sha256, size_bytes)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			d.ID, a.UserID, in.Source, in.Filename, in.BlobKey, in.SHA256, in.SizeBytes).Scan(&id); err != nil {
			return err
		}
		return enqueue(ctx, tx, id)
	})
	if err != nil {
		return nil, fmt.Errorf("create contribution to %s: %w", slug, err)
	}
	return s.ContributionByID(ctx, id)
}

// ContributionByID returns a contribution without access checks.
func (s *Store) ContributionByID(ctx context.Context, id int64) (*Contribution, error) {
	var c Contribution
	var problems []byte
	err := s.pool.QueryRow(ctx, `
		SELECT c.id, c.datanet_id, d.slug, d.name, d.schema_kind, d.labels, d.contribution_policy, c.contributor_id, u.address,
		       c.source, c.filename, c.blob_key, c.sha256, c.size_bytes, c.status, c.progress_rows, c.accepted_count,
		       c.duplicate_count, c.near_duplicate_count, c.rejected_count, c.problems, c.review_reason,
		       EXISTS (SELECT 1 FROM record_index_pending p WHERE p.contribution_id = c.id AND p.indexed_at IS NULL), c.created_at, c.updated_at
		FROM contributions c JOIN datanets d ON d.id = c.datanet_id JOIN users u ON u.id = c.contributor_id
		WHERE c.id = $1`, id).Scan(&c.ID, &c.DatanetID, &c.DatanetSlug, &c.DatanetName, &c.Schema, &c.Labels, &c.Policy,
		&c.ContributorID, &c.Contributor, &c.Source, &c.Filename, &c.BlobKey, &c.SHA256, &c.SizeBytes, &c.Status,
		&c.ProgressRows, &c.Accepted, &c.Duplicates, &c.NearDups, &c.Rejected, &problems, &c.ReviewReason, &c.Indexing, &c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("contribution %d: %w", id, err)
	}
	if err := json.Unmarshal(problems, &c.Problems); err != nil {
		return nil, fmt.Errorf("contribution %d problems: %w", id, err)
	}
	return &c, nil
}

// VisibleContribution returns a contribution to its contributor and to
// those who may review its Datanet; others get ErrNotFound.
func (s *Store) VisibleContribution(ctx context.Context, a Actor, id int64) (*Contribution, Access, error) {
	c, err := s.ContributionByID(ctx, id)
	if err != nil {
		return nil, Access{}, err
	}
	d, err := s.datanetByID(ctx, c.DatanetID)
	if err != nil {
		return nil, Access{}, err
	}
	acc, err := s.AccessFor(ctx, a, d)
	if err != nil {
		return nil, acc, err
	}
	if c.ContributorID != a.UserID && !acc.Review {
		return nil, acc, ErrNotFound
	}
	return c, acc, nil
}

// Contributions lists a Datanet's contributions, newest first: all of them
// for reviewers, only their own for others.
func (s *Store) Contributions(ctx context.Context, datanetID int64, onlyBy int64, limit, offset int) ([]Contribution, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.id FROM contributions c
		WHERE c.datanet_id = $1 AND ($2 = 0 OR c.contributor_id = $2)
		ORDER BY c.created_at DESC, c.id DESC LIMIT $3 OFFSET $4`, datanetID, onlyBy, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list contributions: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list contributions: %w", err)
	}
	out := make([]Contribution, 0, len(ids))
	for _, id := range ids {
		c, err := s.ContributionByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// CountInReview counts a Datanet's contributions waiting for review.
func (s *Store) CountInReview(ctx context.Context, datanetID int64) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM contributions WHERE datanet_id = $1 AND status = 'in_review'`, datanetID).Scan(&n)
	return n, err
}

// ReviewContribution accepts or rejects a contribution in review. Accepting
// makes its records part of the Datanet; rejecting deletes them (freeing
// their hashes) and shows the reason to the contributor. Both are audited.
func (s *Store) ReviewContribution(ctx context.Context, a Actor, id int64, accept bool, reason string) (*Contribution, error) {
	c, acc, err := s.VisibleContribution(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if !acc.Review {
		return nil, ErrForbidden
	}
	if c.Status != ContribInReview {
		return nil, &ValidationError{Fields: map[string]string{"decision": "Only a contribution in review can be accepted or rejected; this one is " + c.Status + "."}}
	}
	if !accept && len([]rune(reason)) < 3 {
		return nil, &ValidationError{Fields: map[string]string{"reason": "Tell the contributor why: the reason is shown to them."}}
	}
	status, action := ContribAccepted, "contribution.accept"
	if !accept {
		status, action = ContribRejected, "contribution.reject"
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE contributions SET status = $2, review_reason = $3, reviewed_by = $4, reviewed_at = now(), updated_at = now()
			WHERE id = $1 AND status = 'in_review'`, id, status, reason, a.UserID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrConflict
		}
		if accept {
			_, err = tx.Exec(ctx, `UPDATE records SET status = 'accepted' WHERE contribution_id = $1`, id)
		} else {
			_, err = tx.Exec(ctx, `DELETE FROM records WHERE contribution_id = $1`, id)
			if err == nil {
				_, err = tx.Exec(ctx, `UPDATE contributions SET accepted_count = 0 WHERE id = $1`, id)
			}
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, a.UserID, action, "contribution", fmt.Sprint(id),
			map[string]string{"status": ContribInReview}, map[string]string{"status": status}, reason)
	})
	if err != nil {
		return nil, fmt.Errorf("review contribution %d: %w", id, err)
	}
	return s.ContributionByID(ctx, id)
}

// SetContributionProgress records how many rows the ingest has parsed (for
// the live report); it is display only and outside the ingest transaction.
func (s *Store) SetContributionProgress(ctx context.Context, id, rows int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE contributions SET progress_rows = $2, updated_at = now() WHERE id = $1 AND status = 'processing'`, id, rows)
	return err
}

// StartIngest moves a pending (or interrupted processing) contribution to
// processing and returns it; ok is false when it is already final, so a
// second run of the job does nothing.
func (s *Store) StartIngest(ctx context.Context, id int64) (c *Contribution, ok bool, err error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE contributions SET status = 'processing', progress_rows = 0, updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'processing')`, id)
	if err != nil {
		return nil, false, fmt.Errorf("start ingest %d: %w", id, err)
	}
	c, err = s.ContributionByID(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return c, tag.RowsAffected() == 1, nil
}

// FailIngest marks a contribution failed with its problems; nothing of it
// is kept.
func (s *Store) FailIngest(ctx context.Context, id int64, rejected int64, problems []Problem) error {
	if len(problems) > MaxProblems {
		problems = problems[:MaxProblems]
	}
	p, _ := json.Marshal(problems)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Status first: a contribution another run already finished keeps
		// its records.
		tag, err := tx.Exec(ctx, `
			UPDATE contributions SET status = 'failed', problems = $2, rejected_count = $3, accepted_count = 0,
			       duplicate_count = 0, near_duplicate_count = 0, updated_at = now()
			WHERE id = $1 AND status = 'processing'`, id, p, rejected)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM records WHERE contribution_id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("fail ingest %d: %w", id, err)
	}
	return nil
}
