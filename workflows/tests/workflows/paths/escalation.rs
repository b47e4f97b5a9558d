//! The escalation ladder: a machine left unanswered after `escalate_after`
//! reminders goes to the next step of `escalation` that names someone new
//! (the owner's group, whose every member is written to; then the owner's
//! manager), and stays at the last step once the ladder is climbed. A step
//! that names nobody (an owner in no group) is skipped.

use chrono::Duration;
use winventory_core::on_both_backends;

use crate::paths::helpers::*;

const LADDER: &str =
    "reminders = \"0 9 * * *\"\nescalate_after = 2\nescalation = [\"group\", \"manager\"]";

/// One day of the ladder: (messages queued, machines escalated, who was
/// written to, then where the machine stands: recipient, escalation steps,
/// reminders at this step).
type Day = (u64, u64, Vec<(String, String)>, &'static str, i64, i64);

fn day(n: i64) -> chrono::DateTime<chrono::Utc> {
    at("2026-11-23T10:00:00Z") + Duration::days(n)
}

fn key(login: &str, n: i64) -> (String, String) {
    (
        login.to_string(),
        format!("digest:{login}:{}:email", day(n).date_naive()),
    )
}

on_both_backends! {
    async fn a_silent_machine_goes_to_the_owners_group_then_to_the_manager_after_as_many_reminders_again(backend) {
        let s = site(backend).await;
        let t = at("2026-11-22T00:00:00Z");
        s.people(t, &[
            Person { manager: Some("maria"), groups: &["physics"], ..Person::new("oscar") },
            Person { groups: &["physics"], ..Person::new("paul") },
            Person { groups: &["physics"], ..Person::new("petra") },
            Person::new("maria"),
        ]).await;
        s.ingest(t, &[snapshot("PHYS-1", "2026-11-21T12:00:00Z", Os::Server2012R2, Some("oscar"), &[])]).await;
        let c = s.start(&campaign("ladder", r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#, LADDER), day(0)).await;

        // Each day at 10:00 UTC, one wave.
        let expected: Vec<Day> = vec![
            (1, 0, vec![key("oscar", 0)], "oscar", 0, 0),
            (1, 0, vec![key("oscar", 1)], "oscar", 0, 1),
            (1, 0, vec![key("oscar", 2)], "oscar", 0, 2),
            // Two reminders unanswered: the owner's group, every member of it.
            (3, 1, vec![key("oscar", 3), key("paul", 3), key("petra", 3)], "group:physics", 1, 0),
            (3, 0, vec![key("oscar", 4), key("paul", 4), key("petra", 4)], "group:physics", 1, 1),
            (3, 0, vec![key("oscar", 5), key("paul", 5), key("petra", 5)], "group:physics", 1, 2),
            // Two more unanswered at the group: the second step, the manager.
            (1, 1, vec![key("maria", 6)], "maria", 2, 0),
            (1, 0, vec![key("maria", 7)], "maria", 2, 1),
            (1, 0, vec![key("maria", 8)], "maria", 2, 2),
            // The ladder's last step: reminded on, escalated no further.
            (1, 0, vec![key("maria", 9)], "maria", 2, 3),
        ];
        let mut seen = 0;
        for (n, (queued, escalated, to, recipient, step, reminders)) in expected.into_iter().enumerate() {
            let n = n as i64;
            let w = s.engine.tick(day(n)).await.expect("wave");
            assert_eq!((w.queued, w.escalated), (queued, escalated), "day {n}: {w:?}");
            assert_eq!(s.new_messages(seen).await, to, "day {n}");
            seen += to.len();
            let m = s.machine(&c, "PHYS-1").await;
            assert_eq!((m.recipient.as_str(), m.escalation, m.reminders, m.state.as_str()), (recipient, step, reminders, "open"), "day {n}");
        }
        // Every message of a step lists the machine; the group's members are
        // told why they get it (an owner who has not answered, not a machine
        // without one).
        let outbox = s.outbox().await;
        assert!(outbox.iter().all(|m| m.body_text.contains("PHYS-1")));
        let petra = outbox.iter().find(|m| m.idem_key == key("petra", 3).1).expect("Petra's first");
        assert!(petra.body_text.contains("You receive this as a member of physics: the owners of these machines have not answered."), "{}", petra.body_text);
        assert!(petra.body_html.as_deref().is_some_and(|h| h.contains("<b>physics</b>: the owners of these machines have not answered.")), "{:?}", petra.body_html);
        assert!(!petra.body_text.contains("no known owner") && !petra.body_text.contains("unknown"), "{}", petra.body_text);
        assert!(!petra.subject.contains("(reminder)"), "a new step starts with a first message: {}", petra.subject);
        let status = s.engine.status("ladder", day(9)).await.expect("status");
        assert_eq!((status.targets, status.escalated, status.open), (1, 1, 1));
    }
}

on_both_backends! {
    async fn an_owner_in_no_group_skips_the_group_step_and_goes_to_the_manager(backend) {
        let s = site(backend).await;
        let t = at("2026-11-22T00:00:00Z");
        s.people(t, &[
            Person { manager: Some("mike"), ..Person::new("nina") },
            Person::new("mike"),
        ]).await;
        s.ingest(t, &[snapshot("LAB-9", "2026-11-21T12:00:00Z", Os::Server2012R2, Some("nina"), &[])]).await;
        let c = s.start(&campaign("skip", r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#, LADDER), day(0)).await;
        for n in 0..3 {
            let w = s.engine.tick(day(n)).await.expect("wave");
            assert_eq!((w.queued, w.escalated), (1, 0), "day {n}: {w:?}");
        }
        assert_eq!(s.machine(&c, "LAB-9").await.reminders, 2);
        let w = s.engine.tick(day(3)).await.expect("wave");
        assert_eq!((w.queued, w.escalated), (1, 1), "{w:?}");
        assert_eq!(s.new_messages(3).await, [key("mike", 3)]);
        let m = s.machine(&c, "LAB-9").await;
        assert_eq!((m.recipient.as_str(), m.escalation, m.reminders), ("mike", 2, 0), "the manager is the ladder's second step");
    }
}

on_both_backends! {
    async fn a_machine_with_no_known_owner_is_asked_of_every_member_of_the_fallback_group_saying_why(backend) {
        let s = site(backend).await;
        let t = at("2026-11-22T00:00:00Z");
        s.people(t, &[
            Person { groups: &["it-desk"], ..Person::new("dora") },
            Person { groups: &["it-desk"], ..Person::new("dave") },
        ]).await;
        s.ingest(t, &[snapshot("ORPHAN-1", "2026-11-21T12:00:00Z", Os::Server2012R2, None, &[])]).await;
        let c = s.start(&campaign("orphans", r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#, LADDER), day(0)).await;
        let w = s.engine.tick(day(0)).await.expect("wave");
        assert_eq!(w.queued, 2, "{w:?}");
        assert_eq!(s.new_messages(0).await, [key("dave", 0), key("dora", 0)]);
        assert_eq!(s.machine(&c, "ORPHAN-1").await.recipient, "group:it-desk");
        for m in s.outbox().await {
            assert!(m.body_text.contains("You receive this as a member of it-desk, which is asked about machines whose owner is unknown or has not answered."), "{}", m.body_text);
        }
    }
}

on_both_backends! {
    async fn many_owners_escalated_the_same_day_each_reach_their_own_group(backend) {
        // More owners than are read one statement each: every membership is
        // read at once, with the same outcome.
        let s = site(backend).await;
        let t = at("2026-11-22T00:00:00Z");
        let logins: Vec<String> = (0..40).map(|i| format!("owner{i:02}")).collect();
        let groups: Vec<[String; 2]> = (0..40).map(|i| [format!("lab{i:02}"), format!("zz-other{i:02}")]).collect();
        let group_refs: Vec<[&str; 2]> = groups.iter().map(|[a, b]| [a.as_str(), b.as_str()]).collect();
        let people: Vec<Person> = logins
            .iter()
            .zip(&group_refs)
            .map(|(l, g)| Person { groups: g, ..Person::new(l) })
            .collect();
        s.people(t, &people).await;
        let lines: Vec<String> = logins
            .iter()
            .enumerate()
            .map(|(i, l)| snapshot(&format!("LAB-{i:02}"), "2026-11-21T12:00:00Z", Os::Server2012R2, Some(l), &[]))
            .collect();
        s.ingest(t, &lines).await;
        let c = s.start(&campaign("many", r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#, LADDER), day(0)).await;
        for n in 0..3 {
            let w = s.engine.tick(day(n)).await.expect("wave");
            assert_eq!(w.escalated, 0, "day {n}: {w:?}");
        }
        let w = s.engine.tick(day(3)).await.expect("wave");
        assert_eq!(w.escalated, 40, "{w:?}");
        for i in 0..40 {
            let m = s.machine(&c, &format!("LAB-{i:02}")).await;
            assert_eq!((m.recipient, m.escalation), (format!("group:lab{i:02}"), 1));
        }
    }
}
