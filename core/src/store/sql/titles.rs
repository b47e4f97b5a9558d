//! The software titles a process keeps in memory. A machine's software list
//! is stored as title ids (`software_lists.entries`); turning 150 ids into
//! names, versions and matches in the database cost PostgreSQL about a
//! millisecond of CPU per machine read (150 look-ups by key and the JSON
//! parse of a lateral join), which capped the API's machine reads on two
//! cores well under 1,000 a second. The titles are few (thousands at a
//! site, against millions of installations), each id's name, version and
//! publisher never change, and only a rematch changes their matches: so
//! each id is read once, kept here, and dropped when the store's
//! `title_revision` (read in the same statement as the list, so never stale)
//! has moved.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::store::TitleRow;

/// Titles kept beyond this many are dropped all at once (a site has a few
/// thousand to a few hundred thousand; this bounds a pathological one).
const MOST_KEPT: usize = 1_000_000;

/// Titles by id, valid for one `title_revision`.
#[derive(Debug, Default)]
pub(super) struct TitleCache {
    inner: RwLock<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    revision: i64,
    titles: HashMap<i64, Arc<TitleRow>>,
}

/// What the cache holds of a list of ids.
pub(super) struct Lookup {
    /// The titles found, by id.
    pub found: HashMap<i64, Arc<TitleRow>>,
    /// The ids to read from the database (each once).
    pub missing: Vec<i64>,
}

impl TitleCache {
    /// Look up `ids` as of `revision` (the `title_revision` read with them).
    /// A newer revision than the one kept drops everything kept first; an
    /// older one (a reader whose statement ran before a rematch committed)
    /// finds nothing, so it reads its titles as its own snapshot had them.
    pub fn lookup(&self, revision: i64, ids: impl IntoIterator<Item = i64>) -> Lookup {
        if self.read_revision() < revision
            && let Ok(mut kept) = self.inner.write()
            && kept.revision < revision
        {
            kept.revision = revision;
            kept.titles.clear();
        }
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        let mut asked = std::collections::HashSet::new();
        let kept = self.inner.read().ok();
        let current = kept.as_ref().filter(|k| k.revision == revision);
        for id in ids {
            if !asked.insert(id) {
                continue;
            }
            match current.and_then(|k| k.titles.get(&id)) {
                Some(t) => {
                    found.insert(id, t.clone());
                }
                None => missing.push(id),
            }
        }
        Lookup { found, missing }
    }

    /// Keep `titles`, read from the database after `revision` was: only if
    /// that is still the revision kept (a rematch since may have changed
    /// them, and the next reader will know by the revision).
    pub fn keep(&self, revision: i64, titles: impl IntoIterator<Item = Arc<TitleRow>>) {
        let Ok(mut kept) = self.inner.write() else {
            return;
        };
        if kept.revision != revision {
            return;
        }
        if kept.titles.len() >= MOST_KEPT {
            kept.titles.clear();
        }
        for t in titles {
            kept.titles.insert(t.id, t);
        }
    }

    /// How many titles are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.read().map(|k| k.titles.len()).unwrap_or(0)
    }

    fn read_revision(&self) -> i64 {
        self.inner.read().map(|k| k.revision).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn title(id: i64, name: &str) -> Arc<TitleRow> {
        Arc::new(TitleRow {
            id,
            name: name.into(),
            version: "1".into(),
            publisher: "P".into(),
            cycle: None,
            application: None,
        })
    }

    #[test]
    fn titles_kept_at_a_revision_are_found_and_the_rest_are_asked_for_once() {
        let cache = TitleCache::default();
        let first = cache.lookup(0, [1, 2, 1]);
        assert!(first.found.is_empty());
        assert_eq!(first.missing, [1, 2], "each id asked for once");
        cache.keep(0, [title(1, "a"), title(2, "b")]);
        let again = cache.lookup(0, [2, 3, 1]);
        assert_eq!(again.found.len(), 2);
        assert_eq!(again.found[&2].name, "b");
        assert_eq!(again.missing, [3]);
    }

    #[test]
    fn a_newer_revision_drops_what_was_kept() {
        let cache = TitleCache::default();
        cache.keep(0, [title(1, "a")]);
        assert_eq!(cache.len(), 1);
        let after = cache.lookup(1, [1]);
        assert_eq!(after.missing, [1], "a rematch may have changed it");
        assert_eq!(cache.len(), 0);
        cache.keep(1, [title(1, "a2")]);
        assert_eq!(cache.lookup(1, [1]).found[&1].name, "a2");
    }

    #[test]
    fn a_reader_behind_the_kept_revision_neither_uses_nor_fills_the_cache() {
        let cache = TitleCache::default();
        cache.keep(0, [title(1, "old")]);
        assert_eq!(cache.lookup(2, [1]).missing, [1]);
        cache.keep(2, [title(1, "new")]);
        // A statement that ran before the revision moved.
        let behind = cache.lookup(1, [1]);
        assert_eq!(
            behind.missing,
            [1],
            "its snapshot's titles, not the newer ones"
        );
        cache.keep(1, [title(1, "older")]);
        assert_eq!(cache.lookup(2, [1]).found[&1].name, "new");
    }
}
