-- Schema version 3: campaigns, their target machines and answers, and the
-- outbox every message goes through. Times are microseconds since the epoch.

-- A campaign as created from its TOML file (kept verbatim in `spec`).
CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,                 -- 'eol' | 'custom'
    state       TEXT NOT NULL,                 -- 'draft' | 'running' | 'paused' | 'closed'
    spec        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    started_at  BIGINT,
    closed_at   BIGINT
);

-- One row per machine a campaign asks about. `recipient` is who is asked
-- now: a login, or 'group:NAME' for a fallback group.
CREATE TABLE campaign_machines (
    campaign_id     BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    machine_id      BIGINT NOT NULL,
    host_key        TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    state           TEXT NOT NULL,             -- 'open' | 'answered' | 'resolved'
    answer          TEXT,                      -- answer kind, NULL while unanswered
    answer_date     TEXT,                      -- YYYY-MM-DD the answer names (upgrade by, ESU until, exception until)
    answer_detail   TEXT,                      -- justification, new owner's login, or comment
    answered_by     TEXT,
    answered_at     BIGINT,
    resolution      TEXT,                      -- why it is resolved ('upgraded', 'decommissioned', 'fixed')
    resolved_at     BIGINT,
    messages        BIGINT NOT NULL DEFAULT 0,  -- digests that listed it
    reminders       BIGINT NOT NULL DEFAULT 0,  -- of which reminders since the last answer
    escalation      BIGINT NOT NULL DEFAULT 0,  -- steps taken up the escalation chain
    last_messaged   BIGINT,
    added_at        BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, machine_id)
);
CREATE INDEX campaign_machines_recipient ON campaign_machines (recipient, state);

-- Every answer ever given (the machine row keeps the latest).
CREATE TABLE campaign_answers (
    id          INTEGER PRIMARY KEY,
    campaign_id BIGINT NOT NULL,
    machine_id  BIGINT NOT NULL,
    answer      TEXT NOT NULL,
    answer_date TEXT,
    detail      TEXT,
    comment     TEXT,
    answered_by TEXT NOT NULL,
    via         TEXT NOT NULL,                 -- 'email' | 'matrix' | 'mattermost' | 'cli'
    at          BIGINT NOT NULL
);
CREATE INDEX campaign_answers_machine ON campaign_answers (campaign_id, machine_id);

-- The outbox: written in the transaction that decides a message, read by the
-- delivery worker. `idem_key` (campaign(s), wave, person, channel) makes a
-- message unique; `message_id` is derived from it, so a message sent twice
-- (a crash between the server's acceptance and `sent_at`) is recognisable.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    idem_key        TEXT NOT NULL UNIQUE,
    message_id      TEXT NOT NULL,
    channel         TEXT NOT NULL,             -- 'email' | 'matrix' | 'mattermost'
    recipient       TEXT NOT NULL,             -- login or 'group:NAME'
    address         TEXT NOT NULL,             -- email address, Matrix ID, ...
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT,
    state           TEXT NOT NULL,             -- 'pending' | 'sent' | 'failed' | 'cancelled'
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,           -- also the lease of a claimed message
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

-- The campaigns a message speaks for (a digest merges a person's campaigns).
-- A message none of whose campaigns is running waits; a test send has none.
CREATE TABLE outbox_campaigns (
    outbox_id   BIGINT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    PRIMARY KEY (outbox_id, campaign_id)
);
CREATE INDEX outbox_campaigns_campaign ON outbox_campaigns (campaign_id);

-- Process-wide switches that survive a restart (`pause --all`).
CREATE TABLE control (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
