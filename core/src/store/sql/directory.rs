//! The SQL of [`DirectoryStore`]: people, groups, chat look-ups and owner
//! facts set directly.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::{Db, This};
use crate::domain::{OwnerFact, OwnerRole, User};
use crate::store::sql::{USER_COLUMNS, in_lists};
use crate::store::{DirectoryStore, Result, UserImport, to_micros};

#[async_trait]
impl DirectoryStore for This {
    async fn import_users(&self, users: &[UserImport], now: DateTime<Utc>) -> Result<()> {
        let now_us = to_micros(now);
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        for u in users {
            let x = &u.user;
            sqlx::query(
                "INSERT INTO users (login, name, email, matrix_id, mattermost_username, language, \
                 time_zone, manager, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (login) DO UPDATE SET name = COALESCE(excluded.name, users.name), \
                 email = COALESCE(excluded.email, users.email), \
                 matrix_id = COALESCE(excluded.matrix_id, users.matrix_id), \
                 mattermost_username = COALESCE(excluded.mattermost_username, users.mattermost_username), \
                 language = COALESCE(excluded.language, users.language), \
                 time_zone = COALESCE(excluded.time_zone, users.time_zone), \
                 manager = COALESCE(excluded.manager, users.manager), updated_at = excluded.updated_at",
            )
            .bind(&x.login)
            .bind(&x.name)
            .bind(&x.email)
            .bind(&x.matrix_id)
            .bind(&x.mattermost_username)
            .bind(&x.language)
            .bind(&x.time_zone)
            .bind(&x.manager)
            .bind(now_us)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM group_members WHERE login = $1")
                .bind(&x.login)
                .execute(&mut *tx)
                .await?;
            for g in &u.groups {
                sqlx::query("INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                    .bind(g)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO group_members (group_name, login) VALUES ($1, $2) \
                     ON CONFLICT (group_name, login) DO NOTHING",
                )
                .bind(g)
                .bind(&x.login)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn user(&self, login: &str) -> Result<Option<User>> {
        let q = format!("SELECT {USER_COLUMNS} FROM users WHERE login = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(login)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Self::user_at(&r, 0)).transpose()
    }

    async fn user_by_chat(&self, channel: &str, address: &str) -> Result<Option<User>> {
        let address = address.trim();
        let matching = match channel {
            "matrix" => "matrix_id = $1",
            "mattermost" => "lower(trim(ltrim(trim(mattermost_username), '@'))) = lower($1)",
            _ => return Ok(None),
        };
        if address.is_empty() {
            return Ok(None);
        }
        let q = format!("SELECT {USER_COLUMNS} FROM users WHERE {matching} ORDER BY login LIMIT 1");
        let row = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(address)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Self::user_at(&r, 0)).transpose()
    }

    async fn users(&self) -> Result<Vec<User>> {
        let q = format!("SELECT {USER_COLUMNS} FROM users ORDER BY login");
        let rows = sqlx::query(sqlx::AssertSqlSafe(q))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Self::user_at(r, 0)).collect()
    }

    async fn groups_of(&self, login: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT group_name FROM group_members WHERE login = $1 ORDER BY group_name",
        )
        .bind(login)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(g,)| g).collect())
    }

    async fn group_members(&self, groups: &[String]) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        let head = || {
            QueryBuilder::<Db>::new(
                "SELECT group_name, login FROM group_members WHERE group_name IN (",
            )
        };
        for mut qb in in_lists(groups, head, " ORDER BY group_name, login") {
            out.extend(
                qb.build_query_as::<(String, String)>()
                    .persistent(false)
                    .fetch_all(&self.pool)
                    .await?,
            );
        }
        Ok(out)
    }

    async fn group_names(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT group_name FROM group_members ORDER BY group_name")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn group_memberships(&self) -> Result<HashMap<String, Vec<String>>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT login, group_name FROM group_members ORDER BY login, group_name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for (login, group) in rows {
            out.entry(login).or_default().push(group);
        }
        Ok(out)
    }

    async fn set_owner(
        &self,
        host_key: &str,
        role: OwnerRole,
        fact: Option<&OwnerFact>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = match fact {
            Some(f) => sqlx::query(
                "INSERT INTO machine_owners (machine_id, role, login, source, updated_at) \
                 SELECT id, $2, $3, $4, $5 FROM machines WHERE host_key = $1 \
                 ON CONFLICT (machine_id, role) DO UPDATE SET login = excluded.login, \
                 source = excluded.source, updated_at = excluded.updated_at",
            )
            .bind(host_key)
            .bind(role.as_str())
            .bind(&f.login)
            .bind(f.source.as_str())
            .bind(to_micros(now))
            .execute(&self.pool)
            .await?
            .rows_affected(),
            None => sqlx::query(
                "DELETE FROM machine_owners WHERE role = $2 \
                 AND machine_id IN (SELECT id FROM machines WHERE host_key = $1)",
            )
            .bind(host_key)
            .bind(role.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected(),
        };
        Ok(done > 0)
    }
}
