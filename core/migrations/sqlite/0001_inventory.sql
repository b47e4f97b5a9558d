-- Inventory schema, version 1 (SQLite). Times are microseconds since the Unix
-- epoch (UTC) in both backends, so the same SQL serves both.

CREATE TABLE machines (
    id                  INTEGER PRIMARY KEY,
    host_key            TEXT NOT NULL UNIQUE,   -- lower-cased hostname: the identity
    hostname            TEXT NOT NULL,          -- as last reported
    domain              TEXT,
    os_caption          TEXT NOT NULL,
    os_version          TEXT NOT NULL,
    os_display_version  TEXT,
    os_edition          TEXT,
    os_product_type     INTEGER,
    os_architecture     TEXT,
    os_product          TEXT,                   -- matched catalog product, NULL when unmatched
    os_cycle            TEXT,
    first_seen          INTEGER NOT NULL,       -- ingest clock when first stored
    last_seen           INTEGER NOT NULL,       -- ingest clock when a report last won
    last_report         INTEGER NOT NULL,       -- collected_at of the winning report
    software_hash       INTEGER                 -- NULL: software never reported
);
CREATE INDEX machines_last_report ON machines (last_report);
-- Covers `report os`: grouping by cycle with the freshness filter.
CREATE INDEX machines_os ON machines (os_product, os_cycle, last_report);

-- Distinct program titles, matched once each.
CREATE TABLE software_titles (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    publisher   TEXT NOT NULL,
    product     TEXT,
    cycle       TEXT,
    application TEXT,
    UNIQUE (name, version, publisher)
);
CREATE INDEX software_titles_product ON software_titles (product, cycle);
CREATE INDEX software_titles_application ON software_titles (application);

-- What each machine has installed, in report order. The bulk tables (this
-- one and the two derived ones) carry no foreign keys: the ingest writes them
-- in the same transaction as their parents, and a foreign key would cost a
-- look-up (on PostgreSQL a locking trigger query) for each of millions of rows.
CREATE TABLE installations (
    machine_id   INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    title_id     INTEGER NOT NULL,
    install_date TEXT,      -- YYYY-MM-DD
    last_used    INTEGER,   -- microseconds
    PRIMARY KEY (machine_id, seq)
) WITHOUT ROWID;

-- Distinct matched software cycles per machine (derived from installations
-- and titles; rebuilt when matching changes). Reports count from here.
CREATE TABLE machine_software (
    product    TEXT NOT NULL,
    cycle      TEXT NOT NULL,
    machine_id INTEGER NOT NULL,
    PRIMARY KEY (product, cycle, machine_id)
) WITHOUT ROWID;
CREATE INDEX machine_software_machine ON machine_software (machine_id);

-- Distinct applications per machine (derived like machine_software).
CREATE TABLE machine_applications (
    application TEXT NOT NULL,
    machine_id  INTEGER NOT NULL,
    PRIMARY KEY (application, machine_id)
) WITHOUT ROWID;
CREATE INDEX machine_applications_machine ON machine_applications (machine_id);

CREATE TABLE users (
    login               TEXT PRIMARY KEY,    -- lower-cased
    name                TEXT,
    email               TEXT,
    matrix_id           TEXT,
    mattermost_username TEXT,
    language            TEXT,
    time_zone           TEXT,
    manager             TEXT,
    updated_at          INTEGER NOT NULL
);

CREATE TABLE groups (
    name TEXT PRIMARY KEY
);

CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    login      TEXT NOT NULL,
    PRIMARY KEY (group_name, login)
);
CREATE INDEX group_members_login ON group_members (login);

-- Owner facts: role is 'responsible' or 'main_user'; source is 'snapshot',
-- 'network-db' or 'answer'.
CREATE TABLE machine_owners (
    machine_id INTEGER NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    login      TEXT NOT NULL,
    source     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (machine_id, role)
);
CREATE INDEX machine_owners_login ON machine_owners (login);

-- Network database answers (200 and 404), kept a day.
CREATE TABLE netdb_cache (
    host_key    TEXT PRIMARY KEY,
    found       BOOLEAN NOT NULL,    -- true: 200, false: 404
    responsible TEXT,
    main_user   TEXT,
    fetched_at  INTEGER NOT NULL
);

-- Catalog rows fetched by `catalog refresh` (JSON of one cycle each).
CREATE TABLE catalog_refresh (
    product    TEXT NOT NULL,
    cycle      TEXT NOT NULL,
    data       TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (product, cycle)
);

-- One row per ingest run, for operators.
CREATE TABLE ingest_runs (
    id          INTEGER PRIMARY KEY,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    source      TEXT NOT NULL,
    summary     TEXT
);
