//! The web face: server-rendered pages (minijinja templates a site can
//! override, like the e-mails), readable with JavaScript off, a little
//! script shipped inside the binary for live updates, and the Server-Sent
//! Events stream (`/events`) that carries them.
//!
//! Who is looking: a signed-in person (the single sign-on session of
//! [`crate::http::signin`], with its roles), or an owner who came through
//! the personal link of a digest (`/me/link/{token}`: their own machines
//! only, until the link expires). Every page checks the role model of
//! [`winventory_core::access`]; a viewer is shown no button that changes
//! something, and the server refuses such a request anyway. Every change is
//! a form POST carrying the page's CSRF token, and audited.
//!
//! Pages: `/` the fleet, `/machines` (filtered, paginated), `/machines/{host}`,
//! `/campaigns`, `/campaigns/{name}` (figures, burn-down and forecast,
//! answer mix, machines with filters and export, actions by role), `/me`.

pub mod feed;
mod pages;
mod svg;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::Digest as _;
use winventory_core::access::{Permission, Principal, Role};

use crate::http::AppState;
use crate::http::signin;

pub use pages::{bounded_routes, events_route};

/// The personal link's cookie (`__Host-` under https).
const LINK_COOKIE: &str = "wv_me";
const LINK_COOKIE_HTTPS: &str = "__Host-wv_me";

/// The shipped stylesheet and script, served from the binary (an intranet
/// has no CDN; nothing is fetched from elsewhere).
pub const CSS: &str = include_str!("../../assets/web.css");
/// The live-update script.
pub const JS: &str = include_str!("../../assets/live.js");

/// The page strings of each shipped language, read once from the
/// templates (`web.LANG.toml`, which a site may override).
pub struct Strings {
    by_lang: Vec<(&'static str, minijinja::Value)>,
}

impl Strings {
    /// Read every language's strings; fails on a broken site override.
    pub fn load(t: &winventory_workflows::render::Templates) -> anyhow::Result<Self> {
        let mut by_lang = Vec::new();
        for lang in winventory_workflows::render::LANGUAGES {
            let name = format!("web.{lang}.toml");
            let text = t
                .render_named(&name, &minijinja::Value::UNDEFINED)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let table: toml::Table =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
            by_lang.push((
                lang,
                minijinja::Value::from(minijinja::value::Serde(&table)),
            ));
        }
        Ok(Self { by_lang })
    }

    fn of(&self, lang: &str) -> minijinja::Value {
        self.by_lang
            .iter()
            .find(|(l, _)| *l == lang)
            .or_else(|| self.by_lang.first())
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// Who is looking at a page.
#[derive(Clone)]
pub struct Viewer {
    /// The person and their roles.
    pub who: Principal,
    /// The token every change from this page carries.
    pub csrf: String,
    /// The page language (`en`, `fr`).
    pub lang: &'static str,
    /// Came through a personal link (owner of their own machines only).
    pub by_link: bool,
}

impl Viewer {
    /// Whether the viewer's roles allow `p`.
    pub fn may(&self, p: Permission) -> bool {
        self.who.may(p)
    }
}

fn https(s: &AppState) -> bool {
    s.app.settings.base_url.starts_with("https://")
}

fn link_cookie_name(s: &AppState) -> &'static str {
    if https(s) {
        LINK_COOKIE_HTTPS
    } else {
        LINK_COOKIE
    }
}

/// The CSRF token of a personal link's pages: a hash of the link, which
/// only the browser holding its HttpOnly cookie knows.
fn link_csrf(token: &str) -> String {
    let d = sha2::Sha256::digest(format!("winventory-web-csrf|{token}").as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn accept_language(headers: &HeaderMap) -> &'static str {
    let tag = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .unwrap_or("en");
    winventory_workflows::render::language(tag)
}

/// The viewer of a request: a live sign-in session first, else a valid
/// personal link cookie; `None` for nobody.
pub async fn viewer(
    s: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Viewer>, crate::http::AppError> {
    let now = s.app.clock.now();
    let (who, csrf, by_link) = if let Some(live) = signin::session_of(s, headers, now).await? {
        (live.principal, live.session.csrf, false)
    } else {
        let Some(token) = signin::cookie(headers, link_cookie_name(s)).filter(|t| t.len() <= 512)
        else {
            return Ok(None);
        };
        let Some(signer) = s.engine.signer.as_deref() else {
            return Ok(None);
        };
        match signer.verify_personal(&token, now) {
            Ok(login) => (
                Principal::new(login, [Role::Owner]),
                link_csrf(&token),
                true,
            ),
            Err(_) => return Ok(None),
        }
    };
    let lang = match s.engine.store.user(&who.subject).await? {
        Some(u) if u.language.as_deref().is_some_and(|l| !l.trim().is_empty()) => {
            winventory_workflows::render::language(u.language.as_deref().unwrap_or("en"))
        }
        _ => accept_language(headers),
    };
    Ok(Some(Viewer {
        who,
        csrf,
        lang,
        by_link,
    }))
}

/// Whether the person behind an open stream is still let in: their session
/// still live (one read), or their personal link still valid (no read).
pub async fn still_signed_in(
    s: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
) -> Result<bool, crate::http::AppError> {
    let now = s.app.clock.now();
    if v.by_link {
        let token = signin::cookie(headers, link_cookie_name(s));
        return Ok(match (token, s.engine.signer.as_deref()) {
            (Some(t), Some(signer)) => signer
                .verify_personal(&t, now)
                .is_ok_and(|login| login == v.who.subject),
            _ => false,
        });
    }
    Ok(signin::session_of(s, headers, now)
        .await?
        .is_some_and(|live| live.principal.subject == v.who.subject))
}

/// Security headers of every page.
pub fn page_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

/// Render a page template with the viewer's strings, roles and token.
pub fn render(
    s: &AppState,
    status: StatusCode,
    template: &str,
    viewer: Option<&Viewer>,
    ctx: serde_json::Value,
) -> Response {
    let lang = viewer.map_or("en", |v| v.lang);
    let me = viewer.map(|v| {
        serde_json::json!({
            "login": v.who.subject,
            "roles": v.who.roles_text(),
            "by_link": v.by_link,
            "read_fleet": v.may(Permission::ReadFleet),
            "manage": v.may(Permission::ManageCampaigns) || v.may(Permission::ManageLicenceCampaigns),
            "answer_own": v.may(Permission::AnswerOwn),
        })
    });
    let ctx = minijinja::context! {
        t => s.web.strings.of(lang),
        lang => lang,
        me => minijinja::Value::from(minijinja::value::Serde(&me)),
        csrf => viewer.map_or(String::new(), |v| v.csrf.clone()),
        sso => s.sso.is_some(),
        page => minijinja::Value::from(minijinja::value::Serde(&ctx)),
    };
    match s.engine.templates.render_named(template, &ctx) {
        Ok(html) => page_headers(
            (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "a page template failed");
            page_headers(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "this page cannot be shown: its template failed (see the server's log)\n",
                )
                    .into_response(),
            )
        }
    }
}

/// The page for someone not signed in: to the sign-in (which comes back
/// here), or a page that says how to get in when sign-in is not set up.
pub fn sign_in_first(s: &AppState, path_and_query: &str) -> Response {
    if s.sso.is_some() {
        let back = signin::local_return(Some(path_and_query));
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("return", &back);
        return Redirect::to(&format!("/auth/login?{}", q.finish())).into_response();
    }
    render(
        s,
        StatusCode::UNAUTHORIZED,
        "web-error.html.j2",
        None,
        serde_json::json!({
            "status": 401,
            "message": "Single sign-on is not set up on this site: open the personal link of your latest message to see your machines, or ask the IT team.",
        }),
    )
}

/// A page that says why (403, 404, 409...).
pub fn error_page(s: &AppState, v: Option<&Viewer>, status: StatusCode, message: &str) -> Response {
    render(
        s,
        status,
        "web-error.html.j2",
        v,
        serde_json::json!({"status": status.as_u16(), "message": message}),
    )
}

/// `Set-Cookie` for the personal link (HttpOnly, SameSite=Lax, Secure and
/// host-only under https), living as long as the link.
fn link_cookie(s: &AppState, token: &str, max_age: i64) -> String {
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        link_cookie_name(s),
        max_age.max(0),
        if https(s) { "; Secure" } else { "" }
    )
}

/// Shared state the pages add to the HTTP edge's.
pub struct Web {
    /// The strings of each language.
    pub strings: Strings,
    /// The live feed.
    pub feed: Arc<feed::Feed>,
    /// The fleet page's figures, recounted only after an ingest (or when
    /// the day changes).
    pub fleet: tokio::sync::Mutex<Option<FleetFigures>>,
}

/// The fleet's counts as of one inventory revision and day, per view
/// (operating systems or software) and directory group.
pub struct FleetFigures {
    /// The store's inventory revision and the day they were counted for.
    pub key: ((i64, i64), chrono::NaiveDate),
    /// When the revision was last read.
    pub checked: std::time::Instant,
    /// Counts per (software?, group): kept until the key changes.
    pub rows: std::collections::HashMap<(bool, Option<String>), Arc<Vec<FleetRow>>>,
    /// The directory's groups (for the group filter), when read.
    pub groups: Option<(std::time::Instant, Arc<Vec<String>>)>,
}

/// One cycle's machines on the fleet page (an OS or a software release).
#[derive(Debug, Clone)]
pub struct FleetRow {
    /// Catalog product, `None` for unmatched operating systems.
    pub product: Option<String>,
    /// Its cycle.
    pub cycle: Option<String>,
    /// End of life.
    pub eol: Option<winventory_core::domain::Lifecycle>,
    /// Machines (or, for software, installs).
    pub machines: i64,
}
