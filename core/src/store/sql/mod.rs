//! The one SQL implementation of [`Store`], instantiated for SQLite and for
//! PostgreSQL: the statements are identical on both, so the conformance
//! suite (`core/tests/store`) proves one behaviour on two engines. This file
//! owns the two store types, what every role shares (row decoders, the
//! SQLite write turn, the chunked `IN (...)` lists); each role's SQL is in
//! its own file beside it.
//!
//! The roles are written once as `macro_rules!` bodies and instantiated for
//! `sqlx::Sqlite` and `sqlx::Postgres`: code generic over `sqlx::Database`
//! would need, on every function, bounds for each type it binds or decodes
//! and for executors on pools and transactions, which the compiler does not
//! carry from a trait's where-clauses; a macro keeps each body as plain
//! sqlx code.

use chrono::NaiveDate;
use sqlx::{QueryBuilder, Row};

use super::campaigns::{CampaignMachine, CampaignRow, CampaignState};
use super::outbox::OutboxRow;
use super::{Backend, MachineRow, Result, Store, StoreError, from_micros};
use crate::domain::{CycleRef, OsInfo, OwnerFact, OwnerSource, User};

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

macro_rules! sql_store {
    ($name:ident, $db:ty, $pool:ty, $backend:expr) => {
        /// The inventory store on this backend.
        #[derive(Debug, Clone)]
        pub struct $name {
            pool: $pool,
            /// SQLite has one writer at a time; the others wait in its busy
            /// handler, which sleeps 1, 2, 5, 10 ms and more between tries
            /// (a click's 99th percentile was 60 to 120 ms at 1,000/s).
            /// Write transactions of this process queue here instead, in
            /// order and without sleeping. Unused on PostgreSQL.
            write_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
        }

        impl $name {
            /// Wrap a migrated pool.
            pub fn new(pool: $pool) -> Self {
                Self {
                    pool,
                    write_gate: std::sync::Arc::default(),
                }
            }
            /// The backend, for the few statements that differ.
            const BACKEND: Backend = $backend;

            /// Wait for this process's turn to write (SQLite only; `None`
            /// on PostgreSQL, whose row locks do the job).
            async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
                match $backend {
                    Backend::Sqlite => Some(self.write_gate.lock().await),
                    Backend::Postgres => None,
                }
            }

            fn os_info(row: &<$db as sqlx::Database>::Row) -> Result<OsInfo> {
                Ok(OsInfo {
                    caption: row.try_get("os_caption")?,
                    version: row.try_get("os_version")?,
                    display_version: row.try_get("os_display_version")?,
                    edition: row.try_get("os_edition")?,
                    product_type: row.try_get("os_product_type")?,
                    architecture: row.try_get("os_architecture")?,
                })
            }

            /// The directory entry in [`USER_COLUMNS`]' order from column
            /// `first` on.
            fn user_at(row: &<$db as sqlx::Database>::Row, first: usize) -> Result<User> {
                Ok(User {
                    login: row.try_get(first)?,
                    name: row.try_get(first + 1)?,
                    email: row.try_get(first + 2)?,
                    matrix_id: row.try_get(first + 3)?,
                    mattermost_username: row.try_get(first + 4)?,
                    language: row.try_get(first + 5)?,
                    time_zone: row.try_get(first + 6)?,
                    manager: row.try_get(first + 7)?,
                })
            }

            fn machine_row(row: &<$db as sqlx::Database>::Row) -> Result<MachineRow> {
                Ok(MachineRow {
                    id: row.try_get("id")?,
                    hostname: row.try_get("hostname")?,
                    domain: row.try_get("domain")?,
                    os: Self::os_info(row)?,
                    os_match: cycle_ref(row.try_get("os_product")?, row.try_get("os_cycle")?),
                    first_seen: from_micros(row.try_get("first_seen")?),
                    last_seen: from_micros(row.try_get("last_seen")?),
                    last_report: from_micros(row.try_get("last_report")?),
                    responsible: owner(row.try_get("r_login")?, row.try_get("r_source")?)?,
                    main_user: owner(row.try_get("u_login")?, row.try_get("u_source")?)?,
                })
            }

            fn campaign_row(r: &<$db as sqlx::Database>::Row) -> Result<CampaignRow> {
                let state: String = r.try_get("state")?;
                Ok(CampaignRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    kind: r.try_get("kind")?,
                    state: CampaignState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("campaign state {state:?}")))?,
                    spec: r.try_get("spec")?,
                    created_at: from_micros(r.try_get("created_at")?),
                    started_at: r.try_get::<Option<i64>, _>("started_at")?.map(from_micros),
                    closed_at: r.try_get::<Option<i64>, _>("closed_at")?.map(from_micros),
                })
            }

            fn campaign_machine(r: &<$db as sqlx::Database>::Row) -> Result<CampaignMachine> {
                // By position (CM_COLUMNS' order): 85,000 rows by name cost a second.
                Ok(CampaignMachine {
                    campaign_id: r.try_get(0)?,
                    machine_id: r.try_get(1)?,
                    host_key: r.try_get(2)?,
                    recipient: r.try_get(3)?,
                    state: r.try_get(4)?,
                    answer: r.try_get(5)?,
                    answer_date: parse_date(r.try_get(6)?),
                    answer_detail: r.try_get(7)?,
                    answered_by: r.try_get(8)?,
                    answered_at: r.try_get::<Option<i64>, _>(9)?.map(from_micros),
                    resolution: r.try_get(10)?,
                    messages: r.try_get::<i64, _>(11)?,
                    reminders: r.try_get::<i64, _>(12)?,
                    escalation: r.try_get::<i64, _>(13)?,
                    last_messaged: r.try_get::<Option<i64>, _>(14)?.map(from_micros),
                    exception_state: r.try_get(15)?,
                    exception_decided_by: r.try_get(16)?,
                    exception_note: r.try_get(17)?,
                    transfer_from: r.try_get(18)?,
                    resolved_at: r.try_get::<Option<i64>, _>(19)?.map(from_micros),
                })
            }

            fn outbox_row(r: &<$db as sqlx::Database>::Row) -> Result<OutboxRow> {
                Ok(OutboxRow {
                    id: r.try_get("id")?,
                    idem_key: r.try_get("idem_key")?,
                    message_id: r.try_get("message_id")?,
                    channel: r.try_get("channel")?,
                    recipient: r.try_get("recipient")?,
                    address: r.try_get("address")?,
                    fallback: match (
                        r.try_get::<Option<String>, _>("fallback_channel")?,
                        r.try_get::<Option<String>, _>("fallback_address")?,
                    ) {
                        (Some(c), Some(a)) => Some((c, a)),
                        _ => None,
                    },
                    subject: r.try_get("subject")?,
                    body_text: r.try_get("body_text")?,
                    body_html: r.try_get("body_html")?,
                    actions: r
                        .try_get::<Option<String>, _>("actions")?
                        .map(|a| a.split(',').map(str::to_string).collect())
                        .unwrap_or_default(),
                    buttons: r.try_get("buttons")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get::<i64, _>("attempts")?,
                    last_error: r.try_get("last_error")?,
                    created_at: from_micros(r.try_get("created_at")?),
                    sent_at: r.try_get::<Option<i64>, _>("sent_at")?.map(from_micros),
                })
            }
        }

        impl Store for $name {
            fn backend(&self) -> Backend {
                $backend
            }
        }
    };
}

sql_store!(SqliteStore, sqlx::Sqlite, sqlx::SqlitePool, Backend::Sqlite);
sql_store!(
    PostgresStore,
    sqlx::Postgres,
    sqlx::PgPool,
    Backend::Postgres
);

mod campaigns;
mod catalog;
mod chat;
mod directory;
mod inventory;
mod outbox;
mod reports;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TitleRow;
    use crate::store::prelude::*;

    /// A statement whose text depends on how many rows it carries must not
    /// stay prepared on the connection: one per size, each up to a few
    /// hundred KB, was half of a 100,000-machine ingest's peak memory.
    #[tokio::test]
    async fn statements_sized_by_their_rows_are_not_kept_prepared() {
        let dir = tempfile::tempdir().expect("temp dir");
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("cache.db"))
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
