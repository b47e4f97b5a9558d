-- Schema version 13: one audit record for every admin action, whatever the
-- edge (chat commands, the command line, later the HTTP API): who, in which
-- role, what action on what target, from where. `channel` is the edge
-- ('cli' | 'matrix' | 'mattermost' | 'http'); `command` stays the action as
-- typed. Lines written before this version keep empty role, action, target
-- and origin.
ALTER TABLE audit_log ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN action TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN target TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN origin TEXT NOT NULL DEFAULT '';
