//! Recording an answer, the write of every button click, where the engines
//! differ: on PostgreSQL one statement of data-modifying CTEs (one round
//! trip, a plan reused per connection); on SQLite one `UPDATE ... RETURNING`
//! whose triggers (migration 0011) write the history and owner rows. Also
//! the campaign column lists the campaigns role reads.

use std::sync::LazyLock;

use chrono::NaiveDate;

use super::{CHUNK_PARAMS, PostgresStore, SqliteStore, USER_COLUMNS, columns_of};
use crate::store::{AnswerRecord, CampaignMachine, Result};

pub(super) const CAMPAIGN_COLUMNS: &str =
    "SELECT id, name, kind, state, spec, created_at, started_at, closed_at FROM campaigns ";

pub(super) const CM_COLUMNS: &str = "campaign_id, machine_id, host_key, recipient, state, answer, answer_date, answer_detail, \
     answered_by, answered_at, resolution, messages, reminders, escalation, last_messaged, \
     exception_state, exception_decided_by, exception_note, transfer_from, resolved_at, hostname";

/// A recipient's machines of one campaign (`$1` recipient, `$2` campaign),
/// in no order: the caller sorts them (see `campaign_machines_of`).
pub(super) static MACHINES_OF_RECIPIENT: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {CM_COLUMNS} FROM campaign_machines WHERE recipient = $1 AND campaign_id = $2")
});

/// One read for checking an answer: the recipient's machines (columns 0 to
/// 20, null when none), the campaign's state and name (21, 22), the person
/// (23 to 30, null when unknown).
pub(super) static ANSWER_VIEW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, c.state, c.name, {} FROM campaigns c \
         LEFT JOIN campaign_machines cm ON cm.campaign_id = c.id AND cm.recipient = $2 \
         LEFT JOIN users u ON u.login = $3 WHERE c.id = $1",
        columns_of(CM_COLUMNS, "cm"),
        columns_of(USER_COLUMNS, "u"),
    )
});

/// What recording an answer sets on each machine it covers: `$1` answer,
/// `$2` date, `$3` detail, `$4` by, `$5` at, `$7` comment, `$8` via; and a
/// hand-over it confirms (the person it was handed to answers anything but
/// "not mine") is no longer pending.
const ANSWER_SET: &str = "state = 'answered', answer = $1, answer_date = $2, answer_detail = $3, \
     answered_by = $4, answered_at = $5, answer_comment = $7, answered_via = $8, reminders = 0, \
     exception_state = CASE WHEN $1 = 'exception' THEN 'requested' ELSE NULL END, \
     exception_decided_by = NULL, exception_decided_at = NULL, exception_note = NULL, \
     transfer_from = CASE WHEN $1 <> 'not_mine' AND recipient = $4 THEN NULL ELSE transfer_from END";

/// Recording an answer on PostgreSQL: one statement, so one round trip and
/// one commit. `pre` reads the hand-overs the answer confirms before the
/// update clears them (every part of the statement sees its snapshot); `$6`
/// campaign, `$9` the machine or machines (`machines` is `machine_id = $9`
/// or `machine_id = ANY($9)`).
fn pg_record_answer(machines: &str) -> String {
    format!(
        "WITH pre AS (SELECT machine_id FROM campaign_machines \
           WHERE campaign_id = $6 AND {machines} AND state <> 'resolved' \
           AND transfer_from IS NOT NULL AND recipient = $4 AND $1 <> 'not_mine'), \
         up AS (UPDATE campaign_machines SET {ANSWER_SET} \
           WHERE campaign_id = $6 AND {machines} AND state <> 'resolved' RETURNING {CM_COLUMNS}), \
         history AS (INSERT INTO campaign_answers \
           (campaign_id, machine_id, answer, answer_date, detail, comment, answered_by, via, at) \
           SELECT $6, machine_id, $1, $2, $3, $7, $4, $8, $5 FROM up), \
         owners AS (INSERT INTO machine_owners (machine_id, role, login, source, updated_at) \
           SELECT machine_id, 'responsible', $4, 'answer', $5 FROM up \
           WHERE machine_id IN (SELECT machine_id FROM pre) \
           ON CONFLICT (machine_id, role) DO UPDATE SET login = excluded.login, \
           source = excluded.source, updated_at = excluded.updated_at) \
         SELECT {CM_COLUMNS} FROM up"
    )
}

/// [`pg_record_answer`] for one machine. PostgreSQL plans it once per
/// connection and reuses the plan; the form for many machines (an array
/// parameter) it plans again at each execution, which was a third of its
/// work under a load of clicks.
static PG_RECORD_ANSWER_ONE: LazyLock<String> =
    LazyLock::new(|| pg_record_answer("machine_id = $9"));
/// [`pg_record_answer`] for several machines.
static PG_RECORD_ANSWER_MANY: LazyLock<String> =
    LazyLock::new(|| pg_record_answer("machine_id = ANY($9)"));

impl PostgresStore {
    pub(in crate::store::sql) async fn record_answer_sql(
        &self,
        a: &AnswerRecord,
        now: i64,
    ) -> Result<Vec<CampaignMachine>> {
        let sql = match a.machine_ids.as_slice() {
            [_] => PG_RECORD_ANSWER_ONE.as_str(),
            _ => PG_RECORD_ANSWER_MANY.as_str(),
        };
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&a.answer)
            .bind(date_text(a.date))
            .bind(&a.detail)
            .bind(&a.by)
            .bind(now)
            .bind(a.campaign_id)
            .bind(&a.comment)
            .bind(&a.via);
        let q = match a.machine_ids.as_slice() {
            [one] => q.bind(*one),
            many => q.bind(many.to_vec()),
        };
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(Self::campaign_machine).collect()
    }
}

impl SqliteStore {
    /// Recording an answer on SQLite: one UPDATE statement per 30,000
    /// machines (in a transaction when there are more), whose triggers
    /// (migration 0011) write the history rows and a confirmed hand-over's
    /// owner. One step for the single writer, where a transaction of four
    /// statements held the write lock across four hand-offs between the
    /// server and SQLite's thread.
    pub(in crate::store::sql) async fn record_answer_sql(
        &self,
        a: &AnswerRecord,
        now: i64,
    ) -> Result<Vec<CampaignMachine>> {
        let statement = |n: usize| {
            let list = (0..n)
                .map(|i| format!("${}", i + 9))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "UPDATE campaign_machines SET {ANSWER_SET} WHERE campaign_id = $6 \
                 AND state <> 'resolved' AND machine_id IN ({list}) RETURNING {CM_COLUMNS}"
            )
        };
        let query = |sql: String, chunk: &[i64]| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(a.answer.clone())
                .bind(date_text(a.date))
                .bind(a.detail.clone())
                .bind(a.by.clone())
                .bind(now)
                .bind(a.campaign_id)
                .bind(a.comment.clone())
                .bind(a.via.clone());
            for id in chunk {
                q = q.bind(*id);
            }
            q
        };
        let rows = if a.machine_ids.len() <= CHUNK_PARAMS {
            query(statement(a.machine_ids.len()), &a.machine_ids)
                .fetch_all(&self.pool)
                .await?
        } else {
            let mut tx = self.pool.begin().await?;
            let mut rows = Vec::new();
            for chunk in a.machine_ids.chunks(CHUNK_PARAMS) {
                rows.extend(
                    query(statement(chunk.len()), chunk)
                        .fetch_all(&mut *tx)
                        .await?,
                );
            }
            tx.commit().await?;
            rows
        };
        rows.iter().map(Self::campaign_machine).collect()
    }
}

pub(super) fn date_text(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}
