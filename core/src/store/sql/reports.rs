//! The SQL of [`ReportStore`]: counts over a window, the licence facts
//! (lists aggregated by the database into one string each), one machine and
//! one person's machines.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use sqlx::Row as _;

use super::{Db, This};
use crate::domain::{CycleRef, Window};
use crate::store::sql::aggregates::{before_micros, minus, parse_id, parse_ids, parse_installs};
use crate::store::sql::titles::Lookup;
use crate::store::sql::{CHUNK_PARAMS, TitleColumns, cycle_ref, in_lists, parse_date, title_row};
use crate::store::{
    Contact, Freshness, InstalledSoftware, MachineInFull, MachineRow, MachineSelection,
    RejectedMachine, ReportStore, Result, StoreCounts, StoreError, TitleRow, from_micros,
    to_micros,
};

impl This {
    /// Titles by id as of `revision` (`title_revision` read with the ids):
    /// from the cache, the others read from the database and kept.
    async fn titles_by_id(
        &self,
        revision: i64,
        ids: impl IntoIterator<Item = i64>,
    ) -> Result<HashMap<i64, Arc<TitleRow>>> {
        let Lookup { mut found, missing } = self.titles.lookup(revision, ids);
        if missing.is_empty() {
            return Ok(found);
        }
        let head = || {
            QueryBuilder::<Db>::new(
                "SELECT id, name, version, publisher, product, cycle, application \
                 FROM software_titles WHERE id IN (",
            )
        };
        let mut read = Vec::with_capacity(missing.len());
        for mut qb in in_lists(&missing, head, "") {
            let rows: Vec<TitleColumns> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&self.pool)
                .await?;
            read.extend(rows.into_iter().map(|r| Arc::new(title_row(r))));
        }
        self.titles.keep(revision, read.iter().cloned());
        found.extend(read.into_iter().map(|t| (t.id, t)));
        Ok(found)
    }

    /// A machine's software list as stored (`entries`: title ids in report
    /// order, `None` when it never reported one) named from the titles
    /// as of `revision` (`title_revision` read in the same statement as
    /// the list, so a rematch committed since is never missed). Joining
    /// the titles in the database instead cost PostgreSQL about 1 ms of
    /// CPU per machine read.
    async fn software_of(
        &self,
        machine_id: i64,
        entries: Option<String>,
        revision: i64,
    ) -> Result<Vec<InstalledSoftware>> {
        let Some(entries) = entries else {
            return Ok(Vec::new());
        };
        type Entry = (i64, Option<String>, Option<i64>);
        let entries: Vec<Entry> = serde_json::from_str(&entries).map_err(|e| {
            StoreError::Corrupt(format!("machine {machine_id}'s software list: {e}"))
        })?;
        let titles = self
            .titles_by_id(revision, entries.iter().map(|e| e.0))
            .await?;
        // A list naming a title that is not stored (the ingest never writes
        // one) shows the rest, as the join it replaces did.
        Ok(entries
            .into_iter()
            .filter_map(|(title_id, install_date, last_used)| {
                let t = titles.get(&title_id)?;
                Some(InstalledSoftware {
                    name: t.name.clone(),
                    version: t.version.clone(),
                    publisher: t.publisher.clone(),
                    install_date: parse_date(install_date),
                    last_used: last_used.map(from_micros),
                    cycle: t.cycle.clone(),
                    application: t.application.clone(),
                })
            })
            .collect())
    }

    /// Distinct machines, stale ones included, with one of `cycles` of
    /// `product` installed.
    async fn distinct_machines_with(&self, product: &str, cycles: &[String]) -> Result<i64> {
        if cycles.is_empty() {
            return Ok(0);
        }
        let chunks = cycles.chunks(CHUNK_PARAMS - 1);
        // One query (every realistic product) counts in the database; more
        // would count a machine once per query, so they list ids.
        let one_query = chunks.len() == 1;
        let mut ids = std::collections::HashSet::new();
        for chunk in chunks {
            let mut qb = QueryBuilder::<Db>::new(if one_query {
                "SELECT COUNT(DISTINCT machine_id) FROM machine_software WHERE product = "
            } else {
                "SELECT DISTINCT machine_id FROM machine_software WHERE product = "
            });
            qb.push_bind(product.to_string());
            qb.push(" AND cycle IN (");
            let mut sep = qb.separated(", ");
            for c in chunk {
                sep.push_bind(c.clone());
            }
            qb.push(")");
            let rows: Vec<(i64,)> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&self.pool)
                .await?;
            if one_query {
                return Ok(rows.first().map_or(0, |(n,)| *n));
            }
            ids.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(i64::try_from(ids.len()).unwrap_or(i64::MAX))
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
}

/// OS counts as the store returns them (`None` for the unmatched).
fn os_counted(rows: Vec<(Option<String>, Option<String>, i64)>) -> Vec<(Option<CycleRef>, i64)> {
    rows.into_iter()
        .map(|(p, c, n)| (cycle_ref(p, c), n))
        .collect()
}

#[async_trait]
impl ReportStore for This {
    async fn os_counts(&self, window: Window) -> Result<Vec<(Option<CycleRef>, i64)>> {
        let rows: Vec<(Option<String>, Option<String>, i64)> = sqlx::query_as(
            "SELECT os_product, os_cycle, COUNT(*) FROM machines \
             WHERE last_report >= $1 AND last_report < $2 GROUP BY os_product, os_cycle",
        )
        .bind(to_micros(window.since))
        .bind(before_micros(window))
        .fetch_all(&self.pool)
        .await?;
        Ok(os_counted(rows))
    }

    async fn os_counts_in_group(
        &self,
        window: Window,
        group: &str,
    ) -> Result<Vec<(Option<CycleRef>, i64)>> {
        let rows: Vec<(Option<String>, Option<String>, i64)> = sqlx::query_as(concat!(
            "SELECT os_product, os_cycle, COUNT(*) FROM machines \
             WHERE last_report >= $1 AND last_report < $2 AND id IN (",
            machines_in_group!(),
            "$3) GROUP BY os_product, os_cycle"
        ))
        .bind(to_micros(window.since))
        .bind(before_micros(window))
        .bind(group)
        .fetch_all(&self.pool)
        .await?;
        Ok(os_counted(rows))
    }

    async fn software_counts_in_group(
        &self,
        window: Window,
        group: &str,
    ) -> Result<Vec<(CycleRef, i64)>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(concat!(
            "SELECT s.product, s.cycle, COUNT(*) FROM machine_software s \
                 JOIN machines m ON m.id = s.machine_id \
                 WHERE m.last_report >= $1 AND m.last_report < $2 AND m.id IN (",
            machines_in_group!(),
            "$3) GROUP BY s.product, s.cycle"
        ))
        .bind(to_micros(window.since))
        .bind(before_micros(window))
        .bind(group)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(product, cycle, n)| (CycleRef { product, cycle }, n))
            .collect())
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
        let head = || {
            QueryBuilder::<Db>::new(
                "SELECT product, cycle, COUNT(*) FROM machine_software WHERE machine_id IN (",
            )
        };
        for mut qb in in_lists(&stale_ids, head, " GROUP BY product, cycle") {
            let rows: Vec<(String, String, i64)> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&self.pool)
                .await?;
            for (p, c, n) in rows {
                *stale.entry((p, c)).or_default() += n;
            }
        }
        let key = |(product, cycle, n): (String, String, i64)| (CycleRef { product, cycle }, n);
        Ok(minus(
            total.into_iter().map(key).collect(),
            stale
                .into_iter()
                .map(|((product, cycle), n)| (CycleRef { product, cycle }, n))
                .collect(),
        ))
    }

    async fn application_counts(&self, window: Window) -> Result<Vec<(String, i64)>> {
        let total: Vec<(String, i64)> = sqlx::query_as(
            "SELECT application, COUNT(*) FROM machine_applications GROUP BY application",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut stale: HashMap<String, i64> = HashMap::new();
        let stale_ids = self.uncounted_ids(window).await?;
        let head = || {
            QueryBuilder::<Db>::new(
                "SELECT application, COUNT(*) FROM machine_applications WHERE machine_id IN (",
            )
        };
        for mut qb in in_lists(&stale_ids, head, " GROUP BY application") {
            let rows: Vec<(String, i64)> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&self.pool)
                .await?;
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
                Coverage::Product(p) => {
                    sqlx::query_as(
                        "SELECT machine_id, MAX(last_used) FROM machine_software \
                     WHERE product = $1 GROUP BY machine_id",
                    )
                    .bind(p)
                    .fetch_all(&self.pool)
                    .await?
                }
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
                let (Some(id), Some(role), Some(login)) =
                    (parts.next(), parts.next(), parts.next())
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

    async fn machine(&self, host_key: &str) -> Result<Option<MachineRow>> {
        let row = sqlx::query(concat!(machine_select!(), "WHERE m.host_key = $1"))
            .bind(host_key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::machine_row).transpose()
    }

    async fn machine_in_full(&self, host_key: &str) -> Result<Option<MachineInFull>> {
        let row = sqlx::query(concat!(
            "SELECT x.*, ru.name AS r_name, ru.email AS r_email, uu.name AS u_name, \
             uu.email AS u_email, \
             (SELECT l.entries FROM software_lists l WHERE l.machine_id = x.id) AS entries, \
             (SELECT revision FROM title_revision) AS title_revision FROM (",
            machine_select!(),
            "WHERE m.host_key = $1) x LEFT JOIN users ru ON ru.login = x.r_login \
             LEFT JOIN users uu ON uu.login = x.u_login"
        ))
        .bind(host_key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let contact = |name: &str, email: &str| -> Result<Contact> {
            Ok(Contact {
                name: row.try_get(name)?,
                email: row.try_get(email)?,
            })
        };
        let machine = Self::machine_row(&row)?;
        let software = self
            .software_of(
                machine.id,
                row.try_get("entries")?,
                row.try_get("title_revision")?,
            )
            .await?;
        Ok(Some(MachineInFull {
            machine,
            responsible: contact("r_name", "r_email")?,
            main_user: contact("u_name", "u_email")?,
            software,
        }))
    }

    async fn machine_software(&self, machine_id: i64) -> Result<Vec<InstalledSoftware>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT l.entries, (SELECT revision FROM title_revision) \
             FROM software_lists l WHERE l.machine_id = $1",
        )
        .bind(machine_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some((entries, revision)) => {
                self.software_of(machine_id, Some(entries), revision).await
            }
            None => Ok(Vec::new()),
        }
    }

    async fn software_cycles_of(&self, machine_ids: &[i64]) -> Result<Vec<(i64, CycleRef)>> {
        let mut out = Vec::new();
        let head = || {
            QueryBuilder::<Db>::new(
                "SELECT machine_id, product, cycle FROM machine_software WHERE machine_id IN (",
            )
        };
        for mut qb in in_lists(machine_ids, head, " ORDER BY machine_id, product, cycle") {
            let rows: Vec<(i64, String, String)> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&self.pool)
                .await?;
            out.extend(
                rows.into_iter()
                    .map(|(id, product, cycle)| (id, CycleRef { product, cycle })),
            );
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

    async fn select_machines(
        &self,
        selection: &MachineSelection,
        window: Window,
    ) -> Result<Vec<MachineRow>> {
        // A page (a limit) walks the host-key index in order and stops after
        // it: the unary plus keeps SQLite from searching by report time and
        // sorting every fresh machine first (0.28 s a page of 200 at 100,000
        // machines). PostgreSQL reads `+x` as `x`.
        let report = if selection.limit.is_some() {
            " +m.last_report"
        } else {
            " m.last_report"
        };
        let mut qb = QueryBuilder::<Db>::new(concat!(machine_select!(), "WHERE"));
        qb.push(report);
        qb.push(" < ");
        qb.push_bind(before_micros(window));
        match selection.freshness {
            Freshness::Fresh => {
                qb.push(" AND");
                qb.push(report);
                qb.push(" >= ");
                qb.push_bind(to_micros(window.since));
            }
            Freshness::Stale => {
                qb.push(" AND");
                qb.push(report);
                qb.push(" < ");
                qb.push_bind(to_micros(window.since));
            }
            Freshness::Any => {}
        }
        if let Some(login) = &selection.owner {
            qb.push(" AND m.id IN (SELECT machine_id FROM machine_owners WHERE login = ");
            qb.push_bind(login.clone());
            qb.push(")");
        }
        if let Some(group) = &selection.group {
            qb.push(concat!(" AND m.id IN (", machines_in_group!()));
            qb.push_bind(group.clone());
            qb.push(")");
        }
        if let Some(after) = &selection.after {
            qb.push(" AND m.host_key > ");
            qb.push_bind(after.clone());
        }
        qb.push(" ORDER BY m.host_key");
        if let Some(limit) = selection.limit {
            qb.push(" LIMIT ");
            qb.push_bind(limit);
        }
        // A bounded set of texts (filters x cursor x limit): kept prepared,
        // as pages repeat them.
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(Self::machine_row).collect()
    }

    async fn machines_with_software(
        &self,
        wanted: &[(String, Vec<String>)],
        window: Window,
    ) -> Result<Vec<i64>> {
        // Over every machine, then minus the ones the window does not count,
        // as `software_counts` does: the count reads only the covering
        // primary key, where a join on `machines` would look up every row
        // (2.7 s instead of 0.1 s for `report eol` on 100,000 machines).
        // The products are counted at once, on the pool's connections.
        let totals = futures::future::try_join_all(
            wanted
                .iter()
                .map(|(product, cycles)| self.distinct_machines_with(product, cycles)),
        );
        let (mut counts, uncounted) = futures::try_join!(totals, self.uncounted_ids(window))?;
        if uncounted.is_empty() || counts.iter().all(|n| *n == 0) {
            return Ok(counts);
        }
        let mut asked: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, (product, cycles)) in wanted.iter().enumerate() {
            for c in cycles {
                asked
                    .entry((product.clone(), c.clone()))
                    .or_default()
                    .push(i);
            }
        }
        let mut seen: Vec<std::collections::HashSet<i64>> =
            vec![std::collections::HashSet::new(); wanted.len()];
        let head = || {
            QueryBuilder::<Db>::new(
                "SELECT product, cycle, machine_id FROM machine_software WHERE machine_id IN (",
            )
        };
        for mut qb in in_lists(&uncounted, head, "") {
            let rows: Vec<(String, String, i64)> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&self.pool)
                .await?;
            for (product, cycle, machine) in rows {
                for &i in asked.get(&(product, cycle)).into_iter().flatten() {
                    seen[i].insert(machine);
                }
            }
        }
        for (n, s) in counts.iter_mut().zip(&seen) {
            *n -= i64::try_from(s.len()).unwrap_or(0);
        }
        Ok(counts)
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
            .map(
                |(hostname, hostname_bytes, last_report, reason, rejected_at)| RejectedMachine {
                    hostname,
                    hostname_bytes,
                    last_report: from_micros(last_report),
                    reason,
                    rejected_at: from_micros(rejected_at),
                },
            )
            .collect();
        Ok((list, total))
    }
}
