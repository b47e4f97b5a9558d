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
