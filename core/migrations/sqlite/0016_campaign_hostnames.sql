-- Schema version 16: a campaign's machines carry their hostname as last
-- reported, which is what people are shown (chat replies, answer pages,
-- `campaign show`); `host_key` (lower-cased) stays what every match and
-- sort uses. Filled from the machines for rows stored before; a machine
-- reported again under another spelling updates its campaign rows.
ALTER TABLE campaign_machines ADD COLUMN hostname TEXT NOT NULL DEFAULT '';
UPDATE campaign_machines SET hostname = COALESCE(
    (SELECT m.hostname FROM machines m WHERE m.id = campaign_machines.machine_id), host_key);

CREATE INDEX campaign_machines_machine ON campaign_machines (machine_id);

CREATE TRIGGER machine_hostname_in_campaigns AFTER UPDATE OF hostname ON machines
FOR EACH ROW WHEN NEW.hostname IS NOT OLD.hostname
BEGIN
    UPDATE campaign_machines SET hostname = NEW.hostname WHERE machine_id = NEW.id;
END;
