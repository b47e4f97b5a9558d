//! What the reports' queries need beside their SQL: the window's upper
//! bound as stored, counts minus the uncounted, and the lists the database
//! aggregates into one string (decoding a row through sqlx costs about a
//! microsecond; 700,000 installs come back as a few strings).

use std::collections::HashMap;

use crate::domain::Window;
use crate::store::{Result, StoreError, to_micros};

/// The window's upper bound as stored: no bound is the largest time.
pub(super) fn before_micros(window: Window) -> i64 {
    window.before.map(to_micros).unwrap_or(i64::MAX)
}

/// Subtract `stale` counts from `total` counts, dropping keys left at zero.
pub(super) fn minus<K: std::hash::Hash + Eq + Ord + Clone>(
    total: Vec<(K, i64)>,
    stale: Vec<(K, i64)>,
) -> Vec<(K, i64)> {
    let stale: HashMap<K, i64> = stale.into_iter().collect();
    let mut out: Vec<(K, i64)> = total
        .into_iter()
        .map(|(k, n)| {
            let s = stale.get(&k).copied().unwrap_or(0);
            (k, n - s)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    out.sort();
    out
}

/// A machine id from a list the database aggregated.
pub(super) fn parse_id(s: &str) -> Result<i64> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("machine id {s:?} in an aggregated list")))
}

/// `1,2,3` -> ids.
pub(super) fn parse_ids(list: &str) -> Result<rustc_hash::FxHashSet<i64>> {
    list.split(',')
        .filter(|x| !x.is_empty())
        .map(parse_id)
        .collect()
}

/// `1:1700000000000000,2:` -> (machine id, last use).
pub(super) fn parse_installs(list: &str) -> Result<Vec<(i64, Option<i64>)>> {
    list.split(',')
        .filter(|x| !x.is_empty())
        .map(|pair| {
            let (id, used) = pair.split_once(':').unwrap_or((pair, ""));
            let used = if used.is_empty() {
                None
            } else {
                Some(parse_id(used)?)
            };
            Ok((parse_id(id)?, used))
        })
        .collect()
}
