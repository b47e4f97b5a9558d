//! The SQL of [`InventoryStore`]: the ingest's reads and its batch writes.
//! The batch statements are where the engines differ: multi-row
//! `INSERT ... VALUES` on SQLite (`sqlite_bulk`), `COPY` and `UNNEST` arrays
//! on PostgreSQL (`pg_bulk`).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row};

use super::super::inventory::{
    CachedNetDb, DirectoryPerson, InstallRow, InventoryStore, KeyDigest, MachineIndexEntry,
    MachineWrite, NetDbAnswer, OwnerChange, OwnerMark, TitleRow,
};
use super::super::{Backend, Result, StoreError, from_micros, to_micros};
use super::{CHUNK_PARAMS, PostgresStore, SqliteStore, cycle_ref, in_lists};
use crate::domain::{CycleRef, OwnerFact, OwnerRole, OwnerSource};

macro_rules! inventory_sql {
    ($name:ident, $db:ty, $bulk:ident) => {
        impl $name {
            async fn delete_for_machines(
                tx: &mut sqlx::Transaction<'_, $db>,
                table: &str,
                ids: &[i64],
            ) -> Result<()> {
                let head = || QueryBuilder::<$db>::new(format!("DELETE FROM {table} WHERE machine_id IN ("));
                for mut qb in in_lists(ids, head, "") {
                    qb.build().persistent(false).execute(&mut **tx).await?;
                }
                Ok(())
            }
        }

        #[async_trait]
        impl InventoryStore for $name {
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
                    let head = || {
                        let mut qb = QueryBuilder::<$db>::new("DELETE FROM machine_owners WHERE role = ");
                        qb.push_bind(role);
                        qb.push(" AND source <> 'answer' AND machine_id IN (");
                        qb
                    };
                    for mut qb in in_lists(&ids, head, "") {
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
                let mut people: HashMap<&str, &DirectoryPerson> = HashMap::new();
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
                let sql = match Self::BACKEND {
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
        }
    };
}

inventory_sql!(SqliteStore, sqlx::Sqlite, sqlite_bulk);
inventory_sql!(PostgresStore, sqlx::Postgres, pg_bulk);

/// Software lists to write: (machine id, its programs in report order).
type Installs<'a> = [(i64, &'a [InstallRow])];

/// Appends the `entries` JSON of one software list:
/// `[[title_id,"YYYY-MM-DD"|null,last_used_us|null],...]`. Only digits,
/// dashes, quotes, brackets, commas and `null`: nothing that JSON, SQL text or
/// PostgreSQL's `COPY` text format would need to escape.
fn encode_entries(buf: &mut String, rows: &[InstallRow]) {
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
