package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/agreement"
)

// Label item states.
const (
	ItemOpen   = "open"
	ItemReview = "review"
	ItemDone   = "done"
)

// ErrNoLabelItems means the labeler has nothing left to label in the
// project: every item is labeled by them, skipped, full or leased.
var ErrNoLabelItems = errors.New("no items left to label")

// ErrBanned refuses a banned wallet (it is also a forbidden action).
var ErrBanned = fmt.Errorf("wallet is banned: %w", ErrForbidden)

// MaxResponseChars caps a corrected response.
const MaxResponseChars = 20000

// LabelValue is one answer: classify sets Label, rate sets Rating (1–5)
// and Flags, correct sets Response.
type LabelValue struct {
	Label    string   `json:"label,omitempty"`
	Rating   int      `json:"rating,omitempty"`
	Flags    []string `json:"flags,omitempty"`
	Response string   `json:"response,omitempty"`
}

// key is what labelers must agree on: the label, the rating, or the
// response with whitespace collapsed.
func (v LabelValue) key(task string) string {
	switch task {
	case TaskRate:
		return strconv.Itoa(v.Rating)
	case TaskCorrect:
		return strings.Join(strings.Fields(v.Response), " ")
	}
	return v.Label
}

// validate checks v against the project's task and normalises it.
func (v *LabelValue) validate(p *LabelProject) error {
	errs := map[string]string{}
	switch p.Task {
	case TaskClassify:
		v.Label = strings.Join(strings.Fields(v.Label), " ")
		if !slices.Contains(p.Labels, v.Label) {
			errs["label"] = "Choose one of the project's labels."
		}
		v.Rating, v.Flags, v.Response = 0, nil, ""
	case TaskRate:
		if v.Rating < 1 || v.Rating > 5 {
			errs["rating"] = "Rate from 1 (poor) to 5 (excellent)."
		}
		flags := []string{}
		for _, f := range v.Flags {
			if !slices.Contains(RatingFlags, f) {
				errs["flags"] = "Flags are factual_error, toxic, pii and off_topic."
				continue
			}
			if !slices.Contains(flags, f) {
				flags = append(flags, f)
			}
		}
		slices.Sort(flags)
		v.Flags, v.Label, v.Response = flags, "", ""
	case TaskCorrect:
		v.Response = strings.TrimSpace(strings.ReplaceAll(v.Response, "\r\n", "\n"))
		switch n := utf8.RuneCountInString(v.Response); {
		case !utf8.ValidString(v.Response):
			errs["response"] = "The response is not valid text."
		case n == 0:
			errs["response"] = "The corrected response must not be empty."
		case n > MaxResponseChars:
			errs["response"] = fmt.Sprintf("Keep the response under %d characters.", MaxResponseChars)
		}
		v.Label, v.Rating, v.Flags = "", 0, nil
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

// Lease is an item reserved to one labeler until ExpiresAt. Token names
// the lease: submitting, skipping and idempotent retries refer to it.
type Lease struct {
	Token     string
	ItemID    int64
	ProjectID int64
	LeasedAt  time.Time
	ExpiresAt time.Time
	Record    LeasedRecord
	Previous  *LabelValue // the answer being undone, to prefill
}

// LeasedRecord is the record an item shows.
type LeasedRecord struct {
	ID     int64
	Hash   string
	Fields map[string]string
}

// checkLabeler refuses banned wallets and actors who may not label p.
func (s *Store) checkLabeler(ctx context.Context, a Actor, projectID int64) (*LabelProject, error) {
	p, rights, err := s.labelerProject(ctx, a, projectID)
	if err != nil {
		return nil, err
	}
	return labelerAllowed(p, rights)
}

func labelerAllowed(p *LabelProject, rights LabelRights) (*LabelProject, error) {
	if !rights.Label {
		if rights.Banned {
			return nil, ErrBanned
		}
		if p.Status != LabelProjectOpen {
			return nil, &ValidationError{Fields: map[string]string{"project": rights.Why}}
		}
		return nil, fmt.Errorf("%s: %w", rights.Why, ErrForbidden)
	}
	return p, nil
}

// lockLabeler serialises one labeler's queue operations in a project (a
// double click must not lease two items), inside tx.
func lockLabeler(ctx context.Context, tx pgx.Tx, projectID, userID int64) error {
	_, err := tx.Exec(ctx, lockLabelerSQL, projectID, userID)
	return err
}

// leasePrepSQL takes labeler $2's advisory lock in project $1 (see
// lockLabeler) and sets how the rest of the batch's implicit transaction
// plans: on the cached generic plan (the lease statement's plan does not
// depend on which project or labeler asks, and planning it afresh, what
// PostgreSQL otherwise did call after call, took longer than running it),
// with sorting off, so the only way to meet its ORDER BY is the ordered
// index scan that stops at the first free slot, however stale the table's
// statistics (a fresh project's slots looked like a handful of rows and
// got a bitmap scan and a sort of every free slot), and without JIT (the
// disabled sort's huge cost estimate would otherwise make PostgreSQL
// compile the statement). The lease commits without waiting for its WAL
// to reach the disk: a lease lost in a crash only means the labeler asks
// again, and an fsync per "next" would be most of its time on a real disk.
const leasePrepSQL = lockLabelerExpr + `::text,
	set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_sort', 'off', true),
	set_config('jit', 'off', true), set_config('synchronous_commit', 'off', true)`

// leaseFactsSQL is labelerFactsSQL and leasePrepSQL in one statement, with
// mf.label_ok set to the facts' fast column.
const leaseFactsSQL = `SELECT f.*, ` + leasePrepSQL + `, set_config('mf.label_ok', f.fast::text, true)
	FROM (` + labelerFactsSQL + `) f`

// leaseAllowedSQL prepares a lease that the caller has already permitted.
const leaseAllowedSQL = `SELECT ` + leasePrepSQL + `, set_config('mf.label_ok', 'true', true)`

// lockLabelerExpr takes labeler $2's advisory lock in project $1.
const lockLabelerExpr = `pg_advisory_xact_lock(hashtextextended(format('label:%s:%s', $1::bigint, $2::bigint), 0))`

const lockLabelerSQL = `SELECT ` + lockLabelerExpr

const leaseReturning = ` RETURNING s.token::text, s.item_id, s.project_id, s.leased_at, s.lease_expires,
	(SELECT r.id FROM label_items i JOIN records r ON r.id = i.record_id WHERE i.id = s.item_id),
	(SELECT r.hash FROM label_items i JOIN records r ON r.id = i.record_id WHERE i.id = s.item_id),
	(SELECT r.canonical::jsonb FROM label_items i JOIN records r ON r.id = i.record_id WHERE i.id = s.item_id)`

func scanLease(row pgx.Row) (*Lease, error) {
	var l Lease
	err := row.Scan(&l.Token, &l.ItemID, &l.ProjectID, &l.LeasedAt, &l.ExpiresAt, &l.Record.ID, &l.Record.Hash, &l.Record.Fields)
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// NextLabelItem leases the labeler an item they have not labeled or
// skipped that still has a free slot (fewer labels plus live leases than
// the project's overlap). A labeler holding a live lease in the project
// gets that lease again, so reloading the page burns nothing. Slots are
// taken with FOR UPDATE SKIP LOCKED: concurrent labelers never wait on
// each other and never share a slot. ErrNoLabelItems when nothing is left.
//
// The common case is one round trip: the permission facts, the labeler's
// lock and the lease go in one batch, the lease guarded by the facts' fast
// column (a subset of the rules that SQL alone can decide). When that
// guard does not hold but the rules still allow the labeler (a grant on a
// permissioned Datanet, say), another batch leases without it; when the
// usual search finds nothing, one more searches the whole pool.
func (s *Store) NextLabelItem(ctx context.Context, a Actor, projectID int64) (*Lease, error) {
	if a.UserID == 0 {
		return nil, ErrNotFound
	}
	b := &pgx.Batch{}
	b.Queue(leaseFactsSQL, projectID, a.UserID)
	b.Queue(leaseAfterSQL, projectID, a.UserID)
	f, l, err := s.sendLease(ctx, b, projectID, true)
	if err != nil {
		return nil, err
	}
	p, rights, err := s.labelerRights(ctx, a, f)
	if err != nil {
		return nil, err
	}
	if _, err := labelerAllowed(p, rights); err != nil {
		if l != nil {
			// The fast column admitted someone the rules refuse: a bug in
			// it. Give the slot back before reporting it.
			_, rerr := s.pool.Exec(ctx, `UPDATE label_slots SET user_id = NULL, token = NULL, lease_expires = NULL WHERE token = $1`, l.Token)
			return nil, errors.Join(fmt.Errorf("next label item in project %d: lease guard admitted user %d whom the rules refuse", projectID, a.UserID), rerr)
		}
		return nil, err
	}
	// The rules allow the labeler: lease without the guard when it did
	// not hold, then from the start of the pool when nothing was free
	// after their latest item.
	if l == nil && !f.fast {
		if l, err = s.leaseAllowed(ctx, projectID, a.UserID, leaseAfterSQL); err != nil {
			return nil, err
		}
	}
	if l == nil {
		if l, err = s.leaseAllowed(ctx, projectID, a.UserID, leaseAnySQL); err != nil {
			return nil, err
		}
	}
	if l == nil {
		return nil, ErrNoLabelItems
	}
	return l, nil
}

// leaseAllowed runs lease statement q for a labeler the rules allow.
func (s *Store) leaseAllowed(ctx context.Context, projectID, userID int64, q string) (*Lease, error) {
	b := &pgx.Batch{}
	b.Queue(leaseAllowedSQL, projectID, userID)
	b.Queue(q, projectID, userID)
	_, l, err := s.sendLease(ctx, b, projectID, false)
	return l, err
}

// sendLease sends a lease batch: leaseFactsSQL (withFacts) or
// leaseAllowedSQL, then a leaseSQL statement. The lease is nil when there
// was nothing to lease.
func (s *Store) sendLease(ctx context.Context, b *pgx.Batch, projectID int64, withFacts bool) (*labelerFacts, *Lease, error) {
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	var f *labelerFacts
	var err error
	if withFacts {
		var ignored [6]string
		if f, err = scanLabelerFacts(br.QueryRow(), projectID, &ignored[0], &ignored[1], &ignored[2], &ignored[3], &ignored[4], &ignored[5]); err != nil {
			return nil, nil, err
		}
	} else if _, err = br.Exec(); err != nil {
		return nil, nil, fmt.Errorf("next label item in project %d: %w", projectID, err)
	}
	l, err := scanLease(br.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		if err := br.Close(); err != nil {
			return nil, nil, fmt.Errorf("next label item in project %d: %w", projectID, err)
		}
		return f, nil, nil
	}
	if err == nil {
		err = br.Close()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("next label item in project %d: %w", projectID, err)
	}
	return f, l, nil
}

// The two lease statements (see leaseSQL): the usual one searches the
// returned slots, then after the item of the labeler's latest label; the
// fallback searches the whole pool from the start.
var (
	leaseAfterSQL = leaseSQL(
		freeSlotSQL("c.leased_at IS NOT NULL AND coalesce(c.lease_expires, '-infinity'::timestamptz) <= now()",
			"c.project_id, coalesce(c.lease_expires, '-infinity'::timestamptz)"),
		freeSlotSQL("c.item_id > coalesce((SELECT item_id FROM labels WHERE user_id = $2 AND project_id = $1 ORDER BY submitted_at DESC LIMIT 1), 0)",
			"c.project_id, c.item_id, c.slot"))
	leaseAnySQL = leaseSQL(freeSlotSQL("true", "c.project_id, c.item_id, c.slot"))
)

// leaseSQL hands labeler $2 their live lease in project $1, or leases them
// the first free slot that one of the searches finds (each a freeSlotSQL,
// tried in order: COALESCE runs the next only when the one before found
// nothing), for the project's lease time; nothing unless the statement
// before it in the transaction set mf.label_ok.
//
// A free slot is one of an item that the labeler has not labeled,
// skipped or leased. leaseAfterSQL looks first among returned slots —
// slots leased before whose lease expired or that were skipped or given
// back (they keep leased_at; a partial index keyed by when the lease
// ended reaches them without visiting live leases) — so an item someone walked away
// from is finished before new ones are opened, wherever it is in the
// pool. Then it searches after the item of the labeler's latest label:
// they work through the items in order, so nearly every slot before it
// belongs to an item they labeled, and walking those (still open when the
// other labelers lag behind) made each lease slower the more the labeler
// had done. Only when both find nothing does NextLabelItem search the
// whole pool from the start, in a second statement, so that the usual
// one stays small (starting a plan costs in proportion to its nodes, used
// or not).
//
// Each check runs for one candidate at a time, as the ordered index scan
// meets it, and the scan stops at the first slot it can lock: OFFSET 0
// keeps PostgreSQL from turning a NOT EXISTS into a join over every slot,
// and the batch turns sorting off, so each search's ORDER BY leaves one
// plan, the ordered scan of the index with that order, whatever the
// table's statistics say (see leasePrepSQL).
func leaseSQL(searches ...string) string {
	return `
	WITH ok AS (SELECT coalesce(nullif(current_setting('mf.label_ok', true), '')::bool, false) AS ok),
	mine AS (
		SELECT id, token, item_id, project_id, leased_at, lease_expires FROM label_slots
		WHERE (SELECT ok FROM ok) AND project_id = $1 AND user_id = $2 AND NOT filled AND lease_expires > now()
		ORDER BY leased_at LIMIT 1),
	taken AS (
		UPDATE label_slots s SET user_id = $2, token = gen_random_uuid(), leased_at = now(),
		       lease_expires = now() + make_interval(secs => (SELECT lease_seconds FROM label_projects WHERE id = $1))
		WHERE (SELECT ok FROM ok) AND NOT EXISTS (SELECT 1 FROM mine) AND s.id = coalesce(` + strings.Join(searches, ", ") + `)
		RETURNING s.id, s.token, s.item_id, s.project_id, s.leased_at, s.lease_expires),
	l AS (SELECT * FROM mine UNION ALL SELECT * FROM taken)
	SELECT l.token::text, l.item_id, l.project_id, l.leased_at, l.lease_expires, r.id, r.hash, r.canonical::jsonb
	FROM l JOIN label_items i ON i.id = l.item_id JOIN records r ON r.id = i.record_id`
}

// freeSlotSQL is one search of leaseSQL: it locks and returns the first
// free slot, in order, among the project's unfilled slots that satisfy
// where. It does not look at the item's state: an item leaves 'open' only
// when its last slot is filled, and undo reopens an item before it frees a
// slot (TestLabelUndoCompletedItem), so every unfilled slot belongs to an
// open item.
func freeSlotSQL(where, order string) string {
	return `(
			SELECT c.id FROM label_slots c
			WHERE c.project_id = $1 AND NOT c.filled AND ` + where + `
			  AND (c.lease_expires IS NULL OR c.lease_expires <= now())
			  AND NOT EXISTS (SELECT 1 FROM label_slots o WHERE o.item_id = c.item_id AND o.user_id = $2
			                  AND (o.filled OR o.lease_expires > now()) OFFSET 0)
			  AND NOT EXISTS (SELECT 1 FROM label_skips k WHERE k.item_id = c.item_id AND k.user_id = $2 OFFSET 0)
			ORDER BY ` + order + ` LIMIT 1
			FOR UPDATE OF c SKIP LOCKED)`
}

// SubmitResult is what a submitted label did.
type SubmitResult struct {
	LabelID   int64
	ItemState string // the item's state after this label
	Duplicate bool   // the lease had already been submitted: nothing changed
}

// SubmitLabel records the labeler's answer for the item under the lease
// named by token. It is idempotent by lease: submitting the same lease
// again changes nothing and reports the label made the first time. A lease
// that expired is still honoured while nobody else took the slot. The
// label that completes the item's overlap finalises the item in the same
// transaction (majority, agreement, adjudication, rewards).
func (s *Store) SubmitLabel(ctx context.Context, a Actor, itemID int64, token string, v LabelValue) (*SubmitResult, error) {
	projectID, err := s.LabelItemProject(ctx, itemID)
	if err != nil {
		return nil, err
	}
	p, err := s.checkLabeler(ctx, a, projectID)
	if err != nil {
		return nil, err
	}
	if !isUUID(token) {
		return nil, &ValidationError{Fields: map[string]string{"lease": "The lease token is missing or malformed: ask for the next item again."}}
	}
	if err := v.validate(p); err != nil {
		return nil, err
	}
	value, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	res := &SubmitResult{}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var slotID int64
		var filled bool
		var leasedAt time.Time
		err := tx.QueryRow(ctx, `
			SELECT id, filled, leased_at FROM label_slots
			WHERE token = $1 AND item_id = $2 AND user_id = $3 FOR UPDATE`, token, itemID, a.UserID).Scan(&slotID, &filled, &leasedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return &ValidationError{Fields: map[string]string{"lease": "This lease expired and the item went to someone else: take the next item."}}
		}
		if err != nil {
			return err
		}
		if filled {
			res.Duplicate = true
			return tx.QueryRow(ctx, `SELECT l.id, i.state FROM labels l JOIN label_items i ON i.id = l.item_id WHERE l.token = $1`, token).
				Scan(&res.LabelID, &res.ItemState)
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO labels (project_id, item_id, user_id, token, value, leased_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			projectID, itemID, a.UserID, token, value, leasedAt).Scan(&res.LabelID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE label_slots SET filled = true, lease_expires = NULL WHERE id = $1`, slotID); err != nil {
			return err
		}
		var count int
		if err := tx.QueryRow(ctx, `UPDATE label_items SET label_count = label_count + 1 WHERE id = $1 RETURNING label_count, state`, itemID).
			Scan(&count, &res.ItemState); err != nil {
			return err
		}
		if count >= p.Overlap && res.ItemState == ItemOpen {
			res.ItemState, err = finalizeItem(ctx, tx, p, itemID)
		}
		return err
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return nil, ve
		}
		if isUniqueViolation(err) {
			return nil, &ValidationError{Fields: map[string]string{"lease": "You have already labeled this item."}}
		}
		return nil, fmt.Errorf("submit label for item %d: %w", itemID, err)
	}
	return res, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

type itemLabel struct {
	id     int64
	userID int64
	addr   string
	value  LabelValue
}

func itemLabels(ctx context.Context, tx pgx.Tx, itemID int64) ([]itemLabel, error) {
	rows, err := tx.Query(ctx, `
		SELECT l.id, l.user_id, u.address, l.value FROM labels l JOIN users u ON u.id = l.user_id
		WHERE l.item_id = $1 ORDER BY l.submitted_at, l.id`, itemID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (itemLabel, error) {
		var l itemLabel
		err := r.Scan(&l.id, &l.userID, &l.addr, &l.value)
		return l, err
	})
}

// finalizeItem decides an item whose labels are all in: the majority
// answer when it is clear (no tie, share at least the threshold, and for
// corrections every labeler agreeing), else the adjudication queue.
func finalizeItem(ctx context.Context, tx pgx.Tx, p *LabelProject, itemID int64) (string, error) {
	labels, err := itemLabels(ctx, tx, itemID)
	if err != nil {
		return "", err
	}
	keys := make([]string, len(labels))
	for i, l := range labels {
		keys[i] = l.value.key(p.Task)
	}
	m := agreement.Majority(keys)
	review := m.Tied || m.Share < p.AgreementThreshold || p.Task == TaskCorrect && m.Share < 1
	if review {
		_, err := tx.Exec(ctx, `UPDATE label_items SET state = 'review', agreement = $2, tied = $3 WHERE id = $1`, itemID, m.Share, m.Tied)
		return ItemReview, err
	}
	var final LabelValue
	for _, l := range labels {
		if l.value.key(p.Task) == m.Value {
			final = l.value
			break
		}
	}
	if p.Task == TaskRate {
		// Flags raised by more than half the labelers.
		counts := map[string]int{}
		for _, l := range labels {
			for _, f := range l.value.Flags {
				counts[f]++
			}
		}
		final.Flags = nil
		for _, f := range RatingFlags {
			if counts[f]*2 > len(labels) {
				final.Flags = append(final.Flags, f)
			}
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE label_items SET agreement = $2, tied = false WHERE id = $1`, itemID, m.Share); err != nil {
		return "", err
	}
	return ItemDone, decideItem(ctx, tx, p, itemID, labels, final, 0)
}

// decideItem makes final the item's answer, marks which labels agree with
// it (accepted) and writes their rewards, inside tx.
func decideItem(ctx context.Context, tx pgx.Tx, p *LabelProject, itemID int64, labels []itemLabel, final LabelValue, decidedBy int64) error {
	fj, err := json.Marshal(final)
	if err != nil {
		return err
	}
	var by *int64
	if decidedBy != 0 {
		by = &decidedBy
	}
	if _, err := tx.Exec(ctx, `
		UPDATE label_items SET state = 'done', final = $2, decided_by = $3, decided_at = now() WHERE id = $1`, itemID, fj, by); err != nil {
		return err
	}
	want := final.key(p.Task)
	for _, l := range labels {
		ok := l.value.key(p.Task) == want
		if _, err := tx.Exec(ctx, `UPDATE labels SET accepted = $2 WHERE id = $1`, l.id, ok); err != nil {
			return err
		}
		if ok && p.RewardWei.Sign() > 0 {
			if err := addLabelReward(ctx, tx, p, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// addLabelReward appends a labeling entry to the rewards ledger for an
// accepted label, in the caller's transaction (the ledger is the same one
// AddRewardEntry writes; the reference makes each label paid once).
func addLabelReward(ctx context.Context, tx pgx.Tx, p *LabelProject, l itemLabel) error {
	ref := fmt.Sprintf("label:%d", l.id)
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM reward_entries WHERE source = 'labeling' AND reference = $1)`, ref).Scan(&exists); err != nil || exists {
		return err
	}
	var id int64
	if err := tx.QueryRow(ctx, `
		INSERT INTO reward_entries (account, amount, source, reference, reason) VALUES ($1, $2, 'labeling', $3, $4) RETURNING id`,
		l.addr, numeric(p.RewardWei), ref, truncate(fmt.Sprintf("Accepted label in %q", p.Name), 500)).Scan(&id); err != nil {
		return fmt.Errorf("labeling reward: %w", err)
	}
	return audit(ctx, tx, 0, "reward.labeling", "reward_entry", fmt.Sprint(id), nil,
		map[string]string{"account": l.addr, "amountWei": p.RewardWei.String(), "source": RewardLabeling, "reference": ref}, "")
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// SkipLabelItem gives the leased item back with a reason; it is never
// offered to this labeler again. Skipping twice is not an error.
func (s *Store) SkipLabelItem(ctx context.Context, a Actor, itemID int64, token, reason string) error {
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n == 0 || n > 500 {
		return &ValidationError{Fields: map[string]string{"reason": "Say in a few words why you skip this item (at most 500 characters)."}}
	}
	if !isUUID(token) {
		return &ValidationError{Fields: map[string]string{"lease": "The lease token is missing or malformed: ask for the next item again."}}
	}
	projectID, err := s.LabelItemProject(ctx, itemID)
	if err != nil {
		return err
	}
	if _, err := s.checkLabeler(ctx, a, projectID); err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO label_skips (item_id, user_id, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, itemID, a.UserID, reason); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			UPDATE label_slots SET user_id = NULL, token = NULL, lease_expires = NULL
			WHERE token = $1 AND item_id = $2 AND user_id = $3 AND NOT filled`, token, itemID, a.UserID)
		return err
	})
	if err != nil {
		return fmt.Errorf("skip item %d: %w", itemID, err)
	}
	return nil
}

// UndoLastLabel takes back the labeler's latest label in the project and
// leases the item to them again with the old answer to prefill; an item
// that answer completed collects labels again. It is refused once the
// item's outcome has consequences: a reviewer's decision, a write-back to
// the Datanet, or rewards paid for its answers. Any other lease the
// labeler holds in the project goes back to the pool.
func (s *Store) UndoLastLabel(ctx context.Context, a Actor, projectID int64) (*Lease, error) {
	p, err := s.checkLabeler(ctx, a, projectID)
	if err != nil {
		return nil, err
	}
	var l *Lease
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockLabeler(ctx, tx, projectID, a.UserID); err != nil {
			return err
		}
		var labelID, itemID int64
		var token string
		var prev LabelValue
		err := tx.QueryRow(ctx, `
			SELECT id, item_id, token::text, value FROM labels WHERE project_id = $1 AND user_id = $2
			ORDER BY submitted_at DESC, id DESC LIMIT 1`, projectID, a.UserID).Scan(&labelID, &itemID, &token, &prev)
		if errors.Is(err, pgx.ErrNoRows) {
			return &ValidationError{Fields: map[string]string{"undo": "There is nothing to undo yet."}}
		}
		if err != nil {
			return err
		}
		var slotID int64
		if err := tx.QueryRow(ctx, `SELECT id FROM label_slots WHERE token = $1 FOR UPDATE`, token).Scan(&slotID); err != nil {
			return err
		}
		var state string
		var applied, decided, rewarded bool
		if err := tx.QueryRow(ctx, `
			SELECT state, applied_at IS NOT NULL, decided_by IS NOT NULL,
			       EXISTS (SELECT 1 FROM reward_entries e JOIN labels l ON e.reference = 'label:' || l.id
			               WHERE e.source = 'labeling' AND l.item_id = i.id)
			FROM label_items i WHERE id = $1 FOR UPDATE`, itemID).Scan(&state, &applied, &decided, &rewarded); err != nil {
			return err
		}
		switch {
		case decided:
			return &ValidationError{Fields: map[string]string{"undo": "A reviewer has decided your last item, so your answer can no longer be undone."}}
		case applied:
			return &ValidationError{Fields: map[string]string{"undo": "Your last item's result is already in the Datanet, so your answer can no longer be undone."}}
		case rewarded:
			return &ValidationError{Fields: map[string]string{"undo": "Your last item's answers are already accepted and rewarded, so yours can no longer be undone."}}
		}
		if state != ItemOpen {
			// The answer completed the item: it collects labels again.
			if _, err := tx.Exec(ctx, `UPDATE label_items SET state = 'open', final = NULL, agreement = NULL, tied = false WHERE id = $1`, itemID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE labels SET accepted = NULL WHERE item_id = $1`, itemID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `
			UPDATE label_slots SET user_id = NULL, token = NULL, lease_expires = NULL
			WHERE project_id = $1 AND user_id = $2 AND NOT filled AND id <> $3`, projectID, a.UserID, slotID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM labels WHERE id = $1`, labelID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE label_items SET label_count = label_count - 1 WHERE id = $1`, itemID); err != nil {
			return err
		}
		l, err = scanLease(tx.QueryRow(ctx, `
			UPDATE label_slots s SET filled = false, token = gen_random_uuid(), leased_at = now(),
			       lease_expires = now() + make_interval(secs => $2)
			WHERE s.id = $1`+leaseReturning, slotID, p.LeaseSeconds))
		if err != nil {
			return err
		}
		l.Previous = &prev
		return nil
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return nil, ve
		}
		return nil, fmt.Errorf("undo last label in project %d: %w", projectID, err)
	}
	return l, nil
}

// LabelProgress is a labeler's and the project's progress.
type LabelProgress struct {
	Mine       int64 // labels this labeler gave
	MineToday  int64
	Items      int64
	Done       int64 // items with a final answer
	Review     int64
	Labels     int64 // labels given by everyone
	LabelsGoal int64 // items × overlap
}

// LabelProgressFor returns progress in a project as seen by a.
func (s *Store) LabelProgressFor(ctx context.Context, a Actor, projectID int64) (*LabelProgress, error) {
	var pr LabelProgress
	err := s.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM labels WHERE project_id = $1 AND user_id = $2),
		       (SELECT count(*) FROM labels WHERE project_id = $1 AND user_id = $2 AND submitted_at > now() - interval '1 day'),
		       (SELECT count(*) FROM label_items WHERE project_id = $1),
		       (SELECT count(*) FROM label_items WHERE project_id = $1 AND state = 'done'),
		       (SELECT count(*) FROM label_items WHERE project_id = $1 AND state = 'review'),
		       (SELECT count(*) FROM labels WHERE project_id = $1),
		       (SELECT count(*) FROM label_slots WHERE project_id = $1)`, projectID, a.UserID).
		Scan(&pr.Mine, &pr.MineToday, &pr.Items, &pr.Done, &pr.Review, &pr.Labels, &pr.LabelsGoal)
	if err != nil {
		return nil, fmt.Errorf("label progress %d: %w", projectID, err)
	}
	return &pr, nil
}

// LabelItemProject returns the project an item belongs to.
func (s *Store) LabelItemProject(ctx context.Context, itemID int64) (int64, error) {
	var projectID int64
	err := s.pool.QueryRow(ctx, `SELECT project_id FROM label_items WHERE id = $1`, itemID).Scan(&projectID)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("label item %d: %w", itemID, err)
	}
	return projectID, nil
}
