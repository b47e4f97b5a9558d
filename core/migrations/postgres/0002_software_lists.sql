-- Schema version 2: a machine's software list is one row (a JSON array of
-- [title_id, install_date, last_used] in report order) instead of one row per
-- program. A fleet of 100,000 machines with 150 programs each is 100,000 rows
-- to write instead of 15 million, which is what makes the first ingest cheap;
-- the lists are only ever read and replaced whole. The view `installations`
-- keeps the per-program shape for queries (and for admins' ad hoc SQL).

CREATE TABLE software_lists (
    machine_id BIGINT PRIMARY KEY,
    programs   INTEGER NOT NULL,   -- length of the array
    entries    TEXT NOT NULL       -- [[title_id, "YYYY-MM-DD" | null, last_used_us | null], ...]
);

-- lz4 compresses the lists three times faster than the default pglz. Servers
-- built without lz4 keep them uncompressed instead (still fast, twice the size).
DO $$
BEGIN
    ALTER TABLE software_lists ALTER COLUMN entries SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    ALTER TABLE software_lists ALTER COLUMN entries SET STORAGE EXTERNAL;
END
$$;

INSERT INTO software_lists (machine_id, programs, entries)
SELECT machine_id, COUNT(*),
       json_agg(json_build_array(title_id, install_date, last_used) ORDER BY seq)::text
FROM installations
GROUP BY machine_id;

DROP TABLE installations;

CREATE VIEW installations (machine_id, seq, title_id, install_date, last_used) AS
SELECT l.machine_id, (e.ord - 1)::integer, (e.value ->> 0)::bigint,
       (e.value ->> 1)::date, (e.value ->> 2)::bigint
FROM software_lists l
CROSS JOIN LATERAL json_array_elements(l.entries::json) WITH ORDINALITY AS e(value, ord);
