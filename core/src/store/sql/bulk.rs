//! The bulk statements of an ingest batch, where the engines differ:
//! multi-row `INSERT ... VALUES` on SQLite (`sqlite`), `COPY` and `UNNEST`
//! arrays on PostgreSQL (`postgres`), one statement per table whatever the
//! batch size.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::CHUNK_PARAMS;
use crate::domain::{CycleRef, OwnerFact, OwnerRole};
use crate::store::{InstallRow, MachineWrite, Result, to_micros};

/// Software lists to write: (machine id, its programs in report order).
pub(super) type Installs<'a> = [(i64, &'a [InstallRow])];

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
pub(super) type OwnerSets<'a> = [(i64, OwnerRole, &'a OwnerFact)];

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
pub(super) mod sqlite {
    use super::*;
    type Tx<'t> = sqlx::Transaction<'t, sqlx::Sqlite>;

    pub(in crate::store::sql) async fn upsert_machines(
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

    pub(in crate::store::sql) async fn insert_software(
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

    pub(in crate::store::sql) async fn upsert_owners(
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
pub(super) mod postgres {
    use super::*;
    type Tx<'t> = sqlx::Transaction<'t, sqlx::Postgres>;

    pub(in crate::store::sql) async fn upsert_machines(
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
    pub(in crate::store::sql) async fn insert_software(
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

    pub(in crate::store::sql) async fn upsert_owners(
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
