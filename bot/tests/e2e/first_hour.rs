//! A newcomer's first hour, run against the real binary on SQLite: every
//! count of a report followed to its machines, the directory listed, one
//! CSV table per command, a closed pipe, a missing database, dates as
//! YYYY-MM-DD, campaign files checked and drafts replaced or deleted,
//! completions and manual pages.

use std::process::{Command, Stdio};

use crate::cli::{Cli, NOW, fleet};

fn ingested() -> Cli {
    let cli = Cli::new();
    let f = cli.write("fleet.jsonl", &fleet());
    assert!(cli.run(&["ingest", &f, NOW], None).status.success());
    let users = cli.write(
        "users.csv",
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,Anna Smith,anna@example.org,,,en,Europe/Zurich,,it;admins\n\
         jdoe,John Doe,john@example.org,,,fr,,asmith,lab\n",
    );
    let out = cli.run(&["users", "import", &users], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    cli
}

const AS_OF: [&str; 2] = ["--as-of", "2026-11-27"];

fn hosts(cli: &Cli, filter: &[&str]) -> Vec<String> {
    let mut args = vec!["machines", "--format", "json"];
    args.extend_from_slice(&AS_OF);
    args.extend_from_slice(filter);
    cli.json(&args)
        .as_array()
        .expect("an array")
        .iter()
        .map(|m| m["hostname"].as_str().expect("hostname").to_string())
        .collect()
}

#[test]
fn machines_are_listed_by_every_filter_and_filters_combine() {
    let cli = ingested();
    assert_eq!(hosts(&cli, &[]), ["ODD", "PC11", "SRV2012"], "fresh ones");
    assert_eq!(hosts(&cli, &["--stale"]), ["GONE"]);
    assert_eq!(hosts(&cli, &["--all"]).len(), 4);
    assert_eq!(
        hosts(&cli, &["--os", "windows-server:2012-R2"]),
        ["SRV2012"]
    );
    assert_eq!(hosts(&cli, &["--os", "windows"]), ["PC11"]);
    assert_eq!(hosts(&cli, &["--software", "python:3.8"]), ["SRV2012"]);
    assert_eq!(hosts(&cli, &["--unmatched"]), ["ODD"]);
    assert_eq!(hosts(&cli, &["--eol-within", "0"]), ["SRV2012"]);
    assert_eq!(
        hosts(&cli, &["--eol-within", "400"]),
        ["PC11", "SRV2012"],
        "Windows 11 24H2 Enterprise ends within 400 days"
    );
    assert_eq!(hosts(&cli, &["--owner", "JDOE"]), ["PC11"]);
    assert_eq!(hosts(&cli, &["--group", "it"]), ["SRV2012"]);
    assert!(hosts(&cli, &["--group", "lab", "--os", "windows-server"]).is_empty());

    // What made a machine match is named, with the names people read.
    let m = cli.json(&[
        "machines",
        "--software",
        "python",
        "--format",
        "json",
        "--as-of",
        "2026-11-27",
    ]);
    assert_eq!(m[0]["matched"][0]["product"], "python");
    assert_eq!(m[0]["matched"][0]["cycle"], "3.8");
    assert!(
        m[0]["matched"][0]["label"]
            .as_str()
            .is_some_and(|l| l.contains("3.8")),
        "{m}"
    );

    // A filter naming nothing the catalog knows says what to type.
    let out = cli.run(&["machines", "--os", "windos"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("catalog show"));
    let out = cli.run(&["machines", "--os", "windows-server:2099"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("catalog show windows-server"));
}

#[test]
fn every_count_of_a_report_is_followed_to_as_many_machines() {
    let cli = ingested();
    let mut followed = 0;
    let os = cli.json(&["report", "os", "--as-of", "2026-11-27", "--format", "json"]);
    for r in os.as_array().expect("rows") {
        let filter = match (r["product"].as_str(), r["cycle"].as_str()) {
            (Some(p), Some(c)) => vec!["--os".to_string(), format!("{p}:{c}")],
            _ => vec!["--unmatched".to_string()],
        };
        let f: Vec<&str> = filter.iter().map(String::as_str).collect();
        assert_eq!(
            hosts(&cli, &f).len() as u64,
            r["machines"].as_u64().expect("present"),
            "{r}"
        );
        followed += 1;
    }
    let eol = cli.json(&[
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
    for r in eol.as_array().expect("rows") {
        let flag = if r["kind"] == "os" {
            "--os"
        } else {
            "--software"
        };
        let what = format!(
            "{}:{}",
            r["product"].as_str().expect("present"),
            r["cycle"].as_str().expect("present")
        );
        assert_eq!(
            hosts(&cli, &[flag, &what]).len() as u64,
            r["machines"].as_u64().expect("present"),
            "{r}"
        );
        followed += 1;
    }
    let by_product = cli.json(&[
        "report",
        "eol",
        "--as-of",
        "2026-11-27",
        "--within",
        "400",
        "--format",
        "json",
    ]);
    for r in by_product.as_array().expect("rows") {
        let flag = if r["kind"] == "os" {
            "--os"
        } else {
            "--software"
        };
        let listed = hosts(
            &cli,
            &[
                flag,
                r["product"].as_str().expect("present"),
                "--eol-within",
                "400",
            ],
        );
        assert_eq!(
            listed.len() as u64,
            r["machines"].as_u64().expect("present"),
            "{r}"
        );
        followed += 1;
    }
    assert!(followed >= 7, "{followed} rows followed");
}

#[test]
fn report_eol_shows_products_with_their_cycles_the_one_with_most_machines_first() {
    let cli = ingested();
    let rows = cli.json(&[
        "report",
        "eol",
        "--as-of",
        "2026-11-27",
        "--within",
        "400",
        "--format",
        "json",
    ]);
    let rows = rows.as_array().expect("rows");
    let kinds: Vec<(&str, &str, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().expect("present"),
                r["product"].as_str().expect("present"),
                r["machines"].as_u64().expect("present"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("os", "windows-server", 1),
            ("software", "python", 1),
            ("os", "windows", 1)
        ],
        "equal counts: the earliest end first (2023, 2024, 2027)"
    );
    assert_eq!(rows[0]["cycles"][0]["cycle"], "2012-r2");
    assert_eq!(rows[0]["eol"], "2023-10-10");
    let table = cli.run(&["report", "eol", "--as-of", "2026-11-27"], None);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("2012 R2 (1)"), "{text}");
    assert!(
        String::from_utf8_lossy(&table.stderr)
            .contains("winventory machines --os windows-server --eol-within 0"),
        "the way to the machines is shown"
    );
    // `--days` is what people type for `--within`.
    let days = cli.run(
        &["report", "eol", "--days", "400", "--as-of", "2026-11-27"],
        None,
    );
    assert!(
        days.status.success(),
        "{}",
        String::from_utf8_lossy(&days.stderr)
    );
}

#[test]
fn the_directory_is_listed_and_one_person_shown() {
    let cli = ingested();
    let all = cli.json(&["users", "list", "--format", "json"]);
    let logins: Vec<&str> = all
        .as_array()
        .expect("rows")
        .iter()
        .map(|u| u["login"].as_str().expect("present"))
        .collect();
    assert_eq!(logins, ["asmith", "jdoe"]);
    assert_eq!(all[0]["groups"], serde_json::json!(["admins", "it"]));
    assert_eq!(all[0]["machines"], serde_json::json!(["SRV2012"]));
    let lab = cli.json(&["users", "list", "--group", "lab", "--format", "json"]);
    assert_eq!(lab.as_array().map(Vec::len), Some(1));
    let one = cli.json(&["users", "show", "JDoe", "--format", "json"]);
    assert_eq!(one["name"], "John Doe");
    assert_eq!(one["manager"], "asmith");
    assert_eq!(one["machines"], serde_json::json!(["PC11"]));
    let missing = cli.run(&["users", "show", "nobody"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("users list"));
}

/// The CSV a command printed, as rows, checked to be one table (every row
/// as wide as the header).
fn one_csv_table(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|x| x.expect("CSV").iter().map(str::to_string).collect())
        .collect();
    assert!(!rows.is_empty(), "a header at least");
    for row in &rows {
        assert_eq!(row.len(), rows[0].len(), "one table: {rows:?}");
    }
    rows
}

#[test]
fn every_command_that_takes_csv_prints_exactly_one_table() {
    let cli = ingested();
    let campaign = cli.write("c.toml", crate::common::campaign_file());
    assert!(
        cli.run(&["campaign", "create", &campaign], None)
            .status
            .success()
    );
    for args in [
        vec!["report", "os"],
        vec!["report", "eol"],
        vec!["report", "eol", "--by", "cycle"],
        vec!["report", "software"],
        vec!["report", "software", "--by", "application"],
        vec!["report", "exceptions"],
        vec!["machines"],
        vec!["machine", "srv2012"],
        vec!["owner", "asmith"],
        vec!["users", "list"],
        vec!["users", "show", "asmith"],
        vec!["campaign", "list"],
        vec!["campaign", "show", "retire-2012r2"],
        vec!["campaign", "status", "retire-2012r2"],
        vec!["campaign", "exceptions"],
        vec!["outbox"],
        vec!["audit"],
        vec!["catalog", "show"],
        vec!["catalog", "show", "python"],
    ] {
        let mut full = args.clone();
        full.extend(["--format", "csv"]);
        let out = cli.run(&full, None);
        if out.status.code() == Some(2)
            && String::from_utf8_lossy(&out.stderr).contains("invalid value 'csv'")
        {
            continue; // refused by the parser: fine
        }
        assert!(
            out.status.success(),
            "{full:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows = one_csv_table(&out.stdout);
        assert!(
            rows[0].len() > 1,
            "{full:?}: a header, not a heading: {rows:?}"
        );
    }
    let machine = cli.run(&["machine", "SRV2012", "--format", "csv"], None);
    let rows = one_csv_table(&machine.stdout);
    assert_eq!(rows[0][0], "hostname");
    assert_eq!(rows[1][0], "SRV2012");
    // A summary that is not a table refuses CSV.
    let f = cli.write("u.csv", "login\nx\n");
    let out = cli.run(&["users", "import", &f, "--format", "csv"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let cli = ingested();
    let db = format!("sqlite://{}/winventory.db", cli.dir.path().display());
    for args in [
        vec!["catalog", "show", "--format", "json"],
        vec!["catalog", "show"],
        vec!["report", "eol", "--format", "csv"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_winventory"))
            .args(&args)
            .env("WINVENTORY_DATABASE_URL", &db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader goes away before anything is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("Broken pipe") && !err.contains("panicked"),
            "{err}"
        );
    }
}

#[test]
fn a_read_command_on_a_missing_database_says_so_and_creates_nothing() {
    let cli = Cli::new();
    let out = cli.run(&["report", "os", "--database", "sqlite://site.db"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no database at site.db") && err.contains("ingest"),
        "{err}"
    );
    assert!(!cli.dir.path().join("site.db").exists(), "nothing created");
    for args in [
        vec!["machines"],
        vec!["users", "list"],
        vec!["campaign", "list"],
    ] {
        let out = cli.run(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    assert!(!cli.dir.path().join("winventory.db").exists());
    // The bundled catalog needs no database.
    let out = cli.run(&["catalog", "show", "windows-server"], None);
    assert!(out.status.success());
    assert!(!cli.dir.path().join("winventory.db").exists());
    // An empty database says nothing was ingested.
    let users = cli.write("u.csv", "login,name\nasmith,Anna\n");
    assert!(cli.run(&["users", "import", &users], None).status.success());
    let out = cli.run(&["report", "os"], None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing ingested yet"));
}

#[test]
fn a_refused_postgresql_connection_is_said_at_once() {
    let cli = Cli::new();
    let started = std::time::Instant::now();
    let out = cli.run(
        &["report", "os", "--database", "postgres://u@127.0.0.1:1/db"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("connection refused"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "not the pool's 15-second time-out: {:?}",
        started.elapsed()
    );
}

#[test]
fn dates_are_refused_unless_written_yyyy_mm_dd() {
    let cli = ingested();
    for bad in ["02/12/2026", "2026-2-1", "31.03.2027"] {
        let out = cli.run(&["report", "os", "--as-of", bad], None);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("YYYY-MM-DD"),
            "{bad}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_campaign_file_is_checked_without_storing_and_a_draft_replaced_or_deleted() {
    let cli = ingested();
    let file = cli.write("c.toml", crate::common::campaign_file());
    let out = cli.run(&["campaign", "check", &file], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("is valid"));
    assert_eq!(
        cli.json(&["campaign", "list", "--format", "json"]),
        serde_json::json!([])
    );

    let bad = cli.write(
        "bad.toml",
        &crate::common::campaign_file().replace("2027-03-31", "31.03.2027"),
    );
    let out = cli.run(&["campaign", "check", &bad], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("deadline") && err.contains("YYYY-MM-DD"),
        "{err}"
    );

    assert!(
        cli.run(&["campaign", "create", &file], None)
            .status
            .success()
    );
    let again = cli.run(&["campaign", "create", &file], None);
    assert_eq!(again.status.code(), Some(2), "the name is taken");
    let renamed = cli.write(
        "c2.toml",
        &crate::common::campaign_file().replace("2027-03-31", "2027-06-30"),
    );
    let out = cli.run(&["campaign", "create", "--replace", &renamed], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = cli.json(&["campaign", "list", "--format", "json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let status = cli.json(&["campaign", "status", "retire-2012r2", "--format", "json"]);
    assert_eq!(status["deadline"], "2027-06-30");

    let out = cli.run(&["campaign", "delete", "retire-2012r2"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        cli.json(&["campaign", "list", "--format", "json"]),
        serde_json::json!([])
    );
    let audit = cli.json(&["audit", "--format", "json"]);
    assert_eq!(audit[0]["action"], "campaign delete");
}

#[test]
fn a_preview_needs_no_link_keys() {
    let cli = ingested();
    let file = cli.write("c.toml", crate::common::campaign_file());
    assert!(
        cli.run(&["campaign", "create", &file], None)
            .status
            .success()
    );
    let out = cli.run(
        &["campaign", "preview", "retire-2012r2", "--out", "preview"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("throwaway key"));
    assert!(
        cli.dir
            .path()
            .join("preview")
            .read_dir()
            .expect("dir")
            .count()
            > 0
    );
}

#[test]
fn completions_and_manual_pages_come_from_the_same_definitions_as_help() {
    let cli = Cli::new();
    let bash = cli.run(&["completions", "bash"], None);
    assert!(bash.status.success());
    let text = String::from_utf8_lossy(&bash.stdout);
    assert!(
        text.contains("machines") && text.contains("--eol-within"),
        "{}",
        &text[..200.min(text.len())]
    );
    let man = cli.run(&["man"], None);
    assert!(
        String::from_utf8_lossy(&man.stdout).starts_with(".ie"),
        "roff"
    );
    let out = cli.run(&["man", "--out", "man"], None);
    assert!(out.status.success());
    for page in [
        "winventory.1",
        "winventory-report-eol.1",
        "winventory-machines.1",
    ] {
        assert!(cli.dir.path().join("man").join(page).exists(), "{page}");
    }
    assert!(
        !cli.dir.path().join("winventory.db").exists(),
        "no database needed"
    );
}

#[test]
fn logs_written_to_a_file_carry_no_colour_codes() {
    let cli = ingested();
    let out = cli.run(&["report", "os", "--log", "debug"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DEBUG"), "debug lines were asked for: {err}");
    assert!(!err.contains('\u{1b}'), "{err}");
}

#[test]
fn catalog_coverage_lists_what_the_rules_reach_and_fails_on_a_broken_site_rule() {
    let cli = Cli::new();
    let out = cli.run(&["catalog", "coverage", "--format", "json"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !cli.dir.path().join("winventory.db").exists(),
        "needs no database"
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let row = |p: &str| {
        rows.as_array()
            .expect("rows")
            .iter()
            .find(|r| r["product"] == p)
            .cloned()
            .unwrap_or_else(|| panic!("{p} listed: {rows}"))
    };
    let python = row("python");
    assert!(python["rules"].as_u64() > Some(1), "{python}");
    assert!(python["package_rules"].as_u64() > Some(0), "{python}");
    assert!(python["no_rule"].is_null());
    let ie = row("internet-explorer");
    assert_eq!(ie["rules"], 0);
    assert!(ie["no_rule"].as_str().is_some_and(|w| !w.is_empty()));
    assert!(
        rows.as_array()
            .expect("rows")
            .iter()
            .all(|r| r["product"] != "windows-server"),
        "operating systems are not software"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rule examples give what they say"),
        "{stderr}"
    );

    // A site rule that shadows a shipped one, and one whose own example
    // fails: both named, exit 1.
    let site = cli.write(
        "site.toml",
        "[[rule]]\n\
         name = '^Python '\n\
         ignore = \"we count Python elsewhere\"\n\
         examples = [{ name = \"Python 3.12.1 (64-bit)\" }]\n\
         \n\
         [[rule]]\n\
         name = '^labtool(\\d+)$'\n\
         package = true\n\
         product = \"python\"\n\
         cycle = [\"3.{1}\"]\n\
         examples = [{ name = \"labtool12\", version = \"1.0-1\", expect = \"python/3.13\" }]\n",
    );
    let out = cli.run(&["--catalog", &site, "catalog", "coverage"], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"labtool12\"")
            && stderr.contains("expected python/3.13, got python/3.12"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"Python 3.8.10 (64-bit)\""),
        "the shipped example the site rule shadows is named: {stderr}"
    );
}

#[test]
fn titles_stored_before_a_rule_existed_are_matched_again_at_the_next_ingest() {
    let cli = Cli::new();
    let fleet = cli.write(
        "lab.jsonl",
        r#"{"hostname": "LAB-1", "collected_at": "2026-11-26T02:00:00Z", "os": {"caption": "Ubuntu 22.04.5 LTS", "version": "22.04"}, "software": [{"name": "labtool12", "version": "1.0-1"}, {"name": "python3.10", "version": "3.10.12-1~22.04.7"}]}"#,
    );
    let cycles = |cli: &Cli, catalog: &[&str]| -> Vec<(String, String)> {
        let mut args = catalog.to_vec();
        args.extend(["machine", "LAB-1", "--format", "json"]);
        let m = cli.json(&args);
        let mut v: Vec<(String, String)> = m["software"]
            .as_array()
            .expect("software")
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap_or_default().to_string(),
                    s["cycle"].as_str().unwrap_or("-").to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let out = cli.run(&["ingest", &fleet, NOW], None);
    assert!(out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("matched again"),
        "a new database has nothing to match again"
    );
    assert_eq!(
        cycles(&cli, &[]),
        [
            ("labtool12".to_string(), "-".to_string()),
            ("python3.10".to_string(), "3.10".to_string())
        ]
    );

    // The site adds a rule; the next ingest (nothing new in it) matches the
    // stored title again, once.
    let site = cli.write(
        "site.toml",
        "[[rule]]\nname = '^labtool(\\d+)$'\npackage = true\nproduct = \"python\"\ncycle = [\"3.{1}\"]\n",
    );
    let out = cli.run(&["--catalog", &site, "ingest", &fleet, NOW], None);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 titles and 1 machines matched again"),
        "{stderr}"
    );
    assert_eq!(
        cycles(&cli, &["--catalog", &site]),
        [
            ("labtool12".to_string(), "3.12".to_string()),
            ("python3.10".to_string(), "3.10".to_string())
        ]
    );
    let out = cli.run(&["--catalog", &site, "ingest", &fleet, NOW], None);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("matched again"));

    // `catalog rematch` does it on demand: without the site file, the rule
    // is gone again.
    let out = cli.run(&["catalog", "rematch"], None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("matched 2 titles and 1 machines again"));
    assert_eq!(
        cycles(&cli, &[])[0],
        ("labtool12".to_string(), "-".to_string())
    );
}
