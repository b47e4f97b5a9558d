//! Licences end to end through the binary, on SQLite and on PostgreSQL: a
//! fleet with licensed software (metered use on some installs, a stale
//! machine), a licence file, `report licences` and `licence whatif` with
//! their figures checked exactly, and a bad licence file refused with every
//! mistake named by line and field.

use crate::common::Site;
use chrono::{Duration, Utc};
use winventory_core::store::Backend;

pub(crate) fn fleet() -> String {
    let now = Utc::now();
    let at = |h: i64| (now - Duration::hours(h)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let used =
        |d: i64| (now - Duration::days(d)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let os = r#""os": {"caption": "Microsoft Windows 11 Enterprise", "version": "10.0.26100", "edition": "Enterprise", "product_type": 1}"#;
    let matlab = |v: &str, last: Option<i64>| match last {
        Some(d) => format!(
            r#"{{"name": "MATLAB {v}", "version": "24.1", "publisher": "MathWorks", "last_used": "{}"}}"#,
            used(d)
        ),
        None => format!(r#"{{"name": "MATLAB {v}", "version": "24.1", "publisher": "MathWorks"}}"#),
    };
    let acrobat =
        r#"{"name": "Adobe Acrobat (64-bit)", "version": "24.001", "publisher": "Adobe"}"#;
    [
        format!(
            r#"{{"hostname": "PC1", "collected_at": "{}", {os}, "main_user": "ann", "software": [{}, {acrobat}]}}"#,
            at(2),
            matlab("R2024a", Some(5))
        ),
        format!(
            r#"{{"hostname": "PC2", "collected_at": "{}", {os}, "main_user": "ann", "software": [{}]}}"#,
            at(2),
            matlab("R2023b", Some(200))
        ),
        format!(
            r#"{{"hostname": "PC3", "collected_at": "{}", {os}, "responsible": "bob", "software": [{}]}}"#,
            at(2),
            matlab("R2024a", Some(10))
        ),
        format!(
            r#"{{"hostname": "PC4", "collected_at": "{}", {os}, "main_user": "cid", "software": [{}, {acrobat}]}}"#,
            at(2),
            matlab("R2024a", None)
        ),
        // Stale: last reported 200 days ago.
        format!(
            r#"{{"hostname": "PC5", "collected_at": "{}", {os}, "main_user": "dan", "software": [{}]}}"#,
            at(200 * 24),
            matlab("R2022b", Some(300))
        ),
    ]
    .join("\n")
}

pub(crate) fn licence_file() -> String {
    let end = (Utc::now() + Duration::days(30)).date_naive();
    format!(
        r#"# The site's licences.
[[licence]]
name = "matlab-campus"
application = "MATLAB"
model = "per_user"
seats = 2
price = "180.50"
currency = "CHF"
start = 2026-01-01
end = {end}
notice_days = 60

[[licence]]
name = "acrobat"
application = "Adobe Acrobat"
model = "per_device"
seats = 5
price = 15
period = "month"
currency = "EUR"
start = 2025-01-01
"#
    )
}

async fn licences(backend: Backend, tag: &str) {
    let site = Site::new(backend, tag).await;
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);
    site.run(&[
        "users",
        "import",
        &site.write(
            "users.csv",
            "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
             ann,Ann,,,,en,,,physics\nbob,Bob,,,,en,,,physics\ncid,Cid,,,,en,,,chemistry\n",
        ),
    ]);
    let file = site.write("licences.toml", &licence_file());
    let checked = site.run(&["licence", "check", &file]);
    assert!(String::from_utf8_lossy(&checked.stdout).contains("2 licences checked, no mistakes"));

    let report = site.json(&[
        "report",
        "licences",
        "--licences",
        &file,
        "--format",
        "json",
    ]);
    let rows = report.as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{report}");
    let m = &rows[0];
    assert_eq!(m["licence"], "matlab-campus");
    // Fresh machines PC1-PC4 (PC5 is stale); users ann, bob (responsible of
    // PC3, which has no main user) and cid.
    assert_eq!(
        (
            m["machines"].as_i64(),
            m["users"].as_i64(),
            m["in_use"].as_i64()
        ),
        (Some(4), Some(3), Some(3)),
        "{m}"
    );
    assert_eq!(
        m["compliance"],
        serde_json::json!({"status": "over", "by": 1})
    );
    assert_eq!(m["yearly_cost"], "361.00");
    assert_eq!(m["currency"], "CHF");
    // PC2 last used 200 days ago; PC4 does not meter use.
    assert_eq!(
        (m["unused"].as_i64(), m["use_unknown"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(m["renewal_due"], true);
    let a = &rows[1];
    assert_eq!(a["licence"], "acrobat");
    assert_eq!(
        (a["machines"].as_i64(), a["in_use"].as_i64()),
        (Some(2), Some(2)),
        "{a}"
    );
    assert_eq!(
        a["compliance"],
        serde_json::json!({"status": "under", "by": 3})
    );
    assert_eq!(a["yearly_cost"], "900.00");
    assert_eq!(a["renewal_due"], false);

    // The same as a table and as CSV, from the setting instead of the flag.
    let table = site
        .command(&["report", "licences"])
        .env("WINVENTORY_LICENCES", &file)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("over by 1") && text.contains("361.00 CHF") && text.contains("(renewal due)"),
        "{text}"
    );
    let csv = site
        .command(&["report", "licences", "--format", "csv"])
        .env("WINVENTORY_LICENCES", &file)
        .output()
        .expect("run");
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert_eq!(csv.lines().count(), 3, "{csv}");

    // What if MATLAB cost ten times as much, without unused and stale installs?
    let w = site.json(&[
        "licence",
        "whatif",
        "MATLAB",
        "--licences",
        &file,
        "--price",
        "1805",
        "--drop-unused",
        "90",
        "--drop-stale",
        "--format",
        "json",
    ]);
    // Today: ann, bob, cid and dan (stale PC5) use it; simulated: PC2
    // (unused) and PC5 (stale) dropped: ann (PC1), bob, cid.
    assert_eq!(
        (w["in_use_today"].as_i64(), w["seats_simulated"].as_i64()),
        (Some(4), Some(3)),
        "{w}"
    );
    assert_eq!(w["cost_today"], "361.00");
    assert_eq!(w["cost_simulated"], "5415.00");
    assert_eq!(w["difference"], "5054.00");
    let groups: Vec<(String, i64, String)> = w["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["group"].as_str().unwrap_or_default().to_string(),
                g["seats_simulated"].as_i64().unwrap_or(-1),
                g["cost_simulated"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("(no group)".to_string(), 0, "0.00".to_string()),
            ("chemistry".to_string(), 1, "1805.00".to_string()),
            ("physics".to_string(), 2, "3610.00".to_string()),
        ]
    );
    let text = site.run(&[
        "licence",
        "whatif",
        "matlab-campus",
        "--licences",
        &file,
        "--model",
        "per_device",
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("simulated:  902.50 CHF a year (5 seats needed, per_device"),
        "{text}"
    );
    assert!(text.contains("difference: +541.50 CHF a year"), "{text}");
    // A simulated price is held to the licence file's rules; a window of
    // any length is a question, not a crash.
    let refused = site
        .command(&[
            "licence",
            "whatif",
            "MATLAB",
            "--licences",
            &file,
            "--price",
            "1.234",
        ])
        .output()
        .expect("run");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(
        said.contains("more decimals than the currency has (2 for CHF)"),
        "{said}"
    );
    let far = site.json(&[
        "licence",
        "whatif",
        "MATLAB",
        "--licences",
        &file,
        "--drop-unused",
        "999999999",
        "--format",
        "json",
    ]);
    assert_eq!(
        far["seats_simulated"], far["in_use_today"],
        "nothing is that unused: {far}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_licence_report_and_what_if_count_installs_users_cost_and_unused_use_on_sqlite() {
    licences(Backend::Sqlite, "lic-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_licence_report_and_what_if_count_installs_users_cost_and_unused_use_on_postgres() {
    licences(Backend::Postgres, "lic-postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_licence_file_is_refused_with_every_mistake_by_line_and_field() {
    let site = Site::new(Backend::Sqlite, "lic-bad").await;
    let bad = site.write(
        "bad.toml",
        r#"[[licence]]
name = "cad"
application = "Nonexistent CAD"
model = "per_user"
seats = -3
price = "10"
currency = "CHF"
start = 2026-01-01

[[licence]]
name = "matlab"
application = "MATLAB"
model = "per_user"
seats = 3
price = "10"
currency = "CHF"
start = 2026-01-01

[[licence]]
name = "matlab-extra"
application = "MATLAB"
model = "per_device"
seats = 3
price = "10"
currency = "CHF"
start = 2026-06-01

[[licence]]
name = "zoom"
application = "Zoom"
model = "per_user"
seats = 3
price = "10"
currency = "DOLLARS"
start = 2026-01-01
"#,
    );
    let out = site
        .command(&["licence", "check", &bad])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "bad.toml: line 3: licence[1].application: Nonexistent CAD is unknown",
        "bad.toml: line 5: licence[1].seats: -3 is not a number of seats",
        "bad.toml: line 26: licence[3].start: the contract \"matlab-extra\" for MATLAB overlaps \"matlab\" (line 10)",
        "bad.toml: line 34: licence[4].currency: \"DOLLARS\" is not an ISO 4217 currency code",
        "winventory licence check",
    ] {
        assert!(err.contains(want), "{want:?} in:\n{err}");
    }
    // The report refuses it the same way, and says nothing else (on a
    // database that exists: a missing one is said first).
    let empty = site.write("empty.jsonl", "");
    site.run(&["ingest", &empty]);
    let out = site
        .command(&["report", "licences", "--licences", &bad])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has 4 mistakes"));
    assert!(out.stdout.is_empty());
}
