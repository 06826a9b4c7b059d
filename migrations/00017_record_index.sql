-- +goose Up
-- Ingest wrote every record together with its search vector and its 20
-- MinHash band keys, into two GIN indexes, and carried its fields twice
-- (canonical text and JSONB) plus a 480-byte signature: about 2.3 kB and
-- 100 index entries a record, all on the one backend of the contribution's
-- transaction (3 MB/s). The record row now holds the canonical JSON once
-- (fields are canonical::jsonb), its band keys without an index, and a
-- 120-byte sketch of its signature instead of the signature (below).
-- Search vectors and the band-key index live in record_index, filled after
-- the commit by an indexing job; until it has run, a contribution is listed
-- in record_index_pending and near-duplicate checks read its records'
-- band keys directly.
CREATE TABLE record_index (
    record_id  BIGINT PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
    datanet_id BIGINT NOT NULL,
    search     TSVECTOR NOT NULL,
    bands      BIGINT[]
);
INSERT INTO record_index (record_id, datanet_id, search, bands)
    SELECT id, datanet_id, coalesce(search, to_tsvector('english'::regconfig, fields)), bands FROM records;
CREATE INDEX record_index_search ON record_index USING gin (search);
-- No pending list for the band keys: ingest reads this index once per new
-- record, and every GIN scan also reads the whole pending list (up to 4 MB:
-- 4 ms a scan, seconds a batch). The indexing job pays for the direct
-- inserts instead.
CREATE INDEX record_index_bands ON record_index USING gin (bands) WITH (fastupdate = off);
CREATE INDEX record_index_datanet ON record_index (datanet_id);

-- Contributions whose records are committed, and when the indexing job
-- finished them (NULL: not yet). An ingest reads directly the band keys of
-- those not indexed before it started (it looks the others up in
-- record_index while its batches stream in); rows indexed over a day ago
-- are deleted by the cleanup job.
CREATE TABLE record_index_pending (
    contribution_id BIGINT PRIMARY KEY REFERENCES contributions(id) ON DELETE CASCADE,
    datanet_id      BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    indexed_at      TIMESTAMPTZ
);
CREATE INDEX record_index_pending_datanet ON record_index_pending (datanet_id, indexed_at);

-- An edit of a record's content (fix-and-accept, a direct UPDATE) moves its
-- index entry with it; the indexing job never overwrites an entry.
-- +goose StatementBegin
CREATE FUNCTION records_reindex() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO record_index (record_id, datanet_id, search, bands)
    VALUES (NEW.id, NEW.datanet_id, to_tsvector('english'::regconfig, NEW.canonical::jsonb), NEW.bands)
    ON CONFLICT (record_id) DO UPDATE SET search = EXCLUDED.search, bands = EXCLUDED.bands;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER records_reindex AFTER UPDATE OF canonical, bands ON records
    FOR EACH ROW WHEN (NEW.canonical IS DISTINCT FROM OLD.canonical OR NEW.bands IS DISTINCT FROM OLD.bands)
    EXECUTE FUNCTION records_reindex();

DROP VIEW record_bands;
DROP FUNCTION record_bands_insert;
DROP TRIGGER records_search_update ON records;
DROP TRIGGER records_search_insert ON records;
DROP FUNCTION records_search_vector;
DROP INDEX records_search;
DROP INDEX records_bands;
ALTER TABLE records DROP COLUMN search, DROP COLUMN fields, DROP COLUMN minhash;
-- The 120-byte b-bit sketch of the record's MinHash signature (low 8 bits
-- of each value): enough to compare a new record with an older candidate
-- without recomputing the older one's signature. NULL for records written
-- before it existed or without one; those are compared from their text.
ALTER TABLE records ADD COLUMN sketch BYTEA;

-- Two per-row costs of a COPY into records, from a profile of a 100 MB
-- ingest: the foreign key to contributions (an SPI query and a row lock
-- per record, made slower by the progress updates turning that lock into
-- a multixact) was a third of the COPY; the hash CHECK's regular
-- expression another seventh. Contributions are never deleted, and the
-- only writers of records take contribution_id and datanet_id from the
-- contribution row they just read (CommitIngest) or from an existing
-- record (label write-back); the hash format is checked by cheaper
-- functions.
ALTER TABLE records
    DROP CONSTRAINT records_contribution_datanet_fkey,
    DROP CONSTRAINT records_hash_check,
    ADD CONSTRAINT records_hash_check
        CHECK (octet_length(hash) = 66 AND starts_with(hash, '0x') AND ltrim(substr(hash, 3), '0123456789abcdef') = '');

-- +goose Down
ALTER TABLE records
    DROP CONSTRAINT records_hash_check,
    ADD CONSTRAINT records_hash_check CHECK (hash ~ '^0x[0-9a-f]{64}$'),
    ADD CONSTRAINT records_contribution_datanet_fkey FOREIGN KEY (contribution_id, datanet_id) REFERENCES contributions (id, datanet_id);
ALTER TABLE records DROP COLUMN sketch;
ALTER TABLE records ADD COLUMN minhash BYTEA, ADD COLUMN fields JSONB, ADD COLUMN search TSVECTOR;
UPDATE records SET fields = canonical::jsonb;
UPDATE records r SET search = x.search FROM record_index x WHERE x.record_id = r.id;
ALTER TABLE records ALTER COLUMN fields SET NOT NULL;
CREATE INDEX records_search ON records USING gin (search) WHERE status = 'accepted';
CREATE INDEX records_bands ON records USING gin (bands);
-- +goose StatementBegin
CREATE FUNCTION records_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search := to_tsvector('english'::regconfig, NEW.fields);
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER records_search_insert BEFORE INSERT ON records
    FOR EACH ROW WHEN (NEW.search IS NULL) EXECUTE FUNCTION records_search_vector();
CREATE TRIGGER records_search_update BEFORE UPDATE OF fields, search ON records
    FOR EACH ROW EXECUTE FUNCTION records_search_vector();
CREATE VIEW record_bands AS
    SELECT r.datanet_id, k AS band_key, r.id AS record_id FROM records r, unnest(r.bands) AS k;
-- +goose StatementBegin
CREATE FUNCTION record_bands_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE records SET bands = array_append(coalesce(bands, '{}'), NEW.band_key)
    WHERE id = NEW.record_id AND NOT coalesce(NEW.band_key = ANY(bands), false);
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER record_bands_insert INSTEAD OF INSERT ON record_bands
    FOR EACH ROW EXECUTE FUNCTION record_bands_insert();
DROP TRIGGER records_reindex ON records;
DROP FUNCTION records_reindex;
DROP TABLE record_index_pending;
DROP TABLE record_index;
