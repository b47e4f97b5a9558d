//! The REST API under `/api/v1`: what the command line does, for other
//! tools. One table, [`routes`], is the source of the router, of the
//! permission each route needs, of the audit of the routes that change
//! something, and of the tests that try every route in every role (axum
//! cannot list a router's routes, so the table is what is listed). The
//! OpenAPI 3.1 document ([`ApiDoc`]) is generated from the handlers'
//! annotations and checked against the table by a test.
//!
//! Permission is checked before anything is looked up (a viewer starting a
//! campaign that does not exist gets 403, not 404). Bodies are the JSON of
//! the command line's `--format json`, made by the same library calls;
//! errors are `application/problem+json` (RFC 9457).

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use winventory_core::access::{Permission, Principal, Role};
use winventory_core::fleet::{self, CycleFilter, MachineFilter};
use winventory_core::store::{AuditEntry, CampaignState, Freshness};
use winventory_core::{AsOf, report};

use super::{AppError, AppState, Problem};

/// One route of the API: the one list the router, the permission checks,
/// the audit and the tests are made from.
pub struct ApiRoute {
    /// Its method.
    pub method: Method,
    /// Its path, in axum's (and OpenAPI's) `{param}` syntax.
    pub path: &'static str,
    /// What the caller needs; `None`: served to anyone (the OpenAPI
    /// document).
    pub needs: Option<Permission>,
    /// `Some(action)`: the route changes something, is audited under this
    /// action, and checks its token against the database.
    pub action: Option<&'static str>,
    /// The handler.
    pub handler: fn() -> MethodRouter<Arc<AppState>>,
}

/// Every route of the API.
pub fn routes() -> Vec<ApiRoute> {
    use Permission as P;
    let r = |method: Method,
             path: &'static str,
             needs: Option<Permission>,
             action: Option<&'static str>,
             handler: fn() -> MethodRouter<Arc<AppState>>| ApiRoute {
        method,
        path,
        needs,
        action,
        handler,
    };
    vec![
        r(Method::GET, "/api/v1/openapi.json", None, None, || {
            get(openapi)
        }),
        r(
            Method::GET,
            "/api/v1/machines",
            Some(P::ReadFleet),
            None,
            || get(machines),
        ),
        r(
            Method::GET,
            "/api/v1/machines/{host}",
            Some(P::ReadOwnMachines),
            None,
            || get(machine),
        ),
        r(
            Method::GET,
            "/api/v1/people/{login}",
            Some(P::ReadFleet),
            None,
            || get(person),
        ),
        r(
            Method::GET,
            "/api/v1/reports/os",
            Some(P::ReadFleet),
            None,
            || get(report_os),
        ),
        r(
            Method::GET,
            "/api/v1/reports/eol",
            Some(P::ReadFleet),
            None,
            || get(report_eol),
        ),
        r(
            Method::GET,
            "/api/v1/reports/software",
            Some(P::ReadFleet),
            None,
            || get(report_software),
        ),
        r(
            Method::GET,
            "/api/v1/reports/exceptions",
            Some(P::ReadFleet),
            None,
            || get(report_exceptions),
        ),
        r(
            Method::GET,
            "/api/v1/reports/licences",
            Some(P::ReadLicences),
            None,
            || get(report_licences),
        ),
        r(
            Method::GET,
            "/api/v1/licences/{what}/whatif",
            Some(P::ReadLicences),
            None,
            || get(licence_whatif),
        ),
        r(
            Method::GET,
            "/api/v1/campaigns",
            Some(P::ReadFleet),
            None,
            || get(campaigns),
        ),
        r(
            Method::POST,
            "/api/v1/campaigns",
            Some(P::ManageLicenceCampaigns),
            Some("campaign create"),
            || post(campaign_create),
        ),
        r(
            Method::POST,
            "/api/v1/campaigns/{name}/preview",
            Some(P::ManageLicenceCampaigns),
            None,
            || post(campaign_preview),
        ),
        r(
            Method::POST,
            "/api/v1/campaigns/{name}/answers/{host}",
            Some(P::AnswerOnBehalf),
            Some("answer on behalf"),
            || post(answer_on_behalf),
        ),
        r(
            Method::GET,
            "/api/v1/campaigns/{name}",
            Some(P::ReadFleet),
            None,
            || get(campaign),
        ),
        r(
            Method::GET,
            "/api/v1/campaigns/{name}/status",
            Some(P::ReadFleet),
            None,
            || get(campaign_status),
        ),
        r(
            Method::GET,
            "/api/v1/campaigns/{name}/history/{host}",
            Some(P::ReadFleet),
            None,
            || get(campaign_history),
        ),
        r(
            Method::POST,
            "/api/v1/campaigns/{name}/start",
            Some(P::ManageLicenceCampaigns),
            Some("campaign start"),
            || post(campaign_start),
        ),
        r(
            Method::POST,
            "/api/v1/campaigns/{name}/pause",
            Some(P::ManageLicenceCampaigns),
            Some("campaign pause"),
            || post(campaign_pause),
        ),
        r(
            Method::POST,
            "/api/v1/campaigns/{name}/resume",
            Some(P::ManageLicenceCampaigns),
            Some("campaign resume"),
            || post(campaign_resume),
        ),
        r(
            Method::POST,
            "/api/v1/campaigns/{name}/close",
            Some(P::ManageLicenceCampaigns),
            Some("campaign close"),
            || post(campaign_close),
        ),
        r(
            Method::POST,
            "/api/v1/campaigns/{name}/remind",
            Some(P::ManageLicenceCampaigns),
            Some("campaign remind"),
            || post(campaign_remind),
        ),
        r(
            Method::POST,
            "/api/v1/campaigns/{name}/exceptions/{host}",
            Some(P::DecideExceptions),
            Some("exception decide"),
            || post(decide_exception),
        ),
        r(
            Method::GET,
            "/api/v1/audit",
            Some(P::ReadFleet),
            None,
            || get(audit_log),
        ),
        r(
            Method::POST,
            "/api/v1/snapshots",
            Some(P::UploadSnapshots),
            Some("snapshot upload"),
            || post(super::post_snapshot),
        ),
        r(
            Method::GET,
            "/api/v1/tokens",
            Some(P::ManageAccess),
            None,
            || get(tokens),
        ),
        r(
            Method::POST,
            "/api/v1/tokens",
            Some(P::ManageAccess),
            Some("token create"),
            || post(token_create),
        ),
        r(
            Method::DELETE,
            "/api/v1/tokens/{name}",
            Some(P::ManageAccess),
            Some("token revoke"),
            || delete(token_revoke),
        ),
        r(
            Method::GET,
            "/api/v1/sessions",
            Some(P::ManageAccess),
            None,
            || get(sessions),
        ),
        r(
            Method::DELETE,
            "/api/v1/sessions/{id}",
            Some(P::ManageAccess),
            Some("session revoke"),
            || delete(session_revoke),
        ),
    ]
}

/// The route that streams gigabytes to disk under its own limit, and may
/// take minutes: the others have the edge's body limit and time-out.
const UPLOAD_PATH: &str = "/api/v1/snapshots";

/// The API's router: every route of [`routes`] behind its guard, under the
/// edge's body limit and request time-out (but the snapshot upload).
pub fn router(state: Arc<AppState>) -> axum::Router<Arc<AppState>> {
    let timeout = std::time::Duration::from_secs(state.app.settings.request_timeout_secs);
    let mut router = axum::Router::new();
    for route in routes() {
        let guard = Guard {
            needs: route.needs,
            action: route.action,
        };
        let mut method_router = (route.handler)().route_layer(
            axum::middleware::from_fn_with_state((state.clone(), guard), guarded),
        );
        if route.path != UPLOAD_PATH {
            method_router = method_router
                .layer::<_, std::convert::Infallible>(axum::extract::DefaultBodyLimit::max(
                    super::MAX_BODY_BYTES,
                ))
                .layer::<_, std::convert::Infallible>(
                    tower_http::timeout::TimeoutLayer::with_status_code(
                        StatusCode::SERVICE_UNAVAILABLE,
                        timeout,
                    ),
                );
        }
        router = router.route(route.path, method_router);
    }
    router
}

/// What a route's guard checks.
#[derive(Clone, Copy)]
struct Guard {
    needs: Option<Permission>,
    action: Option<&'static str>,
}

/// Authenticate, check the route's permission before the handler looks
/// anything up, run it, and audit what changes.
async fn guarded(
    State((s, guard)): State<(Arc<AppState>, Guard)>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(needs) = guard.needs else {
        return as_problem(next.run(req).await).await;
    };
    let now = s.app.clock.now();
    let origin = super::access::peer(req.extensions());
    let command = format!("{} {}", req.method(), req.uri().path());
    let changes = guard.action.is_some();
    let principal = if req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION)
    {
        s.access
            .bearer(req.headers(), now, changes, s.sso.as_deref())
            .await
    } else {
        // A browser signed in: its session cookie, and for a change the
        // session's CSRF token (a cookie alone is sent by any page).
        match super::signin::session_of(&s, req.headers(), now).await {
            Ok(Some(live)) => {
                let token = req
                    .headers()
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok());
                if changes && !super::signin::csrf_matches(&live.session, token) {
                    Err(AppError::Forbidden(
                        "a change from a signed-in browser needs the X-CSRF-Token header (GET /auth/session gives it)".into(),
                    ))
                } else {
                    Ok(live.principal)
                }
            }
            Ok(None) => Err(super::access::NO_TOKEN),
            Err(e) => Err(e),
        }
    };
    let principal = match principal {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let audit = |outcome: String| {
        let action = guard.action.unwrap_or("read");
        AuditEntry {
            at: now,
            channel: "http".into(),
            actor: principal.subject.chars().take(200).collect(),
            role: principal.roles_text(),
            action: action.into(),
            target: target_of(req_path(&command)),
            command: command.chars().take(500).collect(),
            outcome: outcome.chars().take(500).collect(),
            origin: origin.clone(),
        }
    };
    if !principal.may(needs) {
        let e = AppError::Forbidden(format!(
            "{} may not do this (it needs a role that may {})",
            principal.subject,
            serde_json::to_value(needs)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ));
        if guard.action.is_some() {
            write_audit(&s, audit(format!("refused: {e}"))).await;
        }
        return e.into_response();
    }
    req.extensions_mut().insert(principal.clone());
    let response = as_problem(next.run(req).await).await;
    if guard.action.is_some() {
        let status = response.status();
        let outcome = if status.is_success() {
            format!("done: {}", status.as_u16())
        } else if status.is_client_error() {
            format!("refused: {}", status.as_u16())
        } else {
            format!("error: {}", status.as_u16())
        };
        write_audit(&s, audit(outcome)).await;
    }
    response
}

/// axum's own refusals (a query or path that does not parse, a body over
/// the limit) are plain text: the API answers them as problems too.
async fn as_problem(response: Response) -> Response {
    let status = response.status();
    // Only axum's own plain-text refusals (or bare statuses): a handler's
    // JSON answer with a 4xx (the ingest summary of a failed upload) stays.
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !status.is_client_error() || !plain {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&body).trim().to_string();
    let detail = if detail.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_string()
    } else {
        detail
    };
    super::error::problem(status, detail)
}

fn req_path(command: &str) -> &str {
    command.split_once(' ').map(|(_, p)| p).unwrap_or(command)
}

/// What a change acted on: the path after `/api/v1/`, decoded.
fn target_of(path: &str) -> String {
    let rest = path.strip_prefix("/api/v1/").unwrap_or(path);
    percent_encoding::percent_decode_str(rest)
        .decode_utf8_lossy()
        .chars()
        .take(200)
        .collect()
}

pub(crate) async fn write_audit(s: &AppState, entry: AuditEntry) {
    if let Err(e) = s.engine.store.audit(&entry).await {
        tracing::error!(error = %e, action = %entry.action, "cannot write the audit log");
    }
}

// --- the OpenAPI document --------------------------------------------------

/// The OpenAPI 3.1 document of the API, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Winventory API",
        description = "What the winventory command line does, for other tools. Bodies are the JSON of the command line's `--format json`; errors are RFC 9457 problems. Authenticate with `Authorization: Bearer TOKEN` (`winventory token create`).",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        openapi,
        machines,
        machine,
        person,
        report_os,
        report_eol,
        report_software,
        report_exceptions,
        report_licences,
        licence_whatif,
        campaigns,
        campaign_create,
        campaign_preview,
        answer_on_behalf,
        campaign,
        campaign_status,
        campaign_history,
        campaign_start,
        campaign_pause,
        campaign_resume,
        campaign_close,
        campaign_remind,
        decide_exception,
        audit_log,
        super::post_snapshot,
        tokens,
        token_create,
        token_revoke,
        sessions,
        session_revoke,
    ),
    components(schemas(Problem, MachinesPage, NewToken, crate::cli::tokens::CreatedToken, Decision, Reminded, OnBehalf)),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    tags(
        (name = "fleet", description = "Machines, people and reports"),
        (name = "campaigns", description = "Campaigns, their answers and exceptions"),
        (name = "access", description = "API tokens and the audit log"),
        (name = "ingest", description = "Snapshot upload")
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token of the site (`winventory token create NAME --role ROLE`)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document, served without authentication.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "access", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json")))]
async fn openapi() -> Response {
    // Made once per process: it is served to anyone, so a request costs a
    // copy, not a generation.
    static DOC: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    match DOC.get_or_init(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string())) {
        Ok(json) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            json.clone(),
        )
            .into_response(),
        Err(e) => AppError::Internal(anyhow::anyhow!("{e}")).into_response(),
    }
}

// --- fleet -------------------------------------------------------------------

/// `?as_of=YYYY-MM-DD`, as the command line's `--as-of`.
async fn as_of(s: &AppState, date: Option<&str>) -> Result<AsOf, AppError> {
    let days = s.app.settings.freshness_days;
    match date.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(AsOf::at(s.app.clock.now(), days)),
        Some(d) => {
            let day = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                AppError::Invalid(format!("as_of: {d:?} is not a date (YYYY-MM-DD)"))
            })?;
            let as_of = AsOf::end_of(day, days);
            // The command line's check: a date before every stored report
            // is refused (nothing was known then), naming the earliest.
            match report::known_as_of(s.app.store.as_ref(), &as_of).await {
                Ok(_) => Ok(as_of),
                Err(report::AsOfError::Store(e)) => Err(e.into()),
                Err(e) => Err(AppError::Invalid(format!("as_of: {e}"))),
            }
        }
    }
}

fn cycle_filter(field: &str, v: Option<&str>) -> Result<Option<CycleFilter>, AppError> {
    v.map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<CycleFilter>()
                .map_err(|e| AppError::Invalid(format!("{field}: {e}")))
        })
        .transpose()
}

impl From<fleet::FleetError> for AppError {
    fn from(e: fleet::FleetError) -> Self {
        match e {
            fleet::FleetError::Store(s) => s.into(),
            other => AppError::Invalid(other.to_string()),
        }
    }
}

/// The filters of `GET /api/v1/machines` (those of `winventory machines`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MachinesQuery {
    /// `PRODUCT[:CYCLE]` of the OS (`windows-server:2012-r2`).
    pub os: Option<String>,
    /// `PRODUCT[:CYCLE]` of an installed program (`python:3.8`).
    pub software: Option<String>,
    /// An application of the licence register.
    pub application: Option<String>,
    /// Ends within this many days of the as-of date (0: has ended).
    pub eol_within: Option<u32>,
    /// Only machines whose OS matched no catalog cycle.
    pub unmatched: Option<bool>,
    /// `fresh` (the default, what reports count), `stale` or `any`.
    pub freshness: Option<String>,
    /// Responsible for or main user of the machine (a login).
    pub owner: Option<String>,
    /// The responsible or main user is in this directory group.
    pub group: Option<String>,
    /// `YYYY-MM-DD`: the fleet as it stood at the end of that day.
    pub as_of: Option<String>,
    /// The cursor of the previous page (its `next`).
    pub after: Option<String>,
    /// Machines per page: 1 to 5,000 (500 by default).
    pub limit: Option<usize>,
}

/// A page of machines.
#[derive(Debug, Serialize, ToSchema)]
pub struct MachinesPage {
    /// The machines, as `winventory machines --format json` lists them.
    pub machines: Vec<fleet::ListedMachine>,
    /// Give it as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// The machines a filter names, a page at a time, in host-name order.
#[utoipa::path(get, path = "/api/v1/machines", tag = "fleet", params(MachinesQuery),
    responses(
        (status = 200, description = "A page of machines", body = MachinesPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read the fleet", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is wrong", body = Problem, content_type = "application/problem+json"),
    ))]
async fn machines(
    State(s): State<Arc<AppState>>,
    Query(q): Query<MachinesQuery>,
) -> Result<Json<MachinesPage>, AppError> {
    let as_of = as_of(&s, q.as_of.as_deref()).await?;
    let freshness = match q.freshness.as_deref().map(str::trim) {
        None | Some("") | Some("fresh") => Freshness::Fresh,
        Some("stale") => Freshness::Stale,
        Some("any") => Freshness::Any,
        Some(other) => {
            return Err(AppError::Invalid(format!(
                "freshness: {other:?} is not one of fresh, stale, any"
            )));
        }
    };
    let limit = q.limit.unwrap_or(500);
    if !(1..=5_000).contains(&limit) {
        return Err(AppError::Invalid(format!(
            "limit: {limit} is not between 1 and 5000"
        )));
    }
    let filter = MachineFilter {
        os: cycle_filter("os", q.os.as_deref())?,
        software: cycle_filter("software", q.software.as_deref())?,
        application: q.application.clone(),
        eol_within: q.eol_within,
        unmatched: q.unmatched.unwrap_or(false),
        freshness,
        owner: q.owner.clone(),
        group: q.group.clone(),
    };
    let page = fleet::list_machines_page(
        s.app.store.as_ref(),
        &s.app.catalog,
        &as_of,
        &filter,
        q.after.as_deref(),
        limit,
    )
    .await?;
    Ok(Json(MachinesPage {
        machines: page.machines,
        next: page.next,
    }))
}

/// What `GET /api/v1/reports/eol` answers: one row per product (the
/// default), or per cycle with `by=cycle`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum EolRows {
    /// `by=product` (the default).
    ByProduct(Vec<fleet::ProductRow>),
    /// `by=cycle`.
    ByCycle(Vec<report::CycleRow>),
}

/// What `GET /api/v1/reports/software` answers: one row per cycle, or per
/// application with `by=application`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum SoftwareRows {
    /// `by=cycle` (the default).
    ByCycle(Vec<report::CycleRow>),
    /// `by=application`.
    ByApplication(Vec<report::ApplicationRow>),
}

/// The schema of a list that is one of two row types, by a query
/// parameter: `anyOf` (utoipa's untagged enums are `oneOf`, which an
/// empty list, valid as both, fails).
fn rows_of_either<A: ToSchema, B: ToSchema>(
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder};
    AnyOfBuilder::new()
        .item(ArrayBuilder::new().items(utoipa::openapi::Ref::from_schema_name(A::name())))
        .item(ArrayBuilder::new().items(utoipa::openapi::Ref::from_schema_name(B::name())))
        .description(Some(description))
        .into()
}

/// The component schemas a list of either `A` or `B` refers to.
type Components = Vec<(
    String,
    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
)>;

/// Register `A` and `B` (and what they refer to) as components.
fn either_components<A: ToSchema, B: ToSchema>(schemas: &mut Components) {
    schemas.push((A::name().into(), A::schema()));
    schemas.push((B::name().into(), B::schema()));
    A::schemas(schemas);
    B::schemas(schemas);
}

impl utoipa::PartialSchema for EolRows {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        rows_of_either::<fleet::ProductRow, report::CycleRow>(
            "One row per product (the default), or per cycle with `by=cycle`",
        )
    }
}

impl ToSchema for EolRows {
    fn schemas(schemas: &mut Components) {
        either_components::<fleet::ProductRow, report::CycleRow>(schemas);
    }
}

impl utoipa::PartialSchema for SoftwareRows {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        rows_of_either::<report::CycleRow, report::ApplicationRow>(
            "One row per cycle (the default), or per application with `by=application`",
        )
    }
}

impl ToSchema for SoftwareRows {
    fn schemas(schemas: &mut Components) {
        either_components::<report::CycleRow, report::ApplicationRow>(schemas);
    }
}

/// `?as_of=` alone.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// `YYYY-MM-DD`: as the fleet stood at the end of that day.
    pub as_of: Option<String>,
}

/// One machine with its programs (`winventory machine HOST --format
/// json`). An owner sees only the machines they are responsible for or
/// use; any other is "not found" to them.
#[utoipa::path(get, path = "/api/v1/machines/{host}", tag = "fleet",
    params(("host" = String, Path, description = "Host name (case-insensitive)"), AsOfQuery),
    responses(
        (status = 200, description = "The machine", body = report::MachineView),
        (status = 404, description = "No such machine", body = Problem, content_type = "application/problem+json"),
    ))]
async fn machine(
    State(s): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(host): Path<String>,
    Query(q): Query<AsOfQuery>,
) -> Result<Response, AppError> {
    let as_of = as_of(&s, q.as_of.as_deref()).await?;
    let not_found = || {
        AppError::NotFound(format!(
            "no machine named {host:?} is stored (host names compare case-insensitively)"
        ))
    };
    let m = report::machine_report(s.app.store.as_ref(), &s.app.catalog, &host, &as_of)
        .await?
        .ok_or_else(not_found)?;
    if !who.may(Permission::ReadFleet) {
        let me = who.subject.to_lowercase();
        let mine = [&m.responsible, &m.main_user]
            .into_iter()
            .flatten()
            .any(|o| o.login.to_lowercase() == me);
        if !mine {
            return Err(not_found());
        }
    }
    if !as_of.is_known(m.last_report) {
        return Err(AppError::Invalid(format!(
            "as_of: {}'s state on {} is unknown: only each machine's latest report is kept, and its report was collected on {}, after that date; the earliest date it can be shown for is {}",
            m.hostname,
            as_of.date,
            m.last_report.format("%Y-%m-%d %H:%M UTC"),
            m.last_report.date_naive()
        )));
    }
    Ok(Json(m).into_response())
}

/// A person's machines and what ends on them (`winventory owner LOGIN
/// --format json`).
#[utoipa::path(get, path = "/api/v1/people/{login}", tag = "fleet",
    params(("login" = String, Path, description = "Directory login"), PersonQuery),
    responses((status = 200, description = "The person's machines", body = report::OwnerReport)))]
async fn person(
    State(s): State<Arc<AppState>>,
    Path(login): Path<String>,
    Query(q): Query<PersonQuery>,
) -> Result<Response, AppError> {
    let as_of = as_of(&s, q.as_of.as_deref()).await?;
    let r = report::owner_report(
        s.app.store.as_ref(),
        &s.app.catalog,
        &login,
        &as_of,
        q.within.unwrap_or(365),
    )
    .await?;
    Ok(Json(r).into_response())
}

/// `?as_of=&within=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PersonQuery {
    /// `YYYY-MM-DD`.
    pub as_of: Option<String>,
    /// Days ahead that count as "ending" (365 by default).
    pub within: Option<u32>,
}

/// Machines per OS cycle (`winventory report os --format json`).
#[utoipa::path(get, path = "/api/v1/reports/os", tag = "fleet", params(AsOfQuery),
    responses((status = 200, description = "One row per OS cycle", body = Vec<report::OsRow>)))]
async fn report_os(
    State(s): State<Arc<AppState>>,
    Query(q): Query<AsOfQuery>,
) -> Result<Response, AppError> {
    let as_of = as_of(&s, q.as_of.as_deref()).await?;
    let rows = report::os_report(s.app.store.as_ref(), &s.app.catalog, &as_of).await?;
    Ok(Json(rows).into_response())
}

/// `?as_of=&within=&by=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EolQuery {
    /// `YYYY-MM-DD`.
    pub as_of: Option<String>,
    /// Days ahead (0, the default: what has ended).
    pub within: Option<u32>,
    /// `product` (the default) or `cycle`.
    pub by: Option<String>,
}

/// What has ended or ends soon (`winventory report eol --format json`).
#[utoipa::path(get, path = "/api/v1/reports/eol", tag = "fleet", params(EolQuery),
    responses((status = 200, description = "One row per product (or cycle)", body = EolRows)))]
async fn report_eol(
    State(s): State<Arc<AppState>>,
    Query(q): Query<EolQuery>,
) -> Result<Response, AppError> {
    let as_of = as_of(&s, q.as_of.as_deref()).await?;
    let within = q.within.unwrap_or(0);
    let store = s.app.store.as_ref();
    let rows = report::eol_report(store, &s.app.catalog, &as_of, within).await?;
    match q.by.as_deref().map(str::trim) {
        None | Some("") | Some("product") => {
            let products = fleet::eol_by_product(store, &s.app.catalog, &as_of, &rows).await?;
            Ok(Json(products).into_response())
        }
        Some("cycle") => Ok(Json(rows).into_response()),
        Some(other) => Err(AppError::Invalid(format!(
            "by: {other:?} is not one of product, cycle"
        ))),
    }
}

/// `?as_of=&by=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SoftwareQuery {
    /// `YYYY-MM-DD`.
    pub as_of: Option<String>,
    /// `cycle` (the default) or `application`.
    pub by: Option<String>,
}

/// Installed software (`winventory report software --format json`).
#[utoipa::path(get, path = "/api/v1/reports/software", tag = "fleet", params(SoftwareQuery),
    responses((status = 200, description = "One row per cycle (or application)", body = SoftwareRows)))]
async fn report_software(
    State(s): State<Arc<AppState>>,
    Query(q): Query<SoftwareQuery>,
) -> Result<Response, AppError> {
    let as_of = as_of(&s, q.as_of.as_deref()).await?;
    let store = s.app.store.as_ref();
    match q.by.as_deref().map(str::trim) {
        None | Some("") | Some("cycle") => {
            let rows = report::software_report(store, &s.app.catalog, &as_of).await?;
            Ok(Json(rows).into_response())
        }
        Some("application") => {
            let rows = report::application_report(store, &as_of).await?;
            Ok(Json(rows).into_response())
        }
        Some(other) => Err(AppError::Invalid(format!(
            "by: {other:?} is not one of cycle, application"
        ))),
    }
}

/// Every exception of every campaign (`winventory report exceptions
/// --format json`).
#[utoipa::path(get, path = "/api/v1/reports/exceptions", tag = "campaigns",
    responses((status = 200, description = "The exception register", body = Vec<winventory_workflows::engine::ExceptionRow>)))]
async fn report_exceptions(State(s): State<Arc<AppState>>) -> Result<Response, AppError> {
    let rows = s.engine.exceptions(None, false).await?;
    Ok(Json(rows).into_response())
}

/// The licence report (`winventory report licences --format json`), from
/// the site's licence file.
#[utoipa::path(get, path = "/api/v1/reports/licences", tag = "fleet", params(AsOfQuery),
    responses(
        (status = 200, description = "One row per licence", body = Vec<winventory_core::licence::LicenceRow>),
        (status = 409, description = "The site has no licence file", body = Problem, content_type = "application/problem+json"),
    ))]
async fn report_licences(
    State(s): State<Arc<AppState>>,
    Query(q): Query<AsOfQuery>,
) -> Result<Response, AppError> {
    let as_of = as_of(&s, q.as_of.as_deref()).await?;
    let book = crate::cli::licences::load(&s.app, None, &s.app.catalog)
        .map_err(|e| AppError::Conflict(format!("{e:#}")))?;
    let rows = crate::cli::licences::rows(s.app.store.as_ref(), &book, &as_of)
        .await
        .map_err(AppError::Internal)?;
    Ok(Json(rows).into_response())
}

/// What `licence whatif` changes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WhatIfQuery {
    /// New price per seat and period (`1800.00`).
    pub price: Option<String>,
    /// New period of the price: `year`, `month` or `perpetual`.
    pub period: Option<String>,
    /// New model: `per_device`, `per_user`, `site`, `subscription`, `concurrent`.
    pub model: Option<String>,
    /// Drop installs not used for this many days.
    pub drop_unused: Option<u32>,
    /// Drop installs on machines that stopped reporting.
    pub drop_stale: Option<bool>,
    /// Drop installs licence campaigns' owners answered no longer needed.
    pub drop_answered: Option<bool>,
    /// `YYYY-MM-DD`.
    pub as_of: Option<String>,
}

/// The changes a what-if query asks for (the API's and the licences page's).
pub(crate) fn what_if_ask(q: &WhatIfQuery) -> Result<crate::cli::licences::WhatIfAsk, AppError> {
    use winventory_core::licence::{Model, Period};
    Ok(crate::cli::licences::WhatIfAsk {
        price: q
            .price
            .as_deref()
            .filter(|x| !x.trim().is_empty())
            .map(|p| {
                p.trim()
                    .parse::<rust_decimal::Decimal>()
                    .map_err(|_| AppError::Invalid(format!("price: {p:?} is not an amount")))
            })
            .transpose()?,
        period: q
            .period
            .as_deref()
            .filter(|x| !x.trim().is_empty())
            .map(|p| {
                Period::parse(p).ok_or_else(|| {
                    AppError::Invalid(format!("period: {p:?} is not one of year, month, perpetual"))
                })
            })
            .transpose()?,
        model: q
            .model
            .as_deref()
            .filter(|x| !x.trim().is_empty())
            .map(|m| {
                Model::parse(m).ok_or_else(|| {
                    AppError::Invalid(format!(
                        "model: {m:?} is not one of per_device, per_user, site, subscription, concurrent"
                    ))
                })
            })
            .transpose()?,
        drop_unused: q.drop_unused,
        drop_stale: q.drop_stale.unwrap_or(false),
        drop_answered: q.drop_answered.unwrap_or(false),
    })
}

/// Simulate other licence terms (`winventory licence whatif WHAT --format
/// json`): the cost today and simulated, per group.
#[utoipa::path(get, path = "/api/v1/licences/{what}/whatif", tag = "fleet",
    params(("what" = String, Path, description = "The licence: its name, application or product"), WhatIfQuery),
    responses(
        (status = 200, description = "Today's and the simulated figures", body = winventory_core::licence::WhatIfResult),
        (status = 422, description = "No such licence, or a wrong change", body = Problem, content_type = "application/problem+json"),
    ))]
async fn licence_whatif(
    State(s): State<Arc<AppState>>,
    Path(what): Path<String>,
    Query(q): Query<WhatIfQuery>,
) -> Result<Response, AppError> {
    let as_of = as_of(&s, q.as_of.as_deref()).await?;
    let asked = what_if_ask(&q)?;
    let (_, r) = crate::cli::licences::what_if(&s.app, &what, &asked, None, &as_of)
        .await
        .map_err(
            |e| match e.downcast::<winventory_core::store::StoreError>() {
                Ok(store) => store.into(),
                Err(e) => AppError::Invalid(format!("{e:#}")),
            },
        )?;
    Ok(Json(r).into_response())
}

// --- campaigns ---------------------------------------------------------------

/// `?replace=true`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateQuery {
    /// Replace a draft of the same name.
    pub replace: Option<bool>,
}

/// Store a draft campaign from a campaign file (TOML, see
/// docs/campaigns.md) in the body (`winventory campaign create FILE`):
/// nothing is selected or sent before it starts.
#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", params(CreateQuery),
    request_body(content = String, content_type = "application/toml", description = "A campaign file"),
    responses(
        (status = 201, description = "The draft and the file's warnings", body = CreatedCampaign),
        (status = 409, description = "A campaign of that name exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file is wrong (line and field named)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn campaign_create(
    State(s): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Query(q): Query<CreateQuery>,
    body: String,
) -> Result<Response, AppError> {
    let (spec, _) = s.engine.check(&body)?;
    if spec.kind != winventory_workflows::spec::CampaignKind::Licence
        && !who.may(Permission::ManageCampaigns)
    {
        return Err(AppError::Forbidden(format!(
            "{} may create licence campaigns only; this file is {} {} campaign",
            who.subject,
            article(spec.kind.as_str()),
            spec.kind.as_str()
        )));
    }
    // Replacing a draft is managing it: a licence manager may replace a
    // licence campaign's draft only, whatever the new file's kind (found
    // as the replacing will find it).
    if q.replace.unwrap_or(false) {
        match s.engine.campaign(&spec.name).await {
            Ok(_) => may_manage(&s, &who, &spec.name).await?,
            Err(winventory_workflows::engine::EngineError::NoCampaign(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let now = s.app.clock.now();
    let (c, warnings) = if q.replace.unwrap_or(false) {
        s.engine.create_or_replace(&body, now).await?
    } else {
        s.engine.create(&body, now).await?
    };
    Ok((
        StatusCode::CREATED,
        Json(CreatedCampaign {
            campaign: c.row,
            warnings,
        }),
    )
        .into_response())
}

/// What a campaign would send (`winventory campaign preview NAME --format
/// json`): machines, recipients, messages; the messages themselves are not
/// returned (the command line writes them to a folder).
#[utoipa::path(post, path = "/api/v1/campaigns/{name}/preview", tag = "campaigns",
    params(("name" = String, Path, description = "Campaign name or id")),
    responses((status = 200, description = "The preview's summary", body = winventory_workflows::engine::PreviewSummary)))]
async fn campaign_preview(
    State(s): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    may_manage(&s, &who, &name).await?;
    let dir = tempfile::tempdir().map_err(AppError::NoRoom)?;
    let summary = crate::cli::campaigns::preview_engine(&s.engine)
        .preview(&name, s.app.clock.now(), dir.path())
        .await?;
    Ok(Json(summary).into_response())
}

/// An answer given on an owner's behalf.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OnBehalf {
    /// The answer: `upgrade`, `decommission`, `replace`, `esu`,
    /// `exception`, `not_mine`, `keep`, `uninstall`, `remove`, ... (what
    /// the campaign offers).
    pub answer: String,
    /// `YYYY-MM-DD` where the answer needs one.
    pub date: Option<String>,
    /// The justification (exception) or the owner's login (not mine).
    pub detail: Option<String>,
    /// A free comment.
    pub comment: Option<String>,
}

/// Answer for a machine on its owner's behalf, with the checks of every
/// channel; the history and the audit log name who gave it.
#[utoipa::path(post, path = "/api/v1/campaigns/{name}/answers/{host}", tag = "campaigns",
    params(("name" = String, Path, description = "Campaign name or id"), ("host" = String, Path, description = "Host name")),
    request_body = OnBehalf,
    responses(
        (status = 200, description = "The machine as it now stands in the campaign", body = winventory_core::store::CampaignMachine),
        (status = 404, description = "No such campaign or machine in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The campaign, the answer or the machine does not fit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong", body = Problem, content_type = "application/problem+json"),
    ))]
async fn answer_on_behalf(
    State(s): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path((name, host)): Path<(String, String)>,
    body: Result<Json<OnBehalf>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    use winventory_workflows::answer::{Answer, AnswerKind};
    use winventory_workflows::engine::OnBehalfError;
    let Json(b) = body.map_err(|e| AppError::Invalid(e.body_text()))?;
    let kind = AnswerKind::parse(b.answer.trim())
        .ok_or_else(|| AppError::Invalid(format!("answer: {:?} is not an answer", b.answer)))?;
    let date = winventory_workflows::answer::date_field(b.date.as_deref())
        .map_err(|e| AppError::Invalid(format!("date: {e}")))?;
    let answer = Answer {
        kind,
        date,
        detail: b.detail,
        comment: b.comment,
    };
    let by = who.subject.clone();
    let m = s
        .engine
        .answer_on_behalf(&name, &host, answer, &by, "http", s.app.clock.now())
        .await
        .map_err(|e| match e {
            OnBehalfError::Engine(e) => e.into(),
            OnBehalfError::NoMachine(..) => AppError::NotFound(e.to_string()),
            OnBehalfError::NotAnswerable(m) => AppError::Conflict(m),
            OnBehalfError::Link(winventory_workflows::engine::LinkError::Answer(a)) => {
                AppError::Invalid(a.to_string())
            }
            OnBehalfError::Link(winventory_workflows::engine::LinkError::Store(st)) => st.into(),
            OnBehalfError::Link(other) => AppError::Conflict(other.to_string()),
        })?;
    Ok(Json(m).into_response())
}

/// Every campaign (`winventory campaign list --format json`).
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns",
    responses((status = 200, description = "The campaigns", body = Vec<winventory_core::store::CampaignRow>)))]
async fn campaigns(State(s): State<Arc<AppState>>) -> Result<Response, AppError> {
    Ok(Json(s.engine.store.campaigns().await?).into_response())
}

/// A campaign and its machines (`winventory campaign show NAME --format
/// json` lists the machines; the campaign's row comes with them).
#[utoipa::path(get, path = "/api/v1/campaigns/{name}", tag = "campaigns",
    params(("name" = String, Path, description = "Campaign name or id")),
    responses(
        (status = 200, description = "The campaign and its machines", body = CampaignDetail),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
    ))]
async fn campaign(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let c = s.engine.campaign(&name).await?;
    let machines = s.engine.store.campaign_machines(c.row.id).await?;
    Ok(Json(CampaignDetail {
        title: c.spec.title,
        deadline: c.spec.deadline,
        campaign: c.row,
        machines,
    })
    .into_response())
}

/// A draft made from a campaign file.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedCampaign {
    /// The stored draft.
    pub campaign: winventory_core::store::CampaignRow,
    /// What the file holds that is allowed but doubtful (line and field
    /// named).
    pub warnings: Vec<String>,
}

/// A campaign and its machines.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignDetail {
    /// The stored campaign.
    pub campaign: winventory_core::store::CampaignRow,
    /// Its title, from its file.
    pub title: String,
    /// Its deadline, from its file.
    pub deadline: chrono::NaiveDate,
    /// Its machines, by host.
    pub machines: Vec<winventory_core::store::CampaignMachine>,
}

/// Where a campaign stands (`winventory campaign status NAME --format
/// json`).
#[utoipa::path(get, path = "/api/v1/campaigns/{name}/status", tag = "campaigns",
    params(("name" = String, Path, description = "Campaign name or id")),
    responses((status = 200, description = "Its progress", body = winventory_workflows::engine::Status)))]
async fn campaign_status(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let st = s.engine.status(&name, s.app.clock.now()).await?;
    Ok(Json(st).into_response())
}

/// Every answer given for a machine in a campaign (`winventory campaign
/// history NAME HOST --format json`).
#[utoipa::path(get, path = "/api/v1/campaigns/{name}/history/{host}", tag = "campaigns",
    params(("name" = String, Path, description = "Campaign name or id"), ("host" = String, Path, description = "Host name")),
    responses((status = 200, description = "The answers, oldest first", body = Vec<winventory_core::store::AnswerEntry>)))]
async fn campaign_history(
    State(s): State<Arc<AppState>>,
    Path((name, host)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let c = s.engine.campaign(&name).await?;
    let key = winventory_core::HostKey::new(&host);
    let history = s
        .engine
        .store
        .answer_history(c.row.id, key.as_str())
        .await?;
    Ok(Json(history).into_response())
}

/// `a` or `an` before a campaign kind (`an eol campaign`).
fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A licence manager manages licence campaigns only: the rest need a
/// campaign manager (checked once the campaign is known).
pub(crate) async fn may_manage(s: &AppState, who: &Principal, name: &str) -> Result<(), AppError> {
    if who.may(Permission::ManageCampaigns) {
        return Ok(());
    }
    let c = s.engine.campaign(name).await?;
    if c.row.kind == "licence" {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "{} may manage licence campaigns only; {} is {} {} campaign",
            who.subject,
            c.row.name,
            article(&c.row.kind),
            c.row.kind
        )))
    }
}

/// Move a campaign to `to` (a campaign that runs plans its wave at once,
/// as the command line does) and answer with its status.
pub(crate) async fn move_to(
    s: &AppState,
    who: &Principal,
    name: &str,
    to: CampaignState,
) -> Result<Response, AppError> {
    may_manage(s, who, name).await?;
    let now = s.app.clock.now();
    s.engine.set_state(name, to, now).await?;
    if to == CampaignState::Running {
        s.engine.tick(now).await?;
    }
    let st = s.engine.status(name, now).await?;
    Ok(Json(st).into_response())
}

/// Start a draft (or several waves' first): selects its machines and
/// queues the first messages. Answers with its status.
#[utoipa::path(post, path = "/api/v1/campaigns/{name}/start", tag = "campaigns",
    params(("name" = String, Path, description = "Campaign name or id")),
    responses(
        (status = 200, description = "Started: its status", body = winventory_workflows::engine::Status),
        (status = 403, description = "The role may not", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft or paused campaign", body = Problem, content_type = "application/problem+json"),
    ))]
async fn campaign_start(
    State(s): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    move_to(&s, &who, &name, CampaignState::Running).await
}

/// Pause a running campaign (nothing more is sent until it resumes).
#[utoipa::path(post, path = "/api/v1/campaigns/{name}/pause", tag = "campaigns",
    params(("name" = String, Path, description = "Campaign name or id")),
    responses((status = 200, description = "Paused: its status", body = winventory_workflows::engine::Status)))]
async fn campaign_pause(
    State(s): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    move_to(&s, &who, &name, CampaignState::Paused).await
}

/// Resume a paused campaign.
#[utoipa::path(post, path = "/api/v1/campaigns/{name}/resume", tag = "campaigns",
    params(("name" = String, Path, description = "Campaign name or id")),
    responses((status = 200, description = "Running again: its status", body = winventory_workflows::engine::Status)))]
async fn campaign_resume(
    State(s): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    move_to(&s, &who, &name, CampaignState::Running).await
}

/// Close a campaign: its links no longer record answers.
#[utoipa::path(post, path = "/api/v1/campaigns/{name}/close", tag = "campaigns",
    params(("name" = String, Path, description = "Campaign name or id")),
    responses((status = 200, description = "Closed: its status", body = winventory_workflows::engine::Status)))]
async fn campaign_close(
    State(s): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    move_to(&s, &who, &name, CampaignState::Closed).await
}

/// What `remind` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reminded {
    /// Unanswered machines whose owners the next wave reminds.
    pub machines: u64,
}

/// Remind everyone who has not answered, in the next wave (`winventory
/// campaign remind NAME`).
#[utoipa::path(post, path = "/api/v1/campaigns/{name}/remind", tag = "campaigns",
    params(("name" = String, Path, description = "Campaign name or id")),
    responses((status = 200, description = "Machines to remind", body = Reminded)))]
async fn campaign_remind(
    State(s): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    may_manage(&s, &who, &name).await?;
    let machines = s.engine.remind(&name).await?;
    Ok(Json(Reminded { machines }).into_response())
}

/// An exception decision.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Decision {
    /// `approve` or `decline`.
    pub decision: String,
    /// Why (required to decline: the owner reads it).
    pub note: Option<String>,
}

/// Approve or decline a machine's exception request (`winventory campaign
/// approve|decline`); the owner is told by the next delivery.
#[utoipa::path(post, path = "/api/v1/campaigns/{name}/exceptions/{host}", tag = "campaigns",
    params(("name" = String, Path, description = "Campaign name or id"), ("host" = String, Path, description = "Host name")),
    request_body = Decision,
    responses((status = 204, description = "Decided")))]
async fn decide_exception(
    State(s): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path((name, host)): Path<(String, String)>,
    body: Result<Json<Decision>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let Json(d) = body.map_err(|e| AppError::Invalid(e.body_text()))?;
    let approve = match d.decision.as_str() {
        "approve" => true,
        "decline" => false,
        other => {
            return Err(AppError::Invalid(format!(
                "decision: {other:?} is not one of approve, decline"
            )));
        }
    };
    let note = d.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if !approve && note.is_none() {
        return Err(AppError::Invalid(
            "note: a decline needs a note (the owner reads it)".into(),
        ));
    }
    s.engine
        .decide_exception(&name, &host, approve, &who.subject, note, s.app.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// --- access ------------------------------------------------------------------

/// `?limit=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Lines, newest first (100 by default, at most 10,000).
    pub limit: Option<i64>,
}

/// The audit log, newest first (`winventory audit --format json`).
#[utoipa::path(get, path = "/api/v1/audit", tag = "access", params(AuditQuery),
    responses((status = 200, description = "Audit lines", body = Vec<AuditEntry>)))]
async fn audit_log(
    State(s): State<Arc<AppState>>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    Ok(Json(s.engine.store.audit_log(limit).await?).into_response())
}

/// The site's API tokens, never their secrets (`winventory token list
/// --format json`).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "access",
    responses((status = 200, description = "The tokens", body = Vec<winventory_core::store::ApiToken>)))]
async fn tokens(State(s): State<Arc<AppState>>) -> Result<Response, AppError> {
    Ok(Json(s.engine.store.tokens().await?).into_response())
}

/// A token to make.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewToken {
    /// Its name (letters, digits, `.`, `_`, `-`; unique for ever).
    pub name: String,
    /// Its role (`admin`, `campaign-manager`, `licence-manager`,
    /// `viewer`, `collector`).
    pub role: String,
    /// How long it works: `90d`, `12h`, `never` (90 days by default).
    pub expires: Option<String>,
}

/// Make a token (`winventory token create NAME --role ROLE --expires
/// 90d`).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "access", request_body = NewToken,
    responses(
        (status = 201, description = "Made; the secret is in the body, once", body = crate::cli::tokens::CreatedToken),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong", body = Problem, content_type = "application/problem+json"),
    ))]
async fn token_create(
    State(s): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    body: Result<Json<NewToken>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let Json(t) = body.map_err(|e| AppError::Invalid(e.body_text()))?;
    let made = crate::cli::tokens::create(
        s.engine.store.as_ref(),
        &t.name,
        &t.role,
        t.expires
            .as_deref()
            .unwrap_or(crate::cli::tokens::DEFAULT_EXPIRY),
        &who.subject,
        s.app.clock.now(),
    )
    .await
    .map_err(|e| match e {
        crate::cli::tokens::TokenError::Taken(_) => AppError::Conflict(e.to_string()),
        crate::cli::tokens::TokenError::Store(s) => s.into(),
        other => AppError::Invalid(other.to_string()),
    })?;
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

/// Revoke a token: it is refused from now on, on every replica.
#[utoipa::path(delete, path = "/api/v1/tokens/{name}", tag = "access",
    params(("name" = String, Path, description = "Token name")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such token, or revoked already", body = Problem, content_type = "application/problem+json"),
    ))]
async fn token_revoke(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let done = s
        .engine
        .store
        .revoke_token(&name, s.app.clock.now())
        .await?;
    s.access.forget_all();
    if done {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(AppError::NotFound(format!(
            "no token {name:?} to revoke (or it was revoked already)"
        )))
    }
}

/// The live sign-in sessions, newest first (`winventory session list
/// --format json`); never a secret.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "access",
    responses((status = 200, description = "The live sessions", body = Vec<winventory_core::store::Session>)))]
async fn sessions(State(s): State<Arc<AppState>>) -> Result<Response, AppError> {
    let now = s.app.clock.now();
    Ok(Json(s.engine.store.sessions(Some(now)).await?).into_response())
}

/// End a sign-in session now, on every replica.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "access",
    params(("id" = i64, Path, description = "Session number")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No live session of that number", body = Problem, content_type = "application/problem+json"),
    ))]
async fn session_revoke(
    State(s): State<Arc<AppState>>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if s.engine.store.revoke_session(id, s.app.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(AppError::NotFound(format!(
            "no live session {id} (ended or revoked already)"
        )))
    }
}

/// Roles a token may have (a person's `owner` role comes from sign-in).
pub fn token_roles() -> impl Iterator<Item = Role> {
    Role::ALL.into_iter().filter(|r| *r != Role::Owner)
}
