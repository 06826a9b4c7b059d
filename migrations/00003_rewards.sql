-- +goose Up

-- Transaction journal: every transaction the server signs goes through here.
-- The intent is written before anything is signed; the nonce, the raw signed
-- transaction and its hash are written in the same database transaction as
-- the nonce assignment, before the first broadcast. A restarted process
-- re-broadcasts the stored bytes instead of signing anew, so a crash can
-- neither send a payment twice nor lose one.
CREATE TABLE chain_txs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Callers name what the transaction is for ("epoch:3:root"); a second
    -- intent with the same key returns the first one.
    intent_key    TEXT NOT NULL UNIQUE CHECK (length(intent_key) BETWEEN 1 AND 200),
    kind          TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 40),
    chain_id      BIGINT NOT NULL CHECK (chain_id > 0),
    sender        TEXT NOT NULL CHECK (sender ~ '^0x[0-9a-f]{40}$'),
    to_address    TEXT NOT NULL CHECK (to_address ~ '^0x[0-9a-f]{40}$'),
    value         NUMERIC(78,0) NOT NULL DEFAULT 0 CHECK (value >= 0),
    data          BYTEA NOT NULL DEFAULT '',
    gas_limit     BIGINT NOT NULL DEFAULT 0 CHECK (gas_limit >= 0),
    nonce         BIGINT CHECK (nonce >= 0),
    status        TEXT NOT NULL DEFAULT 'intent'
        CHECK (status IN ('intent', 'signed', 'broadcast', 'mined', 'confirmed', 'failed')),
    tx_hash       TEXT CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'), -- the latest attempt, or the one mined
    attempts      INT NOT NULL DEFAULT 0,
    block_number  BIGINT,
    block_hash    TEXT,
    gas_used      BIGINT,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    broadcast_at  TIMESTAMPTZ,
    confirmed_at  TIMESTAMPTZ,
    CHECK ((status = 'intent') = (nonce IS NULL)),
    CHECK (status IN ('intent') OR tx_hash IS NOT NULL)
);
-- One nonce per sender and chain: two journal rows can never be signed with
-- the same nonce.
CREATE UNIQUE INDEX chain_txs_nonce ON chain_txs (chain_id, sender, nonce) WHERE nonce IS NOT NULL;
CREATE INDEX chain_txs_pending ON chain_txs (id) WHERE status NOT IN ('confirmed', 'failed');

-- Every signed version of a journal row. Replacements (fee bumps) keep the
-- nonce, so at most one attempt of a row can ever be mined.
CREATE TABLE chain_tx_attempts (
    tx_id       BIGINT NOT NULL REFERENCES chain_txs(id),
    attempt     INT NOT NULL CHECK (attempt >= 1),
    nonce       BIGINT NOT NULL,
    tx_hash     TEXT NOT NULL UNIQUE CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
    raw_tx      BYTEA NOT NULL,
    gas_fee_cap NUMERIC(78,0) NOT NULL,
    gas_tip_cap NUMERIC(78,0) NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tx_id, attempt)
);

-- Reward epochs. An epoch settles every entry that was unsettled when it
-- opened; its Merkle root commits to every account's cumulative total.
CREATE TABLE reward_epochs (
    epoch            BIGINT PRIMARY KEY CHECK (epoch >= 1),
    status           TEXT NOT NULL DEFAULT 'settled' CHECK (status IN ('settled', 'built', 'final')),
    merkle_root      TEXT CHECK (merkle_root ~ '^0x[0-9a-f]{64}$'),
    total_cumulative NUMERIC(78,0) NOT NULL CHECK (total_cumulative >= 0),
    epoch_amount     NUMERIC(78,0) NOT NULL CHECK (epoch_amount > 0),
    account_count    BIGINT NOT NULL DEFAULT 0,
    fund_tx_id       BIGINT REFERENCES chain_txs(id),
    root_tx_id       BIGINT REFERENCES chain_txs(id),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    built_at         TIMESTAMPTZ,
    finalized_at     TIMESTAMPTZ,
    CHECK (status = 'settled' OR merkle_root IS NOT NULL),
    CHECK (status <> 'final' OR root_tx_id IS NOT NULL)
);

-- The reward ledger: integer wei, never floats. Balances are derived from
-- these rows. An entry is settled once (epoch set) and never changes again.
CREATE TABLE reward_entries (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account    TEXT NOT NULL CHECK (account ~ '^0x[0-9a-fA-F]{40}$'),
    amount     NUMERIC(78,0) NOT NULL CHECK (amount > 0 AND amount < 115792089237316195423570985008687907853269984665640564039457584007913129639936),
    source     TEXT NOT NULL CHECK (source IN ('grant', 'attribution', 'labeling')),
    reference  TEXT NOT NULL DEFAULT '' CHECK (length(reference) <= 200),
    reason     TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    created_by BIGINT REFERENCES users(id),
    epoch      BIGINT REFERENCES reward_epochs(epoch),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reward_entries_unsettled ON reward_entries (id) WHERE epoch IS NULL;
CREATE INDEX reward_entries_account ON reward_entries (account, epoch);
CREATE INDEX reward_entries_epoch ON reward_entries (epoch, account);

-- +goose StatementBegin
CREATE FUNCTION reward_entries_settle_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'reward entries are never deleted';
    END IF;
    IF OLD.epoch IS NOT NULL
       OR (NEW.id, NEW.account, NEW.amount, NEW.source, NEW.reference, NEW.reason, NEW.created_by, NEW.created_at)
          IS DISTINCT FROM (OLD.id, OLD.account, OLD.amount, OLD.source, OLD.reference, OLD.reason, OLD.created_by, OLD.created_at) THEN
        RAISE EXCEPTION 'a reward entry can only be settled, once';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER reward_entries_immutable BEFORE UPDATE OR DELETE ON reward_entries
    FOR EACH ROW EXECUTE FUNCTION reward_entries_settle_once();

-- Leaves of an epoch's tree: each account's cumulative total and its proof
-- (concatenated 32-byte hashes). Only the latest root on chain accepts
-- claims, so leaves of epochs older than the latest final one are pruned.
CREATE TABLE reward_leaves (
    epoch      BIGINT NOT NULL REFERENCES reward_epochs(epoch),
    account    TEXT NOT NULL,
    cumulative NUMERIC(78,0) NOT NULL CHECK (cumulative > 0),
    proof      BYTEA NOT NULL CHECK (length(proof) % 32 = 0),
    PRIMARY KEY (epoch, account)
);

-- Claims as the distributor's Claimed events report them: what the page
-- shows as claimed comes from the chain, never from the browser.
CREATE TABLE reward_claims (
    tx_hash      TEXT NOT NULL,
    log_index    INT NOT NULL,
    account      TEXT NOT NULL,
    amount       NUMERIC(78,0) NOT NULL,
    cumulative   NUMERIC(78,0) NOT NULL,
    epoch        BIGINT NOT NULL,
    block_number BIGINT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tx_hash, log_index)
);
CREATE INDEX reward_claims_account ON reward_claims (account, block_number);

-- How far an event scanner has read, per chain and contract.
CREATE TABLE chain_cursors (
    name       TEXT PRIMARY KEY,
    block      BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE chain_cursors;
DROP TABLE reward_claims;
DROP TABLE reward_leaves;
DROP TABLE reward_entries;
DROP FUNCTION reward_entries_settle_once CASCADE;
DROP TABLE reward_epochs;
DROP TABLE chain_tx_attempts;
DROP TABLE chain_txs;
