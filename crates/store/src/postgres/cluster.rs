//! The nodes sharing one database as a cluster: locks and job leases are
//! session advisory locks (a dead node's connections close and PostgreSQL
//! releases them), invalidations arrive by `LISTEN berth_invalidate`
//! (the triggers of `0002_cluster.sql` send them inside each writing
//! transaction). ARCHITECTURE.md, "Scale-out: cross-node protocols".

use super::PgMetadataStore;
use crate::cluster::{
    parse_invalidation, Cluster, ClusterGuard, HeldLock, Invalidation, InvalidationFeed,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgListener;
use sqlx::Postgres;

/// The channel the triggers notify.
const CHANNEL: &str = "berth_invalidate";

/// Advisory locks held on a connection of the lock pool (that connection
/// holds nothing else). Dropping it unlocks them all in the background and
/// returns the connection; if the unlock fails the connection is closed,
/// which releases them as surely.
struct AdvisoryLock {
    conn: Option<PoolConnection<Postgres>>,
}

const UNLOCK_ALL: &str = "SELECT pg_advisory_unlock_all()";

impl AdvisoryLock {
    /// Unlocks now (a `try` by another node right after must not find it
    /// still held, as it could after a drop's background unlock).
    async fn release(mut self) -> Result<()> {
        if let Some(mut conn) = self.conn.take() {
            if let Err(e) = sqlx::query(UNLOCK_ALL).execute(&mut *conn).await {
                let _ = conn.close().await;
                return Err(e.into());
            }
        }
        Ok(())
    }
}

#[async_trait]
impl HeldLock for AdvisoryLock {
    /// A session's advisory locks last as long as the session: the
    /// connection still answering proves them held.
    async fn confirm(&mut self) -> Result<()> {
        let lost = |why: String| {
            StoreError::Unavailable(format!(
                "the connection holding a cluster lock was lost ({why}); another node may hold the lock now"
            ))
        };
        let Some(conn) = self.conn.as_mut() else {
            return Err(lost("released".into()));
        };
        sqlx::query("SELECT 1")
            .execute(&mut **conn)
            .await
            .map(|_| ())
            .map_err(|e| lost(e.to_string()))
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if sqlx::query(UNLOCK_ALL).execute(&mut *conn).await.is_err() {
                        let _ = conn.close().await;
                    }
                });
            }
            // No runtime left (shutdown): closing the socket releases them.
            Err(_) => drop(conn.detach()),
        }
    }
}

#[async_trait]
impl Cluster for PgMetadataStore {
    fn is_shared(&self) -> bool {
        true
    }

    async fn lock_all(&self, keys: &[&str]) -> Result<ClusterGuard> {
        let pool = match keys.first() {
            Some(k) if k.starts_with("u:") => &self.upload_locks,
            _ => &self.locks,
        };
        let conn = pool.acquire().await?;
        // Owned from here: an error or a cancelled wait unlocks what was taken.
        let mut held = AdvisoryLock { conn: Some(conn) };
        for key in keys {
            // A 64-bit hash of the key: a collision only makes two keys
            // wait for each other.
            sqlx::query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(&mut **held.conn.as_mut().expect("set above"))
                .await?;
        }
        Ok(ClusterGuard::holding(Box::new(held)))
    }

    async fn try_start_job(
        &self,
        name: &str,
        interval_ms: i64,
        now: i64,
    ) -> Result<Option<ClusterGuard>> {
        let key = crate::cluster::job_lock_key(name);
        let mut conn = self.locks.acquire().await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(&key)
            .fetch_one(&mut *conn)
            .await?;
        if !got {
            return Ok(None);
        }
        let lease = AdvisoryLock { conn: Some(conn) };
        // Under the job's lock no other node reads or writes its row.
        let last: Option<i64> =
            sqlx::query_scalar("SELECT started_at FROM job_runs WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.reader)
                .await?;
        let due = last.is_some_and(|last| now - last >= interval_ms);
        if last.is_none() || due {
            sqlx::query(
                "INSERT INTO job_runs (name, started_at) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET started_at = EXCLUDED.started_at",
            )
            .bind(name)
            .bind(now)
            .execute(&self.reader)
            .await?;
        }
        if due {
            Ok(Some(ClusterGuard::holding(Box::new(lease))))
        } else {
            lease.release().await?;
            Ok(None)
        }
    }

    async fn subscribe(&self) -> Result<Box<dyn InvalidationFeed>> {
        let mut listener = PgListener::connect_with(&self.listener).await?;
        listener.listen(CHANNEL).await?;
        Ok(Box::new(Feed { listener }))
    }

    async fn heartbeat(&self) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, 'h')")
            .bind(CHANNEL)
            .execute(&self.reader)
            .await?;
        Ok(())
    }

    /// Every serving node holds a connection listening on the channel
    /// (`subscribe`), whose last statement stays that `LISTEN`; offline
    /// tools never subscribe. Sessions of other database roles show no
    /// statement to a role that is not a superuser or `pg_read_all_stats`,
    /// so nodes must connect as the same role, as they do by default.
    async fn serving_nodes(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN %' AND query LIKE $1",
        )
        .bind(format!("%{CHANNEL}%"))
        .fetch_one(&self.reader)
        .await?;
        Ok(n.max(0) as u64)
    }

    async fn same_server_key(&self, fingerprint: &str) -> Result<bool> {
        sqlx::query(
            "INSERT INTO cluster_facts (name, value) VALUES ('server_key', $1) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(fingerprint)
        .execute(&self.reader)
        .await?;
        let recorded: String =
            sqlx::query_scalar("SELECT value FROM cluster_facts WHERE name = 'server_key'")
                .fetch_one(&self.reader)
                .await?;
        Ok(recorded == fingerprint)
    }
}

struct Feed {
    listener: PgListener,
}

#[async_trait]
impl InvalidationFeed for Feed {
    async fn next(&mut self) -> Result<Invalidation> {
        loop {
            // `try_recv` answers None when the connection was lost (and
            // would reconnect on the next call, silently past the gap):
            // the caller must learn of the gap, so it is an error here.
            match self.listener.try_recv().await? {
                None => {
                    return Err(StoreError::Unavailable(
                        "the metadata store's notification connection was lost".into(),
                    ))
                }
                Some(n) => match parse_invalidation(n.payload()) {
                    Some(inv) => return Ok(inv),
                    None => tracing::warn!(
                        payload = n.payload(),
                        "ignored an invalidation this node does not understand (a newer node's?)"
                    ),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cluster::{Cluster, Invalidation};
    use crate::metadata::{
        RegistryKey, RepoId, RepositoryRecord, RepositoryStore, ResourcePolicyStore,
    };
    use std::time::Duration;

    #[tokio::test]
    async fn a_lock_excludes_other_nodes_until_dropped() {
        let db = super::super::testing::TestDatabase::create().await;
        let (a, b) = (db.store().await, db.store().await);
        let held = a.lock("d:sha256:x").await.unwrap();
        let waiting = tokio::spawn(async move {
            let _g = b.lock("d:sha256:x").await.unwrap();
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "the second node waits");
        drop(held);
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("released on drop")
            .unwrap();
    }

    /// A lock whose connection PostgreSQL closed (a restart, a broken
    /// network) is released there while its guard lives on: `confirm` says
    /// so, and another node can take it.
    #[tokio::test]
    async fn a_lock_lost_with_its_connection_is_not_confirmed() {
        let db = super::super::testing::TestDatabase::create().await;
        let (a, b) = (db.store().await, db.store().await);
        let mut held = a.lock("d:sha256:lost").await.unwrap();
        held.confirm().await.unwrap();
        let killed: i64 = sqlx::query_scalar(
            "SELECT COUNT(pg_terminate_backend(l.pid)) FROM pg_locks l
             JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND d.datname = current_database()",
        )
        .fetch_one(&b.reader)
        .await
        .unwrap();
        assert_eq!(killed, 1);
        let err = held.confirm().await.unwrap_err();
        assert!(
            err.to_string().contains("another node may hold the lock"),
            "{err}"
        );
        let _taken = tokio::time::timeout(Duration::from_secs(10), b.lock("d:sha256:lost"))
            .await
            .expect("released by PostgreSQL")
            .unwrap();
    }

    #[tokio::test]
    async fn a_job_runs_on_one_node_once_per_interval() {
        let db = super::super::testing::TestDatabase::create().await;
        let (a, b) = (db.store().await, db.store().await);
        assert!(
            a.try_start_job("gc", 1000, 10_000).await.unwrap().is_none(),
            "first sight only records"
        );
        assert!(
            b.try_start_job("gc", 1000, 10_500).await.unwrap().is_none(),
            "not yet due"
        );
        let lease = a.try_start_job("gc", 1000, 11_000).await.unwrap();
        assert!(lease.is_some(), "due");
        assert!(
            b.try_start_job("gc", 1000, 13_000).await.unwrap().is_none(),
            "a runs it"
        );
        drop(lease);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            b.try_start_job("gc", 1000, 11_500).await.unwrap().is_none(),
            "ran 0.5 s ago"
        );
        assert!(
            b.try_start_job("gc", 1000, 12_000).await.unwrap().is_some(),
            "due again"
        );
    }

    #[tokio::test]
    async fn every_node_hears_committed_changes_and_only_those() {
        let db = super::super::testing::TestDatabase::create().await;
        let (a, b) = (db.store().await, db.store().await);
        let mut feed = b.subscribe().await.unwrap();
        let reg = RegistryKey {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
        };
        let record = RepositoryRecord {
            id: RepoId(0),
            name: "team/app".into(),
            created_at: 1,
            image_tag_mutability: "MUTABLE".into(),
            mutability_filters: None,
            scan_on_push: false,
            encryption_type: "AES256".into(),
            kms_key: None,
        };
        a.heartbeat().await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, Invalidation::Heartbeat);
        a.create_repository(&reg, &record, &[]).await.unwrap();
        a.set_repository_policy(&reg, "team/app", Some("{}"))
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, Invalidation::Identity, "a policy change");
        a.delete_repository(&reg, "team/app", true).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            got,
            Invalidation::Repository {
                registry: reg.clone(),
                name: "team/app".into()
            }
        );
    }

    #[tokio::test]
    async fn a_second_server_key_is_refused() {
        let db = super::super::testing::TestDatabase::create().await;
        let (a, b) = (db.store().await, db.store().await);
        assert!(a.same_server_key("k1").await.unwrap());
        assert!(b.same_server_key("k1").await.unwrap());
        assert!(!b.same_server_key("k2").await.unwrap());
    }
}
