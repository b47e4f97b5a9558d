-- Schema version 4: exception requests and the admins' decisions on them.
-- An "exception" answer marks the machine 'requested'; an admin approves or
-- declines it ('approved' / 'declined'), and the owner is told through the
-- outbox in the same transaction.
ALTER TABLE campaign_machines ADD COLUMN exception_state TEXT;
ALTER TABLE campaign_machines ADD COLUMN exception_decided_by TEXT;
ALTER TABLE campaign_machines ADD COLUMN exception_decided_at BIGINT;
ALTER TABLE campaign_machines ADD COLUMN exception_note TEXT;
