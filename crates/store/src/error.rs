#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("no space left on the data volume")]
    NoSpace,
    #[error("metadata database error: {0}")]
    Database(sqlx::Error),
    #[error("metadata migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("upload session {0} does not exist")]
    UploadNotFound(String),
    /// A shared store cannot be reached, or dropped the connection (a
    /// PostgreSQL restart, a network cut, every connection busy for the
    /// acquire timeout): nothing was written, and a retry may succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

/// A sealed object that does not open is an I/O error of kind
/// `InvalidData`, naming the object and what failed.
impl From<crate::sealed::SealError> for StoreError {
    fn from(e: crate::sealed::SealError) -> Self {
        StoreError::Io(e.into())
    }
}

impl StoreError {
    /// I/O errors that mean "the disk is full" get their own variant so that
    /// the API can say so plainly.
    pub fn from_io(e: std::io::Error) -> StoreError {
        if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(libc::ENOSPC) {
            StoreError::NoSpace
        } else {
            StoreError::Io(e)
        }
    }
}

/// SQLite's "database or disk is full" (`SQLITE_FULL`), which its Unix VFS
/// answers when a write meets `ENOSPC`.
const SQLITE_FULL: &str = "13";

/// PostgreSQL's SQLSTATEs for a connection that failed or a server going
/// away: class 08 (connection exception) and 57P01-57P03 (admin shutdown,
/// crash shutdown, cannot connect now).
fn connection_lost(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

impl From<sqlx::Error> for StoreError {
    /// A full disk under the database is `NoSpace`, as it is under blobs.
    fn from(e: sqlx::Error) -> StoreError {
        match &e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some(SQLITE_FULL) => {
                StoreError::NoSpace
            }
            sqlx::Error::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => StoreError::NoSpace,
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Database(db) if db.code().as_deref().is_some_and(connection_lost) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Database(e),
        }
    }
}

impl StoreError {
    /// The database aborted the transaction to keep it serializable, or to
    /// break a deadlock (SQLSTATE 40001, 40P01: PostgreSQL's; SQLite, with
    /// one writer, never does): running it again is the remedy (`retrying!`
    /// did, up to its limit, before the caller sees one).
    pub fn is_conflict(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40001") | Some("40P01"))
            }
            _ => false,
        }
    }
}
