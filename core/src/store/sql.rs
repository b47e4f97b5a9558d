//! The one SQL implementation of [`Store`], instantiated for SQLite and for
//! PostgreSQL by a macro: the statements are identical on both, so the
//! conformance suite (`core/tests/store`) proves one behaviour on two engines.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{QueryBuilder, Row};

use super::{
    Backend, CachedNetDb, InstalledSoftware, KeyDigest, MachineIndexEntry, MachineRow,
    MachineWrite, NetDbAnswer, OwnerChange, OwnerMark, RejectedMachine, Result, Store, StoreCounts,
    StoreError, TitleRow, UserImport, from_micros, to_micros,
};
use crate::catalog::CycleInfo;
use crate::domain::{CycleRef, OsInfo, OwnerFact, OwnerRole, OwnerSource, User, Window};

/// The window's upper bound as stored: no bound is the largest time.
fn before_micros(window: Window) -> i64 {
    window.before.map(to_micros).unwrap_or(i64::MAX)
}

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

/// Subtract `stale` counts from `total` counts, dropping keys left at zero.
fn minus<K: std::hash::Hash + Eq + Ord + Clone>(
    total: Vec<(K, i64)>,
    stale: Vec<(K, i64)>,
) -> Vec<(K, i64)> {
    let stale: HashMap<K, i64> = stale.into_iter().collect();
    let mut out: Vec<(K, i64)> = total
        .into_iter()
        .map(|(k, n)| {
            let s = stale.get(&k).copied().unwrap_or(0);
            (k, n - s)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    out.sort();
    out
}

macro_rules! sql_store {
    ($name:ident, $db:ty, $pool:ty, $backend:expr, $bulk:ident) => {
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

            async fn delete_for_machines(
                tx: &mut sqlx::Transaction<'_, $db>,
                table: &str,
                ids: &[i64],
            ) -> Result<()> {
                for chunk in ids.chunks(CHUNK_PARAMS) {
                    let mut qb = QueryBuilder::<$db>::new(format!("DELETE FROM {table} WHERE machine_id IN ("));
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(")");
                    qb.build().persistent(false).execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// Ids of the machines whose last report is before `fresh_since`.
            /// The machines the window does not count: stale ones, and for
            /// a dated as-of those reported since.
            async fn uncounted_ids(&self, window: Window) -> Result<Vec<i64>> {
                let rows: Vec<(i64,)> =
                    sqlx::query_as("SELECT id FROM machines WHERE last_report < $1 OR last_report >= $2")
                        .bind(to_micros(window.since))
                        .bind(before_micros(window))
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }

            async fn rebuild_derived(tx: &mut sqlx::Transaction<'_, $db>) -> Result<()> {
                sqlx::query("DELETE FROM machine_software").execute(&mut **tx).await?;
                sqlx::query(
                    "INSERT INTO machine_software (product, cycle, machine_id, last_used) \
                     SELECT t.product, t.cycle, i.machine_id, MAX(i.last_used) FROM installations i \
                     JOIN software_titles t ON t.id = i.title_id \
                     WHERE t.product IS NOT NULL AND t.cycle IS NOT NULL \
                     GROUP BY t.product, t.cycle, i.machine_id",
                )
                .execute(&mut **tx)
                .await?;
                sqlx::query("DELETE FROM machine_applications").execute(&mut **tx).await?;
                sqlx::query(
                    "INSERT INTO machine_applications (application, machine_id, last_used) \
                     SELECT t.application, i.machine_id, MAX(i.last_used) FROM installations i \
                     JOIN software_titles t ON t.id = i.title_id WHERE t.application IS NOT NULL \
                     GROUP BY t.application, i.machine_id",
                )
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl Store for $name {
            fn backend(&self) -> Backend {
                $backend
            }

            async fn machine_index(&self) -> Result<Vec<MachineIndexEntry>> {
                use futures::TryStreamExt;
                // Streamed, and each row reduced to digests as it arrives:
                // the index costs a fixed amount per machine, never the size
                // of a stored field.
                let mut rows = sqlx::query(
                    "SELECT m.id, m.host_key, m.last_report, m.software_hash, \
                     r.login AS r_login, r.source AS r_source, u.login AS u_login, u.source AS u_source \
                     FROM machines m \
                     LEFT JOIN machine_owners r ON r.machine_id = m.id AND r.role = 'responsible' \
                     LEFT JOIN machine_owners u ON u.machine_id = m.id AND u.role = 'main_user'",
                )
                .fetch(&self.pool);
                let mark = |login: Option<&str>, source: Option<&str>| -> Result<Option<OwnerMark>> {
                    match (login, source) {
                        (Some(login), Some(source)) => Ok(Some(OwnerMark {
                            source: OwnerSource::parse(source).ok_or_else(|| {
                                StoreError::Corrupt(format!("unknown owner source {source:?}"))
                            })?,
                            login: KeyDigest::of(login),
                        })),
                        _ => Ok(None),
                    }
                };
                let mut out = Vec::new();
                while let Some(row) = rows.try_next().await? {
                    out.push(MachineIndexEntry {
                        id: row.try_get("id")?,
                        host: KeyDigest::of(row.try_get::<&str, _>("host_key")?),
                        last_report: from_micros(row.try_get("last_report")?),
                        software_hash: row.try_get("software_hash")?,
                        responsible: mark(row.try_get("r_login")?, row.try_get("r_source")?)?,
                        main_user: mark(row.try_get("u_login")?, row.try_get("u_source")?)?,
                    });
                }
                Ok(out)
            }

            async fn titles(&self) -> Result<Vec<TitleRow>> {
                let rows: Vec<(i64, String, String, String, Option<String>, Option<String>, Option<String>)> =
                    sqlx::query_as(
                        "SELECT id, name, version, publisher, product, cycle, application FROM software_titles",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, name, version, publisher, product, cycle, application)| TitleRow {
                        id,
                        name,
                        version,
                        publisher,
                        cycle: cycle_ref(product, cycle),
                        application,
                    })
                    .collect())
            }

            async fn upsert_titles(&self, titles: &[TitleRow]) -> Result<Vec<TitleRow>> {
                let mut out = Vec::with_capacity(titles.len());
                let _turn = self.write_turn().await;
                let mut tx = self.pool.begin().await?;
                for chunk in titles.chunks(CHUNK_PARAMS / 6) {
                    let mut qb = QueryBuilder::<$db>::new(
                        "INSERT INTO software_titles (name, version, publisher, product, cycle, application) ",
                    );
                    qb.push_values(chunk, |mut b, t| {
                        b.push_bind(t.name.clone())
                            .push_bind(t.version.clone())
                            .push_bind(t.publisher.clone())
                            .push_bind(t.cycle.as_ref().map(|c| c.product.clone()))
                            .push_bind(t.cycle.as_ref().map(|c| c.cycle.clone()))
                            .push_bind(t.application.clone());
                    });
                    // A no-op update, so RETURNING also yields titles stored before.
                    qb.push(
                        " ON CONFLICT (name, version, publisher) DO UPDATE SET name = excluded.name \
                         RETURNING id, name, version, publisher, product, cycle, application",
                    );
                    let rows: Vec<(i64, String, String, String, Option<String>, Option<String>, Option<String>)> =
                        qb.build_query_as().persistent(false).fetch_all(&mut *tx).await?;
                    out.extend(rows.into_iter().map(
                        |(id, name, version, publisher, product, cycle, application)| TitleRow {
                            id,
                            name,
                            version,
                            publisher,
                            cycle: cycle_ref(product, cycle),
                            application,
                        },
                    ));
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn apply_machines(
                &self,
                writes: &[MachineWrite],
                now: DateTime<Utc>,
            ) -> Result<Vec<(String, i64)>> {
                let now_us = to_micros(now);
                let _turn = self.write_turn().await;
                let mut tx = self.pool.begin().await?;
                let mut ids: HashMap<String, i64> = HashMap::with_capacity(writes.len());
                ids.extend(
                    $bulk::upsert_machines(&mut tx, writes, now_us)
                        .await?
                        .into_iter()
                        .map(|(id, k)| (k, id)),
                );
                let id_of = |w: &MachineWrite| -> Result<i64> {
                    ids.get(&w.host_key)
                        .copied()
                        .ok_or_else(|| StoreError::Corrupt(format!("no id returned for {}", w.host_key)))
                };

                // Software: replace the lists of machines that reported one.
                let replaced: Vec<i64> = writes
                    .iter()
                    .filter(|w| w.software.is_some() && w.id.is_some())
                    .map(id_of)
                    .collect::<Result<_>>()?;
                for table in ["software_lists", "machine_software", "machine_applications"] {
                    Self::delete_for_machines(&mut tx, table, &replaced).await?;
                }
                let mut installs = Vec::new();
                let mut cycles = Vec::new();
                let mut apps = Vec::new();
                for w in writes {
                    let Some(sw) = &w.software else { continue };
                    let id = id_of(w)?;
                    installs.push((id, sw.rows.as_slice()));
                    cycles.extend(sw.cycles.iter().map(|(c, u)| (id, c, *u)));
                    apps.extend(sw.applications.iter().map(|(a, u)| (id, a, *u)));
                }
                $bulk::insert_software(&mut tx, &installs, &cycles, &apps).await?;

                // Owners.
                let mut sets = Vec::new();
                let mut clears: HashMap<&'static str, Vec<i64>> = HashMap::new();
                for w in writes {
                    let id = id_of(w)?;
                    for change in &w.owners {
                        match change {
                            OwnerChange::Set(role, fact) => sets.push((id, *role, fact)),
                            OwnerChange::Clear(role) => clears.entry(role.as_str()).or_default().push(id),
                        }
                    }
                }
                $bulk::upsert_owners(&mut tx, &sets, now_us).await?;
                for (role, ids) in clears {
                    for chunk in ids.chunks(CHUNK_PARAMS) {
                        let mut qb = QueryBuilder::<$db>::new("DELETE FROM machine_owners WHERE role = ");
                        qb.push_bind(role);
                        qb.push(" AND source <> 'answer' AND machine_id IN (");
                        let mut sep = qb.separated(", ");
                        for id in chunk {
                            sep.push_bind(*id);
                        }
                        qb.push(")");
                        qb.build().persistent(false).execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(writes
                    .iter()
                    .filter_map(|w| ids.get(&w.host_key).map(|id| (w.host_key.clone(), *id)))
                    .collect())
            }

            async fn netdb_cache(&self, since: DateTime<Utc>) -> Result<Vec<CachedNetDb>> {
                let rows: Vec<(String, bool, Option<String>, Option<String>, i64)> = sqlx::query_as(
                    "SELECT host_key, found, responsible, main_user, fetched_at FROM netdb_cache \
                     WHERE fetched_at >= $1",
                )
                .bind(to_micros(since))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(host_key, found, responsible, main_user, at)| CachedNetDb {
                        host_key,
                        found,
                        responsible,
                        main_user,
                        fetched_at: from_micros(at),
                    })
                    .collect())
            }

            async fn apply_netdb(&self, answers: &[NetDbAnswer], now: DateTime<Utc>) -> Result<()> {
                let now_us = to_micros(now);
                let _turn = self.write_turn().await;
                let mut tx = self.pool.begin().await?;
                let mut people: HashMap<&str, &super::DirectoryPerson> = HashMap::new();
                for a in answers {
                    sqlx::query(
                        "INSERT INTO netdb_cache (host_key, found, responsible, main_user, fetched_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (host_key) DO UPDATE SET \
                         found = excluded.found, responsible = excluded.responsible, \
                         main_user = excluded.main_user, fetched_at = excluded.fetched_at",
                    )
                    .bind(&a.host_key)
                    .bind(a.found)
                    .bind(a.responsible.as_ref().map(|p| p.login.clone()))
                    .bind(a.main_user.as_ref().map(|p| p.login.clone()))
                    .bind(now_us)
                    .execute(&mut *tx)
                    .await?;
                    for p in [&a.responsible, &a.main_user].into_iter().flatten() {
                        people.insert(p.login.as_str(), p);
                    }
                    for (role, person) in [
                        (OwnerRole::Responsible, &a.responsible),
                        (OwnerRole::MainUser, &a.main_user),
                    ] {
                        match person {
                            Some(p) => {
                                sqlx::query(
                                    "INSERT INTO machine_owners (machine_id, role, login, source, updated_at) \
                                     SELECT id, $2, $3, 'network-db', $4 FROM machines WHERE host_key = $1 \
                                     ON CONFLICT (machine_id, role) DO UPDATE SET login = excluded.login, \
                                     source = excluded.source, updated_at = excluded.updated_at \
                                     WHERE machine_owners.source = 'network-db'",
                                )
                                .bind(&a.host_key)
                                .bind(role.as_str())
                                .bind(&p.login)
                                .bind(now_us)
                                .execute(&mut *tx)
                                .await?;
                            }
                            None => {
                                sqlx::query(
                                    "DELETE FROM machine_owners WHERE role = $2 AND source = 'network-db' \
                                     AND machine_id IN (SELECT id FROM machines WHERE host_key = $1)",
                                )
                                .bind(&a.host_key)
                                .bind(role.as_str())
                                .execute(&mut *tx)
                                .await?;
                            }
                        }
                    }
                }
                for p in people.values() {
                    sqlx::query(
                        "INSERT INTO users (login, name, email, updated_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (login) DO UPDATE SET name = COALESCE(excluded.name, users.name), \
                         email = COALESCE(excluded.email, users.email), updated_at = excluded.updated_at",
                    )
                    .bind(&p.login)
                    .bind(&p.name)
                    .bind(&p.email)
                    .bind(now_us)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn start_run(&self, source: &str, now: DateTime<Utc>) -> Result<i64> {
                let (id,): (i64,) =
                    sqlx::query_as("INSERT INTO ingest_runs (started_at, source) VALUES ($1, $2) RETURNING id")
                        .bind(to_micros(now))
                        .bind(source)
                        .fetch_one(&self.pool)
                        .await?;
                Ok(id)
            }

            async fn finish_run(&self, id: i64, summary: &str, now: DateTime<Utc>) -> Result<()> {
                sqlx::query("UPDATE ingest_runs SET finished_at = $2, summary = $3 WHERE id = $1")
                    .bind(id)
                    .bind(to_micros(now))
                    .bind(summary)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn tidy_after_ingest(&self) -> Result<()> {
                let sql = match $backend {
                    // VACUUM runs outside any transaction; one statement per call.
                    Backend::Postgres => &[
                        "VACUUM (ANALYZE) machines",
                        "VACUUM (ANALYZE) machine_software",
                        "VACUUM (ANALYZE) machine_applications",
                        "VACUUM (ANALYZE) machine_owners",
                    ][..],
                    Backend::Sqlite => &["PRAGMA optimize"][..],
                };
                for q in sql {
                    sqlx::query(sqlx::AssertSqlSafe(*q)).execute(&self.pool).await?;
                }
                Ok(())
            }

            async fn import_users(&self, users: &[UserImport], now: DateTime<Utc>) -> Result<()> {
                let now_us = to_micros(now);
                let _turn = self.write_turn().await;
                let mut tx = self.pool.begin().await?;
                for u in users {
                    let x = &u.user;
                    sqlx::query(
                        "INSERT INTO users (login, name, email, matrix_id, mattermost_username, language, \
                         time_zone, manager, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT (login) DO UPDATE SET name = COALESCE(excluded.name, users.name), \
                         email = COALESCE(excluded.email, users.email), \
                         matrix_id = COALESCE(excluded.matrix_id, users.matrix_id), \
                         mattermost_username = COALESCE(excluded.mattermost_username, users.mattermost_username), \
                         language = COALESCE(excluded.language, users.language), \
                         time_zone = COALESCE(excluded.time_zone, users.time_zone), \
                         manager = COALESCE(excluded.manager, users.manager), updated_at = excluded.updated_at",
                    )
                    .bind(&x.login)
                    .bind(&x.name)
                    .bind(&x.email)
                    .bind(&x.matrix_id)
                    .bind(&x.mattermost_username)
                    .bind(&x.language)
                    .bind(&x.time_zone)
                    .bind(&x.manager)
                    .bind(now_us)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM group_members WHERE login = $1")
                        .bind(&x.login)
                        .execute(&mut *tx)
                        .await?;
                    for g in &u.groups {
                        sqlx::query("INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                            .bind(g)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(
                            "INSERT INTO group_members (group_name, login) VALUES ($1, $2) \
                             ON CONFLICT (group_name, login) DO NOTHING",
                        )
                        .bind(g)
                        .bind(&x.login)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn user(&self, login: &str) -> Result<Option<User>> {
                let q = format!("SELECT {USER_COLUMNS} FROM users WHERE login = $1");
                let row = sqlx::query(sqlx::AssertSqlSafe(q))
                    .bind(login)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| Self::user_at(&r, 0)).transpose()
            }

            async fn user_by_chat(&self, channel: &str, address: &str) -> Result<Option<User>> {
                let address = address.trim();
                let matching = match channel {
                    "matrix" => "matrix_id = $1",
                    "mattermost" => "lower(trim(ltrim(trim(mattermost_username), '@'))) = lower($1)",
                    _ => return Ok(None),
                };
                if address.is_empty() {
                    return Ok(None);
                }
                let q = format!("SELECT {USER_COLUMNS} FROM users WHERE {matching} ORDER BY login LIMIT 1");
                let row = sqlx::query(sqlx::AssertSqlSafe(q))
                    .bind(address)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| Self::user_at(&r, 0)).transpose()
            }

            async fn groups_of(&self, login: &str) -> Result<Vec<String>> {
                let rows: Vec<(String,)> =
                    sqlx::query_as("SELECT group_name FROM group_members WHERE login = $1 ORDER BY group_name")
                        .bind(login)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(|(g,)| g).collect())
            }

            async fn set_owner(
                &self,
                host_key: &str,
                role: OwnerRole,
                fact: Option<&OwnerFact>,
                now: DateTime<Utc>,
            ) -> Result<bool> {
                let done = match fact {
                    Some(f) => sqlx::query(
                        "INSERT INTO machine_owners (machine_id, role, login, source, updated_at) \
                         SELECT id, $2, $3, $4, $5 FROM machines WHERE host_key = $1 \
                         ON CONFLICT (machine_id, role) DO UPDATE SET login = excluded.login, \
                         source = excluded.source, updated_at = excluded.updated_at",
                    )
                    .bind(host_key)
                    .bind(role.as_str())
                    .bind(&f.login)
                    .bind(f.source.as_str())
                    .bind(to_micros(now))
                    .execute(&self.pool)
                    .await?
                    .rows_affected(),
                    None => sqlx::query(
                        "DELETE FROM machine_owners WHERE role = $2 \
                         AND machine_id IN (SELECT id FROM machines WHERE host_key = $1)",
                    )
                    .bind(host_key)
                    .bind(role.as_str())
                    .execute(&self.pool)
                    .await?
                    .rows_affected(),
                };
                Ok(done > 0)
            }

            async fn refreshed_catalog(&self) -> Result<Vec<CycleInfo>> {
                let rows: Vec<(String,)> = sqlx::query_as("SELECT data FROM catalog_refresh ORDER BY product, cycle")
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter()
                    .map(|(d,)| serde_json::from_str(&d).map_err(|e| StoreError::Corrupt(e.to_string())))
                    .collect()
            }

            async fn save_refreshed_catalog(&self, rows: &[CycleInfo], now: DateTime<Utc>) -> Result<()> {
                let _turn = self.write_turn().await;
                let mut tx = self.pool.begin().await?;
                for r in rows {
                    let data = serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    sqlx::query(
                        "INSERT INTO catalog_refresh (product, cycle, data, fetched_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (product, cycle) DO UPDATE SET data = excluded.data, fetched_at = excluded.fetched_at",
                    )
                    .bind(&r.product)
                    .bind(&r.cycle)
                    .bind(data)
                    .bind(to_micros(now))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn update_title_matches(&self, titles: &[TitleRow]) -> Result<()> {
                let _turn = self.write_turn().await;
                let mut tx = self.pool.begin().await?;
                for t in titles {
                    sqlx::query("UPDATE software_titles SET product = $2, cycle = $3, application = $4 WHERE id = $1")
                        .bind(t.id)
                        .bind(t.cycle.as_ref().map(|c| c.product.clone()))
                        .bind(t.cycle.as_ref().map(|c| c.cycle.clone()))
                        .bind(&t.application)
                        .execute(&mut *tx)
                        .await?;
                }
                Self::rebuild_derived(&mut tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn machine_os(&self) -> Result<Vec<(i64, OsInfo)>> {
                let rows = sqlx::query(
                    "SELECT id, os_caption, os_version, os_display_version, os_edition, os_product_type, \
                     os_architecture FROM machines",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get("id")?,
                            Self::os_info(r)?,
                        ))
                    })
                    .collect()
            }

            async fn update_os_matches(&self, matches: &[(i64, Option<CycleRef>)]) -> Result<()> {
                let _turn = self.write_turn().await;
                let mut tx = self.pool.begin().await?;
                for (id, m) in matches {
                    sqlx::query("UPDATE machines SET os_product = $2, os_cycle = $3 WHERE id = $1")
                        .bind(*id)
                        .bind(m.as_ref().map(|c| c.product.clone()))
                        .bind(m.as_ref().map(|c| c.cycle.clone()))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn os_counts(&self, window: Window) -> Result<Vec<(Option<CycleRef>, i64)>> {
                let rows: Vec<(Option<String>, Option<String>, i64)> = sqlx::query_as(
                    "SELECT os_product, os_cycle, COUNT(*) FROM machines \
                     WHERE last_report >= $1 AND last_report < $2 GROUP BY os_product, os_cycle",
                )
                .bind(to_micros(window.since))
                .bind(before_micros(window))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(p, c, n)| (cycle_ref(p, c), n)).collect())
            }

            async fn software_counts(&self, window: Window) -> Result<Vec<(CycleRef, i64)>> {
                // Every machine minus the uncounted ones: the total is one scan
                // of the covering primary key; the other side looks up only the
                // (few, for today) stale machines through the machine_id index.
                let (total, stale_ids): (Vec<(String, String, i64)>, _) = futures::try_join!(
                    async {
                        Ok::<_, StoreError>(
                            sqlx::query_as(
                                "SELECT product, cycle, COUNT(*) FROM machine_software GROUP BY product, cycle",
                            )
                            .fetch_all(&self.pool)
                            .await?,
                        )
                    },
                    self.uncounted_ids(window)
                )?;
                let mut stale: HashMap<(String, String), i64> = HashMap::new();
                for chunk in stale_ids.chunks(CHUNK_PARAMS) {
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT product, cycle, COUNT(*) FROM machine_software WHERE machine_id IN (",
                    );
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(") GROUP BY product, cycle");
                    let rows: Vec<(String, String, i64)> = qb.build_query_as().persistent(false).fetch_all(&self.pool).await?;
                    for (p, c, n) in rows {
                        *stale.entry((p, c)).or_default() += n;
                    }
                }
                let key = |(product, cycle, n): (String, String, i64)| (CycleRef { product, cycle }, n);
                Ok(minus(
                    total.into_iter().map(key).collect(),
                    stale.into_iter().map(|((product, cycle), n)| (CycleRef { product, cycle }, n)).collect(),
                ))
            }

            async fn application_counts(&self, window: Window) -> Result<Vec<(String, i64)>> {
                let total: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT application, COUNT(*) FROM machine_applications GROUP BY application",
                )
                .fetch_all(&self.pool)
                .await?;
                let mut stale: HashMap<String, i64> = HashMap::new();
                for chunk in self.uncounted_ids(window).await?.chunks(CHUNK_PARAMS) {
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT application, COUNT(*) FROM machine_applications WHERE machine_id IN (",
                    );
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(") GROUP BY application");
                    let rows: Vec<(String, i64)> = qb.build_query_as().persistent(false).fetch_all(&self.pool).await?;
                    for (a, n) in rows {
                        *stale.entry(a).or_default() += n;
                    }
                }
                Ok(minus(total, stale.into_iter().collect()))
            }

            async fn licence_holders(
                &self,
                covers: &[crate::licence::Coverage],
                window: Window,
            ) -> Result<Vec<crate::licence::Holder>> {
                use crate::licence::Coverage;
                if covers.is_empty() {
                    return Ok(Vec::new());
                }
                // Every machine once, with its user (main user, else
                // responsible); then per licence only (machine, last use)
                // pairs, joined here: a correlated look-up per holder cost
                // seconds on the 100,000-machine fleet.
                let machines: Vec<(i64, String, i64, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT m.id, m.host_key, m.last_report, u.login, r.login FROM machines m \
                     LEFT JOIN machine_owners u ON u.machine_id = m.id AND u.role = 'main_user' \
                     LEFT JOIN machine_owners r ON r.machine_id = m.id AND r.role = 'responsible'",
                )
                .fetch_all(&self.pool)
                .await?;
                // Machines reported since a dated as-of are not known then.
                let by_id: HashMap<i64, (String, DateTime<Utc>, Option<String>)> = machines
                    .into_iter()
                    .map(|(id, host, last_report, user, responsible)| {
                        (id, (host, from_micros(last_report), user.or(responsible)))
                    })
                    .filter(|(_, (_, last_report, _))| window.is_known(*last_report))
                    .collect();
                let mut out = Vec::new();
                for c in covers {
                    let pairs: Vec<(i64, Option<i64>)> = match c {
                        Coverage::Application(a) => sqlx::query_as(
                            "SELECT machine_id, last_used FROM machine_applications WHERE application = $1",
                        )
                        .bind(a)
                        .fetch_all(&self.pool)
                        .await?,
                        Coverage::Product(p) => sqlx::query_as(
                            "SELECT machine_id, MAX(last_used) FROM machine_software \
                             WHERE product = $1 GROUP BY machine_id",
                        )
                        .bind(p)
                        .fetch_all(&self.pool)
                        .await?,
                    };
                    out.reserve(pairs.len());
                    for (id, last_used) in pairs {
                        let Some((host_key, last_report, user)) = by_id.get(&id) else {
                            continue;
                        };
                        out.push(crate::licence::Holder {
                            covers: c.clone(),
                            machine_id: id,
                            host_key: host_key.clone(),
                            user: user.clone(),
                            last_report: *last_report,
                            last_used: last_used.map(from_micros),
                        });
                    }
                }
                Ok(out)
            }

            async fn licence_usage(
                &self,
                covers: &[crate::licence::Coverage],
                window: Window,
            ) -> Result<crate::licence::UsageFacts> {
                use crate::licence::Coverage;
                // Each list comes back as one string (string_agg, in SQLite
                // since 3.44 and in PostgreSQL): decoding a row through sqlx
                // costs about a microsecond, and the 100,000-machine fleet
                // has some 700,000 installs under 30 licences.
                let mut facts = crate::licence::UsageFacts::default();
                if covers.is_empty() {
                    return Ok(facts);
                }
                // The three reads are independent: run at once, on pooled
                // connections, the owners parsed while the lists are read.
                let fresh = async {
                    let (fresh,): (Option<String>,) = sqlx::query_as(
                        "SELECT string_agg(CAST(id AS TEXT), ',') FROM machines \
                         WHERE last_report >= $1 AND last_report < $2",
                    )
                    .bind(to_micros(window.since))
                    .bind(before_micros(window))
                    .fetch_one(&self.pool)
                    .await?;
                    parse_ids(fresh.as_deref().unwrap_or(""))
                };
                // One scan, no sort: "id role login" lines (role by its
                // first letter, `m` for main user, `r` for responsible); a
                // main user wins over a responsible.
                let owners = async {
                    let (owners,): (Option<String>,) = sqlx::query_as(
                        "SELECT string_agg(CAST(machine_id AS TEXT) || ' ' || substr(role, 1, 1) || ' ' || login, '\n') \
                         FROM machine_owners",
                    )
                    .fetch_one(&self.pool)
                    .await?;
                    // Logins interned while borrowed from the one string: no
                    // allocation per machine.
                    let mut users = crate::licence::UsageFacts::default();
                    let mut index: rustc_hash::FxHashMap<&str, u32> = Default::default();
                    for line in owners.as_deref().unwrap_or("").lines() {
                        let mut parts = line.splitn(3, ' ');
                        let (Some(id), Some(role), Some(login)) = (parts.next(), parts.next(), parts.next())
                        else {
                            return Err(StoreError::Corrupt(format!("owner list entry {line:?}")));
                        };
                        let id = parse_id(id)?;
                        if role == "m" || !users.user_of.contains_key(&id) {
                            let i = match index.get(login) {
                                Some(&i) => i,
                                None => {
                                    let i = users.intern(login);
                                    index.insert(login, i);
                                    i
                                }
                            };
                            users.user_of.insert(id, i);
                        }
                    }
                    Ok::<_, StoreError>(users)
                };
                // Per coverage one list, read on several connections at once.
                // A product's rows are per cycle: a machine with two cycles
                // comes twice, merged in memory (cheaper than GROUP BY's sort).
                let pair = "CAST(machine_id AS TEXT) || ':' || COALESCE(CAST(last_used AS TEXT), '')";
                let app_sql = format!(
                    "SELECT string_agg({pair}, ',') FROM machine_applications WHERE application = $1"
                );
                let product_sql =
                    format!("SELECT string_agg({pair}, ',') FROM machine_software WHERE product = $1");
                let lists = futures::future::try_join_all(covers.iter().map(|c| {
                    let (sql, name) = match c {
                        Coverage::Application(a) => (app_sql.as_str(), a.as_str()),
                        Coverage::Product(p) => (product_sql.as_str(), p.as_str()),
                    };
                    async move {
                        let (list,): (Option<String>,) =
                            sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
                                .bind(name)
                                .fetch_one(&self.pool)
                                .await?;
                        let mut installs = parse_installs(list.as_deref().unwrap_or(""))?;
                        if matches!(c, Coverage::Product(_)) {
                            installs.sort_unstable();
                            // Sorted by (machine, last use): keep each machine's last.
                            installs.reverse();
                            installs.dedup_by_key(|(m, _)| *m);
                        }
                        Ok::<_, StoreError>((c.clone(), installs))
                    }
                }));
                let (fresh, users, lists) = futures::try_join!(fresh, owners, lists)?;
                facts.fresh = fresh;
                facts.user_of = users.user_of;
                facts.users = users.users;
                facts.user_index = users.user_index;
                facts.installs = lists.into_iter().collect();
                Ok(facts)
            }

            async fn reported_since(&self, instant: DateTime<Utc>) -> Result<(Option<DateTime<Utc>>, i64)> {
                // Both through the last_report index: the minimum is one
                // look-up, the count reads only the machines reported since.
                let (oldest, since): (Option<i64>, i64) = sqlx::query_as(
                    "SELECT (SELECT MIN(last_report) FROM machines), \
                     (SELECT COUNT(*) FROM machines WHERE last_report >= $1)",
                )
                .bind(to_micros(instant))
                .fetch_one(&self.pool)
                .await?;
                Ok((oldest.map(from_micros), since))
            }

            async fn group_memberships(&self) -> Result<HashMap<String, Vec<String>>> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT login, group_name FROM group_members ORDER BY login, group_name",
                )
                .fetch_all(&self.pool)
                .await?;
                let mut out: HashMap<String, Vec<String>> = HashMap::new();
                for (login, group) in rows {
                    out.entry(login).or_default().push(group);
                }
                Ok(out)
            }

            async fn machine(&self, host_key: &str) -> Result<Option<MachineRow>> {
                let row = sqlx::query(concat!(machine_select!(), "WHERE m.host_key = $1"))
                    .bind(host_key)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(Self::machine_row).transpose()
            }

            async fn machine_software(&self, machine_id: i64) -> Result<Vec<InstalledSoftware>> {
                let rows = sqlx::query(
                    "SELECT t.name, t.version, t.publisher, t.product, t.cycle, t.application, \
                     CAST(i.install_date AS TEXT) AS install_date, i.last_used FROM installations i \
                     JOIN software_titles t ON t.id = i.title_id WHERE i.machine_id = $1 ORDER BY i.seq",
                )
                .bind(machine_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(InstalledSoftware {
                            name: r.try_get("name")?,
                            version: r.try_get("version")?,
                            publisher: r.try_get("publisher")?,
                            install_date: parse_date(r.try_get("install_date")?),
                            last_used: r.try_get::<Option<i64>, _>("last_used")?.map(from_micros),
                            cycle: cycle_ref(r.try_get("product")?, r.try_get("cycle")?),
                            application: r.try_get("application")?,
                        })
                    })
                    .collect()
            }

            async fn software_cycles_of(&self, machine_ids: &[i64]) -> Result<Vec<(i64, CycleRef)>> {
                let mut out = Vec::new();
                for chunk in machine_ids.chunks(CHUNK_PARAMS) {
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT machine_id, product, cycle FROM machine_software WHERE machine_id IN (",
                    );
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(") ORDER BY machine_id, product, cycle");
                    let rows: Vec<(i64, String, String)> = qb.build_query_as().persistent(false).fetch_all(&self.pool).await?;
                    out.extend(rows.into_iter().map(|(id, product, cycle)| (id, CycleRef { product, cycle })));
                }
                Ok(out)
            }

            async fn machines_of(&self, login: &str) -> Result<Vec<MachineRow>> {
                let rows = sqlx::query(concat!(
                    machine_select!(),
                    "WHERE m.id IN (SELECT machine_id FROM machine_owners WHERE login = $1) ORDER BY m.host_key"
                ))
                .bind(login)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::machine_row).collect()
            }

            async fn counts(&self) -> Result<StoreCounts> {
                let (machines, titles, installations, users): (i64, i64, i64, i64) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM machines), (SELECT COUNT(*) FROM software_titles), \
                     (SELECT COALESCE(SUM(programs), 0) FROM software_lists), (SELECT COUNT(*) FROM users)",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(StoreCounts {
                    machines,
                    titles,
                    installations,
                    users,
                })
            }

            async fn rejected_machines(&self, limit: i64) -> Result<(Vec<RejectedMachine>, i64)> {
                let rows: Vec<(String, i64, i64, String, i64)> = sqlx::query_as(
                    "SELECT hostname, hostname_bytes, last_report, reason, rejected_at \
                     FROM rejected_machines ORDER BY id LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM rejected_machines")
                    .fetch_one(&self.pool)
                    .await?;
                let list = rows
                    .into_iter()
                    .map(|(hostname, hostname_bytes, last_report, reason, rejected_at)| RejectedMachine {
                        hostname,
                        hostname_bytes,
                        last_report: from_micros(last_report),
                        reason,
                        rejected_at: from_micros(rejected_at),
                    })
                    .collect();
                Ok((list, total))
            }
        }
    };
}

/// Software lists to write: (machine id, its programs in report order).
type Installs<'a> = [(i64, &'a [super::InstallRow])];

/// Appends the `entries` JSON of one software list:
/// `[[title_id,"YYYY-MM-DD"|null,last_used_us|null],...]`. Only digits,
/// dashes, quotes, brackets, commas and `null`: nothing that JSON, SQL text or
/// PostgreSQL's `COPY` text format would need to escape.
fn encode_entries(buf: &mut String, rows: &[super::InstallRow]) {
    use chrono::Datelike as _;
    use std::fmt::Write as _;
    buf.push('[');
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        let _ = write!(buf, "[{},", r.title_id);
        match r.install_date {
            // Years are 1..=9999 (the snapshot reader rejects others).
            Some(d) => {
                let _ = write!(buf, "\"{:04}-{:02}-{:02}\",", d.year(), d.month(), d.day());
            }
            None => buf.push_str("null,"),
        }
        match r.last_used {
            Some(t) => {
                let _ = write!(buf, "{}]", to_micros(t));
            }
            None => buf.push_str("null]"),
        }
    }
    buf.push(']');
}

/// Machine owners to set: (machine id, role, fact).
type OwnerSets<'a> = [(i64, OwnerRole, &'a OwnerFact)];

/// The `ON CONFLICT` clause of the machines upsert (shared by both backends).
const MACHINES_UPSERT: &str = " ON CONFLICT (host_key) DO UPDATE SET hostname = excluded.hostname, \
     domain = excluded.domain, os_caption = excluded.os_caption, \
     os_version = excluded.os_version, os_display_version = excluded.os_display_version, \
     os_edition = excluded.os_edition, os_product_type = excluded.os_product_type, \
     os_architecture = excluded.os_architecture, os_product = excluded.os_product, \
     os_cycle = excluded.os_cycle, last_seen = excluded.last_seen, \
     last_report = excluded.last_report, \
     software_hash = COALESCE(excluded.software_hash, machines.software_hash) \
     RETURNING id, host_key";

const MACHINES_COLUMNS: &str = "INSERT INTO machines (host_key, hostname, domain, os_caption, os_version, \
     os_display_version, os_edition, os_product_type, os_architecture, os_product, \
     os_cycle, first_seen, last_seen, last_report, software_hash) ";

/// An answer stands until a later answer or an admin (`set_owner`).
const OWNERS_UPSERT: &str = " ON CONFLICT (machine_id, role) DO UPDATE SET login = excluded.login, \
     source = excluded.source, updated_at = excluded.updated_at \
     WHERE machine_owners.source <> 'answer'";

/// The bulk statements of an ingest batch on SQLite: multi-row
/// `INSERT ... VALUES`, as many rows as the bound-parameter limit allows.
mod sqlite_bulk {
    use super::*;
    type Tx<'t> = sqlx::Transaction<'t, sqlx::Sqlite>;

    pub(super) async fn upsert_machines(
        tx: &mut Tx<'_>,
        writes: &[MachineWrite],
        now_us: i64,
    ) -> Result<Vec<(i64, String)>> {
        let mut out = Vec::with_capacity(writes.len());
        // One row per machine: the text repeats from batch to batch, so the
        // prepared statement is kept (see `CHUNK_PARAMS`).
        for chunk in writes.chunks(CHUNK_PARAMS / 15) {
            let mut qb = QueryBuilder::<sqlx::Sqlite>::new(MACHINES_COLUMNS);
            qb.push_values(chunk, |mut b, w| {
                b.push_bind(w.host_key.clone())
                    .push_bind(w.hostname.clone())
                    .push_bind(w.domain.clone())
                    .push_bind(w.os.caption.clone())
                    .push_bind(w.os.version.clone())
                    .push_bind(w.os.display_version.clone())
                    .push_bind(w.os.edition.clone())
                    .push_bind(w.os.product_type)
                    .push_bind(w.os.architecture.clone())
                    .push_bind(w.os_match.as_ref().map(|c| c.product.clone()))
                    .push_bind(w.os_match.as_ref().map(|c| c.cycle.clone()))
                    .push_bind(now_us)
                    .push_bind(now_us)
                    .push_bind(to_micros(w.collected_at))
                    .push_bind(w.software.as_ref().map(|s| s.hash));
            });
            qb.push(MACHINES_UPSERT);
            out.extend(
                qb.build_query_as::<(i64, String)>()
                    .persistent(true)
                    .fetch_all(&mut **tx)
                    .await?,
            );
        }
        Ok(out)
    }

    pub(super) async fn insert_software(
        tx: &mut Tx<'_>,
        installs: &Installs<'_>,
        cycles: &[(i64, &CycleRef, Option<DateTime<Utc>>)],
        apps: &[(i64, &String, Option<DateTime<Utc>>)],
    ) -> Result<()> {
        for chunk in installs.chunks(CHUNK_PARAMS / 3) {
            let mut qb = QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO software_lists (machine_id, programs, entries) ",
            );
            qb.push_values(chunk, |mut b, (id, rows)| {
                let mut entries = String::with_capacity(rows.len() * 32);
                encode_entries(&mut entries, rows);
                b.push_bind(*id)
                    .push_bind(rows.len() as i64)
                    .push_bind(entries);
            });
            qb.build().persistent(true).execute(&mut **tx).await?;
        }
        for chunk in cycles.chunks(CHUNK_PARAMS / 4) {
            let mut qb = QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO machine_software (product, cycle, machine_id, last_used) ",
            );
            qb.push_values(chunk, |mut b, (id, c, u)| {
                b.push_bind(c.product.clone())
                    .push_bind(c.cycle.clone())
                    .push_bind(*id)
                    .push_bind(u.map(|u| u.timestamp_micros()));
            });
            qb.build().persistent(false).execute(&mut **tx).await?;
        }
        for chunk in apps.chunks(CHUNK_PARAMS / 3) {
            let mut qb = QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO machine_applications (application, machine_id, last_used) ",
            );
            qb.push_values(chunk, |mut b, (id, a, u)| {
                b.push_bind((*a).clone())
                    .push_bind(*id)
                    .push_bind(u.map(|u| u.timestamp_micros()));
            });
            qb.build().persistent(false).execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub(super) async fn upsert_owners(
        tx: &mut Tx<'_>,
        sets: &OwnerSets<'_>,
        now_us: i64,
    ) -> Result<()> {
        for chunk in sets.chunks(CHUNK_PARAMS / 5) {
            let mut qb = QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO machine_owners (machine_id, role, login, source, updated_at) ",
            );
            qb.push_values(chunk, |mut b, (id, role, fact)| {
                b.push_bind(*id)
                    .push_bind(role.as_str())
                    .push_bind(fact.login.clone())
                    .push_bind(fact.source.as_str())
                    .push_bind(now_us);
            });
            qb.push(OWNERS_UPSERT);
            qb.build().persistent(false).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// The bulk statements of an ingest batch on PostgreSQL: one statement per
/// table whatever the batch size, with the rows as arrays (`UNNEST`) or
/// streamed with `COPY`. A multi-row `VALUES` with thousands of parameters
/// costs PostgreSQL more to parse and plan than to execute.
mod pg_bulk {
    use super::*;
    type Tx<'t> = sqlx::Transaction<'t, sqlx::Postgres>;

    pub(super) async fn upsert_machines(
        tx: &mut Tx<'_>,
        writes: &[MachineWrite],
        now_us: i64,
    ) -> Result<Vec<(i64, String)>> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let col =
            |f: &dyn Fn(&MachineWrite) -> Option<String>| writes.iter().map(f).collect::<Vec<_>>();
        let sql = format!(
            "{MACHINES_COLUMNS} SELECT k, h, d, c, v, dv, e, pt, a, p, cy, $12, $12, lr, sh FROM UNNEST(\
             $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
             $8::bigint[], $9::text[], $10::text[], $11::text[], $13::bigint[], $14::bigint[]) \
             AS t(k, h, d, c, v, dv, e, pt, a, p, cy, lr, sh){MACHINES_UPSERT}"
        );
        let rows = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql))
            .bind(col(&|w| Some(w.host_key.clone())))
            .bind(col(&|w| Some(w.hostname.clone())))
            .bind(col(&|w| w.domain.clone()))
            .bind(col(&|w| Some(w.os.caption.clone())))
            .bind(col(&|w| Some(w.os.version.clone())))
            .bind(col(&|w| w.os.display_version.clone()))
            .bind(col(&|w| w.os.edition.clone()))
            .bind(writes.iter().map(|w| w.os.product_type).collect::<Vec<_>>())
            .bind(col(&|w| w.os.architecture.clone()))
            .bind(col(&|w| w.os_match.as_ref().map(|c| c.product.clone())))
            .bind(col(&|w| w.os_match.as_ref().map(|c| c.cycle.clone())))
            .bind(now_us)
            .bind(
                writes
                    .iter()
                    .map(|w| to_micros(w.collected_at))
                    .collect::<Vec<_>>(),
            )
            .bind(
                writes
                    .iter()
                    .map(|w| w.software.as_ref().map(|s| s.hash))
                    .collect::<Vec<_>>(),
            )
            .fetch_all(&mut **tx)
            .await?;
        Ok(rows)
    }

    /// Software lists by `COPY` in text format (the entries need no escaping,
    /// see [`encode_entries`]); the derived rows as arrays.
    pub(super) async fn insert_software(
        tx: &mut Tx<'_>,
        installs: &Installs<'_>,
        cycles: &[(i64, &CycleRef, Option<DateTime<Utc>>)],
        apps: &[(i64, &String, Option<DateTime<Utc>>)],
    ) -> Result<()> {
        use std::fmt::Write as _;
        if !installs.is_empty() {
            let mut buf =
                String::with_capacity(installs.iter().map(|(_, r)| r.len() * 32 + 24).sum());
            for (id, rows) in installs {
                let _ = write!(buf, "{id}\t{}\t", rows.len());
                encode_entries(&mut buf, rows);
                buf.push('\n');
            }
            let mut copy = tx
                .copy_in_raw("COPY software_lists (machine_id, programs, entries) FROM STDIN")
                .await?;
            copy.send(buf.into_bytes()).await?;
            copy.finish().await?;
        }
        if !cycles.is_empty() {
            sqlx::query(
                "INSERT INTO machine_software (product, cycle, machine_id, last_used) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[])",
            )
            .bind(
                cycles
                    .iter()
                    .map(|(_, c, _)| c.product.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                cycles
                    .iter()
                    .map(|(_, c, _)| c.cycle.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(cycles.iter().map(|(id, _, _)| *id).collect::<Vec<_>>())
            .bind(
                cycles
                    .iter()
                    .map(|(_, _, u)| u.map(|u| u.timestamp_micros()))
                    .collect::<Vec<_>>(),
            )
            .execute(&mut **tx)
            .await?;
        }
        if !apps.is_empty() {
            sqlx::query(
                "INSERT INTO machine_applications (application, machine_id, last_used) \
                 SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[])",
            )
            .bind(apps.iter().map(|(_, a, _)| a.as_str()).collect::<Vec<_>>())
            .bind(apps.iter().map(|(id, _, _)| *id).collect::<Vec<_>>())
            .bind(
                apps.iter()
                    .map(|(_, _, u)| u.map(|u| u.timestamp_micros()))
                    .collect::<Vec<_>>(),
            )
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    pub(super) async fn upsert_owners(
        tx: &mut Tx<'_>,
        sets: &OwnerSets<'_>,
        now_us: i64,
    ) -> Result<()> {
        if sets.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO machine_owners (machine_id, role, login, source, updated_at) \
             SELECT m, r, l, s, $5 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[]) \
             AS t(m, r, l, s){OWNERS_UPSERT}"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(sets.iter().map(|(id, _, _)| *id).collect::<Vec<_>>())
            .bind(sets.iter().map(|(_, r, _)| r.as_str()).collect::<Vec<_>>())
            .bind(
                sets.iter()
                    .map(|(_, _, f)| f.login.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                sets.iter()
                    .map(|(_, _, f)| f.source.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(now_us)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// A machine id from a list the database aggregated.
fn parse_id(s: &str) -> Result<i64> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("machine id {s:?} in an aggregated list")))
}

/// `1,2,3` -> ids.
fn parse_ids(list: &str) -> Result<rustc_hash::FxHashSet<i64>> {
    list.split(',')
        .filter(|x| !x.is_empty())
        .map(parse_id)
        .collect()
}

/// `1:1700000000000000,2:` -> (machine id, last use).
fn parse_installs(list: &str) -> Result<Vec<(i64, Option<i64>)>> {
    list.split(',')
        .filter(|x| !x.is_empty())
        .map(|pair| {
            let (id, used) = pair.split_once(':').unwrap_or((pair, ""));
            let used = if used.is_empty() {
                None
            } else {
                Some(parse_id(used)?)
            };
            Ok((parse_id(id)?, used))
        })
        .collect()
}

sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::SqlitePool,
    Backend::Sqlite,
    sqlite_bulk
);
sql_store!(
    PostgresStore,
    sqlx::Postgres,
    sqlx::PgPool,
    Backend::Postgres,
    pg_bulk
);

mod campaigns;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

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
