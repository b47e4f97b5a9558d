//! docs/cli.md is the JSON contract, and this keeps it true: every example
//! document it marks (a ```json block right after `<!-- json: COMMAND -->`)
//! is compared, key path by key path, with what the real binary prints for
//! that command on a database where every optional part is filled (owners,
//! software, answers of every kind, an exception decided and one pending,
//! removals, groups, a set-aside machine, a rejected line and row). And
//! every command whose `--format` takes `json` (clap's own command tree) has
//! an example, one per value of a shape-changing `--by`, so a new command
//! cannot land undocumented.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output, Stdio};

use clap::CommandFactory;
use serde_json::Value;

/// The fixed clock of every command (`WINVENTORY_NOW`) and answer.
const NOW: &str = "2026-12-01T10:00:00Z";
/// When the fleet's reports were collected.
const COLLECTED: &str = "2026-12-01T08:00:00Z";

/// One documented example: the command it documents, its line in the file
/// and the document.
struct Example {
    command: String,
    line: usize,
    json: Value,
}

/// The examples of docs/cli.md, in file order.
fn examples(text: &str) -> Vec<Example> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(command) = lines[i]
            .trim()
            .strip_prefix("<!-- json:")
            .and_then(|r| r.strip_suffix("-->"))
            .map(str::trim)
        else {
            i += 1;
            continue;
        };
        let marker = i + 1;
        let fence = lines[i + 1..]
            .iter()
            .position(|l| !l.trim().is_empty())
            .map(|p| i + 1 + p)
            .unwrap_or_else(|| panic!("docs/cli.md:{marker}: a json marker with nothing after it"));
        assert_eq!(
            lines[fence].trim(),
            "```json",
            "docs/cli.md:{marker}: the marker of {command:?} must be followed by a ```json block"
        );
        let end = lines[fence + 1..]
            .iter()
            .position(|l| l.trim() == "```")
            .map(|p| fence + 1 + p)
            .unwrap_or_else(|| panic!("docs/cli.md:{}: an unclosed ```json block", fence + 1));
        let body = lines[fence + 1..end].join("\n");
        let json = serde_json::from_str(&body).unwrap_or_else(|e| {
            panic!(
                "docs/cli.md:{}: the example of {command:?} is not JSON: {e}",
                fence + 1
            )
        });
        out.push(Example {
            command: command.to_string(),
            line: marker,
            json,
        });
        i = end + 1;
    }
    out
}

/// Every key path of a JSON document: an object's keys (`a`, `a.b`), an
/// array's elements under `[]` (`[].kind`, `machines[].ending[].eol`), the
/// union over all the elements of an array.
fn key_paths(v: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, at: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let p = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    out.insert(p.clone());
                    walk(child, &p, out);
                }
            }
            Value::Array(items) => {
                let p = format!("{at}[]");
                for item in items {
                    walk(item, &p, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(v, "", &mut out);
    out
}

/// Whether a documented key path covers a printed one: the same segments,
/// a documented `<placeholder>` key standing for any key (a map whose keys
/// are data, such as answers counted by kind).
fn covers(documented: &str, printed: &str) -> bool {
    let d: Vec<&str> = documented.split('.').collect();
    let p: Vec<&str> = printed.split('.').collect();
    d.len() == p.len()
        && d.iter().zip(&p).all(|(d, p)| {
            let (db, darr) = split_array(d);
            let (pb, parr) = split_array(p);
            darr == parr && (db == pb || (db.starts_with('<') && db.ends_with('>')))
        })
}

/// A segment without its `[]` suffixes, and how many it had.
fn split_array(s: &str) -> (&str, usize) {
    let mut base = s;
    let mut n = 0;
    while let Some(b) = base.strip_suffix("[]") {
        base = b;
        n += 1;
    }
    (base, n)
}

/// What differs between the documented and the printed key paths:
/// (documented but not printed, printed but not documented).
fn differences(
    documented: &BTreeSet<String>,
    printed: &BTreeSet<String>,
) -> (Vec<String>, Vec<String>) {
    let missing = documented
        .iter()
        .filter(|d| !printed.iter().any(|p| covers(d, p)))
        .cloned()
        .collect();
    let undocumented = printed
        .iter()
        .filter(|p| !documented.iter().any(|d| covers(d, p)))
        .cloned()
        .collect();
    (missing, undocumented)
}

/// The commands whose `--format` takes `json`, as words (`report eol`),
/// each with the values of its `--by` (the options that change the shape).
fn json_commands() -> BTreeMap<String, Vec<String>> {
    fn walk(cmd: &clap::Command, path: &[String], out: &mut BTreeMap<String, Vec<String>>) {
        let takes_json = cmd.get_arguments().any(|a| {
            a.get_long() == Some("format")
                && a.get_possible_values()
                    .iter()
                    .any(|v| v.get_name() == "json")
        });
        if takes_json {
            let by = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some("by"))
                .map(|a| {
                    a.get_possible_values()
                        .iter()
                        .map(|v| v.get_name().to_string())
                        .collect()
                })
                .unwrap_or_default();
            out.insert(path.join(" "), by);
        }
        for sub in cmd.get_subcommands() {
            let mut p = path.to_vec();
            p.push(sub.get_name().to_string());
            walk(sub, &p, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(&winventory::cli::Cli::command(), &[], &mut out);
    out
}

/// The command path a documented command names: its words up to the first
/// option or placeholder (`catalog show PRODUCT` is `catalog show`).
fn command_path(documented: &str) -> String {
    documented
        .split_whitespace()
        .take_while(|w| !w.starts_with('-') && !w.chars().any(|c| c.is_ascii_uppercase()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A site on a SQLite file in a folder of its own, run at [`NOW`].
struct Site {
    dir: tempfile::TempDir,
}

const KEYS: &str = crate::common::KEYS;

impl Site {
    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("winventory.db")
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.dir.path().join(name), text).expect("write");
        self.path(name)
    }

    /// The binary at [`NOW`], with this site's settings only.
    fn output(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_winventory"));
        for (k, _) in std::env::vars() {
            if k.starts_with("WINVENTORY_") && !k.starts_with("WINVENTORY_TEST_") {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(self.dir.path())
            .args(args)
            .env(
                "WINVENTORY_DATABASE_URL",
                format!("sqlite://{}", self.db().display()),
            )
            .env("WINVENTORY_NOW", NOW)
            .env("WINVENTORY_LINK_KEYS", KEYS)
            .env("WINVENTORY_BASE_URL", "https://winventory.example.org")
            .env("WINVENTORY_MAIL_FROM", "IT <it@json.example>")
            .env("WINVENTORY_LICENCES", self.path("licences.toml"))
            .env("USER", "itadmin")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.output().expect("run winventory")
    }

    /// Run a command that must succeed.
    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn fleet(collected: &str) -> String {
    let server = r#""os": {"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3, "architecture": "64-bit"}"#;
    let pc = r#""os": {"caption": "Microsoft Windows 11 Enterprise", "version": "10.0.26100", "display_version": "24H2", "edition": "Enterprise", "product_type": 1, "architecture": "64-bit"}"#;
    let python = r#"{"name": "Python 3.8.10 (64-bit)", "version": "3.8.10", "publisher": "Python Software Foundation", "install_date": "20200101", "last_used": "2026-11-30T09:00:00Z"}"#;
    let matlab = |used: &str| {
        format!(
            r#"{{"name": "MATLAB R2024a", "version": "24.1", "publisher": "MathWorks", "install_date": "20240401", "last_used": "{used}"}}"#
        )
    };
    [
        format!(
            r#"{{"hostname": "SRV-A1", "domain": "CORP", "collected_at": "{collected}", {server}, "responsible": "asmith", "main_user": "jdoe", "software": [{python}]}}"#
        ),
        format!(
            r#"{{"hostname": "SRV-A2", "collected_at": "{collected}", {server}, "responsible": "asmith"}}"#
        ),
        format!(
            r#"{{"hostname": "SRV-J1", "collected_at": "{collected}", {server}, "responsible": "jdoe"}}"#
        ),
        format!(r#"{{"hostname": "SRV-ORPHAN", "collected_at": "{collected}", {server}}}"#),
        format!(
            r#"{{"hostname": "PC-1", "collected_at": "{collected}", {pc}, "main_user": "ann", "software": [{}]}}"#,
            matlab("2026-05-01T09:00:00Z")
        ),
        format!(
            r#"{{"hostname": "PC-2", "collected_at": "{collected}", {pc}, "main_user": "bob", "software": [{}]}}"#,
            matlab("2026-06-01T09:00:00Z")
        ),
        format!(
            r#"{{"hostname": "PC-3", "collected_at": "{collected}", {pc}, "main_user": "ann", "software": [{}, {python}]}}"#,
            matlab("2026-11-25T09:00:00Z")
        ),
        format!(
            r#"{{"hostname": "ODD", "collected_at": "{collected}", "os": {{"caption": "Plan 9", "version": "4"}}}}"#
        ),
    ]
    .join("\n")
}

const USERS: &str = "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
    asmith,Alice Smith,asmith@json.example,@asmith:json.example,asmith,en,Europe/Zurich,boss,it;admins\n\
    jdoe,Jean Doe,jdoe@json.example,,,fr,Europe/Paris,boss,it\n\
    boss,The Boss,boss@json.example,,,en,,,\n\
    desk1,Desk One,desk1@json.example,,,en,,,it-desk\n\
    ann,Ann,ann@json.example,,,en,,,physics\n\
    bob,Bob,,,,en,,,chemistry\n";

const EOL_CAMPAIGN: &str = r#"
name = "retire-2012r2"
kind = "eol"
title = "Windows Server 2012 R2 retirement"
description = "Windows Server 2012 R2 no longer receives security updates."
deadline = "2027-03-31"
fallback_group = "it-desk"

[target]
os = [{ product = "windows-server", cycles = ["2012-r2"] }]
"#;

const LICENCE_CAMPAIGN: &str = r#"
name = "matlab-seats"
kind = "licence"
title = "Do you still need MATLAB?"
description = "We pay for every MATLAB install; tell us which ones can go."
deadline = "2027-03-31"
fallback_group = "it-desk"

[target]
applications = ["MATLAB"]
unused_days = 90
"#;

const LICENCES: &str = r#"
[[licence]]
name = "matlab"
application = "MATLAB"
model = "per_device"
seats = 1
price = "100"
currency = "CHF"
start = 2026-01-01
end = 2026-12-31
notice_days = 60
"#;

/// The site every example is checked on: the fleet, the directory (with
/// groups), a licence file over its seats, an end-of-life campaign and a
/// licence campaign started, answers of every shape recorded (an exception
/// approved, one pending, a "not mine", an upgrade with a comment, an
/// uninstall promised, a removal asked), a later snapshot that resolves the
/// upgrade, confirms the removal and hands the machine on to the person
/// named, and a machine set aside.
async fn populated() -> Site {
    let site = Site {
        dir: tempfile::tempdir().expect("tmp"),
    };
    site.write("licences.toml", LICENCES);
    site.run(&[
        "ingest",
        &site.write("fleet.jsonl", &fleet(COLLECTED)),
        "--now",
        NOW,
    ]);
    site.run(&["users", "import", &site.write("users.csv", USERS)]);
    site.run(&["campaign", "create", &site.write("eol.toml", EOL_CAMPAIGN)]);
    site.run(&[
        "campaign",
        "create",
        &site.write("licence.toml", LICENCE_CAMPAIGN),
    ]);
    site.run(&["campaign", "start", "retire-2012r2", "matlab-seats"]);

    // The answers, through the engine the binary runs (in process, at NOW).
    {
        use winventory::app::App;
        use winventory::settings::{Overrides, Settings};
        use winventory_workflows::answer::{Answer, AnswerKind};
        use winventory_workflows::reply::Target;
        let config = site.write(
            "winventory.toml",
            &format!(
                "database = \"sqlite://{}\"\nlink_keys = \"{KEYS}\"\nbase_url = \"https://winventory.example.org\"\nlicences = \"{}\"\n",
                site.db().display(),
                site.path("licences.toml"),
            ),
        );
        let settings = Settings::resolve(Overrides {
            config: Some(config.into()),
            database: Some(format!("sqlite://{}", site.db().display())),
            ..Overrides::default()
        })
        .expect("settings");
        let app = App::open(settings, winventory::clock::Clock::default())
            .await
            .expect("app");
        let engine = app.engine().await.expect("engine");
        let now: chrono::DateTime<chrono::Utc> = NOW.parse().expect("time");
        // A sign-in session (single sign-on makes them; `session list`).
        app.store
            .create_session(&winventory_core::store::NewSession {
                secret_hash: "0".repeat(64),
                login: "asmith".into(),
                roles: "owner".into(),
                csrf: "c".into(),
                id_token: None,
                origin: "10.1.2.3".into(),
                created_at: now,
                expires_at: now + chrono::Duration::hours(24),
            })
            .await
            .expect("a session");
        let date = |d: &str| Some(d.parse().expect("date"));
        let answers = [
            (
                "asmith",
                "SRV-A1",
                AnswerKind::Exception,
                date("2027-06-30"),
                Some("drives a lab instrument"),
                None,
            ),
            (
                "jdoe",
                "SRV-J1",
                AnswerKind::Exception,
                date("2027-05-31"),
                Some("vendor support ends with it"),
                None,
            ),
            (
                "asmith",
                "SRV-A2",
                AnswerKind::Upgrade,
                date("2027-01-31"),
                None,
                Some("after the quarter closes"),
            ),
            (
                "desk1",
                "SRV-ORPHAN",
                AnswerKind::NotMine,
                None,
                Some("jdoe"),
                None,
            ),
            (
                "ann",
                "PC-1",
                AnswerKind::Uninstall,
                date("2026-12-20"),
                None,
                None,
            ),
            ("bob", "PC-2", AnswerKind::Remove, None, None, None),
        ];
        for (login, host, kind, date, detail, comment) in answers {
            engine
                .answer_chat(
                    login,
                    "matrix",
                    &Target::Host(host.into()),
                    Answer {
                        kind,
                        date,
                        detail: detail.map(str::to_string),
                        comment: comment.map(str::to_string),
                    },
                    now,
                )
                .await
                .unwrap_or_else(|e| panic!("{login} answers {host}: {e}"));
        }
    }
    site.run(&[
        "campaign",
        "approve",
        "retire-2012r2",
        "SRV-A1",
        "--note",
        "until the new instrument PC arrives",
        "--by",
        "itadmin",
    ]);
    // A later snapshot: SRV-A2 upgraded and PC-2 without MATLAB resolve
    // (the removal is confirmed); the ingest's verification hands
    // SRV-ORPHAN to the person desk1 named.
    let later = format!(
        "{}\n{}",
        r#"{"hostname": "SRV-A2", "collected_at": "2026-12-01T09:00:00Z", "os": {"caption": "Microsoft Windows Server 2022 Standard", "version": "10.0.20348", "edition": "ServerStandard", "product_type": 3}, "responsible": "asmith"}"#,
        r#"{"hostname": "PC-2", "collected_at": "2026-12-01T09:00:00Z", "os": {"caption": "Microsoft Windows 11 Enterprise", "version": "10.0.26100", "edition": "Enterprise", "product_type": 1}, "main_user": "bob", "software": []}"#,
    );
    site.run(&["ingest", &site.write("later.jsonl", &later), "--now", NOW]);
    // A machine stored before the size limits, set aside by migration 12.
    let set_aside = Command::new("sqlite3")
        .arg(site.db())
        .arg(
            "INSERT INTO rejected_machines (former_id, hostname, hostname_bytes, last_report, reason, rejected_at) \
             VALUES (999, 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 300, 1764576000000000, \
             'hostname is 300 bytes (at most 253)', 1764576000000000)",
        )
        .output()
        .expect("sqlite3");
    assert!(
        set_aside.status.success(),
        "{}",
        String::from_utf8_lossy(&set_aside.stderr)
    );
    site
}

/// The arguments that print a documented command's JSON on the populated
/// site (`--format json` is added). `None`: the test does not know how to
/// run it yet; add it here.
fn invocation(site: &Site, command: &str) -> Option<Vec<String>> {
    let preview = site.path("preview");
    let args: Vec<String> = match command {
        // A rejected line, beside the set-aside machine: `errors` and
        // `set_aside` both have rows.
        "ingest" => vec![
            "ingest".into(),
            site.write(
                "bad.jsonl",
                &format!(
                    "{}\n{{\"hostname\": \"NO-TIME\"}}\n",
                    fleet(COLLECTED).lines().next().unwrap_or_default()
                ),
            ),
            "--now".into(),
            NOW.into(),
        ],
        "report os" => vec!["report".into(), "os".into()],
        "report eol --by product" => words("report eol --by product --within 400"),
        "report eol --by cycle" => words("report eol --by cycle --within 400"),
        "report software --by cycle" => words("report software --by cycle"),
        "report software --by application" => words("report software --by application"),
        "report licences" => words("report licences"),
        "report exceptions" => words("report exceptions"),
        "machines" => words("machines --eol-within 400"),
        "machine" => words("machine srv-a1"),
        "owner" => words("owner asmith"),
        // A good row and a bad one: `errors` has a row.
        "users import" => vec![
            "users".into(),
            "import".into(),
            site.write(
                "more-users.csv",
                "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
                 cid,Cid,cid@json.example,,,en,,,chemistry\n\
                 broken,No Mail,nomail,,,,,,\n",
            ),
        ],
        "users list" => words("users list"),
        "users show" => words("users show asmith"),
        "catalog show" => words("catalog show"),
        "catalog show PRODUCT" => words("catalog show windows-server"),
        "catalog coverage" => words("catalog coverage"),
        "campaign list" => words("campaign list"),
        "campaign preview" => vec![
            "campaign".into(),
            "preview".into(),
            "retire-2012r2".into(),
            "--out".into(),
            preview,
        ],
        "campaign show" => words("campaign show retire-2012r2"),
        "campaign history" => words("campaign history retire-2012r2 srv-orphan"),
        "campaign status" => words("campaign status retire-2012r2"),
        "campaign exceptions" => words("campaign exceptions"),
        "outbox" => words("outbox"),
        "audit" => words("audit"),
        "token create" => words("token create cmf-export --role collector"),
        "token list" => words("token list"),
        "session list" => words("session list --all"),
        "licence whatif" => words("licence whatif matlab --model per_user --drop-answered"),
        "licence removals" => words("licence removals --status all"),
        _ => return None,
    };
    Some(args)
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_key_printed_is_documented_and_every_documented_key_is_printed() {
    let doc = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md");
    let text = std::fs::read_to_string(doc).expect("docs/cli.md");
    let examples = examples(&text);
    let mut problems: Vec<String> = Vec::new();

    // One example per command (and per --by value), none for a command
    // that does not print JSON.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &examples {
        if let Some(first) = seen.insert(&e.command, e.line) {
            problems.push(format!(
                "docs/cli.md:{}: {:?} is documented twice (first at line {first})",
                e.line, e.command
            ));
        }
    }
    let commands = json_commands();
    for (path, by) in &commands {
        let documented = |c: &str| examples.iter().any(|e| e.command == c);
        if by.is_empty() {
            if !examples.iter().any(|e| command_path(&e.command) == *path) {
                problems.push(format!(
                    "`winventory {path} --format json` has no example in docs/cli.md (<!-- json: {path} --> before a ```json block)"
                ));
            }
        } else {
            for v in by {
                let c = format!("{path} --by {v}");
                if !documented(&c) {
                    problems.push(format!(
                        "`winventory {c} --format json` has no example in docs/cli.md (<!-- json: {c} -->)"
                    ));
                }
            }
        }
    }
    for e in &examples {
        let path = command_path(&e.command);
        match commands.get(&path) {
            None => problems.push(format!(
                "docs/cli.md:{}: {:?} documents JSON, but `winventory {path}` has no --format json",
                e.line, e.command
            )),
            Some(by)
                if !by.is_empty()
                    && !by.iter().any(|v| e.command == format!("{path} --by {v}")) =>
            {
                problems.push(format!(
                    "docs/cli.md:{}: {:?}: name the shape with one of --by {}",
                    e.line,
                    e.command,
                    by.join("|")
                ));
            }
            Some(_) => {}
        }
    }

    let site = populated().await;
    for e in &examples {
        let Some(args) = invocation(&site, &e.command) else {
            problems.push(format!(
                "docs/cli.md:{}: the test does not know how to run {:?}: add it to `invocation` in bot/tests/e2e/cli_json.rs",
                e.line, e.command
            ));
            continue;
        };
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.extend(["--format", "json"]);
        let out = site.output(&args);
        let printed: Value = match serde_json::from_slice(&out.stdout) {
            Ok(v) => v,
            Err(err) => {
                problems.push(format!(
                    "{:?} (exit {:?}) printed no JSON ({err}): {}{}",
                    args,
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
        };
        let (missing, undocumented) = differences(&key_paths(&e.json), &key_paths(&printed));
        if !missing.is_empty() || !undocumented.is_empty() {
            problems.push(format!(
                "docs/cli.md:{} `{}`: documented but not printed: [{}]; printed but not documented: [{}]",
                e.line,
                e.command,
                missing.join(", "),
                undocumented.join(", ")
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn key_paths_take_the_union_of_array_elements_and_placeholders_stand_for_any_key() {
    let printed = serde_json::json!([
        {"a": 1, "m": {"upgrade": 2}, "xs": [{"b": 1}, {"c": null}]},
        {"a": 2, "m": {}, "xs": []}
    ]);
    let paths = key_paths(&printed);
    assert_eq!(
        paths.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "[].a",
            "[].m",
            "[].m.upgrade",
            "[].xs",
            "[].xs[].b",
            "[].xs[].c"
        ]
    );
    let documented = key_paths(&serde_json::json!([
        {"a": 1, "m": {"<kind>": 2}, "xs": [{"b": 1}], "gone": true}
    ]));
    let (missing, undocumented) = differences(&documented, &paths);
    assert_eq!(missing, ["[].gone"]);
    assert_eq!(undocumented, ["[].xs[].c"]);
    assert_eq!(command_path("catalog show PRODUCT"), "catalog show");
    assert_eq!(command_path("report eol --by cycle"), "report eol");
}
