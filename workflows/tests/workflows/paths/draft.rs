//! A draft's status: not started, no progress (not "100% of no targets");
//! once started, its progress counts its targets.

use winventory_core::on_both_backends;
use winventory_core::store::CampaignState;

use crate::paths::helpers::*;

on_both_backends! {
    async fn a_drafts_status_says_not_started_and_has_no_progress(backend) {
        let s = site(backend).await;
        let t = at("2026-11-26T00:00:00Z");
        s.people(t, &[Person::new("olga")]).await;
        s.ingest(t, &[snapshot("SRV-A", "2026-11-25T12:00:00Z", Os::Server2012R2, Some("olga"), &[])]).await;
        let now = at("2026-11-27T10:00:00Z");
        let c = s.create(&campaign("draft", r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#, ""), now).await;
        let status = s.engine.status(&c.row.name, now).await.expect("status");
        assert!(status.is_draft());
        assert_eq!(status.state_text(), "draft, not started");
        assert_eq!((status.targets, status.progress_percent), (0, None));
        let json = serde_json::to_value(&status).expect("JSON");
        assert!(json["progress_percent"].is_null(), "{json}");

        s.engine.set_state(&c.row.name, CampaignState::Running, now).await.expect("start");
        s.engine.tick(now).await.expect("wave");
        let status = s.engine.status(&c.row.name, now).await.expect("status");
        assert_eq!(status.state_text(), "running");
        assert_eq!((status.targets, status.progress_percent), (1, Some(0)));
    }
}
