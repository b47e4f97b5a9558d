//! A campaign's title and description per language (`[translations.fr]`):
//! each reader is shown those of their own language wherever they read the
//! campaign (the email digest, the chat digest and its buttons, the answer
//! page), the campaign's own where there are none; a file without
//! translations reads as before.

use winventory_core::on_both_backends;
use winventory_workflows::spec::CampaignSpec;

use crate::paths::helpers::*;

const TRANSLATED: &str = r#"
[translations.fr]
title = "Retrait de Windows Server 2012 R2"
description = "Windows Server 2012 R2 ne reçoit plus de mises à jour de sécurité."
"#;

/// A French reader (email), an English one (email) and a French one on
/// Mattermost, each responsible for one 2012 R2 server.
async fn fleet(s: &Site) {
    let t = at("2026-11-26T00:00:00Z");
    s.people(
        t,
        &[
            Person {
                language: "fr",
                ..Person::new("francoise")
            },
            Person::new("edward"),
            Person {
                language: "fr-CH",
                mattermost: Some("mathilde"),
                ..Person::new("mathilde")
            },
        ],
    )
    .await;
    s.ingest(
        t,
        &[
            snapshot(
                "SRV-FR",
                "2026-11-25T12:00:00Z",
                Os::Server2012R2,
                Some("francoise"),
                &[],
            ),
            snapshot(
                "SRV-EN",
                "2026-11-25T12:00:00Z",
                Os::Server2012R2,
                Some("edward"),
                &[],
            ),
            snapshot(
                "SRV-MM",
                "2026-11-25T12:00:00Z",
                Os::Server2012R2,
                Some("mathilde"),
                &[],
            ),
        ],
    )
    .await;
}

fn retire(translations: &str) -> String {
    format!(
        "{}{translations}",
        campaign(
            "retire",
            r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#,
            "",
        )
        .replace(
            "description = \"A test campaign.\"",
            "description = \"Windows Server 2012 R2 no longer receives security updates.\""
        )
    )
}

/// The answer token of the first link in a text.
fn first_token(text: &str) -> String {
    let at = text.find("/answer/").expect("an answer link") + "/answer/".len();
    text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | ')' | '>'))
        .collect()
}

on_both_backends! {
    async fn each_reader_gets_the_campaigns_title_and_description_in_their_language(backend) {
        let mut s = site(backend).await;
        s.engine.config.chat_channels = vec!["mattermost".into()];
        fleet(&s).await;
        let now = at("2026-11-27T10:00:00Z");
        s.start(&retire(TRANSLATED), now).await;
        let w = s.engine.tick(now).await.expect("wave");
        assert_eq!(w.queued, 3, "{w:?}");
        let outbox = s.outbox().await;
        let to = |login: &str| outbox.iter().find(|m| m.recipient == login).unwrap_or_else(|| panic!("no message to {login}"));

        let fr = to("francoise");
        assert_eq!(fr.channel, "email");
        assert!(fr.subject.starts_with("Retrait de Windows Server 2012 R2 : "), "{}", fr.subject);
        assert!(fr.body_text.contains("== Retrait de Windows Server 2012 R2 =="), "{}", fr.body_text);
        assert!(fr.body_text.contains("ne reçoit plus de mises à jour de sécurité"), "{}", fr.body_text);
        assert!(!fr.body_text.contains("retirement") && !fr.body_text.contains("no longer receives"));
        let html = fr.body_html.as_deref().unwrap_or_default();
        assert!(html.contains("Retrait de Windows Server 2012 R2"), "{html}");
        // The answer page's title too.
        let view = s.engine.open_link(&first_token(&fr.body_text), now).await.expect("link");
        assert_eq!(view.campaign, "Retrait de Windows Server 2012 R2");

        let en = to("edward");
        assert!(en.subject.starts_with("Campaign retire: "), "{}", en.subject);
        assert!(en.body_text.contains("no longer receives security updates"), "{}", en.body_text);
        assert!(!en.body_text.contains("Retrait"), "{}", en.body_text);
        let view = s.engine.open_link(&first_token(&en.body_text), now).await.expect("link");
        assert_eq!(view.campaign, "Campaign retire");

        // `fr-CH` reads the French texts, in the chat digest and its buttons.
        let mm = to("mathilde");
        assert_eq!(mm.channel, "mattermost");
        assert!(mm.body_text.contains("Retrait de Windows Server 2012 R2"), "{}", mm.body_text);
        let buttons: serde_json::Value = serde_json::from_str(mm.buttons.as_deref().expect("buttons")).expect("JSON");
        assert_eq!(buttons["sections"][0]["title"], "Retrait de Windows Server 2012 R2");
    }
}

on_both_backends! {
    async fn a_campaign_without_translations_reads_the_same_in_every_language(backend) {
        let s = site(backend).await;
        fleet(&s).await;
        let now = at("2026-11-27T10:00:00Z");
        let c = s.start(&retire(""), now).await;
        assert!(c.spec.translations.is_empty());
        assert_eq!(CampaignSpec::parse(&c.row.spec).expect("stored"), c.spec);
        let w = s.engine.tick(now).await.expect("wave");
        assert_eq!(w.queued, 3, "{w:?}");
        for m in s.outbox().await {
            assert!(m.subject.starts_with("Campaign retire"), "{}: {}", m.recipient, m.subject);
            assert!(m.body_text.contains("no longer receives security updates"), "{}", m.body_text);
        }
        let fr = s.outbox().await.into_iter().find(|m| m.recipient == "francoise").expect("French reader");
        assert!(fr.subject.contains("attend"), "French templates, English title: {}", fr.subject);
        let view = s.engine.open_link(&first_token(&fr.body_text), now).await.expect("link");
        assert_eq!(view.campaign, "Campaign retire");
    }
}
