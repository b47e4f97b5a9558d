//! The endoflife.date v1 API client against a stand-in server (wiremock)
//! serving bodies shaped like the live API (`tests/fixtures/eol_api_v1/`).

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use winventory_core::{Catalog, Lifecycle};
use winventory_ingest::eol_api::{self, EolApi, EolApiError};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WINDOWS_SERVER: &str = include_str!("../fixtures/eol_api_v1/windows-server.json");
const WINDOWS: &str = include_str!("../fixtures/eol_api_v1/windows.json");

fn init() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// A client for the mock server, under a path prefix, with short back-offs.
fn api(server: &MockServer) -> EolApi {
    init();
    EolApi::new(&format!("{}/api/v1/", server.uri()), Duration::from_secs(5))
        .expect("client builds")
        .with_backoff(Duration::from_millis(10))
        .with_max_retry_wait(Duration::from_secs(5))
}

fn json(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
}

async fn serve(server: &MockServer, product: &str, body: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/products/{product}")))
        .respond_with(json(body))
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_windows_server_body_maps_to_catalog_rows() {
    let server = MockServer::start().await;
    serve(&server, "windows-server", WINDOWS_SERVER).await;
    let rows = api(&server)
        .product("windows-server")
        .await
        .expect("fetched");

    assert_eq!(rows.len(), 20);
    let r2 = rows.iter().find(|r| r.cycle == "2012-r2").expect("2012 R2");
    assert_eq!(r2.product, "windows-server");
    assert_eq!(r2.product_title, "Microsoft Windows Server");
    assert_eq!(r2.category, "os");
    assert_eq!(r2.label.as_deref(), Some("Windows Server 2012 R2 (LTSC)"));
    assert_eq!(r2.release_date, Some(date(2013, 11, 25)));
    assert_eq!(r2.support_end, Some(Lifecycle::Date(date(2018, 10, 9))));
    assert_eq!(r2.eol, Some(Lifecycle::Date(date(2023, 10, 10))));
    assert_eq!(
        r2.extended_support_end,
        Some(Lifecycle::Date(date(2026, 10, 13)))
    );
    assert!(r2.lts);
    assert_eq!(r2.latest.as_deref(), Some("6.3.9600"));
    assert_eq!(
        r2.source,
        "endoflife.date API v1 (generated_at 2026-08-22T00:00:00+00:00)"
    );

    // isEoes and eoesFrom both null: extended support is unknown.
    let ws2025 = rows.iter().find(|r| r.cycle == "2025").expect("2025");
    assert_eq!(ws2025.extended_support_end, None);
    assert_eq!(ws2025.eol, Some(Lifecycle::Date(date(2034, 11, 14))));
    let sac = rows
        .iter()
        .find(|r| r.cycle == "1909-sac")
        .expect("1909 SAC");
    assert!(!sac.lts);
}

#[tokio::test]
async fn the_api_bodies_agree_with_the_built_in_catalog_on_every_date() {
    let server = MockServer::start().await;
    serve(&server, "windows-server", WINDOWS_SERVER).await;
    serve(&server, "windows", WINDOWS).await;
    let builtin = Catalog::builtin();
    let products = vec!["windows-server".to_string(), "windows".to_string()];
    let outcome = eol_api::refresh(&api(&server), &products, &builtin).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.rows.len(), 20 + 47);
    for row in &outcome.rows {
        let old = builtin
            .get(&row.product, &row.cycle)
            .unwrap_or_else(|| panic!("{}/{} is in the built-in catalog", row.product, row.cycle));
        let what = format!("{}/{}", row.product, row.cycle);
        assert_eq!(row.release_date, old.release_date, "{what} release date");
        assert_eq!(row.support_end, old.support_end, "{what} support end");
        assert_eq!(row.eol, old.eol, "{what} eol");
        assert_eq!(
            row.extended_support_end, old.extended_support_end,
            "{what} extended support end"
        );
        assert_eq!(row.lts, old.lts, "{what} lts");
        assert_eq!(row.latest, old.latest, "{what} latest");
        assert_eq!(row.product_title, old.product_title, "{what} title");
        assert_eq!(row.category, old.category, "{what} category");
    }
}

#[tokio::test]
async fn a_301_from_an_old_product_name_is_followed_to_the_new_path() {
    let server = MockServer::start().await;
    serve(&server, "windows-server", WINDOWS_SERVER).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/windowsserver"))
        .respond_with(
            ResponseTemplate::new(301).insert_header("Location", "/api/v1/products/windows-server"),
        )
        .expect(2) // once by fetch, once by refresh
        .mount(&server)
        .await;
    let api = api(&server);

    let fetched = api.fetch("windowsserver").await.expect("redirect followed");
    assert!(
        fetched
            .requested_url
            .ends_with("/api/v1/products/windowsserver")
    );
    assert!(
        fetched
            .final_url
            .ends_with("/api/v1/products/windows-server")
    );
    assert_eq!(fetched.body.result.name, "windows-server");

    // The rows keep the identifier asked for; the rename is reported.
    let outcome = eol_api::refresh(&api, &["windowsserver".to_string()], &Catalog::builtin()).await;
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.rows.len(), 20);
    assert!(outcome.rows.iter().all(|r| r.product == "windowsserver"));
    assert_eq!(
        outcome.renamed,
        vec![("windowsserver".to_string(), "windows-server".to_string())]
    );
}

#[tokio::test]
async fn a_302_with_an_absolute_location_is_followed_too() {
    let server = MockServer::start().await;
    serve(&server, "windows", WINDOWS).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/win"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            format!("{}/api/v1/products/windows", server.uri()).as_str(),
        ))
        .mount(&server)
        .await;
    let rows = api(&server)
        .product("win")
        .await
        .expect("redirect followed");
    assert_eq!(rows.len(), 47);
}

#[tokio::test]
async fn a_redirect_loop_is_an_error_not_a_hang() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/loop"))
        .respond_with(ResponseTemplate::new(301).insert_header("Location", "/api/v1/products/loop"))
        .mount(&server)
        .await;
    let err = api(&server)
        .product("loop")
        .await
        .expect_err("too many redirects");
    assert!(
        matches!(err, EolApiError::Transport { attempts: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("\"loop\""), "{err}");
    // the first request and five redirects, no retries
    let requests = server.received_requests().await.expect("recording on");
    assert_eq!(requests.len(), 6);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/windows-server"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    serve(&server, "windows-server", WINDOWS_SERVER).await;

    let started = Instant::now();
    let rows = api(&server)
        .product("windows-server")
        .await
        .expect("fetched after the wait");
    assert_eq!(rows.len(), 20);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
    let requests = server.received_requests().await.expect("recording on");
    assert_eq!(requests.len(), 2);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_cap_is_cut_down_to_the_cap() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/windows-server"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "Fri, 31 Dec 2100 23:59:59 GMT"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/windows-server"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    serve(&server, "windows-server", WINDOWS_SERVER).await;

    let api = api(&server).with_max_retry_wait(Duration::from_millis(100));
    let started = Instant::now();
    let rows = api.product("windows-server").await.expect("fetched");
    assert_eq!(rows.len(), 20);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn endless_rate_limiting_gives_up_after_three_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/windows"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .expect(4)
        .mount(&server)
        .await;
    let err = api(&server)
        .product("windows")
        .await
        .expect_err("rate-limited");
    assert!(
        matches!(err, EolApiError::RateLimited { retries: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("429"), "{err}");
}

#[tokio::test]
async fn a_404_with_an_html_body_is_reported_as_product_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/no-such-product"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            "<!DOCTYPE html><html><head><title>404</title></head><body>Not found</body></html>",
            "text/html",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = api(&server)
        .product("no-such-product")
        .await
        .expect_err("not found");
    let msg = err.to_string();
    assert!(matches!(err, EolApiError::NotFound { .. }), "{msg}");
    assert_eq!(
        msg,
        format!(
            "product \"no-such-product\" not found at {}/api/v1/products/no-such-product",
            server.uri()
        )
    );
    assert!(!msg.to_lowercase().contains("json"), "{msg}");
}

#[tokio::test]
async fn a_schema_version_2_body_is_rejected_naming_the_product_and_version() {
    let server = MockServer::start().await;
    let v2 = WINDOWS_SERVER.replacen("\"1.2.1\"", "\"2.0\"", 1);
    assert_ne!(v2, WINDOWS_SERVER);
    serve(&server, "windows-server", &v2).await;
    let err = api(&server)
        .product("windows-server")
        .await
        .expect_err("refused");
    let msg = err.to_string();
    assert!(
        matches!(&err, EolApiError::UnsupportedSchema { version, .. } if version == "2.0"),
        "{msg}"
    );
    assert!(msg.contains("\"windows-server\""), "{msg}");
    assert!(msg.contains("2.0"), "{msg}");
}

#[tokio::test]
async fn a_body_that_is_not_json_gives_a_clear_error_naming_the_product_and_url() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/windows"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("<html>maintenance</html>", "text/html"),
        )
        .mount(&server)
        .await;
    let err = api(&server).product("windows").await.expect_err("garbage");
    let msg = err.to_string();
    assert!(matches!(err, EolApiError::BadBody { .. }), "{msg}");
    assert!(msg.contains("\"windows\""), "{msg}");
    assert!(
        msg.contains(&format!("{}/api/v1/products/windows", server.uri())),
        "{msg}"
    );
    assert!(msg.contains("<html>maintenance"), "{msg}");
}

#[tokio::test]
async fn json_of_the_wrong_shape_gives_a_clear_error() {
    let server = MockServer::start().await;
    serve(
        &server,
        "windows",
        r#"{"schema_version":"1.2.1","result":{"name":"windows","releases":"none"}}"#,
    )
    .await;
    let err = api(&server)
        .product("windows")
        .await
        .expect_err("wrong shape");
    let msg = err.to_string();
    assert!(matches!(err, EolApiError::BadBody { .. }), "{msg}");
    assert!(
        msg.contains("\"windows\"") && msg.contains("/products/windows"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_server_error_is_retried_and_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/windows"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    serve(&server, "windows", WINDOWS).await;
    let rows = api(&server)
        .product("windows")
        .await
        .expect("third attempt works");
    assert_eq!(rows.len(), 47);
}

#[tokio::test]
async fn a_persistent_server_error_gives_up_after_three_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/windows"))
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .mount(&server)
        .await;
    let err = api(&server)
        .product("windows")
        .await
        .expect_err("server broken");
    assert!(
        matches!(
            err,
            EolApiError::Status {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_slow_server_times_out_per_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/windows"))
        .respond_with(json(WINDOWS).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    init();
    let api = EolApi::new(
        &format!("{}/api/v1", server.uri()),
        Duration::from_millis(200),
    )
    .expect("client")
    .with_backoff(Duration::from_millis(10));
    let started = Instant::now();
    let err = api.product("windows").await.expect_err("timed out");
    assert!(
        matches!(
            err,
            EolApiError::Transport {
                timed_out: true,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    init();
    // Bind then drop a listener, so the port is (almost surely) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let api = EolApi::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2))
        .expect("client")
        .with_backoff(Duration::from_millis(10));
    let err = api.product("windows").await.expect_err("unreachable");
    assert!(matches!(err, EolApiError::Transport { .. }), "{err}");
    assert!(err.to_string().contains("\"windows\""), "{err}");
}

#[tokio::test]
async fn one_failing_product_does_not_stop_the_others_in_refresh() {
    let server = MockServer::start().await;
    serve(&server, "windows-server", WINDOWS_SERVER).await;
    serve(&server, "windows", WINDOWS).await;
    serve(&server, "broken", "not json at all").await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/gone"))
        .respond_with(ResponseTemplate::new(404).set_body_raw("<html>404</html>", "text/html"))
        .mount(&server)
        .await;
    let products: Vec<String> = ["windows-server", "gone", "broken", "windows", "windows"]
        .map(String::from)
        .to_vec();
    let outcome = eol_api::refresh(&api(&server), &products, &Catalog::builtin()).await;

    assert_eq!(outcome.rows.len(), 20 + 47);
    assert!(outcome.rows.iter().any(|r| r.product == "windows-server"));
    assert!(outcome.rows.iter().any(|r| r.product == "windows"));
    let failed: Vec<&str> = outcome.errors.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(failed, ["gone", "broken"]);
    assert!(matches!(outcome.errors[0].1, EolApiError::NotFound { .. }));
    assert!(matches!(outcome.errors[1].1, EolApiError::BadBody { .. }));
    assert!(outcome.renamed.is_empty());
}

#[tokio::test]
async fn refresh_keeps_the_built_in_title_and_category_when_the_api_omits_them() {
    let server = MockServer::start().await;
    let mut body: serde_json::Value = serde_json::from_str(WINDOWS_SERVER).expect("fixture");
    let result = body["result"].as_object_mut().expect("result object");
    result.remove("label");
    result.remove("category");
    let release = body["result"]["releases"][0]
        .as_object_mut()
        .expect("release object");
    release.insert("label".into(), serde_json::Value::Null);
    release.insert("latest".into(), serde_json::Value::Null);
    serve(&server, "windows-server", &body.to_string()).await;

    let builtin = Catalog::builtin();
    let products = vec!["windows-server".to_string()];
    let outcome = eol_api::refresh(&api(&server), &products, &builtin).await;
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    for row in &outcome.rows {
        assert_eq!(row.product_title, "Microsoft Windows Server");
        assert_eq!(row.category, "os");
    }
    let ws2025 = outcome
        .rows
        .iter()
        .find(|r| r.cycle == "2025")
        .expect("2025");
    let old = builtin
        .get("windows-server", "2025")
        .expect("built-in 2025");
    assert_eq!(ws2025.label, old.label);
    assert_eq!(ws2025.latest.as_deref(), Some("10.0.26100"));

    // Without an existing product, the identifier and `app` stand in.
    let rows = eol_api::to_cycles(
        "windows-server",
        &serde_json::from_value(body).expect("typed body"),
        None,
    );
    assert_eq!(rows[0].product_title, "windows-server");
    assert_eq!(rows[0].category, "app");
    assert_eq!(rows[0].label, None);
}
