//! What a store operation can fail with: [`StoreError`], whose driver
//! failures are wrapped opaquely ([`DriverError`]) so that no sqlx type is
//! part of the store's interface, and the one rule that tells a failure
//! worth waiting out from one that will not heal by itself.

/// A storage failure. The message never carries the database URL's password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or opened.
    #[error("cannot open the database {url}: {source}")]
    Connect {
        /// The URL with any password masked.
        url: String,
        /// The driver's error.
        source: DriverError,
    },
    /// The URL names no supported backend.
    #[error("unsupported database URL {0}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// Migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[source] DriverError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[source] DriverError),
    /// The backend does not do this; the message says what does.
    #[error("{0}")]
    Unsupported(String),
    /// Stored data could not be decoded.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

/// The database driver's error, kept opaque: its message is its `Display`,
/// its cause its `source()`, and whether it is worth waiting out is
/// [`StoreError::is_transient`]'s to say.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DriverError(Driver);

#[derive(Debug, thiserror::Error)]
enum Driver {
    #[error(transparent)]
    Sqlx(sqlx::Error),
    #[error(transparent)]
    Migrate(sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for DriverError {
    fn from(e: sqlx::Error) -> Self {
        Self(Driver::Sqlx(e))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Query(e.into())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(DriverError(Driver::Migrate(e)))
    }
}

impl StoreError {
    /// Whether the failure is worth waiting out: the database is away for a
    /// moment (connection lost or refused, pool time-out, a server shutting
    /// down or starting, a locked or busy SQLite file, a full disk, a
    /// serialization conflict). Long-running loops wait these out with
    /// backoff and go on; anything else (bad SQL, corrupt rows, a failed
    /// migration) will not heal by itself.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Connect { source, .. } | StoreError::Query(source) => match &source.0 {
                Driver::Sqlx(e) => sqlx_transient(e),
                Driver::Migrate(_) => false,
            },
            StoreError::UnsupportedUrl(_)
            | StoreError::Migrate(_)
            | StoreError::Corrupt(_)
            | StoreError::Unsupported(_) => false,
        }
    }
}

impl StoreError {
    /// Whether a value given was text the database cannot store (a NUL
    /// character on PostgreSQL, SQLSTATE 22021 or 22P05): the asker's
    /// mistake, never worth a retry.
    pub fn is_unstorable_text(&self) -> bool {
        match self {
            StoreError::Query(DriverError(Driver::Sqlx(sqlx::Error::Database(db)))) => {
                matches!(db.code().as_deref(), Some("22021" | "22P05"))
            }
            _ => false,
        }
    }
}

/// The sqlx errors that mean "the database is not there right now".
fn sqlx_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            // PostgreSQL SQLSTATE: connection exceptions (08), insufficient
            // resources such as a full disk (53), operator intervention
            // (57P01-57P03: shutdown, crash, starting up), serialization
            // failure and deadlock (40001, 40P01).
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
                // SQLite primary result codes (extended ones keep them in
                // the low byte): BUSY 5, LOCKED 6, FULL 13, IOERR 10.
                || code
                    .parse::<i64>()
                    .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    /// A database's error with only a code, as either server reports one.
    #[derive(Debug, thiserror::Error)]
    #[error("code {0}")]
    struct Coded(&'static str);

    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn coded(code: &'static str) -> StoreError {
        sqlx::Error::Database(Box::new(Coded(code))).into()
    }

    #[test]
    fn a_database_away_for_a_moment_is_waited_out_and_a_bad_query_is_not() {
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(StoreError::from(sqlx::Error::Io(io())).is_transient());
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_transient());
        assert!(StoreError::from(sqlx::Error::PoolClosed).is_transient());
        assert!(StoreError::from(sqlx::Error::WorkerCrashed).is_transient());
        assert!(StoreError::from(sqlx::Error::Protocol("eof".into())).is_transient());
        let connect = StoreError::Connect {
            url: "postgres://u:***@h/db".into(),
            source: sqlx::Error::Io(io()).into(),
        };
        assert!(connect.is_transient());

        assert!(!StoreError::from(sqlx::Error::RowNotFound).is_transient());
        assert!(!StoreError::from(sqlx::Error::ColumnNotFound("x".into())).is_transient());
        assert!(!StoreError::Corrupt("bad".into()).is_transient());
        assert!(!StoreError::UnsupportedUrl("mysql://h".into()).is_transient());
        let migrate = sqlx::migrate::MigrateError::VersionMissing(3);
        assert!(!StoreError::from(migrate).is_transient());
    }

    #[test]
    fn server_codes_for_outages_locks_and_conflicts_are_transient_and_others_are_not() {
        // PostgreSQL: connection lost, disk full, shutting down, starting
        // up, serialization failure, deadlock.
        for code in ["08006", "53100", "57P01", "57P03", "40001", "40P01"] {
            assert!(coded(code).is_transient(), "{code}");
        }
        // SQLite: BUSY, LOCKED, IOERR, FULL, and an extended BUSY_SNAPSHOT.
        for code in ["5", "6", "10", "13", "517"] {
            assert!(coded(code).is_transient(), "{code}");
        }
        // Unique violation, syntax error, undefined table; SQLite CONSTRAINT.
        for code in ["23505", "42601", "42P01", "19", "2067"] {
            assert!(!coded(code).is_transient(), "{code}");
        }
    }

    #[test]
    fn a_store_error_reads_as_before_with_the_drivers_message() {
        let e = StoreError::from(sqlx::Error::RowNotFound);
        assert_eq!(
            e.to_string(),
            format!("database error: {}", sqlx::Error::RowNotFound)
        );
    }
}
