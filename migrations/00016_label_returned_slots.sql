-- +goose Up

-- Returned slots: leased once, not filled, and no longer leased — the lease
-- expired, or the labeler skipped the item or gave the slot back (those
-- keep leased_at and clear lease_expires). "Next" looks here first, so an
-- item someone walked away from is finished before the queue moves on,
-- wherever it sits in the pool (the usual search starts after the
-- labeler's latest item). Keyed by when the lease ended (given back: minus
-- infinity), the search is a range up to now(): live leases are never
-- visited.
CREATE INDEX label_slots_returned ON label_slots (project_id, (coalesce(lease_expires, '-infinity'::timestamptz)))
    WHERE NOT filled AND leased_at IS NOT NULL;

-- +goose Down
DROP INDEX label_slots_returned;
