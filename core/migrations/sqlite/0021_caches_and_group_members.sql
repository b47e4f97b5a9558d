-- Schema version 21. `title_revision` grows whenever the matches of software
-- titles change (a rematch after a catalog change): a process that keeps
-- titles in memory (a machine's software list is title ids, read by the
-- API and the web pages) reads it with each list and drops its titles when
-- it moved. New titles need no bump: their ids are new. Titles are never
-- deleted.
CREATE TABLE title_revision (
    revision BIGINT NOT NULL
);
INSERT INTO title_revision (revision) VALUES (0);

-- The exception register walks a campaign's machines in host order looking
-- for the few with an exception: a partial index holds only those.
CREATE INDEX campaign_machines_exceptions ON campaign_machines (campaign_id, host_key)
    WHERE exception_state IS NOT NULL;

-- When each member of a group was last written to about a machine the
-- campaign asks the group about (`campaign_machines.last_messaged` is the
-- machine's, which is one person's only when a person is asked). A member
-- never written to about it is due a first message, even after another
-- member's digest listed it; the machine's `reminders` is the most any
-- member had. Rows go when the machine is reopened, handed over or
-- escalated (its reminders start afresh).
CREATE TABLE campaign_member_messages (
    campaign_id   BIGINT NOT NULL,
    machine_id    BIGINT NOT NULL,
    login         TEXT NOT NULL,
    last_messaged BIGINT NOT NULL,
    reminders     BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, machine_id, login)
);

-- Group machines written to before this version: each member a digest
-- listing the machine went to counts as written to then, with the
-- machine's reminders (nobody is written to again for the upgrade, and
-- escalation keeps its pace); after `campaign remind` (0), due at once.
INSERT INTO campaign_member_messages (campaign_id, machine_id, login, last_messaged, reminders)
SELECT om.campaign_id, om.machine_id, o.recipient,
       CASE WHEN MAX(cm.last_messaged) = 0 THEN 0 ELSE MAX(o.created_at) END,
       MAX(cm.reminders)
FROM outbox_machines om
JOIN outbox o ON o.id = om.outbox_id
JOIN campaign_machines cm ON cm.campaign_id = om.campaign_id AND cm.machine_id = om.machine_id
WHERE substr(cm.recipient, 1, 6) = 'group:' AND cm.state = 'open'
  AND cm.last_messaged IS NOT NULL
GROUP BY om.campaign_id, om.machine_id, o.recipient;
