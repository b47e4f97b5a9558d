//! The network-database client (`formats/network-db.md`): who is responsible
//! for a machine and who mainly uses it. One `GET {base}/devices/{hostname}`
//! per machine; 200 and 404 are answers, anything else is a temporary
//! failure the ingest counts and retries on its next run.

use std::time::Duration;

use serde::Deserialize;
use winventory_core::normalize_login;
use winventory_core::store::DirectoryPerson;

/// What a path segment must encode: everything but RFC 3986's unreserved
/// characters, so `pc-01.cern.ch` goes out as it is.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A secret string: never shown by `Debug`, zeroed when dropped, read
/// only through [`ExposeSecret::expose_secret`] (secrecy's `SecretString`).
pub type Secret = secrecy::SecretString;

pub use secrecy::ExposeSecret;

/// The answer for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// 200: the people named (each may be absent).
    Found {
        /// Responsible person.
        responsible: Option<DirectoryPerson>,
        /// Main user.
        main_user: Option<DirectoryPerson>,
    },
    /// 404: the device is unknown.
    NotFound,
}

/// A temporary failure; the look-up is retried on the next run.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// No answer in time.
    #[error("the network database did not answer within {0:?}")]
    Timeout(Duration),
    /// Connection refused, reset, DNS...
    #[error("cannot reach the network database: {0}")]
    Unreachable(String),
    /// A status other than 200 or 404.
    #[error("the network database answered HTTP {0}")]
    Status(u16),
    /// A body that is not the documented JSON.
    #[error("the network database sent a body that is not the expected JSON: {0}")]
    Body(String),
}

/// Configuration of the client.
#[derive(Debug, Clone)]
pub struct NetDbConfig {
    /// Base URL (a trailing slash is ignored; it may carry a path prefix).
    pub base_url: String,
    /// Bearer token, if the service wants one.
    pub token: Option<Secret>,
    /// Time-out of one request.
    pub timeout: Duration,
    /// Look-ups in flight at once.
    pub concurrency: usize,
    /// Consecutive failures after which the run stops asking (the rest are
    /// counted as failed and retried next run).
    pub breaker_threshold: u32,
    /// Longest the ingest waits for outstanding look-ups once the file is stored.
    pub budget: Duration,
}

impl NetDbConfig {
    /// Defaults for `base_url`: 5 s time-out, 8 in flight, breaker after 20
    /// consecutive failures, 120 s budget.
    pub fn new(base_url: &str, token: Option<Secret>) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
            timeout: Duration::from_secs(5),
            concurrency: 8,
            breaker_threshold: 20,
            budget: Duration::from_secs(120),
        }
    }
}

/// The client.
#[derive(Debug, Clone)]
pub struct NetDbClient {
    http: reqwest::Client,
    config: NetDbConfig,
}

#[derive(Deserialize)]
struct Person {
    login: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct Device {
    #[serde(default)]
    responsible: Option<Person>,
    #[serde(default)]
    main_user: Option<Person>,
}

/// A person of an answer. A login longer than the snapshot format allows
/// (256 bytes) is no login: the person is treated as unknown, so nothing
/// larger than a snapshot could carry is ever stored or indexed; a name or
/// email over 256 bytes is dropped.
fn person(p: Option<Person>) -> Option<DirectoryPerson> {
    let p = p?;
    let login = normalize_login(p.login.as_deref()?)?;
    if login.len() > crate::cmf::MAX_LOGIN_BYTES {
        tracing::debug!(
            bytes = login.len(),
            "the network database named a login longer than 256 bytes; ignored"
        );
        return None;
    }
    let short = |s: &String| !s.trim().is_empty() && s.len() <= 256;
    Some(DirectoryPerson {
        login,
        name: p.name.filter(short),
        email: p.email.filter(short),
    })
}

impl NetDbClient {
    /// Build a client.
    pub fn new(config: NetDbConfig) -> Result<Self, LookupError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| LookupError::Unreachable(e.to_string()))?;
        Ok(Self { http, config })
    }

    /// The configuration.
    pub fn config(&self) -> &NetDbConfig {
        &self.config
    }

    /// Look one device up, by its hostname as the snapshot spelled it.
    pub async fn lookup(&self, hostname: &str) -> Result<Lookup, LookupError> {
        let encoded = percent_encoding::utf8_percent_encode(hostname, PATH_SEGMENT);
        let url = format!("{}/devices/{encoded}", self.config.base_url);
        let mut req = self.http.get(&url).header("Accept", "application/json");
        if let Some(t) = &self.config.token {
            req = req.bearer_auth(t.expose_secret());
        }
        let map_err = |e: reqwest::Error| {
            if e.is_timeout() {
                LookupError::Timeout(self.config.timeout)
            } else {
                // Without the URL: it may carry credentials in its query.
                LookupError::Unreachable(e.without_url().to_string())
            }
        };
        let resp = req.send().await.map_err(map_err)?;
        match resp.status().as_u16() {
            200 => {
                let body = resp.bytes().await.map_err(map_err)?;
                let d: Device =
                    serde_json::from_slice(&body).map_err(|e| LookupError::Body(e.to_string()))?;
                Ok(Lookup::Found {
                    responsible: person(d.responsible),
                    main_user: person(d.main_user),
                })
            }
            404 => Ok(Lookup::NotFound),
            s => Err(LookupError::Status(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_longer_than_a_snapshot_allows_is_no_login() {
        let p = |login: String| Person {
            login: Some(login),
            name: Some("N".repeat(300)),
            email: Some("a@example.org".into()),
        };
        assert!(person(Some(p("x".repeat(257)))).is_none());
        let ok = person(Some(p("X".repeat(256)))).expect("kept");
        assert_eq!(ok.login, "x".repeat(256));
        assert_eq!(
            (ok.name, ok.email.as_deref()),
            (None, Some("a@example.org"))
        );
    }

    #[test]
    fn a_token_never_shows_in_debug_output() {
        let c = NetDbConfig::new("http://x/", Some(Secret::from("hunter2")));
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(c.base_url, "http://x");
    }
}
