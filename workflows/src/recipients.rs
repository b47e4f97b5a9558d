//! Who a campaign writes to about a machine (CMF format, "Owners"): the
//! responsible; where there is none, the main user; where there is neither,
//! the campaign's fallback group. Grouping by recipient is what makes one
//! digest per person instead of one message per machine.

use std::collections::BTreeMap;

use serde::Serialize;
use winventory_core::OwnerFact;

/// The addressee of a machine's question.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Recipient {
    /// A person, by login.
    Person(String),
    /// The campaign's fallback group.
    FallbackGroup(String),
}

/// The recipient for a machine with these owner facts.
pub fn recipient_for(
    responsible: Option<&OwnerFact>,
    main_user: Option<&OwnerFact>,
    fallback_group: &str,
) -> Recipient {
    responsible
        .or(main_user)
        .map(|f| Recipient::Person(f.login.clone()))
        .unwrap_or_else(|| Recipient::FallbackGroup(fallback_group.to_string()))
}

/// Group items (machines) by recipient, keeping each group in input order.
pub fn group_by_recipient<T>(
    items: impl IntoIterator<Item = T>,
    owners: impl Fn(&T) -> (Option<&OwnerFact>, Option<&OwnerFact>),
    fallback_group: &str,
) -> BTreeMap<Recipient, Vec<T>> {
    let mut out: BTreeMap<Recipient, Vec<T>> = BTreeMap::new();
    for item in items {
        let (r, u) = owners(&item);
        let to = recipient_for(r, u, fallback_group);
        out.entry(to).or_default().push(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use winventory_core::OwnerSource;

    use super::*;

    fn f(login: &str) -> OwnerFact {
        OwnerFact {
            login: login.into(),
            source: OwnerSource::Snapshot,
        }
    }

    #[test]
    fn the_responsible_comes_first_then_the_main_user_then_the_fallback_group() {
        assert_eq!(
            recipient_for(Some(&f("a")), Some(&f("b")), "it"),
            Recipient::Person("a".into())
        );
        assert_eq!(
            recipient_for(None, Some(&f("b")), "it"),
            Recipient::Person("b".into())
        );
        assert_eq!(
            recipient_for(None, None, "it"),
            Recipient::FallbackGroup("it".into())
        );
    }

    #[test]
    fn machines_of_one_person_land_in_one_digest() {
        let machines = vec![
            ("PC1", Some(f("a")), None),
            ("PC2", None, Some(f("a"))),
            ("PC3", None, None),
            ("PC4", Some(f("b")), Some(f("a"))),
        ];
        let groups = group_by_recipient(machines, |m| (m.1.as_ref(), m.2.as_ref()), "it");
        let names: Vec<(Recipient, Vec<&str>)> = groups
            .into_iter()
            .map(|(k, v)| (k, v.iter().map(|m| m.0).collect()))
            .collect();
        assert_eq!(
            names,
            [
                (Recipient::Person("a".into()), vec!["PC1", "PC2"]),
                (Recipient::Person("b".into()), vec!["PC4"]),
                (Recipient::FallbackGroup("it".into()), vec!["PC3"]),
            ]
        );
    }
}
