//! Chat commands under the one role model: the site's `[roles]` mapping
//! gives each person roles from their directory groups, and each command
//! needs a permission of the table (a viewer reads but changes nothing; a
//! licence manager manages licence campaigns only); the audit log writes
//! the roles.

use chrono::Duration;
use winventory_core::access::Role;
use winventory_core::on_both_backends;
use winventory_core::store::CampaignState;
use winventory_workflows::conversation::{conversation, plain};

use crate::paths::helpers::*;

fn day(n: i64) -> chrono::DateTime<chrono::Utc> {
    at("2026-11-23T10:00:00Z") + Duration::days(n)
}

on_both_backends! {
    async fn a_viewer_reads_campaigns_in_chat_but_cannot_pause_them_and_a_licence_manager_only_licence_ones(backend) {
        let s = site(backend).await;
        let t = at("2026-11-22T00:00:00Z");
        s.people(t, &[
            Person { groups: &["helpdesk"], ..Person::new("vic") },
            Person { groups: &["licence-desk"], ..Person::new("lena") },
            Person { groups: &["campaign-team"], ..Person::new("carl") },
        ]).await;
        s.ingest(t, &[snapshot("SRV1", "2026-11-21T12:00:00Z", Os::Server2012R2, Some("vic"), &[])]).await;
        let servers = r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#;
        s.start(&campaign("retire", servers, ""), day(0)).await;
        let mapping = vec![
            (Role::Viewer, vec!["helpdesk".to_string()]),
            (Role::LicenceManager, vec!["licence-desk".to_string()]),
            (Role::CampaignManager, vec!["campaign-team".to_string()]),
        ];
        let say = |login: &'static str, text: &'static str| {
            let (s, mapping) = (&s, &mapping);
            async move {
                let user = s.store.user(login).await.expect("directory");
                plain(&conversation(&s.engine, day(0), mapping, "matrix", &format!("@{login}:example.org"), Ok(user), text).await)
            }
        };
        let state = || async { s.store.campaign("retire").await.expect("read").expect("there").state };

        let said = say("vic", "campaign list").await;
        assert!(said.contains("retire"), "a viewer reads: {said}");
        let said = say("vic", "campaign pause retire").await;
        assert!(!said.contains("paused"), "{said}");
        assert_eq!(state().await, CampaignState::Running, "a viewer changes nothing");
        let log = s.store.audit_log(1).await.expect("audit");
        assert_eq!(log[0].role, "viewer,owner");
        assert!(log[0].outcome.starts_with("refused"), "{:?}", log[0]);

        let said = say("lena", "campaign pause retire").await;
        assert!(!said.contains("paused"), "an end-of-life campaign is not a licence manager's: {said}");
        assert_eq!(state().await, CampaignState::Running);

        // `retire` is also an answer word: a line that starts with a
        // command word is the command.
        let said = say("carl", "campaign pause retire").await;
        assert!(said.contains("paused"), "{said}");
        assert_eq!(state().await, CampaignState::Paused);
    }
}
