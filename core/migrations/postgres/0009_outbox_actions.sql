-- Schema version 9: the answers a message offers for every machine it lists
-- at once (comma-separated answer kinds, NULL for none), which chat
-- channels turn into a poll or buttons under a digest.
ALTER TABLE outbox ADD COLUMN actions TEXT;
