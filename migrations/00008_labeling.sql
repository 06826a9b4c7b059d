-- +goose Up

-- Label projects: annotation work over a Datanet's records, several
-- labelers per item (overlap), blind by default.
CREATE TABLE label_projects (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    datanet_id          BIGINT NOT NULL REFERENCES datanets(id),
    created_by          BIGINT NOT NULL REFERENCES users(id),
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 3 AND 80),
    task                TEXT NOT NULL CHECK (task IN ('classify', 'rate', 'correct')),
    labels              TEXT[] NOT NULL DEFAULT '{}',
    -- 'version': the records of one published version; 'incoming': every
    -- record accepted into the Datanet from the project's creation on.
    source              TEXT NOT NULL CHECK (source IN ('version', 'incoming')),
    version_id          BIGINT REFERENCES datanet_versions(id),
    guidelines          TEXT NOT NULL DEFAULT '' CHECK (length(guidelines) <= 20000),
    overlap             INT NOT NULL DEFAULT 3 CHECK (overlap BETWEEN 1 AND 10),
    blind               BOOLEAN NOT NULL DEFAULT true,
    access              TEXT NOT NULL DEFAULT 'signed_in' CHECK (access IN ('signed_in', 'invited')),
    -- Items whose majority share is below this go to adjudication.
    agreement_threshold REAL NOT NULL DEFAULT 0.6 CHECK (agreement_threshold BETWEEN 0 AND 1),
    lease_seconds       INT NOT NULL DEFAULT 300 CHECK (lease_seconds BETWEEN 30 AND 3600),
    reward_wei          NUMERIC(78,0) NOT NULL DEFAULT 0 CHECK (reward_wei >= 0),
    status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((source = 'version') = (version_id IS NOT NULL)),
    CHECK (task <> 'classify' OR cardinality(labels) >= 2)
);
CREATE INDEX label_projects_datanet ON label_projects (datanet_id);

-- Labelers invited to an invite-only project.
CREATE TABLE label_project_members (
    project_id BIGINT NOT NULL REFERENCES label_projects(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id),
    added_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);

-- One record to label in one project. state: open (collecting labels),
-- review (tied, below the agreement threshold, or disagreeing corrections:
-- waiting for a reviewer), done (final answer known). applied_record_id is
-- the record that carries the result after write-back.
CREATE TABLE label_items (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id        BIGINT NOT NULL REFERENCES label_projects(id) ON DELETE CASCADE,
    record_id         BIGINT NOT NULL REFERENCES records(id),
    state             TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'review', 'done')),
    label_count       INT NOT NULL DEFAULT 0,
    final             JSONB,
    agreement         REAL,
    tied              BOOLEAN NOT NULL DEFAULT false,
    decided_by        BIGINT REFERENCES users(id),
    decided_at        TIMESTAMPTZ,
    applied_at        TIMESTAMPTZ,
    applied_record_id BIGINT REFERENCES records(id),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (project_id, record_id)
);
CREATE INDEX label_items_review ON label_items (project_id, id) WHERE state = 'review';

-- Each item has exactly overlap slots: a slot is free, leased to a labeler
-- until lease_expires, or filled with a label. The slot row is the unit
-- that "next" locks (FOR UPDATE SKIP LOCKED), so an item can never hold
-- more labels plus live leases than its overlap. An expired lease is a
-- free slot again. token is the lease: a submit names it, so a repeated
-- submit finds the label it already made.
CREATE TABLE label_slots (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    BIGINT NOT NULL REFERENCES label_projects(id) ON DELETE CASCADE,
    item_id       BIGINT NOT NULL REFERENCES label_items(id) ON DELETE CASCADE,
    slot          INT NOT NULL,
    user_id       BIGINT REFERENCES users(id),
    token         UUID,
    leased_at     TIMESTAMPTZ,
    lease_expires TIMESTAMPTZ,
    filled        BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (item_id, slot)
);
CREATE UNIQUE INDEX label_slots_token ON label_slots (token);
-- The pool: free or leased slots of a project, in item order.
CREATE INDEX label_slots_pool ON label_slots (project_id, item_id) WHERE NOT filled;
CREATE INDEX label_slots_user ON label_slots (user_id, project_id) WHERE user_id IS NOT NULL;

-- Submitted labels. value: classify {"label"}, rate {"rating","flags"},
-- correct {"response"}. accepted is set when the item's answer is final:
-- true when the label agrees with it.
CREATE TABLE labels (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id   BIGINT NOT NULL REFERENCES label_projects(id) ON DELETE CASCADE,
    item_id      BIGINT NOT NULL REFERENCES label_items(id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users(id),
    token        UUID NOT NULL UNIQUE,
    value        JSONB NOT NULL,
    leased_at    TIMESTAMPTZ NOT NULL,
    submitted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    accepted     BOOLEAN,
    UNIQUE (item_id, user_id)
);
CREATE INDEX labels_user ON labels (user_id, project_id, submitted_at DESC);
CREATE INDEX labels_project ON labels (project_id, item_id);

-- Items a labeler skipped (never offered to them again).
CREATE TABLE label_skips (
    item_id    BIGINT NOT NULL REFERENCES label_items(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id),
    reason     TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, user_id)
);

-- Labeling write-back never edits a record that a published version may
-- hold: the corrected record is a new row (new hash) that names the record
-- it replaces, and the old row becomes 'superseded', which keeps it out of
-- future versions while old versions still reach it through
-- version_records.record_id.
ALTER TABLE records DROP CONSTRAINT records_status_check;
ALTER TABLE records ADD CONSTRAINT records_status_check CHECK (status IN ('pending', 'accepted', 'superseded'));
ALTER TABLE records ADD COLUMN replaces BIGINT REFERENCES records(id);
CREATE INDEX records_replaces ON records (replaces) WHERE replaces IS NOT NULL;
-- (00009_moderation redefines records_status_check; it keeps 'superseded'.)

-- Superseded is final: an operation that would make a superseded record
-- accepted again (restoring a removed or held contribution, say) leaves it
-- superseded, so a Datanet never holds both a record and its replacement.
-- +goose StatementBegin
CREATE FUNCTION records_superseded_sticky() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM records n WHERE n.replaces = NEW.id) THEN
        NEW.status := 'superseded';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER records_superseded_sticky BEFORE UPDATE OF status ON records
    FOR EACH ROW WHEN (NEW.status = 'accepted' AND OLD.status <> 'accepted')
    EXECUTE FUNCTION records_superseded_sticky();

-- Incoming projects: records accepted into the Datanet become items of its
-- open incoming projects, whether inserted accepted (open contributions) or
-- accepted later by a reviewer. Replacement records written by labeling
-- itself are not labeled again. Statement-level, so an ingest of many rows
-- costs one join.
-- +goose StatementBegin
CREATE FUNCTION label_items_add(recs BIGINT[]) RETURNS void LANGUAGE sql AS $$
    WITH added AS (
        INSERT INTO label_items (project_id, record_id)
        SELECT p.id, r.id FROM records r
        JOIN label_projects p ON p.datanet_id = r.datanet_id AND p.source = 'incoming' AND p.status = 'open'
        WHERE r.id = ANY (recs)
        ON CONFLICT (project_id, record_id) DO NOTHING
        RETURNING id, project_id)
    INSERT INTO label_slots (project_id, item_id, slot)
    SELECT a.project_id, a.id, g FROM added a JOIN label_projects p ON p.id = a.project_id, generate_series(1, p.overlap) g;
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION label_items_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    recs BIGINT[];
BEGIN
    SELECT array_agg(n.id) INTO recs FROM new_rows n
    WHERE n.status = 'accepted' AND n.replaces IS NULL
      AND EXISTS (SELECT 1 FROM label_projects p WHERE p.datanet_id = n.datanet_id AND p.source = 'incoming' AND p.status = 'open');
    IF recs IS NOT NULL THEN
        PERFORM label_items_add(recs);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION label_items_accepted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    recs BIGINT[];
BEGIN
    SELECT array_agg(n.id) INTO recs FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status = 'accepted' AND o.status <> 'accepted' AND n.replaces IS NULL
      AND EXISTS (SELECT 1 FROM label_projects p WHERE p.datanet_id = n.datanet_id AND p.source = 'incoming' AND p.status = 'open');
    IF recs IS NOT NULL THEN
        PERFORM label_items_add(recs);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER records_label_incoming_insert AFTER INSERT ON records
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION label_items_inserted();
CREATE TRIGGER records_label_incoming_update AFTER UPDATE ON records
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION label_items_accepted();

-- +goose Down
DROP TRIGGER records_label_incoming_update ON records;
DROP TRIGGER records_label_incoming_insert ON records;
DROP FUNCTION label_items_accepted;
DROP FUNCTION label_items_inserted;
DROP FUNCTION label_items_add;
DROP TRIGGER records_superseded_sticky ON records;
DROP FUNCTION records_superseded_sticky;
ALTER TABLE records DROP COLUMN replaces;
ALTER TABLE records DROP CONSTRAINT records_status_check;
ALTER TABLE records ADD CONSTRAINT records_status_check CHECK (status IN ('pending', 'accepted'));
DROP TABLE label_skips;
DROP TABLE labels;
DROP TABLE label_slots;
DROP TABLE label_items;
DROP TABLE label_project_members;
DROP TABLE label_projects;
