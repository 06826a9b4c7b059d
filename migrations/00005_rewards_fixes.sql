-- +goose Up

-- Settling an epoch updates every unsettled entry; calling PL/pgSQL for each
-- of a million rows only to learn the update is allowed costs seconds. The
-- same rule as a WHEN condition is evaluated without entering the function,
-- which now runs only to refuse a forbidden change.
DROP TRIGGER reward_entries_immutable ON reward_entries;
CREATE TRIGGER reward_entries_immutable BEFORE UPDATE ON reward_entries
    FOR EACH ROW
    WHEN (OLD.epoch IS NOT NULL
          OR (NEW.id, NEW.account, NEW.amount, NEW.source, NEW.reference, NEW.reason, NEW.created_by, NEW.created_at)
             IS DISTINCT FROM (OLD.id, OLD.account, OLD.amount, OLD.source, OLD.reference, OLD.reason, OLD.created_by, OLD.created_at))
    EXECUTE FUNCTION reward_entries_settle_once();
CREATE TRIGGER reward_entries_never_deleted BEFORE DELETE ON reward_entries
    FOR EACH ROW EXECUTE FUNCTION reward_entries_settle_once();

-- A journal row that was never signed can fail for good (the work it was
-- for is already on chain): failed then has no nonce and no hash. The rule
-- "no nonce exactly while intent" made FailChainTx impossible.
ALTER TABLE chain_txs DROP CONSTRAINT chain_txs_check, DROP CONSTRAINT chain_txs_check1;
ALTER TABLE chain_txs ADD CONSTRAINT chain_txs_signed_has_nonce CHECK (
    CASE status
        WHEN 'intent' THEN nonce IS NULL
        WHEN 'failed' THEN (nonce IS NULL) = (tx_hash IS NULL)
        ELSE nonce IS NOT NULL AND tx_hash IS NOT NULL
    END);

-- +goose Down
ALTER TABLE chain_txs DROP CONSTRAINT chain_txs_signed_has_nonce;
ALTER TABLE chain_txs ADD CHECK ((status = 'intent') = (nonce IS NULL)),
    ADD CHECK (status IN ('intent') OR tx_hash IS NOT NULL);
DROP TRIGGER reward_entries_never_deleted ON reward_entries;
DROP TRIGGER reward_entries_immutable ON reward_entries;
CREATE TRIGGER reward_entries_immutable BEFORE UPDATE OR DELETE ON reward_entries
    FOR EACH ROW EXECUTE FUNCTION reward_entries_settle_once();
