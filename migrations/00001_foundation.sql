-- +goose Up

-- Wallets that have signed in. The address is stored EIP-55 checksummed;
-- address_lower makes lookups case-insensitive and unique.
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address       TEXT NOT NULL CHECK (address ~ '^0x[0-9a-fA-F]{40}$'),
    address_lower TEXT GENERATED ALWAYS AS (lower(address)) STORED UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    banned_at     TIMESTAMPTZ
);

-- Roles granted by admins. Admins from MF_ADMIN_ADDRESSES are not stored:
-- config decides them at request time, so removing an address from config
-- revokes the role.
CREATE TABLE user_roles (
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('labeler', 'reviewer', 'admin')),
    granted_by BIGINT REFERENCES users(id),
    granted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role)
);

-- Single-use SIWE nonces. A nonce is consumed by deleting it, so two
-- concurrent verifications of the same message cannot both succeed.
CREATE TABLE siwe_nonces (
    nonce      TEXT PRIMARY KEY CHECK (nonce ~ '^[A-Za-z0-9]{8,64}$'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX siwe_nonces_expires_at ON siwe_nonces (expires_at);

-- Browser sessions. Only the SHA-256 of the cookie value is stored.
CREATE TABLE sessions (
    id_hash      BYTEA PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    user_agent   TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Personal access tokens for the API. Only the SHA-256 of the secret is
-- stored; prefix lets people recognise a token in the list.
CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    CHECK (expires_at > created_at)
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- +goose Down
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE siwe_nonces;
DROP TABLE user_roles;
DROP TABLE users;
