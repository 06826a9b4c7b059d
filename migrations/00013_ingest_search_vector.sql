-- +goose Up

-- The record search vector was a generated column, so the backend inserting
-- a contribution's records also ran the English text-search parser and
-- stemmer on each of them, the largest single cost of an ingest. Ingest now
-- computes the vectors on a second connection (another backend, so another
-- CPU) while the first one inserts, and copies them in with the records.
-- The vector stays exactly to_tsvector('english', fields): a trigger fills
-- it for any insert that leaves it out and recomputes it whenever the
-- fields change (fix-and-accept, label write-back).
ALTER TABLE records ALTER COLUMN search DROP EXPRESSION;

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

-- +goose Down
DROP TRIGGER records_search_update ON records;
DROP TRIGGER records_search_insert ON records;
DROP FUNCTION records_search_vector;
DROP INDEX records_search;
ALTER TABLE records DROP COLUMN search;
ALTER TABLE records
    ADD COLUMN search TSVECTOR GENERATED ALWAYS AS (to_tsvector('english'::regconfig, fields)) STORED;
CREATE INDEX records_search ON records USING gin (search) WHERE status = 'accepted';
