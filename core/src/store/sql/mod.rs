//! The one SQL implementation of [`Store`], for SQLite and for PostgreSQL:
//! the statements are identical on both, so the conformance suite
//! (`core/tests/store`) proves one behaviour on two engines. This file owns
//! the store type ([`SqlStore`], one per backend) and what every role
//! shares (the chunked `IN (...)` lists, column lists, small decoders); each role's SQL is in its
//! own file beside it (`inventory.rs`, `directory.rs`, `catalog.rs`,
//! `reports.rs`, `campaigns.rs`, `outbox.rs`, `chat.rs`, with the row
//! decoders in `rows.rs`), and the statements where the engines differ in
//! `bulk.rs` (an ingest batch) and `answers.rs` (recording an answer).
//!
//! Each role file is plain Rust over two names, `Db` (the sqlx backend) and
//! `This` (its store type), and is compiled twice, once in `on_sqlite` and
//! once in `on_postgres`, which define them (with the backend's write
//! turn: a fair queue of this process's writers on SQLite, none on
//! PostgreSQL). Code generic over
//! `sqlx::Database` would need, on every function, bounds for each type it
//! binds or decodes and for executors on pools and transactions (the
//! compiler does not carry them from a trait's where-clauses); a file
//! compiled per backend keeps each body plain sqlx code that rustfmt and
//! editors read.

use chrono::NaiveDate;
use sqlx::QueryBuilder;

use super::{Result, StoreError};
use crate::domain::{CycleRef, OwnerFact, OwnerSource};

/// Rows per multi-row statement, under SQLite's 32,766 bound parameters.
///
/// Every statement a `QueryBuilder` makes is run with `persistent(false)`
/// (except the two per-machine ones of an ingest batch, one row per machine,
/// whose text repeats from batch to batch):
/// its text depends on how many rows it carries, so caching it (sqlx keeps
/// 100 prepared statements per connection, PostgreSQL keeps each named one
/// on the server) kept one compiled program per batch size, each up to a
/// few hundred KB, on every connection: a 100,000-machine ingest held
/// 50 MB of such programs at its peak, and their memory followed the sizes
/// of the batches rather than the work in hand.
const CHUNK_PARAMS: usize = 30_000;

/// The statements of one look-up or change by a list of values, one per
/// [`CHUNK_PARAMS`] values: each is what `head` starts (ending in `IN (`),
/// the values bound and separated by commas, `)`, then `tail`. Their text
/// depends on how many values they carry, so each must run with
/// `persistent(false)` (see [`CHUNK_PARAMS`]).
fn in_lists<'a, DB, T>(
    values: &'a [T],
    head: impl Fn() -> QueryBuilder<DB> + 'a,
    tail: &'a str,
) -> impl Iterator<Item = QueryBuilder<DB>> + 'a
where
    DB: sqlx::Database,
    T: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    values.chunks(CHUNK_PARAMS).map(move |chunk| {
        let mut qb = head();
        let mut sep = qb.separated(", ");
        for value in chunk {
            sep.push_bind(value);
        }
        qb.push(")");
        qb.push(tail);
        qb
    })
}

/// A directory entry's columns, in the order the stores' `user_at` reads
/// them.
const USER_COLUMNS: &str =
    "login, name, email, matrix_id, mattermost_username, language, time_zone, manager";

/// `columns` (a `, `-separated list) of the table aliased `alias`.
fn columns_of(columns: &str, alias: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_date(s: Option<String>) -> Option<NaiveDate> {
    s.and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
}

fn owner(login: Option<String>, source: Option<String>) -> Result<Option<OwnerFact>> {
    match (login, source) {
        (Some(login), Some(source)) => Ok(Some(OwnerFact {
            login,
            source: OwnerSource::parse(&source)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown owner source {source:?}")))?,
        })),
        _ => Ok(None),
    }
}

/// A `software_titles` row as read: id, name, version, publisher, product,
/// cycle, application.
type TitleColumns = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A title from its [`TitleColumns`].
fn title_row(
    (id, name, version, publisher, product, cycle, application): TitleColumns,
) -> crate::store::TitleRow {
    crate::store::TitleRow {
        id,
        name,
        version,
        publisher,
        cycle: cycle_ref(product, cycle),
        application,
    }
}

fn cycle_ref(product: Option<String>, cycle: Option<String>) -> Option<CycleRef> {
    match (product, cycle) {
        (Some(product), Some(cycle)) => Some(CycleRef { product, cycle }),
        _ => None,
    }
}

/// The outbox's columns as the shared `outbox_row` decoder reads them
/// (`SELECT` and `RETURNING` lists).
const OUTBOX_COLUMNS: &str = "id, idem_key, message_id, channel, recipient, address, subject, \
     body_text, body_html, state, attempts, last_error, created_at, sent_at, fallback_channel, \
     fallback_address, actions, buttons";

/// The machines "in a group": those whose responsible or main user is a
/// member of it (the group's name bound after the text). One definition for
/// the machine list's group filter and the fleet's counts per group.
macro_rules! machines_in_group {
    () => {
        "SELECT o.machine_id FROM machine_owners o \
         JOIN group_members g ON g.login = o.login WHERE g.group_name = "
    };
}

macro_rules! machine_select {
    () => {
        "SELECT m.id, m.hostname, m.domain, m.os_caption, m.os_version, \
     m.os_display_version, m.os_edition, m.os_product_type, m.os_architecture, m.os_product, \
     m.os_cycle, m.first_seen, m.last_seen, m.last_report, \
     r.login AS r_login, r.source AS r_source, u.login AS u_login, u.source AS u_source \
     FROM machines m \
     LEFT JOIN machine_owners r ON r.machine_id = m.id AND r.role = 'responsible' \
     LEFT JOIN machine_owners u ON u.machine_id = m.id AND u.role = 'main_user' "
    };
}

/// The store on one sqlx backend; [`SqliteStore`] and [`PostgresStore`]
/// are the two there are, each role implemented for both by the files
/// `on_sqlite.rs` and `on_postgres.rs` compile.
#[derive(Debug)]
pub struct SqlStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
    /// SQLite has one writer at a time; the others wait in its busy
    /// handler, which sleeps 1, 2, 5, 10 ms and more between tries (a
    /// click's 99th percentile was 60 to 120 ms at 1,000/s). Write
    /// transactions of this process queue here instead, in order and
    /// without sleeping. Unused on PostgreSQL.
    write_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The software titles this process has read, by id.
    titles: std::sync::Arc<titles::TitleCache>,
}

impl<DB: sqlx::Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            write_gate: self.write_gate.clone(),
            titles: self.titles.clone(),
        }
    }
}

impl<DB: sqlx::Database> SqlStore<DB> {
    /// Wrap a migrated pool.
    pub fn new(pool: sqlx::Pool<DB>) -> Self {
        Self {
            pool,
            write_gate: std::sync::Arc::default(),
            titles: std::sync::Arc::default(),
        }
    }
}

/// The store on SQLite, the embedded default.
pub type SqliteStore = SqlStore<sqlx::Sqlite>;
/// The store on PostgreSQL, for sites that outgrow one machine.
pub type PostgresStore = SqlStore<sqlx::Postgres>;

mod aggregates;
mod answers;
mod bulk;
mod titles;

// Each role file is compiled once per backend, on purpose (see above).
#[allow(clippy::duplicate_mod)]
mod on_postgres;
#[allow(clippy::duplicate_mod)]
mod on_sqlite;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TitleRow;
    use crate::store::prelude::*;

    /// A migrated SQLite database of one connection in `dir`.
    async fn migrated_sqlite(dir: &tempfile::TempDir) -> sqlx::SqlitePool {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("test.db"))
            .create_if_missing(true);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .expect("open");
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .expect("migrate");
        pool
    }

    /// The reads of one person's machines in a campaign (the answer page's
    /// check of every click, "my machines", a person's page) look them up
    /// by (campaign, recipient) in a campaign of thousands. With an `ORDER
    /// BY host_key` SQLite walked the (campaign, host) index of the whole
    /// campaign instead, to save a sort: 40 ms a page at 82,910 machines.
    #[tokio::test]
    async fn a_recipients_machines_are_looked_up_by_recipient_not_by_walking_the_campaign() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pool = migrated_sqlite(&dir).await;
        // A campaign of 5,000 machines among 500 recipients, with statistics.
        for sql in [
            "INSERT INTO campaigns (id, name, kind, state, spec, created_at)              VALUES (1, 'c', 'eol', 'running', '', 0)",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)              INSERT INTO campaign_machines (campaign_id, machine_id, host_key, recipient, state, added_at)              SELECT 1, i, printf('pc%05d', i), 'user' || (i % 500), 'open', 0 FROM n",
            "ANALYZE",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        for (name, sql, recipient_first) in [
            (
                "campaign_machines_of",
                answers::MACHINES_OF_RECIPIENT.as_str(),
                true,
            ),
            ("answer_view", answers::ANSWER_VIEW.as_str(), false),
        ] {
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let query = sqlx::query_as(sqlx::AssertSqlSafe(explain));
            let query = if recipient_first {
                query.bind("user7").bind(1_i64)
            } else {
                query.bind(1_i64).bind("user7").bind("user7")
            };
            let rows: Vec<(i64, i64, i64, String)> = query.fetch_all(&pool).await.expect("plan");
            let plan: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
            assert!(
                plan.iter()
                    .any(|p| p.contains("campaign_machines_campaign_recipient")),
                "{name} must look its rows up by (campaign, recipient): {plan:?}"
            );
        }
    }

    /// A statement whose text depends on how many rows it carries must not
    /// stay prepared on the connection: one per size, each up to a few
    /// hundred KB, was half of a 100,000-machine ingest's peak memory.
    #[tokio::test]
    async fn statements_sized_by_their_rows_are_not_kept_prepared() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pool = migrated_sqlite(&dir).await;
        let store = SqliteStore::new(pool.clone());
        for n in 1..=40 {
            let titles: Vec<TitleRow> = (0..n)
                .map(|i| TitleRow {
                    id: 0,
                    name: format!("Title {i}"),
                    version: String::new(),
                    publisher: String::new(),
                    cycle: None,
                    application: None,
                })
                .collect();
            store.upsert_titles(&titles).await.expect("titles");
            let ids: Vec<i64> = (1..=n).collect();
            store.software_cycles_of(&ids).await.expect("cycles");
        }
        let conn = pool.acquire().await.expect("connection");
        let kept = sqlx::Connection::cached_statements_size(&*conn);
        assert!(
            kept < 10,
            "{kept} statements kept prepared after 80 statements of 40 sizes"
        );
    }
}
