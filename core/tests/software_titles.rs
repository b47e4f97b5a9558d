//! The software rules against two held-out sets of real titles
//! (`tests/data/software_titles.tsv`, `software_titles_2.tsv`): Windows
//! Uninstall entries and Linux packages as machines list them, each judged
//! against the bundled catalog from public sources (vendors' documentation,
//! winget manifests, package archives and listings, scanner fixtures) by
//! someone who had not seen the rules. The goal, for each set: at least 98%
//! of the installs of catalog products matched to the right cycle, none to
//! a wrong one, and nothing matched that is not the product.

use winventory_core::catalog::Catalog;

const SETS: [(&str, &str); 2] = [
    (
        "software_titles.tsv",
        include_str!("data/software_titles.tsv"),
    ),
    (
        "software_titles_2.tsv",
        include_str!("data/software_titles_2.tsv"),
    ),
];

struct Entry<'a> {
    file: &'a str,
    line: usize,
    name: &'a str,
    version: &'a str,
    publisher: &'a str,
    expect: Option<&'a str>,
}

fn entries(file: &'static str, text: &'static str) -> Vec<Entry<'static>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with("name\t") {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        assert!(
            f.len() >= 4,
            "{file}:{}: needs name, version, publisher, expect",
            i + 1
        );
        out.push(Entry {
            file,
            line: i + 1,
            name: f[0],
            version: f[1],
            publisher: f[2],
            expect: Some(f[3].trim()).filter(|e| *e != "-"),
        });
    }
    out
}

#[test]
fn held_out_titles_match_their_cycles_and_nothing_else() {
    for (file, text) in SETS {
        held_out_set_matches(file, text);
    }
}

fn held_out_set_matches(file: &'static str, text: &'static str) {
    let catalog = Catalog::builtin();
    let all = entries(file, text);
    assert!(all.len() >= 150, "{file}: {} entries", all.len());
    let (mut right, mut products) = (0usize, 0usize);
    let (mut missed, mut wrong, mut taken) = (Vec::new(), Vec::new(), Vec::new());
    for e in &all {
        let got = catalog
            .match_software(e.name, e.version, e.publisher)
            .cycle
            .map(|c| format!("{}/{}", c.product, c.cycle));
        let where_ = format!("{}:{}: {:?} {:?}", e.file, e.line, e.name, e.version);
        match (e.expect, got.as_deref()) {
            (Some(want), Some(g)) if want == g => {
                products += 1;
                right += 1;
            }
            (Some(want), Some(g)) => {
                products += 1;
                wrong.push(format!("{where_}: {g}, not {want}"));
            }
            (Some(want), None) => {
                products += 1;
                missed.push(format!("{where_}: unmatched, should be {want}"));
            }
            (None, Some(g)) => taken.push(format!("{where_}: taken for {g}")),
            (None, None) => {}
        }
    }
    let share = right as f64 / products.max(1) as f64;
    let report = format!(
        "{file}: {right} of {products} installs of catalog products right ({:.1}%), {} negatives\n\
         wrong cycle:\n  {}\nnot the product, yet matched:\n  {}\nmissed:\n  {}",
        share * 100.0,
        all.len() - products,
        wrong.join("\n  "),
        taken.join("\n  "),
        missed.join("\n  ")
    );
    assert!(wrong.is_empty(), "{report}");
    assert!(taken.is_empty(), "{report}");
    assert!(share >= 0.98, "{report}");
    assert!(all.len() - products >= 30, "{report}");
}

#[test]
fn every_expectation_names_a_cycle_the_catalog_has() {
    let catalog = Catalog::builtin();
    for (file, text) in SETS {
        for e in entries(file, text) {
            if let Some((p, c)) = e.expect.and_then(|x| x.split_once('/')) {
                assert!(
                    catalog.get(p, c).is_some(),
                    "{file}:{}: {p}/{c} is not in the catalog",
                    e.line
                );
            }
        }
    }
}
