-- Schema version 17: API tokens of the site's own (issue 18). Only a
-- SHA-256 hash of each secret is kept; a revoked token keeps its row (and
-- its name) for the audit. `access_revision` grows at every revocation, so
-- every process that caches tokens knows to drop its cache.
CREATE TABLE api_tokens (
    name         TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

CREATE TABLE access_revision (
    revision BIGINT NOT NULL
);
INSERT INTO access_revision (revision) VALUES (0);
