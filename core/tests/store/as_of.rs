//! Reports as of a past date, on both backends: only each machine's latest
//! report is kept, so a dated report counts the machines whose latest
//! report was collected by then and leaves out those reported since (their
//! state then is unknown); a date before every stored report is refused,
//! naming the earliest date that can be answered.

use chrono::{NaiveDate, TimeZone as _, Utc};
use winventory_core::report::{self, AsOfError};
use winventory_core::store::{Backend, Store};
use winventory_core::testing::{TestDb, execute, fresh_database};
use winventory_core::{AsOf, Catalog, DEFAULT_FRESHNESS_DAYS, on_both_backends};

fn micros(y: i32, m: u32, d: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, 9, 0, 0)
        .single()
        .expect("a time")
        .timestamp_micros()
}

fn end_of(y: i32, m: u32, d: u32) -> AsOf {
    AsOf::end_of(
        NaiveDate::from_ymd_opt(y, m, d).expect("a date"),
        DEFAULT_FRESHNESS_DAYS,
    )
}

/// Three Windows Server 2012 R2 machines of jdoe with Python 3.8: old
/// (reported 2026-09-05), mid (2026-11-20) and new (first and only report
/// 2026-11-30).
async fn site(backend: Backend) -> (TestDb, std::sync::Arc<dyn Store>) {
    let db = fresh_database(backend).await;
    let store = winventory_core::store::connect(&db.url)
        .await
        .expect("a migrated store");
    let rows: Vec<String> = [
        (1, "old", micros(2026, 9, 5)),
        (2, "mid", micros(2026, 11, 20)),
        (3, "new", micros(2026, 11, 30)),
    ]
    .iter()
    .map(|(id, host, at)| {
        format!(
            "({id}, '{host}', '{host}', 'Microsoft Windows Server 2012 R2 Standard', '6.3.9600', \
             'windows-server', '2012-r2', {at}, {at}, {at})"
        )
    })
    .collect();
    execute(
        &db.url,
        &format!(
            "INSERT INTO machines (id, host_key, hostname, os_caption, os_version, os_product, os_cycle, \
             first_seen, last_seen, last_report) VALUES {}",
            rows.join(", ")
        ),
    )
    .await;
    execute(
        &db.url,
        "INSERT INTO machine_software (product, cycle, machine_id) VALUES \
         ('python', '3.8', 1), ('python', '3.8', 2), ('python', '3.8', 3)",
    )
    .await;
    execute(
        &db.url,
        "INSERT INTO machine_applications (application, machine_id) VALUES \
         ('Python', 1), ('Python', 2), ('Python', 3)",
    )
    .await;
    execute(
        &db.url,
        "INSERT INTO machine_owners (machine_id, role, login, source, updated_at) VALUES \
         (1, 'responsible', 'jdoe', 'snapshot', 0), (2, 'responsible', 'jdoe', 'snapshot', 0), \
         (3, 'responsible', 'jdoe', 'snapshot', 0)",
    )
    .await;
    (db, store)
}

on_both_backends! {
    async fn a_past_date_leaves_out_machines_reported_since_in_every_report(backend) {
        let (_db, store) = site(backend).await;
        let catalog = Catalog::builtin();
        let s = store.as_ref();
        // Today all three are fresh.
        let now = AsOf::at(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single().expect("a time"), DEFAULT_FRESHNESS_DAYS);
        let total = |rows: &[report::OsRow]| rows.iter().map(|r| r.machines).sum::<i64>();
        assert_eq!(total(&report::os_report(s, &catalog, &now).await.expect("os")), 3);
        assert_eq!(report::known_as_of(s, &now).await.expect("known").reported_since, 0);

        // As of 2026-11-25: old and mid were reported by then; new was not.
        let then = end_of(2026, 11, 25);
        assert_eq!(total(&report::os_report(s, &catalog, &then).await.expect("os")), 2);
        let eol = report::eol_report(s, &catalog, &then, 0).await.expect("eol");
        let got: Vec<_> = eol.iter().map(|r| (r.kind, r.product.as_str(), r.machines)).collect();
        assert_eq!(got, [("os", "windows-server", 2), ("software", "python", 2)]);
        let sw = report::software_report(s, &catalog, &then).await.expect("software");
        assert_eq!(sw.iter().map(|r| r.machines).sum::<i64>(), 2);
        let apps = report::application_report(s, &then).await.expect("applications");
        assert_eq!(apps.iter().map(|r| r.machines).sum::<i64>(), 2);
        let owner = report::owner_report(s, &catalog, "jdoe", &then, 0).await.expect("owner");
        let hosts: Vec<_> = owner.machines.iter().map(|m| m.hostname.as_str()).collect();
        assert_eq!(hosts, ["mid", "old"]);
        let known = report::known_as_of(s, &then).await.expect("known");
        assert_eq!(known.reported_since, 1);
        let note = known.note(&then).expect("a note");
        assert!(note.contains("1 machine reported after that date is not counted"), "{note}");
        let new = report::machine_report(s, &catalog, "new", &then).await.expect("q").expect("stored");
        assert!(!then.is_known(new.last_report));

        // As of 2026-09-05: only old is known (and fresh).
        let early = end_of(2026, 9, 5);
        assert_eq!(total(&report::os_report(s, &catalog, &early).await.expect("os")), 1);
        assert_eq!(report::known_as_of(s, &early).await.expect("known").reported_since, 2);
    }
}

on_both_backends! {
    async fn a_date_before_every_stored_report_is_refused_with_the_earliest_date_that_can_be_answered(backend) {
        let (_db, store) = site(backend).await;
        let err = report::known_as_of(store.as_ref(), &end_of(2020, 1, 1)).await.expect_err("refused");
        match &err {
            AsOfError::BeforeOldestReport { earliest, .. } => {
                assert_eq!(*earliest, NaiveDate::from_ymd_opt(2026, 9, 5).expect("a date"));
            }
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("nothing is known as of 2020-01-01") && text.contains("the earliest date a report can answer is 2026-09-05"), "{text}");
        // The day of the oldest report is answered.
        assert!(report::known_as_of(store.as_ref(), &end_of(2026, 9, 5)).await.is_ok());
    }
}
