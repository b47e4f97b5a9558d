-- Schema version 10: chats with buttons (Mattermost).
-- outbox.buttons: per-machine buttons with their signed answer tokens (JSON).
-- outbox.remote_id: the chat server's id of a delivered message (post id),
-- so a button click finds the message it belongs to.
-- campaign_machines (campaign_id, recipient): a click reads one recipient's
-- machines of one campaign; without it SQLite walks the whole campaign.
-- chat_events: chat events already handled (websocket posts), so none is
-- acted on twice, even after a reconnect or a restart.
ALTER TABLE outbox ADD COLUMN buttons TEXT;
ALTER TABLE outbox ADD COLUMN remote_id TEXT;
CREATE INDEX outbox_remote_id ON outbox (remote_id);
CREATE INDEX campaign_machines_campaign_recipient ON campaign_machines (campaign_id, recipient);
CREATE TABLE chat_events (
    channel TEXT NOT NULL,
    event_id TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (channel, event_id)
);
