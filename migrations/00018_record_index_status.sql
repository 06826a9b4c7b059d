-- +goose Up
-- Search joined record_index to records for the status, and the planner
-- walked both tables for every match (p95 254 ms over a million records,
-- against 58 ms when the vector sat in the record row). record_index now
-- carries the record's status, so a search reads record_index alone, as it
-- read records before: a partial GIN index over accepted records and the
-- (datanet_id, record_id) walk for the newest matches.
--
-- The status follows every change: a statement trigger on records copies
-- the new statuses; the indexing job reads the records it indexes FOR
-- SHARE, after their contribution's row FOR SHARE (every path that changes
-- a contribution's statuses updates that row first), so a status change
-- either committed before its read (it copies the new status) or waits for
-- its insert (the trigger then finds the row).
--
-- A status in a partial index's predicate makes every status change a
-- non-HOT update that re-inserts the row into each index of the table; the
-- band keys (20 GIN entries a record, without a pending list) move to a
-- table of their own so that accepting a large contribution does not
-- rewrite them.
CREATE TABLE record_band_keys (
    record_id  BIGINT PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
    datanet_id BIGINT NOT NULL,
    bands      BIGINT[] NOT NULL
);
INSERT INTO record_band_keys (record_id, datanet_id, bands)
    SELECT record_id, datanet_id, bands FROM record_index WHERE bands IS NOT NULL;
-- No pending list (see 00017).
CREATE INDEX record_band_keys_bands ON record_band_keys USING gin (bands) WITH (fastupdate = off);
CREATE INDEX record_band_keys_datanet ON record_band_keys (datanet_id);
DROP INDEX record_index_bands;
DROP INDEX record_index_datanet;
ALTER TABLE record_index DROP COLUMN bands;

ALTER TABLE record_index ADD COLUMN status TEXT;
UPDATE record_index x SET status = r.status FROM records r WHERE r.id = x.record_id;
ALTER TABLE record_index ALTER COLUMN status SET NOT NULL;
DROP INDEX record_index_search;
CREATE INDEX record_index_search ON record_index USING gin (search) WHERE status = 'accepted';
CREATE INDEX record_index_accepted ON record_index (datanet_id, record_id) WHERE status = 'accepted';

-- One more per-row check of a COPY into records: the contributor's foreign
-- key to users (an SPI query per record; 6–8 % of the backend's time in a
-- profile of a 100 MB ingest). Users are never deleted, and the writers of
-- records take contributor_id from the contribution (whose own key to users
-- stays) or from the record being replaced.
ALTER TABLE records DROP CONSTRAINT records_contributor_id_fkey;

-- +goose StatementBegin
CREATE FUNCTION record_index_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE record_index x SET status = n.status
    FROM new_rows n WHERE x.record_id = n.id AND x.status IS DISTINCT FROM n.status;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER records_index_status AFTER UPDATE ON records
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_index_status();

-- The content trigger writes both tables (and the status).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION records_reindex() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO record_index (record_id, datanet_id, search, status)
    VALUES (NEW.id, NEW.datanet_id, to_tsvector('english'::regconfig, NEW.canonical::jsonb), NEW.status)
    ON CONFLICT (record_id) DO UPDATE SET search = EXCLUDED.search, status = EXCLUDED.status;
    IF NEW.bands IS NULL THEN
        DELETE FROM record_band_keys WHERE record_id = NEW.id;
    ELSE
        INSERT INTO record_band_keys (record_id, datanet_id, bands) VALUES (NEW.id, NEW.datanet_id, NEW.bands)
        ON CONFLICT (record_id) DO UPDATE SET bands = EXCLUDED.bands;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE records ADD CONSTRAINT records_contributor_id_fkey FOREIGN KEY (contributor_id) REFERENCES users (id);
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION records_reindex() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO record_index (record_id, datanet_id, search, bands)
    VALUES (NEW.id, NEW.datanet_id, to_tsvector('english'::regconfig, NEW.canonical::jsonb), NEW.bands)
    ON CONFLICT (record_id) DO UPDATE SET search = EXCLUDED.search, bands = EXCLUDED.bands;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
DROP TRIGGER records_index_status ON records;
DROP FUNCTION record_index_status;
DROP INDEX record_index_accepted;
DROP INDEX record_index_search;
CREATE INDEX record_index_search ON record_index USING gin (search);
ALTER TABLE record_index DROP COLUMN status;
ALTER TABLE record_index ADD COLUMN bands BIGINT[];
UPDATE record_index x SET bands = k.bands FROM record_band_keys k WHERE k.record_id = x.record_id;
CREATE INDEX record_index_bands ON record_index USING gin (bands) WITH (fastupdate = off);
CREATE INDEX record_index_datanet ON record_index (datanet_id);
DROP TABLE record_band_keys;
