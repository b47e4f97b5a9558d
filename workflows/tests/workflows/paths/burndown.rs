//! A campaign's burn-down in its own time zone: the days it draws and the
//! days it rebuilds from the spans each machine was not open are the
//! campaign's days (an answer given at 01:00 in Auckland counts on that
//! Auckland day, not on the UTC day before), a machine handed over after
//! "not mine" is open again from the hand-over, and the figures' "today"
//! and days left follow the same zone.

use chrono::NaiveDate;
use winventory_core::on_both_backends;
use winventory_workflows::answer::{Answer, AnswerKind};
use winventory_workflows::reply::Target;

use crate::paths::helpers::*;

const SERVERS: &str = r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#;

fn day(d: &str) -> NaiveDate {
    d.parse().expect("a date")
}

on_both_backends! {
    async fn the_burn_down_counts_days_in_the_campaigns_time_zone_and_a_handed_over_machine_as_open_again(backend) {
        let s = site(backend).await;
        let t = at("2026-11-22T00:00:00Z");
        s.people(t, &[Person::new("ann"), Person::new("bob")]).await;
        let reported = "2026-11-21T12:00:00Z";
        s.ingest(t, &[
            snapshot("A1", reported, Os::Server2012R2, Some("ann"), &[]),
            snapshot("A2", reported, Os::Server2012R2, Some("ann"), &[]),
        ]).await;
        let text = campaign("tz", SERVERS, "")
            .replace("fallback_group = \"it-desk\"", "fallback_group = \"it-desk\"\ntime_zone = \"Pacific/Auckland\"");
        // 10:00 UTC is 23:00 in Auckland (UTC+13 in November): day 23 there.
        let start = at("2026-11-23T10:00:00Z");
        let c = s.start(&text, start).await;
        s.engine.tick(start).await.expect("wave");
        let chat = |host: &str, a: Answer, when: &str| {
            let engine = s.engine.clone();
            let host = host.to_string();
            let when = at(when);
            async move {
                engine.answer_chat("ann", "email", &Target::Host(host), a, when).await.expect("answer")
            }
        };
        // 12:00 UTC on the 23rd is 01:00 on the 24th in Auckland.
        chat("A1", answer(AnswerKind::Upgrade, Some("2026-12-31"), None), "2026-11-23T12:00:00Z").await;
        chat("A2", answer(AnswerKind::NotMine, None, Some("bob")), "2026-11-24T09:00:00Z").await;
        // The wave of the 25th (Auckland) hands A2 to bob: open again.
        let w = s.engine.tick(at("2026-11-25T09:00:00Z")).await.expect("wave");
        assert_eq!(w.rerouted, 1, "{w:?}");

        let now = at("2026-11-26T09:00:00Z");
        let f = s.engine.figures(&c, now).await.expect("figures");
        assert_eq!((f.today, f.targets, f.open), (day("2026-11-26"), 2, 1));
        assert_eq!(f.days_left, (day("2027-12-31") - day("2026-11-26")).num_days());
        let b = s.engine.burndown(&c, &f, now).await.expect("burn-down");
        let open: Vec<(NaiveDate, i64)> = b.days.iter().map(|d| (d.day, d.open)).collect();
        assert_eq!(
            open,
            [
                (day("2026-11-23"), 2), // nothing answered on the 23rd in Auckland
                (day("2026-11-24"), 0), // A1 at 01:00, A2 at 22:00
                (day("2026-11-25"), 1), // A2 handed over to bob
                (day("2026-11-26"), 1), // today: the figures
            ]
        );

        // A kept day is the campaign's day too, and wins over the rebuilt one.
        s.engine.keep_day(&c, &f, at("2026-11-25T12:00:00Z")).await.expect("keep");
        let kept = s.store.campaign_days(c.row.id).await.expect("kept");
        assert_eq!(kept.iter().map(|d| d.day).collect::<Vec<_>>(), [day("2026-11-26")], "12:00 UTC on the 25th is the 26th there");
    }
}
