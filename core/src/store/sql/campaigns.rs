//! The SQL of [`CampaignStore`]: campaigns, the machines they select and
//! ask about, the engine's decisions and the audit log (recording an answer,
//! where the engines differ, is in `answers.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row};

use super::{Db, This};
use crate::domain::CycleRef;
use crate::store::sql::answers::{
    ANSWER_VIEW, CAMPAIGN_COLUMNS, CM_COLUMNS, MACHINES_OF_RECIPIENT,
};
use crate::store::sql::{CHUNK_PARAMS, in_lists, parse_date};
use crate::store::{
    AnswerEntry, AnswerRecord, AnswerView, AuditEntry, AuditFilter, CampaignMachine, CampaignRow,
    CampaignState, CampaignStore, ExceptionDecision, MachineChange, MachineRow, NewMessage,
    NewTarget, Result, StoreError, from_micros, to_micros,
};

#[async_trait]
impl CampaignStore for This {
    async fn create_campaign(
        &self,
        name: &str,
        kind: &str,
        spec: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO campaigns (name, kind, state, spec, created_at) VALUES ($1, $2, 'draft', $3, $4) \
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(kind)
        .bind(spec)
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.map(|(id,)| id))
    }

    async fn replace_draft(&self, id: i64, kind: &str, spec: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE campaigns SET kind = $1, spec = $2 WHERE id = $3 AND state = 'draft'",
        )
        .bind(kind)
        .bind(spec)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_draft(&self, id: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM campaigns WHERE id = $1 AND state = 'draft'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            // What names the campaign without a foreign key (a draft has
            // none of it, unless a test send was answered).
            for table in ["campaign_answers", "outbox_machines"] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE campaign_id = $1"
                )))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn campaigns(&self) -> Result<Vec<CampaignRow>> {
        let q = format!("{CAMPAIGN_COLUMNS} ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(q))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::campaign_row).collect()
    }

    async fn campaign(&self, id_or_name: &str) -> Result<Option<CampaignRow>> {
        let row = match id_or_name.parse::<i64>() {
            Ok(id) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{CAMPAIGN_COLUMNS} WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
            }
            Err(_) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{CAMPAIGN_COLUMNS} WHERE name = $1"
                )))
                .bind(id_or_name)
                .fetch_optional(&self.pool)
                .await?
            }
        };
        row.as_ref().map(Self::campaign_row).transpose()
    }

    async fn set_campaign_state(
        &self,
        id: i64,
        state: CampaignState,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let now = to_micros(now);
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE campaigns SET state = $1, \
             started_at = CASE WHEN $1 = 'running' AND started_at IS NULL THEN $2 ELSE started_at END, \
             closed_at = CASE WHEN $1 = 'closed' THEN $2 ELSE closed_at END WHERE id = $3",
        )
        .bind(state.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if state == CampaignState::Closed {
            sqlx::query(
                "UPDATE outbox SET state = 'cancelled', last_error = 'campaign closed' \
                 WHERE state = 'pending' AND id IN (SELECT outbox_id FROM outbox_campaigns WHERE campaign_id = $1) \
                 AND NOT EXISTS (SELECT 1 FROM outbox_campaigns oc JOIN campaigns c ON c.id = oc.campaign_id \
                                 WHERE oc.outbox_id = outbox.id AND c.state <> 'closed')",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn machines_with_cycles(
        &self,
        os: &[CycleRef],
        software: &[CycleRef],
        fresh_since: DateTime<Utc>,
    ) -> Result<Vec<MachineRow>> {
        let mut out: Vec<MachineRow> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // OS cycles and software cycles are asked separately: each
        // query stays on one index.
        for (table, list) in [("os", os), ("software", software)] {
            for chunk in list.chunks(CHUNK_PARAMS / 2 - 1) {
                if chunk.is_empty() {
                    continue;
                }
                let mut qb =
                    QueryBuilder::<Db>::new(concat!(machine_select!(), "WHERE m.last_report >= "));
                qb.push_bind(to_micros(fresh_since));
                if table == "os" {
                    qb.push(" AND (m.os_product, m.os_cycle) IN (");
                } else {
                    qb.push(" AND m.id IN (SELECT machine_id FROM machine_software WHERE (product, cycle) IN (");
                }
                let mut sep = qb.separated(", ");
                for c in chunk {
                    sep.push("(");
                    sep.push_bind_unseparated(c.product.clone());
                    sep.push_unseparated(", ");
                    sep.push_bind_unseparated(c.cycle.clone());
                    sep.push_unseparated(")");
                }
                qb.push(if table == "os" { ")" } else { "))" });
                for r in qb.build().persistent(false).fetch_all(&self.pool).await? {
                    let m = Self::machine_row(&r)?;
                    if seen.insert(m.id) {
                        out.push(m);
                    }
                }
            }
        }
        out.sort_by_cached_key(|m| m.hostname.to_lowercase());
        Ok(out)
    }

    async fn machines_by_id(&self, ids: &[i64]) -> Result<Vec<MachineRow>> {
        let mut out = Vec::with_capacity(ids.len());
        let head = || QueryBuilder::<Db>::new(concat!(machine_select!(), "WHERE m.id IN ("));
        for mut qb in in_lists(ids, head, "") {
            for r in qb.build().persistent(false).fetch_all(&self.pool).await? {
                out.push(Self::machine_row(&r)?);
            }
        }
        Ok(out)
    }

    async fn machines_with_applications(&self, applications: &[String]) -> Result<Vec<i64>> {
        let mut out = Vec::new();
        let head = || {
            QueryBuilder::<Db>::new(
                "SELECT DISTINCT machine_id FROM machine_applications WHERE application IN (",
            )
        };
        for mut qb in in_lists(applications, head, "") {
            let rows: Vec<(i64,)> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&self.pool)
                .await?;
            out.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(out)
    }

    async fn application_installs(
        &self,
        applications: &[String],
    ) -> Result<Vec<(i64, String, Option<DateTime<Utc>>)>> {
        let mut out = Vec::new();
        let head = || {
            QueryBuilder::<Db>::new(
                "SELECT machine_id, application, last_used FROM machine_applications WHERE application IN (",
            )
        };
        for mut qb in in_lists(applications, head, " ORDER BY machine_id, application") {
            let rows: Vec<(i64, String, Option<i64>)> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&self.pool)
                .await?;
            out.extend(
                rows.into_iter()
                    .map(|(id, a, u)| (id, a, u.map(from_micros))),
            );
        }
        Ok(out)
    }

    async fn add_campaign_machines(
        &self,
        campaign_id: i64,
        targets: &[NewTarget],
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for chunk in targets.chunks(CHUNK_PARAMS / 7) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO campaign_machines (campaign_id, machine_id, host_key, hostname, recipient, state, added_at) ",
            );
            qb.push_values(chunk, |mut b, t| {
                b.push_bind(campaign_id)
                    .push_bind(t.machine_id)
                    .push_bind(t.host_key.clone())
                    .push_bind(t.hostname.clone())
                    .push_bind(t.recipient.clone())
                    .push_bind("open")
                    .push_bind(to_micros(now));
            });
            qb.push(" ON CONFLICT (campaign_id, machine_id) DO NOTHING");
            added += qb
                .build()
                .persistent(false)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn campaign_machines(&self, campaign_id: i64) -> Result<Vec<CampaignMachine>> {
        let q = format!(
            "SELECT {CM_COLUMNS} FROM campaign_machines WHERE campaign_id = $1 ORDER BY host_key"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(campaign_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::campaign_machine).collect()
    }

    async fn campaign_machines_of(
        &self,
        campaign_id: i64,
        recipient: &str,
    ) -> Result<Vec<CampaignMachine>> {
        // Sorted here, not by the database: with `ORDER BY host_key`,
        // SQLite walked the (campaign, host) index of the whole campaign
        // (82,910 rows) to save sorting one person's few, instead of
        // looking them up by (campaign, recipient).
        let rows = sqlx::query(sqlx::AssertSqlSafe(MACHINES_OF_RECIPIENT.as_str()))
            .bind(recipient)
            .bind(campaign_id)
            .fetch_all(&self.pool)
            .await?;
        let mut machines: Vec<CampaignMachine> = rows
            .iter()
            .map(Self::campaign_machine)
            .collect::<Result<_>>()?;
        machines.sort_by(|a, b| a.host_key.cmp(&b.host_key));
        Ok(machines)
    }

    async fn answer_view(
        &self,
        campaign_id: i64,
        recipient: &str,
        person: &str,
    ) -> Result<Option<AnswerView>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(ANSWER_VIEW.as_str()))
            .bind(campaign_id)
            .bind(recipient)
            .bind(person)
            .fetch_all(&self.pool)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        // By position: the machine's columns (null when the
        // recipient has none), then the campaign's, then the person's.
        let state: String = first.try_get(21)?;
        let person = match first.try_get::<Option<String>, _>(23)? {
            Some(_) => Some(Self::user_at(first, 23)?),
            None => None,
        };
        let mut machines = Vec::with_capacity(rows.len());
        for r in &rows {
            if r.try_get::<Option<i64>, _>(1)?.is_some() {
                machines.push(Self::campaign_machine(r)?);
            }
        }
        // Sorted here (see campaign_machines_of: an ORDER BY made SQLite
        // read the whole campaign by host instead of the recipient's rows).
        machines.sort_by(|a, b| a.host_key.cmp(&b.host_key));
        Ok(Some(AnswerView {
            campaign_name: first.try_get(22)?,
            state: CampaignState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("campaign state {state:?}")))?,
            machines,
            person,
        }))
    }

    async fn change_campaign_machines(
        &self,
        campaign_id: i64,
        changes: &[(i64, MachineChange)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let now = to_micros(now);
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        for (machine, change) in changes {
            let q = match change {
                MachineChange::Resolve(why) => sqlx::query(
                    "UPDATE campaign_machines SET state = 'resolved', resolution = $1, resolved_at = $2 \
                     WHERE campaign_id = $3 AND machine_id = $4",
                )
                .bind(why.clone())
                .bind(now),
                MachineChange::Reopen => sqlx::query(
                    "UPDATE campaign_machines SET state = 'open', reminders = 0, last_messaged = NULL, \
                     resolution = 'reopened', reopened_at = $1 WHERE campaign_id = $2 AND machine_id = $3",
                )
                .bind(now),
                MachineChange::Reroute { recipient, from } => sqlx::query(
                    "UPDATE campaign_machines SET recipient = $1, transfer_from = $2, state = 'open', \
                     reminders = 0, escalation = 0, last_messaged = NULL, \
                     reopened_at = CASE WHEN state = 'open' THEN reopened_at ELSE $3 END \
                     WHERE campaign_id = $4 AND machine_id = $5",
                )
                .bind(recipient.clone())
                .bind(from.clone())
                .bind(now),
                MachineChange::Escalate { recipient, step } => sqlx::query(
                    "UPDATE campaign_machines SET recipient = $1, escalation = $2, reminders = 0, \
                     last_messaged = NULL WHERE campaign_id = $3 AND machine_id = $4",
                )
                .bind(recipient.clone())
                .bind(*step),
            };
            q.bind(campaign_id).bind(*machine).execute(&mut *tx).await?;
        }
        // Resolved, reopened, handed over or escalated: a group's members'
        // own times and reminders start afresh too.
        let machines: Vec<i64> = changes.iter().map(|(m, _)| *m).collect();
        let head = || {
            let mut qb = QueryBuilder::<Db>::new(
                "DELETE FROM campaign_member_messages WHERE campaign_id = ",
            );
            qb.push_bind(campaign_id);
            qb.push(" AND machine_id IN (");
            qb
        };
        for mut qb in in_lists(&machines, head, "") {
            qb.build().persistent(false).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn decide_exception(
        &self,
        d: &ExceptionDecision,
        notice: Option<&NewMessage>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE campaign_machines SET exception_state = $1, exception_decided_by = $2, \
             exception_decided_at = $3, exception_note = $4 \
             WHERE campaign_id = $5 AND machine_id = $6 AND exception_state = 'requested' \
             AND answer = 'exception' AND state = 'answered'",
        )
        .bind(&d.decision)
        .bind(&d.by)
        .bind(to_micros(now))
        .bind(&d.note)
        .bind(d.campaign_id)
        .bind(d.machine_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        if let Some(m) = notice {
            sqlx::query(
                "INSERT INTO outbox (idem_key, message_id, channel, recipient, address, subject, body_text, \
                 body_html, state, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9) ON CONFLICT (idem_key) DO NOTHING",
            )
            .bind(&m.idem_key)
            .bind(&m.message_id)
            .bind(&m.channel)
            .bind(&m.recipient)
            .bind(&m.address)
            .bind(&m.subject)
            .bind(&m.body_text)
            .bind(&m.body_html)
            .bind(to_micros(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn record_answer(
        &self,
        a: &AnswerRecord,
        now: DateTime<Utc>,
    ) -> Result<Vec<CampaignMachine>> {
        if a.machine_ids.is_empty() {
            return Ok(Vec::new());
        }
        let _turn = self.write_turn().await;
        let mut rows = self.record_answer_sql(a, to_micros(now)).await?;
        rows.sort_by(|x, y| x.host_key.cmp(&y.host_key));
        Ok(rows)
    }

    async fn answer_history(&self, campaign_id: i64, host_key: &str) -> Result<Vec<AnswerEntry>> {
        let rows: Vec<(
            i64,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        )> = sqlx::query_as(
            "SELECT a.at, a.answered_by, a.via, a.answer, a.answer_date, a.detail, a.comment \
                 FROM campaign_answers a JOIN campaign_machines cm \
                 ON cm.campaign_id = a.campaign_id AND cm.machine_id = a.machine_id \
                 WHERE a.campaign_id = $1 AND cm.host_key = $2 ORDER BY a.at, a.id",
        )
        .bind(campaign_id)
        .bind(host_key)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(at, by, via, answer, date, detail, comment)| AnswerEntry {
                at: from_micros(at),
                by,
                via,
                answer,
                date: parse_date(date),
                detail,
                comment,
            })
            .collect())
    }

    async fn unreachable(&self, campaign_id: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT o.recipient FROM outbox o \
             JOIN outbox_campaigns oc ON oc.outbox_id = o.id \
             WHERE oc.campaign_id = $1 AND o.state = 'failed' AND o.channel = 'email' \
             ORDER BY o.recipient",
        )
        .bind(campaign_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }

    async fn remind_open(&self, campaign_id: i64) -> Result<u64> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE campaign_machines SET last_messaged = 0 \
             WHERE campaign_id = $1 AND state = 'open' AND last_messaged IS NOT NULL",
        )
        .bind(campaign_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE campaign_member_messages SET last_messaged = 0 WHERE campaign_id = $1 \
             AND machine_id IN (SELECT machine_id FROM campaign_machines \
             WHERE campaign_id = $1 AND state = 'open')",
        )
        .bind(campaign_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn member_messages(&self, campaign_id: i64) -> Result<Vec<(i64, String, DateTime<Utc>)>> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT mm.machine_id, mm.login, mm.last_messaged FROM campaign_member_messages mm \
             JOIN campaign_machines cm ON cm.campaign_id = mm.campaign_id \
             AND cm.machine_id = mm.machine_id \
             WHERE mm.campaign_id = $1 AND cm.state = 'open'",
        )
        .bind(campaign_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(m, login, at)| (m, login, from_micros(at)))
            .collect())
    }

    async fn audit(&self, e: &AuditEntry) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO audit_log (at, channel, actor, command, outcome, role, action, target, origin) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(to_micros(e.at))
        .bind(&e.channel)
        .bind(&e.actor)
        .bind(&e.command)
        .bind(&e.outcome)
        .bind(&e.role)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.origin)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn audit_page(&self, filter: &AuditFilter, limit: i64) -> Result<Vec<(i64, AuditEntry)>> {
        type Row = (
            i64,
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
        );
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, at, channel, actor, command, outcome, role, action, target, origin \
             FROM audit_log WHERE 1 = 1",
        );
        if let Some(before) = filter.before {
            qb.push(" AND id < ").push_bind(before);
        }
        if let Some(actor) = &filter.actor {
            qb.push(" AND actor = ").push_bind(actor.clone());
        }
        if let Some(target) = &filter.target {
            qb.push(" AND target = ").push_bind(target.clone());
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit.max(0));
        let rows: Vec<Row> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, at, channel, actor, command, outcome, role, action, target, origin)| {
                    (
                        id,
                        AuditEntry {
                            at: from_micros(at),
                            channel,
                            actor,
                            role,
                            action,
                            target,
                            command,
                            outcome,
                            origin,
                        },
                    )
                },
            )
            .collect())
    }
}
