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

-- Statement-level triggers with transition tables, like 0019's: one
-- set-based statement however many machines a statement changes.
CREATE FUNCTION campaign_closures_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO campaign_closures (campaign_id, machine_id, closed_at)
    SELECT n.campaign_id, n.machine_id, COALESCE(n.resolved_at, n.answered_at, n.added_at)
    FROM new_rows n WHERE n.state <> 'open';
    RETURN NULL;
END
$$;

CREATE TRIGGER campaign_closures_on_insert AFTER INSERT ON campaign_machines
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION campaign_closures_on_insert();

CREATE FUNCTION campaign_closures_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    now_us BIGINT := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
BEGIN
    INSERT INTO campaign_closures (campaign_id, machine_id, closed_at)
    SELECT n.campaign_id, n.machine_id,
           COALESCE(CASE WHEN n.state = 'resolved' THEN n.resolved_at ELSE n.answered_at END,
                    now_us)
    FROM new_rows n JOIN old_rows o
      ON o.campaign_id = n.campaign_id AND o.machine_id = n.machine_id
    WHERE o.state = 'open' AND n.state <> 'open';

    UPDATE campaign_closures c SET reopened_at = COALESCE(n.reopened_at, now_us)
    FROM new_rows n JOIN old_rows o
      ON o.campaign_id = n.campaign_id AND o.machine_id = n.machine_id
    WHERE o.state <> 'open' AND n.state = 'open'
      AND c.campaign_id = n.campaign_id AND c.machine_id = n.machine_id
      AND c.reopened_at IS NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER campaign_closures_on_update AFTER UPDATE ON campaign_machines
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION campaign_closures_on_update();
