//! What the end-to-end tests share: a site (its own database, folder and
//! email domain) driving the real binary, a `serve` process stopped on drop,
//! and the small fleet and campaign most tests start from.
#![allow(dead_code)] // not every helper is used by every test

use std::collections::BTreeMap;
use std::process::{Child, Command, Output, Stdio};

use winventory_core::store::Backend;
use winventory_core::testing::{TestDb, fresh_database};

pub mod fake_mattermost;

pub const KEYS: &str = "k1:0123456789abcdef0123456789abcdef-test";

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test.sh, which starts the peers")
    })
}

pub struct Site {
    pub dir: tempfile::TempDir,
    pub db: TestDb,
    /// A domain of its own, so parallel tests sharing maildev tell their mail apart.
    pub domain: String,
    pub base_url: String,
    pub listen: String,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Site {
    pub async fn new(backend: Backend, tag: &str) -> Self {
        let port = free_port();
        Self {
            dir: tempfile::tempdir().expect("tmp"),
            db: fresh_database(backend).await,
            domain: format!("{tag}-{}.example", std::process::id()),
            base_url: format!("http://127.0.0.1:{port}"),
            listen: format!("127.0.0.1:{port}"),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_via(&[], args)
    }

    /// The binary run through a wrapper (`prlimit --nofile=...`, ...).
    pub fn command_via(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let bin = env!("CARGO_BIN_EXE_winventory");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.current_dir(self.dir.path())
            .args(args)
            .env_remove("WINVENTORY_CONFIG")
            .env_remove("WINVENTORY_NETWORK_DB_URL")
            .env("WINVENTORY_DATABASE_URL", &self.db.url)
            .env("WINVENTORY_SMTP_URL", env("WINVENTORY_TEST_SMTP_URL"))
            .env("WINVENTORY_LINK_KEYS", KEYS)
            .env("WINVENTORY_BASE_URL", &self.base_url)
            .env("WINVENTORY_LISTEN", &self.listen)
            .env("WINVENTORY_MAIL_FROM", format!("IT <it@{}>", self.domain))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        succeeded(self.command(args).output().expect("run winventory"), args)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_slice(&self.run(args).stdout).expect("JSON")
    }

    pub fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    }

    pub fn email(&self, login: &str) -> String {
        format!("{login}@{}", self.domain)
    }

    /// The mail maildev holds for this site's addresses: address -> messages.
    pub async fn mailbox(&self) -> BTreeMap<String, Vec<serde_json::Value>> {
        let all: Vec<serde_json::Value> =
            reqwest::get(format!("{}/api/email", env("WINVENTORY_TEST_MAILDEV_API")))
                .await
                .expect("maildev API")
                .json()
                .await
                .expect("maildev JSON");
        let mut out: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        for m in all {
            for to in m["to"].as_array().cloned().unwrap_or_default() {
                let addr = to["address"].as_str().unwrap_or_default().to_string();
                if addr.ends_with(&format!("@{}", self.domain)) {
                    out.entry(addr).or_default().push(m.clone());
                }
            }
        }
        out
    }
}

pub struct Server(pub Child);

impl Site {
    /// `winventory serve --no-worker` (at `now`, if given), once it answers.
    pub async fn serve(&self, now: Option<&str>) -> Server {
        self.serve_with(now, &[]).await
    }

    /// `serve --no-worker` with more environment.
    pub async fn serve_with(&self, now: Option<&str>, envs: &[(&str, String)]) -> Server {
        let mut cmd = self.command(&["serve", "--no-worker"]);
        if let Some(now) = now {
            cmd.env("WINVENTORY_NOW", now);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let server = Server(cmd.spawn().expect("serve"));
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http
                .get(format!("{}/healthz", self.base_url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "winventory serve did not answer /healthz at {}",
            self.base_url
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn fleet() -> String {
    let at = (chrono::Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let server = |host: &str, owner: &str| {
        let owner = if owner.is_empty() {
            String::new()
        } else {
            format!(r#", "responsible": "{owner}""#)
        };
        format!(
            r#"{{"hostname": "{host}", "collected_at": "{at}", "os": {{"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}}{owner}}}"#
        )
    };
    [
        server("SRV-A1", "asmith"),
        server("SRV-A2", "asmith"),
        server("SRV-J1", "jdoe"),
        server("SRV-ORPHAN", ""),
        format!(
            r#"{{"hostname": "PC-NEW", "collected_at": "{at}", "os": {{"caption": "Microsoft Windows 11 Enterprise", "version": "10.0.26100", "edition": "Enterprise", "product_type": 1}}, "responsible": "asmith"}}"#
        ),
    ]
    .join("\n")
}

pub fn campaign_file() -> &'static str {
    r#"
name = "retire-2012r2"
kind = "eol"
title = "Windows Server 2012 R2 retirement"
description = "Windows Server 2012 R2 no longer receives security updates."
deadline = "2027-03-31"
fallback_group = "it-desk"

[target]
os = [{ product = "windows-server", cycles = ["2012-r2"] }]
"#
}

/// `out`, once it is known to have succeeded (else the test fails with
/// what the command printed).
fn succeeded(out: Output, args: &[&str]) -> Output {
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether the tests run as root (PostgreSQL's binaries then run as the
/// `postgres` user: initdb refuses root).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL cluster of a test's own (initdb into a temporary folder,
/// on a free port), for tests that stop and start the database under a
/// running process without disturbing the server other tests share.
/// Stopped on drop. Needs PostgreSQL's server binaries (`PG_BIN`, default
/// `/usr/lib/postgresql/15/bin`); as root they run as the `postgres` user.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    pub port: u16,
}

impl PrivatePostgres {
    fn bin(name: &str) -> String {
        let dir = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
        format!("{dir}/{name}")
    }

    fn as_postgres(args: &[&str]) -> Output {
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]);
            c.args(args);
            c
        } else {
            let mut c = Command::new(args[0]);
            c.args(&args[1..]);
            c
        };
        succeeded(cmd.output().expect("run a PostgreSQL binary"), args)
    }

    /// Create and start the cluster.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres", &dir.path().display().to_string()])
                .status()
                .expect("chown");
            assert!(status.success(), "chown the cluster folder to postgres");
        }
        let data = dir.path().join("data").display().to_string();
        Self::as_postgres(&[
            &Self::bin("initdb"),
            "-D",
            &data,
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        ]);
        let pg = Self {
            dir,
            port: free_port(),
        };
        pg.up();
        pg
    }

    /// Its admin URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Start it (again), on the same port.
    pub fn up(&self) {
        let data = self.dir.path().join("data").display().to_string();
        let log = self.dir.path().join("log").display().to_string();
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off",
            self.port,
            self.dir.path().display()
        );
        Self::as_postgres(&[
            &Self::bin("pg_ctl"),
            "-D",
            &data,
            "-l",
            &log,
            "-o",
            &opts,
            "-w",
            "start",
        ]);
    }

    /// Stop it (fast: connections are cut at once).
    pub fn down(&self) {
        let data = self.dir.path().join("data").display().to_string();
        Self::as_postgres(&[
            &Self::bin("pg_ctl"),
            "-D",
            &data,
            "-m",
            "fast",
            "-w",
            "stop",
        ]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let stop = [
            Self::bin("pg_ctl"),
            "-D".into(),
            data,
            "-m".into(),
            "immediate".into(),
            "stop".into(),
        ];
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(&stop);
            c
        } else {
            let mut c = Command::new(&stop[0]);
            c.args(&stop[1..]);
            c
        };
        let _ = cmd.output();
    }
}

/// The application and router a `serve` of this configuration file would
/// run, in process (driven with tower's `oneshot`: no socket, no child).
pub async fn in_process(
    config: &std::path::Path,
) -> (std::sync::Arc<winventory::app::App>, axum::Router) {
    use winventory::settings::{Overrides, Settings};
    let settings = Settings::resolve(Overrides {
        config: Some(config.to_path_buf()),
        ..Overrides::default()
    })
    .expect("settings");
    let app = std::sync::Arc::new(
        winventory::app::App::open(settings, winventory::clock::Clock::default())
            .await
            .expect("app"),
    );
    let engine = app.engine().await.expect("engine");
    let state = winventory::http::AppState::new(
        app.clone(),
        engine,
        None,
        winventory::tasks::supervise::Health::new(),
    )
    .expect("state");
    // The live feed, as `serve` starts it (stopped with the test's runtime).
    let (stop, rx) = tokio::sync::watch::channel(false);
    std::mem::forget(stop);
    tokio::spawn(
        state
            .web
            .feed
            .clone()
            .run(state.engine.clone(), app.clock, rx),
    );
    (app, winventory::http::router(std::sync::Arc::new(state)))
}
