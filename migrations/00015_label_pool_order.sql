-- +goose Up

-- The lease takes the first free slot in (item, slot) order. With the slot
-- in the pool index the scan returns candidates already in that order, so
-- it stops at the first slot it can lock instead of collecting and sorting
-- every free slot of the project.
CREATE INDEX label_slots_pool_order ON label_slots (project_id, item_id, slot) WHERE NOT filled;
DROP INDEX label_slots_pool;
-- A labeler's unfilled slots (their live or expired leases): what "next"
-- hands back on a reload and what undo releases. The old index held every
-- slot the labeler ever had, and the lease's "not labeled by me yet" check
-- ran through all of them for each candidate; that check now probes the
-- candidate item's own slots through (item_id, slot).
CREATE INDEX label_slots_leased ON label_slots (user_id, project_id) WHERE user_id IS NOT NULL AND NOT filled;
DROP INDEX label_slots_user;

-- +goose Down
CREATE INDEX label_slots_user ON label_slots (user_id, project_id) WHERE user_id IS NOT NULL;
DROP INDEX label_slots_leased;
CREATE INDEX label_slots_pool ON label_slots (project_id, item_id) WHERE NOT filled;
DROP INDEX label_slots_pool_order;
