//! Metadata store on PostgreSQL, for deployments of several berth nodes.
//!
//! The SQLite backend gets "a transaction's checks and its writes see no
//! concurrent writer" from its one writer connection. Here every write runs
//! on the `writer` pool, whose connections default to `SERIALIZABLE`: the
//! outcome equals some serial order. A transaction that PostgreSQL aborts to
//! keep that promise (SQLSTATE 40001, or a deadlock, 40P01) is run again
//! from the start by [`retrying!`], so each method body keeps the logic of
//! its SQLite twin and is written to be re-runnable (nothing outside the
//! database happens inside it). Single-statement reads use the `reader`
//! pool at READ COMMITTED. ARCHITECTURE.md, "Scale-out: cross-node
//! protocols".
//!
//! One file per concern, each `impl <Concern>Store for PgMetadataStore`,
//! translated from `sqlite/` (same statements, `$n` placeholders,
//! PostgreSQL's functions); SQL they share lives in `sql.rs`.

pub use import::TableCount;

use crate::Result;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Runs a block that makes its own write transaction, again from the start
/// while PostgreSQL refuses it as not serializable, up to
/// [`MAX_ATTEMPTS`] times. The block is an `async` block's body: `return`
/// in it ends this attempt with that value.
macro_rules! retrying {
    ($body:block) => {{
        let mut attempt = 1u32;
        loop {
            let outcome: $crate::Result<_> = async $body.await;
            match outcome {
                Err(e) if e.is_conflict() && attempt < $crate::postgres::MAX_ATTEMPTS => {
                    $crate::postgres::backoff(attempt).await;
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}

// Declared after the macro, which they use.
mod archive;
mod blobs;
mod cluster;
mod console;
mod groups;
mod iam;
mod identity;
mod images;
mod import;
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
#[cfg(any(test, feature = "conformance"))]
pub mod testing;
mod usage;

/// Attempts of one write transaction before its serialization failure is
/// the caller's error.
pub(crate) const MAX_ATTEMPTS: u32 = 10;

/// Jittered exponential backoff between attempts: 2, 4, 8 ... ms (capped
/// at 256), each scaled by a random factor in [0.5, 1.5) so that two
/// transactions that collided do not collide again in step.
pub(crate) async fn backoff(attempt: u32) {
    let base = 2u64 << attempt.min(7);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    let micros = base * 1000 / 2 + (nanos % (base * 1000));
    tokio::time::sleep(Duration::from_micros(micros)).await;
}

pub struct PgMetadataStore {
    writer: PgPool,
    reader: PgPool,
    /// Connections that hold cluster locks and job leases (`cluster.rs`):
    /// a session advisory lock lives as long as its connection. Digest
    /// locks, GC batches and job leases use `locks`; upload-session locks
    /// (held for a whole request) `upload_locks`, so that a request holding
    /// its session's lock and waiting for a digest's never waits on a pool
    /// that session locks exhausted.
    locks: PgPool,
    upload_locks: PgPool,
    /// The one connection that listens for invalidations.
    listener: PgPool,
}

/// Settings of a connection to the metadata database.
#[derive(Clone, Debug)]
pub struct PgSettings {
    /// Connections per pool (the writer's and the reader's).
    pub max_connections: u32,
    /// Connections that can hold digest locks, GC batches and job leases
    /// at once; more wait.
    pub lock_connections: u32,
    /// Upload requests that can hold their session's lock at once (for the
    /// request's duration); more wait.
    pub upload_lock_connections: u32,
    /// How long a request waits for a free connection, or for the server to
    /// answer a connect, before the store reports it unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> Self {
        PgSettings {
            max_connections: 16,
            lock_connections: 16,
            upload_lock_connections: 32,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl PgMetadataStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/db`, or
    /// any form libpq accepts) and applies the migrations the database
    /// lacks. sqlx takes an advisory lock around them, so nodes starting at
    /// once migrate once.
    pub async fn connect(url: &str, settings: &PgSettings) -> Result<Self> {
        let base = PgConnectOptions::from_str(url)?.application_name("berth");
        // One direct connection first: an unreachable or misconfigured
        // server fails here at once with its own error, where a pool would
        // retry until its acquire timeout.
        {
            use sqlx::Connection;
            sqlx::PgConnection::connect_with(&base)
                .await?
                .close()
                .await?;
        }
        let pool = |options: PgConnectOptions| {
            PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .min_connections(1)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(options)
        };
        let writer = pool(
            base.clone()
                .options([("default_transaction_isolation", "serializable")]),
        )
        .await?;
        sqlx::migrate!("./migrations/postgres").run(&writer).await?;
        // Readers keep the server's default isolation (READ COMMITTED unless
        // the administrator changed it): each read is one statement.
        let reader = pool(base.clone()).await?;
        // Opened when first needed, and kept: every lock and lease is a
        // connection held.
        let lock_pool = |max: u32| {
            PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(settings.acquire_timeout)
                .idle_timeout(Duration::from_secs(60))
                .connect_lazy_with(base.clone())
        };
        let locks = lock_pool(settings.lock_connections);
        let upload_locks = lock_pool(settings.upload_lock_connections);
        let listener = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(base);
        Ok(PgMetadataStore {
            writer,
            reader,
            locks,
            upload_locks,
            listener,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::metadata::{RegistryKey, RepoId, RepositoryRecord, RepositoryStore, ResourceTag};
    use std::sync::Arc;

    /// Concurrent transactions that each check a count and then write
    /// would all pass the check at READ COMMITTED (write skew). SERIALIZABLE
    /// aborts all but one of each conflicting set, and `retrying!` runs them
    /// again: exactly `max` tags get in, and nobody sees an error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_checked_limit_holds_under_concurrent_writers() {
        let db = super::testing::TestDatabase::create().await;
        let store = Arc::new(db.store_with(16).await);
        let reg = RegistryKey {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
        };
        let record = RepositoryRecord {
            id: RepoId(0),
            name: "app".into(),
            created_at: 1,
            image_tag_mutability: "MUTABLE".into(),
            mutability_filters: None,
            scan_on_push: false,
            encryption_type: "AES256".into(),
            kms_key: None,
        };
        let repo = store
            .create_repository(&reg, &record, &[])
            .await
            .unwrap()
            .unwrap()
            .id;
        let (writers, max) = (48, 5);
        let tasks: Vec<_> = (0..writers)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let tag = ResourceTag {
                        key: format!("k{i}"),
                        value: "v".into(),
                    };
                    store.tag_repository(repo, &[tag], max).await
                })
            })
            .collect();
        let mut accepted = 0;
        for t in tasks {
            if t.await
                .unwrap()
                .expect("no writer sees a serialization failure")
            {
                accepted += 1;
            }
        }
        assert_eq!(accepted, max);
        assert_eq!(store.repository_tags(repo).await.unwrap().len(), max);
    }
}
