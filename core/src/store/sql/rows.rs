//! The row decoders every role shares (a machine, an OS, a person, a
//! campaign, a campaign machine, a queued message), compiled once per
//! backend like the roles.

use sqlx::Row;

use super::{Db, This};
use crate::domain::{OsInfo, User};
use crate::store::sql::{cycle_ref, owner, parse_date};
use crate::store::{
    CampaignMachine, CampaignRow, CampaignState, MachineRow, OutboxRow, Result, StoreError,
    from_micros,
};

impl This {
    pub(in crate::store::sql) fn os_info(row: &<Db as sqlx::Database>::Row) -> Result<OsInfo> {
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
    pub(in crate::store::sql) fn user_at(
        row: &<Db as sqlx::Database>::Row,
        first: usize,
    ) -> Result<User> {
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

    pub(in crate::store::sql) fn machine_row(
        row: &<Db as sqlx::Database>::Row,
    ) -> Result<MachineRow> {
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

    pub(in crate::store::sql) fn campaign_row(
        r: &<Db as sqlx::Database>::Row,
    ) -> Result<CampaignRow> {
        let state: String = r.try_get("state")?;
        Ok(CampaignRow {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            kind: r.try_get("kind")?,
            state: CampaignState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("campaign state {state:?}")))?,
            spec: r.try_get("spec")?,
            created_at: from_micros(r.try_get("created_at")?),
            started_at: r.try_get::<Option<i64>, _>("started_at")?.map(from_micros),
            closed_at: r.try_get::<Option<i64>, _>("closed_at")?.map(from_micros),
        })
    }

    pub(in crate::store::sql) fn campaign_machine(
        r: &<Db as sqlx::Database>::Row,
    ) -> Result<CampaignMachine> {
        // By position (CM_COLUMNS' order): 85,000 rows by name cost a second.
        Ok(CampaignMachine {
            campaign_id: r.try_get(0)?,
            machine_id: r.try_get(1)?,
            host_key: r.try_get(2)?,
            recipient: r.try_get(3)?,
            state: r.try_get(4)?,
            answer: r.try_get(5)?,
            answer_date: parse_date(r.try_get(6)?),
            answer_detail: r.try_get(7)?,
            answered_by: r.try_get(8)?,
            answered_at: r.try_get::<Option<i64>, _>(9)?.map(from_micros),
            resolution: r.try_get(10)?,
            messages: r.try_get::<i64, _>(11)?,
            reminders: r.try_get::<i64, _>(12)?,
            escalation: r.try_get::<i64, _>(13)?,
            last_messaged: r.try_get::<Option<i64>, _>(14)?.map(from_micros),
            exception_state: r.try_get(15)?,
            exception_decided_by: r.try_get(16)?,
            exception_note: r.try_get(17)?,
            transfer_from: r.try_get(18)?,
            resolved_at: r.try_get::<Option<i64>, _>(19)?.map(from_micros),
            hostname: r.try_get(20)?,
        })
    }

    pub(in crate::store::sql) fn outbox_row(r: &<Db as sqlx::Database>::Row) -> Result<OutboxRow> {
        Ok(OutboxRow {
            id: r.try_get("id")?,
            idem_key: r.try_get("idem_key")?,
            message_id: r.try_get("message_id")?,
            channel: r.try_get("channel")?,
            recipient: r.try_get("recipient")?,
            address: r.try_get("address")?,
            fallback: match (
                r.try_get::<Option<String>, _>("fallback_channel")?,
                r.try_get::<Option<String>, _>("fallback_address")?,
            ) {
                (Some(c), Some(a)) => Some((c, a)),
                _ => None,
            },
            subject: r.try_get("subject")?,
            body_text: r.try_get("body_text")?,
            body_html: r.try_get("body_html")?,
            actions: r
                .try_get::<Option<String>, _>("actions")?
                .map(|a| a.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
            buttons: r.try_get("buttons")?,
            state: r.try_get("state")?,
            attempts: r.try_get::<i64, _>("attempts")?,
            last_error: r.try_get("last_error")?,
            created_at: from_micros(r.try_get("created_at")?),
            sent_at: r.try_get::<Option<i64>, _>("sent_at")?.map(from_micros),
        })
    }
}
