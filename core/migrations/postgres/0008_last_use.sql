-- Schema version 8: the last use of each application and software cycle on a
-- machine (the latest `last_used` of its titles; NULL when the snapshot does
-- not meter it), for the licence report's unused installs. Filled from the
-- stored software lists once here, then by every ingest.
ALTER TABLE machine_applications ADD COLUMN last_used BIGINT;
ALTER TABLE machine_software ADD COLUMN last_used BIGINT;

UPDATE machine_applications SET last_used = (
    SELECT MAX(i.last_used) FROM installations i
    JOIN software_titles t ON t.id = i.title_id
    WHERE i.machine_id = machine_applications.machine_id
      AND t.application = machine_applications.application
);
UPDATE machine_software SET last_used = (
    SELECT MAX(i.last_used) FROM installations i
    JOIN software_titles t ON t.id = i.title_id
    WHERE i.machine_id = machine_software.machine_id
      AND t.product = machine_software.product AND t.cycle = machine_software.cycle
);
