//! Single sign-on against a real OpenID provider (oidc-provider, started
//! by scripts/test.sh; the key-rotation and outage tests start their own):
//! the authorization-code flow walked through the provider's login form
//! with a cookie jar, the session it opens, the refusals (tampered state,
//! replayed code, wrong nonce, expired or foreign ID tokens, keys the
//! provider never published), machine clients' access tokens, rotation,
//! sign-out, and a provider that is down.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;
use winventory::app::App;
use winventory_core::User;
use winventory_core::store::UserImport;

use crate::common::env;

/// The base URL the provider knows this site by (its registered redirect
/// URI is `http://winventory.test/auth/callback`); the tests drive the
/// router in process, so nothing needs to resolve the name.
pub(crate) const BASE: &str = "http://winventory.test";

/// A site with sign-in against `issuer`, users alice (it-admins), bob
/// (helpdesk) and carol (no group) in its directory.
pub(crate) struct SsoSite {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) app: Arc<App>,
    pub(crate) router: axum::Router,
}

impl SsoSite {
    pub(crate) async fn new(issuer: &str, extra: &str) -> Self {
        Self::new_at(issuer, extra, BASE).await
    }

    /// The same site reached at `base` (a browser test's real address).
    pub(crate) async fn new_at(issuer: &str, extra: &str, base: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let site = Self::on(dir, issuer, &format!("base_url = \"{base}\"\n{extra}")).await;
        site.app
            .store
            .import_users(
                &[
                    user("alice", &["it-admins"]),
                    user("bob", &["helpdesk"]),
                    user("carol", &[]),
                ],
                site.app.clock.now(),
            )
            .await
            .expect("users");
        site
    }

    /// Another process on the same database (a replica).
    async fn on(dir: tempfile::TempDir, issuer: &str, extra: &str) -> Self {
        let config = dir.path().join("winventory.toml");
        std::fs::write(
            &config,
            format!(
                "database = \"sqlite://{}\"\n\
                 link_keys = \"{}\"\n\
                 oidc_issuer = \"{issuer}\"\n\
                 oidc_client_id = \"winventory\"\n\
                 oidc_client_secret = \"winventory-secret\"\n\
                 oidc_api_audience = \"winventory-api\"\n\
                 {extra}\n\
                 [roles]\n\
                 admin = [\"it-admins\"]\n\
                 viewer = [\"helpdesk\"]\n",
                dir.path().join("w.db").display(),
                crate::common::KEYS,
            ),
        )
        .expect("write the configuration");
        let (app, router) = crate::common::in_process(&config).await;
        SsoSite { dir, app, router }
    }

    pub(crate) async fn replica(&self) -> SsoSite {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(
            self.dir.path().join("winventory.toml"),
            dir.path().join("winventory.toml"),
        )
        .expect("copy the configuration");
        // The configuration names the first site's database file.
        let config = dir.path().join("winventory.toml");
        let (app, router) = crate::common::in_process(&config).await;
        SsoSite { dir, app, router }
    }

    /// One request to the site: status, headers, body.
    pub(crate) async fn call(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, String)],
        body: Body,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let response = self
            .router
            .clone()
            .oneshot(req.body(body).expect("a request"))
            .await
            .expect("a response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }
}

pub(crate) fn user(login: &str, groups: &[&str]) -> UserImport {
    UserImport {
        user: User {
            login: login.into(),
            email: Some(format!("{login}@example.org")),
            ..Default::default()
        },
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

/// A browser at the provider: a cookie jar that keeps each cookie's path,
/// no automatic redirects.
struct Browser {
    http: reqwest::Client,
    jar: HashMap<String, (String, String)>,
    issuer: String,
}

impl Browser {
    fn new(issuer: &str) -> Self {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jar: HashMap::new(),
            issuer: issuer.to_string(),
        }
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http") {
            location.to_string()
        } else {
            format!("{}{location}", self.issuer)
        }
    }

    fn cookies_for(&self, url: &str) -> String {
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("/");
        self.jar
            .iter()
            .filter(|(_, (_, p))| path.starts_with(p.as_str()))
            .map(|(k, (v, _))| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for c in response.headers().get_all(header::SET_COOKIE) {
            let Ok(c) = c.to_str() else { continue };
            let mut parts = c.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            let path = parts
                .filter_map(|a| {
                    a.trim()
                        .strip_prefix("path=")
                        .or_else(|| a.trim().strip_prefix("Path="))
                })
                .next()
                .unwrap_or("/")
                .to_string();
            self.jar.insert(name.to_string(), (value.to_string(), path));
        }
    }

    /// A request; the `Location` of its redirect, absolute.
    async fn go(
        &mut self,
        method: Method,
        url: &str,
        form: Option<&str>,
    ) -> (u16, Option<String>, String) {
        let url = self.absolute(url);
        let mut req = self.http.request(method, &url);
        let cookies = self.cookies_for(&url);
        if !cookies.is_empty() {
            req = req.header(header::COOKIE, cookies);
        }
        if let Some(f) = form {
            req = req
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(f.to_string());
        }
        let response = req.send().await.expect("the provider answers");
        self.keep(&response);
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| self.absolute(l));
        (status, location, response.text().await.unwrap_or_default())
    }

    /// From the provider's authorization URL to the redirect back to the
    /// site, through its login form and consent, as `login`.
    async fn sign_in_at_provider(&mut self, authorize: &str, login: &str) -> String {
        let (status, interaction, _) = self.go(Method::GET, authorize, None).await;
        assert_eq!(status, 303, "the provider starts an interaction");
        let interaction = interaction.expect("an interaction");
        let (_, resume, _) = self
            .go(
                Method::POST,
                &interaction,
                Some(&format!("prompt=login&login={login}&password=anything")),
            )
            .await;
        let (_, next, _) = self.go(Method::GET, &resume.expect("resume"), None).await;
        let next = next.expect("after login");
        if next.starts_with(BASE) {
            return next; // refused at login (an unknown account)
        }
        let (_, resume, _) = self.go(Method::POST, &next, Some("prompt=consent")).await;
        let (_, back, _) = self.go(Method::GET, &resume.expect("resume"), None).await;
        let back = back.expect("back to the site");
        assert!(
            back.starts_with(&format!("{BASE}/auth/callback?")),
            "{back}"
        );
        back
    }
}

/// The value of a `Set-Cookie` for `name` among `headers`, and the whole
/// header.
pub(crate) fn set_cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<(String, String)> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| {
            let value = c[name.len() + 1..]
                .split(';')
                .next()
                .unwrap_or("")
                .to_string();
            (value, c.to_string())
        })
}

/// Sign in as `login` on `site` through the provider: the session cookie's
/// value (or the callback's status and page when refused).
pub(crate) async fn sign_in(
    site: &SsoSite,
    issuer: &str,
    login: &str,
) -> Result<String, (StatusCode, String)> {
    let (status, headers, _) = site
        .call(
            Method::GET,
            "/auth/login?return=/campaigns/x",
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let authorize = headers[header::LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    assert!(authorize.starts_with(issuer), "{authorize}");
    for needed in [
        "code_challenge=",
        "code_challenge_method=S256",
        "state=",
        "nonce=",
    ] {
        assert!(authorize.contains(needed), "{needed} in {authorize}");
    }
    let (state, _) = set_cookie(&headers, "wv_sign_in").expect("the sign-in cookie");
    let mut browser = Browser::new(issuer);
    let back = browser.sign_in_at_provider(&authorize, login).await;
    let path = back.strip_prefix(BASE).expect("our callback");
    let (status, headers, page) = site
        .call(
            Method::GET,
            path,
            &[("cookie", format!("wv_sign_in={state}"))],
            Body::empty(),
        )
        .await;
    if status != StatusCode::SEE_OTHER {
        return Err((status, page));
    }
    assert_eq!(
        headers[header::LOCATION],
        "/campaigns/x",
        "back where the person started"
    );
    let (session, whole) = set_cookie(&headers, "wv_session").expect("a session cookie");
    assert!(
        whole.contains("HttpOnly") && whole.contains("SameSite=Lax"),
        "{whole}"
    );
    assert!(!whole.contains("Secure"), "plain http: no Secure ({whole})");
    Ok(session)
}

pub(crate) fn with_session(session: &str) -> Vec<(&'static str, String)> {
    vec![("cookie", format!("wv_session={session}"))]
}

#[tokio::test]
async fn a_person_signs_in_through_the_providers_form_and_the_session_works_on_every_replica() {
    let issuer = env("WINVENTORY_TEST_OIDC_ISSUER");
    let site = SsoSite::new(&issuer, "").await;
    let session = sign_in(&site, &issuer, "alice")
        .await
        .expect("alice signs in");
    let (status, _, me) = site
        .call(
            Method::GET,
            "/auth/session",
            &with_session(&session),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let me: serde_json::Value = serde_json::from_str(&me).expect("json");
    assert_eq!(me["login"], "alice");
    assert_eq!(me["roles"], serde_json::json!(["admin", "owner"]));
    let csrf = me["csrf_token"].as_str().expect("a csrf token").to_string();

    // The API with the session: reads, and changes only with the CSRF token.
    let (status, _, _) = site
        .call(
            Method::GET,
            "/api/v1/tokens",
            &with_session(&session),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let body = r#"{"name": "from-web", "role": "viewer"}"#;
    let json = ("content-type", "application/json".to_string());
    let mut headers = with_session(&session);
    headers.push(json.clone());
    let (status, _, problem) = site
        .call(Method::POST, "/api/v1/tokens", &headers, Body::from(body))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token: {problem}");
    headers.push(("x-csrf-token", "forged".into()));
    let (status, _, _) = site
        .call(Method::POST, "/api/v1/tokens", &headers, Body::from(body))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a wrong CSRF token");
    headers.pop();
    headers.push(("x-csrf-token", csrf.clone()));
    let (status, _, made) = site
        .call(Method::POST, "/api/v1/tokens", &headers, Body::from(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert!(
        site.app
            .store
            .tokens()
            .await
            .expect("tokens")
            .iter()
            .any(|t| t.name == "from-web" && t.created_by == "alice")
    );

    // Another replica on the same database serves the same session.
    let replica = site.replica().await;
    let (status, _, _) = replica
        .call(
            Method::GET,
            "/api/v1/campaigns",
            &with_session(&session),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // A viewer signs in too, and may read but not change.
    let bob = sign_in(&site, &issuer, "bob").await.expect("bob signs in");
    let (status, _, _) = site
        .call(
            Method::GET,
            "/api/v1/campaigns",
            &with_session(&bob),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = site
        .call(
            Method::GET,
            "/api/v1/tokens",
            &with_session(&bob),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An admin ends bob's session: refused at once, on every replica.
    let (status, _, live) = site
        .call(
            Method::GET,
            "/api/v1/sessions",
            &with_session(&session),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let live: serde_json::Value = serde_json::from_str(&live).expect("json");
    let bobs = live
        .as_array()
        .expect("sessions")
        .iter()
        .find(|x| x["login"] == "bob")
        .and_then(|x| x["id"].as_i64())
        .expect("bob's session");
    assert!(!live.to_string().contains(&bob), "the list shows no secret");
    let mut admin = with_session(&session);
    admin.push(("x-csrf-token", csrf.clone()));
    let (status, _, _) = site
        .call(
            Method::DELETE,
            &format!("/api/v1/sessions/{bobs}"),
            &admin,
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = replica
        .call(
            Method::GET,
            "/api/v1/campaigns",
            &with_session(&bob),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An owner without a group reads their own machines only.
    let carol = sign_in(&site, &issuer, "carol")
        .await
        .expect("carol signs in");
    let (status, _, _) = site
        .call(
            Method::GET,
            "/api/v1/campaigns",
            &with_session(&carol),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Each sign-in is in the audit log, with its session.
    let log = site.app.store.audit_log(50).await.expect("audit");
    let sign_ins: Vec<&str> = log
        .iter()
        .filter(|a| a.action == "sign-in")
        .map(|a| a.actor.as_str())
        .collect();
    assert_eq!(sign_ins, ["carol", "bob", "alice"]);

    // Sessions end when idle too long, and at their absolute expiry,
    // whatever their use.
    let now = chrono::Utc::now();
    for (what, created, seen, expires) in [
        (
            "idle for 9 hours",
            now - chrono::Duration::hours(10),
            now - chrono::Duration::hours(9),
            now + chrono::Duration::hours(10),
        ),
        (
            "past its absolute expiry",
            now - chrono::Duration::hours(25),
            now - chrono::Duration::minutes(1),
            now - chrono::Duration::hours(1),
        ),
    ] {
        let secret = format!("stale-{}", what.len());
        let id = site
            .app
            .store
            .create_session(&winventory_core::store::NewSession {
                secret_hash: winventory::http::access::hash_secret(&secret),
                login: "alice".into(),
                roles: "admin,owner".into(),
                csrf: "c".into(),
                id_token: None,
                origin: "test".into(),
                created_at: created,
                expires_at: expires,
            })
            .await
            .expect("a session");
        site.app
            .store
            .touch_session(id, seen)
            .await
            .expect("last use");
        let (status, _, _) = site
            .call(
                Method::GET,
                "/api/v1/campaigns",
                &with_session(&secret),
                Body::empty(),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "a session {what}");
    }

    // Signing out: a GET only shows the button; the POST needs the CSRF
    // token, ends the session, and goes on to the provider's logout.
    let (status, _, page) = site
        .call(
            Method::GET,
            "/auth/logout",
            &with_session(&session),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&csrf));
    let mut form = with_session(&session);
    form.push(("content-type", "application/x-www-form-urlencoded".into()));
    let (status, _, _) = site
        .call(
            Method::POST,
            "/auth/logout",
            &form,
            Body::from("csrf=forged"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a forged sign-out is refused"
    );
    let (status, headers, _) = site
        .call(
            Method::POST,
            "/auth/logout",
            &form,
            Body::from(format!("csrf={csrf}")),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = headers[header::LOCATION].to_str().expect("location");
    assert!(
        to.starts_with(&format!("{issuer}/session/end?")),
        "RP-initiated logout: {to}"
    );
    assert!(
        to.contains("id_token_hint=") && to.contains("post_logout_redirect_uri="),
        "{to}"
    );
    let (status, _, _) = replica
        .call(
            Method::GET,
            "/api/v1/campaigns",
            &with_session(&session),
            Body::empty(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "signed out on every replica"
    );
}

#[tokio::test]
async fn a_tampered_state_a_replayed_code_and_a_stranger_are_refused() {
    let issuer = env("WINVENTORY_TEST_OIDC_ISSUER");
    let site = SsoSite::new(&issuer, "").await;
    let start = || async {
        let (_, headers, _) = site
            .call(Method::GET, "/auth/login", &[], Body::empty())
            .await;
        let authorize = headers[header::LOCATION]
            .to_str()
            .expect("location")
            .to_string();
        let (state, _) = set_cookie(&headers, "wv_sign_in").expect("cookie");
        (authorize, state)
    };
    let callback = |path: String, state: String| {
        let site = &site;
        async move {
            site.call(
                Method::GET,
                &path,
                &[("cookie", format!("wv_sign_in={state}"))],
                Body::empty(),
            )
            .await
        }
    };
    let sessions = || async { site.app.store.sessions(None).await.expect("sessions").len() };

    // A tampered state.
    let (authorize, state) = start().await;
    let back = Browser::new(&issuer)
        .sign_in_at_provider(&authorize, "alice")
        .await;
    let path = back.strip_prefix(BASE).expect("ours").to_string();
    let tampered = path.replace(&format!("state={state}"), "state=tampered");
    let (status, _, page) = callback(tampered, "tampered".into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    assert!(page.contains("Start again"), "{page}");
    // The state of another browser (the cookie does not match).
    let (status, _, _) = callback(path.clone(), "someone-else".into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(sessions().await, 0);

    // The genuine answer once, then replayed.
    let (authorize, state) = start().await;
    let back = Browser::new(&issuer)
        .sign_in_at_provider(&authorize, "alice")
        .await;
    let path = back.strip_prefix(BASE).expect("ours").to_string();
    let (status, _, _) = callback(path.clone(), state.clone()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = callback(path.clone(), state.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the same answer twice");
    // The used code under a fresh sign-in's state: the provider refuses it.
    let (_, fresh) = start().await;
    let code_only = path.replace(&format!("state={state}"), &format!("state={fresh}"));
    let (status, _, page) = callback(code_only, fresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    assert!(page.contains("refused the code"), "{page}");
    assert_eq!(sessions().await, 1);

    // Someone the directory does not know is refused by default.
    let refused = sign_in(&site, &issuer, "stranger")
        .await
        .expect_err("refused");
    assert_eq!(refused.0, StatusCode::UNAUTHORIZED);
    assert!(
        refused.1.contains("not in this site&#x27;s directory")
            || refused.1.contains("not in this site's directory"),
        "{}",
        refused.1
    );
    // A login the provider does not know comes back as its refusal.
    let unknown = sign_in(&site, &issuer, "mallory")
        .await
        .expect_err("refused");
    assert!(unknown.1.contains("access_denied"), "{}", unknown.1);
    let log = site.app.store.audit_log(20).await.expect("audit");
    assert!(log.iter().any(|a| a.action == "sign-in"
        && a.actor == "stranger"
        && a.outcome.starts_with("refused")));
    assert_eq!(sessions().await, 1);

    // Where the site lets strangers in, they are owners of nothing.
    let open = SsoSite::new(&issuer, "oidc_unknown_users = \"owner\"").await;
    let session = sign_in(&open, &issuer, "stranger").await.expect("let in");
    let (_, _, me) = open
        .call(
            Method::GET,
            "/auth/session",
            &with_session(&session),
            Body::empty(),
        )
        .await;
    assert!(me.contains("\"roles\":[\"owner\"]"), "{me}");
}

/// The provider's signing key (the first of its JWKS file).
fn provider_key(dir: &std::path::Path) -> std::path::PathBuf {
    let jwks = env("WINVENTORY_TEST_OIDC_JWKS");
    let path = dir.join("provider-key.json");
    std::fs::copy(jwks, &path).expect("copy the provider's keys");
    path
}

/// A JWT signed by `node oidc-provider.mjs sign KEYFILE`.
fn sign(key: &std::path::Path, claims: serde_json::Value, typ: &str) -> String {
    let mut child = Command::new("node")
        .arg(env("WINVENTORY_TEST_OIDC_SCRIPT"))
        .arg("sign")
        .arg(key)
        .env("JWT_TYP", typ)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(claims.to_string().as_bytes())
        .expect("claims");
    let out = child.wait_with_output().expect("signed");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

fn new_key(dir: &std::path::Path, kid: &str) -> std::path::PathBuf {
    let out = Command::new("node")
        .arg(env("WINVENTORY_TEST_OIDC_SCRIPT"))
        .args(["genkey", kid])
        .output()
        .expect("node genkey");
    assert!(out.status.success());
    let path = dir.join(format!("{kid}.json"));
    std::fs::write(&path, &out.stdout).expect("write the key");
    path
}

#[tokio::test]
async fn id_tokens_with_a_wrong_nonce_an_expiry_past_a_foreign_issuer_or_an_unpublished_key_are_refused()
 {
    let issuer = env("WINVENTORY_TEST_OIDC_ISSUER");
    let site = SsoSite::new(&issuer, "").await;
    let sso = winventory::http::signin::Sso::new(
        site.app.settings.oidc.clone().expect("oidc settings"),
        BASE,
    )
    .expect("sso");
    let key = provider_key(site.dir.path());
    let stranger_key = new_key(site.dir.path(), "never-published");
    let now = chrono::Utc::now();
    let claims = |iss: &str, exp: i64, nonce: &str| {
        serde_json::json!({
            "iss": iss, "aud": "winventory", "sub": "alice", "preferred_username": "alice",
            "iat": now.timestamp() - 10, "exp": exp, "nonce": nonce,
        })
    };
    let nonce = openidconnect::Nonce::new("n-1".into());
    let good = sign(&key, claims(&issuer, now.timestamp() + 300, "n-1"), "JWT");
    let verified = sso
        .verify_id_token(&good, &nonce, now)
        .await
        .expect("a good token");
    assert_eq!(verified["preferred_username"], "alice");
    for (what, token) in [
        (
            "a wrong nonce",
            sign(&key, claims(&issuer, now.timestamp() + 300, "n-2"), "JWT"),
        ),
        (
            "an expired token",
            sign(&key, claims(&issuer, now.timestamp() - 60, "n-1"), "JWT"),
        ),
        (
            "a foreign issuer",
            sign(
                &key,
                claims("https://evil.example", now.timestamp() + 300, "n-1"),
                "JWT",
            ),
        ),
        (
            "a key never published",
            sign(
                &stranger_key,
                claims(&issuer, now.timestamp() + 300, "n-1"),
                "JWT",
            ),
        ),
        ("an altered payload", {
            let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
            use base64::Engine as _;
            let forged = serde_json::json!({"iss": issuer, "aud": "winventory", "sub": "mallory", "preferred_username": "mallory", "iat": now.timestamp(), "exp": now.timestamp() + 300, "nonce": "n-1"});
            parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string());
            parts.join(".")
        }),
    ] {
        let refused = sso.verify_id_token(&token, &nonce, now).await;
        assert!(refused.is_err(), "{what} was accepted");
    }
}

#[tokio::test]
async fn machine_clients_use_the_providers_access_tokens_and_forged_ones_are_refused() {
    let issuer = env("WINVENTORY_TEST_OIDC_ISSUER");
    let site = SsoSite::new(&issuer, "").await;
    let token = |client: &str, secret: &str| {
        let issuer = issuer.clone();
        let (client, secret) = (client.to_string(), secret.to_string());
        async move {
            let response: serde_json::Value = reqwest::Client::new()
                .post(format!("{issuer}/token"))
                .basic_auth(client, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("token endpoint")
                .json()
                .await
                .expect("json");
            response["access_token"]
                .as_str()
                .expect("an access token")
                .to_string()
        }
    };
    let collector = token("collector-ci", "collector-secret").await;
    let bearer = |t: &str| vec![("authorization", format!("Bearer {t}"))];
    let (status, _, summary) = site
        .call(
            Method::POST,
            "/api/v1/snapshots",
            &bearer(&collector),
            Body::from(crate::common::fleet()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let log = site.app.store.audit_log(1).await.expect("audit");
    assert_eq!(log[0].actor, "client:collector-ci");
    assert_eq!(log[0].role, "collector");
    let (status, _, _) = site
        .call(
            Method::GET,
            "/api/v1/machines",
            &bearer(&collector),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a collector reads nothing");
    let viewer = token("viewer-ci", "viewer-secret").await;
    let (status, _, _) = site
        .call(
            Method::GET,
            "/api/v1/machines",
            &bearer(&viewer),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = site
        .call(
            Method::POST,
            "/api/v1/snapshots",
            &bearer(&viewer),
            Body::from(""),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let key = provider_key(site.dir.path());
    let stranger_key = new_key(site.dir.path(), "not-the-providers");
    let now = chrono::Utc::now().timestamp();
    let claims = |iss: &str, aud: &str, exp: i64, roles: serde_json::Value| serde_json::json!({"iss": iss, "aud": aud, "sub": "ci", "client_id": "ci", "iat": now - 5, "exp": exp, "roles": roles});
    let collector_role = serde_json::json!(["collector"]);
    let good = sign(
        &key,
        claims(&issuer, "winventory-api", now + 300, collector_role.clone()),
        "at+jwt",
    );
    let (status, _, _) = site
        .call(
            Method::POST,
            "/api/v1/snapshots",
            &bearer(&good),
            Body::from(crate::common::fleet()),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a well-formed token of the provider's key"
    );
    for (what, forged) in [
        (
            "expired",
            sign(
                &key,
                claims(&issuer, "winventory-api", now - 60, collector_role.clone()),
                "at+jwt",
            ),
        ),
        (
            "for another audience",
            sign(
                &key,
                claims(&issuer, "other-api", now + 300, collector_role.clone()),
                "at+jwt",
            ),
        ),
        (
            "from another issuer",
            sign(
                &key,
                claims(
                    "https://evil.example",
                    "winventory-api",
                    now + 300,
                    collector_role.clone(),
                ),
                "at+jwt",
            ),
        ),
        (
            "signed by an unpublished key",
            sign(
                &stranger_key,
                claims(&issuer, "winventory-api", now + 300, collector_role.clone()),
                "at+jwt",
            ),
        ),
        (
            "without a role",
            sign(
                &key,
                claims(&issuer, "winventory-api", now + 300, serde_json::json!([])),
                "at+jwt",
            ),
        ),
    ] {
        let (status, _, problem) = site
            .call(
                Method::POST,
                "/api/v1/snapshots",
                &bearer(&forged),
                Body::from(crate::common::fleet()),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {problem}");
    }
}

/// A provider of the test's own (its keys are the test's to rotate).
struct OwnProvider {
    child: Child,
    port: u16,
    jwks: std::path::PathBuf,
}

impl OwnProvider {
    async fn start(port: u16, jwks: &std::path::Path) -> Self {
        let child = Command::new("node")
            .arg(env("WINVENTORY_TEST_OIDC_SCRIPT"))
            .arg("serve")
            .env("OIDC_PORT", port.to_string())
            .env("OIDC_JWKS", jwks)
            .env("OIDC_MODULES", env("WINVENTORY_TEST_OIDC_MODULES"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node");
        let p = OwnProvider {
            child,
            port,
            jwks: jwks.to_path_buf(),
        };
        for _ in 0..100 {
            if reqwest::get(format!("{}/.well-known/openid-configuration", p.issuer()))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return p;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("oidc-provider did not start on port {port}");
    }

    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn client_credentials(&self) -> String {
        let response: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer()))
            .basic_auth("collector-ci", Some("collector-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token endpoint")
            .json()
            .await
            .expect("json");
        response["access_token"]
            .as_str()
            .expect("a token")
            .to_string()
    }
}

impl Drop for OwnProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn a_token_signed_after_the_provider_rotated_its_keys_is_accepted_and_sessions_outlive_an_outage()
 {
    let dir = tempfile::tempdir().expect("temp dir");
    let jwks = dir.path().join("jwks.json");
    let port = crate::common::free_port();
    let mut provider = OwnProvider::start(port, &jwks).await;
    let site = SsoSite::new(&provider.issuer(), "").await;
    let upload = |token: String| {
        let site = &site;
        async move {
            site.call(
                Method::POST,
                "/api/v1/snapshots",
                &[("authorization", format!("Bearer {token}"))],
                Body::from(crate::common::fleet()),
            )
            .await
            .0
        }
    };
    assert_eq!(
        upload(provider.client_credentials().await).await,
        StatusCode::OK
    );
    let session = sign_in(&site, &provider.issuer(), "alice")
        .await
        .expect("signed in");

    // Rotate: a new key first, the old one still published.
    provider.stop();
    let new = new_key(dir.path(), "rotated");
    let new_jwk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&new).expect("read")).expect("jwk");
    let mut set: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&provider.jwks).expect("read"))
            .expect("jwks");
    set["keys"].as_array_mut().expect("keys").insert(0, new_jwk);
    std::fs::write(&jwks, set.to_string()).expect("write");
    let mut provider = OwnProvider::start(port, &jwks).await;
    let rotated = provider.client_credentials().await;
    assert!(rotated.split('.').next().is_some_and(|h| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(h)
            .is_ok_and(|b| String::from_utf8_lossy(&b).contains("rotated"))
    }));
    // Within the refetch pause after the first fetch, then after it.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(
        upload(rotated).await,
        StatusCode::OK,
        "signed by the rotated key"
    );

    // The provider goes down: signing in says so, the session keeps working.
    provider.stop();
    let (status, _, page) = site
        .call(
            Method::GET,
            "/api/v1/campaigns",
            &with_session(&session),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // A site that never reached it cannot start a sign-in.
    let fresh = SsoSite::new(&provider.issuer(), "").await;
    let (status, _, page) = fresh
        .call(Method::GET, "/auth/login", &[], Body::empty())
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.contains("cannot be reached") && page.contains("Try again"),
        "{page}"
    );
}
