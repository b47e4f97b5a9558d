//! The directory role's contract: people and their groups as a site list
//! and the network database name them, and owner facts set by hand.

use winventory_core::on_both_backends;
use winventory_core::store::{DirectoryPerson, NetDbAnswer, UserImport};
use winventory_core::{OwnerFact, OwnerRole, OwnerSource, User};

use crate::helpers::{at, machine, store};

fn person(login: &str) -> User {
    User {
        login: login.into(),
        name: None,
        email: None,
        matrix_id: None,
        mattermost_username: None,
        language: None,
        time_zone: None,
        manager: None,
    }
}

on_both_backends! {
    async fn an_import_replaces_group_memberships_but_keeps_fields_it_leaves_empty(backend) {
        let (_db, store) = store(backend).await;
        let mut alice = person("alice");
        alice.name = Some("Alice".into());
        alice.email = Some("alice@example.org".into());
        alice.matrix_id = Some("@alice:example.org".into());
        alice.time_zone = Some("Europe/Zurich".into());
        let bob = User { manager: Some("alice".into()), ..person("bob") };
        store
            .import_users(
                &[
                    UserImport { user: alice.clone(), groups: vec!["admins".into(), "it".into()] },
                    UserImport { user: bob, groups: vec!["it".into()] },
                ],
                at(0),
            )
            .await
            .expect("import");
        assert_eq!(store.user("alice").await.expect("read"), Some(alice.clone()));
        assert_eq!(store.groups_of("alice").await.expect("groups"), ["admins", "it"]);
        assert_eq!(
            store.group_members(&["it".into(), "nobody".into()]).await.expect("members"),
            [("it".to_string(), "alice".to_string()), ("it".to_string(), "bob".to_string())]
        );

        // A second list naming alice again with only a new email and one group.
        let again = User { email: Some("a.smith@example.org".into()), ..person("alice") };
        store.import_users(&[UserImport { user: again, groups: vec!["it".into()] }], at(1)).await.expect("import again");
        let stored = store.user("alice").await.expect("read").expect("alice");
        assert_eq!(stored, User { email: Some("a.smith@example.org".into()), ..alice });
        assert_eq!(store.groups_of("alice").await.expect("groups"), ["it"]);
        let memberships = store.group_memberships().await.expect("memberships");
        assert_eq!(memberships.get("alice").map(Vec::as_slice), Some(&["it".to_string()][..]));
        assert_eq!(memberships.get("bob").map(Vec::as_slice), Some(&["it".to_string()][..]));
        let logins: Vec<_> = store.users().await.expect("users").into_iter().map(|u| u.login).collect();
        assert_eq!(logins, ["alice", "bob"]);
        assert_eq!(store.user("carol").await.expect("read"), None);
        assert!(store.groups_of("carol").await.expect("groups").is_empty());
    }
}

on_both_backends! {
    async fn a_network_database_answer_fills_only_the_owners_nobody_else_named(backend) {
        let (_db, store) = store(backend).await;
        store
            .apply_machines(&[machine("PC1", at(0), Some("jdoe")), machine("PC2", at(0), None)], at(0))
            .await
            .expect("write");
        store
            .import_users(&[UserImport { user: User { matrix_id: Some("@asmith:example.org".into()), ..person("asmith") }, groups: vec![] }], at(0))
            .await
            .expect("import");
        let named = |login: &str, name: &str| DirectoryPerson {
            login: login.into(),
            name: Some(name.into()),
            email: Some(format!("{login}@example.org")),
        };
        let answers = [
            NetDbAnswer { host_key: "pc1".into(), found: true, responsible: Some(named("other", "Other")), main_user: Some(named("asmith", "A. Smith")) },
            NetDbAnswer { host_key: "pc2".into(), found: true, responsible: Some(named("other", "Other")), main_user: None },
            NetDbAnswer { host_key: "pc3".into(), found: false, responsible: None, main_user: None },
        ];
        store.apply_netdb(&answers, at(1)).await.expect("apply");

        let pc1 = store.machine("pc1").await.expect("read").expect("pc1");
        // The snapshot's responsible stands; the main user comes from the network database.
        assert_eq!(pc1.responsible.map(|o| (o.login, o.source)), Some(("jdoe".into(), OwnerSource::Snapshot)));
        assert_eq!(pc1.main_user.map(|o| (o.login, o.source)), Some(("asmith".into(), OwnerSource::NetworkDb)));
        let pc2 = store.machine("pc2").await.expect("read").expect("pc2");
        assert_eq!(pc2.responsible.map(|o| o.login), Some("other".into()));
        // People it names are created or completed, chat handles kept.
        let asmith = store.user("asmith").await.expect("read").expect("asmith");
        assert_eq!(
            (asmith.name.as_deref(), asmith.email.as_deref(), asmith.matrix_id.as_deref()),
            (Some("A. Smith"), Some("asmith@example.org"), Some("@asmith:example.org"))
        );
        let mut cached: Vec<_> = store
            .netdb_cache(at(1))
            .await
            .expect("cache")
            .into_iter()
            .map(|c| (c.host_key, c.found, c.responsible, c.main_user, c.fetched_at))
            .collect();
        cached.sort();
        assert_eq!(
            cached,
            [
                ("pc1".into(), true, Some("other".into()), Some("asmith".into()), at(1)),
                ("pc2".into(), true, Some("other".into()), None, at(1)),
                ("pc3".into(), false, None, None, at(1)),
            ]
        );
        assert!(store.netdb_cache(at(2)).await.expect("cache").is_empty());

        // A later answer naming nobody takes back only what it gave.
        let gone = NetDbAnswer { host_key: "pc2".into(), found: true, responsible: None, main_user: None };
        store.apply_netdb(&[gone], at(2)).await.expect("apply again");
        assert_eq!(store.machine("pc2").await.expect("read").expect("pc2").responsible, None);
        assert!(store.machine("pc1").await.expect("read").expect("pc1").responsible.is_some());
    }
}

on_both_backends! {
    async fn an_owner_set_by_hand_replaces_any_source_and_can_be_cleared(backend) {
        let (_db, store) = store(backend).await;
        store.apply_machines(&[machine("PC1", at(0), Some("jdoe"))], at(0)).await.expect("write");
        let answer = OwnerFact { login: "carol".into(), source: OwnerSource::Answer };
        assert!(store.set_owner("pc1", OwnerRole::Responsible, Some(&answer), at(1)).await.expect("set"));
        assert_eq!(store.machine("pc1").await.expect("read").expect("pc1").responsible, Some(answer.clone()));
        let logins: Vec<_> = store.machines_of("carol").await.expect("mine").into_iter().map(|m| m.hostname).collect();
        assert_eq!(logins, ["PC1"]);
        assert!(store.machines_of("jdoe").await.expect("none").is_empty());

        // A later snapshot does not override an answer.
        let mut later = machine("PC1", at(5), Some("jdoe"));
        later.id = Some(store.machine("pc1").await.expect("read").expect("pc1").id);
        store.apply_machines(&[later], at(5)).await.expect("write");
        assert_eq!(store.machine("pc1").await.expect("read").expect("pc1").responsible, Some(answer));

        assert!(store.set_owner("pc1", OwnerRole::Responsible, None, at(6)).await.expect("clear"));
        assert_eq!(store.machine("pc1").await.expect("read").expect("pc1").responsible, None);
        assert!(!store.set_owner("pc1", OwnerRole::MainUser, None, at(6)).await.expect("nothing to clear"));
        assert!(!store.set_owner("nowhere", OwnerRole::Responsible, None, at(6)).await.expect("no machine"));
    }
}
