-- Schema version 19: the change log live pages follow (issue 19), and the
-- campaigns' daily counts their burn-down charts are drawn from.
--
-- `change_events`: one row each time a campaign machine is added, changes
-- state, is answered (again), is handed to someone else or has its
-- exception decided, written by triggers inside the statement that made the
-- change, so every process and every channel (a worker recording a Matrix
-- vote, an e-mail link served by another replica) appears in it. Ids only
-- grow (AUTOINCREMENT: never reused after old rows are pruned), so a page
-- that lost its stream resumes from the last id it saw.
CREATE TABLE change_events (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    at                 BIGINT NOT NULL,
    campaign_id        BIGINT NOT NULL,
    machine_id         BIGINT NOT NULL,
    recipient          TEXT NOT NULL,
    previous_recipient TEXT,
    state              TEXT NOT NULL,
    answer             TEXT
);
CREATE INDEX change_events_at ON change_events (at);

CREATE TRIGGER change_events_on_insert AFTER INSERT ON campaign_machines
FOR EACH ROW
BEGIN
    INSERT INTO change_events (at, campaign_id, machine_id, recipient, state, answer)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), NEW.campaign_id, NEW.machine_id,
            NEW.recipient, NEW.state, NEW.answer);
END;

CREATE TRIGGER change_events_on_update
AFTER UPDATE OF state, answer, answered_at, recipient, exception_state ON campaign_machines
FOR EACH ROW WHEN OLD.state IS NOT NEW.state OR OLD.answer IS NOT NEW.answer
    OR OLD.answered_at IS NOT NEW.answered_at OR OLD.recipient IS NOT NEW.recipient
    OR OLD.exception_state IS NOT NEW.exception_state
BEGIN
    INSERT INTO change_events
        (at, campaign_id, machine_id, recipient, previous_recipient, state, answer)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), NEW.campaign_id, NEW.machine_id,
            NEW.recipient, CASE WHEN OLD.recipient IS NOT NEW.recipient THEN OLD.recipient END,
            NEW.state, NEW.answer);
END;

-- A campaign's machines a page at a time, in host order (the campaign
-- page, its filters and exports).
CREATE INDEX campaign_machines_host ON campaign_machines (campaign_id, host_key);

-- A campaign's counts at the end of each day (UTC) it was followed: the
-- burn-down survives restarts, and days before this table existed are
-- rebuilt from the answers.
CREATE TABLE campaign_days (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    day         TEXT NOT NULL,
    targets     BIGINT NOT NULL,
    open        BIGINT NOT NULL,
    answered    BIGINT NOT NULL,
    resolved    BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, day)
);
