-- Schema version 2: a machine's software list is one row (a JSON array of
-- [title_id, install_date, last_used] in report order) instead of one row per
-- program. A fleet of 100,000 machines with 150 programs each is 100,000 rows
-- to write instead of 15 million, which is what makes the first ingest cheap;
-- the lists are only ever read and replaced whole. The view `installations`
-- keeps the per-program shape for queries (and for admins' ad hoc SQL).

CREATE TABLE software_lists (
    machine_id INTEGER PRIMARY KEY,
    programs   INTEGER NOT NULL,   -- length of the array
    entries    TEXT NOT NULL       -- [[title_id, "YYYY-MM-DD" | null, last_used_us | null], ...]
);

INSERT INTO software_lists (machine_id, programs, entries)
SELECT machine_id, COUNT(*), json_group_array(json_array(title_id, install_date, last_used))
FROM (SELECT * FROM installations ORDER BY machine_id, seq)
GROUP BY machine_id;

DROP TABLE installations;

CREATE VIEW installations (machine_id, seq, title_id, install_date, last_used) AS
SELECT l.machine_id, CAST(e.key AS INTEGER), json_extract(e.value, '$[0]'),
       json_extract(e.value, '$[1]'), json_extract(e.value, '$[2]')
FROM software_lists l, json_each(l.entries) e;
