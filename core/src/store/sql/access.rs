//! The SQL of [`AccessStore`]: API tokens by hash, their revocation and
//! last use, and the revision that tells other processes to drop their
//! caches.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::This;
use crate::store::{
    AccessStore, ApiToken, NewApiToken, NewSession, Result, Session, SignInAttempt, from_micros,
    to_micros,
};

type TokenRow = (
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

const TOKEN_COLUMNS: &str =
    "name, role, created_by, created_at, expires_at, revoked_at, last_used_at";

fn token(
    (name, role, created_by, created_at, expires_at, revoked_at, last_used_at): TokenRow,
) -> ApiToken {
    ApiToken {
        name,
        role,
        created_by,
        created_at: from_micros(created_at),
        expires_at: expires_at.map(from_micros),
        revoked_at: revoked_at.map(from_micros),
        last_used_at: last_used_at.map(from_micros),
    }
}

type SessionRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
);

const SESSION_COLUMNS: &str =
    "id, login, roles, csrf, id_token, origin, created_at, last_seen_at, expires_at, revoked_at";

fn session(
    (id, login, roles, csrf, id_token, origin, created_at, last_seen_at, expires_at, revoked_at): SessionRow,
) -> Session {
    Session {
        id,
        login,
        roles,
        csrf,
        id_token,
        origin,
        created_at: from_micros(created_at),
        last_seen_at: from_micros(last_seen_at),
        expires_at: from_micros(expires_at),
        revoked_at: revoked_at.map(from_micros),
    }
}

#[async_trait]
impl AccessStore for This {
    async fn put_sign_in(
        &self,
        a: &SignInAttempt,
        forget_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<bool> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sign_in_attempts WHERE created_at < $1")
            .bind(to_micros(forget_before))
            .execute(&mut *tx)
            .await?;
        let under_way: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_attempts")
            .fetch_one(&mut *tx)
            .await?;
        if under_way >= limit {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO sign_in_attempts (state_hash, nonce, verifier, return_to, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&a.state_hash)
        .bind(&a.nonce)
        .bind(&a.verifier)
        .bind(&a.return_to)
        .bind(to_micros(a.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn take_sign_in(&self, state_hash: &str) -> Result<Option<SignInAttempt>> {
        let _turn = self.write_turn().await;
        let row: Option<(String, String, String, String, i64)> = sqlx::query_as(
            "DELETE FROM sign_in_attempts WHERE state_hash = $1 \
             RETURNING state_hash, nonce, verifier, return_to, created_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(state_hash, nonce, verifier, return_to, created_at)| SignInAttempt {
                state_hash,
                nonce,
                verifier,
                return_to,
                created_at: from_micros(created_at),
            },
        ))
    }

    async fn create_session(&self, s: &NewSession) -> Result<i64> {
        let _turn = self.write_turn().await;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sessions (secret_hash, login, roles, csrf, id_token, origin, \
             created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
             RETURNING id",
        )
        .bind(&s.secret_hash)
        .bind(&s.login)
        .bind(&s.roles)
        .bind(&s.csrf)
        .bind(&s.id_token)
        .bind(&s.origin)
        .bind(to_micros(s.created_at))
        .bind(to_micros(s.expires_at))
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn session_by_hash(&self, hash: &str) -> Result<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE secret_hash = $1"
        )))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(session))
    }

    async fn touch_session(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(to_micros(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn revoke_session(&self, id: i64, at: DateTime<Utc>) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done =
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(to_micros(at))
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn sessions(&self, live_at: Option<DateTime<Utc>>) -> Result<Vec<Session>> {
        let rows: Vec<SessionRow> = match live_at {
            Some(now) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions \
                 WHERE revoked_at IS NULL AND expires_at > $1 ORDER BY id DESC"
                )))
                .bind(to_micros(now))
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY id DESC"
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows.into_iter().map(session).collect())
    }

    async fn create_token(&self, t: &NewApiToken) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "INSERT INTO api_tokens (name, hash, role, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&t.name)
        .bind(&t.hash)
        .bind(&t.role)
        .bind(&t.created_by)
        .bind(to_micros(t.created_at))
        .bind(t.expires_at.map(to_micros))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>> {
        let rows: Vec<TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY name"
        )))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(token).collect())
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        let row: Option<TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = $1"
        )))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(token))
    }

    async fn revoke_token(&self, name: &str, at: DateTime<Utc>) -> Result<bool> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
        )
        .bind(to_micros(at))
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE access_revision SET revision = revision + 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn touch_token(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE name = $2")
            .bind(to_micros(at))
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn access_revision(&self) -> Result<i64> {
        let n: i64 = sqlx::query_scalar("SELECT revision FROM access_revision")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }
}
