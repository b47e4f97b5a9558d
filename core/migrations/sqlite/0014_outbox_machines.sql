-- Schema version 14: the machines each message lists, so an answer for all
-- of them (a link, a button or drop-down, a poll vote, a typed "all")
-- answers those and none added to a campaign since. Messages queued before
-- this version list none.
CREATE TABLE outbox_machines (
    outbox_id   BIGINT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    campaign_id BIGINT NOT NULL,
    machine_id  BIGINT NOT NULL,
    PRIMARY KEY (outbox_id, campaign_id, machine_id)
);
-- The latest message sent to a person on a chat (what a typed "all" answers).
CREATE INDEX outbox_recipient_channel ON outbox (recipient, channel);
