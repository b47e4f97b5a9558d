//! The CLI contract: exit codes, JSON keys and order, help on every command,
//! run against the real binary on SQLite (the embedded default).

use std::io::Write;
use std::process::{Command, Output, Stdio};

pub(crate) struct Cli {
    pub(crate) dir: tempfile::TempDir,
}

impl Cli {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tmp"),
        }
    }

    pub(crate) fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_winventory"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .env_remove("WINVENTORY_DATABASE_URL")
            .env_remove("WINVENTORY_NETWORK_DB_URL")
            .env_remove("WINVENTORY_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn winventory");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("wait")
    }

    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    }
}

pub(crate) fn fleet() -> String {
    [
        r#"{"hostname": "SRV2012", "collected_at": "2026-11-26T02:00:00Z", "os": {"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}, "responsible": "asmith", "software": [{"name": "Python 3.8.10 (64-bit)", "version": "3.8.10", "publisher": "Python Software Foundation", "install_date": "20200101"}]}"#,
        r#"{"hostname": "PC11", "collected_at": "2026-11-26T02:00:00Z", "os": {"caption": "Microsoft Windows 11 Enterprise", "version": "10.0.26100", "edition": "Enterprise", "product_type": 1}, "main_user": "jdoe"}"#,
        r#"{"hostname": "ODD", "collected_at": "2026-11-26T02:00:00Z", "os": {"caption": "Plan 9", "version": "4"}}"#,
        r#"{"hostname": "GONE", "collected_at": "2026-01-01T00:00:00Z", "os": {"caption": "Microsoft Windows 11 Enterprise", "version": "10.0.26100", "edition": "Enterprise"}}"#,
    ]
    .join("\n")
}

pub(crate) const NOW: &str = "--now=2026-11-27T12:00:00Z";

#[test]
fn ingest_prints_the_documented_json_summary_and_exit_codes() {
    let cli = Cli::new();
    let f = cli.write("fleet.jsonl", &fleet());
    let out = cli.run(&["ingest", &f, "--format", "json", NOW], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for key in [
        "lines_read",
        "accepted",
        "rejected",
        "warnings",
        "machines_new",
        "machines_updated",
        "machines_unchanged",
        "machines_stale",
        "lookups_done",
        "lookups_cached",
        "lookups_failed",
        "errors",
    ] {
        assert!(s.get(key).is_some(), "missing {key} in {s}");
    }
    assert_eq!(s["machines_new"], 4);
    assert_eq!(s["machines_stale"], 1);

    let bad = cli.write("bad.jsonl", "{\"hostname\": \"X\"}\n");
    let out = cli.run(&["ingest", &bad, "--format", "json", NOW], None);
    assert_eq!(out.status.code(), Some(1));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(s["errors"][0]["line"], 1);
    assert!(
        s["errors"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("collected_at")
    );

    let out = cli.run(&["ingest", "missing.jsonl", NOW], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn standard_input_is_read_when_the_file_is_a_dash() {
    let cli = Cli::new();
    let out = cli.run(&["ingest", "-", "--format", "json", NOW], Some(&fleet()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(s["accepted"], 4);
}

#[test]
fn reports_keep_their_json_contract() {
    let cli = Cli::new();
    let f = cli.write("fleet.jsonl", &fleet());
    assert!(cli.run(&["ingest", &f, NOW], None).status.success());

    let os = cli.json(&["report", "os", "--as-of", "2026-11-27", "--format", "json"]);
    let rows = os.as_array().expect("array");
    let got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r["product"].clone(),
                r["cycle"].clone(),
                r["machines"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                serde_json::json!("windows"),
                serde_json::json!("11-24h2-e"),
                serde_json::json!(1)
            ),
            (
                serde_json::json!("windows-server"),
                serde_json::json!("2012-r2"),
                serde_json::json!(1)
            ),
            (
                serde_json::Value::Null,
                serde_json::Value::Null,
                serde_json::json!(1)
            ),
        ],
        "sorted by product then cycle, unmatched last, the stale machine left out"
    );
    for r in rows {
        for key in ["product", "cycle", "label", "eol", "machines"] {
            assert!(r.get(key).is_some(), "missing {key}");
        }
    }

    let eol = cli.json(&[
        "report",
        "eol",
        "--as-of",
        "2026-11-27",
        "--by",
        "cycle",
        "--format",
        "json",
    ]);
    let got: Vec<_> = eol
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            format!(
                "{}:{}:{}:{}",
                r["kind"].as_str().unwrap_or("?"),
                r["product"].as_str().unwrap_or("?"),
                r["cycle"].as_str().unwrap_or("?"),
                r["eol"]
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "os:windows-server:2012-r2:\"2023-10-10\"",
            "software:python:3.8:\"2024-10-07\""
        ]
    );
    assert_eq!(eol[0]["extended_support_end"], "2026-10-13");

    let later = cli.json(&[
        "report",
        "eol",
        "--as-of",
        "2026-11-27",
        "--within",
        "400",
        "--by",
        "cycle",
        "--format",
        "json",
    ]);
    assert_eq!(
        later.as_array().expect("array").len(),
        3,
        "Windows 11 24H2 (E) ends 2027-10-12, within 400 days"
    );

    let m = cli.json(&[
        "machine",
        "srv2012",
        "--as-of",
        "2026-11-27",
        "--format",
        "json",
    ]);
    assert_eq!(m["hostname"], "SRV2012");
    assert_eq!(m["stale"], false);
    assert_eq!(m["responsible"]["login"], "asmith");
    assert_eq!(m["responsible"]["source"], "snapshot");
    assert_eq!(m["main_user"], serde_json::Value::Null);
    assert_eq!(m["software"][0]["install_date"], "2020-01-01");
    assert_eq!(m["software"][0]["eol"], "2024-10-07");
    assert_eq!(m["last_report"], "2026-11-26T02:00:00Z");

    let gone = cli.json(&[
        "machine",
        "GONE",
        "--as-of",
        "2026-11-27",
        "--format",
        "json",
    ]);
    assert_eq!(gone["stale"], true);

    let csv = cli.run(
        &["report", "os", "--as-of", "2026-11-27", "--format", "csv"],
        None,
    );
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("product,cycle,label,eol,"));
}

#[test]
fn an_unknown_host_exits_non_zero_with_a_clear_message() {
    let cli = Cli::new();
    let f = cli.write("fleet.jsonl", &fleet());
    assert!(cli.run(&["ingest", &f, NOW], None).status.success());
    let out = cli.run(&["machine", "NOPE"], None);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NOPE") && err.contains("winventory machines"),
        "{err}"
    );
}

#[test]
fn users_import_reports_bad_rows_by_line_and_owner_shows_a_persons_machines() {
    let cli = Cli::new();
    let f = cli.write("fleet.jsonl", &fleet());
    assert!(cli.run(&["ingest", &f, NOW], None).status.success());
    let users = cli.write(
        "users.csv",
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,Anna Smith,anna@example.org,@asmith:example.org,asmith,en,Europe/Zurich,boss,it;admins\n\
         broken,No Mail,nomail,,,,,,\n",
    );
    let out = cli.run(&["users", "import", &users, "--format", "json"], None);
    assert_eq!(out.status.code(), Some(1));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(s["imported"], 1);
    assert_eq!(s["errors"][0]["line"], 3);
    let o = cli.json(&[
        "owner",
        "ASMITH",
        "--as-of",
        "2026-11-27",
        "--format",
        "json",
    ]);
    assert_eq!(o["name"], "Anna Smith");
    assert_eq!(o["machines"][0]["hostname"], "SRV2012");
    assert_eq!(o["machines"][0]["ending"][0]["cycle"], "2012-r2");
}

#[test]
fn every_command_explains_itself_with_help() {
    let cli = Cli::new();
    for args in [
        vec!["--help"],
        vec!["ingest", "--help"],
        vec!["report", "--help"],
        vec!["report", "os", "--help"],
        vec!["report", "eol", "--help"],
        vec!["report", "software", "--help"],
        vec!["machine", "--help"],
        vec!["owner", "--help"],
        vec!["users", "import", "--help"],
        vec!["catalog", "show", "--help"],
        vec!["catalog", "refresh", "--help"],
        vec!["catalog", "coverage", "--help"],
        vec!["catalog", "rematch", "--help"],
        vec!["demo", "--help"],
        vec!["generate", "--help"],
    ] {
        let out = cli.run(&args, None);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Usage:") && text.len() > 200,
            "{args:?}: {text}"
        );
    }
}

#[test]
fn the_demo_runs_on_a_fresh_directory_with_no_input() {
    let cli = Cli::new();
    let out = cli.run(&["demo"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Windows Server 2012 R2"), "{text}");
    assert!(
        cli.dir.path().join("winventory-demo.db").exists(),
        "the demo's own database is created in the working directory"
    );
    assert!(
        !cli.dir.path().join("winventory.db").exists(),
        "the demo never writes to the configured database"
    );
    // It ends with commands that work on its own fleet.
    let next: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("winventory "))
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty() && !l.starts_with("--help"))
        .collect();
    assert!(next.len() >= 5, "{text}");
    for cmd in next {
        let mut args = vec!["--database", "sqlite://winventory-demo.db"];
        args.extend(cmd.split_whitespace());
        let out = cli.run(&args, None);
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_database_password_never_appears_in_errors() {
    let cli = Cli::new();
    let out = cli.run(
        &[
            "report",
            "os",
            "--database",
            "postgres://u:hunter2@127.0.0.1:1/db",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("***"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_refresh_saves_new_dates_and_the_reports_follow_them() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let fixture = include_str!("../../../ingest/tests/fixtures/eol_api_v1/windows-server.json");
    let mut body: serde_json::Value = serde_json::from_str(fixture).expect("fixture");
    for r in body["result"]["releases"].as_array_mut().expect("releases") {
        if r["name"] == "2012-r2" {
            r["eolFrom"] = serde_json::json!("2030-01-01");
            r["isEol"] = serde_json::json!(false);
        }
    }
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/products/windows-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let cli = Cli::new();
    let f = cli.write("fleet.jsonl", &fleet());
    assert!(cli.run(&["ingest", &f, NOW], None).status.success());
    let api = format!("{}/api/v1/", server.uri());
    let out = cli.run(
        &["catalog", "refresh", "windows-server", "--api", &api],
        None,
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let eol = cli.json(&[
        "report",
        "eol",
        "--as-of",
        "2026-11-27",
        "--by",
        "cycle",
        "--format",
        "json",
    ]);
    let products: Vec<&str> = eol
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["product"].as_str())
        .collect();
    assert_eq!(products, ["python"], "2012 R2's new date is in the future");
    let os = cli.json(&["report", "os", "--as-of", "2026-11-27", "--format", "json"]);
    assert_eq!(os[1]["eol"], "2030-01-01");
}

#[test]
fn killing_the_ingest_mid_file_loses_nothing_committed_and_a_rerun_completes_the_rest() {
    let cli = Cli::new();
    let fleet = cli.dir.path().join("fleet.jsonl");
    let out = cli.run(
        &[
            "generate",
            "--machines",
            "3000",
            "--programs",
            "60",
            "--stale",
            "0",
            "--at",
            "2026-11-27T00:00:00Z",
            "--out",
            &fleet.display().to_string(),
        ],
        None,
    );
    assert!(out.status.success());
    let db = cli.dir.path().join("kill.db");
    let url = format!("sqlite://{}", db.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_winventory"))
        .args([
            "ingest",
            &fleet.display().to_string(),
            "--database",
            &url,
            "--batch",
            "50",
            NOW,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until some batches are committed, then kill -9.
    let count = |url: &str| -> i64 {
        let out = Command::new("sqlite3")
            .arg(url.trim_start_matches("sqlite://"))
            .arg("SELECT COUNT(*) FROM machines")
            .output();
        out.ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(0)
    };
    let started = std::time::Instant::now();
    while count(&url) < 200 && started.elapsed() < std::time::Duration::from_secs(60) {
        if child.try_wait().expect("poll").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let after_kill = count(&url);
    assert!(
        after_kill > 0,
        "some batches were committed before the kill"
    );

    let out = cli.run(
        &[
            "ingest",
            &fleet.display().to_string(),
            "--database",
            &url,
            "--format",
            "json",
            NOW,
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        s["machines_new"].as_i64().unwrap_or(-1) + s["machines_unchanged"].as_i64().unwrap_or(-1),
        3000
    );
    assert_eq!(count(&url), 3000);
    let rows = Command::new("sqlite3")
        .arg(db.display().to_string())
        .arg("SELECT COUNT(*) FROM installations")
        .output()
        .expect("sqlite3");
    assert_eq!(
        String::from_utf8_lossy(&rows.stdout).trim(),
        "180000",
        "every machine's list, none twice"
    );
}

#[test]
fn a_malformed_numeric_setting_or_clock_stops_the_start_and_names_the_variable() {
    let cli = Cli::new();
    for (var, value) in [
        ("WINVENTORY_SMTP_TIMEOUT_SECS", "ten"),
        ("WINVENTORY_DELIVERY_LEASE_SECS", "5m"),
        ("WINVENTORY_RETRY_BASE_SECS", "-1"),
        ("WINVENTORY_DELIVERY_RATE", "fast"),
        ("WINVENTORY_REQUEST_TIMEOUT_SECS", "1.5"),
        ("WINVENTORY_IDLE_TIMEOUT_SECS", "x"),
        ("WINVENTORY_MAX_CONNECTIONS", "lots"),
        ("WINVENTORY_NOW", "yesterday"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_winventory"))
            .current_dir(cli.dir.path())
            .args(["report", "os"])
            .env_remove("WINVENTORY_DATABASE_URL")
            .env_remove("WINVENTORY_CONFIG")
            .env(var, value)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{var}={value} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(var) && err.contains(value),
            "{var}={value}: {err}"
        );
    }
}
