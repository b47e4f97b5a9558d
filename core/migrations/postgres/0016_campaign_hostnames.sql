-- Schema version 16: a campaign's machines carry their hostname as last
-- reported, which is what people are shown (chat replies, answer pages,
-- `campaign show`); `host_key` (lower-cased) stays what every match and
-- sort uses. Filled from the machines for rows stored before; a machine
-- reported again under another spelling updates its campaign rows.
ALTER TABLE campaign_machines ADD COLUMN hostname TEXT NOT NULL DEFAULT '';
UPDATE campaign_machines cm SET hostname = COALESCE(
    (SELECT m.hostname FROM machines m WHERE m.id = cm.machine_id), cm.host_key);

CREATE INDEX campaign_machines_machine ON campaign_machines (machine_id);

CREATE FUNCTION machine_hostname_in_campaigns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE campaign_machines SET hostname = NEW.hostname WHERE machine_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER machine_hostname_in_campaigns AFTER UPDATE OF hostname ON machines
FOR EACH ROW WHEN (NEW.hostname IS DISTINCT FROM OLD.hostname)
EXECUTE FUNCTION machine_hostname_in_campaigns();
