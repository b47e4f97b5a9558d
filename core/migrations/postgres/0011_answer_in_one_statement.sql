-- Schema version 11: an answer is recorded by one statement.
-- campaign_machines.answer_comment / answered_via: the latest answer's
-- comment and channel, beside its kind, date and detail.
-- (SQLite writes the history row and a confirmed hand-over's owner with
-- triggers; PostgreSQL in the same statement, with data-modifying CTEs.)
ALTER TABLE campaign_machines ADD COLUMN answer_comment TEXT;
ALTER TABLE campaign_machines ADD COLUMN answered_via TEXT;
