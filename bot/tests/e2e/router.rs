//! The HTTP edge's refusal table, in process: the router the binary serves,
//! driven with tower's `oneshot` (as axum's own examples test), no socket
//! and no child process, so each row costs milliseconds. Forged links,
//! wrong methods, wrong content types, oversized bodies and missing tokens
//! are refused with the status a client can act on, and nothing is stored.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

/// The router of a site on a fresh SQLite file, with link keys, an API
/// token, a metrics token and a Mattermost slash-command token set.
async fn site(dir: &tempfile::TempDir) -> axum::Router {
    let config = dir.path().join("winventory.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"sqlite://{}\"\n\
             link_keys = \"{}\"\n\
             api_token = \"api-secret\"\n\
             metrics_token = \"metrics-secret\"\n\
             mattermost_command_token = \"slash-secret\"\n",
            dir.path().join("w.db").display(),
            crate::common::KEYS,
        ),
    )
    .expect("write the configuration");
    crate::common::in_process(&config).await.1
}

/// One row of the refusal table: what is tried, the request, the status.
type Row = (
    &'static str,
    Result<Request<Body>, axum::http::Error>,
    StatusCode,
);

fn request(method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri)
}

#[tokio::test]
async fn the_edge_refuses_what_it_must_with_the_status_a_client_can_act_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = site(&dir).await;
    let big = vec![b'x'; 100 * 1024];
    let rows: Vec<Row> = vec![
        (
            "a forged answer link",
            request("GET", "/answer/not-a-token").body(Body::empty()),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a link sealed with a key the site does not have",
            request(
                "GET",
                "/answer/zz.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )
            .body(Body::empty()),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a forged answer posted",
            request("POST", "/answer/not-a-token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("comment=hello")),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a POST to a read-only route",
            request("POST", "/healthz").body(Body::empty()),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "a GET of a callback",
            request("GET", "/mattermost/actions").body(Body::empty()),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "a button click of 100 KB",
            request("POST", "/mattermost/actions")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(big.clone())),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "a slash command of 100 KB",
            request("POST", "/mattermost/command")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(big.clone())),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "a slash command with the wrong token",
            request("POST", "/mattermost/command")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("token=guess&user_name=alice&text=help")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a snapshot without the API token",
            request("POST", "/api/v1/snapshots").body(Body::from("{}\n")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a snapshot with a wrong API token",
            request("POST", "/api/v1/snapshots")
                .header(header::AUTHORIZATION, "Bearer api-guess")
                .body(Body::from("{}\n")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "metrics without their token",
            request("GET", "/metrics").body(Body::empty()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "metrics with the API token instead of theirs",
            request("GET", "/metrics")
                .header(header::AUTHORIZATION, "Bearer api-secret")
                .body(Body::empty()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a route that does not exist",
            request("GET", "/admin").body(Body::empty()),
            StatusCode::NOT_FOUND,
        ),
    ];
    let mut wrong = Vec::new();
    for (what, req, want) in rows {
        let res = app
            .clone()
            .oneshot(req.expect("a request"))
            .await
            .expect("the router answers");
        if res.status() != want {
            wrong.push(format!("{what}: {} (expected {want})", res.status()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn probes_and_metrics_answer_the_ones_entitled_to_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = site(&dir).await;
    for (req, want) in [
        (request("GET", "/livez").body(Body::empty()), StatusCode::OK),
        (
            request("GET", "/healthz").body(Body::empty()),
            StatusCode::OK,
        ),
        (
            request("GET", "/metrics")
                .header(header::AUTHORIZATION, "Bearer metrics-secret")
                .body(Body::empty()),
            StatusCode::OK,
        ),
    ] {
        let req = req.expect("a request");
        let uri = req.uri().clone();
        let res = app.clone().oneshot(req).await.expect("answer");
        assert_eq!(res.status(), want, "{uri}");
    }
    let res = app
        .oneshot(
            request("GET", "/metrics")
                .header(header::AUTHORIZATION, "Bearer metrics-secret")
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .expect("answer");
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("winventory_database_up 1"), "{text}");
}
