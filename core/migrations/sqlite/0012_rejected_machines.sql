-- Schema version 12 (SQLite): machines stored before the format's size
-- limits were enforced (formats/cmf-snapshot.md, "Bad input": hostname and
-- domain 253 bytes, main_user and responsible 256, os.caption 512, the other
-- os fields 128, at most 20,000 software entries) are set aside, not cut:
-- each is listed in `rejected_machines` (its hostname's first 64 characters,
-- its length, which fields were over which limits, when) and removed from
-- the inventory with every row that depends on it. The ingest lists them in
-- its summary (`set_aside`) until an admin clears the table; a later report
-- of the machine within the limits stores it again as a new machine.

CREATE TABLE rejected_machines (
    id             INTEGER PRIMARY KEY,
    former_id      INTEGER NOT NULL,   -- machines.id it had
    hostname       TEXT NOT NULL,     -- the first 64 characters of the stored hostname
    hostname_bytes INTEGER NOT NULL,   -- the stored hostname's length in bytes
    last_report    INTEGER NOT NULL,   -- collected_at of its stored report (microseconds)
    reason         TEXT NOT NULL,     -- every field over its limit, by name
    rejected_at    INTEGER NOT NULL    -- when it was set aside (microseconds)
);

INSERT INTO rejected_machines (former_id, hostname, hostname_bytes, last_report, reason, rejected_at)
SELECT id, substr(hostname, 1, 64), hostname_b, last_report, reason, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)
FROM (
    SELECT id, hostname, hostname_b, last_report, rtrim(
        CASE WHEN hostname_b > 253 THEN 'hostname is ' || hostname_b || ' bytes (at most 253); ' ELSE '' END ||
        CASE WHEN key_b > 253 AND hostname_b <= 253 THEN 'hostname is ' || key_b || ' bytes once lower-cased (at most 253); ' ELSE '' END ||
        CASE WHEN domain_b > 253 THEN 'domain is ' || domain_b || ' bytes (at most 253); ' ELSE '' END ||
        CASE WHEN caption_b > 512 THEN 'os.caption is ' || caption_b || ' bytes (at most 512); ' ELSE '' END ||
        CASE WHEN version_b > 128 THEN 'os.version is ' || version_b || ' bytes (at most 128); ' ELSE '' END ||
        CASE WHEN display_b > 128 THEN 'os.display_version is ' || display_b || ' bytes (at most 128); ' ELSE '' END ||
        CASE WHEN edition_b > 128 THEN 'os.edition is ' || edition_b || ' bytes (at most 128); ' ELSE '' END ||
        CASE WHEN arch_b > 128 THEN 'os.architecture is ' || arch_b || ' bytes (at most 128); ' ELSE '' END ||
        CASE WHEN responsible_b > 256 THEN 'responsible is ' || responsible_b || ' bytes (at most 256); ' ELSE '' END ||
        CASE WHEN main_user_b > 256 THEN 'main_user is ' || main_user_b || ' bytes (at most 256); ' ELSE '' END ||
        CASE WHEN programs > 20000 THEN 'software has ' || programs || ' entries (at most 20000); ' ELSE '' END,
        '; ') AS reason
    FROM (
        SELECT m.id, m.hostname, m.last_report,
            length(CAST(m.hostname AS BLOB)) AS hostname_b,
            length(CAST(m.host_key AS BLOB)) AS key_b,
            length(CAST(m.domain AS BLOB)) AS domain_b,
            length(CAST(m.os_caption AS BLOB)) AS caption_b,
            length(CAST(m.os_version AS BLOB)) AS version_b,
            length(CAST(m.os_display_version AS BLOB)) AS display_b,
            length(CAST(m.os_edition AS BLOB)) AS edition_b,
            length(CAST(m.os_architecture AS BLOB)) AS arch_b,
            (SELECT length(CAST(o.login AS BLOB)) FROM machine_owners o
             WHERE o.machine_id = m.id AND o.role = 'responsible') AS responsible_b,
            (SELECT length(CAST(o.login AS BLOB)) FROM machine_owners o
             WHERE o.machine_id = m.id AND o.role = 'main_user') AS main_user_b,
            (SELECT l.programs FROM software_lists l WHERE l.machine_id = m.id) AS programs
        FROM machines m
    ) sizes
) reasons
WHERE reason <> '';

DELETE FROM machine_owners WHERE machine_id IN (SELECT former_id FROM rejected_machines);
DELETE FROM software_lists WHERE machine_id IN (SELECT former_id FROM rejected_machines);
DELETE FROM machine_software WHERE machine_id IN (SELECT former_id FROM rejected_machines);
DELETE FROM machine_applications WHERE machine_id IN (SELECT former_id FROM rejected_machines);
DELETE FROM campaign_answers WHERE machine_id IN (SELECT former_id FROM rejected_machines);
DELETE FROM campaign_machines WHERE machine_id IN (SELECT former_id FROM rejected_machines);
DELETE FROM netdb_cache WHERE host_key IN
    (SELECT host_key FROM machines WHERE id IN (SELECT former_id FROM rejected_machines));
DELETE FROM machines WHERE id IN (SELECT former_id FROM rejected_machines);
