//! The SQL of [`ChatStore`]: delivered messages by their chat ids, the
//! machines a message lists, chat events claimed once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::This;
use crate::store::{
    ChatStore, ListedMessage, MessageRef, PostedMessage, Result, from_micros, to_micros,
};

#[async_trait]
impl ChatStore for This {
    async fn set_remote_id(&self, id: i64, remote_id: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE outbox SET remote_id = $1 WHERE id = $2")
            .bind(remote_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn posted_message(
        &self,
        channel: &str,
        remote_id: &str,
    ) -> Result<Option<PostedMessage>> {
        let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT idem_key, recipient, body_text, buttons FROM outbox \
             WHERE remote_id = $1 AND channel = $2",
        )
        .bind(remote_id)
        .bind(channel)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(idem_key, recipient, body_text, buttons)| PostedMessage {
                idem_key,
                recipient,
                body_text,
                buttons,
            }),
        )
    }

    async fn listed_message(&self, which: MessageRef<'_>) -> Result<Option<ListedMessage>> {
        // One read: the message's row beside each machine it lists.
        let (id, a, b) = match which {
            MessageRef::Key(key) => ("SELECT MAX(id) FROM outbox WHERE idem_key = $1", key, ""),
            MessageRef::Remote { channel, id } => (
                "SELECT MAX(id) FROM outbox WHERE remote_id = $1 AND channel = $2",
                id,
                channel,
            ),
            MessageRef::LatestSent { recipient, channel } => (
                "SELECT MAX(x.id) FROM outbox x WHERE x.recipient = $1 AND x.channel = $2 \
                 AND x.state = 'sent' \
                 AND EXISTS (SELECT 1 FROM outbox_machines y WHERE y.outbox_id = x.id)",
                recipient,
                channel,
            ),
        };
        let q = format!(
            "SELECT o.id, o.idem_key, o.recipient, o.channel, om.campaign_id, om.machine_id \
             FROM outbox o LEFT JOIN outbox_machines om ON om.outbox_id = o.id \
             WHERE o.id = ({id}) ORDER BY om.campaign_id, om.machine_id"
        );
        let mut query =
            sqlx::query_as::<_, (i64, String, String, String, Option<i64>, Option<i64>)>(
                sqlx::AssertSqlSafe(q),
            )
            .bind(a);
        if !b.is_empty() {
            query = query.bind(b);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let Some((id, idem_key, recipient, channel, _, _)) = rows.first().cloned() else {
            return Ok(None);
        };
        Ok(Some(ListedMessage {
            id,
            idem_key,
            recipient,
            channel,
            machines: rows
                .into_iter()
                .filter_map(|(_, _, _, _, c, m)| Some((c?, m?)))
                .collect(),
        }))
    }

    async fn claim_event(&self, channel: &str, event_id: &str, now: DateTime<Utc>) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "INSERT INTO chat_events (channel, event_id, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (channel, event_id) DO NOTHING",
        )
        .bind(channel)
        .bind(event_id)
        .bind(to_micros(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn last_event_at(&self, channel: &str) -> Result<Option<DateTime<Utc>>> {
        let (at,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(seen_at) FROM chat_events WHERE channel = $1")
                .bind(channel)
                .fetch_one(&self.pool)
                .await?;
        Ok(at.map(from_micros))
    }
}
