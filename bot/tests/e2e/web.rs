//! The web pages, driven in process with sessions opened through the real
//! OpenID provider (as `signin.rs` does) and owners' personal links: each
//! role sees what it may and no button it may not press, forged and
//! unconfirmed changes are refused and audited, an owner answers on "my
//! machines", exports hold the campaign's machines, and an answer recorded
//! by another process reaches an open page's stream within a second while
//! another owner's stream never sees it.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use futures::StreamExt as _;
use tower::ServiceExt as _;
use winventory_core::store::CampaignState;

use crate::common::env;
use crate::signin::{SsoSite, sign_in, user, with_session};

pub(crate) const CAMPAIGN: &str = "retire-2012r2";

/// A site with sign-in, the test fleet (SRV-A1 and SRV-A2 of asmith,
/// SRV-J1 of jdoe, SRV-ORPHAN) and the 2012 R2 campaign running.
async fn web_site(issuer: &str) -> SsoSite {
    web_site_at(issuer, crate::signin::BASE).await
}

/// The same site reached at `base`.
pub(crate) async fn web_site_at(issuer: &str, base: &str) -> SsoSite {
    web_site_with(issuer, base, "").await
}

/// The same site with more settings (`extra`, lines of the file).
pub(crate) async fn web_site_with(issuer: &str, base: &str, extra: &str) -> SsoSite {
    let site = SsoSite::new_at(issuer, extra, base).await;
    let now = site.app.clock.now();
    site.app
        .store
        .import_users(&[user("asmith", &[]), user("jdoe", &[])], now)
        .await
        .expect("owners");
    upload(&site, "c", crate::common::fleet()).await;
    let engine = site.app.engine().await.expect("engine");
    engine
        .create(crate::common::campaign_file(), now)
        .await
        .expect("a draft");
    engine
        .set_state(CAMPAIGN, CampaignState::Running, now)
        .await
        .expect("started");
    engine.tick(now).await.expect("its first wave");
    site
}

/// Snapshots uploaded through the API with a new collector token `name`.
async fn upload(site: &SsoSite, name: &str, snapshots: String) {
    let made = winventory::cli::tokens::create(
        site.app.store.as_ref(),
        name,
        "collector",
        "1d",
        "test",
        site.app.clock.now(),
    )
    .await
    .expect("a collector token");
    let (status, _, body) = site
        .call(
            Method::POST,
            "/api/v1/snapshots",
            &[("authorization", format!("Bearer {}", made.secret))],
            Body::from(snapshots),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A personal link's cookie for `login` (what a digest's "my machines" link sets).
async fn link_cookie(site: &SsoSite, login: &str) -> String {
    let engine = site.app.engine().await.expect("engine");
    let signer = engine.signer.clone().expect("link keys");
    let token = signer.sign_personal(login, site.app.clock.now() + chrono::Duration::days(30));
    let (status, headers, _) = site
        .call(
            Method::GET,
            &format!("/me/link/{token}"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/me");
    let (value, whole) = crate::signin::set_cookie(&headers, "wv_me").expect("the link's cookie");
    assert!(
        whole.contains("HttpOnly") && whole.contains("SameSite=Lax"),
        "{whole}"
    );
    format!("wv_me={value}")
}

/// The value of `<input type="hidden" name="csrf" value="...">` in a page.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a csrf field")
        .to_string()
}

fn form(headers: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut h = headers.to_vec();
    h.push(("content-type", "application/x-www-form-urlencoded".into()));
    h
}

#[tokio::test]
async fn each_role_sees_what_it_may_and_forged_or_unconfirmed_changes_are_refused() {
    let issuer = env("WINVENTORY_TEST_OIDC_ISSUER");
    let site = web_site(&issuer).await;

    // Nobody: to the sign-in, which comes back to the page.
    let (status, headers, _) = site
        .call(Method::GET, "/campaigns/retire-2012r2", &[], Body::empty())
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[header::LOCATION],
        "/auth/login?return=%2Fcampaigns%2Fretire-2012r2"
    );

    // An admin: the fleet, its chart, the campaign with its actions.
    let alice = with_session(&sign_in(&site, &issuer, "alice").await.expect("alice"));
    let (status, headers, fleet) = site.call(Method::GET, "/", &alice, Body::empty()).await;
    assert_eq!(status, StatusCode::OK, "{fleet}");
    let csp = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        fleet.contains("<strong>5</strong>"),
        "five machines reporting"
    );
    assert!(
        fleet.contains("<svg") && fleet.contains("machines?os=windows-server"),
        "a chart linking to machines"
    );
    let (status, _, listed) = site
        .call(
            Method::GET,
            "/machines?os=windows-server%3A2012-r2",
            &alice,
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        listed.contains("SRV-A1") && listed.contains("SRV-ORPHAN") && !listed.contains("PC-NEW"),
        "{listed}"
    );
    let (status, _, page) = site
        .call(
            Method::GET,
            "/campaigns/retire-2012r2",
            &alice,
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("data-figure=\"targets\">4<"), "four targets");
    assert!(page.contains("data-series=\"open\""), "the burn-down");
    assert!(
        page.contains("name=\"action\" value=\"pause\""),
        "an admin may pause"
    );
    let alice_csrf = csrf_of(&page);

    // A viewer: the same page without a button; a forged POST is refused and audited.
    let bob = with_session(&sign_in(&site, &issuer, "bob").await.expect("bob"));
    let (status, _, page) = site
        .call(Method::GET, "/campaigns/retire-2012r2", &bob, Body::empty())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains("name=\"action\""),
        "a viewer finds no action"
    );
    let bob_csrf = csrf_of(&page);
    let (status, _, _) = site
        .call(
            Method::POST,
            "/campaigns/retire-2012r2",
            &form(&bob),
            Body::from(format!("csrf={bob_csrf}&action=pause&confirm=yes")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The admin's own POST without the page's token, or unconfirmed, changes nothing.
    let (status, _, _) = site
        .call(
            Method::POST,
            "/campaigns/retire-2012r2",
            &form(&alice),
            Body::from("action=pause&confirm=yes"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
    let (status, _, confirm) = site
        .call(
            Method::POST,
            "/campaigns/retire-2012r2",
            &form(&alice),
            Body::from(format!("csrf={alice_csrf}&action=pause")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        confirm.contains("name=\"confirm\" value=\"yes\""),
        "asks first"
    );
    let state = |site: &SsoSite| {
        let store = site.app.store.clone();
        async move {
            store
                .campaign(CAMPAIGN)
                .await
                .expect("read")
                .expect("campaign")
                .state
        }
    };
    assert_eq!(
        state(&site).await,
        CampaignState::Running,
        "nothing changed yet"
    );

    // A second campaign asks about the same servers.
    let engine = site.app.engine().await.expect("engine");
    let now = site.app.clock.now();
    let second = crate::common::campaign_file().replace("retire-2012r2", "second-look");
    engine
        .create(&second, now)
        .await
        .expect("a second campaign");
    engine
        .set_state("second-look", CampaignState::Running, now)
        .await
        .expect("start it");
    engine.tick(now).await.expect("its wave");

    // An owner through their personal link: their machines, answered here.
    let asmith = vec![("cookie", link_cookie(&site, "asmith").await)];
    let (status, _, mine) = site.call(Method::GET, "/me", &asmith, Body::empty()).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert!(
        mine.contains("SRV-A1") && mine.contains("SRV-A2") && !mine.contains("SRV-J1"),
        "{mine}"
    );
    for (path, expected) in [
        ("/campaigns", StatusCode::FORBIDDEN),
        ("/", StatusCode::FORBIDDEN),
        ("/machines/SRV-J1", StatusCode::NOT_FOUND),
        ("/machines/SRV-A1", StatusCode::OK),
    ] {
        let (status, _, _) = site.call(Method::GET, path, &asmith, Body::empty()).await;
        assert_eq!(status, expected, "{path} by an owner's link");
    }
    let (status, _, done) = site
        .call(
            Method::POST,
            "/me",
            &form(&asmith),
            Body::from(format!(
                "csrf={}&campaign={CAMPAIGN}&host=SRV-A1&answer=decommission",
                csrf_of(&mine)
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("Recorded for SRV-A1"), "{done}");
    // Each form answers its own campaign's question: the other campaign's
    // SRV-A1 is still open, and a campaign that is not theirs is refused.
    let answer_in = |name: &'static str| {
        let store = site.app.store.clone();
        async move {
            let c = store.campaign(name).await.expect("read").expect("campaign");
            store
                .campaign_machines(c.id)
                .await
                .expect("machines")
                .into_iter()
                .find(|m| m.host_key == "srv-a1")
                .expect("SRV-A1")
                .answer
        }
    };
    assert_eq!(answer_in(CAMPAIGN).await.as_deref(), Some("decommission"));
    assert_eq!(
        answer_in("second-look").await,
        None,
        "the other campaign's question"
    );
    let (status, _, refused) = site
        .call(
            Method::POST,
            "/me",
            &form(&asmith),
            Body::from(format!(
                "csrf={}&campaign=no-such&host=SRV-A2&answer=decommission",
                csrf_of(&mine)
            )),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(answer_in("second-look").await, None);
    let (status, _, refused) = site
        .call(
            Method::POST,
            "/me",
            &form(&asmith),
            Body::from(format!(
                "csrf={}&campaign={CAMPAIGN}&host=SRV-J1&answer=decommission",
                csrf_of(&mine)
            )),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another's machine: {refused}"
    );
    let (status, _, _) = site
        .call(Method::GET, "/me/link/k1.forged", &[], Body::empty())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a forged link");

    // Exports hold the campaign's machines.
    let (status, headers, csv) = site
        .call(
            Method::GET,
            "/campaigns/retire-2012r2?show=answered&format=csv",
            &alice,
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].starts_with("SRV-A1,asmith,answered,decommission"),
        "{csv}"
    );

    // Confirmed, the admin's pause is done and audited on the web channel.
    let (status, headers, _) = site
        .call(
            Method::POST,
            "/campaigns/retire-2012r2",
            &form(&alice),
            Body::from(format!("csrf={alice_csrf}&action=pause&confirm=yes")),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[header::LOCATION],
        "/campaigns/retire-2012r2?done=pause"
    );
    assert_eq!(state(&site).await, CampaignState::Paused);
    let audit = site.app.store.audit_log(50).await.expect("audit");
    assert!(
        audit.iter().any(|a| a.channel == "web"
            && a.actor == "alice"
            && a.action == "pause"
            && a.outcome == "done"),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|a| a.channel == "web" && a.actor == "bob" && a.outcome.starts_with("refused")),
        "{audit:?}"
    );

    // The fleet's figures are kept between views and counted again once an ingest finishes.
    let at = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let one_more = format!(
        r#"{{"hostname": "PC-LATE", "collected_at": "{at}", "os": {{"caption": "Microsoft Windows 11 Enterprise", "version": "10.0.26100", "edition": "Enterprise", "product_type": 1}}}}"#
    );
    upload(&site, "c2", one_more).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, _, fleet) = site.call(Method::GET, "/", &alice, Body::empty()).await;
    assert!(
        fleet.contains("<strong>6</strong>"),
        "the new machine is counted after its ingest"
    );
}

/// Collect a stream's text until `until` is in it or `wait` passes.
async fn read_until(
    body: &mut (impl futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    text: &mut String,
    until: &str,
    wait: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while !text.contains(until) {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return false,
        }
    }
    true
}

async fn open_stream(
    site: &SsoSite,
    headers: &[(&str, String)],
) -> impl futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin {
    let mut req = axum::http::Request::builder().uri("/events");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let response = site
        .router
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    response.into_body().into_data_stream()
}

#[tokio::test]
async fn an_answer_recorded_by_another_process_reaches_an_open_page_within_a_second_and_no_other_owner()
 {
    let issuer = env("WINVENTORY_TEST_OIDC_ISSUER");
    let site = web_site(&issuer).await;
    let session = sign_in(&site, &issuer, "alice").await.expect("alice");
    let alice = with_session(&session);
    let before = site.app.store.last_change().await.expect("last change");
    let mut admin = open_stream(&site, &alice).await;
    let jdoe = vec![("cookie", link_cookie(&site, "jdoe").await)];
    let mut other_owner = open_stream(&site, &jdoe).await;

    // asmith answers through another process on the same database.
    let replica = site.replica().await;
    let asmith = vec![("cookie", link_cookie(&replica, "asmith").await)];
    let (_, _, mine) = replica
        .call(Method::GET, "/me", &asmith, Body::empty())
        .await;
    let answered_at = Instant::now();
    let (status, _, done) = replica
        .call(
            Method::POST,
            "/me",
            &form(&asmith),
            Body::from(format!(
                "csrf={}&campaign={CAMPAIGN}&host=SRV-A2&answer=decommission",
                csrf_of(&mine)
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");

    let mut seen = String::new();
    assert!(
        read_until(&mut admin, &mut seen, "\"open\":3", Duration::from_secs(1)).await,
        "the counts reach the admin's page within a second: {seen:?}"
    );
    let took = answered_at.elapsed();
    assert!(
        seen.contains("event: change")
            && seen.contains("\"host\":\"SRV-A2\"")
            && seen.contains("\"state\":\"answered\""),
        "{seen}"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
    let mut theirs = String::new();
    read_until(
        &mut other_owner,
        &mut theirs,
        "SRV-A2",
        Duration::from_millis(600),
    )
    .await;
    assert!(
        !theirs.contains("SRV-A2") && !theirs.contains("figures"),
        "another owner's stream carries nothing of it: {theirs:?}"
    );

    // A page that lost its stream resumes from the last id it saw.
    let mut resumed_headers = alice.clone();
    resumed_headers.push(("last-event-id", before.to_string()));
    let mut resumed = open_stream(&site, &resumed_headers).await;
    let mut again = String::new();
    assert!(
        read_until(&mut resumed, &mut again, "SRV-A2", Duration::from_secs(2)).await,
        "{again:?}"
    );

    // Changes pruned from the log since the page's last id: it is told to reload.
    let far = chrono::Utc::now() + chrono::Duration::days(1);
    site.app.store.prune_changes(far).await.expect("prune");
    let (_, _, mine) = site.call(Method::GET, "/me", &asmith, Body::empty()).await;
    let (status, _, _) = site
        .call(
            Method::POST,
            "/me",
            &form(&asmith),
            Body::from(format!(
                "csrf={}&campaign={CAMPAIGN}&host=SRV-A1&answer=decommission",
                csrf_of(&mine)
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut stale = open_stream(&site, &resumed_headers).await;
    let mut told = String::new();
    assert!(
        read_until(
            &mut stale,
            &mut told,
            "event: reload",
            Duration::from_secs(2)
        )
        .await,
        "a page whose missed changes were pruned reloads: {told:?}"
    );

    // A revoked session ends its stream.
    let sessions = site.app.store.sessions(None).await.expect("sessions");
    let id = sessions
        .iter()
        .find(|s| s.login == "alice")
        .expect("alice's session")
        .id;
    site.app
        .store
        .revoke_session(id, site.app.clock.now())
        .await
        .expect("revoke");
    let mut end = String::new();
    assert!(
        read_until(
            &mut admin,
            &mut end,
            "event: signed-out",
            Duration::from_secs(8)
        )
        .await,
        "the stream closes after its session is revoked: {end:?}"
    );
}

#[tokio::test]
async fn exceptions_are_decided_on_their_page_with_a_reason_and_the_audit_log_and_a_person_are_shown()
 {
    let issuer = env("WINVENTORY_TEST_OIDC_ISSUER");
    let site = web_site(&issuer).await;
    // asmith asks for an exception on "my machines".
    let asmith = vec![("cookie", link_cookie(&site, "asmith").await)];
    let (_, _, mine) = site.call(Method::GET, "/me", &asmith, Body::empty()).await;
    let until = (site.app.clock.now() + chrono::Duration::days(60)).date_naive();
    let (status, _, done) = site
        .call(
            Method::POST,
            "/me",
            &form(&asmith),
            Body::from(format!(
                "csrf={}&campaign={CAMPAIGN}&host=SRV-A2&answer=exception&date={until}&detail=runs+the+old+lab+software",
                csrf_of(&mine)
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");

    // A viewer sees the request and no button.
    let bob = with_session(&sign_in(&site, &issuer, "bob").await.expect("bob"));
    let (status, _, page) = site
        .call(Method::GET, "/exceptions", &bob, Body::empty())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("SRV-A2") && page.contains("runs the old lab software"),
        "{page}"
    );
    assert!(
        !page.contains("value=\"approve\""),
        "a viewer decides nothing"
    );

    // An admin must give a reason to decline; approving is done and audited.
    let alice = with_session(&sign_in(&site, &issuer, "alice").await.expect("alice"));
    let (_, _, page) = site
        .call(Method::GET, "/exceptions", &alice, Body::empty())
        .await;
    assert!(page.contains("value=\"approve\""));
    let csrf = csrf_of(&page);
    let (status, _, _) = site
        .call(
            Method::POST,
            "/exceptions",
            &form(&alice),
            Body::from(format!(
                "csrf={csrf}&campaign={CAMPAIGN}&host=SRV-A2&decision=decline&note="
            )),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a decline needs a reason"
    );
    let (status, _, _) = site
        .call(
            Method::POST,
            "/exceptions",
            &form(&bob),
            Body::from(format!(
                "csrf={csrf}&campaign={CAMPAIGN}&host=SRV-A2&decision=approve"
            )),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer's forged decision");
    let (status, headers, _) = site
        .call(
            Method::POST,
            "/exceptions",
            &form(&alice),
            Body::from(format!("csrf={csrf}&campaign={CAMPAIGN}&host=SRV-A2&decision=approve&note=until+the+new+lab")),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers[header::LOCATION]
            .to_str()
            .expect("location")
            .starts_with("/exceptions?done=")
    );
    let (_, _, all) = site
        .call(Method::GET, "/exceptions?all=1", &alice, Body::empty())
        .await;
    assert!(
        all.contains("approved") && all.contains("until the new lab"),
        "{all}"
    );

    // The audit log shows both decisions' attempts; a person's page their machines.
    let (status, _, audit) = site
        .call(Method::GET, "/audit", &alice, Body::empty())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        audit.contains("decide-exception")
            && audit.contains("done: approve")
            && audit.contains("refused: 403 (role)"),
        "{audit}"
    );
    let (status, _, person) = site
        .call(Method::GET, "/people/asmith", &bob, Body::empty())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        person.contains("SRV-A1") && person.contains("SRV-A2") && person.contains("PC-NEW"),
        "{person}"
    );
    let (status, _, _) = site
        .call(Method::GET, "/people/asmith", &asmith, Body::empty())
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an owner's link opens no one else's page"
    );
}

#[tokio::test]
async fn the_licences_page_shows_cost_and_compliance_and_its_what_if_form_simulates() {
    let issuer = env("WINVENTORY_TEST_OIDC_ISSUER");
    let files = tempfile::tempdir().expect("temp dir");
    let book = files.path().join("licences.toml");
    std::fs::write(&book, crate::licences::licence_file()).expect("licence file");
    let site = SsoSite::new(&issuer, &format!("licences = \"{}\"", book.display())).await;
    upload(&site, "c", crate::licences::fleet()).await;

    let bob = with_session(&sign_in(&site, &issuer, "bob").await.expect("bob"));
    let (status, _, page) = site
        .call(Method::GET, "/licences", &bob, Body::empty())
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("matlab-campus") && page.contains("acrobat"),
        "{page}"
    );
    assert!(
        page.contains("class=\"error\">over by 1<"),
        "three MATLAB users for two seats: {page}"
    );
    let (status, _, sim) = site
        .call(
            Method::GET,
            "/licences/matlab-campus/whatif?price=100&model=&period=&drop_unused=90&drop_stale=true",
            &bob,
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sim}");
    assert!(
        sim.contains("name=\"price\" inputmode=\"decimal\" value=\"100\""),
        "the form keeps what was asked"
    );
    let (status, _, bad) = site
        .call(
            Method::GET,
            "/licences/matlab-campus/whatif?price=cheap",
            &bob,
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.contains("price: &quot;cheap&quot; is not an amount")
            || bad.contains("price: \"cheap\" is not an amount"),
        "{bad}"
    );
    let (status, _, _) = site
        .call(Method::GET, "/licences/no-such/whatif", &bob, Body::empty())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let ann = vec![("cookie", link_cookie(&site, "ann").await)];
    let (status, _, _) = site
        .call(Method::GET, "/licences", &ann, Body::empty())
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an owner reads no licence report"
    );
}

#[tokio::test]
async fn the_fleet_is_shown_per_group_and_for_software_a_campaign_per_group_and_the_audit_log_a_page_at_a_time()
 {
    let issuer = env("WINVENTORY_TEST_OIDC_ISSUER");
    let site = web_site(&issuer).await;
    let now = site.app.clock.now();
    site.app
        .store
        .import_users(
            &[user("asmith", &["physics"]), user("jdoe", &["chemistry"])],
            now,
        )
        .await
        .expect("groups");
    // One more machine, jdoe's, with Python 3.11 (ends within 24 months) and 3.8 (ended).
    let at = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let python = |v: &str| {
        format!(
            r#"{{"name": "Python {v} (64-bit)", "version": "{v}", "publisher": "Python Software Foundation"}}"#
        )
    };
    let snapshot = format!(
        r#"{{"hostname": "PC-SOFT", "collected_at": "{at}", "os": {{"caption": "Microsoft Windows 11 Enterprise", "version": "10.0.26100", "edition": "Enterprise", "product_type": 1}}, "main_user": "jdoe", "software": [{}, {}]}}"#,
        python("3.11.9"),
        python("3.8.10")
    );
    upload(&site, "c2", snapshot).await;
    let alice = with_session(&sign_in(&site, &issuer, "alice").await.expect("alice"));
    let get = |path: &'static str| {
        let (site, alice) = (&site, &alice);
        async move {
            let (status, _, page) = site.call(Method::GET, path, alice, Body::empty()).await;
            assert_eq!(status, StatusCode::OK, "{path}: {page}");
            page
        }
    };

    // The fleet in a group: asmith's machines (two servers, a PC) or jdoe's.
    let physics = get("/?group=physics").await;
    assert!(physics.contains("<strong>3</strong>"), "{physics}");
    assert!(
        physics.contains("machines?os=windows-server&amp;group=physics"),
        "rows lead to the group's machines: {physics}"
    );
    assert!(
        physics.contains("<option value=\"chemistry\">"),
        "the groups are offered"
    );
    let chemistry = get("/?group=chemistry").await;
    assert!(chemistry.contains("<strong>2</strong>"), "{chemistry}");

    // Software the same way: its table, its chart, to the machines behind a bar.
    let software = get("/?view=software").await;
    assert!(software.contains("Python"), "{software}");
    assert!(
        software.contains("/machines?software=python%3A3.11"),
        "a bar of the months ahead leads to its machines: {software}"
    );
    assert!(
        software.contains("machines?software=python&amp;ended=1"),
        "the ended installs lead to their machines: {software}"
    );
    let none = get("/?view=software&group=physics").await;
    assert!(!none.contains("Python"), "asmith has no Python: {none}");
    let listed = get("/machines?software=python%3A3.11&group=chemistry").await;
    assert!(
        listed.contains("PC-SOFT") && !listed.contains("SRV-J1"),
        "{listed}"
    );
    let (status, _, page) = site
        .call(Method::GET, "/?view=apps", &alice, Body::empty())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("one of os, software"), "{page}");

    // The campaign per group: physics has SRV-A1 and SRV-A2, chemistry SRV-J1.
    let page = get("/campaigns/retire-2012r2").await;
    let groups = page
        .split("id=\"pg\"")
        .nth(1)
        .and_then(|r| r.split("</section>").next())
        .expect("the per-group section");
    let row = |g: &str| {
        groups
            .split(&format!(">{g}</a></th>"))
            .nth(1)
            .and_then(|r| r.split("</tr>").next())
            .map(|r| {
                r.split("<td class=\"num\">")
                    .skip(1)
                    .map(|c| c.split('<').next().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(row("physics"), ["2", "2", "0", "0", "0%"], "{groups}");
    assert_eq!(row("chemistry"), ["1", "1", "0", "0", "0%"], "{groups}");
    assert!(
        page.contains("UTC"),
        "the burn-down's days are named in their zone"
    );

    // The audit log a page at a time, newest first, and filtered.
    for i in 0..250 {
        site.app
            .store
            .audit(&winventory_core::store::AuditEntry {
                at: now,
                channel: "cli".into(),
                actor: if i % 2 == 0 { "carol" } else { "dave" }.into(),
                role: "operator".into(),
                action: "campaign remind".into(),
                target: format!("line-{i:03}"),
                command: "campaign remind".into(),
                outcome: "done: ok".into(),
                origin: "test".into(),
            })
            .await
            .expect("audit");
    }
    let first = get("/audit").await;
    assert!(
        first.contains("line-249") && !first.contains("line-049"),
        "the newest 200"
    );
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a link to older lines")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    let (status, _, older) = site.call(Method::GET, &next, &alice, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        older.contains("line-049") && !older.contains("line-249"),
        "{older}"
    );
    let carol = get("/audit?actor=carol").await;
    assert!(
        carol.contains("line-248") && !carol.contains("line-247"),
        "only carol's lines"
    );
}
