//! `winventory bench ...`: measurements run by hand (never by CI), each
//! beside its baseline in the same run. See docs/benchmarks.md.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;
use winventory_core::store::NewMessage;
use winventory_workflows::delivery::{DeliveryConfig, Worker};

use crate::app::App;
use crate::channels::email::EmailChannel;
use crate::cli::output::outln;

/// `winventory bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Delivery throughput to the configured SMTP server: the outbox and
    /// worker (claim, send, record) against a plain lettre send loop of the
    /// same messages to the same server (the baseline), in one run.
    Delivery {
        /// Messages in each of the two runs.
        #[arg(long, default_value_t = 500)]
        messages: usize,
        /// Recipient domain (addresses are benchN@DOMAIN).
        #[arg(long, default_value = "bench.invalid")]
        domain: String,
    },
    /// Print the bodies of verified Mattermost button clicks (the
    /// integration request Mattermost sends), one JSON object per line, for
    /// COUNT different owners of CAMPAIGN's open machines (each on one of
    /// their machines, answers alternating between replace and decommission),
    /// signed with the site's link keys. Each owner's Mattermost digest in
    /// the outbox is given a post id, which the click carries, so the
    /// handler rebuilds the real post as it would in production. What `oha
    /// -Z` posts to `/mattermost/actions` in scripts/bench-mattermost.sh.
    ClickBody {
        /// Campaign id or name.
        #[arg(long)]
        campaign: String,
        /// How many clicks (distinct owners; fewer if fewer are asked).
        #[arg(long, default_value_t = 1000)]
        count: usize,
    },
    /// Software matching: every distinct title a generated 100,000-machine
    /// fleet draws from, matched by the indexed matcher (the rules whose
    /// literal prefix begins the title, one Aho-Corasick pass; the rules
    /// without one, one RegexSet pass; then those candidates in order)
    /// against trying each rule's regex in turn (rules × titles, the
    /// baseline), in one run; building the rules timed too. Prints the
    /// median of ROUNDS.
    Matching {
        /// Passes over all titles per matcher.
        #[arg(long, default_value_t = 11)]
        rounds: usize,
        /// Site rules to put ahead of the shipped ones (application rules
        /// for in-house titles the fleet does not have), to show what the
        /// number of rules costs each matcher.
        #[arg(long, default_value_t = 0)]
        extra_rules: usize,
    },
    /// Bearer verification per request: an API token through the cache
    /// (hash and look-up), the same token read from the database each time
    /// (the baseline: no cache), and, with `--issuer`, a client-credentials
    /// JWT of that OpenID provider verified against its cached JWKS.
    /// Prints the median of ROUNDS passes of 10,000 checks each.
    Auth {
        /// Passes.
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        /// An OpenID provider to get a client-credentials token from.
        #[arg(long)]
        issuer: Option<String>,
        /// Its machine client.
        #[arg(long, default_value = "collector-ci")]
        client_id: String,
        /// That client's secret.
        #[arg(long, default_value = "collector-secret")]
        client_secret: String,
        /// The audience its tokens carry.
        #[arg(long, default_value = "winventory-api")]
        audience: String,
    },
    /// Read every machine through the paginated API of a running `serve`
    /// (`GET /api/v1/machines?freshness=any&limit=LIMIT`, following
    /// `next`), with TOKEN; prints machines, pages and the time taken.
    ApiPages {
        /// The server, `http://HOST:PORT`.
        #[arg(long)]
        base: String,
        /// A bearer token that may read the fleet.
        #[arg(long, env = "WINVENTORY_BENCH_TOKEN")]
        token: String,
        /// Machines per page.
        #[arg(long, default_value_t = 5000)]
        limit: usize,
    },
    /// Open a sign-in session for LOGIN with ROLES directly in the store (no
    /// provider round trip) and print its cookie (`wv_session=...`): what
    /// oha sends to measure the web pages signed in.
    Session {
        /// Who.
        #[arg(long)]
        login: String,
        /// Roles, comma-separated (`admin`, `viewer`...).
        #[arg(long, default_value = "admin")]
        roles: String,
    },
    /// Live pages: open STREAMS event streams (`/events`) on a running
    /// `serve` with COOKIE, record one answer for an open machine of
    /// CAMPAIGN in the store (as another process would), and time until
    /// every stream has it; with `--pid`, the server's resident memory
    /// before and after the streams opened.
    Live {
        /// The server, `http://HOST:PORT`.
        #[arg(long)]
        base: String,
        /// A session cookie (`wv_session=...`, from `bench session`).
        #[arg(long)]
        cookie: String,
        /// Streams to open.
        #[arg(long, default_value_t = 1000)]
        streams: usize,
        /// Campaign id or name.
        #[arg(long)]
        campaign: String,
        /// The server's process id (for its memory).
        #[arg(long)]
        pid: Option<u32>,
    },
    /// Serve a bare axum handler that answers 200 to any POST, on LISTEN:
    /// the ceiling the callback endpoint is measured against.
    HttpCeiling {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8099")]
        listen: String,
    },
}

fn body(i: usize) -> (String, String, String) {
    let text = format!(
        "Hello bench{i},\n\nPlease tell us what will happen to these machines:\n{}\n",
        (0..5)
            .map(|m| format!("* PC{i}-{m} - Windows 10 22H2 (end of life 2025-10-14)\n    Will upgrade: https://winventory.example.org/answer/k1.{}\n", "x".repeat(120)))
            .collect::<String>()
    );
    let html = format!("<html><body><pre>{text}</pre></body></html>");
    (format!("bench digest {i}"), text, html)
}

/// Run a benchmark.
pub async fn run(app: &App, cmd: BenchCommand) -> Result<u8> {
    match cmd {
        BenchCommand::Delivery { messages, domain } => delivery(app, messages, &domain).await,
        BenchCommand::ClickBody { campaign, count } => click_body(app, &campaign, count).await,
        BenchCommand::HttpCeiling { listen } => http_ceiling(&listen).await,
        BenchCommand::Auth {
            rounds,
            issuer,
            client_id,
            client_secret,
            audience,
        } => auth(app, rounds, issuer, &client_id, &client_secret, &audience).await,
        BenchCommand::ApiPages { base, token, limit } => api_pages(&base, &token, limit).await,
        BenchCommand::Session { login, roles } => session(app, &login, &roles).await,
        BenchCommand::Live {
            base,
            cookie,
            streams,
            campaign,
            pid,
        } => live(app, &base, &cookie, streams, &campaign, pid).await,
        BenchCommand::Matching {
            rounds,
            extra_rules,
        } => matching(app, rounds, extra_rules),
    }
}

/// Median per-check time of `rounds` passes of `checks` calls of `f`.
async fn per_check<F, Fut>(rounds: usize, checks: usize, mut f: F) -> Result<std::time::Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        for _ in 0..checks {
            f().await?;
        }
        times.push(t.elapsed() / checks as u32);
    }
    times.sort_unstable();
    Ok(times[times.len() / 2])
}

async fn auth(
    app: &App,
    rounds: usize,
    issuer: Option<String>,
    client_id: &str,
    client_secret: &str,
    audience: &str,
) -> Result<u8> {
    use crate::http::access::{Access, hash_secret};
    use axum::http::{HeaderMap, HeaderValue, header};
    const CHECKS: usize = 10_000;
    let now = app.clock.now();
    let store = app.store.clone();
    let name = format!("bench-{}", now.timestamp_micros());
    let made = crate::cli::tokens::create(store.as_ref(), &name, "viewer", "1d", "bench", now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", made.secret))?,
    );
    let access = Access::new(store.clone(), None);
    access
        .bearer(&headers, now, false, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cached = per_check(rounds, CHECKS, || async {
        access
            .bearer(&headers, now, false, None)
            .await
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("{e}"))
    })
    .await?;
    let hash = hash_secret(&made.secret);
    let uncached = per_check(rounds, CHECKS / 10, || async {
        store
            .token_by_hash(&hash)
            .await?
            .filter(|t| t.is_valid(now))
            .context("the token")?;
        Ok(())
    })
    .await?;
    outln!(
        "API token through the cache (SHA-256 + map): {:.1} µs per request",
        cached.as_secs_f64() * 1e6
    );
    outln!(
        "API token read from the database each time ({:?}, the baseline): {:.1} µs per request",
        store.backend(),
        uncached.as_secs_f64() * 1e6
    );
    store.revoke_token(&name, now).await?;
    if let Some(issuer) = issuer {
        let response: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/token", issuer.trim_end_matches('/')))
            .basic_auth(client_id, Some(client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let jwt = response["access_token"]
            .as_str()
            .context("no access_token from the provider")?
            .to_string();
        let sso = crate::http::signin::Sso::new(
            crate::settings::OidcSettings {
                issuer,
                client_id: "winventory".into(),
                client_secret: crate::settings::Secret::from("unused".to_string()),
                user_claim: "preferred_username".into(),
                groups_claim: "groups".into(),
                roles_claim: "roles".into(),
                api_audience: audience.into(),
                unknown_users_are_owners: false,
            },
            "http://bench.invalid",
        )?;
        sso.verify_access_token(&jwt, now).await?;
        let jwt_time = per_check(rounds, CHECKS, || async {
            sso.verify_access_token(&jwt, now).await?;
            Ok(())
        })
        .await?;
        let first_time = per_check(rounds, CHECKS / 10, || async {
            sso.verify_access_token_uncached(&jwt, now).await?;
            Ok(())
        })
        .await?;
        outln!(
            "provider JWT seen before (SHA-256 + map, until its expiry): {:.1} µs per request",
            jwt_time.as_secs_f64() * 1e6
        );
        outln!(
            "provider JWT seen for the first time (RS256 signature, issuer, audience, expiry against the cached JWKS): {:.1} µs",
            first_time.as_secs_f64() * 1e6
        );
    }
    Ok(0)
}

async fn api_pages(base: &str, token: &str, limit: usize) -> Result<u8> {
    let http = reqwest::Client::new();
    let base = base.trim_end_matches('/');
    let t = Instant::now();
    let (mut machines, mut pages) = (0usize, 0usize);
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/machines?freshness=any&limit={limit}");
        if let Some(a) = &after {
            url.push_str("&after=");
            url.push_str(a);
        }
        let page: serde_json::Value = http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        pages += 1;
        machines += page["machines"].as_array().map(Vec::len).unwrap_or(0);
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    outln!(
        "{machines} machines in {pages} pages of up to {limit}: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    Ok(0)
}

async fn session(app: &App, login: &str, roles: &str) -> Result<u8> {
    for r in roles.split(',') {
        r.trim()
            .parse::<winventory_core::access::Role>()
            .map_err(|_| anyhow::anyhow!("--roles: {r:?} is not a role"))?;
    }
    let secret = crate::http::access::random_token();
    let now = app.clock.now();
    app.store
        .create_session(&winventory_core::store::NewSession {
            secret_hash: crate::http::access::hash_secret(&secret),
            login: login.to_string(),
            roles: roles.to_string(),
            csrf: crate::http::access::random_token(),
            id_token: None,
            origin: "bench".into(),
            created_at: now,
            expires_at: now + chrono::Duration::hours(8),
        })
        .await?;
    outln!("wv_session={secret}");
    Ok(0)
}

fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

async fn live(
    app: &App,
    base: &str,
    cookie: &str,
    streams: usize,
    campaign: &str,
    pid: Option<u32>,
) -> Result<u8> {
    use futures::StreamExt as _;
    let engine = app.engine().await?;
    let c = engine.campaign(campaign).await?;
    let target = app
        .store
        .campaign_machines_page(
            c.row.id,
            winventory_core::store::MachinesShown::Open,
            None,
            1,
        )
        .await?
        .into_iter()
        .next()
        .context("the campaign has no open machine left to answer")?;
    let before = pid.and_then(resident_kib);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    let url = format!("{}/events", base.trim_end_matches('/'));
    let needle = format!("\"host\":\"{}\"", target.hostname);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(streams);
    let (got_tx, mut got_rx) = tokio::sync::mpsc::channel::<Instant>(streams);
    let opened = Instant::now();
    for _ in 0..streams {
        let (http, url, cookie, needle) = (
            http.clone(),
            url.clone(),
            cookie.to_string(),
            needle.clone(),
        );
        let (ready, got) = (ready_tx.clone(), got_tx.clone());
        tokio::spawn(async move {
            let Ok(r) = http.get(&url).header("cookie", cookie).send().await else {
                return;
            };
            if !r.status().is_success() {
                return;
            }
            let _ = ready.send(()).await;
            let mut body = r.bytes_stream();
            let mut seen = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains(&needle) {
                    let _ = got.send(Instant::now()).await;
                    return;
                }
                if seen.len() > 1 << 20 {
                    seen.clear();
                }
            }
        });
    }
    drop((ready_tx, got_tx));
    let mut open = 0;
    while open < streams {
        match tokio::time::timeout(std::time::Duration::from_secs(30), ready_rx.recv()).await {
            Ok(Some(())) => open += 1,
            _ => break,
        }
    }
    let open_took = opened.elapsed();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = pid.and_then(resident_kib);
    let at = Instant::now();
    app.store
        .record_answer(
            &winventory_core::store::AnswerRecord {
                campaign_id: c.row.id,
                machine_ids: vec![target.machine_id],
                answer: "decommission".into(),
                date: None,
                detail: None,
                comment: Some("bench live".into()),
                by: target.recipient.clone(),
                via: "bench".into(),
            },
            app.clock.now(),
        )
        .await?;
    let mut reached = Vec::new();
    while reached.len() < open {
        match tokio::time::timeout(std::time::Duration::from_secs(10), got_rx.recv()).await {
            Ok(Some(t)) => reached.push(t.duration_since(at)),
            _ => break,
        }
    }
    reached.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    outln!(
        "{open} of {streams} streams open in {:.2} s; the answer reached {} of them: median {:.0} ms, last {:.0} ms",
        open_took.as_secs_f64(),
        reached.len(),
        reached.get(reached.len() / 2).map_or(0.0, |d| ms(*d)),
        reached.last().map_or(0.0, |d| ms(*d)),
    );
    if let (Some(b), Some(a)) = (before, after) {
        outln!(
            "server resident memory: {b} KiB before, {a} KiB with the streams open: {:.1} KiB a stream",
            (a as f64 - b as f64) / open.max(1) as f64
        );
    }
    Ok(if reached.len() == streams { 0 } else { 1 })
}

fn matching(app: &App, rounds: usize, extra_rules: usize) -> Result<u8> {
    use std::time::Duration;
    use winventory_core::catalog::SiteCatalog;
    use winventory_core::catalog::software::{Rule, RuleSpec};
    let titles = winventory_ingest::generate::pool_titles()?;
    let rounds = rounds.max(1);
    let median = |mut v: Vec<Duration>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let mut with_extra = (*app.catalog).clone();
    let extra = (0..extra_rules)
        .map(|i| {
            Rule::compile(RuleSpec {
                name: format!(r"(?i)^Lab Instrument {i:05} (?:Driver|Suite)\b"),
                application: Some(format!("Lab Instrument {i:05}")),
                ..RuleSpec::default()
            })
            .map_err(anyhow::Error::msg)
        })
        .collect::<Result<Vec<_>>>()?;
    let t = Instant::now();
    with_extra.apply_site(&SiteCatalog {
        cycles: Vec::new(),
        rules: extra,
    });
    let index = t.elapsed();
    let t = Instant::now();
    let fresh = winventory_core::Catalog::builtin();
    let compile = t.elapsed();
    let catalog = &with_extra;
    let rules = catalog.rules();
    let mut matched = 0usize;
    let (mut indexed, mut by_rule) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        matched = titles
            .iter()
            .filter(|(n, v, p)| rules.match_title(catalog, n, v, p).cycle.is_some())
            .count();
        indexed.push(t.elapsed());
        let t = Instant::now();
        let again = titles
            .iter()
            .filter(|(n, v, p)| {
                rules
                    .match_title_rule_by_rule(catalog, n, v, p)
                    .cycle
                    .is_some()
            })
            .count();
        by_rule.push(t.elapsed());
        if again != matched {
            bail!("the two matchers disagree: {matched} against {again} titles matched");
        }
    }
    let (a, b) = (median(indexed), median(by_rule));
    let per = |d: Duration| d.as_secs_f64() * 1e9 / titles.len().max(1) as f64;
    outln!(
        "{} distinct titles, {} rules, {matched} titles matched to a cycle",
        titles.len(),
        rules.len()
    );
    outln!(
        "indexed:                {:>9.2} ms  ({:.0} ns per title)",
        a.as_secs_f64() * 1e3,
        per(a)
    );
    outln!(
        "rule by rule (baseline): {:>8.2} ms  ({:.0} ns per title)",
        b.as_secs_f64() * 1e3,
        per(b)
    );
    outln!(
        "the bundled catalog and its {} rules loaded: {:.2} ms; the site's {extra_rules} rules put ahead and the index rebuilt: {:.2} ms",
        fresh.rules().len(),
        compile.as_secs_f64() * 1e3,
        index.as_secs_f64() * 1e3
    );
    Ok(0)
}

async fn click_body(app: &App, campaign: &str, count: usize) -> Result<u8> {
    use std::collections::BTreeMap;
    use winventory_workflows::answer::AnswerKind;
    use winventory_workflows::token::Claims;
    let e = app.engine().await?;
    let signer = e
        .signer
        .clone()
        .context("set WINVENTORY_LINK_KEYS: the clicks are signed with them")?;
    let c = e.campaign(campaign).await?;
    // Each owner's first open machine.
    let mut machines: BTreeMap<String, i64> = BTreeMap::new();
    for m in e.store.campaign_machines(c.row.id).await? {
        if m.state != "resolved" {
            machines.entry(m.recipient.clone()).or_insert(m.machine_id);
        }
    }
    // Each owner's Mattermost digest, given a post id as if it was sent.
    let mut posts: BTreeMap<String, String> = BTreeMap::new();
    for row in e.store.outbox().await? {
        if row.channel == "mattermost"
            && row.buttons.is_some()
            && machines.contains_key(&row.recipient)
        {
            let post = format!("benchpost{:017}", row.id);
            e.store.set_remote_id(row.id, &post).await?;
            posts.insert(row.recipient, post);
        }
    }
    if posts.is_empty() {
        bail!(
            "{campaign} has no Mattermost digest in the outbox: give its owners a mattermost_username and set WINVENTORY_MATTERMOST_URL before starting it"
        );
    }
    let expires = chrono::Utc::now() + chrono::Duration::days(30);
    let mut written = 0;
    for (i, (login, post)) in posts.iter().take(count).enumerate() {
        let answer = if i % 2 == 0 {
            AnswerKind::Replace
        } else {
            AnswerKind::Decommission
        };
        let token = signer.sign(&Claims {
            campaign: c.row.id,
            recipient: login.clone(),
            person: login.clone(),
            machine: machines.get(login).copied(),
            message: None,
            answer,
            expires,
        });
        let body = serde_json::json!({
            "user_id": format!("benchuser{i:017}"),
            "user_name": login,
            "channel_id": format!("benchchan{i:017}"),
            "channel_name": "bench",
            "team_id": "",
            "team_domain": "",
            "post_id": post,
            "trigger_id": "",
            "type": "button",
            "data_source": "",
            "context": { "token": token },
        });
        outln!("{body}");
        written += 1;
    }
    eprintln!("{written} click bodies for {campaign}");
    Ok(0)
}

async fn http_ceiling(listen: &str) -> Result<u8> {
    let app = axum::Router::new().fallback(axum::routing::post(|| async { "{}" }));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    eprintln!("bare handler on http://{listen}");
    axum::serve(listener, app).await?;
    Ok(0)
}

async fn delivery(app: &App, n: usize, domain: &str) -> Result<u8> {
    let Some(url) = &app.settings.smtp_url else {
        bail!("set WINVENTORY_SMTP_URL to the SMTP server to measure");
    };
    // Baseline: lettre alone, one pooled transport, messages sent one after another.
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
        .context("the SMTP URL")?
        .build();
    let from: Mailbox = app.settings.mail_from.parse().context("mail_from")?;
    let started = Instant::now();
    for i in 0..n {
        let (subject, text, html) = body(i);
        let m = Message::builder()
            .from(from.clone())
            .to(format!("bench{i}@{domain}").parse()?)
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(text, html))?;
        transport.send(m).await?;
    }
    let baseline = started.elapsed().as_secs_f64();

    // Ours: queue the same messages in the outbox, then drain it.
    let store = app.store.clone();
    let run = chrono::Utc::now().timestamp_micros();
    let queued: Vec<NewMessage> = (0..n)
        .map(|i| {
            let (subject, text, html) = body(i);
            let key = format!("bench:{run}:{i}");
            NewMessage {
                message_id: format!("<{run}.{i}@{domain}>"),
                idem_key: key,
                channel: "email".into(),
                recipient: format!("bench{i}"),
                address: format!("bench{i}@{domain}"),
                fallback: None,
                subject,
                body_text: text,
                body_html: Some(html),
                machines: Vec::new(),
                reminder: false,
                actions: Vec::new(),
                buttons: None,
            }
        })
        .collect();
    let started = Instant::now();
    store.enqueue(&queued, chrono::Utc::now()).await?;
    let enqueue = started.elapsed().as_secs_f64();
    let channel =
        EmailChannel::from_settings(&app.settings, app.clock)?.context("an SMTP channel")?;
    let mut worker = Worker::new(
        store.clone(),
        vec![Arc::new(channel)],
        DeliveryConfig {
            rate_per_second: std::num::NonZeroU32::new(100_000)
                .unwrap_or(std::num::NonZeroU32::MIN),
            ..DeliveryConfig::default()
        },
    );
    let started = Instant::now();
    let mut sent = 0;
    loop {
        let r = worker.run_once().await?;
        sent += r.sent;
        if r.claimed == 0 {
            break;
        }
    }
    let ours = started.elapsed().as_secs_f64();
    outln!("messages: {n} (sent through the outbox: {sent})");
    outln!(
        "baseline (plain lettre loop): {baseline:.2} s, {:.1} msg/s",
        n as f64 / baseline
    );
    outln!(
        "outbox + worker:              {ours:.2} s, {:.1} msg/s ({:.2}x the baseline's time)",
        n as f64 / ours,
        ours / baseline
    );
    outln!("queueing {n} messages in the outbox: {:.3} s", enqueue);
    Ok(0)
}
