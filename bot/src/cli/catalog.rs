//! `winventory catalog show|coverage|refresh`: the lifecycle catalog, how far
//! the software rules reach into it, and its refresh from the endoflife.date
//! API with every stored title and OS matched again.

use anyhow::{Result, bail};

use crate::app::App;
use crate::cli::output::outln;
use crate::cli::output::{self as render, Format, lc, opt};

/// `winventory catalog show`.
pub async fn catalog_show(app: &App, product: Option<&str>, format: Format) -> Result<u8> {
    let _store = app.store.clone();
    let catalog = app.catalog.clone();
    match product {
        Some(p) => {
            if !catalog.has_product(p) {
                bail!("the catalog has no product {p:?}; `winventory catalog show` lists them");
            }
            let rows: Vec<_> = catalog
                .cycles()
                .filter(|c| c.product == p)
                .cloned()
                .collect();
            render::rows(
                format,
                &rows,
                &[
                    "cycle",
                    "label",
                    "release_date",
                    "support_end",
                    "eol",
                    "extended_support_end",
                    "source",
                ],
                |c| {
                    vec![
                        c.cycle.clone(),
                        opt(&c.label),
                        c.release_date
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| "-".into()),
                        lc(c.support_end),
                        lc(c.eol),
                        lc(c.extended_support_end),
                        c.source.clone(),
                    ]
                },
            )?;
        }
        None => {
            let rows: Vec<serde_json::Value> = catalog
                .products()
                .into_iter()
                .map(|p| {
                    let cycles: Vec<_> = catalog.cycles().filter(|c| c.product == p).collect();
                    serde_json::json!({
                        "product": p,
                        "title": cycles.first().map(|c| c.product_title.clone()),
                        "category": cycles.first().map(|c| c.category.clone()),
                        "cycles": cycles.len(),
                    })
                })
                .collect();
            render::rows(
                format,
                &rows,
                &["product", "title", "category", "cycles"],
                |v| {
                    ["product", "title", "category", "cycles"]
                        .iter()
                        .map(|k| match &v[*k] {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                },
            )?;
        }
    }
    Ok(0)
}

/// `winventory catalog coverage`: every installed-software product with the
/// rules that reach it; failing rule examples on stderr. Exit 1 when an
/// example fails or a product is neither reached nor explained.
pub fn catalog_coverage(app: &App, format: Format) -> Result<u8> {
    let catalog = &app.catalog;
    let rules = catalog.rules();
    let coverage = rules.coverage(catalog);
    let failures = rules.failing_examples(catalog);
    render::rows(
        format,
        &coverage,
        &[
            "product",
            "name",
            "rules",
            "package_rules",
            "examples",
            "cycles_reached",
            "cycles",
            "no_rule",
        ],
        |c| {
            vec![
                c.product.clone(),
                c.name.clone(),
                c.rules.to_string(),
                c.package_rules.to_string(),
                c.examples.to_string(),
                c.cycles_reached.to_string(),
                c.cycles.to_string(),
                c.no_rule.clone().unwrap_or_else(|| "-".into()),
            ]
        },
    )?;
    let unreached: Vec<&str> = coverage
        .iter()
        .filter(|c| c.rules == 0 && c.no_rule.is_none())
        .map(|c| c.product.as_str())
        .collect();
    let reached = coverage.iter().filter(|c| c.rules > 0).count();
    let examples: usize = rules.iter().map(|r| r.spec().examples.len()).sum();
    eprintln!(
        "{reached} of {} installed-software products reached by {} rules; {} of {examples} rule examples give what they say",
        coverage.len(),
        rules.len(),
        examples - failures.len()
    );
    for f in &failures {
        eprintln!("  example fails: {f}");
    }
    if !unreached.is_empty() {
        eprintln!(
            "  reached by no rule and no reason given: {}; add a [[rule]] for each to the site catalog",
            unreached.join(", ")
        );
    }
    Ok(u8::from(!failures.is_empty() || !unreached.is_empty()))
}

/// `winventory catalog refresh`: fetch, save, re-match.
pub async fn catalog_refresh(app: &App, products: &[String]) -> Result<u8> {
    use winventory_ingest::eol_api::{DEFAULT_TIMEOUT, EolApi, refresh};
    let store = app.store.clone();
    let catalog = app.catalog.clone();
    let wanted: Vec<String> = if products.is_empty() {
        catalog.products().into_iter().map(str::to_string).collect()
    } else {
        products.to_vec()
    };
    let api = EolApi::new(&app.settings.eol_api, DEFAULT_TIMEOUT)?;
    let outcome = refresh(&api, &wanted, &catalog).await;
    store
        .save_refreshed_catalog(&outcome.rows, app.clock.now())
        .await?;
    let catalog = app.fresh_catalog().await?;
    let r = winventory_ingest::rematch::rematch_all(store.as_ref(), &catalog).await?;
    outln!(
        "refreshed {} cycles of {} products; re-matched {} titles and {} machines",
        outcome.rows.len(),
        wanted.len() - outcome.errors.len(),
        r.titles,
        r.machines
    );
    for (old, new) in &outcome.renamed {
        outln!("  note: {old} is now called {new} by endoflife.date");
    }
    for (p, e) in &outcome.errors {
        outln!("  failed: {p}: {e}");
    }
    if outcome.errors.is_empty() {
        Ok(0)
    } else {
        outln!("The products that failed keep their previous dates; run the command again later.");
        Ok(1)
    }
}

/// `winventory catalog rematch`: every stored title and machine matched
/// again with the rules in force.
pub async fn catalog_rematch(app: &App) -> Result<u8> {
    let r = winventory_ingest::rematch::rematch_all(app.store.as_ref(), &app.catalog).await?;
    outln!(
        "matched {} titles and {} machines again with {} software rules",
        r.titles,
        r.machines,
        app.catalog.rules().len()
    );
    Ok(0)
}
