//! The SQL of [`LiveStore`]: the change log the triggers of migration 0019
//! write, a campaign's counts, and its daily counts.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::This;
use crate::store::sql::answers::CM_COLUMNS;
use crate::store::{
    CampaignMachine, ChangeEvent, DayCount, GroupStateCount, LiveStore, MachinesShown, Result,
    StateCount, StoreError, from_micros, to_micros,
};

type ChangeRow = (
    i64,
    i64,
    i64,
    i64,
    Option<String>,
    String,
    Option<String>,
    String,
    Option<String>,
);

const CHANGE_SELECT: &str = "SELECT e.id, e.at, e.campaign_id, e.machine_id, cm.hostname, \
     e.recipient, e.previous_recipient, e.state, e.answer FROM change_events e \
     LEFT JOIN campaign_machines cm \
     ON cm.campaign_id = e.campaign_id AND cm.machine_id = e.machine_id ";

fn change(
    (id, at, campaign_id, machine_id, hostname, recipient, previous_recipient, state, answer): ChangeRow,
) -> ChangeEvent {
    ChangeEvent {
        id,
        at: from_micros(at),
        campaign_id,
        machine_id,
        hostname: hostname.unwrap_or_default(),
        recipient,
        previous_recipient,
        state,
        answer,
    }
}

/// Microseconds in a quarter of an hour.
const QUARTER_MICROS: i64 = 900_000_000;

fn day_of(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt(format!("campaign day {text:?} is not a date")))
}

#[async_trait]
impl LiveStore for This {
    async fn changes_after(&self, after: i64, limit: i64) -> Result<Vec<ChangeEvent>> {
        let q = format!("{CHANGE_SELECT} WHERE e.id > $1 ORDER BY e.id LIMIT $2");
        let rows: Vec<ChangeRow> = sqlx::query_as(sqlx::AssertSqlSafe(q))
            .bind(after)
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(change).collect())
    }

    async fn changes_among(&self, ids: &[i64]) -> Result<Vec<ChangeEvent>> {
        let mut out = Vec::new();
        // A reader keeps few missing ids; a bound keeps the statement small.
        for chunk in ids.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let q = format!("{CHANGE_SELECT} WHERE e.id IN ({list}) ORDER BY e.id");
            let mut query = sqlx::query_as::<_, ChangeRow>(sqlx::AssertSqlSafe(q));
            for id in chunk {
                query = query.bind(*id);
            }
            out.extend(
                query
                    .persistent(false)
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(change),
            );
        }
        Ok(out)
    }

    async fn last_change(&self) -> Result<i64> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM change_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64> {
        let _turn = self.write_turn().await;
        Ok(sqlx::query("DELETE FROM change_events WHERE at < $1")
            .bind(to_micros(before))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    async fn campaign_counts(&self, campaign_id: i64) -> Result<Vec<StateCount>> {
        let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(
            "SELECT state, answer, COUNT(*) FROM campaign_machines WHERE campaign_id = $1 \
             GROUP BY state, answer ORDER BY state, answer",
        )
        .bind(campaign_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(state, answer, machines)| StateCount {
                state,
                answer,
                machines,
            })
            .collect())
    }

    async fn campaign_closure_changes(
        &self,
        campaign_id: i64,
    ) -> Result<Vec<(DateTime<Utc>, i64)>> {
        // Quarter-hours since the epoch, counted by the database: one row
        // a quarter with changes comes back, not one a machine.
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT q, CAST(SUM(n) AS BIGINT) FROM (\
               SELECT closed_at / $2 AS q, COUNT(*) AS n FROM campaign_closures \
               WHERE campaign_id = $1 GROUP BY 1 \
               UNION ALL \
               SELECT reopened_at / $2 AS q, -COUNT(*) AS n FROM campaign_closures \
               WHERE campaign_id = $1 AND reopened_at IS NOT NULL GROUP BY 1) x \
             GROUP BY q ORDER BY q",
        )
        .bind(campaign_id)
        .bind(QUARTER_MICROS)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter(|(_, n)| *n != 0)
            .filter_map(|(q, n)| Some((from_micros(q.checked_mul(QUARTER_MICROS)?), n)))
            .collect())
    }

    async fn campaign_group_counts(&self, campaign_id: i64) -> Result<Vec<GroupStateCount>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT g.group_name, cm.state, COUNT(DISTINCT cm.machine_id) \
             FROM campaign_machines cm \
             JOIN machine_owners o ON o.machine_id = cm.machine_id \
             JOIN group_members g ON g.login = o.login \
             WHERE cm.campaign_id = $1 GROUP BY g.group_name, cm.state \
             ORDER BY g.group_name, cm.state",
        )
        .bind(campaign_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(group, state, machines)| GroupStateCount {
                group,
                state,
                machines,
            })
            .collect())
    }

    async fn save_campaign_day(&self, campaign_id: i64, c: &DayCount) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO campaign_days (campaign_id, day, targets, open, answered, resolved) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (campaign_id, day) DO UPDATE SET \
             targets = excluded.targets, open = excluded.open, answered = excluded.answered, \
             resolved = excluded.resolved",
        )
        .bind(campaign_id)
        .bind(c.day.format("%Y-%m-%d").to_string())
        .bind(c.targets)
        .bind(c.open)
        .bind(c.answered)
        .bind(c.resolved)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn campaign_machines_page(
        &self,
        campaign_id: i64,
        shown: MachinesShown,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CampaignMachine>> {
        let (which, date) = match shown {
            MachinesShown::All => ("", None),
            MachinesShown::Open => (" AND state = 'open'", None),
            MachinesShown::Answered => (" AND state = 'answered'", None),
            MachinesShown::Resolved => (" AND state = 'resolved'", None),
            MachinesShown::Exceptions => (" AND exception_state IS NOT NULL", None),
            MachinesShown::PromisePassed(today) => (
                " AND state = 'answered' AND answer_date IS NOT NULL AND answer_date < $4",
                Some(today.format("%Y-%m-%d").to_string()),
            ),
        };
        let q = format!(
            "SELECT {CM_COLUMNS} FROM campaign_machines WHERE campaign_id = $1 AND host_key > $2{which} \
             ORDER BY host_key LIMIT $3"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(campaign_id)
            .bind(after.unwrap_or(""))
            .bind(limit.clamp(1, 10_000));
        if let Some(d) = date {
            query = query.bind(d);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(Self::campaign_machine).collect()
    }

    async fn inventory_revision(&self) -> Result<(i64, i64)> {
        Ok(sqlx::query_as(
            "SELECT COUNT(finished_at), COALESCE(MAX(finished_at), 0) FROM ingest_runs",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    async fn campaign_days(&self, campaign_id: i64) -> Result<Vec<DayCount>> {
        let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT day, targets, open, answered, resolved FROM campaign_days \
             WHERE campaign_id = $1 ORDER BY day",
        )
        .bind(campaign_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(day, targets, open, answered, resolved)| {
                Ok(DayCount {
                    day: day_of(&day)?,
                    targets,
                    open,
                    answered,
                    resolved,
                })
            })
            .collect()
    }
}
