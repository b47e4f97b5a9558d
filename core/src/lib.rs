//! # winventory-core
//!
//! The inventory library every other Winventory crate stands on. It owns:
//!
//! - [`domain`]: the types of the inventory (machines, OS facts, software,
//!   owners, users) and the time rules (as-of, freshness, end of life), all
//!   free of I/O;
//! - [`catalog`]: the lifecycle catalog (endoflife.date's facts shipped with
//!   the binary, overlaid by a refresh and a site file) and the matching of an
//!   OS or a software title to a product and release cycle;
//! - [`report`] and [`fleet`]: the reports, and the machines behind each of
//!   their counts;
//! - [`access`]: the roles, the permission table between roles and what
//!   can be asked, and the mapping of groups to roles (no I/O);
//! - [`store`]: the [`store::Store`] trait and its two implementations, SQLite
//!   (the embedded default) and PostgreSQL, chosen once from the database URL.
//!
//! Nothing here reads `../shared` or the network: the catalog data is compiled
//! in from `core/data/` (see `core/data/ATTRIBUTION.md`).

pub mod access;
pub mod catalog;
pub mod domain;
pub mod fleet;
pub mod licence;
pub mod report;
pub mod store;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;

pub use catalog::Catalog;
pub use domain::*;
pub use store::{Store, StoreError, connect};
