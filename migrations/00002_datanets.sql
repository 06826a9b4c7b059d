-- +goose Up

-- Append-only record of every moderation, role, access and review decision.
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id    BIGINT REFERENCES users(id),
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    before      JSONB,
    after       JSONB,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, created_at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, created_at);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE datanets (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug                TEXT NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 64),
    owner_id            BIGINT NOT NULL REFERENCES users(id),
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 3 AND 80),
    summary             TEXT NOT NULL DEFAULT '' CHECK (length(summary) <= 280),
    description         TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
    tags                TEXT[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 10),
    license             TEXT NOT NULL,
    schema_kind         TEXT NOT NULL CHECK (schema_kind IN ('documents', 'instruction', 'classification')),
    labels              TEXT[] NOT NULL DEFAULT '{}',
    visibility          TEXT NOT NULL CHECK (visibility IN ('public', 'permissioned', 'private')),
    contribution_policy TEXT NOT NULL CHECK (contribution_policy IN ('open', 'review')),
    status              TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'suspended')),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at        TIMESTAMPTZ,
    search              TSVECTOR NOT NULL DEFAULT ''::tsvector,
    CHECK (schema_kind <> 'classification' OR cardinality(labels) >= 2)
);
CREATE INDEX datanets_search ON datanets USING gin (search);
CREATE INDEX datanets_tags ON datanets USING gin (tags);
CREATE INDEX datanets_owner ON datanets (owner_id);

-- +goose StatementBegin
CREATE FUNCTION datanets_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search :=
        setweight(to_tsvector('english', NEW.name), 'A') ||
        setweight(to_tsvector('english', array_to_string(NEW.tags, ' ')), 'A') ||
        setweight(to_tsvector('english', NEW.summary), 'B') ||
        setweight(to_tsvector('english', NEW.description), 'C');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER datanets_search BEFORE INSERT OR UPDATE OF name, tags, summary, description ON datanets
    FOR EACH ROW EXECUTE FUNCTION datanets_search_update();

-- Invitees of private Datanets and reviewers chosen by the owner.
CREATE TABLE datanet_members (
    datanet_id BIGINT NOT NULL REFERENCES datanets(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL CHECK (role IN ('invitee', 'reviewer')),
    added_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (datanet_id, user_id, role)
);

CREATE TABLE contributions (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    datanet_id           BIGINT NOT NULL REFERENCES datanets(id),
    contributor_id       BIGINT NOT NULL REFERENCES users(id),
    source               TEXT NOT NULL CHECK (source IN ('file', 'form', 'api')),
    filename             TEXT NOT NULL DEFAULT '',
    blob_key             TEXT NOT NULL DEFAULT '',
    sha256               TEXT NOT NULL DEFAULT '',
    size_bytes           BIGINT NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'processing', 'in_review', 'accepted', 'rejected', 'failed')),
    progress_rows        BIGINT NOT NULL DEFAULT 0,
    accepted_count       BIGINT NOT NULL DEFAULT 0,
    duplicate_count      BIGINT NOT NULL DEFAULT 0,
    near_duplicate_count BIGINT NOT NULL DEFAULT 0,
    rejected_count       BIGINT NOT NULL DEFAULT 0,
    problems             JSONB NOT NULL DEFAULT '[]',
    review_reason        TEXT NOT NULL DEFAULT '',
    reviewed_by          BIGINT REFERENCES users(id),
    reviewed_at          TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX contributions_datanet ON contributions (datanet_id, created_at DESC);
CREATE INDEX contributions_contributor ON contributions (contributor_id, created_at DESC);

-- Records of a Datanet. Exact duplicates are impossible by construction:
-- the hash is unique within a Datanet. Records of a contribution in review
-- are 'pending' until accepted; a rejected contribution's records are
-- deleted, which frees their hashes.
CREATE TABLE records (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    datanet_id       BIGINT NOT NULL REFERENCES datanets(id),
    contribution_id  BIGINT NOT NULL REFERENCES contributions(id),
    contributor_id   BIGINT NOT NULL REFERENCES users(id),
    hash             TEXT NOT NULL CHECK (hash ~ '^0x[0-9a-f]{64}$'),
    canonical        TEXT NOT NULL,
    fields           JSONB NOT NULL,
    chars            INT NOT NULL,
    line             INT NOT NULL DEFAULT 0,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'accepted')),
    pii              JSONB NOT NULL DEFAULT '[]',
    minhash          BYTEA,
    near_dup_of      BIGINT REFERENCES records(id) ON DELETE SET NULL,
    near_dup_score   REAL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (datanet_id, hash)
);
CREATE INDEX records_contribution ON records (contribution_id, id);
CREATE INDEX records_datanet_accepted ON records (datanet_id, id) WHERE status = 'accepted';

-- MinHash LSH band keys: records sharing a band key are near-duplicate
-- candidates.
CREATE TABLE record_bands (
    datanet_id BIGINT NOT NULL,
    band_key   BIGINT NOT NULL,
    record_id  BIGINT NOT NULL REFERENCES records(id) ON DELETE CASCADE
);
CREATE INDEX record_bands_key ON record_bands (datanet_id, band_key);
CREATE INDEX record_bands_record ON record_bands (record_id);

CREATE TABLE datanet_versions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    datanet_id   BIGINT NOT NULL REFERENCES datanets(id),
    version      INT NOT NULL CHECK (version >= 1),
    record_count BIGINT NOT NULL,
    char_count   BIGINT NOT NULL,
    token_count  BIGINT NOT NULL,
    merkle_root  TEXT NOT NULL CHECK (merkle_root ~ '^0x[0-9a-f]{64}$'),
    shares       JSONB NOT NULL,
    created_by   BIGINT NOT NULL REFERENCES users(id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    anchor_tx    TEXT,
    UNIQUE (datanet_id, version)
);

-- A version's records, in Merkle leaf order. Immutable once written.
CREATE TABLE version_records (
    version_id BIGINT NOT NULL REFERENCES datanet_versions(id),
    leaf_index INT NOT NULL,
    record_id  BIGINT NOT NULL REFERENCES records(id),
    hash       TEXT NOT NULL,
    PRIMARY KEY (version_id, leaf_index)
);
CREATE UNIQUE INDEX version_records_hash ON version_records (version_id, hash);

-- +goose StatementBegin
CREATE FUNCTION versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'datanet_versions' AND TG_OP = 'UPDATE'
       AND (NEW.datanet_id, NEW.version, NEW.record_count, NEW.char_count, NEW.token_count, NEW.merkle_root, NEW.shares, NEW.created_by, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.datanet_id, OLD.version, OLD.record_count, OLD.char_count, OLD.token_count, OLD.merkle_root, OLD.shares, OLD.created_by, OLD.created_at) THEN
        RETURN NEW; -- only the on-chain anchor may be recorded later
    END IF;
    RAISE EXCEPTION 'published versions are immutable';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER datanet_versions_immutable BEFORE UPDATE OR DELETE ON datanet_versions
    FOR EACH ROW EXECUTE FUNCTION versions_immutable();
CREATE TRIGGER version_records_immutable BEFORE UPDATE OR DELETE ON version_records
    FOR EACH ROW EXECUTE FUNCTION versions_immutable();

CREATE TABLE access_requests (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    datanet_id   BIGINT NOT NULL REFERENCES datanets(id),
    requester_id BIGINT NOT NULL REFERENCES users(id),
    purpose      TEXT NOT NULL CHECK (length(purpose) BETWEEN 10 AND 2000),
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
    expires_at   TIMESTAMPTZ,
    decided_by   BIGINT REFERENCES users(id),
    decided_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One open request per person and Datanet.
CREATE UNIQUE INDEX access_requests_one_pending ON access_requests (datanet_id, requester_id) WHERE status = 'pending';
CREATE INDEX access_requests_datanet ON access_requests (datanet_id, created_at DESC);

-- +goose Down
DROP TABLE access_requests;
DROP TABLE version_records;
DROP TABLE datanet_versions;
DROP FUNCTION versions_immutable CASCADE;
DROP TABLE record_bands;
DROP TABLE records;
DROP TABLE contributions;
DROP TABLE datanet_members;
DROP TABLE datanets;
DROP FUNCTION datanets_search_update CASCADE;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only CASCADE;
