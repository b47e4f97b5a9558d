-- Schema version 18: sign-in sessions kept server-side (any replica serves
-- them, an admin revokes them), and the sign-ins under way between
-- /auth/login and /auth/callback (state, nonce, PKCE verifier), each
-- usable once. Only SHA-256 hashes of the session cookie and of the state
-- are stored.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    secret_hash  TEXT NOT NULL UNIQUE,
    login        TEXT NOT NULL,
    roles        TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    id_token     TEXT,
    origin       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX sessions_login ON sessions (login);

CREATE TABLE sign_in_attempts (
    state_hash TEXT PRIMARY KEY,
    nonce      TEXT NOT NULL,
    verifier   TEXT NOT NULL,
    return_to  TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
