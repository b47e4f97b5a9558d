//! The SQL of [`OutboxStore`]: queueing, leased claims, outcomes, the
//! fallback switch, and the process-wide switches.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::{Db, This};
use crate::store::sql::{CHUNK_PARAMS, OUTBOX_COLUMNS, in_lists};
use crate::store::{NewMessage, OutboxCounts, OutboxRow, OutboxStore, Result, to_micros};

impl This {
    /// Of the (machine, person) pairs just written to in `campaign`, those
    /// whose machine the campaign asks a group about: each member's own
    /// last message and reminders (a member's first message is no reminder,
    /// whoever else was written to before), and the machine's reminders
    /// the most any member had. Machines asked of one person keep theirs on
    /// the machine alone.
    async fn note_group_members(
        tx: &mut sqlx::Transaction<'_, Db>,
        campaign: i64,
        pairs: &[(i64, &str)],
        now: i64,
    ) -> Result<()> {
        let mut machines: Vec<i64> = pairs.iter().map(|(m, _)| *m).collect();
        machines.sort_unstable();
        machines.dedup();
        let head = || {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT machine_id FROM campaign_machines WHERE campaign_id = ",
            );
            qb.push_bind(campaign);
            qb.push(" AND substr(recipient, 1, 6) = 'group:' AND machine_id IN (");
            qb
        };
        let mut grouped = std::collections::HashSet::new();
        for mut qb in in_lists(&machines, head, "") {
            let ids: Vec<(i64,)> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&mut **tx)
                .await?;
            grouped.extend(ids.into_iter().map(|(id,)| id));
        }
        if grouped.is_empty() {
            return Ok(());
        }
        let mut members: Vec<(i64, &str)> = pairs
            .iter()
            .copied()
            .filter(|(m, _)| grouped.contains(m))
            .collect();
        members.sort_unstable();
        members.dedup();
        for part in members.chunks(CHUNK_PARAMS / 5) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO campaign_member_messages \
                 (campaign_id, machine_id, login, last_messaged, reminders) ",
            );
            qb.push_values(part, |mut b, (machine, login)| {
                b.push_bind(campaign)
                    .push_bind(*machine)
                    .push_bind(login.to_string())
                    .push_bind(now)
                    .push_bind(0_i64);
            });
            qb.push(
                " ON CONFLICT (campaign_id, machine_id, login) DO UPDATE SET \
                 last_messaged = excluded.last_messaged, \
                 reminders = campaign_member_messages.reminders + 1",
            );
            qb.build().persistent(false).execute(&mut **tx).await?;
        }
        let grouped: Vec<i64> = grouped.into_iter().collect();
        // Each machine's own rows, by their key (a grouped count of the
        // whole campaign's rows per call would grow with the campaign).
        let head = || {
            let mut qb = QueryBuilder::<Db>::new(
                "UPDATE campaign_machines SET reminders = (SELECT CASE \
                 WHEN MAX(mm.reminders) > campaign_machines.reminders THEN MAX(mm.reminders) \
                 ELSE campaign_machines.reminders END FROM campaign_member_messages mm \
                 WHERE mm.campaign_id = campaign_machines.campaign_id \
                 AND mm.machine_id = campaign_machines.machine_id) WHERE campaign_id = ",
            );
            qb.push_bind(campaign);
            qb.push(" AND machine_id IN (");
            qb
        };
        for mut qb in in_lists(&grouped, head, "") {
            qb.build().persistent(false).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for This {
    async fn enqueue(&self, messages: &[NewMessage], now: DateTime<Utc>) -> Result<u64> {
        // Set-wise: one multi-row INSERT per chunk of messages (those
        // whose key is queued already are skipped by ON CONFLICT and
        // not returned), then their campaign links, then one UPDATE
        // per campaign for the machines the new messages list.
        let now = to_micros(now);
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        let mut queued = 0;
        for chunk in messages.chunks(CHUNK_PARAMS / 15) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO outbox (idem_key, message_id, channel, recipient, address, subject, body_text, \
                 body_html, state, next_attempt_at, created_at, fallback_channel, fallback_address, actions, buttons) ",
            );
            qb.push_values(chunk, |mut b, m| {
                b.push_bind(m.idem_key.clone())
                    .push_bind(m.message_id.clone())
                    .push_bind(m.channel.clone())
                    .push_bind(m.recipient.clone())
                    .push_bind(m.address.clone())
                    .push_bind(m.subject.clone())
                    .push_bind(m.body_text.clone())
                    .push_bind(m.body_html.clone())
                    .push_bind("pending")
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(m.fallback.as_ref().map(|f| f.0.clone()))
                    .push_bind(m.fallback.as_ref().map(|f| f.1.clone()))
                    .push_bind((!m.actions.is_empty()).then(|| m.actions.join(",")))
                    .push_bind(m.buttons.clone());
            });
            qb.push(" ON CONFLICT (idem_key) DO NOTHING RETURNING id, idem_key");
            let inserted: Vec<(i64, String)> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await?;
            queued += inserted.len() as u64;
            let new: std::collections::HashMap<&str, i64> =
                inserted.iter().map(|(id, k)| (k.as_str(), *id)).collect();
            let mut links: Vec<(i64, i64)> = Vec::new();
            let mut listed: Vec<(i64, i64, i64)> = Vec::new();
            let mut touched: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
            // Who was written to about which machine, by campaign.
            let mut written: std::collections::BTreeMap<i64, Vec<(i64, &str)>> = Default::default();
            for m in chunk {
                let Some(&id) = new.get(m.idem_key.as_str()) else {
                    continue;
                };
                let mut pairs = m.machines.clone();
                pairs.sort_unstable();
                pairs.dedup();
                listed.extend(pairs.into_iter().map(|(c, machine)| (id, c, machine)));
                let mut campaigns: Vec<i64> = m.machines.iter().map(|(c, _)| *c).collect();
                campaigns.sort_unstable();
                campaigns.dedup();
                links.extend(campaigns.into_iter().map(|c| (id, c)));
                for (campaign, machine) in &m.machines {
                    touched.entry(*campaign).or_default().push(*machine);
                    written
                        .entry(*campaign)
                        .or_default()
                        .push((*machine, m.recipient.as_str()));
                }
            }
            for part in links.chunks(CHUNK_PARAMS / 2) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO outbox_campaigns (outbox_id, campaign_id) ",
                );
                qb.push_values(part, |mut b, (id, c)| {
                    b.push_bind(*id).push_bind(*c);
                });
                qb.build().persistent(false).execute(&mut *tx).await?;
            }
            for part in listed.chunks(CHUNK_PARAMS / 3) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO outbox_machines (outbox_id, campaign_id, machine_id) ",
                );
                qb.push_values(part, |mut b, (id, c, machine)| {
                    b.push_bind(*id).push_bind(*c).push_bind(*machine);
                });
                qb.build().persistent(false).execute(&mut *tx).await?;
            }
            for (campaign, machines) in touched {
                let head = || {
                    let mut qb = QueryBuilder::<Db>::new(
                        "UPDATE campaign_machines SET messages = messages + 1, \
                         reminders = reminders + CASE WHEN substr(recipient, 1, 6) = 'group:' \
                         OR last_messaged IS NULL THEN 0 ELSE 1 END, last_messaged = ",
                    );
                    qb.push_bind(now);
                    qb.push(" WHERE campaign_id = ");
                    qb.push_bind(campaign);
                    qb.push(" AND machine_id IN (");
                    qb
                };
                for mut qb in in_lists(&machines, head, "") {
                    qb.build().persistent(false).execute(&mut *tx).await?;
                }
            }
            for (campaign, pairs) in written {
                Self::note_group_members(&mut tx, campaign, &pairs, now).await?;
            }
        }
        tx.commit().await?;
        Ok(queued)
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        let _turn = self.write_turn().await;
        // The outer condition is checked again on the row a
        // concurrent worker may have just claimed (PostgreSQL
        // re-evaluates it on the new row version), so a message is
        // claimed by one worker at a time.
        let q = format!(
            "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1 \
             WHERE state = 'pending' AND next_attempt_at <= $2 AND id IN \
             (SELECT id FROM outbox o WHERE state = 'pending' AND next_attempt_at <= $2 \
              AND (NOT EXISTS (SELECT 1 FROM outbox_campaigns oc WHERE oc.outbox_id = o.id) \
                   OR EXISTS (SELECT 1 FROM outbox_campaigns oc JOIN campaigns c ON c.id = oc.campaign_id \
                              WHERE oc.outbox_id = o.id AND c.state = 'running')) \
              ORDER BY id LIMIT $3) \
             RETURNING {OUTBOX_COLUMNS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(to_micros(now + lease))
            .bind(to_micros(now))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out: Vec<OutboxRow> = rows.iter().map(Self::outbox_row).collect::<Result<_>>()?;
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    async fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "UPDATE outbox SET state = 'sent', sent_at = $1, last_error = NULL WHERE id = $2",
        )
        .bind(to_micros(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_retry(&self, id: i64, at: DateTime<Utc>, error: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE outbox SET next_attempt_at = $1, last_error = $2 WHERE id = $3 AND state = 'pending'")
            .bind(to_micros(at))
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn mark_wait(&self, id: i64, at: DateTime<Utc>, error: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE outbox SET next_attempt_at = $1, last_error = $2, attempts = attempts - 1 WHERE id = $3 AND state = 'pending' AND attempts > 0")
            .bind(to_micros(at))
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let _turn = self.write_turn().await;
        // One statement: turned into its fallback, or failed.
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "UPDATE outbox SET \
             state = CASE WHEN fallback_channel IS NULL THEN 'failed' ELSE 'pending' END, \
             last_error = CASE WHEN fallback_channel IS NULL THEN $1 \
                          ELSE channel || ' refused it (' || $1 || '); sent by ' || fallback_channel || ' instead' END, \
             channel = COALESCE(fallback_channel, channel), \
             address = COALESCE(fallback_address, address), \
             attempts = CASE WHEN fallback_channel IS NULL THEN attempts ELSE 0 END, \
             next_attempt_at = CASE WHEN fallback_channel IS NULL THEN next_attempt_at ELSE $2 END, \
             fallback_channel = NULL, fallback_address = NULL \
             WHERE id = $3 RETURNING CASE WHEN state = 'pending' THEN channel END",
        )
        .bind(error)
        .bind(to_micros(now))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(c,)| c))
    }

    async fn outbox(&self) -> Result<Vec<OutboxRow>> {
        let q = format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(q))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::outbox_row).collect()
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        let mut c = OutboxCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "pending" => c.pending = n,
                "sent" => c.sent = n,
                "cancelled" => c.cancelled = n,
                _ => c.failed += n,
            }
        }
        Ok(c)
    }

    async fn control(&self, name: &str) -> Result<Option<String>> {
        let v: Option<(String,)> = sqlx::query_as("SELECT value FROM control WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.map(|(v,)| v))
    }

    async fn set_control(&self, name: &str, value: Option<&str>) -> Result<()> {
        let _turn = self.write_turn().await;
        match value {
            Some(v) => {
                sqlx::query(
                    "INSERT INTO control (name, value) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )
                .bind(name)
                .bind(v)
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM control WHERE name = $1")
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }
}
