-- Schema version 11: an answer is recorded by one UPDATE statement.
-- campaign_machines.answer_comment / answered_via: the latest answer's
-- comment and channel, beside its kind, date and detail.
-- On SQLite the answer's history row, and the new responsible owner when
-- the answer confirms a hand-over ("not mine" named this person, who now
-- answers anything else), are written by these triggers, inside the
-- statement that records the answer: one step for the single writer, so
-- concurrent clicks do not queue behind a transaction of several steps.
-- (PostgreSQL writes the same rows in one statement of data-modifying CTEs;
-- the test suite runs on both.) Only the answer sets answered_at.
ALTER TABLE campaign_machines ADD COLUMN answer_comment TEXT;
ALTER TABLE campaign_machines ADD COLUMN answered_via TEXT;

CREATE TRIGGER campaign_answer_history AFTER UPDATE OF answered_at ON campaign_machines
FOR EACH ROW WHEN NEW.answered_at IS NOT NULL
BEGIN
    INSERT INTO campaign_answers
        (campaign_id, machine_id, answer, answer_date, detail, comment, answered_by, via, at)
    VALUES (NEW.campaign_id, NEW.machine_id, NEW.answer, NEW.answer_date, NEW.answer_detail,
            NEW.answer_comment, NEW.answered_by, NEW.answered_via, NEW.answered_at);
END;

CREATE TRIGGER campaign_answer_confirms_handover AFTER UPDATE OF answered_at ON campaign_machines
FOR EACH ROW WHEN NEW.answered_at IS NOT NULL AND NEW.answer <> 'not_mine'
    AND OLD.transfer_from IS NOT NULL AND OLD.recipient = NEW.answered_by
BEGIN
    INSERT INTO machine_owners (machine_id, role, login, source, updated_at)
    VALUES (NEW.machine_id, 'responsible', NEW.answered_by, 'answer', NEW.answered_at)
    ON CONFLICT (machine_id, role) DO UPDATE SET login = excluded.login,
        source = excluded.source, updated_at = excluded.updated_at;
END;
