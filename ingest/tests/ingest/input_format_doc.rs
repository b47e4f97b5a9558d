//! The examples of `docs/input-format.md`, on both backends: every fenced
//! `json` block (one report, pretty-printed for reading, so re-serialised
//! on one line) and `jsonl` block (one report a line) is ingested, in the
//! order of the page, and must be accepted without a warning; a block
//! fenced `jsonl rejected:FIELD` must have every line rejected with a reason
//! naming FIELD. What the page says of the examples' outcome is checked too.

use winventory_core::on_both_backends;

use crate::helpers::*;

const DOC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../docs/input-format.md"
));

/// A fenced example of the page.
#[derive(Debug)]
struct Example {
    /// The line of the page its fence opens on.
    at: usize,
    /// The snapshot lines it stands for.
    lines: Vec<String>,
    /// The field its lines must be rejected for, if it is a bad example.
    rejected: Option<String>,
}

/// The `json` and `jsonl` blocks of the page, in order.
fn examples(doc: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut page = doc.lines().enumerate();
    while let Some((i, l)) = page.next() {
        let Some(info) = l.strip_prefix("```") else {
            continue;
        };
        let mut words = info.split_whitespace();
        let lang = words.next().unwrap_or_default();
        let rejected = words
            .find_map(|w| w.strip_prefix("rejected:"))
            .map(str::to_string);
        let body: Vec<&str> = page
            .by_ref()
            .map(|(_, l)| l)
            .take_while(|l| !l.starts_with("```"))
            .collect();
        let reports = match lang {
            "json" => {
                let v: serde_json::Value =
                    serde_json::from_str(&body.join("\n")).unwrap_or_else(|e| {
                        panic!("the json block at line {} is not JSON: {e}", i + 1)
                    });
                vec![v.to_string()]
            }
            "jsonl" => body
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.to_string())
                .collect(),
            _ => continue,
        };
        out.push(Example {
            at: i + 1,
            lines: reports,
            rejected,
        });
    }
    out
}

#[test]
fn the_page_has_the_examples_it_promises() {
    let all = examples(DOC);
    assert!(all.len() >= 5, "{all:?}");
    assert_eq!(
        all.iter()
            .filter_map(|e| e.rejected.as_deref())
            .collect::<Vec<_>>(),
        ["os.version"]
    );
}

on_both_backends! {
    async fn every_example_of_the_input_format_page_is_accepted_and_the_bad_one_rejected(backend) {
        let e = env(backend).await;
        for (n, ex) in examples(DOC).iter().enumerate() {
            let f = e.file(&format!("example-{n}.jsonl"), &ex.lines);
            let s = e.ingest(&[&f]).await;
            let lines = ex.lines.len() as u64;
            assert!(s.failures.is_empty(), "example at line {}: {s:?}", ex.at);
            match &ex.rejected {
                None => assert_eq!(
                    (s.lines_read, s.accepted, s.rejected, s.warnings),
                    (lines, lines, 0, 0),
                    "the example at line {} of docs/input-format.md: {:?}",
                    ex.at,
                    s.errors
                ),
                Some(field) => {
                    assert_eq!((s.accepted, s.rejected), (0, lines), "example at line {}", ex.at);
                    for (i, err) in s.errors.iter().enumerate() {
                        assert_eq!(err.line, i as u64 + 1);
                        assert!(err.reason.contains(&format!("`{field}`")), "{err:?}");
                    }
                }
            }
            if n == 0 {
                // The minimal machine, before a later example reports it again.
                let m = e.store.machine("pc-min-01").await.expect("q").expect("stored");
                assert_eq!(m.os_match.map(|c| c.cycle).as_deref(), Some("11-23h2-e"));
                assert!(m.responsible.is_none() && m.main_user.is_none());
            }
        }

        let full = e.store.machine("pcitcda042").await.expect("q").expect("stored");
        assert_eq!(full.os_match.as_ref().map(|c| (c.product.as_str(), c.cycle.as_str())), Some(("windows-server", "2008-r2-sp1")));
        assert_eq!(full.responsible.map(|f| f.login).as_deref(), Some("asmith"));
        assert_eq!(e.store.machine_software(full.id).await.expect("software").len(), 3);

        let linux = e.store.machine("lxbuild07.example.org").await.expect("q").expect("stored");
        assert_eq!(linux.os_match.as_ref().map(|c| (c.product.as_str(), c.cycle.as_str())), Some(("ubuntu", "22.04")));
        let mut packages: Vec<(String, String)> = e.store.machine_software(linux.id).await.expect("software")
            .into_iter()
            .map(|s| (s.name, s.cycle.map(|c| format!("{}/{}", c.product, c.cycle)).unwrap_or_default()))
            .collect();
        packages.sort();
        // The shipped package rules read the upstream version out of the
        // distribution's (epoch and release stripped).
        assert_eq!(
            packages,
            [
                ("openssl".to_string(), "openssl/3.0".to_string()),
                ("postgresql-14".to_string(), "postgresql/14".to_string()),
                ("python3.10".to_string(), "python/3.10".to_string()),
            ]
        );

        let late = e.store.machine("pc-late").await.expect("q").expect("stored");
        assert_eq!(late.os_match.map(|c| c.cycle).as_deref(), Some("11-24h2-e"), "the later report wins");
        assert!(e.store.machine_software(late.id).await.expect("software").is_empty(), "`[]`: nothing installed");

        let again = e.store.machine("pc-min-01").await.expect("q").expect("stored");
        assert_eq!(again.hostname, "pc-min-01", "shown as last reported");
        assert_eq!(again.os_match.map(|c| c.cycle).as_deref(), Some("11-23h2-w"));
        assert_eq!(again.main_user.map(|f| f.login).as_deref(), Some("jdoe"));
    }
}
