//! The access role's contract: a token is found by its hash and never by
//! its name alone; a name is taken for ever; revoking ends a token and
//! moves the revision other processes watch, once; last use is recorded.

use chrono::Duration;
use winventory_core::on_both_backends;
use winventory_core::store::NewApiToken;

use crate::helpers::{at, store};

fn new_token(name: &str, hash: &str, expires_in_secs: Option<i64>) -> NewApiToken {
    NewApiToken {
        name: name.into(),
        hash: hash.into(),
        role: "collector".into(),
        created_by: "cli:ana@host".into(),
        created_at: at(0),
        expires_at: expires_in_secs.map(|s| at(0) + Duration::seconds(s)),
    }
}

on_both_backends! {
    async fn a_token_is_found_by_its_hash_and_its_name_is_taken_for_ever(backend) {
        let (_db, store) = store(backend).await;
        assert!(store.create_token(&new_token("ci", "aa11", Some(3600))).await.expect("create"));
        assert!(!store.create_token(&new_token("ci", "bb22", None)).await.expect("same name"));
        let t = store.token_by_hash("aa11").await.expect("read").expect("found");
        assert_eq!(t.name, "ci");
        assert_eq!(t.role, "collector");
        assert_eq!(t.created_by, "cli:ana@host");
        assert_eq!(t.expires_at, Some(at(0) + Duration::seconds(3600)));
        assert!(t.is_valid(at(0)));
        assert!(!t.is_valid(at(0) + Duration::seconds(3600)), "expired at its expiry");
        assert_eq!(store.token_by_hash("bb22").await.expect("read"), None);
        assert_eq!(store.token_by_hash("ci").await.expect("read"), None);

        // Revoked, it stays listed (with its name) and is no longer valid.
        assert!(store.revoke_token("ci", at(10)).await.expect("revoke"));
        assert!(!store.create_token(&new_token("ci", "cc33", None)).await.expect("name of a revoked token"));
        let listed = store.tokens().await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].revoked_at, Some(at(10)));
        assert!(!listed[0].is_valid(at(1)));
    }
}

on_both_backends! {
    async fn revoking_moves_the_revision_once_and_use_is_recorded(backend) {
        let (_db, store) = store(backend).await;
        let r0 = store.access_revision().await.expect("revision");
        store.create_token(&new_token("a", "h1", None)).await.expect("create");
        store.create_token(&new_token("b", "h2", None)).await.expect("create");
        assert_eq!(store.access_revision().await.expect("revision"), r0, "creating moves nothing");
        store.touch_token("a", at(5)).await.expect("touch");
        assert_eq!(store.token_by_hash("h1").await.expect("read").expect("a").last_used_at, Some(at(5)));
        assert!(store.revoke_token("a", at(6)).await.expect("revoke"));
        assert_eq!(store.access_revision().await.expect("revision"), r0 + 1);
        assert!(!store.revoke_token("a", at(7)).await.expect("again"), "revoked already");
        assert!(!store.revoke_token("nobody", at(7)).await.expect("unknown"));
        assert_eq!(store.access_revision().await.expect("revision"), r0 + 1);
        let names: Vec<String> = store.tokens().await.expect("list").into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["a", "b"]);
    }
}

on_both_backends! {
    async fn a_sign_in_under_way_is_taken_once_and_old_ones_are_forgotten(backend) {
        use winventory_core::store::SignInAttempt;
        let (_db, store) = store(backend).await;
        let attempt = |state: &str, minute: i64| SignInAttempt {
            state_hash: state.into(),
            nonce: format!("nonce-{state}"),
            verifier: format!("verifier-{state}"),
            return_to: "/campaigns/x".into(),
            created_at: at(minute),
        };
        assert!(store.put_sign_in(&attempt("old", 0), at(-10), 2).await.expect("put"));
        assert!(store.put_sign_in(&attempt("s1", 20), at(10), 2).await.expect("put, forgetting the old"));
        assert!(store.put_sign_in(&attempt("s2", 21), at(10), 2).await.expect("put"));
        assert!(!store.put_sign_in(&attempt("s3", 22), at(10), 2).await.expect("put"), "at the limit");
        assert_eq!(store.take_sign_in("s3").await.expect("take"), None, "not kept");
        assert_eq!(store.take_sign_in("old").await.expect("take"), None, "forgotten");
        let taken = store.take_sign_in("s1").await.expect("take").expect("there");
        assert_eq!(taken, attempt("s1", 20));
        assert_eq!(store.take_sign_in("s1").await.expect("again"), None, "a replayed state finds nothing");
    }
}

on_both_backends! {
    async fn a_session_is_found_by_its_hash_touched_and_revoked(backend) {
        use winventory_core::store::NewSession;
        let (_db, store) = store(backend).await;
        let new = |hash: &str, login: &str| NewSession {
            secret_hash: hash.into(),
            login: login.into(),
            roles: "admin,owner".into(),
            csrf: format!("csrf-{hash}"),
            id_token: Some("eyJ...".into()),
            origin: "10.0.0.7".into(),
            created_at: at(0),
            expires_at: at(24 * 60),
        };
        let a = store.create_session(&new("h1", "alice")).await.expect("create");
        let b = store.create_session(&new("h2", "bob")).await.expect("create");
        assert_ne!(a, b);
        let s = store.session_by_hash("h1").await.expect("read").expect("found");
        assert_eq!((s.id, s.login.as_str(), s.roles.as_str(), s.csrf.as_str()), (a, "alice", "admin,owner", "csrf-h1"));
        assert_eq!((s.created_at, s.last_seen_at, s.expires_at, s.revoked_at), (at(0), at(0), at(24 * 60), None));
        store.touch_session(a, at(5)).await.expect("touch");
        assert_eq!(store.session_by_hash("h1").await.expect("read").expect("found").last_seen_at, at(5));
        assert!(store.revoke_session(a, at(6)).await.expect("revoke"));
        assert!(!store.revoke_session(a, at(7)).await.expect("again"));
        assert_eq!(store.session_by_hash("h1").await.expect("read").expect("found").revoked_at, Some(at(6)));
        let live: Vec<i64> = store.sessions(Some(at(8))).await.expect("live").iter().map(|s| s.id).collect();
        assert_eq!(live, [b]);
        assert_eq!(store.sessions(None).await.expect("all").len(), 2);
        assert!(store.sessions(Some(at(24 * 60))).await.expect("past expiry").is_empty());
        // The list a person may be shown carries neither CSRF token nor ID token.
        let json = serde_json::to_string(&store.sessions(None).await.expect("all")).expect("json");
        assert!(!json.contains("csrf-h2") && !json.contains("eyJ"));
    }
}
