//! What licence campaigns found, as the licence report and the what-if
//! count it, on both backends: the seat a removal frees is the machine's
//! user whoever answered (and a removal nobody answered counts), a machine
//! with no known user takes no per-user seat in the report and the what-if
//! alike, and a dated report knows only what was reported by then.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use winventory_core::licence::{self, Coverage, LicenceBook, WhatIf};
use winventory_core::on_both_backends;
use winventory_core::store::{AnswerRecord, Backend, MachineChange, NewTarget, Store};
use winventory_core::testing::{TestDb, execute, fresh_database};
use winventory_core::{AsOf, DEFAULT_FRESHNESS_DAYS};
use winventory_workflows::licence::{removals_as_of, rows};

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, 9, 0, 0)
        .single()
        .expect("a time")
}

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("a date")
}

const CAMPAIGN: &str = r#"
name = "matlab-seats"
kind = "licence"
title = "Do you still need MATLAB?"
description = "We pay for every MATLAB install; tell us which ones can go."
deadline = "2027-03-31"
fallback_group = "it-desk"

[target]
applications = ["MATLAB"]
"#;

const LICENCES: &str = r#"
[[licence]]
name = "matlab"
application = "MATLAB"
model = "per_user"
seats = 10
price = "100"
currency = "CHF"
start = 2026-01-01
"#;

fn book(model: &str) -> LicenceBook {
    LicenceBook::parse(
        &LICENCES.replace("per_user", model),
        |c| matches!(c, Coverage::Application(a) if a == "MATLAB"),
    )
    .expect("a valid licence file")
}

/// The fleet (every machine reported on 2026-11-20 but pc9, on 2026-11-30):
///
/// - pc1: main user ann, responsible rob; MATLAB removed after rob answered
///   "uninstall" (rob still has it on pc2);
/// - pc2: rob, MATLAB;
/// - pc3: cid; MATLAB gone without an answer;
/// - pc4: fay, answered "remove", gone; pc5: gus, answered "uninstall" on
///   11-22, seen gone on 11-25;
/// - pc6 and pc7: no main user, no responsible; MATLAB;
/// - pc8: dan, MATLAB; pc9: eve, MATLAB, first reported after 2026-11-29.
async fn site(backend: Backend) -> (TestDb, std::sync::Arc<dyn Store>) {
    let db = fresh_database(backend).await;
    let store = winventory_core::store::connect(&db.url)
        .await
        .expect("a migrated store");
    let reported = day(20).timestamp_micros();
    let later = Utc
        .with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .expect("a time")
        .timestamp_micros();
    let machines: Vec<String> = (1..=9)
        .map(|i| {
            let at = if i == 9 { later } else { reported };
            format!(
                "({i}, 'pc{i}', 'PC{i}', 'Microsoft Windows 11 Pro', '10.0.22631', {at}, {at}, {at})"
            )
        })
        .collect();
    execute(
        &db.url,
        &format!(
            "INSERT INTO machines (id, host_key, hostname, os_caption, os_version, first_seen, last_seen, last_report) VALUES {}",
            machines.join(", ")
        ),
    )
    .await;
    execute(
        &db.url,
        "INSERT INTO machine_owners (machine_id, role, login, source, updated_at) VALUES \
         (1, 'main_user', 'ann', 'snapshot', 0), (1, 'responsible', 'rob', 'snapshot', 0), \
         (2, 'main_user', 'rob', 'snapshot', 0), (3, 'main_user', 'cid', 'snapshot', 0), \
         (4, 'main_user', 'fay', 'snapshot', 0), (5, 'main_user', 'gus', 'snapshot', 0), \
         (8, 'main_user', 'dan', 'snapshot', 0), (9, 'responsible', 'eve', 'snapshot', 0)",
    )
    .await;
    execute(
        &db.url,
        "INSERT INTO machine_applications (application, machine_id, last_used) VALUES \
         ('MATLAB', 2, NULL), ('MATLAB', 6, NULL), ('MATLAB', 7, NULL), ('MATLAB', 8, NULL), \
         ('MATLAB', 9, NULL)",
    )
    .await;
    let id = store
        .create_campaign("matlab-seats", "licence", CAMPAIGN, day(20))
        .await
        .expect("create")
        .expect("a new campaign");
    let target = |m: i64, recipient: &str| NewTarget {
        machine_id: m,
        host_key: format!("pc{m}"),
        hostname: format!("PC{m}"),
        recipient: recipient.into(),
    };
    store
        .add_campaign_machines(
            id,
            &[
                target(1, "rob"),
                target(3, "cid"),
                target(4, "fay"),
                target(5, "gus"),
            ],
            day(20),
        )
        .await
        .expect("targets");
    let answer = |by: &str, m: i64, kind: &str| AnswerRecord {
        campaign_id: id,
        machine_ids: vec![m],
        answer: kind.into(),
        date: (kind == "uninstall").then(|| date(28)),
        detail: None,
        comment: None,
        by: by.into(),
        via: "email".into(),
    };
    for (by, m, kind) in [
        ("rob", 1, "uninstall"),
        ("fay", 4, "remove"),
        ("gus", 5, "uninstall"),
    ] {
        store
            .record_answer(&answer(by, m, kind), day(22))
            .await
            .expect("an answer");
    }
    let gone = |m: i64| (m, MachineChange::Resolve("uninstalled".into()));
    store
        .change_campaign_machines(id, &[gone(1), gone(3), gone(4)], day(23))
        .await
        .expect("resolved");
    store
        .change_campaign_machines(id, &[gone(5)], day(25))
        .await
        .expect("resolved");
    (db, store)
}

fn as_of(d: u32) -> AsOf {
    AsOf::end_of(date(d), DEFAULT_FRESHNESS_DAYS)
}

on_both_backends! {
    async fn a_freed_per_user_seat_is_the_machines_user_whoever_answered_and_unanswered_removals_count(backend) {
        let (_db, store) = site(backend).await;
        let when = as_of(29);
        let r = &rows(store.as_ref(), &book("per_user"), &when, when.date).await.expect("rows")[0];
        // ann (pc1, answered by rob who still has pc2), cid (pc3, nobody
        // answered), fay and gus: four people hold it nowhere any more.
        assert_eq!((r.removals_confirmed, r.removals_pending), (4, 0), "{r:?}");
        assert_eq!(r.seats_freed, 4, "{r:?}");
        assert_eq!(r.yearly_savings.to_string(), "400.00");

        // A subscription counts users too; per device, every removed machine
        // that no longer holds it.
        let s = &rows(store.as_ref(), &book("subscription"), &when, when.date).await.expect("rows")[0];
        assert_eq!(s.seats_freed, 4, "{s:?}");
        let d = &rows(store.as_ref(), &book("per_device"), &when, when.date).await.expect("rows")[0];
        assert_eq!(d.seats_freed, 4, "{d:?}");
    }
}

on_both_backends! {
    async fn machines_with_no_known_user_take_no_per_user_seat_in_the_report_and_the_what_if_alike(backend) {
        let (_db, store) = site(backend).await;
        let when = as_of(29);
        let b = book("per_user");
        let r = &rows(store.as_ref(), &b, &when, when.date).await.expect("rows")[0];
        // pc2 (rob), pc6 and pc7 (nobody), pc8 (dan); pc9 came later.
        assert_eq!((r.machines, r.users, r.user_unknown, r.in_use), (4, 2, 2, 2), "{r:?}");
        let l = &b.licences[0];
        let holders = store
            .licence_holders(std::slice::from_ref(&l.covers), when.window())
            .await
            .expect("holders");
        let w = licence::what_if(l, &holders, &WhatIf::default(), when.fresh_cutoff(), when.instant, &HashMap::new());
        assert_eq!((w.in_use_today, w.seats_simulated, w.user_unknown), (2, 2, 2), "{w:?}");
        assert_eq!(w.in_use_today, r.in_use, "the what-if and the report count seats alike");
    }
}

on_both_backends! {
    async fn a_dated_licence_report_knows_only_what_was_reported_and_answered_by_then(backend) {
        let (_db, store) = site(backend).await;
        let b = book("per_user");
        // Now: pc9 (eve, reported on 11-30) counts.
        let now = AsOf::at(
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single().expect("a time"),
            DEFAULT_FRESHNESS_DAYS,
        );
        let r = &rows(store.as_ref(), &b, &now, now.date).await.expect("rows")[0];
        assert_eq!((r.machines, r.users), (5, 3), "{r:?}");
        // As of 11-29 it was not known; as of 11-24, gus's removal (seen
        // gone on 11-25) was still a promise and frees nothing yet.
        let then = as_of(24);
        let r = &rows(store.as_ref(), &b, &then, then.date).await.expect("rows")[0];
        assert_eq!((r.machines, r.users), (4, 2), "{r:?}");
        assert_eq!((r.removals_confirmed, r.removals_pending, r.seats_freed), (3, 1, 3), "{r:?}");
        let holders = store
            .licence_holders(std::slice::from_ref(&b.licences[0].covers), then.window())
            .await
            .expect("holders");
        assert!(holders.iter().all(|h| h.host_key != "pc9"), "{holders:?}");
        // As of 11-21 nothing had been answered.
        assert!(removals_as_of(store.as_ref(), &as_of(21)).await.expect("removals").is_empty());
    }
}
