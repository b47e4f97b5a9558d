//! The HTTP edge (axum): answer pages for signed links, the REST API
//! (`api`: one route table, permissions checked before anything is looked
//! up, RFC 9457 problems, an OpenAPI document), its bearer check
//! (`access`), single sign-on (`signin`), the Mattermost callbacks,
//! `/healthz`, `/livez` and `/metrics`. A GET of an answer link only shows
//! what would be recorded, with a form for the fields the answer needs
//! (mail scanners follow links; a GET never records); the POST records it
//! and says how to change it. Forged, altered or expired links, and links
//! of closed campaigns, get a page that says so and record nothing.

pub mod access;
pub mod api;
mod error;
pub mod listener;
pub mod mattermost;
pub mod signin;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use winventory_workflows::engine::{Engine, LinkError};
use winventory_workflows::render::{PageContext, answer_label, date_label};

pub use error::{AppError, Problem};

/// Shared state of the handlers.
pub struct AppState {
    /// The engine (store, catalog, templates, signer).
    pub engine: Engine,
    /// The application (settings, clock, store, catalog).
    pub app: Arc<crate::app::App>,
    /// One ingest at a time (the pipeline assumes a single writer).
    pub ingest_lock: tokio::sync::Mutex<()>,
    /// The Mattermost channel, when configured (dialogs and post updates).
    pub mattermost: Option<Arc<crate::channels::mattermost::MattermostChannel>>,
    /// The process's long-running loops, for readiness and metrics.
    pub health: Arc<crate::tasks::supervise::Health>,
    /// The API's bearer check (and its token cache).
    pub access: access::Access,
    /// Single sign-on, when the site set it up.
    pub sso: Option<Arc<signin::Sso>>,
    /// The web pages' strings and live feed.
    pub web: crate::web::Web,
}

impl AppState {
    /// The state of one serving process (fails only on sign-in settings
    /// that cannot work, such as a `base_url` that is not a URL).
    pub fn new(
        app: Arc<crate::app::App>,
        engine: Engine,
        mattermost: Option<Arc<crate::channels::mattermost::MattermostChannel>>,
        health: Arc<crate::tasks::supervise::Health>,
    ) -> anyhow::Result<Self> {
        let access = access::Access::new(app.store.clone(), app.settings.api_token.clone());
        let sso = match &app.settings.oidc {
            Some(o) => Some(Arc::new(signin::Sso::new(
                o.clone(),
                &app.settings.base_url,
            )?)),
            None => None,
        };
        let web = crate::web::Web {
            strings: crate::web::Strings::load(&engine.templates)?,
            feed: Arc::new(crate::web::feed::Feed::new()),
            fleet: tokio::sync::Mutex::new(None),
        };
        Ok(AppState {
            web,
            engine,
            app,
            ingest_lock: tokio::sync::Mutex::new(()),
            mattermost,
            health,
            access,
            sso,
        })
    }
}

/// Largest body of any request but a snapshot upload (Mattermost callbacks,
/// slash commands, answer forms).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest snapshot accepted by `POST /api/v1/snapshots` (compressed or not).
pub const MAX_SNAPSHOT_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// The router.
///
/// Every route but the snapshot upload (which streams gigabytes to disk
/// under its own limit) has a body limit and a time-out (the
/// `request_timeout_secs` setting, 15 s by default: a client that sends its
/// body slowly, or a handler stuck on the database, gets 503); a panic in a
/// handler becomes a bare 500, never a trace.
pub fn router(state: Arc<AppState>) -> Router {
    use crate::channels::mattermost::{ACTIONS_PATH, COMMAND_PATH, DIALOG_PATH};
    use axum::routing::post;
    use mattermost as edge;
    let bounded = Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .route("/metrics", get(metrics))
        .route("/answer/{token}", get(answer_page).post(answer_post))
        .route(ACTIONS_PATH, post(edge::action))
        .route(DIALOG_PATH, post(edge::dialog))
        .route(COMMAND_PATH, post(edge::command))
        .merge(signin::router())
        .merge(crate::web::bounded_routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            std::time::Duration::from_secs(state.app.settings.request_timeout_secs),
        ));
    // The API puts its routes under the same limits, but the upload.
    let api = api::router(state.clone());
    Router::new()
        .merge(bounded)
        .merge(api)
        .merge(crate::web::events_route())
        // Inside the compression: it reads error bodies as they were written.
        .layer(axum::middleware::from_fn(api_errors_as_problems))
        // Pages and JSON compressed when the client asks (an event stream
        // is left as it is: each event must reach the page at once), at
        // gzip's fastest level: the default level took a quarter of the
        // server's CPU at 1,000 machine reads a second (22 KB of JSON
        // each) for a few percent smaller bodies.
        .layer(
            tower_http::compression::CompressionLayer::new()
                .quality(tower_http::CompressionLevel::Fastest)
                .compress_when(tower_http::compression::Predicate::and(
                    tower_http::compression::predicate::DefaultPredicate::new(),
                    tower_http::compression::predicate::NotForContentType::new("text/event-stream"),
                )),
        )
        .layer(axum::middleware::from_fn(refuse_nul))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a request handler panicked");
                error::problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error: the server failed on this request (it is logged); try again, and tell the site's admins if it lasts".into(),
                )
            },
        ))
        .with_state(state)
}

/// Every error under `/api/` is `application/problem+json`, as the API
/// promises: also those no handler of ours wrote (a path no route has, a
/// method a route lacks, axum's refusals of a path or query value it cannot
/// parse), whose text becomes the problem's detail. JSON we wrote on
/// purpose (the snapshot upload's 422 is the ingest's summary) is kept.
async fn api_errors_as_problems(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let response = next.run(req).await;
    let status = response.status();
    // Ours already (a problem, or JSON meant so: the upload's 422 carries
    // the ingest's summary): left as written. Axum's own are text or empty.
    let written_by_us = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/"));
    if !(status.is_client_error() || status.is_server_error()) || written_by_us {
        return response;
    }
    let allow = response.headers().get(axum::http::header::ALLOW).cloned();
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let detail = match status {
        StatusCode::NOT_FOUND if text.is_empty() => {
            format!("no route {method} {path}: /api/v1/openapi.json lists the API's routes")
        }
        StatusCode::METHOD_NOT_ALLOWED => format!(
            "{path} does not take {method}{}: /api/v1/openapi.json lists what it takes",
            allow
                .as_ref()
                .and_then(|a| a.to_str().ok())
                .map(|a| format!(" (it takes {a})"))
                .unwrap_or_default()
        ),
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_string(),
        _ => text,
    };
    let mut problem = error::problem(status, detail);
    if let Some(a) = allow {
        problem.headers_mut().insert(axum::http::header::ALLOW, a);
    }
    problem
}

/// A URL whose path or query holds a NUL character (`%00`) is refused
/// before any handler: no host, login, name or filter has one, and
/// PostgreSQL cannot even compare text holding one (those requests failed
/// with a database error).
async fn refuse_nul(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let has_nul = |s: &str| percent_encoding::percent_decode_str(s).any(|b| b == 0);
    let uri = req.uri();
    if has_nul(uri.path()) || uri.query().is_some_and(has_nul) {
        return AppError::Malformed(
            "the URL holds a NUL character (%00): no host, login, name or filter has one".into(),
        )
        .into_response();
    }
    next.run(req).await
}

/// Serve until `stop` resolves, under the listener limits of the settings
/// (header read and idle time-outs, a cap on connections).
pub async fn run(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let st = &state.app.settings;
    let limits = crate::http::listener::Limits {
        header_read_timeout: std::time::Duration::from_secs(st.header_read_timeout_secs),
        idle_timeout: std::time::Duration::from_secs(st.idle_timeout_secs),
        max_connections: st.max_connections,
    };
    crate::http::listener::serve(listener, router(state), limits, stop).await
}

/// How long readiness waits for the database before calling it unreachable.
const HEALTH_DB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether the database answers a point read within [`HEALTH_DB_TIMEOUT`].
async fn database_up(store: &dyn winventory_core::store::Store) -> Result<(), String> {
    let read = store.control(winventory_workflows::delivery::PAUSE_ALL);
    match tokio::time::timeout(HEALTH_DB_TIMEOUT, read).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.is_transient() => Err("database: unreachable".into()),
        Ok(Err(e)) => Err(format!("database: {e}")),
        Err(_) => Err(format!(
            "database: no answer within {} s",
            HEALTH_DB_TIMEOUT.as_secs()
        )),
    }
}

/// Readiness: 200 when the database answers and none of the loops the
/// process needs (delivery, scheduler, drop folder) is failing, stuck or
/// stopped; 503 otherwise, with one line per problem. A chat listener whose
/// server is away only degrades it: 200, with a `degraded:` line. (The
/// loops log an outage themselves, once; a probe logs nothing.)
async fn healthz(State(s): State<Arc<AppState>>) -> Response {
    readiness(s.engine.store.as_ref(), &s.health).await
}

/// The readiness answer of a process from its store and loops.
async fn readiness(
    store: &dyn winventory_core::store::Store,
    health: &crate::tasks::supervise::Health,
) -> Response {
    let mut problems: Vec<String> = database_up(store).await.err().into_iter().collect();
    problems.extend(health.problems());
    let status = if problems.is_empty() {
        problems.push("ok".into());
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = problems.join("\n");
    for d in health.degraded() {
        body.push_str("\ndegraded: ");
        body.push_str(&d);
    }
    body.push('\n');
    (status, body).into_response()
}

/// The probes and metrics alone (`/healthz`, `/livez`, `/metrics`), for a
/// process without the HTTP edge: `winventory worker --listen`, so an
/// orchestrator checks a worker as it checks `serve`, and Prometheus
/// scrapes its loops (delivery, scheduler, chat listeners).
pub fn probes(
    store: Arc<dyn winventory_core::store::Store>,
    health: Arc<crate::tasks::supervise::Health>,
    metrics_token: Option<crate::settings::Secret>,
) -> Router {
    let (s2, h2) = (store.clone(), health.clone());
    Router::new()
        .route(
            "/healthz",
            get(move || {
                let (store, health) = (store.clone(), health.clone());
                async move { readiness(store.as_ref(), &health).await }
            }),
        )
        .route("/livez", get(livez))
        .route(
            "/metrics",
            get(move |headers: axum::http::HeaderMap| {
                let (store, health, token) = (s2.clone(), h2.clone(), metrics_token.clone());
                async move { exposition(store.as_ref(), &health, token.as_ref(), &headers).await }
            }),
        )
}

/// Liveness: the process answers (restart it only when this fails).
async fn livez() -> &'static str {
    "alive\n"
}

/// Prometheus text exposition: the process's loops (up, last success,
/// failures) and the database's reachability, then gauges read from the
/// database at scrape time (so every process of a site reports the same
/// truth), which are left out while it is unreachable. With `metrics_token`
/// set, a scrape must carry it as a bearer token.
async fn metrics(State(s): State<Arc<AppState>>, headers: axum::http::HeaderMap) -> Response {
    exposition(
        s.engine.store.as_ref(),
        &s.health,
        s.app.settings.metrics_token.as_ref(),
        &headers,
    )
    .await
}

/// The metrics of a process from its store and loops (`serve`'s
/// `/metrics`, and a worker's beside its probes).
async fn exposition(
    store: &dyn winventory_core::store::Store,
    health: &crate::tasks::supervise::Health,
    token: Option<&crate::settings::Secret>,
    headers: &axum::http::HeaderMap,
) -> Response {
    if let Some(token) = token
        && !bearer_matches(headers, token)
    {
        return AppError::Unauthorized(
            "missing or wrong bearer token (Authorization: Bearer TOKEN, the metrics_token setting)",
        )
        .into_response();
    }
    let mut out = String::new();
    let gauges = health.gauges();
    out.push_str("# HELP winventory_loop_up Whether a long-running loop of this process runs and is neither failing nor stuck.\n");
    out.push_str("# TYPE winventory_loop_up gauge\n");
    for g in &gauges {
        out.push_str(&format!(
            "winventory_loop_up{{loop=\"{}\"}} {}\n",
            g.name,
            u8::from(g.up)
        ));
    }
    out.push_str("# HELP winventory_loop_last_success_timestamp_seconds Unix time of a loop's last successful step.\n");
    out.push_str("# TYPE winventory_loop_last_success_timestamp_seconds gauge\n");
    for g in &gauges {
        if let Some(t) = g.last_ok_unix {
            out.push_str(&format!(
                "winventory_loop_last_success_timestamp_seconds{{loop=\"{}\"}} {t}\n",
                g.name
            ));
        }
    }
    out.push_str(
        "# HELP winventory_loop_failures_total Failed steps of a loop since the process started.\n",
    );
    out.push_str("# TYPE winventory_loop_failures_total counter\n");
    for g in &gauges {
        out.push_str(&format!(
            "winventory_loop_failures_total{{loop=\"{}\"}} {}\n",
            g.name, g.failures_total
        ));
    }
    let read = async {
        Ok::<_, winventory_core::store::StoreError>((
            store.outbox_counts().await?,
            store.campaigns().await?,
        ))
    };
    let db = tokio::time::timeout(HEALTH_DB_TIMEOUT, read).await;
    out.push_str("# HELP winventory_database_up Whether the database answered this scrape.\n");
    out.push_str("# TYPE winventory_database_up gauge\n");
    let Ok(Ok((outbox, campaigns))) = db else {
        out.push_str("winventory_database_up 0\n");
        return ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response();
    };
    out.push_str("winventory_database_up 1\n");
    out.push_str("# HELP winventory_outbox_messages Messages in the outbox by state.\n");
    out.push_str("# TYPE winventory_outbox_messages gauge\n");
    for (state, n) in [
        ("pending", outbox.pending),
        ("sent", outbox.sent),
        ("failed", outbox.failed),
        ("cancelled", outbox.cancelled),
    ] {
        out.push_str(&format!(
            "winventory_outbox_messages{{state=\"{state}\"}} {n}\n"
        ));
    }
    out.push_str("# HELP winventory_campaigns Campaigns by state.\n");
    out.push_str("# TYPE winventory_campaigns gauge\n");
    for state in ["draft", "running", "paused", "closed"] {
        let n = campaigns
            .iter()
            .filter(|c| c.state.as_str() == state)
            .count();
        out.push_str(&format!("winventory_campaigns{{state=\"{state}\"}} {n}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

fn page(s: &AppState, lang: &str, status: StatusCode, ctx: PageContext) -> Response {
    match s.engine.templates.page(lang, &ctx) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "answer page template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown; the IT team has been told\n",
            )
                .into_response()
        }
    }
}

/// The error page a browser sees, with the error's status.
fn error_page(s: &AppState, e: AppError) -> Response {
    let status = e.status();
    let message = e.public_message();
    page(
        s,
        "en",
        status,
        PageContext {
            mode: "error",
            title: "Winventory".into(),
            message: Some(message),
            ..PageContext::default()
        },
    )
}

fn confirm_ctx(
    view: &winventory_workflows::engine::LinkView,
    message: Option<String>,
    form: Option<&AnswerForm>,
) -> PageContext {
    let lang = winventory_workflows::render::language(&view.language);
    let kind = view.claims.answer;
    PageContext {
        mode: "confirm",
        title: view.campaign.clone(),
        message,
        campaign: view.campaign.clone(),
        machines: view.machines.clone(),
        answer: kind.as_str(),
        answer_label: answer_label(kind, lang),
        needs_date: kind.needs_date(),
        date_label: date_label(kind, lang),
        date: form.and_then(|f| f.date.clone()),
        detail: form.and_then(|f| f.detail.clone()),
        comment: form.and_then(|f| f.comment.clone()),
    }
}

async fn answer_page(State(s): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    match s.engine.open_link(&token, s.app.clock.now()).await {
        Ok(view) => {
            let lang = view.language.clone();
            page(&s, &lang, StatusCode::OK, confirm_ctx(&view, None, None))
        }
        Err(e) => error_page(&s, e.into()),
    }
}

/// The fields an answer page posts.
#[derive(Debug, Default, Deserialize)]
pub struct AnswerForm {
    /// `YYYY-MM-DD`.
    pub date: Option<String>,
    /// Justification or the owner's login.
    pub detail: Option<String>,
    /// A free comment, recorded with the answer.
    pub comment: Option<String>,
}

/// The answer page again, with what is wrong with the fields given.
async fn ask_again(
    s: &AppState,
    token: &str,
    e: &winventory_workflows::answer::AnswerError,
    form: &AnswerForm,
) -> Response {
    match s.engine.open_link(token, s.app.clock.now()).await {
        Ok(view) => {
            let lang = view.language.clone();
            page(
                s,
                &lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                confirm_ctx(&view, Some(e.to_string()), Some(form)),
            )
        }
        Err(e) => error_page(s, e.into()),
    }
}

async fn answer_post(
    State(s): State<Arc<AppState>>,
    Path(token): Path<String>,
    Form(form): Form<AnswerForm>,
) -> Response {
    let now = s.app.clock.now();
    let date = match winventory_workflows::answer::date_field(form.date.as_deref()) {
        Ok(d) => d,
        Err(e) => return ask_again(&s, &token, &e, &form).await,
    };
    match s
        .engine
        .answer_link(&token, date, form.detail.clone(), form.comment.clone(), now)
        .await
    {
        Ok((view, _)) => {
            let lang = winventory_workflows::render::language(&view.language);
            let kind = view.claims.answer;
            page(
                &s,
                lang,
                StatusCode::OK,
                PageContext {
                    mode: "recorded",
                    title: view.campaign.clone(),
                    campaign: view.campaign.clone(),
                    machines: view.machines.clone(),
                    answer: kind.as_str(),
                    answer_label: answer_label(kind, lang),
                    date: date.map(|d| d.to_string()),
                    ..PageContext::default()
                },
            )
        }
        Err(LinkError::Answer(e)) => ask_again(&s, &token, &e, &form).await,
        Err(e) => error_page(&s, e.into()),
    }
}

/// Whether `given` is the secret `token`, compared in constant time (every
/// token the edge checks: the API's, the metrics', Mattermost's command).
fn token_matches(given: &str, token: &crate::settings::Secret) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(given.as_bytes().ct_eq(token.expose_secret().as_bytes()))
}

/// Whether the request carries `token` as its bearer token.
fn bearer_matches(headers: &axum::http::HeaderMap, token: &crate::settings::Secret) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    token_matches(given, token)
}

/// `POST /api/v1/snapshots`: a CMF snapshot (JSON Lines, gzip recognised by
/// content) in the body, ingested with the CLI's semantics; the answer is
/// the same JSON summary as `winventory ingest --format json`, with status
/// 200 when the run completed (rejected lines are listed in it) and 422 when
/// it failed (truncated input); the exit code the CLI would give is in the
/// `X-Winventory-Exit-Code` header. The body is spooled to a temporary file,
/// so memory does not grow with it. The caller needs a collector's (or an
/// admin's) token, checked by the API's guard.
#[utoipa::path(post, path = "/api/v1/snapshots", tag = "ingest",
    request_body(content = String, content_type = "application/x-ndjson", description = "A CMF snapshot (JSON Lines; gzip recognised by content)"),
    responses(
        (status = 200, description = "Ingested; rejected lines are listed (the ingest's JSON summary)", body = winventory_ingest::pipeline::Summary),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not upload", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over 8 GiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The run failed (truncated input)", content_type = "application/json"),
    ))]
pub(crate) async fn post_snapshot(
    State(s): State<Arc<AppState>>,
    body: axum::body::Body,
) -> Result<Response, AppError> {
    use futures::StreamExt as _;
    use tokio::io::AsyncWriteExt as _;
    let spool = tempfile::NamedTempFile::new().map_err(AppError::NoRoom)?;
    let mut file = tokio::fs::File::from_std(spool.reopen().map_err(AppError::NoRoom)?);
    let mut stream = body.into_data_stream();
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| AppError::Malformed(format!("the upload was cut off: {e}")))?;
        size += chunk.len() as u64;
        if size > MAX_SNAPSHOT_BYTES {
            return Err(AppError::TooLarge(
                "the snapshot is larger than 8 GiB; split it",
            ));
        }
        file.write_all(&chunk).await.map_err(AppError::NoRoom)?;
    }
    file.flush().await.map_err(AppError::NoRoom)?;
    drop(file);
    let _guard = s.ingest_lock.lock().await;
    let summary = s
        .app
        .ingest_upload(spool.path(), "POST /api/v1/snapshots", s.app.clock.now())
        .await
        .map_err(|e| AppError::Unavailable(e.context("the ingest could not start")))?;
    let code = summary.exit_code();
    let status = if code == 2 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [("x-winventory-exit-code", code.to_string())],
        axum::Json(summary),
    )
        .into_response())
}
