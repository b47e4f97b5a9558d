//! What an operator does (docs/operations.md), done for real: a SQLite
//! backup taken while the server runs and restored; a PostgreSQL database
//! dumped with pg_dump and restored with pg_restore; a database the main
//! branch made before issue 20 (kept as fixtures, one per backend) migrated
//! at start with its data intact; and a worker answering its probes.
//!
//! The fixtures were made by the binary of main at 91ae3b3 (schema 20):
//! the fleet below ingested, two people imported, `retire-2012r2` created
//! and started, one `worker --once`, an API token for a collector and one
//! for an admin, and two answers on behalf through the API (SRV-A1
//! "upgrade" by 2027-02-28, SRV-J1 an exception until 2027-06-30). The
//! PostgreSQL one is `pg_dump --no-owner --no-privileges --format=plain`.

use std::process::Command;

use winventory_core::store::Backend;
use winventory_core::testing::fresh_database;

use crate::common::{Site, free_port};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/fixtures");

fn pg_bin(name: &str) -> String {
    let dir = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    format!("{dir}/{name}")
}

/// Run a command; its output, or the test fails with what it printed.
fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a restored or migrated database must still say, as JSON: the OS
/// report, the campaign's status and machines, and the tokens.
fn what_it_knows(site: &Site, url: &str) -> serde_json::Value {
    let json = |args: &[&str]| -> serde_json::Value {
        let out = ok(site.command(args).env("WINVENTORY_DATABASE_URL", url));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    };
    let mut tokens = json(&["token", "list", "--format", "json"]);
    // Last use moves with every call through the API: not what is compared.
    if let Some(list) = tokens.as_array_mut() {
        for t in list {
            if let Some(o) = t.as_object_mut() {
                o.remove("last_used");
                o.remove("last_used_at");
            }
        }
    }
    serde_json::json!({
        "os": json(&["report", "os", "--format", "json"]),
        "status": json(&["campaign", "status", "retire-2012r2", "--format", "json"]),
        "machines": json(&["campaign", "show", "retire-2012r2", "--format", "json"]),
        "tokens": tokens,
    })
}

/// A site with the test fleet and the campaign started.
async fn site_with_campaign(backend: Backend, tag: &str) -> Site {
    let site = Site::new(backend, tag).await;
    let fleet = site.write("fleet.jsonl", &crate::common::fleet());
    site.run(&["ingest", &fleet]);
    let file = site.write("retire.toml", crate::common::campaign_file());
    site.run(&["campaign", "create", &file]);
    site.run(&["campaign", "start", "retire-2012r2"]);
    site.run(&[
        "token",
        "create",
        "collector-1",
        "--role",
        "collector",
        "--expires",
        "30d",
    ]);
    site
}

#[tokio::test]
async fn a_sqlite_backup_taken_while_the_server_runs_restores_every_machine_campaign_and_token() {
    let site = site_with_campaign(Backend::Sqlite, "backup").await;
    let before = what_it_knows(&site, &site.db.url);
    // Online: the server holds the database open (and writes) meanwhile.
    let _server = site.serve(None).await;
    let copy = site
        .dir
        .path()
        .join("copies")
        .join("winventory-copy.sqlite");
    std::fs::create_dir_all(copy.parent().expect("a folder")).expect("folder");
    let said = ok(&mut site.command(&["backup", &copy.display().to_string()]));
    assert!(said.contains("backed up the database into"), "{said}");
    // Never over an existing file; a missing folder is named.
    let again = site
        .command(&["backup", &copy.display().to_string()])
        .output()
        .expect("run");
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists") && err.contains("winventory-copy.sqlite"),
        "{err}"
    );
    let nowhere = site
        .command(&["backup", "/nonexistent-folder/copy.sqlite"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("is not a folder"));

    // Restored: the copy is a whole database that answers the same.
    let restored = format!("sqlite://{}", copy.display());
    assert_eq!(what_it_knows(&site, &restored), before);
}

#[tokio::test]
async fn a_postgres_database_dumped_with_pg_dump_and_restored_with_pg_restore_answers_the_same() {
    let site = site_with_campaign(Backend::Postgres, "pgdump").await;
    let before = what_it_knows(&site, &site.db.url);
    // `backup` says what to use instead.
    let out = site
        .command(&["backup", "copy.sqlite"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pg_dump") && err.contains("pg_restore"),
        "{err}"
    );
    assert!(
        !err.contains("postgres://"),
        "no URL (nor its password) in the message: {err}"
    );

    let dump = site.dir.path().join("winventory.dump");
    ok(Command::new(pg_bin("pg_dump"))
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .args(["--dbname", &site.db.url]));
    let target = fresh_database(Backend::Postgres).await;
    ok(Command::new(pg_bin("pg_restore"))
        .args(["--no-owner", "--exit-on-error", "--dbname", &target.url])
        .arg(&dump));
    assert_eq!(what_it_knows(&site, &target.url), before);
}

/// What the fixture holds, checked after migrating it.
fn assert_fixture_kept(knows: &serde_json::Value) {
    let machines: i64 = knows["os"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["machines"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(machines, 4, "{knows}");
    let status = &knows["status"];
    assert_eq!(
        (status["targets"].as_i64(), status["open"].as_i64()),
        (Some(3), Some(1)),
        "{status}"
    );
    let shown = knows["machines"].to_string();
    assert!(
        shown.contains("\"upgrade\"")
            && shown.contains("2027-02-28")
            && shown.contains("runs the old lab software"),
        "{shown}"
    );
    let tokens: Vec<&str> = knows["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(tokens, ["collector-1", "fixture-admin"], "{knows}");
}

#[tokio::test]
async fn a_sqlite_database_made_before_issue_20_is_migrated_at_start_and_keeps_its_data() {
    let site = Site::new(Backend::Sqlite, "upgrade").await;
    let copy = site.dir.path().join("old.sqlite");
    std::fs::copy(format!("{FIXTURES}/before-issue-20.sqlite"), &copy).expect("copy the fixture");
    let url = format!("sqlite://{}", copy.display());
    assert_fixture_kept(&what_it_knows(&site, &url));
    // And it goes on working: a new ingest lands in it.
    let fleet = site.write("fleet.jsonl", &crate::common::fleet());
    ok(site
        .command(&["ingest", &fleet])
        .env("WINVENTORY_DATABASE_URL", &url));
}

#[tokio::test]
async fn a_postgres_database_made_before_issue_20_is_migrated_at_start_and_keeps_its_data() {
    let site = Site::new(Backend::Postgres, "upgrade-pg").await;
    let target = fresh_database(Backend::Postgres).await;
    ok(Command::new(pg_bin("psql"))
        .args([
            "--quiet",
            "--set",
            "ON_ERROR_STOP=1",
            "--dbname",
            &target.url,
            "--file",
        ])
        .arg(format!("{FIXTURES}/before-issue-20.postgres.sql")));
    assert_fixture_kept(&what_it_knows(&site, &target.url));
    let fleet = site.write("fleet.jsonl", &crate::common::fleet());
    ok(site
        .command(&["ingest", &fleet])
        .env("WINVENTORY_DATABASE_URL", &target.url));
}

#[tokio::test]
async fn a_worker_answers_its_probes_on_the_address_it_is_given_and_says_when_it_cannot() {
    let site = Site::new(Backend::Sqlite, "probes").await;
    let addr = format!("127.0.0.1:{}", free_port());
    let mut worker = site
        .command(&["worker", "--listen", &addr])
        .spawn()
        .expect("worker");
    let http = reqwest::Client::new();
    let mut ready = None;
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("http://{addr}/healthz")).send().await {
            ready = Some((r.status(), r.text().await.unwrap_or_default()));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, body) = ready.expect("the worker's probes answer");
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert!(body.starts_with("ok"), "{body}");
    let live = http
        .get(format!("http://{addr}/livez"))
        .send()
        .await
        .expect("livez");
    assert_eq!(live.status(), reqwest::StatusCode::OK);
    let metrics = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("winventory_loop_up{loop=\"delivery\"} 1")
            && metrics.contains("winventory_database_up 1"),
        "the worker's own loops are scraped: {metrics}"
    );
    // Nothing else is served there.
    let other = http
        .get(format!("http://{addr}/api/v1/machines"))
        .send()
        .await
        .expect("404");
    assert_eq!(other.status(), reqwest::StatusCode::NOT_FOUND);

    // A second worker on the same address says so and stops.
    let second = site
        .command(&["worker", "--listen", &addr])
        .output()
        .expect("run");
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!("cannot listen on {addr} for the probes")),
        "{err}"
    );
    let _ = worker.kill();
    let _ = worker.wait();
}
