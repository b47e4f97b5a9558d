//! The clock: the one time source of a process, read once at start.
//! `WINVENTORY_NOW` (RFC 3339) fixes it for rehearsals and tests; a value
//! that is set but is not a time is refused instead of silently ignored.

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

/// The time commands, loops and edges act at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    fixed: Option<DateTime<Utc>>,
}

impl Clock {
    /// The clock `WINVENTORY_NOW` names, or the system clock when it is
    /// unset or empty.
    pub fn from_env() -> Result<Self> {
        match std::env::var("WINVENTORY_NOW") {
            Ok(v) if !v.trim().is_empty() => match DateTime::parse_from_rfc3339(v.trim()) {
                Ok(t) => Ok(Self {
                    fixed: Some(t.with_timezone(&Utc)),
                }),
                Err(_) => {
                    let shown: String = v.chars().take(40).collect();
                    bail!(
                        "WINVENTORY_NOW={shown:?} is not an RFC 3339 time such as 2026-12-02T09:00:00Z; fix it or unset it to use the system clock"
                    )
                }
            },
            _ => Ok(Self::default()),
        }
    }

    /// Now, by this clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.fixed.unwrap_or_else(Utc::now)
    }

    /// The fixed time, when the clock is fixed (the delivery worker's
    /// retry arithmetic follows it).
    pub fn fixed(&self) -> Option<DateTime<Utc>> {
        self.fixed
    }
}
