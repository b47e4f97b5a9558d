//! The pages' handlers: each finds its viewer, checks the role model
//! before looking anything up, reads through the same library calls as the
//! CLI and the API, and renders its template. Changes are form POSTs with
//! the page's CSRF token, audited on channel `web`.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{Datelike as _, NaiveDate};
use serde::Deserialize;
use winventory_core::access::Permission;
use winventory_core::domain::{AsOf, Lifecycle};
use winventory_core::store::{AuditEntry, CampaignState, MachinesShown};
use winventory_workflows::answer::{Answer, AnswerKind};
use winventory_workflows::forecast::Forecast;

use super::feed::Live;
use super::svg::{self, Bar};
use super::{Viewer, error_page, render, sign_in_first, viewer};
use crate::http::{AppError, AppState};

/// Machines a page lists at most.
pub const PAGE_ROWS: i64 = 200;

/// Page `page` (from 1, kept within the pages there are) of `len` rows,
/// `per` a page: the page, how many pages, and the rows it shows.
fn page_of(len: usize, page: usize, per: usize) -> (usize, usize, std::ops::Range<usize>) {
    let per = per.max(1);
    let pages = len.div_ceil(per).max(1);
    let page = page.clamp(1, pages);
    let first = (page - 1) * per;
    (page, pages, first.min(len)..(first + per).min(len))
}

/// Exceptions the register shows a page.
const EXCEPTIONS_SHOWN: usize = 100;

/// Groups a campaign page lists (those with the most machines open).
const GROUPS_SHOWN: usize = 50;

/// How often an open stream checks that its session still holds.
const SESSION_CHECK: Duration = Duration::from_secs(5);
/// Heartbeat of a stream (proxies close streams silent for a minute).
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The pages under the edge's body limit and request time-out.
pub fn bounded_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(fleet))
        .route("/machines", get(machines))
        .route("/machines/{host}", get(machine))
        .route("/campaigns", get(campaigns))
        .route("/campaigns/{name}", get(campaign).post(campaign_action))
        .route("/me", get(me).post(me_answer))
        .route("/exceptions", get(exceptions).post(exception_decide))
        .route("/audit", get(audit_page))
        .route("/licences", get(licences))
        .route("/licences/{what}/whatif", get(licence_whatif))
        .route("/people/{login}", get(person))
        .route("/me/link/{token}", get(me_link))
        .route("/static/web.css", get(css))
        .route("/static/live.js", get(js))
}

/// The live stream: exempt from the request time-out (it stays open), but
/// counted by the listener's connection cap like any connection.
pub fn events_route() -> Router<Arc<AppState>> {
    Router::new().route("/events", get(events))
}

/// The viewer, or the response for nobody (sign in first) or a failure.
async fn need_viewer(s: &AppState, headers: &HeaderMap, path: &str) -> Result<Viewer, Response> {
    match viewer(s, headers).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(sign_in_first(s, path)),
        Err(e) => Err(error_page(
            s,
            None,
            StatusCode::SERVICE_UNAVAILABLE,
            &e.to_string(),
        )),
    }
}

/// The viewer if their roles allow `p`, else a 403 page.
async fn need(
    s: &AppState,
    headers: &HeaderMap,
    path: &str,
    p: Permission,
) -> Result<Viewer, Response> {
    let v = need_viewer(s, headers, path).await?;
    if !v.may(p) {
        return Err(error_page(
            s,
            Some(&v),
            StatusCode::FORBIDDEN,
            &format!(
                "{} may not see this page (roles: {}).",
                v.who.subject,
                v.who.roles_text()
            ),
        ));
    }
    Ok(v)
}

fn as_of(s: &AppState) -> AsOf {
    AsOf::at(s.app.clock.now(), s.app.settings.freshness_days)
}

fn fail(s: &AppState, v: &Viewer, e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "a page failed");
    error_page(
        s,
        Some(v),
        StatusCode::SERVICE_UNAVAILABLE,
        "The database did not answer; try again in a moment.",
    )
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        super::CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        super::JS,
    )
        .into_response()
}

// --- the fleet ----------------------------------------------------------------

/// Lifecycle state of a cycle on a date.
fn lifecycle_state(eol: Option<Lifecycle>, today: NaiveDate) -> &'static str {
    match eol {
        None | Some(Lifecycle::Flag(false)) => "supported",
        Some(l) if l.is_over(today) => "ended",
        Some(Lifecycle::Date(d)) if d <= today + chrono::Duration::days(365) => "ending",
        Some(_) => "supported",
    }
}

#[derive(Debug, Deserialize, Default)]
struct FleetQuery {
    /// `software` for software releases, else operating systems.
    view: Option<String>,
    /// Only machines whose responsible or main user is in this group.
    group: Option<String>,
}

/// Groups offered in the fleet page's group list at most (any other can
/// be typed).
const GROUPS_LISTED: usize = 1_000;

async fn fleet(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<FleetQuery>,
) -> Response {
    let v = match need(&s, &headers, "/", Permission::ReadFleet).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let software = match q.view.as_deref().unwrap_or("") {
        "" | "os" => false,
        "software" => true,
        other => {
            return error_page(
                &s,
                Some(&v),
                StatusCode::BAD_REQUEST,
                &format!("view={other:?}: one of os, software"),
            );
        }
    };
    let group = q
        .group
        .as_deref()
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string);
    let as_of = as_of(&s);
    let (rows, groups) = match fleet_rows(&s, &as_of, software, group.as_deref()).await {
        Ok(r) => r,
        Err(e) => return fail(&s, &v, e),
    };
    let today = as_of.date;
    // The machines behind a cycle or product, in this view and group.
    let link = |what: &str, ended: bool| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        ser.append_pair(if software { "software" } else { "os" }, what);
        if let Some(g) = &group {
            ser.append_pair("group", g);
        }
        if ended {
            ser.append_pair("ended", "1");
        }
        format!("/machines?{}", ser.finish())
    };
    // Products by lifecycle state.
    let mut families: BTreeMap<String, (String, [i64; 4])> = BTreeMap::new();
    let mut total = 0;
    // Months ahead: product -> month index -> (machines, cycles).
    let first_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let month_of = |d: NaiveDate| -> Option<usize> {
        let i =
            (d.year() - first_month.year()) * 12 + d.month() as i32 - first_month.month() as i32;
        (0..24).contains(&i).then_some(i as usize)
    };
    let mut ending: BTreeMap<String, [(i64, Vec<String>); 24]> = BTreeMap::new();
    for r in rows.iter() {
        total += r.machines;
        let (key, label) = match &r.product {
            Some(p) => (
                p.clone(),
                winventory_core::fleet::product_label(&s.engine.catalog, p),
            ),
            None => ("".into(), "".into()),
        };
        let e = families.entry(key.clone()).or_insert((label, [0; 4]));
        let state = if r.product.is_none() {
            3
        } else {
            match lifecycle_state(r.eol, today) {
                "ended" => 0,
                "ending" => 1,
                _ => 2,
            }
        };
        e.1[state] += r.machines;
        if let (Some(Lifecycle::Date(d)), Some(cycle)) = (r.eol, &r.cycle)
            && d > today
            && let Some(m) = month_of(d)
        {
            let slot = &mut ending
                .entry(key)
                .or_insert_with(|| std::array::from_fn(|_| (0, Vec::new())))[m];
            slot.0 += r.machines;
            slot.1.push(cycle.clone());
        }
    }
    let series: Vec<String> = ending
        .keys()
        .map(|p| winventory_core::fleet::product_label(&s.engine.catalog, p))
        .collect();
    let month_label = |i: usize| {
        let m0 = first_month.month0() as usize + i;
        format!(
            "{}-{:02}",
            first_month.year() + (m0 / 12) as i32,
            m0 % 12 + 1
        )
    };
    let mut bars = Vec::new();
    let mut months_table = Vec::new();
    for i in 0..24 {
        let mut segments = Vec::new();
        let mut cells = Vec::new();
        for (k, (product, slots)) in ending.iter().enumerate() {
            let (n, cycles) = &slots[i];
            let what = match cycles.as_slice() {
                [one] => format!("{product}:{one}"),
                _ => product.clone(),
            };
            let link = link(&what, false);
            segments.push((k, *n, link.clone()));
            cells.push(serde_json::json!({"machines": n, "link": link}));
        }
        months_table.push(serde_json::json!({"month": month_label(i), "cells": cells}));
        bars.push(Bar {
            label: month_label(i),
            segments,
        });
    }
    let t = s.web.strings.of(v.lang);
    let title = t
        .get_attr(if software {
            "fleet_chart_title_software"
        } else {
            "fleet_chart_title"
        })
        .ok()
        .and_then(|x| x.as_str().map(str::to_string))
        .unwrap_or_default();
    let chart = svg::stacked(&bars, &series, &title);
    let fam: Vec<_> = families
        .iter()
        .map(|(p, (label, n))| {
            serde_json::json!({
                "product": p, "label": label, "ended": n[0], "ending": n[1],
                "supported": n[2], "unknown": n[3], "total": n.iter().sum::<i64>(),
                "link": (!p.is_empty()).then(|| link(p, false)),
                "ended_link": (!p.is_empty() && n[0] > 0).then(|| link(p, true)),
            })
        })
        .collect();
    let here = |view: &str| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        ser.append_pair("view", view);
        if let Some(g) = &group {
            ser.append_pair("group", g);
        }
        format!("/?{}", ser.finish())
    };
    render(
        &s,
        StatusCode::OK,
        "web-fleet.html.j2",
        Some(&v),
        serde_json::json!({
            "total": total,
            "software": software,
            "view": if software { "software" } else { "os" },
            "group": group,
            "groups": &groups[..groups.len().min(GROUPS_LISTED)],
            "os_link": here("os"),
            "software_link": here("software"),
            "families": fam,
            "chart": chart,
            "series": series,
            "months": months_table,
            "today": today.to_string(),
        }),
    )
}

/// The fleet's counts for a view and group, and the directory's groups:
/// kept until an ingest finishes or the day changes (the store's revision
/// read at most once a second), not recounted per view.
async fn fleet_rows(
    s: &AppState,
    as_of: &AsOf,
    software: bool,
    group: Option<&str>,
) -> Result<(Arc<Vec<super::FleetRow>>, Arc<Vec<String>>), winventory_core::store::StoreError> {
    /// Views kept at once (a site with thousands of groups does not keep
    /// them all).
    const KEPT_VIEWS: usize = 64;
    /// How long the group list is kept (the directory changes apart from
    /// ingests).
    const GROUPS_KEPT: Duration = Duration::from_secs(60);
    let mut kept = s.web.fleet.lock().await;
    let fresh = kept
        .as_ref()
        .is_some_and(|k| k.key.1 == as_of.date && k.checked.elapsed() < Duration::from_secs(1));
    if !fresh {
        let key = (s.engine.store.inventory_revision().await?, as_of.date);
        match kept.as_mut() {
            Some(k) if k.key == key => k.checked = std::time::Instant::now(),
            _ => {
                *kept = Some(super::FleetFigures {
                    key,
                    checked: std::time::Instant::now(),
                    rows: HashMap::new(),
                    groups: None,
                })
            }
        }
    }
    // Set above; the default only satisfies the type.
    let k = kept.get_or_insert_with(|| super::FleetFigures {
        key: ((0, 0), as_of.date),
        checked: std::time::Instant::now(),
        rows: HashMap::new(),
        groups: None,
    });
    let view = (software, group.map(str::to_string));
    let rows = match k.rows.get(&view) {
        Some(r) => r.clone(),
        None => {
            let store = s.engine.store.as_ref();
            let catalog = &s.engine.catalog;
            let rows: Vec<super::FleetRow> = if software {
                winventory_core::report::software_report_in(store, catalog, as_of, group)
                    .await?
                    .into_iter()
                    .map(|r| super::FleetRow {
                        product: Some(r.product),
                        cycle: Some(r.cycle),
                        eol: r.eol,
                        machines: r.machines,
                    })
                    .collect()
            } else {
                winventory_core::report::os_report_in(store, catalog, as_of, group)
                    .await?
                    .into_iter()
                    .map(|r| super::FleetRow {
                        product: r.product,
                        cycle: r.cycle,
                        eol: r.eol,
                        machines: r.machines,
                    })
                    .collect()
            };
            if k.rows.len() >= KEPT_VIEWS {
                k.rows.clear();
            }
            let rows = Arc::new(rows);
            k.rows.insert(view, rows.clone());
            rows
        }
    };
    let groups = match &k.groups {
        Some((at, g)) if at.elapsed() < GROUPS_KEPT => g.clone(),
        _ => {
            let g = Arc::new(s.engine.store.group_names().await?);
            k.groups = Some((std::time::Instant::now(), g.clone()));
            g
        }
    };
    Ok((rows, groups))
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Debug, Deserialize, Default)]
struct MachinesQuery {
    os: Option<String>,
    software: Option<String>,
    group: Option<String>,
    ended: Option<String>,
    after: Option<String>,
}

async fn machines(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<MachinesQuery>,
) -> Response {
    let v = match need(&s, &headers, "/machines", Permission::ReadFleet).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let parse =
        |x: &Option<String>| -> Result<Option<winventory_core::fleet::CycleFilter>, String> {
            match x.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
                None => Ok(None),
                Some(t) => t.parse().map(Some),
            }
        };
    let filter = match (parse(&q.os), parse(&q.software)) {
        (Ok(os), Ok(software)) => winventory_core::fleet::MachineFilter {
            os,
            software,
            group: q.group.clone().filter(|g| !g.trim().is_empty()),
            eol_within: q.ended.as_deref().filter(|e| *e == "1").map(|_| 0),
            ..Default::default()
        },
        (Err(e), _) | (_, Err(e)) => return error_page(&s, Some(&v), StatusCode::BAD_REQUEST, &e),
    };
    let page = match winventory_core::fleet::list_machines_page(
        s.engine.store.as_ref(),
        &s.engine.catalog,
        &as_of(&s),
        &filter,
        q.after.as_deref(),
        PAGE_ROWS as usize,
    )
    .await
    {
        Ok(p) => p,
        Err(winventory_core::fleet::FleetError::Store(e)) => return fail(&s, &v, e),
        Err(e) => return error_page(&s, Some(&v), StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let mut next = None;
    if let Some(after) = &page.next {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, x) in [
            ("os", &q.os),
            ("software", &q.software),
            ("group", &q.group),
            ("ended", &q.ended),
        ] {
            if let Some(x) = x {
                ser.append_pair(k, x);
            }
        }
        ser.append_pair("after", after);
        next = Some(format!("/machines?{}", ser.finish()));
    }
    render(
        &s,
        StatusCode::OK,
        "web-machines.html.j2",
        Some(&v),
        serde_json::json!({
            "machines": page.machines,
            "next": next,
            "filter": {"os": q.os, "software": q.software, "group": q.group, "ended": q.ended.as_deref() == Some("1")},
        }),
    )
}

async fn machine(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(host): Path<String>,
) -> Response {
    let path = format!("/machines/{}", urlencode(&host));
    let v = match need(&s, &headers, &path, Permission::ReadOwnMachines).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let m = match winventory_core::report::machine_report(
        s.engine.store.as_ref(),
        &s.engine.catalog,
        &host,
        &as_of(&s),
    )
    .await
    {
        Ok(Some(m)) => m,
        Ok(None) => {
            return error_page(
                &s,
                Some(&v),
                StatusCode::NOT_FOUND,
                &format!("No machine {host} is known."),
            );
        }
        Err(e) => return fail(&s, &v, e),
    };
    // An owner sees their own machines only (the same answer as for one
    // that does not exist: a name is not confirmed to outsiders).
    if !v.may(Permission::ReadFleet) {
        let mine = [&m.responsible, &m.main_user]
            .into_iter()
            .flatten()
            .any(|o| o.login == v.who.subject);
        if !mine {
            return error_page(
                &s,
                Some(&v),
                StatusCode::NOT_FOUND,
                &format!("No machine {host} is known."),
            );
        }
    }
    render(
        &s,
        StatusCode::OK,
        "web-machine.html.j2",
        Some(&v),
        serde_json::json!({ "m": m }),
    )
}

// --- campaigns ----------------------------------------------------------------

async fn campaigns(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let v = match need(&s, &headers, "/campaigns", Permission::ReadFleet).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let rows = match s.engine.store.campaigns().await {
        Ok(r) => r,
        Err(e) => return fail(&s, &v, e),
    };
    let now = s.app.clock.now();
    let mut list = Vec::new();
    for row in rows {
        let Ok(c) = s.engine.campaign(&row.id.to_string()).await else {
            continue;
        };
        let f = match s.web.feed.figures(&s.engine, &c, now).await {
            Ok(f) => f,
            Err(e) => return fail(&s, &v, e),
        };
        list.push(serde_json::json!({
            "name": c.row.name, "title": c.spec.title_in(v.lang), "kind": c.row.kind,
            "figures": &*f,
        }));
    }
    render(
        &s,
        StatusCode::OK,
        "web-campaigns.html.j2",
        Some(&v),
        serde_json::json!({ "campaigns": list }),
    )
}

#[derive(Debug, Deserialize, Default)]
struct CampaignQuery {
    show: Option<String>,
    after: Option<String>,
    format: Option<String>,
    done: Option<String>,
}

fn shown(word: Option<&str>, today: NaiveDate) -> Result<MachinesShown, String> {
    Ok(match word.unwrap_or("all") {
        "" | "all" => MachinesShown::All,
        "open" | "unanswered" | "overdue" => MachinesShown::Open,
        "answered" => MachinesShown::Answered,
        "resolved" => MachinesShown::Resolved,
        "promised" => MachinesShown::PromisePassed(today),
        "exceptions" => MachinesShown::Exceptions,
        other => {
            return Err(format!(
                "show={other:?}: one of all, unanswered, overdue, promised, exceptions, answered, resolved"
            ));
        }
    })
}

/// The forecast in words, in the page language.
fn forecast_words(f: &Forecast, t: &minijinja::Value) -> String {
    let get = |k: &str| {
        t.get_attr(k)
            .ok()
            .and_then(|x| x.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let fill = |template: String, pairs: &[(&str, String)]| {
        pairs
            .iter()
            .fold(template, |acc, (k, v)| acc.replace(&format!("{{{k}}}"), v))
    };
    match f {
        Forecast::TooEarly { .. } => get("forecast_too_early"),
        Forecast::Done => get("forecast_done"),
        Forecast::OpenAtDeadline {
            deadline,
            open,
            low,
            high,
            per_day,
        } => fill(
            get("forecast_open"),
            &[
                ("open", open.to_string()),
                ("deadline", deadline.to_string()),
                ("low", low.to_string()),
                ("high", high.to_string()),
                ("pace", format!("{per_day:.1}")),
            ],
        ),
        Forecast::DoneBy {
            day,
            earliest,
            latest,
            per_day,
        } => fill(
            get("forecast_done_by"),
            &[
                ("day", day.to_string()),
                ("earliest", earliest.to_string()),
                ("latest", latest.map_or("-".to_string(), |d| d.to_string())),
                ("pace", format!("{per_day:.1}")),
            ],
        ),
    }
}

async fn campaign(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<CampaignQuery>,
) -> Response {
    let path = format!("/campaigns/{}", urlencode(&name));
    let v = match need(&s, &headers, &path, Permission::ReadFleet).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = s.app.clock.now();
    let c = match s.engine.campaign(&name).await {
        Ok(c) => c,
        Err(winventory_workflows::engine::EngineError::NoCampaign(_)) => {
            return error_page(
                &s,
                Some(&v),
                StatusCode::NOT_FOUND,
                &format!("No campaign {name}."),
            );
        }
        Err(e) => return fail(&s, &v, e),
    };
    let today = c.today(now);
    let show = match shown(q.show.as_deref(), today) {
        Ok(x) => x,
        Err(e) => return error_page(&s, Some(&v), StatusCode::BAD_REQUEST, &e),
    };
    // Export: every machine the filter selects, as CSV or JSON.
    if let Some(format) = q.format.as_deref() {
        return export(&s, &v, &c, show, format).await;
    }
    let figures = match s.web.feed.figures(&s.engine, &c, now).await {
        Ok(f) => f,
        Err(e) => return fail(&s, &v, e),
    };
    let burndown = match s.engine.burndown(&c, &figures, now).await {
        Ok(b) => b,
        Err(e) => return fail(&s, &v, e),
    };
    let groups = match s.web.feed.group_progress(&s.engine, &c).await {
        Ok(g) => g,
        Err(e) => return fail(&s, &v, e),
    };
    let groups_shown = GROUPS_SHOWN.min(groups.len());
    let rows = match s
        .engine
        .store
        .campaign_machines_page(c.row.id, show, q.after.as_deref(), PAGE_ROWS + 1)
        .await
    {
        Ok(r) => r,
        Err(e) => return fail(&s, &v, e),
    };
    let more = rows.len() as i64 > PAGE_ROWS;
    let rows: Vec<_> = rows.into_iter().take(PAGE_ROWS as usize).collect();
    let next = more.then(|| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        if let Some(sh) = &q.show {
            ser.append_pair("show", sh);
        }
        ser.append_pair("after", rows.last().map_or("", |m| m.host_key.as_str()));
        format!("{path}?{}", ser.finish())
    });
    let t = s.web.strings.of(v.lang);
    let chart_title = t
        .get_attr("burndown_title")
        .ok()
        .and_then(|x| x.as_str().map(str::to_string))
        .unwrap_or_default();
    let chart = svg::burndown(
        &burndown.days,
        today,
        c.spec.deadline,
        &burndown.forecast,
        &chart_title,
    );
    let may_manage = v.may(Permission::ManageCampaigns)
        || (c.row.kind == "licence" && v.may(Permission::ManageLicenceCampaigns));
    let actions: Vec<&str> = if !may_manage {
        Vec::new()
    } else {
        match c.row.state {
            CampaignState::Draft => vec!["start"],
            CampaignState::Running => vec!["remind", "pause", "close"],
            CampaignState::Paused => vec!["resume", "close"],
            CampaignState::Closed => vec![],
        }
    };
    let recent: Vec<_> = burndown.days.iter().rev().take(14).rev().collect();
    render(
        &s,
        StatusCode::OK,
        "web-campaign.html.j2",
        Some(&v),
        serde_json::json!({
            "name": c.row.name,
            "title": c.spec.title_in(v.lang),
            "kind": c.row.kind,
            "figures": &*figures,
            "chart": chart,
            "days": recent,
            "time_zone": c.schedule.time_zone.name(),
            "groups": &groups[..groups_shown],
            "groups_more": groups.len() - groups_shown,
            "forecast": burndown.forecast,
            "forecast_text": forecast_words(&burndown.forecast, &t),
            "machines": rows,
            "show": q.show.clone().unwrap_or_else(|| "all".into()),
            "next": next,
            "actions": actions,
            "done": q.done,
            "live_from": s.web.feed.last(),
        }),
    )
}

async fn export(
    s: &AppState,
    v: &Viewer,
    c: &winventory_workflows::engine::Campaign,
    show: MachinesShown,
    format: &str,
) -> Response {
    let all = match s.engine.campaign_machines_shown(c.row.id, show).await {
        Ok(all) => all,
        Err(e) => return fail(s, v, e),
    };
    let file = format!("{}-machines", c.row.name);
    match format {
        "json" => (
            [
                (header::CONTENT_TYPE, "application/json".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}.json\""),
                ),
            ],
            serde_json::to_string(&all).unwrap_or_else(|_| "[]".into()),
        )
            .into_response(),
        "csv" => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let _ = w.write_record([
                "hostname",
                "recipient",
                "state",
                "answer",
                "answer_date",
                "answered_by",
                "answered_at",
                "exception_state",
                "resolution",
            ]);
            for m in &all {
                let _ = w.write_record([
                    m.hostname.as_str(),
                    &m.recipient,
                    &m.state,
                    m.answer.as_deref().unwrap_or(""),
                    &m.answer_date.map(|d| d.to_string()).unwrap_or_default(),
                    m.answered_by.as_deref().unwrap_or(""),
                    &m.answered_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
                    m.exception_state.as_deref().unwrap_or(""),
                    m.resolution.as_deref().unwrap_or(""),
                ]);
            }
            let body = w.into_inner().unwrap_or_default();
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{file}.csv\""),
                    ),
                ],
                body,
            )
                .into_response()
        }
        other => error_page(
            s,
            Some(v),
            StatusCode::BAD_REQUEST,
            &format!("format={other:?}: csv or json"),
        ),
    }
}

#[derive(Debug, Deserialize)]
struct ActionForm {
    csrf: Option<String>,
    action: String,
    confirm: Option<String>,
}

async fn audit(
    s: &AppState,
    v: &Viewer,
    action: &str,
    target: &str,
    outcome: String,
    origin: String,
) {
    let entry = AuditEntry {
        at: s.app.clock.now(),
        channel: "web".into(),
        actor: v.who.subject.chars().take(200).collect(),
        role: v.who.roles_text(),
        action: action.into(),
        target: target.chars().take(200).collect(),
        command: format!("{action} {target}").chars().take(500).collect(),
        outcome: outcome.chars().take(500).collect(),
        origin,
    };
    crate::http::api::write_audit(s, entry).await;
}

fn csrf_ok(v: &Viewer, given: Option<&str>) -> bool {
    use subtle::ConstantTimeEq as _;
    given.is_some_and(|g| !v.csrf.is_empty() && bool::from(g.as_bytes().ct_eq(v.csrf.as_bytes())))
}

async fn campaign_action(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    req_ext: axum::http::Extensions,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let path = format!("/campaigns/{}", urlencode(&name));
    let v = match need_viewer(&s, &headers, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let origin = crate::http::access::peer(&req_ext);
    let Ok(Form(f)) = form else {
        return error_page(
            &s,
            Some(&v),
            StatusCode::BAD_REQUEST,
            "The form was incomplete; go back and try again.",
        );
    };
    let action = match f.action.as_str() {
        a @ ("start" | "pause" | "resume" | "close" | "remind") => a,
        _ => return error_page(&s, Some(&v), StatusCode::BAD_REQUEST, "Unknown action."),
    };
    // The role first, before the campaign is looked up.
    if !(v.may(Permission::ManageCampaigns) || v.may(Permission::ManageLicenceCampaigns)) {
        audit(&s, &v, action, &name, "refused: 403 (role)".into(), origin).await;
        return error_page(
            &s,
            Some(&v),
            StatusCode::FORBIDDEN,
            &format!("{} may not manage campaigns.", v.who.subject),
        );
    }
    if !csrf_ok(&v, f.csrf.as_deref()) {
        audit(&s, &v, action, &name, "refused: 403 (csrf)".into(), origin).await;
        return error_page(
            &s,
            Some(&v),
            StatusCode::FORBIDDEN,
            "This form is out of date (its security token does not match); reload the page and try again.",
        );
    }
    if f.confirm.as_deref() != Some("yes") {
        return render(
            &s,
            StatusCode::OK,
            "web-confirm.html.j2",
            Some(&v),
            serde_json::json!({
                "name": name, "action": action, "back": path,
            }),
        );
    }
    let result = match action {
        "remind" => match crate::http::api::may_manage(&s, &v.who, &name).await {
            Ok(()) => s
                .engine
                .remind(&name)
                .await
                .map(|n| format!("done: {n} machines to remind"))
                .map_err(AppError::from),
            Err(e) => Err(e),
        },
        other => {
            let to = match other {
                "pause" => CampaignState::Paused,
                "close" => CampaignState::Closed,
                _ => CampaignState::Running,
            };
            crate::http::api::move_to(&s, &v.who, &name, to)
                .await
                .map(|_| "done".to_string())
        }
    };
    match result {
        Ok(outcome) => {
            audit(&s, &v, action, &name, outcome, origin).await;
            Redirect::to(&format!("{path}?done={action}")).into_response()
        }
        Err(e) => {
            let status = e.status();
            audit(
                &s,
                &v,
                action,
                &name,
                format!("refused: {}", status.as_u16()),
                origin,
            )
            .await;
            error_page(&s, Some(&v), status, &e.to_string())
        }
    }
}

// --- exceptions, audit, people -------------------------------------------------

#[derive(Debug, Deserialize, Default)]
struct ExceptionsQuery {
    all: Option<String>,
    done: Option<String>,
    page: Option<usize>,
}

async fn exceptions(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<ExceptionsQuery>,
) -> Response {
    let v = match need(&s, &headers, "/exceptions", Permission::ReadFleet).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let pending_only = q.all.as_deref() != Some("1");
    let all = match s.engine.exceptions(None, pending_only).await {
        Ok(r) => r,
        Err(e) => return fail(&s, &v, e),
    };
    // Pages of EXCEPTIONS_SHOWN (each row is a form): the register itself
    // is read by index, only the exception answers.
    let (page, pages, shown) = page_of(all.len(), q.page.unwrap_or(1), EXCEPTIONS_SHOWN);
    let first = shown.start;
    let rows = &all[shown];
    let page_link = |n: usize| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        if !pending_only {
            ser.append_pair("all", "1");
        }
        ser.append_pair("page", &n.to_string());
        format!("/exceptions?{}", ser.finish())
    };
    render(
        &s,
        StatusCode::OK,
        "web-exceptions.html.j2",
        Some(&v),
        serde_json::json!({
            "rows": rows,
            "total": all.len(),
            "from": first + 1,
            "to": first + rows.len(),
            "previous": (page > 1).then(|| page_link(page - 1)),
            "next": (page < pages).then(|| page_link(page + 1)),
            "pending_only": pending_only,
            "may_decide": v.may(Permission::DecideExceptions),
            "done": q.done,
        }),
    )
}

#[derive(Debug, Deserialize)]
struct DecisionForm {
    csrf: Option<String>,
    campaign: String,
    host: String,
    decision: String,
    note: Option<String>,
}

async fn exception_decide(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    req_ext: axum::http::Extensions,
    form: Result<Form<DecisionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let v = match need_viewer(&s, &headers, "/exceptions").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let origin = crate::http::access::peer(&req_ext);
    let Ok(Form(f)) = form else {
        return error_page(
            &s,
            Some(&v),
            StatusCode::BAD_REQUEST,
            "The form was incomplete; go back and try again.",
        );
    };
    let target = format!("{}/{}", f.campaign, f.host);
    if !v.may(Permission::DecideExceptions) {
        audit(
            &s,
            &v,
            "decide-exception",
            &target,
            "refused: 403 (role)".into(),
            origin,
        )
        .await;
        return error_page(
            &s,
            Some(&v),
            StatusCode::FORBIDDEN,
            &format!("{} may not decide exceptions.", v.who.subject),
        );
    }
    if !csrf_ok(&v, f.csrf.as_deref()) {
        audit(
            &s,
            &v,
            "decide-exception",
            &target,
            "refused: 403 (csrf)".into(),
            origin,
        )
        .await;
        return error_page(
            &s,
            Some(&v),
            StatusCode::FORBIDDEN,
            "This form is out of date (its security token does not match); reload the page and try again.",
        );
    }
    let approve = match f.decision.as_str() {
        "approve" => true,
        "decline" => false,
        _ => return error_page(&s, Some(&v), StatusCode::BAD_REQUEST, "Approve or decline."),
    };
    let note = f.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if !approve && note.is_none() {
        return error_page(
            &s,
            Some(&v),
            StatusCode::UNPROCESSABLE_ENTITY,
            "A decline needs a reason: the owner reads it.",
        );
    }
    if note.is_some_and(|n| n.chars().count() > winventory_workflows::answer::MAX_TEXT) {
        return error_page(
            &s,
            Some(&v),
            StatusCode::UNPROCESSABLE_ENTITY,
            "The reason is too long.",
        );
    }
    let now = s.app.clock.now();
    match s
        .engine
        .decide_exception(&f.campaign, &f.host, approve, &v.who.subject, note, now)
        .await
    {
        Ok(()) => {
            audit(
                &s,
                &v,
                "decide-exception",
                &target,
                format!("done: {}", f.decision),
                origin,
            )
            .await;
            Redirect::to(&format!(
                "/exceptions?done={}",
                urlencode(&format!("{} {}", f.decision, f.host))
            ))
            .into_response()
        }
        Err(e) => {
            let e = AppError::from(e);
            audit(
                &s,
                &v,
                "decide-exception",
                &target,
                format!("refused: {}", e.status().as_u16()),
                origin,
            )
            .await;
            error_page(&s, Some(&v), e.status(), &e.to_string())
        }
    }
}

#[derive(Debug, Deserialize, Default)]
struct AuditQuery {
    before: Option<i64>,
    actor: Option<String>,
    target: Option<String>,
}

async fn audit_page(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let v = match need(&s, &headers, "/audit", Permission::ReadFleet).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let text = |x: &Option<String>| {
        x.as_deref()
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
    };
    let filter = winventory_core::store::AuditFilter {
        before: q.before,
        actor: text(&q.actor),
        target: text(&q.target),
    };
    let rows = match s.engine.store.audit_page(&filter, PAGE_ROWS + 1).await {
        Ok(r) => r,
        Err(e) => return fail(&s, &v, e),
    };
    let more = rows.len() as i64 > PAGE_ROWS;
    let rows: Vec<_> = rows.into_iter().take(PAGE_ROWS as usize).collect();
    let next = more.then(|| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, x) in [("actor", &filter.actor), ("target", &filter.target)] {
            if let Some(x) = x {
                ser.append_pair(k, x);
            }
        }
        ser.append_pair("before", &rows.last().map_or(0, |(id, _)| *id).to_string());
        format!("/audit?{}", ser.finish())
    });
    let rows: Vec<_> = rows.into_iter().map(|(_, e)| e).collect();
    render(
        &s,
        StatusCode::OK,
        "web-audit.html.j2",
        Some(&v),
        serde_json::json!({
            "rows": rows,
            "next": next,
            "filter": {"actor": filter.actor, "target": filter.target},
            "first_page": filter.before.is_none(),
        }),
    )
}

async fn person(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Response {
    let path = format!("/people/{}", urlencode(&login));
    let v = match need(&s, &headers, &path, Permission::ReadFleet).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let login = login.trim().to_lowercase();
    let report = match winventory_core::report::owner_report(
        s.engine.store.as_ref(),
        &s.engine.catalog,
        &login,
        &as_of(&s),
        365,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return fail(&s, &v, e),
    };
    let open = match s.engine.open_machines_of(&login).await {
        Ok(o) => o,
        Err(e) => return fail(&s, &v, e),
    };
    let asks: Vec<_> = open
        .iter()
        .flat_map(|(c, ms)| {
            ms.iter().map(move |m| serde_json::json!({
            "campaign": c.row.name, "host": m.hostname, "state": m.state, "answer": m.answer,
        }))
        })
        .collect();
    render(
        &s,
        StatusCode::OK,
        "web-person.html.j2",
        Some(&v),
        serde_json::json!({ "r": report, "asks": asks }),
    )
}

// --- licences -------------------------------------------------------------------

async fn licences(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let v = match need(&s, &headers, "/licences", Permission::ReadLicences).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let book = match crate::cli::licences::load(&s.app, None, &s.app.catalog) {
        Ok(b) => b,
        Err(e) => {
            return error_page(&s, Some(&v), StatusCode::CONFLICT, &format!("{e:#}"));
        }
    };
    let as_of = as_of(&s);
    let rows = match crate::cli::licences::rows(s.app.store.as_ref(), &book, &as_of).await {
        Ok(r) => r,
        Err(e) => return fail(&s, &v, e),
    };
    let shown: Vec<_> = rows
        .iter()
        .map(|r| {
            let mut j = serde_json::to_value(r).unwrap_or_default();
            j["compliance_text"] = r.compliance.to_string().into();
            j["over"] =
                matches!(r.compliance, winventory_core::licence::Compliance::Over(_)).into();
            j
        })
        .collect();
    render(
        &s,
        StatusCode::OK,
        "web-licences.html.j2",
        Some(&v),
        serde_json::json!({ "rows": shown }),
    )
}

async fn licence_whatif(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(what): Path<String>,
    Query(raw): Query<BTreeMap<String, String>>,
) -> Response {
    let path = format!("/licences/{}/whatif", urlencode(&what));
    let v = match need(&s, &headers, &path, Permission::ReadLicences).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // A form sends its empty fields too: empty is "unchanged".
    let field = |k: &str| {
        raw.get(k)
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
    };
    let drop_unused = match field("drop_unused").map(|d| d.parse::<u32>()) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => {
            return error_page(
                &s,
                Some(&v),
                StatusCode::UNPROCESSABLE_ENTITY,
                "drop_unused: a number of days",
            );
        }
    };
    let q = crate::http::api::WhatIfQuery {
        price: field("price"),
        period: field("period"),
        model: field("model"),
        drop_unused,
        drop_stale: Some(field("drop_stale").is_some_and(|x| x == "true")),
        drop_answered: Some(field("drop_answered").is_some_and(|x| x == "true")),
        as_of: None,
    };
    let asked = match crate::http::api::what_if_ask(&q) {
        Ok(a) => a,
        Err(e) => {
            return error_page(
                &s,
                Some(&v),
                StatusCode::UNPROCESSABLE_ENTITY,
                &e.to_string(),
            );
        }
    };
    match crate::cli::licences::what_if(&s.app, &what, &asked, None, &as_of(&s)).await {
        Ok((_, r)) => render(
            &s,
            StatusCode::OK,
            "web-whatif.html.j2",
            Some(&v),
            serde_json::json!({
                "what": what,
                "r": r,
                "asked": {
                    "price": q.price, "period": q.period, "model": q.model, "drop_unused": q.drop_unused,
                    "drop_stale": q.drop_stale.unwrap_or(false), "drop_answered": q.drop_answered.unwrap_or(false),
                },
            }),
        ),
        Err(e) => match e.downcast::<winventory_core::store::StoreError>() {
            Ok(store) => fail(&s, &v, store),
            Err(e) => error_page(
                &s,
                Some(&v),
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("{e:#}"),
            ),
        },
    }
}

// --- my machines --------------------------------------------------------------

async fn me_link(State(s): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    let now = s.app.clock.now();
    let Some(signer) = s.engine.signer.as_deref() else {
        return error_page(
            &s,
            None,
            StatusCode::NOT_FOUND,
            "Links are not set up on this site.",
        );
    };
    match signer.verify_personal(&token, now) {
        Ok(_) => {
            // The link's expiry bounds the cookie's (the token carries it).
            let max_age = 30 * 24 * 3600;
            let mut r = Redirect::to("/me").into_response();
            if let Ok(v) = super::link_cookie(&s, &token, max_age).parse() {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r.headers_mut().insert(
                header::REFERRER_POLICY,
                axum::http::HeaderValue::from_static("no-referrer"),
            );
            r
        }
        Err(e) => error_page(&s, None, StatusCode::FORBIDDEN, &e.to_string()),
    }
}

async fn me_context(s: &AppState, v: &Viewer) -> Result<serde_json::Value, Response> {
    let login = v.who.subject.clone();
    let owned = winventory_core::report::owner_report(
        s.engine.store.as_ref(),
        &s.engine.catalog,
        &login,
        &as_of(s),
        365,
    )
    .await
    .map_err(|e| fail(s, v, e))?;
    let open = s
        .engine
        .open_machines_of(&login)
        .await
        .map_err(|e| fail(s, v, e))?;
    let today = s.app.clock.now().date_naive();
    let mut asks = Vec::new();
    for (c, machines) in &open {
        let answers: Vec<_> = c
            .spec
            .answers()
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kind": k.as_str(),
                    "label": winventory_workflows::render::answer_label(*k, v.lang),
                    "needs_date": k.needs_date(),
                    "date_label": winventory_workflows::render::date_label(*k, v.lang),
                    "needs_detail": k.needs_detail(),
                })
            })
            .collect();
        for m in machines {
            let history = s
                .engine
                .store
                .answer_history(c.row.id, &m.host_key)
                .await
                .map_err(|e| fail(s, v, e))?;
            asks.push(serde_json::json!({
                "campaign": c.row.name,
                "title": c.spec.title_in(v.lang),
                "deadline": c.spec.deadline,
                "overdue": today > c.spec.deadline && m.state == "open",
                "host": m.hostname,
                "state": m.state,
                "answer": m.answer,
                "answer_date": m.answer_date,
                "answers": answers,
                "history": history,
            }));
        }
    }
    Ok(serde_json::json!({ "owned": owned, "asks": asks, "live_from": s.web.feed.last() }))
}

async fn me(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let v = match need(&s, &headers, "/me", Permission::ReadOwnMachines).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match me_context(&s, &v).await {
        Ok(ctx) => render(&s, StatusCode::OK, "web-me.html.j2", Some(&v), ctx),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
struct AnswerForm {
    csrf: Option<String>,
    campaign: String,
    host: String,
    answer: String,
    date: Option<String>,
    detail: Option<String>,
    comment: Option<String>,
}

async fn me_answer(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    req_ext: axum::http::Extensions,
    form: Result<Form<AnswerForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let v = match need(&s, &headers, "/me", Permission::AnswerOwn).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let origin = crate::http::access::peer(&req_ext);
    let Ok(Form(f)) = form else {
        return error_page(
            &s,
            Some(&v),
            StatusCode::BAD_REQUEST,
            "The form was incomplete; go back and try again.",
        );
    };
    if !csrf_ok(&v, f.csrf.as_deref()) {
        audit(
            &s,
            &v,
            "answer",
            &f.host,
            "refused: 403 (csrf)".into(),
            origin,
        )
        .await;
        return error_page(
            &s,
            Some(&v),
            StatusCode::FORBIDDEN,
            "This form is out of date (its security token does not match); reload the page and try again.",
        );
    }
    let Some(kind) = AnswerKind::parse(&f.answer) else {
        return error_page(&s, Some(&v), StatusCode::BAD_REQUEST, "Unknown answer.");
    };
    let date = match winventory_workflows::answer::date_field(
        f.date.as_deref().filter(|d| !d.trim().is_empty()),
    ) {
        Ok(d) => d,
        Err(e) => {
            return me_with_message(&s, &v, StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()).await;
        }
    };
    let nonempty = |x: Option<String>| x.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let answer = Answer {
        kind,
        date,
        detail: nonempty(f.detail),
        comment: nonempty(f.comment),
    };
    let now = s.app.clock.now();
    match s
        .engine
        .answer_in_campaign(&v.who.subject, "web", &f.campaign, &f.host, answer, now)
        .await
    {
        Ok(done) => {
            let msg = format!("Recorded for {}.", done.recorded.join(", "));
            me_with_message(&s, &v, StatusCode::OK, &msg).await
        }
        Err(e) => me_with_message(&s, &v, StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()).await,
    }
}

async fn me_with_message(s: &AppState, v: &Viewer, status: StatusCode, message: &str) -> Response {
    match me_context(s, v).await {
        Ok(mut ctx) => {
            ctx["message"] = message.into();
            ctx["ok"] = status.is_success().into();
            render(s, status, "web-me.html.j2", Some(v), ctx)
        }
        Err(r) => r,
    }
}

// --- the live stream ----------------------------------------------------------

/// Whether an update may go to this viewer: staff see every campaign's;
/// an owner only the changes of machines they are (or were) asked about.
fn visible(v: &Viewer, groups: &[String], live: &Live) -> bool {
    if v.may(Permission::ReadFleet) {
        return true;
    }
    match live {
        Live::Figures { .. } => false,
        Live::Change { event, .. } => {
            let mine = |r: &str| r == v.who.subject || groups.iter().any(|g| g == r);
            mine(&event.recipient) || event.previous_recipient.as_deref().is_some_and(mine)
        }
    }
}

fn to_event(live: &Live) -> Event {
    match live {
        Live::Change { event, campaign } => Event::default()
            .id(event.id.to_string())
            .event("change")
            .json_data(serde_json::json!({
                "campaign": campaign,
                "host": event.hostname,
                "state": event.state,
                "answer": event.answer,
            }))
            .unwrap_or_default(),
        Live::Figures { id, figures } => Event::default()
            .id(id.to_string())
            .event("figures")
            .json_data(&**figures)
            .unwrap_or_default(),
    }
}

async fn events(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let v = match viewer(&s, &headers).await {
        Ok(Some(v)) => v,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "not signed in\n").into_response(),
        Err(e) => return e.into_response(),
    };
    let groups: Vec<String> = s
        .engine
        .store
        .groups_of(&v.who.subject)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|g| format!("group:{g}"))
        .collect();
    let last_seen: Option<i64> = headers
        .get("last-event-id")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.trim().parse().ok());
    let mut rx = s.web.feed.subscribe();
    let state = s.clone();
    let stream = async_stream::stream! {
        let mut sent = last_seen.unwrap_or(0);
        // What the page missed, from the log (then live from the channel).
        if let Some(after) = last_seen {
            match state.engine.store.changes_after(after, 1_000).await {
                // Missed changes the log no longer holds (pruned) leave a
                // gap after the id the page saw: it reloads instead (a gap
                // left by a rolled-back id costs a needless reload, no more).
                Ok(missed)
                    if missed.len() < 1_000
                        && missed.first().is_none_or(|e| e.id == after + 1) =>
                {
                    for event in missed {
                        let campaign = state.engine.store.campaign(&event.campaign_id.to_string()).await.ok().flatten().map(|c| c.name).unwrap_or_default();
                        let live = Live::Change { event, campaign };
                        sent = sent.max(live.id());
                        if visible(&v, &groups, &live) {
                            yield Ok::<Event, Infallible>(to_event(&live));
                        }
                    }
                }
                // Too much missed (or the log pruned): the page reloads.
                _ => yield Ok(Event::default().event("reload").data("")),
            }
        }
        let mut check = tokio::time::interval(SESSION_CHECK);
        check.tick().await;
        loop {
            tokio::select! {
                got = rx.recv() => match got {
                    Ok(live) => {
                        let is_change = matches!(&*live, Live::Change { .. });
                        if is_change && live.id() <= sent {
                            continue;
                        }
                        if is_change {
                            sent = live.id();
                        }
                        if visible(&v, &groups, &live) {
                            yield Ok(to_event(&live));
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        yield Ok(Event::default().event("reload").data(""));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = check.tick() => {
                    // A revoked or expired session (or link) ends the stream.
                    match super::still_signed_in(&state, &headers, &v).await {
                        Ok(true) => {}
                        Ok(false) => {
                            yield Ok(Event::default().event("signed-out").data(""));
                            break;
                        }
                        // The database did not answer: try again next time.
                        Err(_) => {}
                    }
                }
            }
        }
    };
    let mut r = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
        .into_response();
    r.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::page_of;

    #[test]
    fn a_page_number_past_the_end_or_zero_shows_the_last_or_the_first_page() {
        assert_eq!(page_of(250, 1, 100), (1, 3, 0..100));
        assert_eq!(page_of(250, 3, 100), (3, 3, 200..250));
        assert_eq!(page_of(250, 9, 100), (3, 3, 200..250));
        assert_eq!(page_of(250, 0, 100), (1, 3, 0..100));
        assert_eq!(page_of(0, 2, 100), (1, 1, 0..0));
        assert_eq!(page_of(100, 2, 100), (1, 1, 0..100));
    }
}
