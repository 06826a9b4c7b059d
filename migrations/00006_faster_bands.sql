-- +goose Up
-- The per-row foreign key on record_bands cost a trigger call for each of
-- the 20 band rows of every ingested record (about a third of ingest time).
-- The store deletes a record's bands explicitly wherever it deletes
-- records, which is what the cascade did.
ALTER TABLE record_bands DROP CONSTRAINT record_bands_record_id_fkey;

-- +goose Down
ALTER TABLE record_bands ADD CONSTRAINT record_bands_record_id_fkey
    FOREIGN KEY (record_id) REFERENCES records(id) ON DELETE CASCADE;
