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
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
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

impl From<sqlx::Error> for StoreError {
    /// A full disk under the database is `NoSpace`, as it is under blobs.
    fn from(e: sqlx::Error) -> StoreError {
        match &e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some(SQLITE_FULL) => {
                StoreError::NoSpace
            }
            sqlx::Error::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => StoreError::NoSpace,
            _ => StoreError::Database(e),
        }
    }
}
