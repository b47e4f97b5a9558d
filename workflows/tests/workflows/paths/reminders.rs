//! Reminders on the campaign's cron schedule in each owner's own time zone:
//! at one UTC instant it is Monday morning in Auckland and still Sunday in
//! Los Angeles, so exactly one of them is reminded, and each digest is keyed
//! by the owner's own local date. Quiet hours hold a due reminder until they
//! end, in the owner's zone.

use winventory_core::on_both_backends;
use winventory_workflows::engine::Campaign;

use crate::paths::helpers::*;

/// Kiri in Auckland (UTC+13 in November) and Lena in Los Angeles (UTC-8),
/// one machine each, a Monday 09:00 reminder and quiet hours 19:00-08:00;
/// the first digests went out on Wednesday 2026-11-25 at 21:00 UTC
/// (Thursday 10:00 for Kiri, Wednesday 13:00 for Lena).
async fn two_zones(s: &Site) -> Campaign {
    let t = at("2026-11-24T00:00:00Z");
    s.people(
        t,
        &[
            Person {
                time_zone: Some("Pacific/Auckland"),
                ..Person::new("kiri")
            },
            Person {
                time_zone: Some("America/Los_Angeles"),
                ..Person::new("lena")
            },
        ],
    )
    .await;
    s.ingest(
        t,
        &[
            snapshot(
                "AKL-1",
                "2026-11-23T20:00:00Z",
                Os::Server2012R2,
                Some("kiri"),
                &[],
            ),
            snapshot(
                "LAX-1",
                "2026-11-23T20:00:00Z",
                Os::Server2012R2,
                Some("lena"),
                &[],
            ),
        ],
    )
    .await;
    let text = campaign(
        "zones",
        r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#,
        "reminders = \"0 9 * * MON\"\nquiet_hours = \"19:00-08:00\"\nescalate_after = 10",
    );
    let t0 = at("2026-11-25T21:00:00Z");
    let c = s.start(&text, t0).await;
    let w = s.engine.tick(t0).await.expect("first wave");
    assert_eq!((w.machines_added, w.queued, w.deferred), (2, 2, 0), "{w:?}");
    // Each first digest is keyed by the owner's own date.
    assert_eq!(
        s.new_messages(0).await,
        [
            (
                "kiri".to_string(),
                "digest:kiri:2026-11-26:email".to_string()
            ),
            (
                "lena".to_string(),
                "digest:lena:2026-11-25:email".to_string()
            ),
        ]
    );
    c
}

on_both_backends! {
    async fn a_monday_reminder_reaches_the_owner_whose_monday_it_is_and_not_the_one_still_in_sunday(backend) {
        let s = site(backend).await;
        let c = two_zones(&s).await;

        // Sunday 19:30 UTC: Monday 08:30 in Auckland (before 09:00), Sunday
        // 11:30 in Los Angeles: nobody is due.
        let w = s.engine.tick(at("2026-11-29T19:30:00Z")).await.expect("wave");
        assert_eq!((w.queued, w.deferred), (0, 0), "{w:?}");

        // Sunday 20:30 UTC: Monday 09:30 in Auckland, Sunday 12:30 in Los
        // Angeles: Kiri alone is reminded, under her Monday's date.
        let w = s.engine.tick(at("2026-11-29T20:30:00Z")).await.expect("wave");
        assert_eq!((w.queued, w.deferred), (1, 0), "{w:?}");
        assert_eq!(
            s.new_messages(2).await,
            [("kiri".to_string(), "digest:kiri:2026-11-30:email".to_string())]
        );
        let kiri = s.outbox().await.into_iter().find(|m| m.idem_key == "digest:kiri:2026-11-30:email").expect("Kiri's reminder");
        assert!(kiri.subject.contains("(reminder)"), "{}", kiri.subject);
        assert!(kiri.body_text.contains("AKL-1") && !kiri.body_text.contains("LAX-1"), "{}", kiri.body_text);
        assert_eq!(s.machine(&c, "AKL-1").await.reminders, 1);
        assert_eq!(s.machine(&c, "LAX-1").await.reminders, 0);

        // Monday 17:30 UTC: Monday 09:30 in Los Angeles: now Lena; Kiri
        // (Tuesday 06:30, in her quiet hours) was reminded already.
        let w = s.engine.tick(at("2026-11-30T17:30:00Z")).await.expect("wave");
        assert_eq!((w.queued, w.deferred), (1, 1), "{w:?}");
        assert_eq!(
            s.new_messages(3).await,
            [("lena".to_string(), "digest:lena:2026-11-30:email".to_string())]
        );
        assert_eq!(s.machine(&c, "AKL-1").await.reminders, 1);
        assert_eq!(s.machine(&c, "LAX-1").await.reminders, 1);

        // The rest of the week is quiet for both.
        for t in ["2026-12-01T21:00:00Z", "2026-12-03T21:00:00Z", "2026-12-05T21:00:00Z"] {
            let w = s.engine.tick(at(t)).await.expect("wave");
            assert_eq!(w.queued, 0, "{t}: {w:?}");
        }
        assert_eq!(s.outbox().await.len(), 4);
    }
}

on_both_backends! {
    async fn a_reminder_due_in_the_owners_quiet_hours_waits_until_they_end_in_their_zone(backend) {
        let s = site(backend).await;
        let c = two_zones(&s).await;

        // Tuesday 04:00 UTC: Monday 20:00 in Los Angeles (quiet; her Monday
        // reminder fired at 09:00 and was never sent), Tuesday 17:00 in
        // Auckland (not quiet; her Monday reminder is due too).
        let w = s.engine.tick(at("2026-12-01T04:00:00Z")).await.expect("wave");
        assert_eq!((w.queued, w.deferred), (1, 1), "{w:?}");
        assert_eq!(
            s.new_messages(2).await,
            [("kiri".to_string(), "digest:kiri:2026-12-01:email".to_string())]
        );
        assert_eq!(s.machine(&c, "LAX-1").await.reminders, 0);

        // Tuesday 15:30 UTC: 07:30 in Los Angeles, 04:30 Wednesday in
        // Auckland: both in their quiet hours, nothing goes.
        let w = s.engine.tick(at("2026-12-01T15:30:00Z")).await.expect("wave");
        assert_eq!((w.queued, w.deferred), (0, 2), "{w:?}");

        // Tuesday 16:05 UTC: 08:05 in Los Angeles, the quiet hours are over:
        // Lena's held reminder goes, dated her Tuesday.
        let w = s.engine.tick(at("2026-12-01T16:05:00Z")).await.expect("wave");
        assert_eq!((w.queued, w.deferred), (1, 1), "{w:?}");
        assert_eq!(
            s.new_messages(3).await,
            [("lena".to_string(), "digest:lena:2026-12-01:email".to_string())]
        );
        assert_eq!(s.machine(&c, "LAX-1").await.reminders, 1);
        assert_eq!(s.machine(&c, "AKL-1").await.reminders, 1);
        assert_eq!(s.outbox().await.len(), 4);
    }
}

on_both_backends! {
    async fn a_group_member_in_quiet_hours_gets_the_first_message_when_they_end_not_at_the_next_reminder(backend) {
        // The fallback group has a member in Auckland and one in Los Angeles.
        let s = site(backend).await;
        let t = at("2026-11-24T00:00:00Z");
        s.people(t, &[
            Person { time_zone: Some("Pacific/Auckland"), groups: &["it-desk"], ..Person::new("kiri") },
            Person { time_zone: Some("America/Los_Angeles"), groups: &["it-desk"], ..Person::new("lena") },
        ]).await;
        s.ingest(t, &[snapshot("ORPHAN-1", "2026-11-23T20:00:00Z", Os::Server2012R2, None, &[])]).await;
        let text = campaign(
            "orphans",
            r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#,
            "reminders = \"0 9 * * MON\"\nquiet_hours = \"19:00-08:00\"",
        );
        // Thursday 05:00 UTC: 18:00 Thursday in Auckland, 21:00 Wednesday
        // in Los Angeles (quiet): Kiri alone is written to.
        let t0 = at("2026-11-26T05:00:00Z");
        let c = s.start(&text, t0).await;
        let w = s.engine.tick(t0).await.expect("wave");
        assert_eq!((w.queued, w.deferred), (1, 1), "{w:?}");
        assert_eq!(s.new_messages(0).await, [("kiri".to_string(), "digest:kiri:2026-11-26:email".to_string())]);
        // Thursday 17:00 UTC: 09:00 in Los Angeles, her quiet hours over:
        // Lena has never been written to about the machine, so her first
        // message is due (not Monday's reminder: Kiri's digest listed the
        // machine, but each member's first message is their own).
        let w = s.engine.tick(at("2026-11-26T17:00:00Z")).await.expect("wave");
        assert_eq!(w.queued, 1, "{w:?}");
        assert_eq!(s.new_messages(1).await, [("lena".to_string(), "digest:lena:2026-11-26:email".to_string())]);
        assert_eq!(s.machine(&c, "ORPHAN-1").await.reminders, 0, "two first messages, no reminder");
        // Monday 09:00 comes to Auckland first (Sunday 20:00 UTC), then to
        // Los Angeles (Monday 17:00 UTC): one reminder each, and the
        // machine counts one reminder (escalation counts reminders), not two.
        let w = s.engine.tick(at("2026-11-29T20:30:00Z")).await.expect("wave");
        assert_eq!(w.queued, 1, "{w:?}");
        assert_eq!(s.new_messages(2).await, [("kiri".to_string(), "digest:kiri:2026-11-30:email".to_string())]);
        let w = s.engine.tick(at("2026-11-30T17:30:00Z")).await.expect("wave");
        assert_eq!(w.queued, 1, "{w:?}");
        assert_eq!(s.new_messages(3).await, [("lena".to_string(), "digest:lena:2026-11-30:email".to_string())]);
        assert_eq!(s.machine(&c, "ORPHAN-1").await.reminders, 1);
    }
}

on_both_backends! {
    async fn a_numeric_crontab_weekday_reminds_on_the_day_crontab_means(backend) {
        // "0 9 * * 1" is Monday in crontab (0 and 7 are Sunday), as "0 9 * * MON".
        let s = site(backend).await;
        let t = at("2026-11-24T00:00:00Z");
        s.people(t, &[Person::new("uma"), Person::new("ulf")]).await;
        s.ingest(t, &[
            snapshot("SRV-U", "2026-11-23T20:00:00Z", Os::Server2012R2, Some("uma"), &[]),
            snapshot("PY-U", "2026-11-23T20:00:00Z", Os::Server2019, Some("ulf"), &[PYTHON_38]),
        ]).await;
        let t0 = at("2026-11-25T10:00:00Z");
        let c = s.start(&campaign("numeric", r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#, "reminders = \"0 9 * * 1\"\nescalate_after = 10"), t0).await;
        let weekdays = s.start(&campaign("weekdays", r#"software = [{ product = "python", cycles = ["3.8"] }]"#, "reminders = \"30 8 * * 1-5\"\nescalate_after = 10"), t0).await;
        assert_eq!(s.engine.tick(t0).await.expect("wave").queued, 2);
        // Thursday and Friday: Ulf's weekday reminders; Saturday and Sunday: nobody.
        for (day, queued) in [("2026-11-26", 1), ("2026-11-27", 1), ("2026-11-28", 0), ("2026-11-29", 0)] {
            let w = s.engine.tick(at(&format!("{day}T09:30:00Z"))).await.expect("wave");
            assert_eq!(w.queued, queued, "{day}: {w:?}");
        }
        assert_eq!(s.machine(&c, "SRV-U").await.reminders, 0, "no reminder before Monday");
        // Monday: both.
        let w = s.engine.tick(at("2026-11-30T09:30:00Z")).await.expect("wave");
        assert_eq!(w.queued, 2, "{w:?}");
        assert_eq!(s.machine(&c, "SRV-U").await.reminders, 1);
        assert_eq!(s.machine(&weekdays, "PY-U").await.reminders, 3);
        let mut keys: Vec<String> = s.outbox().await.into_iter().map(|m| m.idem_key).collect();
        keys.sort();
        assert_eq!(keys, [
            "digest:ulf:2026-11-25:email", "digest:ulf:2026-11-26:email", "digest:ulf:2026-11-27:email",
            "digest:ulf:2026-11-30:email", "digest:uma:2026-11-25:email", "digest:uma:2026-11-30:email",
        ]);
    }
}

on_both_backends! {
    async fn a_reminder_keeps_to_the_owners_clock_across_a_daylight_saving_change(backend) {
        let s = site(backend).await;
        let t = at("2027-03-02T00:00:00Z");
        s.people(t, &[Person { time_zone: Some("America/Los_Angeles"), ..Person::new("lena") }]).await;
        s.ingest(t, &[snapshot("LAX-1", "2027-03-01T20:00:00Z", Os::Server2012R2, Some("lena"), &[])]).await;
        let text = campaign(
            "dst",
            r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#,
            "reminders = \"0 9 * * MON\"\nescalate_after = 10",
        );
        let t0 = at("2027-03-03T20:00:00Z");
        s.start(&text, t0).await;
        assert_eq!(s.engine.tick(t0).await.expect("wave").queued, 1);
        // Monday 09:00 in Los Angeles is 17:00 UTC in winter (PST)...
        for (t, queued) in [("2027-03-08T16:55:00Z", 0), ("2027-03-08T17:05:00Z", 1)] {
            assert_eq!(s.engine.tick(at(t)).await.expect("wave").queued, queued, "{t}");
        }
        // ...and 16:00 UTC once the clocks went forward on 2027-03-14 (PDT).
        for (t, queued) in [("2027-03-15T15:55:00Z", 0), ("2027-03-15T16:05:00Z", 1)] {
            assert_eq!(s.engine.tick(at(t)).await.expect("wave").queued, queued, "{t}");
        }
        let mut keys: Vec<String> = s.outbox().await.into_iter().map(|m| m.idem_key).collect();
        keys.sort();
        assert_eq!(keys, ["digest:lena:2027-03-03:email", "digest:lena:2027-03-08:email", "digest:lena:2027-03-15:email"]);
    }
}
