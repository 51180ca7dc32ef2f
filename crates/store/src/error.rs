#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("no space left on the data volume")]
    NoSpace,
    #[error("metadata database error: {0}")]
    Database(#[from] sqlx::Error),
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
        if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) {
            StoreError::NoSpace
        } else {
            StoreError::Io(e)
        }
    }
}
