//! Who may do what: the one role model of every edge (chat commands, the
//! web, the REST API, the command line's audit records). A person or a
//! program acts in one or more [`Role`]s; each thing that can be asked of
//! Winventory needs one [`Permission`]; [`allows`] is the table between
//! them. Pure: no I/O, so the edges and their tests read the same table.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A role, spelled so in settings, tokens and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything, including tokens and sessions.
    Admin,
    /// Runs campaigns and decides exceptions.
    CampaignManager,
    /// Reads the licence report and runs licence campaigns.
    LicenceManager,
    /// Reads everything, changes nothing.
    Viewer,
    /// Anyone responsible for or using a machine: their own machines and
    /// what they were asked.
    Owner,
    /// A program that uploads snapshots.
    Collector,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::CampaignManager,
        Role::LicenceManager,
        Role::Viewer,
        Role::Owner,
        Role::Collector,
    ];

    /// The role as spelled in settings, tokens and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::CampaignManager => "campaign-manager",
            Role::LicenceManager => "licence-manager",
            Role::Viewer => "viewer",
            Role::Owner => "owner",
            Role::Collector => "collector",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role {0:?}: one of admin, campaign-manager, licence-manager, viewer, owner, collector"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// What a request needs (one row of the permission table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Read the whole fleet, the reports, campaigns and the audit log.
    ReadFleet,
    /// Read one's own machines (and, for the roles of
    /// [`Permission::ReadFleet`], anyone's).
    ReadOwnMachines,
    /// Create, preview, start, remind, pause, resume or close a campaign
    /// of any kind.
    ManageCampaigns,
    /// The same for licence campaigns only.
    ManageLicenceCampaigns,
    /// Approve or decline an exception.
    DecideExceptions,
    /// The licence report and the what-if.
    ReadLicences,
    /// Answer for a machine on its owner's behalf (audited as such).
    AnswerOnBehalf,
    /// Answer what one was asked.
    AnswerOwn,
    /// Upload snapshots.
    UploadSnapshots,
    /// Create and revoke API tokens, revoke sign-in sessions.
    ManageAccess,
}

impl Permission {
    /// Every permission, in the table's order.
    pub const ALL: [Permission; 10] = [
        Permission::ReadFleet,
        Permission::ReadOwnMachines,
        Permission::ManageCampaigns,
        Permission::ManageLicenceCampaigns,
        Permission::DecideExceptions,
        Permission::ReadLicences,
        Permission::AnswerOnBehalf,
        Permission::AnswerOwn,
        Permission::UploadSnapshots,
        Permission::ManageAccess,
    ];
}

/// Whether `role` has `permission`: the permission table.
///
/// | may | admin | campaign-manager | licence-manager | viewer | owner | collector |
/// |---|---|---|---|---|---|---|
/// | read fleet, reports, campaigns, audit | ✓ | ✓ | ✓ | ✓ | own machines | |
/// | manage a campaign | ✓ | ✓ | licence campaigns | | | |
/// | decide an exception | ✓ | ✓ | | | | |
/// | licence report and what-if | ✓ | ✓ | ✓ | ✓ | | |
/// | answer for a machine | on behalf | on behalf | | | what they were asked | |
/// | upload snapshots | ✓ | | | | | ✓ |
/// | tokens and sessions | ✓ | | | | | |
pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission as P;
    use Role as R;
    match permission {
        P::ReadFleet => matches!(
            role,
            R::Admin | R::CampaignManager | R::LicenceManager | R::Viewer
        ),
        P::ReadOwnMachines => matches!(
            role,
            R::Admin | R::CampaignManager | R::LicenceManager | R::Viewer | R::Owner
        ),
        P::ManageCampaigns => matches!(role, R::Admin | R::CampaignManager),
        P::ManageLicenceCampaigns => {
            matches!(role, R::Admin | R::CampaignManager | R::LicenceManager)
        }
        P::DecideExceptions => matches!(role, R::Admin | R::CampaignManager),
        P::ReadLicences => matches!(
            role,
            R::Admin | R::CampaignManager | R::LicenceManager | R::Viewer
        ),
        P::AnswerOnBehalf => matches!(role, R::Admin | R::CampaignManager),
        P::AnswerOwn => matches!(role, R::Owner),
        P::UploadSnapshots => matches!(role, R::Admin | R::Collector),
        P::ManageAccess => matches!(role, R::Admin),
    }
}

/// Who is acting: a person signed in, or a program with a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// For people their login; for programs `token:NAME` (an API token of
    /// the site) or `client:ID` (a client of the OpenID provider).
    pub subject: String,
    /// Every role they hold (a person may be in several groups).
    pub roles: BTreeSet<Role>,
}

impl Principal {
    /// A principal with these roles.
    pub fn new(subject: impl Into<String>, roles: impl IntoIterator<Item = Role>) -> Self {
        Principal {
            subject: subject.into(),
            roles: roles.into_iter().collect(),
        }
    }

    /// Whether any of their roles has `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        self.roles.iter().any(|r| allows(*r, permission))
    }

    /// The roles as the audit log writes them (`admin,viewer`).
    pub fn roles_text(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Map directory groups (or a groups claim) to roles: `mapping` is the
/// site's `[roles]` table (role -> groups). Nobody gets a role from a group
/// the site did not name; everyone gets [`Role::Owner`] (anyone may own a
/// machine; what they see is limited to theirs).
pub fn roles_from_groups<'a>(
    mapping: &[(Role, Vec<String>)],
    groups: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<Role> {
    let groups: BTreeSet<String> = groups.into_iter().map(|g| g.to_lowercase()).collect();
    let mut roles: BTreeSet<Role> = mapping
        .iter()
        .filter(|(_, named)| named.iter().any(|g| groups.contains(&g.to_lowercase())))
        .map(|(r, _)| *r)
        .collect();
    roles.insert(Role::Owner);
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_reads_back_from_its_own_spelling() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
            assert_eq!(
                serde_json::to_string(&r).expect("json"),
                format!("\"{}\"", r.as_str())
            );
        }
        assert!("superuser".parse::<Role>().is_err());
    }

    #[test]
    fn the_table_is_the_one_of_the_issue() {
        use Permission as P;
        use Role as R;
        // Each row: the roles that may, in Role::ALL's order.
        let rows: [(P, [bool; 6]); 10] = [
            (P::ReadFleet, [true, true, true, true, false, false]),
            (P::ReadOwnMachines, [true, true, true, true, true, false]),
            (P::ManageCampaigns, [true, true, false, false, false, false]),
            (
                P::ManageLicenceCampaigns,
                [true, true, true, false, false, false],
            ),
            (
                P::DecideExceptions,
                [true, true, false, false, false, false],
            ),
            (P::ReadLicences, [true, true, true, true, false, false]),
            (P::AnswerOnBehalf, [true, true, false, false, false, false]),
            (P::AnswerOwn, [false, false, false, false, true, false]),
            (P::UploadSnapshots, [true, false, false, false, false, true]),
            (P::ManageAccess, [true, false, false, false, false, false]),
        ];
        for (p, may) in rows {
            for (r, expected) in R::ALL.into_iter().zip(may) {
                assert_eq!(allows(r, p), expected, "{r} {p:?}");
            }
        }
    }

    #[test]
    fn a_collector_reads_nothing_and_a_viewer_changes_nothing() {
        let collector = Principal::new("token:ci", [Role::Collector]);
        assert!(!collector.may(Permission::ReadFleet));
        assert!(collector.may(Permission::UploadSnapshots));
        let viewer = Principal::new("ana", [Role::Viewer]);
        for p in [
            Permission::ManageCampaigns,
            Permission::ManageLicenceCampaigns,
            Permission::DecideExceptions,
            Permission::AnswerOnBehalf,
            Permission::UploadSnapshots,
            Permission::ManageAccess,
        ] {
            assert!(!viewer.may(p), "{p:?}");
        }
    }

    #[test]
    fn groups_map_to_roles_case_insensitively_and_everyone_is_an_owner() {
        let mapping = vec![
            (Role::Admin, vec!["IT-Admins".to_string()]),
            (Role::Viewer, vec!["helpdesk".to_string()]),
        ];
        let roles = roles_from_groups(&mapping, ["it-admins", "physics"]);
        assert_eq!(roles, BTreeSet::from([Role::Admin, Role::Owner]));
        assert_eq!(
            roles_from_groups(&mapping, ["physics"]),
            BTreeSet::from([Role::Owner])
        );
    }
}
