//! What the tests share: a fresh database on either backend with an engine
//! over it (the builtin catalog, the shipped templates, a link key), small
//! fleets ingested from memory through the real ingest pipeline, a user
//! directory imported through the store, and a channel that records what it
//! is given and refuses what its script says.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use winventory_core::store::{Backend, CampaignMachine, CampaignState, OutboxRow, UserImport};
use winventory_core::testing::{TestDb, fresh_database};
use winventory_core::{Catalog, Store, User};
use winventory_ingest::cmf::Input;
use winventory_ingest::{IngestOptions, Pipeline, Summary};
use winventory_workflows::answer::{Answer, AnswerKind};
use winventory_workflows::delivery::{Channel, SendError};
use winventory_workflows::engine::{Campaign, Engine, EngineConfig};
use winventory_workflows::render::Templates;
use winventory_workflows::token::Signer;

pub const KEYS: &str = "k1:0123456789abcdef0123456789abcdef-paths";

/// A site: its database and the engine over it.
pub struct Site {
    pub engine: Engine,
    pub store: Arc<dyn Store>,
    _db: TestDb,
}

/// An instant, from RFC 3339.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

/// The operating systems the fleets run (each matched by the builtin catalog).
#[derive(Debug, Clone, Copy)]
pub enum Os {
    /// windows-server 2012-r2: ended 2023-10-10, extended support to 2026-10-13.
    Server2012R2,
    /// windows-server 2016: ends 2027-01-12.
    Server2016,
    /// windows-server 2019: ends 2029-01-09.
    Server2019,
    /// windows 10-22h2: ended 2025-10-14, extended support to 2028-10-10.
    Windows10,
    /// windows 11-23h2-e: ended 2026-11-10.
    Windows11,
}

impl Os {
    fn json(self) -> &'static str {
        match self {
            Os::Server2012R2 => {
                r#"{"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}"#
            }
            Os::Server2016 => {
                r#"{"caption": "Microsoft Windows Server 2016 Standard", "version": "10.0.14393", "edition": "ServerStandard", "product_type": 3}"#
            }
            Os::Server2019 => {
                r#"{"caption": "Microsoft Windows Server 2019 Standard", "version": "10.0.17763", "edition": "ServerStandard", "product_type": 3}"#
            }
            Os::Windows10 => {
                r#"{"caption": "Microsoft Windows 10 Enterprise", "version": "10.0.19045", "edition": "Enterprise", "product_type": 1}"#
            }
            Os::Windows11 => {
                r#"{"caption": "Microsoft Windows 11 Enterprise", "version": "10.0.22631", "edition": "Enterprise", "product_type": 1}"#
            }
        }
    }
}

pub const PYTHON_38: (&str, &str) = ("Python 3.8.10 (64-bit)", "3.8.10");
pub const PYTHON_312: (&str, &str) = ("Python 3.12.4 (64-bit)", "3.12.4");
pub const OFFICE_2016: (&str, &str) = ("Microsoft Office Professional Plus 2016", "16.0.4266.1001");
pub const VSCODE: (&str, &str) = ("Microsoft Visual Studio Code", "1.85.1");

/// One snapshot line: a machine, when it reported, its OS, its responsible
/// (if any) and its programs (name, version).
pub fn snapshot(
    host: &str,
    collected: &str,
    os: Os,
    responsible: Option<&str>,
    software: &[(&str, &str)],
) -> String {
    let owner = responsible
        .map(|r| format!(r#", "responsible": "{r}""#))
        .unwrap_or_default();
    let programs: Vec<String> = software
        .iter()
        .map(|(n, v)| format!(r#"{{"name": "{n}", "version": "{v}", "publisher": "Vendor"}}"#))
        .collect();
    format!(
        r#"{{"hostname": "{host}", "domain": "EXAMPLE", "collected_at": "{collected}", "os": {}{owner}, "software": [{}]}}"#,
        os.json(),
        programs.join(", ")
    )
}

/// A directory entry: login, email, time zone, manager, groups.
pub struct Person<'a> {
    pub login: &'a str,
    pub email: Option<&'a str>,
    pub time_zone: Option<&'a str>,
    pub manager: Option<&'a str>,
    pub groups: &'a [&'a str],
    /// The directory's language (`en` unless given).
    pub language: &'a str,
    /// A Mattermost username, to be written to there (with a site whose
    /// engine has Mattermost among its chat channels).
    pub mattermost: Option<&'a str>,
}

impl<'a> Person<'a> {
    /// Someone known by login only, written to at `login@example.org`.
    pub fn new(login: &'a str) -> Self {
        Self {
            login,
            email: None,
            time_zone: None,
            manager: None,
            groups: &[],
            language: "en",
            mattermost: None,
        }
    }
}

pub fn email(login: &str) -> String {
    format!("{login}@example.org")
}

/// A fresh site on `backend`.
pub async fn site(backend: Backend) -> Site {
    let db = fresh_database(backend).await;
    let store = winventory_core::connect(&db.url).await.expect("store");
    let engine = Engine {
        store: store.clone(),
        catalog: Arc::new(Catalog::builtin()),
        templates: Arc::new(Templates::new(None)),
        signer: Some(Arc::new(Signer::from_spec(KEYS).expect("link keys"))),
        config: EngineConfig {
            base_url: "https://winventory.example.org".into(),
            message_domain: "winventory.example.org".into(),
            freshness_days: 90,
            link_grace_days: 30,
            chat_channels: Vec::new(),
        },
        licences: None,
        titles: Default::default(),
    };
    Site {
        engine,
        store,
        _db: db,
    }
}

impl Site {
    /// Ingest snapshot lines (as one file) with the ingest's clock at `now`.
    pub async fn ingest(&self, now: DateTime<Utc>, lines: &[String]) -> Summary {
        let mut text = lines.join("\n");
        text.push('\n');
        let input = Input::from_reader(
            "fleet.jsonl",
            Box::new(std::io::Cursor::new(text.into_bytes())),
            None,
        );
        let s = Pipeline::new(
            self.store.clone(),
            self.engine.catalog.clone(),
            None,
            IngestOptions::new(now),
        )
        .run(vec![input.map_err(|e| ("fleet.jsonl".to_string(), e))])
        .await;
        assert_eq!(
            (s.accepted, s.rejected),
            (lines.len() as u64, 0),
            "every line is accepted: {s:?}"
        );
        s
    }

    /// Import a user directory (every person gets `login@example.org`
    /// unless given another address or, with `Some("")`, none).
    pub async fn people(&self, now: DateTime<Utc>, people: &[Person<'_>]) {
        let rows: Vec<UserImport> = people
            .iter()
            .map(|p| UserImport {
                user: User {
                    login: p.login.to_string(),
                    name: Some(format!("Person {}", p.login)),
                    email: match p.email {
                        None => Some(email(p.login)),
                        Some("") => None,
                        Some(e) => Some(e.to_string()),
                    },
                    matrix_id: None,
                    mattermost_username: p.mattermost.map(str::to_string),
                    language: Some(p.language.to_string()),
                    time_zone: p.time_zone.map(str::to_string),
                    manager: p.manager.map(str::to_string),
                },
                groups: p.groups.iter().map(|g| g.to_string()).collect(),
            })
            .collect();
        self.store
            .import_users(&rows, now)
            .await
            .expect("import users");
    }

    /// Create a campaign from its file and start it.
    pub async fn start(&self, text: &str, now: DateTime<Utc>) -> Campaign {
        let c = self.create(text, now).await;
        self.engine
            .set_state(&c.row.name, CampaignState::Running, now)
            .await
            .expect("start")
    }

    /// Create a draft campaign from its file.
    pub async fn create(&self, text: &str, now: DateTime<Utc>) -> Campaign {
        let (c, warnings) = self.engine.create(text, now).await.expect("create");
        assert!(warnings.is_empty(), "{warnings:?}");
        c
    }

    /// The campaign's machines, by host.
    pub async fn machines(&self, c: &Campaign) -> Vec<CampaignMachine> {
        self.store
            .campaign_machines(c.row.id)
            .await
            .expect("campaign machines")
    }

    /// One machine of the campaign.
    pub async fn machine(&self, c: &Campaign, host: &str) -> CampaignMachine {
        let key = host.to_lowercase();
        self.machines(c)
            .await
            .into_iter()
            .find(|m| m.host_key == key)
            .unwrap_or_else(|| panic!("{host} is not in campaign {}", c.row.name))
    }

    /// The campaign's machines' host keys, sorted.
    pub async fn hosts(&self, c: &Campaign) -> Vec<String> {
        let mut v: Vec<String> = self
            .machines(c)
            .await
            .into_iter()
            .map(|m| m.host_key)
            .collect();
        v.sort();
        v
    }

    /// Every message, oldest first.
    pub async fn outbox(&self) -> Vec<OutboxRow> {
        self.store.outbox().await.expect("outbox")
    }

    /// The messages after the first `skip`, as (recipient, idempotency key), sorted.
    pub async fn new_messages(&self, skip: usize) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .outbox()
            .await
            .into_iter()
            .skip(skip)
            .map(|m| (m.recipient, m.idem_key))
            .collect();
        v.sort();
        v
    }
}

/// A channel named `email` that records every message it accepts and
/// answers by address from its script (everything else is accepted).
#[derive(Default)]
pub struct Recorder {
    pub refuse: HashMap<String, SendError>,
    pub sent: Mutex<Vec<(String, String)>>,
}

impl Recorder {
    /// What it accepted: (idempotency key, address), in order.
    pub fn sent(&self) -> Vec<(String, String)> {
        self.sent.lock().expect("sent").clone()
    }
}

#[async_trait]
impl Channel for Recorder {
    fn name(&self) -> &'static str {
        "email"
    }

    async fn send(&self, m: &OutboxRow) -> Result<(), SendError> {
        if let Some(e) = self.refuse.get(&m.address) {
            return Err(e.clone());
        }
        self.sent
            .lock()
            .expect("sent")
            .push((m.idem_key.clone(), m.address.clone()));
        Ok(())
    }
}

/// A minimal campaign file: `target` and `schedule` are TOML table bodies.
pub fn campaign(name: &str, target: &str, schedule: &str) -> String {
    format!(
        r#"name = "{name}"
kind = "eol"
title = "Campaign {name}"
description = "A test campaign."
deadline = "2027-12-31"
fallback_group = "it-desk"

[target]
{target}

[schedule]
{schedule}
"#
    )
}

/// An answer of `kind`, with its date (`YYYY-MM-DD`) and detail.
pub fn answer(kind: AnswerKind, date: Option<&str>, detail: Option<&str>) -> Answer {
    Answer {
        kind,
        date: date.map(|d| d.parse().expect("date")),
        detail: detail.map(str::to_string),
        comment: None,
    }
}
