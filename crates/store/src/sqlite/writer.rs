//! The one writer connection, with group commit.
//!
//! SQLite runs with `synchronous=NORMAL`: a commit appends to the WAL
//! without an `fsync`. Every way to write here returns only after
//! [`GroupSync`] has synced the WAL file *after* the commit, so a write
//! that returned is on disk, as with `synchronous=FULL`, but concurrent
//! writers share the `fsync` instead of taking turns at one each (the
//! single-writer connection held its lock through every `fsync`, which
//! made 8 concurrent pushes no faster than 1).
//!
//! Why this is as safe as `FULL`: the WAL is append-only between
//! checkpoints and recovery replays it only up to the first frame that
//! fails its checksum, so what is durable is always a prefix of the
//! commits; any commit acknowledged was synced with everything before it.
//! Checkpoints sync the WAL before copying it and the database after
//! (SQLite does that itself in NORMAL mode), and a restarted WAL's stale
//! frames fail their salt. There is no way to write through this type
//! without the sync: it has no `Executor` and its transaction syncs in
//! `commit`.

use crate::group_sync::GroupSync;
use sqlx::sqlite::{SqliteArguments, SqlitePool, SqliteQueryResult};
use sqlx::{Sqlite, Transaction};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

pub(super) struct Writer {
    pool: SqlitePool,
    wal: GroupSync,
}

/// A write transaction; `commit` returns once it is durable. Dropped
/// without `commit`, it rolls back.
pub(super) struct WriteTx<'w> {
    tx: Transaction<'static, Sqlite>,
    writer: &'w Writer,
}

impl Writer {
    /// `pool`: one connection to the database at `db`.
    pub(super) fn new(pool: SqlitePool, db: &Path) -> Writer {
        let mut wal_path = db.as_os_str().to_owned();
        wal_path.push("-wal");
        let wal_path = PathBuf::from(wal_path);
        let wal = GroupSync::new("the metadata database's write-ahead log", move || {
            // Opened each time: SQLite deletes and recreates the file when
            // the last connection closes (then the database file holds it
            // all, synced by the checkpoint).
            match std::fs::File::open(&wal_path) {
                Ok(f) => f.sync_data(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            }
        });
        Writer { pool, wal }
    }

    pub(super) async fn begin(&self) -> sqlx::Result<WriteTx<'_>> {
        Ok(WriteTx {
            tx: self.pool.begin().await?,
            writer: self,
        })
    }

    /// Returns once every commit made so far is on disk.
    pub(super) async fn durable(&self) -> sqlx::Result<()> {
        self.wal.wait().await.map_err(sqlx::Error::Io)
    }

    /// For what needs the connection itself and no durability promise:
    /// reading back a row the caller just wrote durably, the checkpoint at
    /// close (which syncs itself), closing.
    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// `query.execute_durably(&self.writer)`: one statement in a transaction
/// of its own, returning once durable, written where `.execute(pool)`
/// would be.
pub(super) trait ExecuteDurably<'q> {
    async fn execute_durably(self, writer: &Writer) -> sqlx::Result<SqliteQueryResult>;
}

impl<'q> ExecuteDurably<'q> for sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>> {
    async fn execute_durably(self, writer: &Writer) -> sqlx::Result<SqliteQueryResult> {
        let done = self.execute(&writer.pool).await?;
        writer.durable().await?;
        Ok(done)
    }
}

impl WriteTx<'_> {
    pub(super) async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await?;
        self.writer.durable().await
    }

    pub(super) async fn rollback(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}

impl Deref for WriteTx<'_> {
    type Target = Transaction<'static, Sqlite>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl DerefMut for WriteTx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}
