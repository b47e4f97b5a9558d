//! The endoflife.date v1 API client: it refreshes Winventory's lifecycle
//! catalog from `GET {base}/products/{product}`.
//!
//! This module owns the HTTP side of `winventory catalog refresh`: building
//! the request URL, following product renames (301/302 redirects, at most
//! five), waiting out rate limits (429 with `Retry-After`), retrying server
//! errors and transport failures a bounded number of times, pinning the body
//! to `schema_version` 1.x, and mapping the body to the catalog's
//! [`CycleInfo`] rows ([`to_cycles`]). [`refresh`] fetches a list of products
//! and keeps going when one of them fails. Storing the rows is the caller's
//! business (see [`winventory_core::Catalog::upsert_rows`]).
//!
//! Nothing here panics: every failure is an [`EolApiError`] naming the
//! product and the URL.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use serde::{Deserialize, Deserializer};
use winventory_core::Catalog;
use winventory_core::Lifecycle;
use winventory_core::catalog::CycleInfo;

/// The public endoflife.date v1 API.
pub const DEFAULT_BASE_URL: &str = "https://endoflife.date/api/v1";

/// Time allowed for one request (connection, redirects and body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest a single wait before a retry may last (a longer `Retry-After`
/// is cut down to it).
pub const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// The first back-off after a server error; it doubles on each retry.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);

/// How many times one product is tried when the server fails (5xx) or the
/// request fails in transit (time-out, connection refused).
pub const MAX_ATTEMPTS: u32 = 3;

/// How many times a rate-limited (429) request is retried.
pub const MAX_RATE_LIMIT_RETRIES: u32 = 3;

/// The only `schema_version` major this client understands.
pub const SUPPORTED_SCHEMA_MAJOR: u64 = 1;

/// Most redirects followed for one request (products get renamed).
const MAX_REDIRECTS: usize = 5;

/// Largest body accepted (a product body is a few tens of kilobytes).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Characters escaped in the product path segment.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Errors talking to the endoflife.date API.
#[derive(Debug, thiserror::Error)]
pub enum EolApiError {
    /// The configured base URL is not an absolute http(s) URL.
    #[error("invalid endoflife.date API base URL {base:?}: {reason}")]
    BadBaseUrl {
        /// The base URL as configured.
        base: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for the endoflife.date API: {0}")]
    Client(#[source] reqwest::Error),
    /// The product identifier cannot be put in a URL (empty, or has a `/`).
    #[error("invalid product identifier {product:?}")]
    BadProduct {
        /// The identifier given.
        product: String,
    },
    /// The API does not know the product (HTTP 404 or 410).
    #[error("product {product:?} not found at {url}")]
    NotFound {
        /// The product asked for.
        product: String,
        /// The URL that answered 404 (after redirects).
        url: String,
    },
    /// The request failed in transit (time-out, connection, too many
    /// redirects), after the retries allowed.
    #[error("fetching product {product:?} from {url} failed after {attempts} attempt(s): {reason}")]
    Transport {
        /// The product asked for.
        product: String,
        /// The URL requested.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// What went wrong, with its causes.
        reason: String,
        /// Whether the last attempt timed out.
        timed_out: bool,
    },
    /// Still rate-limited (HTTP 429) after the retries allowed.
    #[error("product {product:?}: {url} is still rate-limiting (HTTP 429) after {retries} retries")]
    RateLimited {
        /// The product asked for.
        product: String,
        /// The URL requested.
        url: String,
        /// How many retries were made.
        retries: u32,
    },
    /// An HTTP status that is neither success nor one of the above (a 5xx
    /// after the retries allowed, or another 4xx).
    #[error("product {product:?}: {url} answered HTTP {status} after {attempts} attempt(s)")]
    Status {
        /// The product asked for.
        product: String,
        /// The URL that answered.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The body is not an endoflife.date v1 product body.
    #[error(
        "product {product:?}: the body from {url} is not an endoflife.date v1 product response: {reason}"
    )]
    BadBody {
        /// The product asked for.
        product: String,
        /// The URL that answered.
        url: String,
        /// What is wrong, with the start of the body.
        reason: String,
    },
    /// The body's `schema_version` is not 1.x.
    #[error(
        "product {product:?}: {url} answered schema_version {version:?}, but only {SUPPORTED_SCHEMA_MAJOR}.x is supported"
    )]
    UnsupportedSchema {
        /// The product asked for.
        product: String,
        /// The URL that answered.
        url: String,
        /// The schema version found.
        version: String,
    },
}

/// A product body of the v1 API (`GET /products/{product}`), as far as the
/// catalog needs it. Unknown fields are ignored (1.x minor versions add some).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProductResponse {
    /// Schema version (`1.2.1`); only 1.x is accepted.
    #[serde(deserialize_with = "version_string")]
    pub schema_version: String,
    /// When the API generated the body (RFC 3339), if it says.
    #[serde(default)]
    pub generated_at: Option<String>,
    /// The product.
    pub result: ProductResult,
}

/// The `result` of a product body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProductResult {
    /// The product's identifier at the API (after any rename).
    pub name: String,
    /// The product's title (`Microsoft Windows Server`).
    #[serde(default)]
    pub label: Option<String>,
    /// The product's category (`os`, `app`, ...).
    #[serde(default)]
    pub category: Option<String>,
    /// The release cycles, newest first.
    pub releases: Vec<Release>,
}

/// One release cycle in a product body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// Cycle identifier (`2012-r2`).
    pub name: String,
    /// Code name, if any.
    #[serde(default)]
    pub codename: Option<String>,
    /// Human label (`Windows Server 2012 R2`).
    #[serde(default)]
    pub label: Option<String>,
    /// First release.
    #[serde(default, deserialize_with = "opt_date")]
    pub release_date: Option<NaiveDate>,
    /// Long-term support release.
    #[serde(default)]
    pub is_lts: Option<bool>,
    /// Whether active support is over.
    #[serde(default)]
    pub is_eoas: Option<bool>,
    /// End of active support.
    #[serde(default, deserialize_with = "opt_date")]
    pub eoas_from: Option<NaiveDate>,
    /// Whether security support is over (end of life).
    #[serde(default)]
    pub is_eol: Option<bool>,
    /// End of security support.
    #[serde(default, deserialize_with = "opt_date")]
    pub eol_from: Option<NaiveDate>,
    /// Whether extended (paid) support is over.
    #[serde(default)]
    pub is_eoes: Option<bool>,
    /// End of extended support.
    #[serde(default, deserialize_with = "opt_date")]
    pub eoes_from: Option<NaiveDate>,
    /// Whether the cycle is still maintained.
    #[serde(default)]
    pub is_maintained: Option<bool>,
    /// Newest version of the cycle.
    #[serde(default)]
    pub latest: Option<LatestVersion>,
}

/// The `latest` object of a release.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LatestVersion {
    /// Version or build (`6.3.9600`).
    #[serde(default)]
    pub name: Option<String>,
    /// Its release date.
    #[serde(default, deserialize_with = "opt_date")]
    pub date: Option<NaiveDate>,
    /// Release notes.
    #[serde(default)]
    pub link: Option<String>,
}

/// `schema_version` as a string, whether sent as a string or a number.
fn version_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "schema_version must be a string, found {other}"
        ))),
    }
}

/// An optional `YYYY-MM-DD` date; `null` is `None`.
fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                serde::de::Error::custom(format!("invalid date {s:?}, expected YYYY-MM-DD"))
            }),
    }
}

/// A fetched product body with the URLs involved.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// The URL requested.
    pub requested_url: String,
    /// The URL that answered (differs after a redirect).
    pub final_url: String,
    /// The parsed body.
    pub body: ProductResponse,
}

/// The title and category a product already has in the catalog, used when
/// the API leaves them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductMeta {
    /// Product title.
    pub title: String,
    /// Category (`os`, `app`, ...).
    pub category: String,
}

impl ProductMeta {
    /// The title and category of `product` in `catalog`, if it has the product.
    pub fn from_catalog(catalog: &Catalog, product: &str) -> Option<Self> {
        catalog
            .cycles()
            .find(|c| c.product == product)
            .map(|c| Self {
                title: c.product_title.clone(),
                category: c.category.clone(),
            })
    }
}

/// Map a product body to catalog rows.
///
/// Rows are keyed by `product` (the identifier asked for, which stays the
/// catalog's key even when the API has renamed the product). Each lifecycle
/// phase is the `…From` date when there is one, else the `is…` flag, else
/// unknown (`None`). The title is the API's label, else `existing`'s title,
/// else the identifier; the category is the API's, else `existing`'s, else
/// `app`.
pub fn to_cycles(
    product: &str,
    body: &ProductResponse,
    existing: Option<&ProductMeta>,
) -> Vec<CycleInfo> {
    let result = &body.result;
    let title = non_empty(result.label.as_deref())
        .or_else(|| existing.map(|m| m.title.as_str()))
        .unwrap_or(product)
        .to_string();
    let category = non_empty(result.category.as_deref())
        .or_else(|| existing.map(|m| m.category.as_str()))
        .unwrap_or("app")
        .to_string();
    let source = match non_empty(body.generated_at.as_deref()) {
        Some(g) => format!("endoflife.date API v1 (generated_at {g})"),
        None => "endoflife.date API v1".to_string(),
    };
    result
        .releases
        .iter()
        .map(|r| CycleInfo {
            product: product.to_string(),
            product_title: title.clone(),
            category: category.clone(),
            cycle: r.name.clone(),
            label: r.label.clone(),
            release_date: r.release_date,
            support_end: phase(r.eoas_from, r.is_eoas),
            eol: phase(r.eol_from, r.is_eol),
            extended_support_end: phase(r.eoes_from, r.is_eoes),
            lts: r.is_lts.unwrap_or(false),
            latest: r
                .latest
                .as_ref()
                .and_then(|l| non_empty(l.name.as_deref()))
                .map(str::to_string),
            source: source.clone(),
        })
        .collect()
}

fn phase(from: Option<NaiveDate>, flag: Option<bool>) -> Option<Lifecycle> {
    from.map(Lifecycle::Date).or(flag.map(Lifecycle::Flag))
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// A client of the endoflife.date v1 API.
#[derive(Debug, Clone)]
pub struct EolApi {
    client: reqwest::Client,
    base: String,
    max_retry_wait: Duration,
    backoff: Duration,
}

impl EolApi {
    /// A client for the API at `base_url` (e.g. [`DEFAULT_BASE_URL`]; it may
    /// carry a path prefix, a trailing slash is ignored), allowing `timeout`
    /// per request. Redirects are followed, at most five.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, EolApiError> {
        let base = base_url.trim().trim_end_matches('/').to_string();
        let bad = |reason: String| EolApiError::BadBaseUrl {
            base: base_url.to_string(),
            reason,
        };
        let parsed = reqwest::Url::parse(&base).map_err(|e| bad(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad(format!(
                "scheme {:?} is not http or https",
                parsed.scheme()
            )));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("a base URL cannot have a query or a fragment".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .user_agent(concat!("winventory/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(EolApiError::Client)?;
        Ok(Self {
            client,
            base,
            max_retry_wait: DEFAULT_MAX_RETRY_WAIT,
            backoff: DEFAULT_BACKOFF,
        })
    }

    /// Cap every wait before a retry (a longer `Retry-After` is cut down).
    pub fn with_max_retry_wait(mut self, max: Duration) -> Self {
        self.max_retry_wait = max;
        self
    }

    /// Set the first back-off after a server error or a failed request (it
    /// doubles on each retry, within the cap).
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The URL of `product`'s body.
    pub fn product_url(&self, product: &str) -> String {
        format!(
            "{}/products/{}",
            self.base,
            utf8_percent_encode(product, PATH_SEGMENT)
        )
    }

    /// Fetch and map one product (no existing title or category to fall back on).
    pub async fn product(&self, product: &str) -> Result<Vec<CycleInfo>, EolApiError> {
        let fetched = self.fetch(product).await?;
        Ok(to_cycles(product, &fetched.body, None))
    }

    /// Fetch one product's body: follow redirects, wait out 429s, retry
    /// server errors and failed requests, check `schema_version` and the shape.
    pub async fn fetch(&self, product: &str) -> Result<Fetched, EolApiError> {
        if product.trim().is_empty() || product.contains('/') {
            return Err(EolApiError::BadProduct {
                product: product.to_string(),
            });
        }
        let url = self.product_url(product);
        let mut failures: u32 = 0;
        let mut rate_limited: u32 = 0;
        loop {
            let (wait, reason) = match self.attempt(product, &url).await {
                Attempt::Done(result) => return result,
                Attempt::RateLimited { retry_after } => {
                    rate_limited += 1;
                    if rate_limited > MAX_RATE_LIMIT_RETRIES {
                        return Err(EolApiError::RateLimited {
                            product: product.to_string(),
                            url,
                            retries: MAX_RATE_LIMIT_RETRIES,
                        });
                    }
                    let wait = retry_after.unwrap_or_else(|| self.backoff_for(rate_limited));
                    (wait, "HTTP 429".to_string())
                }
                Attempt::ServerError {
                    status,
                    url: answered,
                    retry_after,
                } => {
                    failures += 1;
                    if failures >= MAX_ATTEMPTS {
                        return Err(EolApiError::Status {
                            product: product.to_string(),
                            url: answered,
                            status: status.as_u16(),
                            attempts: failures,
                        });
                    }
                    let wait = retry_after.unwrap_or_else(|| self.backoff_for(failures));
                    (wait, format!("HTTP {}", status.as_u16()))
                }
                Attempt::Transient { reason, timed_out } => {
                    failures += 1;
                    if failures >= MAX_ATTEMPTS {
                        return Err(EolApiError::Transport {
                            product: product.to_string(),
                            url,
                            attempts: failures,
                            reason,
                            timed_out,
                        });
                    }
                    (self.backoff_for(failures), reason)
                }
            };
            let wait = wait.min(self.max_retry_wait);
            tracing::warn!(
                product,
                url = %url,
                reason = %reason,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "endoflife.date API: retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn backoff_for(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.backoff
            .checked_mul(factor)
            .unwrap_or(self.max_retry_wait)
            .min(self.max_retry_wait)
    }

    async fn attempt(&self, product: &str, url: &str) -> Attempt {
        let response = match self
            .client
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return transport_failure(product, url, e),
        };
        let status = response.status();
        let answered = response.url().to_string();
        if status.is_success() {
            let mut response = response;
            let mut bytes: Vec<u8> = Vec::new();
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                            return Attempt::Done(Err(EolApiError::BadBody {
                                product: product.to_string(),
                                url: answered,
                                reason: format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                            }));
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(e) => return transport_failure(product, url, e),
                }
            }
            if answered != url {
                tracing::info!(product, from = %url, to = %answered, "endoflife.date API: redirected");
            }
            return Attempt::Done(parse_body(product, &answered, &bytes).map(|body| Fetched {
                requested_url: url.to_string(),
                final_url: answered,
                body,
            }));
        }
        match status {
            StatusCode::NOT_FOUND | StatusCode::GONE => Attempt::Done(Err(EolApiError::NotFound {
                product: product.to_string(),
                url: answered,
            })),
            StatusCode::TOO_MANY_REQUESTS => Attempt::RateLimited {
                retry_after: retry_after(response.headers(), Utc::now()),
            },
            s if s.is_server_error() => Attempt::ServerError {
                status: s,
                retry_after: retry_after(response.headers(), Utc::now()),
                url: answered,
            },
            s => Attempt::Done(Err(EolApiError::Status {
                product: product.to_string(),
                url: answered,
                status: s.as_u16(),
                attempts: 1,
            })),
        }
    }
}

/// The outcome of one request.
enum Attempt {
    Done(Result<Fetched, EolApiError>),
    RateLimited {
        retry_after: Option<Duration>,
    },
    ServerError {
        status: StatusCode,
        url: String,
        retry_after: Option<Duration>,
    },
    Transient {
        reason: String,
        timed_out: bool,
    },
}

/// A failed request: retried unless retrying cannot help (too many
/// redirects, a request that cannot be built).
fn transport_failure(product: &str, url: &str, e: reqwest::Error) -> Attempt {
    let timed_out = e.is_timeout();
    // The URL is in the error message already.
    let e = e.without_url();
    let reason = error_chain(&e);
    if e.is_redirect() || e.is_builder() {
        return Attempt::Done(Err(EolApiError::Transport {
            product: product.to_string(),
            url: url.to_string(),
            attempts: 1,
            reason,
            timed_out,
        }));
    }
    Attempt::Transient { reason, timed_out }
}

/// An error and its causes on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

/// Parse and check a product body.
pub fn parse_body(product: &str, url: &str, bytes: &[u8]) -> Result<ProductResponse, EolApiError> {
    let bad = |reason: String| EolApiError::BadBody {
        product: product.to_string(),
        url: url.to_string(),
        reason,
    };
    // First only the version, so a 2.x body of another shape is reported as
    // an unsupported version rather than as a shape error.
    #[derive(Deserialize)]
    struct Version {
        #[serde(default)]
        schema_version: Option<serde_json::Value>,
    }
    let version: Version = serde_json::from_slice(bytes)
        .map_err(|e| bad(format!("{e} (body starts with {})", body_start(bytes))))?;
    let version = match version.schema_version {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(other) => return Err(bad(format!("schema_version is not a string: {other}"))),
        None => return Err(bad("it has no schema_version".into())),
    };
    let major = version
        .trim()
        .trim_start_matches(['v', 'V'])
        .split('.')
        .next()
        .and_then(|m| m.parse::<u64>().ok());
    if major != Some(SUPPORTED_SCHEMA_MAJOR) {
        return Err(EolApiError::UnsupportedSchema {
            product: product.to_string(),
            url: url.to_string(),
            version,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))
}

/// The first characters of a body, quoted, for error messages.
fn body_start(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let start: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        format!("{start:?}…")
    } else {
        format!("{start:?}")
    }
}

/// The wait a `Retry-After` header asks for (delay-seconds or an HTTP date),
/// relative to `now`; `None` when absent or unreadable.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// An HTTP date: IMF-fixdate (RFC 1123), or the obsolete RFC 850 and
/// asctime forms (`httpdate`, the parser hyper uses).
fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    httpdate::parse_http_date(s).ok().map(DateTime::<Utc>::from)
}

/// What [`refresh`] brought back.
#[derive(Debug, Default)]
pub struct RefreshOutcome {
    /// Rows of every product fetched, ready for
    /// [`Catalog::upsert_rows`](winventory_core::Catalog::upsert_rows).
    pub rows: Vec<CycleInfo>,
    /// Products that could not be fetched, with why; their rows in the
    /// existing catalog stay as they are.
    pub errors: Vec<(String, EolApiError)>,
    /// Products the API has renamed: (identifier asked for, the API's name).
    /// Their rows keep the identifier asked for.
    pub renamed: Vec<(String, String)>,
}

/// Fetch every product in `products` (one after the other, duplicates once),
/// and merge with `existing`: a product's title and category fall back to
/// the existing ones when the API leaves them out, and a cycle's label,
/// release date and latest version keep the existing value when the API has
/// none. Lifecycle dates are the API's. A product that fails is recorded in
/// [`RefreshOutcome::errors`] and does not stop the others.
pub async fn refresh(api: &EolApi, products: &[String], existing: &Catalog) -> RefreshOutcome {
    let mut outcome = RefreshOutcome::default();
    let mut seen = std::collections::HashSet::new();
    for product in products {
        if !seen.insert(product.as_str()) {
            continue;
        }
        match api.fetch(product).await {
            Ok(fetched) => {
                if fetched.body.result.name != *product {
                    outcome
                        .renamed
                        .push((product.clone(), fetched.body.result.name.clone()));
                }
                let meta = ProductMeta::from_catalog(existing, product);
                let mut rows = to_cycles(product, &fetched.body, meta.as_ref());
                for row in &mut rows {
                    if let Some(old) = existing.get(product, &row.cycle) {
                        if row.label.is_none() {
                            row.label.clone_from(&old.label);
                        }
                        if row.release_date.is_none() {
                            row.release_date = old.release_date;
                        }
                        if row.latest.is_none() {
                            row.latest.clone_from(&old.latest);
                        }
                    }
                }
                tracing::info!(product = %product, cycles = rows.len(), "endoflife.date API: refreshed");
                outcome.rows.extend(rows);
            }
            Err(e) => {
                tracing::warn!(product = %product, error = %e, "endoflife.date API: refresh failed");
                outcome.errors.push((product.clone(), e));
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).expect("header value"));
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Wednesday, 21-Oct-15 07:28:10 GMT"), now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after(&headers("Wed Oct 21 07:28:05 2015"), now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn phases_prefer_the_date_then_the_flag_then_unknown() {
        let body = br#"{"schema_version":"1.0","result":{"name":"p","releases":[
            {"name":"a","isEol":true,"eolFrom":"2020-01-14","isEoas":false,"isEoes":null},
            {"name":"b","isEol":true,"eolFrom":null,"eoasFrom":"2019-01-01"},
            {"name":"c"}
        ]}}"#;
        let parsed = parse_body("p", "http://x/products/p", body).expect("parses");
        let rows = to_cycles("p", &parsed, None);
        assert_eq!(rows[0].eol, Some(Lifecycle::Date(date(2020, 1, 14))));
        assert_eq!(rows[0].support_end, Some(Lifecycle::Flag(false)));
        assert_eq!(rows[0].extended_support_end, None);
        assert_eq!(rows[1].eol, Some(Lifecycle::Flag(true)));
        assert_eq!(rows[1].support_end, Some(Lifecycle::Date(date(2019, 1, 1))));
        assert_eq!(rows[2].eol, None);
        assert!(!rows[2].lts);
        assert_eq!(rows[0].product_title, "p");
        assert_eq!(rows[0].category, "app");
        assert_eq!(rows[0].source, "endoflife.date API v1");
    }

    #[test]
    fn a_bad_date_is_a_body_error_naming_the_value() {
        let body = br#"{"schema_version":"1.2","result":{"name":"p","releases":[{"name":"a","eolFrom":"2020-13-45"}]}}"#;
        let err = parse_body("p", "http://x/products/p", body).expect_err("bad date");
        let msg = err.to_string();
        assert!(matches!(err, EolApiError::BadBody { .. }), "{msg}");
        assert!(msg.contains("2020-13-45"), "{msg}");
    }

    #[test]
    fn schema_versions_other_than_1_are_refused() {
        for v in [r#""2.0""#, r#""0.9""#, "2", r#""""#] {
            let body = format!(r#"{{"schema_version":{v},"result":{{}}}}"#);
            let err = parse_body("p", "http://x", body.as_bytes()).expect_err("refused");
            assert!(
                matches!(err, EolApiError::UnsupportedSchema { .. }),
                "{err}"
            );
        }
        let ok = br#"{"schema_version":"1.9.0","result":{"name":"p","releases":[]}}"#;
        assert!(parse_body("p", "http://x", ok).is_ok());
    }

    #[test]
    fn base_urls_are_checked_and_trailing_slashes_dropped() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let api = EolApi::new("https://example.org/eol/api/v1//", DEFAULT_TIMEOUT).expect("api");
        assert_eq!(api.base_url(), "https://example.org/eol/api/v1");
        assert_eq!(
            api.product_url("a b/c"),
            "https://example.org/eol/api/v1/products/a%20b%2Fc"
        );
        assert!(matches!(
            EolApi::new("ftp://example.org", DEFAULT_TIMEOUT),
            Err(EolApiError::BadBaseUrl { .. })
        ));
        assert!(matches!(
            EolApi::new("not a url", DEFAULT_TIMEOUT),
            Err(EolApiError::BadBaseUrl { .. })
        ));
    }

    #[test]
    fn backoff_doubles_within_the_cap() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let api = EolApi::new(DEFAULT_BASE_URL, DEFAULT_TIMEOUT)
            .expect("api")
            .with_backoff(Duration::from_secs(1))
            .with_max_retry_wait(Duration::from_secs(3));
        assert_eq!(api.backoff_for(1), Duration::from_secs(1));
        assert_eq!(api.backoff_for(2), Duration::from_secs(2));
        assert_eq!(api.backoff_for(3), Duration::from_secs(3));
        assert_eq!(api.backoff_for(40), Duration::from_secs(3));
    }
}
