//! The SQL of [`InventoryStore`]: the ingest's reads and its batch writes
//! (the statements where the engines differ are in `bulk.rs`).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row};

use super::{Db, This, bulk};
use crate::domain::{OwnerRole, OwnerSource};
use crate::store::sql::{CHUNK_PARAMS, TitleColumns, in_lists, title_row};
use crate::store::{
    Backend, CachedNetDb, DirectoryPerson, InventoryStore, KeyDigest, MachineIndexEntry,
    MachineWrite, NetDbAnswer, OwnerChange, OwnerMark, Result, StoreError, TitleRow, from_micros,
    to_micros,
};

impl This {
    async fn delete_for_machines(
        tx: &mut sqlx::Transaction<'_, Db>,
        table: &str,
        ids: &[i64],
    ) -> Result<()> {
        let head = || QueryBuilder::<Db>::new(format!("DELETE FROM {table} WHERE machine_id IN ("));
        for mut qb in in_lists(ids, head, "") {
            qb.build().persistent(false).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl InventoryStore for This {
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
        let rows: Vec<TitleColumns> = sqlx::query_as(
            "SELECT id, name, version, publisher, product, cycle, application FROM software_titles",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(title_row).collect())
    }

    async fn upsert_titles(&self, titles: &[TitleRow]) -> Result<Vec<TitleRow>> {
        let mut out = Vec::with_capacity(titles.len());
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        for chunk in titles.chunks(CHUNK_PARAMS / 6) {
            let mut qb = QueryBuilder::<Db>::new(
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
            let rows: Vec<TitleColumns> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await?;
            out.extend(rows.into_iter().map(title_row));
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
            bulk::upsert_machines(&mut tx, writes, now_us)
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
        bulk::insert_software(&mut tx, &installs, &cycles, &apps).await?;

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
        bulk::upsert_owners(&mut tx, &sets, now_us).await?;
        for (role, ids) in clears {
            let head = || {
                let mut qb = QueryBuilder::<Db>::new("DELETE FROM machine_owners WHERE role = ");
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
            .map(
                |(host_key, found, responsible, main_user, at)| CachedNetDb {
                    host_key,
                    found,
                    responsible,
                    main_user,
                    fetched_at: from_micros(at),
                },
            )
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
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO ingest_runs (started_at, source) VALUES ($1, $2) RETURNING id",
        )
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
            sqlx::query(sqlx::AssertSqlSafe(*q))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}
