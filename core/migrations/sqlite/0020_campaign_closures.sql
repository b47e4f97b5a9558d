-- Schema version 20: each span of time a campaign machine was not open, so
-- a burn-down rebuilt for days no count was kept sees a machine answered,
-- reopened and answered again as open in between (issue 19), and days can
-- be cut in the campaign's time zone.
--
-- `campaign_machines.reopened_at`: when the machine last went back to
-- `open` (its answer was contradicted by a later snapshot, or it was handed
-- to someone else), set by the statement that reopens it.
-- `campaign_closures`: one row each time a machine left `open` (closed_at:
-- its answer's or resolution's time), ended when it went back (reopened_at),
-- written by triggers inside the statement that made the change.
ALTER TABLE campaign_machines ADD COLUMN reopened_at BIGINT;

CREATE TABLE campaign_closures (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    machine_id  BIGINT NOT NULL,
    closed_at   BIGINT NOT NULL,
    reopened_at BIGINT
);
CREATE INDEX campaign_closures_machine ON campaign_closures (campaign_id, machine_id);

-- What was closed before this table: from its first answer, or its
-- resolution if that came first (when it may have been reopened since is
-- not known).
INSERT INTO campaign_closures (campaign_id, machine_id, closed_at)
SELECT cm.campaign_id, cm.machine_id,
       COALESCE(CASE WHEN f.first_answer IS NULL THEN cm.resolved_at
                     WHEN cm.resolved_at IS NOT NULL AND cm.resolved_at < f.first_answer
                     THEN cm.resolved_at ELSE f.first_answer END,
                cm.answered_at, cm.added_at)
FROM campaign_machines cm
LEFT JOIN (SELECT campaign_id, machine_id, MIN(at) AS first_answer FROM campaign_answers
           GROUP BY campaign_id, machine_id) f
       ON f.campaign_id = cm.campaign_id AND f.machine_id = cm.machine_id
WHERE cm.state <> 'open';

CREATE TRIGGER campaign_closures_on_insert AFTER INSERT ON campaign_machines
FOR EACH ROW WHEN NEW.state <> 'open'
BEGIN
    INSERT INTO campaign_closures (campaign_id, machine_id, closed_at)
    VALUES (NEW.campaign_id, NEW.machine_id,
            COALESCE(NEW.resolved_at, NEW.answered_at, NEW.added_at));
END;

CREATE TRIGGER campaign_closures_on_close AFTER UPDATE OF state ON campaign_machines
FOR EACH ROW WHEN OLD.state = 'open' AND NEW.state <> 'open'
BEGIN
    INSERT INTO campaign_closures (campaign_id, machine_id, closed_at)
    VALUES (NEW.campaign_id, NEW.machine_id,
            COALESCE(CASE WHEN NEW.state = 'resolved' THEN NEW.resolved_at
                          ELSE NEW.answered_at END,
                     CAST(unixepoch('subsec') * 1000000 AS INTEGER)));
END;

CREATE TRIGGER campaign_closures_on_reopen AFTER UPDATE OF state ON campaign_machines
FOR EACH ROW WHEN OLD.state <> 'open' AND NEW.state = 'open'
BEGIN
    UPDATE campaign_closures
    SET reopened_at = COALESCE(NEW.reopened_at, CAST(unixepoch('subsec') * 1000000 AS INTEGER))
    WHERE campaign_id = NEW.campaign_id AND machine_id = NEW.machine_id
      AND reopened_at IS NULL;
END;
