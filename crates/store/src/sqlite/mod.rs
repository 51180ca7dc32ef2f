//! Metadata store on SQLite (WAL; a transaction that returned is on disk,
//! through the group commit of `writer.rs`).
//!
//! One writer connection serialises every write transaction, so a
//! transaction's checks and its writes see no concurrent writer; a pool of
//! read-only connections serves reads, which WAL lets run beside the writer.
//!
//! One file per concern, each `impl <Concern>Store for SqliteMetadataStore`;
//! SQL they share lives in `sql.rs`, below all of them.

mod archive;
mod blobs;
mod console;
mod groups;
mod iam;
mod identity;
mod images;
mod kms;
mod lifecycle;
mod maintenance;
mod policies;
mod public;
mod replication;
mod repositories;
mod roles;
mod scanning;
mod sql;
mod usage;
mod writer;

use crate::{Result, StoreError};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

pub struct SqliteMetadataStore {
    writer: writer::Writer,
    reader: SqlitePool,
}

impl SqliteMetadataStore {
    /// Opens (creating and migrating if needed) the database at `path`.
    ///
    /// A new database file is created empty with mode 0600 before SQLite
    /// opens it (an empty file is an empty database), and SQLite creates
    /// the `-wal` and `-shm` files with the main file's mode, so all three
    /// are the owner's only whatever the umask. Existing files are left as
    /// they are (`berth fsck` reports looser modes; `--repair` tightens).
    pub async fn open(path: &Path) -> Result<Self> {
        {
            use std::os::unix::fs::OpenOptionsExt;
            let p = path.to_path_buf();
            tokio::task::spawn_blocking(move || {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(crate::blob::PRIVATE_FILE)
                    .open(&p)
                {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
            .map_err(StoreError::from_io)?;
        }
        let base = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // 512 KiB of page cache per connection (a quarter of SQLite's
            // default); the OS caches the file too. Listings of 10,000 tags
            // and of 10,000 repositories measured as fast with 512 KiB as
            // with 16 MiB, and every MiB here is resident per connection.
            .pragma("cache_size", "-512");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(base.clone().create_if_missing(true))
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let writer = writer::Writer::new(writer, path);
        writer.durable().await?;
        let readers = std::thread::available_parallelism()
            .map(|n| n.get() as u32 * 2)
            .unwrap_or(4)
            .max(4);
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(base.read_only(true))
            .await?;
        Ok(SqliteMetadataStore { writer, reader })
    }
}
