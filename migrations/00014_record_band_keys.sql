-- +goose Up

-- A record's 20 MinHash LSH band keys move from 20 rows of record_bands
-- (each a heap row and two B-tree entries) into an array on the record,
-- indexed by GIN: ingest writes them with the record, GIN batches its
-- entries, and records sharing a key are found with bands && bands.
ALTER TABLE records ADD COLUMN bands BIGINT[];
UPDATE records r SET bands = b.keys
FROM (SELECT record_id, array_agg(band_key ORDER BY band_key) AS keys FROM record_bands GROUP BY record_id) b
WHERE b.record_id = r.id;
CREATE INDEX records_bands ON records USING gin (bands);
DROP TABLE record_bands;

-- record_bands stays readable and insertable as a view over the arrays, for
-- code written against the table.
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

-- Records are a couple of kilobytes (canonical JSON, the JSONB fields, the
-- search vector and the 480-byte MinHash signature). At the default 2 kB
-- target every insert ran pglz over them, and every read decompressed
-- them; keep rows up to a page uncompressed and inline.
ALTER TABLE records SET (toast_tuple_target = 8160);

-- Every record row paid a foreign-key check (a query and a row lock) for
-- its Datanet and another for its contribution. One composite key to the
-- contribution does both, and says more: a record belongs to the Datanet
-- of its contribution (whose own key vouches for the Datanet).
CREATE UNIQUE INDEX contributions_id_datanet ON contributions (id, datanet_id);
ALTER TABLE records
    ADD CONSTRAINT records_contribution_datanet_fkey FOREIGN KEY (contribution_id, datanet_id) REFERENCES contributions (id, datanet_id),
    DROP CONSTRAINT records_contribution_id_fkey,
    DROP CONSTRAINT records_datanet_id_fkey;

-- Publishing a version wrote a million version_records rows, each with a
-- foreign-key check that locked its record (a WAL record and a dirtied
-- page per record): half the publish. What the key protected — a record
-- of a published version is never deleted — is checked where records are
-- deleted instead, which is rare. The trigger first waits for a publish in
-- progress on the Datanet (it holds the Datanet row FOR UPDATE), so a
-- version being written is seen.
ALTER TABLE version_records DROP CONSTRAINT version_records_record_id_fkey;
-- +goose StatementBegin
CREATE FUNCTION records_keep_versioned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM datanets WHERE id = OLD.datanet_id FOR SHARE;
    IF EXISTS (SELECT 1 FROM version_records vr JOIN datanet_versions v ON v.id = vr.version_id
               WHERE v.datanet_id = OLD.datanet_id AND vr.hash = OLD.hash AND vr.record_id = OLD.id) THEN
        RAISE EXCEPTION 'record % belongs to a published version', OLD.id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER records_keep_versioned BEFORE DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION records_keep_versioned();

-- +goose Down
DROP TRIGGER records_keep_versioned ON records;
DROP FUNCTION records_keep_versioned;
ALTER TABLE version_records ADD CONSTRAINT version_records_record_id_fkey FOREIGN KEY (record_id) REFERENCES records (id);
ALTER TABLE records
    ADD CONSTRAINT records_contribution_id_fkey FOREIGN KEY (contribution_id) REFERENCES contributions (id),
    ADD CONSTRAINT records_datanet_id_fkey FOREIGN KEY (datanet_id) REFERENCES datanets (id),
    DROP CONSTRAINT records_contribution_datanet_fkey;
DROP INDEX contributions_id_datanet;
ALTER TABLE records RESET (toast_tuple_target);
DROP VIEW record_bands;
DROP FUNCTION record_bands_insert;
CREATE TABLE record_bands (
    datanet_id BIGINT NOT NULL,
    band_key   BIGINT NOT NULL,
    record_id  BIGINT NOT NULL
);
INSERT INTO record_bands (datanet_id, band_key, record_id)
    SELECT r.datanet_id, k, r.id FROM records r, unnest(r.bands) AS k;
CREATE INDEX record_bands_key ON record_bands (datanet_id, band_key);
CREATE INDEX record_bands_record ON record_bands (record_id);
DROP INDEX records_bands;
ALTER TABLE records DROP COLUMN bands;
