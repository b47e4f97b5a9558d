-- Schema version 7: every chat command and its outcome (who, through which
-- channel, what they asked, whether it was allowed, what it did).
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      BIGINT NOT NULL,
    channel TEXT NOT NULL,      -- 'matrix' | 'mattermost'
    actor   TEXT NOT NULL,      -- login, or the chat ID of a stranger
    command TEXT NOT NULL,      -- as typed
    outcome TEXT NOT NULL       -- 'done: ...' | 'refused: ...' | 'error: ...'
);
CREATE INDEX audit_log_at ON audit_log (at);
