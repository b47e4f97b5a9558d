//! Extended security updates: an `esu` answer is valid until the end of the
//! extended support its machine's OS cycle sells (Windows 10 22H2: until
//! 2028-10-10); it is kept with its date, and once the date has passed while
//! the machine still runs the same version, the next wave asks again, saying
//! what was answered.

use chrono::{Duration, NaiveDate};
use winventory_core::on_both_backends;
use winventory_workflows::answer::{AnswerError, AnswerKind};
use winventory_workflows::engine::{Campaign, LinkError};
use winventory_workflows::token::Claims;

use crate::paths::helpers::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

/// Olga's Windows 10 22H2 workstation in a running campaign, her first
/// digest queued on 2026-11-27.
async fn esu_site(s: &Site) -> Campaign {
    let t = at("2026-11-26T00:00:00Z");
    s.people(t, &[Person::new("olga")]).await;
    s.ingest(
        t,
        &[snapshot(
            "WS-ESU",
            "2026-11-25T12:00:00Z",
            Os::Windows10,
            Some("olga"),
            &[],
        )],
    )
    .await;
    let m = s
        .store
        .machine("ws-esu")
        .await
        .expect("read")
        .expect("stored");
    let cycle = m.os_match.expect("matched");
    assert_eq!(
        (cycle.product.as_str(), cycle.cycle.as_str()),
        ("windows", "10-22h2")
    );
    let now = at("2026-11-27T10:00:00Z");
    let c = s
        .start(
            &campaign(
                "win10",
                r#"os = [{ product = "windows", cycles = ["10-22h2"] }]"#,
                "",
            ),
            now,
        )
        .await;
    assert_eq!(s.engine.tick(now).await.expect("wave").queued, 1);
    c
}

/// A signed link proposing `answer` for Olga's machine, as her digest carries.
async fn link(s: &Site, c: &Campaign, answer: AnswerKind) -> String {
    let m = s.machine(c, "WS-ESU").await;
    s.engine.signer.as_ref().expect("keys").sign(&Claims {
        campaign: c.row.id,
        recipient: "olga".into(),
        person: "olga".into(),
        machine: Some(m.machine_id),
        message: None,
        answer,
        expires: at("2028-01-30T23:59:59Z"),
    })
}

on_both_backends! {
    async fn a_valid_esu_answer_is_kept_with_its_date_and_the_machine_is_asked_again_the_day_after(backend) {
        let s = site(backend).await;
        let c = esu_site(&s).await;
        // The digest offers ESU for this machine (sold until 2028-10-10).
        let first = s.outbox().await.remove(0);
        assert!(first.body_text.contains("Covered by paid extended updates:"), "{}", first.body_text);

        let token = link(&s, &c, AnswerKind::Esu).await;
        let (_, n) = s.engine
            .answer_link(&token, Some(date(2027, 6, 30)), None, Some("ESU bought for a year".into()), at("2026-11-27T15:00:00Z"))
            .await
            .expect("a valid ESU answer");
        assert_eq!(n, 1);
        let m = s.machine(&c, "WS-ESU").await;
        assert_eq!(
            (m.state.as_str(), m.answer.as_deref(), m.answer_date, m.answered_by.as_deref()),
            ("answered", Some("esu"), Some(date(2027, 6, 30)), Some("olga"))
        );
        let history = s.store.answer_history(c.row.id, "ws-esu").await.expect("history");
        assert_eq!(history.len(), 1);
        assert_eq!(
            (history[0].answer.as_str(), history[0].date, history[0].via.as_str(), history[0].comment.as_deref()),
            ("esu", Some(date(2027, 6, 30)), "email", Some("ESU bought for a year"))
        );

        // Until the date itself, nobody is asked (the machine keeps
        // reporting the same version).
        for t in ["2026-12-07T10:00:00Z", "2027-03-01T10:00:00Z"] {
            let w = s.engine.tick(at(t)).await.expect("wave");
            assert_eq!((w.reopened, w.queued), (0, 0), "{t}: {w:?}");
        }
        s.ingest(at("2027-06-21T00:00:00Z"), &[snapshot("WS-ESU", "2027-06-20T12:00:00Z", Os::Windows10, Some("olga"), &[])]).await;
        for t in ["2027-06-30T10:00:00Z", "2027-06-30T23:59:00Z"] {
            let w = s.engine.tick(at(t)).await.expect("wave");
            assert_eq!((w.reopened, w.queued), (0, 0), "{t}: {w:?}");
        }
        assert_eq!(s.machine(&c, "WS-ESU").await.state, "answered");

        // The day after, the answer is contradicted: asked again.
        let after = at("2027-07-01T10:00:00Z");
        let w = s.engine.tick(after).await.expect("wave");
        assert_eq!((w.reopened, w.queued, w.resolved), (1, 1, 0), "{w:?}");
        let m = s.machine(&c, "WS-ESU").await;
        assert_eq!(
            (m.state.as_str(), m.resolution.as_deref(), m.reminders, m.answer.as_deref(), m.answer_date),
            ("open", Some("reopened"), 0, Some("esu"), Some(date(2027, 6, 30)))
        );
        let outbox = s.outbox().await;
        assert_eq!(outbox.len(), 2);
        let again = &outbox[1];
        assert_eq!((again.recipient.as_str(), again.idem_key.as_str()), ("olga", "digest:olga:2027-07-01:email"));
        assert!(again.body_text.contains(r#"You answered "esu by 2027-06-30""#), "{}", again.body_text);
        // Reopened once: the next wave does not reopen it again.
        let w = s.engine.tick(after + Duration::hours(1)).await.expect("wave");
        assert_eq!((w.reopened, w.queued), (0, 0), "{w:?}");

        // A new ESU answer with a later date closes it again.
        let token = link(&s, &c, AnswerKind::Esu).await;
        s.engine.answer_link(&token, Some(date(2028, 6, 30)), None, None, after + Duration::hours(2)).await.expect("answer again");
        let m = s.machine(&c, "WS-ESU").await;
        assert_eq!((m.state.as_str(), m.answer_date), ("answered", Some(date(2028, 6, 30))));
        assert_eq!(s.store.answer_history(c.row.id, "ws-esu").await.expect("history").len(), 2);
    }
}

on_both_backends! {
    async fn an_esu_date_beyond_the_end_of_extended_support_is_refused_and_nothing_is_recorded(backend) {
        let s = site(backend).await;
        let c = esu_site(&s).await;
        let token = link(&s, &c, AnswerKind::Esu).await;
        let now = at("2026-11-27T15:00:00Z");
        let r = s.engine.answer_link(&token, Some(date(2028, 10, 11)), None, None, now).await;
        assert!(matches!(r, Err(LinkError::Answer(AnswerError::EsuBeyondEnd(d))) if d == date(2028, 10, 10)), "{r:?}");
        let r = s.engine.answer_link(&token, None, None, None, now).await;
        assert!(matches!(r, Err(LinkError::Answer(AnswerError::DateMissing))), "{r:?}");
        // The last day of extended support is accepted.
        s.engine.answer_link(&token, Some(date(2028, 10, 10)), None, None, now).await.expect("the last day");
        let m = s.machine(&c, "WS-ESU").await;
        assert_eq!((m.answer.as_deref(), m.answer_date), (Some("esu"), Some(date(2028, 10, 10))));
        assert_eq!(s.store.answer_history(c.row.id, "ws-esu").await.expect("history").len(), 1);
    }
}
