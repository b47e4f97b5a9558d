//! The words the store keeps for a campaign machine's state, resolution,
//! exception request, recipient and a message's channel, as enums: the
//! engine converts at the store boundary (`of`, `parse`) and writes them
//! back with `as_str`, so no room compares strings.

use std::fmt;

use winventory_core::store::CampaignMachine;

/// Where a machine of a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MachineState {
    /// Waiting for an answer.
    Open,
    /// Answered, not yet proven by the data.
    Answered,
    /// Dealt with: the data shows it, or it is gone.
    Resolved,
}

impl MachineState {
    /// The stored word; anything unknown is read as open (asked again
    /// rather than dropped).
    pub fn parse(s: &str) -> Self {
        match s {
            "answered" => Self::Answered,
            "resolved" => Self::Resolved,
            _ => Self::Open,
        }
    }

    /// A stored machine's state.
    pub fn of(m: &CampaignMachine) -> Self {
        Self::parse(&m.state)
    }

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Answered => "answered",
            Self::Resolved => "resolved",
        }
    }
}

/// Why a machine was resolved, or that its answer was reopened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// It stopped reporting after a "decommission" answer.
    Decommissioned,
    /// A fresh snapshot without the program (licence campaigns).
    Uninstalled,
    /// It runs something else now, after an "upgrade" answer.
    Upgraded,
    /// It runs something else now, after a "replace" answer.
    Replaced,
    /// It runs something else now, whatever was answered.
    Fixed,
    /// Not a resolution: the answer was contradicted and asked again.
    Reopened,
}

impl Resolution {
    /// The stored word, `None` for one this version does not know.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "decommissioned" => Self::Decommissioned,
            "uninstalled" => Self::Uninstalled,
            "upgraded" => Self::Upgraded,
            "replaced" => Self::Replaced,
            "fixed" => Self::Fixed,
            "reopened" => Self::Reopened,
            _ => return None,
        })
    }

    /// A stored machine's resolution.
    pub fn of(m: &CampaignMachine) -> Option<Self> {
        m.resolution.as_deref().and_then(Self::parse)
    }

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Decommissioned => "decommissioned",
            Self::Uninstalled => "uninstalled",
            Self::Upgraded => "upgraded",
            Self::Replaced => "replaced",
            Self::Fixed => "fixed",
            Self::Reopened => "reopened",
        }
    }
}

/// Where an exception request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExceptionState {
    /// Waiting for an admin.
    Requested,
    /// Granted until the answer's date.
    Approved,
    /// Refused: the owner is asked again.
    Declined,
}

impl ExceptionState {
    /// The stored word, `None` for one this version does not know.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "requested" => Self::Requested,
            "approved" => Self::Approved,
            "declined" => Self::Declined,
            _ => return None,
        })
    }

    /// A stored machine's exception request, if any.
    pub fn of(m: &CampaignMachine) -> Option<Self> {
        m.exception_state.as_deref().and_then(Self::parse)
    }

    /// The decision an admin takes.
    pub fn decision(approve: bool) -> Self {
        if approve {
            Self::Approved
        } else {
            Self::Declined
        }
    }

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Declined => "declined",
        }
    }
}

/// Who is asked about a machine, as the store keys it: a login, or
/// `group:NAME` for every member of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientKey<'a> {
    /// A person, by login.
    Person(&'a str),
    /// A group, by name.
    Group(&'a str),
}

impl<'a> RecipientKey<'a> {
    /// Read a stored recipient key.
    pub fn parse(key: &'a str) -> Self {
        match key.strip_prefix("group:") {
            Some(g) => Self::Group(g),
            None => Self::Person(key),
        }
    }

    /// The group's name, when it is a group.
    pub fn group(self) -> Option<&'a str> {
        match self {
            Self::Group(g) => Some(g),
            Self::Person(_) => None,
        }
    }
}

impl fmt::Display for RecipientKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Person(login) => f.write_str(login),
            Self::Group(g) => write!(f, "group:{g}"),
        }
    }
}

/// A channel a message goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// Email (SMTP).
    Email,
    /// Matrix.
    Matrix,
    /// Mattermost.
    Mattermost,
}

impl ChannelKind {
    /// A channel's name, `None` for one this version does not know.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "email" => Self::Email,
            "matrix" => Self::Matrix,
            "mattermost" => Self::Mattermost,
            _ => return None,
        })
    }

    /// The name the outbox and the settings use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Matrix => "matrix",
            Self::Mattermost => "mattermost",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_word_reads_back_as_itself() {
        for s in [
            MachineState::Open,
            MachineState::Answered,
            MachineState::Resolved,
        ] {
            assert_eq!(MachineState::parse(s.as_str()), s);
        }
        for r in [
            Resolution::Decommissioned,
            Resolution::Uninstalled,
            Resolution::Upgraded,
            Resolution::Replaced,
            Resolution::Fixed,
            Resolution::Reopened,
        ] {
            assert_eq!(Resolution::parse(r.as_str()), Some(r));
        }
        for e in [
            ExceptionState::Requested,
            ExceptionState::Approved,
            ExceptionState::Declined,
        ] {
            assert_eq!(ExceptionState::parse(e.as_str()), Some(e));
        }
        for c in [
            ChannelKind::Email,
            ChannelKind::Matrix,
            ChannelKind::Mattermost,
        ] {
            assert_eq!(ChannelKind::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn a_group_key_names_its_group_and_prints_as_stored() {
        assert_eq!(RecipientKey::parse("group:it-ops").group(), Some("it-ops"));
        assert_eq!(RecipientKey::parse("jdoe"), RecipientKey::Person("jdoe"));
        assert_eq!(RecipientKey::Group("it-ops").to_string(), "group:it-ops");
    }

    #[test]
    fn an_unknown_word_is_no_known_resolution_and_an_unknown_state_is_open() {
        assert_eq!(Resolution::parse("vanished"), None);
        assert_eq!(MachineState::parse("limbo"), MachineState::Open);
    }
}
