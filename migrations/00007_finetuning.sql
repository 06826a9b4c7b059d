-- +goose Up

-- The base-model catalog: the built-in starter model and models that admins
-- import from a local path, an S3 URL or a Hugging Face repository. Files
-- live in object storage under blob_prefix; content_hash is the model's
-- identity on chain (ProvenanceRegistry baseModelHash).
CREATE TABLE base_models (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug           TEXT NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+([.-][a-z0-9]+)*$' AND length(slug) <= 96),
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    source         TEXT NOT NULL CHECK (source IN ('builtin', 'local', 's3', 'huggingface')),
    source_uri     TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'importing' CHECK (status IN ('importing', 'ready', 'failed')),
    error          TEXT NOT NULL DEFAULT '',
    architecture   TEXT NOT NULL DEFAULT '',          -- config.json model_type: gpt2, llama, …
    param_count    BIGINT NOT NULL DEFAULT 0 CHECK (param_count >= 0),
    size_bytes     BIGINT NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    context_length INT NOT NULL DEFAULT 0 CHECK (context_length >= 0),
    config         JSONB NOT NULL DEFAULT '{}',       -- the model's config.json as imported
    license        TEXT NOT NULL DEFAULT '',
    -- The native CPU trainer can train it (GPT-2 architecture, fits this
    -- deployment); otherwise it needs a train_gpu worker.
    trainable_cpu  BOOLEAN NOT NULL DEFAULT false,
    blob_prefix    TEXT NOT NULL DEFAULT '',
    files          JSONB NOT NULL DEFAULT '[]',       -- [{"name","size","sha256"}]
    content_hash   TEXT NOT NULL DEFAULT '' CHECK (content_hash = '' OR content_hash ~ '^0x[0-9a-f]{64}$'),
    imported_by    BIGINT REFERENCES users(id),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Saved fine-tune configurations ("Save as template").
CREATE TABLE finetune_templates (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id   BIGINT NOT NULL REFERENCES users(id),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    settings   JSONB NOT NULL,                        -- the wizard's fields
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (owner_id, name)
);

-- A fine-tune run. Launching inserts the run and its River job in one
-- transaction. settings holds every trainer option after validation.
CREATE TABLE finetune_runs (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id            BIGINT NOT NULL REFERENCES users(id),
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    base_model_id       BIGINT NOT NULL REFERENCES base_models(id),
    method              TEXT NOT NULL CHECK (method IN ('lora', 'full')),
    preset              TEXT NOT NULL DEFAULT 'custom' CHECK (preset IN ('quick', 'balanced', 'thorough', 'custom')),
    settings            JSONB NOT NULL,
    backend             TEXT NOT NULL CHECK (backend IN ('native', 'llamafactory')),
    queue               TEXT NOT NULL CHECK (queue IN ('train_cpu', 'train_gpu')),
    priority            SMALLINT NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 4),
    status              TEXT NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled')),
    error               TEXT NOT NULL DEFAULT '',
    cancel_requested_at TIMESTAMPTZ,
    attempt             INT NOT NULL DEFAULT 0,
    worker              TEXT NOT NULL DEFAULT '',     -- host that holds the run now
    heartbeat_at        TIMESTAMPTZ,
    checkpoint_key      TEXT NOT NULL DEFAULT '',     -- object key of the latest checkpoint
    step                INT NOT NULL DEFAULT 0,
    total_steps         INT NOT NULL DEFAULT 0,
    progress            JSONB,                        -- latest trainer_log.jsonl line
    metrics             JSONB NOT NULL DEFAULT '{}',  -- final: train/val loss, perplexity before/after…
    train_records       BIGINT NOT NULL DEFAULT 0,
    val_records         BIGINT NOT NULL DEFAULT 0,
    estimated_tokens    BIGINT NOT NULL DEFAULT 0,
    estimated_seconds   INT NOT NULL DEFAULT 0,
    river_job_id        BIGINT,
    deleted_at          TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at          TIMESTAMPTZ,
    finished_at         TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX finetune_runs_owner ON finetune_runs (owner_id, created_at DESC);
CREATE INDEX finetune_runs_active ON finetune_runs (queue, priority, created_at) WHERE status IN ('queued', 'running', 'cancelling');

-- The Datanet versions a run trains on (immutable snapshots, never the live
-- Datanet).
CREATE TABLE finetune_run_data (
    run_id     BIGINT NOT NULL REFERENCES finetune_runs(id) ON DELETE CASCADE,
    version_id BIGINT NOT NULL REFERENCES datanet_versions(id),
    PRIMARY KEY (run_id, version_id)
);

-- What a run page replays and streams: progress lines, log lines, sample
-- generations at evaluations, status changes, early-stop explanations.
CREATE TABLE finetune_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     BIGINT NOT NULL REFERENCES finetune_runs(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('progress', 'log', 'sample', 'status', 'early_stop')),
    step       INT NOT NULL DEFAULT 0,
    data       JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX finetune_events_run ON finetune_events (run_id, id);
-- A resumed run replays steps it already reported; one progress row per step.
CREATE UNIQUE INDEX finetune_events_progress_step ON finetune_events (run_id, step) WHERE kind = 'progress';

-- Fine-tuned models: one per successful run. A model keeps its own artefact
-- keys, so deleting the run never loses what a published model needs.
CREATE TABLE models (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 96),
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    owner_id        BIGINT NOT NULL REFERENCES users(id),
    run_id          BIGINT UNIQUE REFERENCES finetune_runs(id) ON DELETE SET NULL,
    base_model_id   BIGINT NOT NULL REFERENCES base_models(id),
    method          TEXT NOT NULL CHECK (method IN ('lora', 'full')),
    settings        JSONB NOT NULL DEFAULT '{}',
    metrics         JSONB NOT NULL DEFAULT '{}',
    -- PEFT adapter (adapter_model.safetensors + adapter_config.json) under
    -- adapter_prefix; the merged model (config.json, model.safetensors,
    -- tokenizer files) under merged_prefix. Hashes are 0x SHA-256 of the
    -- safetensors files.
    adapter_prefix  TEXT NOT NULL DEFAULT '',
    adapter_files   JSONB NOT NULL DEFAULT '[]',      -- [{"name","size","sha256"}]
    adapter_hash    TEXT NOT NULL DEFAULT '' CHECK (adapter_hash = '' OR adapter_hash ~ '^0x[0-9a-f]{64}$'),
    merged_prefix   TEXT NOT NULL DEFAULT '',
    merged_files    JSONB NOT NULL DEFAULT '[]',
    merged_hash     TEXT NOT NULL DEFAULT '' CHECK (merged_hash = '' OR merged_hash ~ '^0x[0-9a-f]{64}$'),
    visibility      TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'unlisted', 'public')),
    published_at    TIMESTAMPTZ,
    -- Inference price per 1,000 tokens, in OPEN wei.
    price_per_1k    NUMERIC(78,0) NOT NULL DEFAULT 0 CHECK (price_per_1k >= 0),
    registry_tx     TEXT,                             -- ProvenanceRegistry registration tx hash
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX models_owner ON models (owner_id, created_at DESC);
CREATE INDEX models_public ON models (published_at DESC) WHERE visibility = 'public' AND status = 'active';

CREATE TABLE model_data (
    model_id   BIGINT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    version_id BIGINT NOT NULL REFERENCES datanet_versions(id),
    PRIMARY KEY (model_id, version_id)
);

-- +goose Down
DROP TABLE model_data;
DROP TABLE models;
DROP TABLE finetune_events;
DROP TABLE finetune_run_data;
DROP TABLE finetune_runs;
DROP TABLE finetune_templates;
DROP TABLE base_models;
