-- Schema version 6: a chat message that fails for good falls back to another
-- channel (email). The fallback is decided when the message is queued; when
-- the chat channel refuses it for good, the same row is turned into the
-- fallback message (channel and address swapped in, attempts reset) in one
-- statement, so the idempotency key and the machines it counts stay as they were.
ALTER TABLE outbox ADD COLUMN fallback_channel TEXT;
ALTER TABLE outbox ADD COLUMN fallback_address TEXT;
