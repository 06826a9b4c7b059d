-- +goose Up

-- Full-text search over a Datanet's records. The vector is generated from
-- every string value of the record's fields (instruction, input, response,
-- text, label), so it follows fix-and-accept edits without a trigger. Only
-- accepted records are searchable, so only they are indexed; the datanet
-- filter is applied on the heap, which the planner swaps for the
-- (datanet_id, id) index when a Datanet is small.
ALTER TABLE records
    ADD COLUMN search TSVECTOR GENERATED ALWAYS AS (to_tsvector('english'::regconfig, fields)) STORED;
CREATE INDEX records_search ON records USING gin (search) WHERE status = 'accepted';

-- +goose Down
DROP INDEX records_search;
ALTER TABLE records DROP COLUMN search;
