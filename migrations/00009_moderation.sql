-- +goose Up

-- Moderation: reports, the statuses moderation actions move things to, and
-- in-app notifications.

-- Records an admin removed stop being served and never enter a new version;
-- the row stays because published versions (and their Merkle proofs) refer
-- to it by hash. See docs/moderation.md.
ALTER TABLE records DROP CONSTRAINT records_status_check;
ALTER TABLE records ADD CONSTRAINT records_status_check CHECK (status IN ('pending', 'accepted', 'removed', 'superseded'));

-- 'held': a banned wallet's contribution waits, untouched, until an unban
-- releases it to prior_status. 'removed': an admin took it down; restore
-- returns it to prior_status.
ALTER TABLE contributions DROP CONSTRAINT contributions_status_check;
ALTER TABLE contributions ADD CONSTRAINT contributions_status_check
    CHECK (status IN ('pending', 'processing', 'in_review', 'accepted', 'rejected', 'failed', 'held', 'removed'));
ALTER TABLE contributions ADD COLUMN prior_status TEXT
    CHECK (prior_status IS NULL OR prior_status IN ('in_review', 'accepted', 'rejected', 'failed', 'held'));
CREATE INDEX contributions_held ON contributions (contributor_id) WHERE status = 'held';

-- A report by a signed-in wallet about a Datanet, record, contribution or
-- model. target_id is the canonical form of the target (see
-- store/moderation.go): a slug, "0xhash@slug" or a contribution number.
CREATE TABLE reports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reporter_id BIGINT NOT NULL REFERENCES users(id),
    target_type TEXT NOT NULL CHECK (target_type IN ('datanet', 'record', 'contribution', 'model')),
    target_id   TEXT NOT NULL CHECK (length(target_id) BETWEEN 1 AND 200),
    category    TEXT NOT NULL CHECK (category IN ('spam', 'illegal', 'personal_data', 'copyright', 'harmful', 'low_quality', 'other')),
    details     TEXT NOT NULL DEFAULT '' CHECK (length(details) <= 2000),
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed', 'actioned')),
    resolution  TEXT NOT NULL DEFAULT '',
    resolved_by BIGINT REFERENCES users(id),
    resolved_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One open report per wallet and target: reporting twice is not louder.
CREATE UNIQUE INDEX reports_one_open ON reports (reporter_id, target_type, target_id) WHERE status = 'open';
CREATE INDEX reports_target ON reports (target_type, target_id, status);
CREATE INDEX reports_open ON reports (created_at) WHERE status = 'open';

-- In-app notifications (moderation decisions, for now).
CREATE TABLE notifications (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    title      TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body       TEXT NOT NULL DEFAULT '' CHECK (length(body) <= 4000),
    href       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    read_at    TIMESTAMPTZ
);
CREATE INDEX notifications_user ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;

-- The audit page filters by action (and prefix) besides actor and target.
CREATE INDEX audit_log_action ON audit_log (action, id);

-- +goose Down
DROP INDEX audit_log_action;
DROP TABLE notifications;
DROP TABLE reports;
DROP INDEX contributions_held;
ALTER TABLE contributions DROP COLUMN prior_status;
ALTER TABLE contributions DROP CONSTRAINT contributions_status_check;
ALTER TABLE contributions ADD CONSTRAINT contributions_status_check
    CHECK (status IN ('pending', 'processing', 'in_review', 'accepted', 'rejected', 'failed'));
ALTER TABLE records DROP CONSTRAINT records_status_check;
ALTER TABLE records ADD CONSTRAINT records_status_check CHECK (status IN ('pending', 'accepted', 'superseded')); -- 'superseded' belongs to 00008_labeling
