//! The REST API in process (tower `oneshot` on the router the binary
//! serves): every route of the one route table tried in every role, the
//! OpenAPI document against that table and an independent validator,
//! cursor pagination, and token revocation taking effect.

use std::collections::BTreeSet;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;
use winventory::app::App;
use winventory::http::api::routes;
use winventory_core::access::{Permission, Role};

/// A site on a fresh SQLite file with the small fleet ingested, a draft
/// campaign, and one token per token role.
struct ApiSite {
    dir: tempfile::TempDir,
    app: Arc<App>,
    router: axum::Router,
    /// (role, secret), one per role a token may have.
    tokens: Vec<(Role, String)>,
}

impl ApiSite {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("winventory.toml");
        std::fs::write(
            &config,
            format!(
                "database = \"sqlite://{}\"\nlink_keys = \"{}\"\n",
                dir.path().join("w.db").display(),
                crate::common::KEYS,
            ),
        )
        .expect("write the configuration");
        let (app, router) = crate::common::in_process(&config).await;
        let engine = app.engine().await.expect("engine");
        let now = app.clock.now();
        engine
            .create(crate::common::campaign_file(), now)
            .await
            .expect("a draft campaign");
        let mut tokens = Vec::new();
        for role in winventory::http::api::token_roles() {
            let made = winventory::cli::tokens::create(
                app.store.as_ref(),
                &format!("t-{role}"),
                role.as_str(),
                "1d",
                "test",
                now,
            )
            .await
            .expect("a token");
            tokens.push((role, made.secret));
        }
        let site = ApiSite {
            dir,
            app,
            router,
            tokens,
        };
        let (status, body) = site
            .call(
                Method::POST,
                "/api/v1/snapshots",
                Some(Role::Collector),
                Body::from(crate::common::fleet()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        site
    }

    fn secret(&self, role: Role) -> &str {
        &self
            .tokens
            .iter()
            .find(|(r, _)| *r == role)
            .expect("a token of that role")
            .1
    }

    async fn call_with(
        &self,
        method: Method,
        uri: &str,
        bearer: Option<&str>,
        body: Body,
    ) -> (StatusCode, serde_json::Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(b) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {b}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(req.body(body).expect("a request"))
            .await
            .expect("a response");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .expect("a body");
        if status.is_client_error() || status.is_server_error() {
            assert_eq!(
                content_type, "application/problem+json",
                "{uri}: every error is a problem"
            );
        }
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        role: Option<Role>,
        body: Body,
    ) -> (StatusCode, serde_json::Value) {
        let bearer = role.map(|r| self.secret(r).to_string());
        self.call_with(method, uri, bearer.as_deref(), body).await
    }

    /// What a refused request must leave as it was: tokens, campaigns and
    /// their machines, the machines stored.
    async fn state(&self) -> String {
        let store = &self.app.store;
        let mut tokens = store.tokens().await.expect("tokens");
        for t in &mut tokens {
            t.last_used_at = None;
        }
        let campaigns = store.campaigns().await.expect("campaigns");
        let mut machines = Vec::new();
        for c in &campaigns {
            machines.push(store.campaign_machines(c.id).await.expect("machines"));
        }
        format!(
            "{tokens:?}\n{campaigns:?}\n{machines:?}\n{:?}",
            store.counts().await.expect("counts")
        )
    }
}

/// A route's path with its parameters filled in, and a body that fits it.
fn sample(path: &str, method: &Method, i: usize) -> (String, Body) {
    let uri = path
        .replace("{id}", "999")
        .replace("{what}", "MATLAB")
        .replace("{host}", "SRV-A1")
        .replace("{login}", "asmith")
        .replace(
            "{name}",
            if path.starts_with("/api/v1/tokens") {
                "spare"
            } else {
                "retire-2012r2"
            },
        );
    let body = match (method.as_str(), path) {
        ("POST", "/api/v1/tokens") => {
            Body::from(format!(r#"{{"name": "made-{i}", "role": "viewer"}}"#))
        }
        ("POST", "/api/v1/snapshots") => Body::from(crate::common::fleet()),
        ("POST", "/api/v1/campaigns") => Body::from(crate::common::campaign_file()),
        ("POST", p) if p.contains("/answers/") => {
            Body::from(r#"{"answer": "upgrade", "date": "2027-01-31"}"#)
        }
        ("POST", p) if p.contains("/exceptions/") => {
            Body::from(r#"{"decision": "decline", "note": "no"}"#)
        }
        _ => Body::empty(),
    };
    (uri, body)
}

#[tokio::test]
async fn every_route_in_every_role_does_only_what_the_permission_table_allows() {
    let site = ApiSite::new().await;
    let table = routes();
    assert!(table.len() >= 20, "the table lists the API");
    let mut tried = 0;
    for (i, route) in table.iter().enumerate() {
        // Without a token: refused, nothing changed (but the public ones).
        let before = site.state().await;
        let (uri, body) = sample(route.path, &route.method, i);
        let (status, problem) = site.call(route.method.clone(), &uri, None, body).await;
        match route.needs {
            None => assert!(status.is_success(), "{uri} is public: {status}"),
            Some(_) => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} without a token");
                assert!(
                    problem["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("bearer"))
                );
                assert_eq!(
                    site.state().await,
                    before,
                    "{uri} without a token changed something"
                );
            }
        }
        for role in winventory::http::api::token_roles() {
            let before = site.state().await;
            let (uri, body) = sample(route.path, &route.method, i * 10 + role as usize);
            let (status, problem) = site
                .call(route.method.clone(), &uri, Some(role), body)
                .await;
            tried += 1;
            let Some(needs) = route.needs else {
                assert!(status.is_success(), "{uri} as {role}: {status}");
                continue;
            };
            let allowed = winventory_core::access::allows(role, needs);
            if allowed {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{uri} as {role}");
                // A licence manager manages licence campaigns only, and
                // this one is an end-of-life campaign.
                let only_licence =
                    role == Role::LicenceManager && needs == Permission::ManageLicenceCampaigns;
                if only_licence {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{uri} as {role}: {problem}");
                } else {
                    assert_ne!(status, StatusCode::FORBIDDEN, "{uri} as {role}: {problem}");
                }
                assert!(
                    status != StatusCode::INTERNAL_SERVER_ERROR,
                    "{uri} as {role}: {problem}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{uri} as {role}: {problem}");
                assert_eq!(
                    site.state().await,
                    before,
                    "{uri} as {role} was refused but changed something"
                );
            }
            if route.action.is_some() && (!allowed || status == StatusCode::FORBIDDEN) {
                let last = &site.app.store.audit_log(1).await.expect("audit")[0];
                assert_eq!(last.channel, "http");
                assert_eq!(last.actor, format!("token:t-{role}"));
                assert!(
                    last.outcome.starts_with("refused"),
                    "{uri} as {role}: {last:?}"
                );
            }
        }
    }
    assert_eq!(tried, table.len() * 5);
}

#[tokio::test]
async fn a_viewer_starting_a_campaign_that_does_not_exist_is_forbidden_not_told_it_is_missing() {
    let site = ApiSite::new().await;
    let (status, _) = site
        .call(
            Method::POST,
            "/api/v1/campaigns/no-such/start",
            Some(Role::Viewer),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, problem) = site
        .call(
            Method::POST,
            "/api/v1/campaigns/no-such/start",
            Some(Role::CampaignManager),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["type"], "about:blank");
}

#[tokio::test]
async fn a_campaign_manager_starts_and_pauses_a_campaign_and_the_audit_log_says_who() {
    let site = ApiSite::new().await;
    let (status, body) = site
        .call(
            Method::POST,
            "/api/v1/campaigns/retire-2012r2/start",
            Some(Role::CampaignManager),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "running");
    assert_eq!(body["targets"], 4, "the four 2012 R2 servers");
    let (_, body) = site
        .call(
            Method::POST,
            "/api/v1/campaigns/retire-2012r2/pause",
            Some(Role::CampaignManager),
            Body::empty(),
        )
        .await;
    assert_eq!(body["state"], "paused");
    // An answer on an owner's behalf, checked like any other.
    let on_behalf = |body: &'static str| {
        site.call(
            Method::POST,
            "/api/v1/campaigns/retire-2012r2/answers/srv-a1",
            Some(Role::CampaignManager),
            Body::from(body),
        )
    };
    let (status, problem) = on_behalf(r#"{"answer": "upgrade"}"#).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an upgrade needs its date: {problem}"
    );
    let (status, problem) = on_behalf(r#"{"answer": "keep"}"#).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "not an answer this campaign offers: {problem}"
    );
    let (status, m) = on_behalf(r#"{"answer": "upgrade", "date": "2027-01-31"}"#).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["hostname"], "SRV-A1");
    assert_eq!(m["answer"], "upgrade");
    assert_eq!(m["answered_by"], "token:t-campaign-manager");
    let history = site
        .call(
            Method::GET,
            "/api/v1/campaigns/retire-2012r2/history/SRV-A1",
            Some(Role::Viewer),
            Body::empty(),
        )
        .await
        .1;
    assert_eq!(history[0]["by"], "token:t-campaign-manager");
    assert_eq!(history[0]["via"], "http");
    let log = site.app.store.audit_log(5).await.expect("audit");
    assert_eq!(log[0].action, "answer on behalf");
    assert!(log[0].outcome.starts_with("done"));
    let log: Vec<_> = log
        .into_iter()
        .filter(|l| l.action.starts_with("campaign"))
        .collect();
    assert_eq!(log[0].action, "campaign pause");
    assert_eq!(log[1].action, "campaign start");
    for line in &log {
        assert_eq!(line.actor, "token:t-campaign-manager");
        assert_eq!(line.role, "campaign-manager");
        assert_eq!(
            line.target,
            "campaigns/retire-2012r2/".to_string() + line.action.split(' ').nth(1).unwrap_or("")
        );
        assert!(line.outcome.starts_with("done"), "{line:?}");
    }
    // The same JSON as `campaign status --format json`.
    let (_, status_json) = site
        .call(
            Method::GET,
            "/api/v1/campaigns/retire-2012r2/status",
            Some(Role::Viewer),
            Body::empty(),
        )
        .await;
    let e = site.app.engine().await.expect("engine");
    let cli = serde_json::to_value(
        e.status("retire-2012r2", site.app.clock.now())
            .await
            .expect("status"),
    )
    .expect("json");
    assert_eq!(status_json, cli);
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_of_the_table_and_is_valid() {
    let site = ApiSite::new().await;
    let (status, doc) = site
        .call(Method::GET, "/api/v1/openapi.json", None, Body::empty())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(
        documented, served,
        "the document and the router list the same routes"
    );
    // An independent validator (openapi-spec-validator, installed by
    // scripts/test.sh).
    let validator = crate::common::env("WINVENTORY_TEST_OPENAPI_VALIDATOR");
    let file = site.dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).expect("json")).expect("write");
    let out = std::process::Command::new(&validator)
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn pages_of_machines_join_up_to_the_fleet_and_bad_filters_are_named() {
    let site = ApiSite::new().await;
    let mut hosts = Vec::new();
    let mut uri = "/api/v1/machines?freshness=any&limit=2".to_string();
    let mut pages = 0;
    loop {
        let (status, page) = site
            .call(Method::GET, &uri, Some(Role::Viewer), Body::empty())
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        for m in page["machines"].as_array().expect("machines") {
            hosts.push(m["hostname"].as_str().expect("hostname").to_string());
        }
        match page["next"].as_str() {
            Some(next) => uri = format!("/api/v1/machines?freshness=any&limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(
        hosts,
        ["PC-NEW", "SRV-A1", "SRV-A2", "SRV-J1", "SRV-ORPHAN"]
    );
    assert_eq!(pages, 3);
    let (_, filtered) = site
        .call(
            Method::GET,
            "/api/v1/machines?os=windows-server:2012-r2&owner=asmith",
            Some(Role::Viewer),
            Body::empty(),
        )
        .await;
    assert_eq!(filtered["machines"].as_array().map(Vec::len), Some(2));
    for (uri, field) in [
        ("/api/v1/machines?os=no-such-product", "no product"),
        ("/api/v1/machines?limit=0", "limit"),
        ("/api/v1/machines?freshness=old", "freshness"),
        ("/api/v1/machines?as_of=yesterday", "as_of"),
        ("/api/v1/machines?eol_within=-1", "eol_within"),
    ] {
        let (status, problem) = site
            .call(Method::GET, uri, Some(Role::Viewer), Body::empty())
            .await;
        assert!(status.is_client_error(), "{uri}: {status}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(field), "{uri}: {detail}");
    }
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_and_one_revoked_elsewhere_within_a_second() {
    let site = ApiSite::new().await;
    let now = site.app.clock.now();
    let store = site.app.store.as_ref();
    let a = winventory::cli::tokens::create(store, "a", "viewer", "1d", "test", now)
        .await
        .expect("token a")
        .secret;
    let read = |secret: String| {
        let site = &site;
        async move {
            site.call_with(
                Method::GET,
                "/api/v1/campaigns",
                Some(&secret),
                Body::empty(),
            )
            .await
            .0
        }
    };
    assert_eq!(read(a.clone()).await, StatusCode::OK);
    // Revoked through the API: refused at the next request.
    let (status, _) = site
        .call(
            Method::DELETE,
            "/api/v1/tokens/a",
            Some(Role::Admin),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(read(a).await, StatusCode::UNAUTHORIZED);

    // Revoked by another process (the command line, another replica):
    // a change is refused at once, a read within a second.
    let b = winventory::cli::tokens::create(store, "b", "admin", "1d", "test", now)
        .await
        .expect("token b")
        .secret;
    assert_eq!(read(b.clone()).await, StatusCode::OK);
    assert!(store.revoke_token("b", now).await.expect("revoke"));
    let (status, _) = site
        .call_with(
            Method::POST,
            "/api/v1/campaigns/retire-2012r2/pause",
            Some(&b),
            Body::empty(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a change checks the database"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(read(b).await, StatusCode::UNAUTHORIZED);

    // Expired tokens and strangers' are refused alike.
    let expired = winventory::http::access::new_secret();
    store
        .create_token(&winventory_core::store::NewApiToken {
            name: "old".into(),
            hash: winventory::http::access::hash_secret(&expired),
            role: "admin".into(),
            created_by: "test".into(),
            created_at: now - chrono::Duration::days(2),
            expires_at: Some(now - chrono::Duration::days(1)),
        })
        .await
        .expect("an expired token");
    for bad in [expired.as_str(), "wvt_guess", "not-even-ours", ""] {
        let (status, _) = site
            .call_with(Method::GET, "/api/v1/campaigns", Some(bad), Body::empty())
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad:?}");
    }
    // The list never shows a secret or a hash.
    let (_, list) = site
        .call(
            Method::GET,
            "/api/v1/tokens",
            Some(Role::Admin),
            Body::empty(),
        )
        .await;
    let text = list.to_string();
    assert!(text.contains("\"revoked_at\""));
    assert!(!text.contains("wvt_") && !text.contains("hash"));
}

/// The document declares a schema for what each read answers, and real
/// answers match it: checked by an independent validator (jsonschema, JSON
/// Schema 2020-12 as OpenAPI 3.1 uses), so a field renamed in a type shows
/// here. Only the document itself goes without a schema (it is OpenAPI's).
#[tokio::test]
async fn what_the_api_answers_matches_the_schemas_its_document_declares() {
    let site = ApiSite::new().await;
    let (status, body) = site
        .call(
            Method::POST,
            "/api/v1/campaigns/retire-2012r2/start",
            Some(Role::Admin),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let started = body;
    let (_, doc) = site
        .call(Method::GET, "/api/v1/openapi.json", None, Body::empty())
        .await;

    let mut untyped = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("an item") {
            for (status, response) in op["responses"].as_object().expect("responses") {
                let json = &response["content"]["application/json"];
                if status.starts_with('2') && !json.is_null() && json["schema"].is_null() {
                    untyped.insert(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
    }
    assert_eq!(
        untyped.into_iter().collect::<Vec<_>>(),
        ["GET /api/v1/openapi.json"],
        "answers the document gives no schema for"
    );

    let reads = [
        ("/api/v1/machines?freshness=any", "/api/v1/machines"),
        ("/api/v1/machines/SRV-A1", "/api/v1/machines/{host}"),
        ("/api/v1/people/asmith", "/api/v1/people/{login}"),
        ("/api/v1/reports/os", "/api/v1/reports/os"),
        ("/api/v1/reports/eol", "/api/v1/reports/eol"),
        ("/api/v1/reports/eol?by=cycle", "/api/v1/reports/eol"),
        ("/api/v1/reports/software", "/api/v1/reports/software"),
        (
            "/api/v1/reports/software?by=application",
            "/api/v1/reports/software",
        ),
        ("/api/v1/campaigns", "/api/v1/campaigns"),
        (
            "/api/v1/campaigns/retire-2012r2",
            "/api/v1/campaigns/{name}",
        ),
        (
            "/api/v1/campaigns/retire-2012r2/history/SRV-A1",
            "/api/v1/campaigns/{name}/history/{host}",
        ),
        ("/api/v1/audit", "/api/v1/audit"),
        ("/api/v1/tokens", "/api/v1/tokens"),
        ("/api/v1/sessions", "/api/v1/sessions"),
        (
            "/api/v1/campaigns/retire-2012r2/status",
            "/api/v1/campaigns/{name}/status",
        ),
        ("/api/v1/reports/exceptions", "/api/v1/reports/exceptions"),
    ];
    let mut answers = vec![serde_json::json!({
        "method": "POST", "path": "/api/v1/campaigns/{name}/start", "status": 200, "body": started,
    })];
    for (uri, path) in reads {
        let (status, body) = site
            .call(Method::GET, uri, Some(Role::Admin), Body::empty())
            .await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        answers.push(serde_json::json!({
            "method": "GET", "path": path, "status": 200, "body": body,
        }));
    }
    // Something to check in each: a page of machines, a machine with its
    // programs and owner, a campaign with machines, tokens, audit lines.
    let at = |i: usize| &answers[i + 1]["body"];
    assert!(!at(0)["machines"].as_array().expect("machines").is_empty());
    assert!(at(1)["responsible"]["login"].is_string(), "{}", at(1));
    assert!(!at(9)["machines"].as_array().expect("machines").is_empty());
    assert!(!at(12).as_array().expect("tokens").is_empty());
    assert!(!at(11).as_array().expect("audit").is_empty());

    let validator = crate::common::env("WINVENTORY_TEST_OPENAPI_RESPONSES");
    let doc_file = site.dir.path().join("openapi.json");
    let answers_file = site.dir.path().join("answers.json");
    std::fs::write(&doc_file, serde_json::to_vec(&doc).expect("json")).expect("write");
    std::fs::write(&answers_file, serde_json::to_vec(&answers).expect("json")).expect("write");
    let out = std::process::Command::new(&validator)
        .arg(&doc_file)
        .arg(&answers_file)
        .output()
        .expect("run the response validator");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "answers that contradict the document:\n{said}"
    );
    assert!(said.contains("17 answers checked, 0 mismatches"), "{said}");
}

/// Values an attacker or a careless script sends get a 4xx that says what
/// is wrong, never a panic or a database error: windows of any length, an
/// expiry with a multi-byte unit, a NUL in a URL or an answer, dates before
/// anything was known, and a licence manager replacing another kind's draft.
#[tokio::test]
async fn hostile_values_get_a_clear_refusal_never_a_panic_or_a_database_error() {
    let site = ApiSite::new().await;
    for uri in [
        "/api/v1/reports/eol?within=4000000000",
        "/api/v1/machines?eol_within=4000000000",
        "/api/v1/people/asmith?within=4294967295",
    ] {
        let (status, body) = site
            .call(Method::GET, uri, Some(Role::Viewer), Body::empty())
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{uri}: any window is a fair question: {body}"
        );
    }
    for (uri, expected, says) in [
        (
            "/api/v1/machines?owner=a%00b",
            StatusCode::BAD_REQUEST,
            "NUL",
        ),
        ("/api/v1/machines/SRV%00A1", StatusCode::BAD_REQUEST, "NUL"),
        (
            "/api/v1/reports/os?as_of=2000-01-01",
            StatusCode::UNPROCESSABLE_ENTITY,
            "earliest",
        ),
        (
            "/api/v1/machines/SRV-A1?as_of=2000-01-01",
            StatusCode::UNPROCESSABLE_ENTITY,
            "earliest",
        ),
    ] {
        let (status, body) = site
            .call(Method::GET, uri, Some(Role::Viewer), Body::empty())
            .await;
        assert_eq!(status, expected, "{uri}: {body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains(says)),
            "{uri}: {body}"
        );
    }
    // Errors no handler wrote are problems too (`call` checks the type).
    for (method, uri, expected, says) in [
        (
            Method::GET,
            "/api/v1/no-such-thing",
            StatusCode::NOT_FOUND,
            "openapi.json",
        ),
        (
            Method::DELETE,
            "/api/v1/machines",
            StatusCode::METHOD_NOT_ALLOWED,
            "does not take DELETE",
        ),
        (
            Method::DELETE,
            "/api/v1/sessions/nope",
            StatusCode::BAD_REQUEST,
            "nope",
        ),
        (
            Method::GET,
            "/api/v1/machines?limit=-1",
            StatusCode::BAD_REQUEST,
            "limit",
        ),
    ] {
        let (status, body) = site
            .call(method, uri, Some(Role::Admin), Body::empty())
            .await;
        assert_eq!(status, expected, "{uri}: {body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains(says)),
            "{uri}: {body}"
        );
    }
    // A client that takes gzip gets the same problem, compressed whole.
    let response = site
        .router
        .clone()
        .oneshot(
            Request::builder()
                .uri("/api/v1/machines?limit=lots")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", site.secret(Role::Admin)),
                )
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .expect("a response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let gzipped = response.headers().get(header::CONTENT_ENCODING).is_some();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a body");
    let text = if gzipped {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
            .expect("gzip");
        out
    } else {
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    };
    let problem: serde_json::Value = serde_json::from_str(&text).expect("a problem");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("limit")),
        "{problem}"
    );

    let (status, body) = site
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(Role::Admin),
            Body::from(r#"{"name": "odd", "role": "viewer", "expires": "5é"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = site
        .call(
            Method::POST,
            "/api/v1/campaigns/retire-2012r2/start",
            Some(Role::Admin),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = site
        .call(
            Method::POST,
            "/api/v1/campaigns/retire-2012r2/answers/SRV-A1",
            Some(Role::CampaignManager),
            Body::from(r#"{"answer": "replace", "comment": "a\u0000b"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("control character")),
        "{body}"
    );

    // A licence manager may replace a licence campaign's draft, not an
    // end-of-life one, whatever the new file's kind.
    let eol_draft = crate::common::campaign_file().replace("retire-2012r2", "eol-draft");
    let (status, body) = site
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(Role::CampaignManager),
            Body::from(eol_draft),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let licence_file = "name = \"eol-draft\"\nkind = \"licence\"\ntitle = \"MATLAB\"\n\
        deadline = \"2027-03-31\"\nfallback_group = \"it-desk\"\n\n[target]\napplications = [\"MATLAB\"]\n";
    let (status, body) = site
        .call(
            Method::POST,
            "/api/v1/campaigns?replace=true",
            Some(Role::LicenceManager),
            Body::from(licence_file),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("an eol campaign")),
        "{body}"
    );
    let kept = site
        .app
        .store
        .campaign("eol-draft")
        .await
        .expect("read")
        .expect("still there");
    assert_eq!(kept.kind, "eol", "the draft is left as it was");
}
