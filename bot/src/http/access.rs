//! Who is calling the API: bearer tokens of the site's own (`wvt_` and 43
//! random characters, stored only as their SHA-256), and the old single
//! `api_token` setting (a collector, with a warning at start-up).
//!
//! Tokens are checked through an in-memory cache of the valid ones, so a
//! read costs a hash and a map look-up. A revocation in this process
//! empties the cache at once; one made elsewhere (the command line, another
//! replica) moves the store's access revision, which a request reads at
//! most once a second and which empties the cache when it moved. A request
//! that changes something always checks its token against the database,
//! so no revoked token changes anything anywhere. Last use is written at
//! most once a minute per token, off the request's path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use sha2::Digest as _;
use winventory_core::access::{Principal, Role};
use winventory_core::store::{ApiToken, Store};

use super::AppError;

/// What every token of the site starts with (so a leaked one is found by
/// secret scanners, and told from a provider's JWT).
pub const TOKEN_PREFIX: &str = "wvt_";

/// How often a request may read the store's access revision, ms.
const REVISION_EVERY_MS: i64 = 1_000;
/// How often a token's last use is written, s.
const TOUCH_EVERY_SECS: i64 = 60;

/// 32 random bytes, base64url (43 characters): token secrets, session
/// cookies, CSRF tokens.
pub fn random_token() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new token secret: the prefix and a [`random_token`].
pub fn new_secret() -> String {
    format!("{TOKEN_PREFIX}{}", random_token())
}

/// The address a request came from (the listener records it), for the
/// audit log.
pub fn peer(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The stored form of a secret: lower-case hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    let digest = sha2::Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A valid token as the cache keeps it.
struct Cached {
    name: String,
    role: Role,
    expires_at: Option<DateTime<Utc>>,
    /// Unix seconds of the last use written.
    touched: AtomicI64,
}

/// The API's bearer check, shared by every request of a process.
pub struct Access {
    store: Arc<dyn Store>,
    legacy: Option<crate::settings::Secret>,
    cache: RwLock<HashMap<String, Arc<Cached>>>,
    revision: AtomicI64,
    /// Milliseconds since `started` of the last revision read.
    checked_ms: AtomicI64,
    started: Instant,
}

impl Access {
    /// The check for this store; `legacy` is the old `api_token` setting.
    pub fn new(store: Arc<dyn Store>, legacy: Option<crate::settings::Secret>) -> Self {
        Access {
            store,
            legacy,
            cache: RwLock::new(HashMap::new()),
            revision: AtomicI64::new(i64::MIN),
            checked_ms: AtomicI64::new(-REVISION_EVERY_MS),
            started: Instant::now(),
        }
    }

    /// Forget every cached token (a revocation here).
    pub fn forget_all(&self) {
        if let Ok(mut c) = self.cache.write() {
            c.clear();
        }
    }

    /// Who the request's bearer token is. `changes`: the request changes
    /// something, so the token is checked against the database whatever
    /// the cache holds.
    pub async fn bearer(
        &self,
        headers: &HeaderMap,
        now: DateTime<Utc>,
        changes: bool,
        sso: Option<&super::signin::Sso>,
    ) -> Result<Principal, AppError> {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|v| !v.is_empty())
        else {
            return Err(NO_TOKEN);
        };
        if let Some(legacy) = &self.legacy
            && super::token_matches(given, legacy)
        {
            return Ok(Principal::new("api_token (setting)", [Role::Collector]));
        }
        if !given.starts_with(TOKEN_PREFIX) {
            // A JWT of the site's OpenID provider (a machine client's
            // client-credentials token), when sign-in is set up.
            if let Some(sso) = sso
                && given.len() <= 16 * 1024
                && given.matches('.').count() == 2
            {
                return sso
                    .verify_access_token(given, now)
                    .await
                    .map_err(|e| match e {
                        super::signin::SsoError::Unreachable(..) => {
                            AppError::Unavailable(anyhow::anyhow!("{e}"))
                        }
                        super::signin::SsoError::Refused(m) => {
                            tracing::info!(reason = %m, "a provider token was refused");
                            UNKNOWN
                        }
                    });
            }
            return Err(UNKNOWN);
        }
        if given.len() > 200 {
            return Err(UNKNOWN);
        }
        let hash = hash_secret(given);
        self.follow_revision().await?;
        if !changes {
            let hit = self.cache.read().ok().and_then(|c| c.get(&hash).cloned());
            if let Some(c) = hit {
                if c.expires_at.is_some_and(|e| now >= e) {
                    return Err(UNKNOWN);
                }
                self.touch(&c, now);
                return Ok(Principal::new(format!("token:{}", c.name), [c.role]));
            }
        }
        let token = self
            .store
            .token_by_hash(&hash)
            .await
            .map_err(|e| AppError::Unavailable(e.into()))?;
        let Some(token) = token.filter(|t| t.is_valid(now)) else {
            if let Ok(mut c) = self.cache.write() {
                c.remove(&hash);
            }
            return Err(UNKNOWN);
        };
        let Some(cached) = cached(&token) else {
            return Err(UNKNOWN);
        };
        let cached = Arc::new(cached);
        if let Ok(mut c) = self.cache.write() {
            c.insert(hash, cached.clone());
        }
        self.touch(&cached, now);
        Ok(Principal::new(
            format!("token:{}", cached.name),
            [cached.role],
        ))
    }

    /// Read the store's access revision if a second has passed since the
    /// last read, and empty the cache when it moved.
    async fn follow_revision(&self) -> Result<(), AppError> {
        let now_ms = self.started.elapsed().as_millis() as i64;
        let last = self.checked_ms.load(Ordering::Relaxed);
        if now_ms - last < REVISION_EVERY_MS
            || self
                .checked_ms
                .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return Ok(());
        }
        let revision = self
            .store
            .access_revision()
            .await
            .map_err(|e| AppError::Unavailable(e.into()))?;
        if self.revision.swap(revision, Ordering::AcqRel) != revision {
            self.forget_all();
        }
        Ok(())
    }

    /// Write the token's last use, at most once a minute, off the request.
    fn touch(&self, c: &Arc<Cached>, now: DateTime<Utc>) {
        let secs = now.timestamp();
        let last = c.touched.load(Ordering::Relaxed);
        if secs - last < TOUCH_EVERY_SECS
            || c.touched
                .compare_exchange(last, secs, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let (store, name) = (self.store.clone(), c.name.clone());
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(&name, now).await {
                tracing::warn!(token = %name, error = %e, "cannot record a token's last use");
            }
        });
    }
}

/// The refusal of a request with no credentials.
pub const NO_TOKEN: AppError = AppError::Unauthorized(
    "no bearer token and no sign-in session: send Authorization: Bearer TOKEN (`winventory token create` makes one) or sign in at /auth/login",
);

/// The refusal of a token that is not (or no longer) one of the site's.
const UNKNOWN: AppError = AppError::Unauthorized(
    "unknown, expired or revoked token: `winventory token list` shows the site's tokens",
);

fn cached(t: &ApiToken) -> Option<Cached> {
    Some(Cached {
        name: t.name.clone(),
        role: t.role.parse().ok()?,
        expires_at: t.expires_at,
        touched: AtomicI64::new(
            t.last_used_at
                .map(|l| l.timestamp())
                .unwrap_or(i64::MIN / 2),
        ),
    })
}

/// Whether the legacy setting is in use (said once at start-up).
pub fn legacy_warning(settings: &crate::settings::Settings) -> Option<&'static str> {
    settings.api_token.as_ref().map(|_| {
        "warning: the api_token setting (WINVENTORY_API_TOKEN) is deprecated; it still works as a collector's token: make one with `winventory token create NAME --role collector` and remove the setting"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_long_random_and_prefixed_and_its_hash_is_hex_sha256() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
