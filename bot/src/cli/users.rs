//! `winventory users`: the directory from a CSV file (`import`), and what
//! it holds (`list`, `show`).

use std::collections::HashMap;

use anyhow::{Context, Result};
use serde::Serialize;
use winventory_core::store::{Freshness, MachineSelection};

use crate::app::App;
use crate::cli::output::outln;
use crate::cli::output::{self as render, Format, SummaryFormat, opt};

/// `winventory users import`.
pub async fn users_import(app: &App, file: &str, format: SummaryFormat) -> Result<u8> {
    let parsed = if file == "-" {
        winventory_ingest::users::read_users(file, std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(file).with_context(|| format!("cannot read {file}"))?;
        winventory_ingest::users::read_users(file, f)
    }
    .map_err(anyhow::Error::msg)?;
    let store = app.store.clone();
    store.import_users(&parsed.users, app.clock.now()).await?;
    let summary = serde_json::json!({
        "imported": parsed.users.len(),
        "rejected": parsed.errors.len(),
        "errors": parsed.errors,
    });
    if format == SummaryFormat::Json {
        render::json(&summary)?;
    } else {
        outln!(
            "users imported {}, rejected {}",
            parsed.users.len(),
            parsed.errors.len()
        );
        for e in &parsed.errors {
            outln!("  {}:{}: {}", e.file, e.line, e.reason);
        }
    }
    Ok(if parsed.errors.is_empty() { 0 } else { 1 })
}

/// One person of the directory as `users list` and `users show` print it.
#[derive(Debug, Serialize)]
pub struct UserRow {
    login: String,
    name: Option<String>,
    email: Option<String>,
    matrix_id: Option<String>,
    mattermost_username: Option<String>,
    language: Option<String>,
    time_zone: Option<String>,
    manager: Option<String>,
    groups: Vec<String>,
    /// Machines the person is responsible for or mainly uses (any age).
    machines: Vec<String>,
}

/// The columns of `users list` and `users show`: those `users import`
/// reads, in its order (so a listing can be imported again), then the
/// person's machines.
fn user_columns() -> Vec<&'static str> {
    let mut c = winventory_ingest::users::COLUMNS.to_vec();
    c.push("machines");
    c
}

fn user_cells(u: &UserRow) -> Vec<String> {
    vec![
        u.login.clone(),
        opt(&u.name),
        opt(&u.email),
        opt(&u.matrix_id),
        opt(&u.mattermost_username),
        opt(&u.language),
        opt(&u.time_zone),
        opt(&u.manager),
        u.groups.join(";"),
        u.machines.join(";"),
    ]
}

/// `winventory users list`: everyone in the directory, optionally one
/// group's members only.
pub async fn users_list(app: &App, group: Option<&str>, format: Format) -> Result<u8> {
    let store = app.store.clone();
    let mut groups = store.group_memberships().await?;
    // Every machine once (one query), then each person's.
    let mut owned: HashMap<String, Vec<String>> = HashMap::new();
    let all = MachineSelection {
        freshness: Freshness::Any,
        ..MachineSelection::default()
    };
    let window = winventory_core::AsOf::at(app.clock.now(), app.settings.freshness_days).window();
    for m in store.select_machines(&all, window).await? {
        let logins = [&m.responsible, &m.main_user];
        let mut seen: Vec<&str> = Vec::new();
        for f in logins.into_iter().flatten() {
            if !seen.contains(&f.login.as_str()) {
                seen.push(&f.login);
                owned
                    .entry(f.login.clone())
                    .or_default()
                    .push(m.hostname.clone());
            }
        }
    }
    let mut rows: Vec<UserRow> = Vec::new();
    for u in store.users().await? {
        let mine = groups.remove(&u.login).unwrap_or_default();
        if group.is_some_and(|g| !mine.iter().any(|x| x == g)) {
            continue;
        }
        let machines = owned.remove(&u.login).unwrap_or_default();
        rows.push(row(u, mine, machines));
    }
    rows.sort_by(|a, b| a.login.cmp(&b.login));
    if rows.is_empty() && format == Format::Table {
        eprintln!(
            "{}",
            match group {
                Some(g) => format!("nobody is in group {g:?}; `winventory users list` lists everyone with their groups"),
                None => "the directory is empty: load it with `winventory users import FILE.csv` (see `winventory users import --help`)".into(),
            }
        );
        return Ok(0);
    }
    render::rows(format, &rows, &user_columns(), user_cells)?;
    Ok(0)
}

fn row(u: winventory_core::User, groups: Vec<String>, machines: Vec<String>) -> UserRow {
    UserRow {
        login: u.login,
        name: u.name,
        email: u.email,
        matrix_id: u.matrix_id,
        mattermost_username: u.mattermost_username,
        language: u.language,
        time_zone: u.time_zone,
        manager: u.manager,
        groups,
        machines,
    }
}

/// `winventory users show LOGIN`.
pub async fn users_show(app: &App, login: &str, format: Format) -> Result<u8> {
    let store = app.store.clone();
    let key = login.trim().to_lowercase();
    let Some(u) = store.user(&key).await? else {
        eprintln!(
            "error: nobody with the login {login:?} is in the directory; `winventory users list` lists who is"
        );
        return Ok(1);
    };
    let groups = store.groups_of(&key).await?;
    let machines = store
        .machines_of(&key)
        .await?
        .into_iter()
        .map(|m| m.hostname)
        .collect();
    let r = row(u, groups, machines);
    match format {
        Format::Json => render::json(&r)?,
        Format::Csv => render::rows(
            format,
            std::slice::from_ref(&r),
            &user_columns(),
            user_cells,
        )?,
        Format::Table => {
            let cells = user_cells(&r);
            render::rows(
                format,
                &user_columns().into_iter().zip(cells).collect::<Vec<_>>(),
                &["field", "value"],
                |(k, v)| vec![k.to_string(), v.clone()],
            )?;
        }
    }
    Ok(0)
}
