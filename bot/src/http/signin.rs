//! Single sign-on: OpenID Connect's authorization-code flow with PKCE,
//! `state` and `nonce` against the provider found by discovery
//! (`openidconnect`, on the project's reqwest through `oauth2-reqwest`),
//! sessions kept server-side, and the verification of the provider's access
//! tokens that machine clients (client-credentials) send as bearer tokens.
//!
//! - `GET /auth/login?return=/path` starts a sign-in: the state's hash,
//!   the nonce and the PKCE verifier are kept in the database (any replica
//!   takes the callback), the state also in a short cookie that binds the
//!   sign-in to this browser.
//! - `GET /auth/callback` takes them back once (a replayed or altered
//!   state finds nothing), exchanges the code, verifies the ID token
//!   (signature against the provider's JWKS, fetched again once when a
//!   token names a key it does not know, so rotation just works; issuer,
//!   audience, expiry, nonce), maps the person to the directory, gives the
//!   roles of the site's `[roles]` table, and opens a session: a new random
//!   id in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` under https),
//!   idle and absolute expiry.
//! - `GET /auth/logout` shows a sign-out button, `POST /auth/logout` (with
//!   the session's CSRF token) ends the session and, when the provider
//!   offers it, signs out there too (RP-initiated logout).
//! - `GET /auth/session`: who the session is, its roles and its CSRF token
//!   (what the web pages send back as `X-CSRF-Token` with every change).
//!
//! The provider is asked for its configuration when the first sign-in
//! needs it: while it is down, signing in fails with a page that says so,
//! and sessions already open keep working (they are ours).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, header, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJsonWebKeySet};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, JsonWebTokenType, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope, TokenResponse as _,
};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use winventory_core::access::{Principal, Role, roles_from_groups};
use winventory_core::store::{AuditEntry, NewSession, SignInAttempt};

use super::access::{hash_secret, random_token};
use super::{AppError, AppState};
use crate::settings::OidcSettings;

/// The session cookie (with the `__Host-` prefix under https, which
/// browsers only accept `Secure`, host-only, for path `/`).
const SESSION_COOKIE: &str = "wv_session";
/// The cookie that binds a sign-in under way to its browser.
const SIGN_IN_COOKIE: &str = "wv_sign_in";
/// How long a sign-in may take at the provider.
const SIGN_IN_MINUTES: i64 = 10;
/// Sign-ins under way at most (each is a row until its callback or ten
/// minutes: `/auth/login` needs no credentials, so the table is bounded).
const SIGN_INS_UNDER_WAY: i64 = 10_000;
/// How long the provider may take to answer.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// A token naming an unknown key fetches the JWKS again at most this often.
const JWKS_REFETCH: Duration = Duration::from_secs(2);
/// A session's last use is written at most this often.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// Why a sign-in or a provider token was refused.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The provider did not answer (or answered nonsense).
    #[error("the sign-in service ({0}) cannot be reached: {1}")]
    Unreachable(String, String),
    /// What came back fails a check.
    #[error("{0}")]
    Refused(String),
}

/// The provider's configuration once discovered, and when its keys were
/// last fetched.
struct Provider {
    metadata: ProviderMetadataWithLogout,
    keys_fetched: Instant,
}

/// Single sign-on for one process.
pub struct Sso {
    settings: OidcSettings,
    redirect: RedirectUrl,
    after_logout: String,
    secure: bool,
    http: oauth2_reqwest::ReqwestClient,
    provider: tokio::sync::RwLock<Option<Provider>>,
    /// Access tokens verified already (by SHA-256), with who they are and
    /// until when: a machine client sends the same token for its lifetime,
    /// so the signature is checked once, not per request.
    verified: std::sync::RwLock<std::collections::HashMap<String, (Principal, DateTime<Utc>)>>,
}

/// Verified access tokens kept at most (expired ones go first; at the cap
/// the cache starts again).
const VERIFIED_CAP: usize = 10_000;

impl Sso {
    /// Sign-in for these settings; `base_url` is the site's public URL.
    pub fn new(settings: OidcSettings, base_url: &str) -> anyhow::Result<Self> {
        let base = base_url.trim_end_matches('/');
        let redirect = RedirectUrl::new(format!("{base}/auth/callback"))
            .map_err(|e| anyhow::anyhow!("base_url: {base:?} gives no redirect URL: {e}"))?;
        let http = reqwest::Client::builder()
            // Following redirects opens a client up to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()?;
        Ok(Sso {
            settings,
            redirect,
            after_logout: format!("{base}/"),
            secure: base.starts_with("https://"),
            http: oauth2_reqwest::ReqwestClient::from(http),
            provider: tokio::sync::RwLock::new(None),
            verified: std::sync::RwLock::new(std::collections::HashMap::new()),
        })
    }

    /// The provider's configuration, discovered once.
    async fn metadata(&self) -> Result<ProviderMetadataWithLogout, SsoError> {
        if let Some(p) = self.provider.read().await.as_ref() {
            return Ok(p.metadata.clone());
        }
        let mut slot = self.provider.write().await;
        if let Some(p) = slot.as_ref() {
            return Ok(p.metadata.clone());
        }
        let unreachable = |e: String| SsoError::Unreachable(self.settings.issuer.clone(), e);
        let issuer =
            IssuerUrl::new(self.settings.issuer.clone()).map_err(|e| unreachable(e.to_string()))?;
        let metadata = tokio::time::timeout(
            PROVIDER_TIMEOUT,
            ProviderMetadataWithLogout::discover_async(issuer, &self.http),
        )
        .await
        .map_err(|_| unreachable("no answer".into()))?
        .map_err(|e| unreachable(error_chain(&e)))?;
        *slot = Some(Provider {
            metadata: metadata.clone(),
            keys_fetched: Instant::now(),
        });
        Ok(metadata)
    }

    /// The issuer and its keys (without copying the rest of the
    /// configuration: this is on every first sight of a token).
    async fn issuer_and_keys(&self) -> Result<(IssuerUrl, CoreJsonWebKeySet), SsoError> {
        if let Some(p) = self.provider.read().await.as_ref() {
            return Ok((p.metadata.issuer().clone(), p.metadata.jwks().clone()));
        }
        let md = self.metadata().await?;
        Ok((md.issuer().clone(), md.jwks().clone()))
    }

    /// Fetch the provider's keys again (a token named a key we do not
    /// have: the provider rotated), at most every [`JWKS_REFETCH`].
    async fn refetch_keys(&self) -> bool {
        let mut slot = self.provider.write().await;
        let Some(p) = slot.as_mut() else {
            return false;
        };
        if p.keys_fetched.elapsed() < JWKS_REFETCH {
            return false;
        }
        p.keys_fetched = Instant::now();
        let uri = p.metadata.jwks_uri().clone();
        match CoreJsonWebKeySet::fetch_async(&uri, &self.http).await {
            Ok(keys) => {
                p.metadata = p.metadata.clone().set_jwks(keys);
                true
            }
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "cannot fetch the sign-in provider's keys");
                false
            }
        }
    }

    fn client_id(&self) -> ClientId {
        ClientId::new(self.settings.client_id.clone())
    }

    fn client_secret(&self) -> ClientSecret {
        ClientSecret::new(self.settings.client_secret.expose_secret().to_string())
    }

    /// Verify an ID token for `nonce` at `now`: its claims (all of them,
    /// standard or not) once the signature, issuer, audience, expiry and
    /// nonce hold.
    pub async fn verify_id_token(
        &self,
        raw: &str,
        nonce: &Nonce,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value, SsoError> {
        let token: CoreIdToken = raw
            .parse()
            .map_err(|e| SsoError::Refused(format!("the ID token does not parse: {e}")))?;
        for attempt in 0..2 {
            let md = self.metadata().await?;
            let client = CoreClient::from_provider_metadata(
                md,
                self.client_id(),
                Some(self.client_secret()),
            );
            let verifier = client.id_token_verifier().set_time_fn(move || now);
            match token.claims(&verifier, nonce) {
                Ok(_) => return payload(raw),
                Err(e) if attempt == 0 && unknown_key(&e) && self.refetch_keys().await => continue,
                Err(e) => return Err(SsoError::Refused(format!("the ID token is refused: {e}"))),
            }
        }
        Err(SsoError::Refused("the ID token is refused".into()))
    }

    /// Verify an access token the provider issued to a machine client
    /// (signature, issuer, the API's audience, expiry): who it is and the
    /// roles its roles claim names.
    pub async fn verify_access_token(
        &self,
        raw: &str,
        now: DateTime<Utc>,
    ) -> Result<Principal, SsoError> {
        let key = hash_secret(raw);
        if let Some((p, exp)) = self.verified.read().ok().and_then(|c| c.get(&key).cloned())
            && now < exp
        {
            return Ok(p);
        }
        let (principal, exp) = self.verify_access_token_now(raw, now).await?;
        if let Ok(mut c) = self.verified.write() {
            if c.len() >= VERIFIED_CAP {
                c.retain(|_, (_, e)| now < *e);
                if c.len() >= VERIFIED_CAP {
                    c.clear();
                }
            }
            c.insert(key, (principal.clone(), exp));
        }
        Ok(principal)
    }

    /// The full check of an access token, every time (for the benchmark).
    pub async fn verify_access_token_uncached(
        &self,
        raw: &str,
        now: DateTime<Utc>,
    ) -> Result<Principal, SsoError> {
        Ok(self.verify_access_token_now(raw, now).await?.0)
    }

    /// [`Sso::verify_access_token`] without the cache: the principal and
    /// the token's expiry.
    async fn verify_access_token_now(
        &self,
        raw: &str,
        now: DateTime<Utc>,
    ) -> Result<(Principal, DateTime<Utc>), SsoError> {
        let token: CoreIdToken = raw
            .parse()
            .map_err(|_| SsoError::Refused("not a JSON Web Token".into()))?;
        let types = ["JWT", "at+jwt", "application/at+jwt"]
            .into_iter()
            .filter_map(|t| JsonWebTokenType::new(t.into()).normalize().ok());
        for attempt in 0..2 {
            let (issuer, keys) = self.issuer_and_keys().await?;
            let verifier = openidconnect::IdTokenVerifier::new_public_client(
                ClientId::new(self.settings.api_audience.clone()),
                issuer,
                keys,
            )
            .set_allowed_jose_types(types.clone())
            .set_time_fn(move || now);
            match token.claims(&verifier, |_: Option<&Nonce>| Ok(())) {
                Ok(_) => {
                    let claims = payload(raw)?;
                    let subject = claims
                        .get("client_id")
                        .or_else(|| claims.get("sub"))
                        .and_then(|v| v.as_str())
                        .unwrap_or("unknown")
                        .to_string();
                    let roles: BTreeSet<Role> = claim_strings(&claims, &self.settings.roles_claim)
                        .iter()
                        .filter_map(|r| r.parse::<Role>().ok())
                        .filter(|r| *r != Role::Owner)
                        .collect();
                    if roles.is_empty() {
                        return Err(SsoError::Refused(format!(
                            "the access token's {} claim names no role of this site",
                            self.settings.roles_claim
                        )));
                    }
                    let exp = claims
                        .get("exp")
                        .and_then(|v| v.as_i64())
                        .and_then(|e| DateTime::from_timestamp(e, 0))
                        .unwrap_or(now);
                    return Ok((
                        Principal {
                            subject: format!("client:{subject}"),
                            roles,
                        },
                        exp,
                    ));
                }
                Err(e) if attempt == 0 && unknown_key(&e) && self.refetch_keys().await => continue,
                Err(e) => {
                    return Err(SsoError::Refused(format!(
                        "the access token is refused: {e}"
                    )));
                }
            }
        }
        Err(SsoError::Refused("the access token is refused".into()))
    }
}

fn unknown_key(e: &openidconnect::ClaimsVerificationError) -> bool {
    matches!(
        e,
        openidconnect::ClaimsVerificationError::SignatureVerification(
            openidconnect::SignatureVerificationError::NoMatchingKey
        )
    )
}

/// The claims of a token whose signature was verified.
fn payload(raw: &str) -> Result<serde_json::Value, SsoError> {
    use base64::Engine as _;
    let part = raw
        .split('.')
        .nth(1)
        .ok_or_else(|| SsoError::Refused("not a JSON Web Token".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| SsoError::Refused("the token's claims do not decode".into()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| SsoError::Refused("the token's claims are not JSON".into()))
}

/// A claim as strings: a string, or an array of strings.
fn claim_strings(claims: &serde_json::Value, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(serde_json::Value::String(s)) => s
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A return path that stays on this site: a local absolute path, not
/// `//host` or `/\host` (which browsers read as another site), no scheme,
/// no control characters; anything else returns to `/`.
pub fn local_return(path: Option<&str>) -> String {
    let Some(p) = path.map(str::trim) else {
        return "/".into();
    };
    let safe = p.starts_with('/')
        && !p.starts_with("//")
        && !p.starts_with("/\\")
        && !p.contains("://")
        && p.len() <= 2048
        && !p.chars().any(|c| c.is_control() || c == '\\');
    if safe { p.to_string() } else { "/".into() }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

impl Sso {
    fn session_cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-wv_session"
        } else {
            SESSION_COOKIE
        }
    }

    fn set_cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if self.secure {
            c.push_str("; Secure");
        }
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

async fn audit(s: &AppState, actor: &str, role: &str, action: &str, outcome: String, origin: &str) {
    let entry = AuditEntry {
        at: s.app.clock.now(),
        channel: "http".into(),
        actor: actor.chars().take(200).collect(),
        role: role.into(),
        action: action.into(),
        target: String::new(),
        command: format!("{action} (single sign-on)"),
        outcome: outcome.chars().take(500).collect(),
        origin: origin.into(),
    };
    if let Err(e) = s.engine.store.audit(&entry).await {
        tracing::error!(error = %e, "cannot write the audit log");
    }
}

fn sso(s: &AppState) -> Result<&Sso, AppError> {
    s.sso.as_deref().ok_or(AppError::Off(
        "single sign-on is off: set oidc_issuer, oidc_client_id and oidc_client_secret",
    ))
}

/// `?return=`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// A local path to come back to.
    #[serde(rename = "return")]
    pub return_to: Option<String>,
}

/// `GET /auth/login`: off to the provider.
pub async fn login(State(s): State<Arc<AppState>>, Query(q): Query<LoginQuery>) -> Response {
    match start_login(&s, q).await {
        Ok(r) => r,
        Err(e) => super::error_page(&s, e),
    }
}

async fn start_login(s: &AppState, q: LoginQuery) -> Result<Response, AppError> {
    let sso = sso(s)?;
    let md = sso.metadata().await.map_err(sign_in_error)?;
    let client = CoreClient::from_provider_metadata(md, sso.client_id(), Some(sso.client_secret()))
        .set_redirect_uri(sso.redirect.clone());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in ["email", "profile", "groups"] {
        request = request.add_scope(Scope::new(scope.into()));
    }
    let (url, state, nonce) = request.url();
    let now = s.app.clock.now();
    let kept = s
        .engine
        .store
        .put_sign_in(
            &SignInAttempt {
                state_hash: hash_secret(state.secret()),
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
                return_to: local_return(q.return_to.as_deref()),
                created_at: now,
            },
            now - chrono::Duration::minutes(SIGN_IN_MINUTES),
            SIGN_INS_UNDER_WAY,
        )
        .await?;
    if !kept {
        return Err(AppError::SignInUnavailable(
            "Too many sign-ins are under way right now; try again in a minute.".into(),
        ));
    }
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        sso.set_cookie(SIGN_IN_COOKIE, state.secret(), Some(SIGN_IN_MINUTES * 60)),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn sign_in_error(e: SsoError) -> AppError {
    match e {
        SsoError::Unreachable(..) => AppError::SignInUnavailable(format!(
            "Signing in is not possible right now: {e}. Try again in a few minutes; if you are signed in already, nothing changes for you."
        )),
        SsoError::Refused(m) => AppError::SignInRefused(format!("Signing in failed: {m}.")),
    }
}

/// What the provider sends back.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The state we sent.
    pub state: Option<String>,
    /// The provider's refusal.
    pub error: Option<String>,
    /// Its words.
    pub error_description: Option<String>,
}

/// `GET /auth/callback`: the provider's answer.
pub async fn callback(
    State(s): State<Arc<AppState>>,
    parts: Parts,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let origin = super::access::peer(&parts.extensions);
    match finish_login(&s, &parts.headers, q, &origin).await {
        Ok(r) => r,
        Err((who, e)) => {
            audit(&s, &who, "", "sign-in", format!("refused: {e}"), &origin).await;
            let mut page = super::error_page(&s, e);
            if let Some(sso) = s.sso.as_deref() {
                page.headers_mut().append(
                    header::SET_COOKIE,
                    sso.set_cookie(SIGN_IN_COOKIE, "", Some(0)),
                );
            }
            page
        }
    }
}

async fn finish_login(
    s: &AppState,
    headers: &HeaderMap,
    q: CallbackQuery,
    origin: &str,
) -> Result<Response, (String, AppError)> {
    let nobody = |e: AppError| ("(unknown)".to_string(), e);
    let sso = sso(s).map_err(nobody)?;
    if let Some(error) = q.error {
        return Err(nobody(AppError::SignInRefused(format!(
            "Signing in failed at the sign-in service: {error}{}.",
            q.error_description
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        ))));
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return Err(nobody(AppError::SignInRefused(
            "Signing in failed: the sign-in service's answer lacks its code or state.".into(),
        )));
    };
    // The state must be the one this browser was sent with, and one we
    // are still waiting for (each is taken once).
    let bound = cookie(headers, SIGN_IN_COOKIE).is_some_and(|c| {
        use subtle::ConstantTimeEq as _;
        bool::from(c.as_bytes().ct_eq(state.as_bytes()))
    });
    let attempt = s
        .engine
        .store
        .take_sign_in(&hash_secret(&state))
        .await
        .map_err(|e| nobody(e.into()))?;
    let now = s.app.clock.now();
    let attempt = match attempt {
        Some(a) if bound && now - a.created_at <= chrono::Duration::minutes(SIGN_IN_MINUTES) => a,
        _ => {
            return Err(nobody(AppError::SignInRefused(
                "Signing in failed: this sign-in is unknown, was used already, took too long or was started in another browser. Start again from the sign-in link.".into(),
            )));
        }
    };
    let md = sso.metadata().await.map_err(|e| nobody(sign_in_error(e)))?;
    let client = CoreClient::from_provider_metadata(md, sso.client_id(), Some(sso.client_secret()))
        .set_redirect_uri(sso.redirect.clone());
    let exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| nobody(sign_in_error(SsoError::Refused(e.to_string()))))?
        .set_pkce_verifier(PkceCodeVerifier::new(attempt.verifier.clone()))
        .request_async(&sso.http)
        .await
        .map_err(|e| {
            nobody(sign_in_error(SsoError::Refused(format!(
                "the sign-in service refused the code ({})",
                error_chain(&e)
            ))))
        })?;
    let id_token = exchange.id_token().ok_or_else(|| {
        nobody(sign_in_error(SsoError::Refused(
            "the sign-in service sent no ID token".into(),
        )))
    })?;
    let raw = id_token.to_string();
    let claims = sso
        .verify_id_token(&raw, &Nonce::new(attempt.nonce.clone()), now)
        .await
        .map_err(|e| nobody(sign_in_error(e)))?;
    let settings = &sso.settings;
    let login = claims
        .get(&settings.user_claim)
        .and_then(|v| v.as_str())
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            nobody(AppError::SignInRefused(format!(
                "Signing in failed: the ID token has no {} claim to know you by.",
                settings.user_claim
            )))
        })?;
    let known = s
        .engine
        .store
        .user(&login)
        .await
        .map_err(|e| (login.clone(), e.into()))?;
    let roles = match known {
        Some(_) => {
            let mut groups = s
                .engine
                .store
                .groups_of(&login)
                .await
                .map_err(|e| (login.clone(), e.into()))?;
            groups.extend(claim_strings(&claims, &settings.groups_claim));
            roles_from_groups(
                &s.app.settings.role_mapping(),
                groups.iter().map(String::as_str),
            )
        }
        None if settings.unknown_users_are_owners => BTreeSet::from([Role::Owner]),
        None => {
            return Err((
                login.clone(),
                AppError::SignInRefused(format!(
                    "Signing in failed: {login} is not in this site's directory. Ask the IT team to add you."
                )),
            ));
        }
    };
    let principal = Principal {
        subject: login.clone(),
        roles,
    };
    let secret = random_token();
    let created = s
        .engine
        .store
        .create_session(&NewSession {
            secret_hash: hash_secret(&secret),
            login: login.clone(),
            roles: principal.roles_text(),
            csrf: random_token(),
            id_token: Some(raw),
            origin: origin.into(),
            created_at: now,
            expires_at: chrono::Duration::try_hours(s.app.settings.session_max_hours as i64)
                .and_then(|h| now.checked_add_signed(h))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        })
        .await
        .map_err(|e| (login.clone(), e.into()))?;
    audit(
        s,
        &login,
        &principal.roles_text(),
        "sign-in",
        format!("done: session {created}"),
        origin,
    )
    .await;
    let mut response = Redirect::to(&attempt.return_to).into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        sso.set_cookie(sso.session_cookie_name(), &secret, None),
    );
    h.append(
        header::SET_COOKIE,
        sso.set_cookie(SIGN_IN_COOKIE, "", Some(0)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A session found from the request's cookie, still live.
pub struct LiveSession {
    /// Who.
    pub principal: Principal,
    /// The stored session.
    pub session: winventory_core::store::Session,
}

/// The live session the request's cookie names, if any: not revoked, not
/// past its absolute expiry nor idle too long. Its last use is recorded at
/// most once a minute.
pub async fn session_of(
    s: &AppState,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<Option<LiveSession>, AppError> {
    let name = match s.sso.as_deref() {
        Some(sso) => sso.session_cookie_name(),
        None => return Ok(None),
    };
    let Some(secret) = cookie(headers, name).filter(|c| !c.is_empty() && c.len() <= 100) else {
        return Ok(None);
    };
    let Some(session) = s
        .engine
        .store
        .session_by_hash(&hash_secret(&secret))
        .await?
    else {
        return Ok(None);
    };
    let idle = chrono::Duration::minutes(s.app.settings.session_idle_minutes as i64);
    if session.revoked_at.is_some()
        || now >= session.expires_at
        || now - session.last_seen_at > idle
    {
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY {
        s.engine.store.touch_session(session.id, now).await?;
    }
    let roles = session
        .roles
        .split(',')
        .filter_map(|r| r.parse::<Role>().ok())
        .collect();
    Ok(Some(LiveSession {
        principal: Principal {
            subject: session.login.clone(),
            roles,
        },
        session,
    }))
}

/// Whether the request carries the session's CSRF token (header
/// `X-CSRF-Token`, or the `csrf` field of a form).
pub fn csrf_matches(session: &winventory_core::store::Session, given: Option<&str>) -> bool {
    use subtle::ConstantTimeEq as _;
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(session.csrf.as_bytes())))
}

/// `GET /auth/session`: the signed-in person, their roles and the token
/// changes must carry.
pub async fn whoami(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let now = s.app.clock.now();
    match session_of(&s, &headers, now).await {
        Ok(Some(live)) => axum::Json(serde_json::json!({
            "login": live.principal.subject,
            "roles": live.principal.roles,
            "csrf_token": live.session.csrf,
            "expires_at": live.session.expires_at,
        }))
        .into_response(),
        Ok(None) => AppError::Unauthorized("not signed in: /auth/login signs in").into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /auth/logout`: a page with the sign-out button (a GET never signs
/// anyone out: a link or an image could).
pub async fn logout_page(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let now = s.app.clock.now();
    let csrf = match session_of(&s, &headers, now).await {
        Ok(Some(live)) => live.session.csrf,
        _ => return Redirect::to("/").into_response(),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign out - Winventory</title></head>\
         <body><main><h1>Sign out</h1><form method=\"post\" action=\"/auth/logout\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\">Sign out</button></form></main></body></html>"
    );
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::response::Html(html),
    )
        .into_response()
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    /// The session's CSRF token.
    pub csrf: Option<String>,
}

/// `POST /auth/logout`: end the session here, then at the provider when
/// it offers RP-initiated logout.
pub async fn logout(
    State(s): State<Arc<AppState>>,
    parts: Parts,
    Form(form): Form<LogoutForm>,
) -> Response {
    let now = s.app.clock.now();
    let origin = super::access::peer(&parts.extensions);
    let live = match session_of(&s, &parts.headers, now).await {
        Ok(Some(l)) => l,
        Ok(None) => return Redirect::to("/").into_response(),
        Err(e) => return super::error_page(&s, e),
    };
    let given = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .or(form.csrf.as_deref());
    if !csrf_matches(&live.session, given) {
        return super::error_page(
            &s,
            AppError::Forbidden(
                "the sign-out form is stale or forged: sign out again from /auth/logout".into(),
            ),
        );
    }
    if let Err(e) = s.engine.store.revoke_session(live.session.id, now).await {
        return super::error_page(&s, e.into());
    }
    audit(
        &s,
        &live.principal.subject,
        &live.principal.roles_text(),
        "sign-out",
        format!("done: session {}", live.session.id),
        &origin,
    )
    .await;
    let Some(sso) = s.sso.as_deref() else {
        return Redirect::to("/").into_response();
    };
    let mut target = "/".to_string();
    if let Ok(md) = sso.metadata().await
        && let Some(end) = md.additional_metadata().end_session_endpoint.clone()
    {
        let mut request = openidconnect::LogoutRequest::from(end);
        if let Some(hint) = live
            .session
            .id_token
            .as_deref()
            .and_then(|t| t.parse::<CoreIdToken>().ok())
        {
            request = request.set_id_token_hint(&hint);
        }
        if let Ok(after) = PostLogoutRedirectUrl::new(sso.after_logout.clone()) {
            request = request.set_post_logout_redirect_uri(after);
        }
        target = request.http_get_url().to_string();
    }
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        sso.set_cookie(sso.session_cookie_name(), "", Some(0)),
    );
    response
}

/// The paths of sign-in (pages, not API: their errors are pages).
pub fn router() -> axum::Router<Arc<AppState>> {
    use axum::routing::get;
    axum::Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", get(logout_page).post(logout))
        .route("/auth/session", get(whoami))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_on_the_site() {
        assert_eq!(local_return(Some("/campaigns/x?y=1")), "/campaigns/x?y=1");
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil.example",
            "/ok\r\nSet-Cookie: x=1",
            "javascript:alert(1)",
            "/x/http://evil",
        ] {
            assert_eq!(local_return(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_return(None), "/");
    }

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: "https://sso.example.org".into(),
            client_id: "winventory".into(),
            client_secret: crate::settings::Secret::from("s".to_string()),
            user_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            roles_claim: "roles".into(),
            api_audience: "winventory".into(),
            unknown_users_are_owners: false,
        }
    }

    #[test]
    fn cookies_are_secure_and_host_only_when_the_site_is_reached_over_https() {
        let https = Sso::new(settings(), "https://winventory.example.org/").expect("sso");
        assert_eq!(https.session_cookie_name(), "__Host-wv_session");
        let c = https.set_cookie(https.session_cookie_name(), "v", None);
        let c = c.to_str().expect("ascii");
        for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(c.contains(part), "{part} in {c}");
        }
        assert!(!c.contains("Domain"), "{c}");
        let http = Sso::new(settings(), "http://winventory.lab").expect("sso");
        assert_eq!(http.session_cookie_name(), "wv_session");
        let c = http.set_cookie("wv_session", "v", Some(0));
        let c = c.to_str().expect("ascii");
        assert!(!c.contains("Secure") && c.contains("Max-Age=0"), "{c}");
        assert_eq!(
            http.redirect.as_str(),
            "http://winventory.lab/auth/callback"
        );
    }

    #[test]
    fn a_cookie_is_read_by_its_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; wv_session_x=2; wv_session=abc"),
        );
        assert_eq!(cookie(&h, "wv_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn a_roles_claim_reads_as_a_list_or_a_spaced_string() {
        let c = serde_json::json!({"roles": ["collector", "x"], "scope": "a b"});
        assert_eq!(claim_strings(&c, "roles"), ["collector", "x"]);
        assert_eq!(claim_strings(&c, "scope"), ["a", "b"]);
        assert!(claim_strings(&c, "none").is_empty());
    }
}
