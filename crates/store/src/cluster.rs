//! What the nodes of one deployment share beyond records: locks, job
//! leases, cache invalidations and the server key's fingerprint
//! (ARCHITECTURE.md, "Scale-out: cross-node protocols").
//!
//! [`LocalCluster`] is the single node of an embedded deployment: no lock
//! beyond the registry's in-process ones, jobs timed in memory, nothing to
//! invalidate. `PgMetadataStore` is the cluster of nodes sharing its
//! database.

use crate::{RegistryKey, RepoId, Result};
use async_trait::async_trait;
use berth_oci::Digest;
use std::collections::HashMap;
use std::sync::Mutex;

/// The cluster lock a job's lease holds: `Cluster::lock` on it waits for
/// the job's run to end and keeps the job from starting meanwhile.
pub fn job_lock_key(name: &str) -> String {
    format!("j:{name}")
}

/// Held while a cluster lock or a job lease is; dropping it releases it.
#[must_use = "the lock is released when the guard is dropped"]
pub struct ClusterGuard(Option<Box<dyn HeldLock>>);

/// What a backend holds for a `ClusterGuard`.
#[async_trait]
pub(crate) trait HeldLock: Send + Sync {
    /// Ok while the lock is still held.
    async fn confirm(&mut self) -> Result<()>;
}

impl ClusterGuard {
    /// A guard that holds nothing beyond this process (one node).
    pub fn local() -> Self {
        ClusterGuard(None)
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn holding(inner: Box<dyn HeldLock>) -> Self {
        ClusterGuard(Some(inner))
    }

    /// Ok if the lock is still held; `StoreError::Unavailable` if it was
    /// lost (PostgreSQL restarted, or the connection holding it broke),
    /// when another node may hold it now. Checked before an irreversible
    /// step that the lock orders against other nodes: GC before it deletes
    /// bytes, an upload before it links its blob (ARCHITECTURE.md,
    /// "Scale-out: cross-node protocols").
    pub async fn confirm(&mut self) -> Result<()> {
        match &mut self.0 {
            Some(held) => held.confirm().await,
            None => Ok(()),
        }
    }
}

/// A change committed by some node that caches on every node may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalidation {
    /// A tag was created, moved or removed.
    Tag { repo: RepoId, tag: String },
    /// A manifest was deleted or changed storage class.
    Manifest { repo: RepoId, digest: Digest },
    /// A repository's link to a blob was removed.
    Link { repo: RepoId, digest: Digest },
    /// A repository was deleted.
    Repository { registry: RegistryKey, name: String },
    /// A policy, user, access key or repository policy changed.
    Identity,
    /// An account setting changed.
    Settings,
    /// A registry scanning configuration changed.
    ScanningConfig,
    /// The vulnerability database changed.
    VulnDb,
    /// Nothing changed: a node's proof that notifications still arrive
    /// (`Cluster::heartbeat`).
    Heartbeat,
}

/// A subscription to the invalidations every node commits, this one's
/// included.
#[async_trait]
pub trait InvalidationFeed: Send {
    /// The next invalidation; an error when the subscription is lost
    /// (notifications sent meanwhile are lost with it).
    async fn next(&mut self) -> Result<Invalidation>;
}

#[async_trait]
pub trait Cluster: Send + Sync {
    /// False for a single node: locks are in-process only, nothing is
    /// invalidated from elsewhere.
    fn is_shared(&self) -> bool;

    /// Waits for the cluster-wide lock on `key` (`d:<digest>`, `u:<id>`).
    /// A dead node's locks are released.
    async fn lock(&self, key: &str) -> Result<ClusterGuard> {
        self.lock_all(&[key]).await
    }

    /// Waits for the locks on all `keys`, taken in the order given (callers
    /// that take several sort them, so that two never deadlock), held and
    /// released together (GC's batches: one connection, not one per key).
    async fn lock_all(&self, keys: &[&str]) -> Result<ClusterGuard>;

    /// Starts the job `name` if no node runs it and its last start is at
    /// least `interval_ms` before `now`: the lease, held while it runs.
    /// The first call for a job only records `now` as its start, so a job
    /// first runs one interval after the deployment first ticked it.
    async fn try_start_job(
        &self,
        name: &str,
        interval_ms: i64,
        now: i64,
    ) -> Result<Option<ClusterGuard>>;

    /// Subscribes to invalidations.
    async fn subscribe(&self) -> Result<Box<dyn InvalidationFeed>>;

    /// Sends an `Invalidation::Heartbeat` to every subscriber: a node that
    /// hears none for a while has lost its subscription without being told
    /// (a connection dropped silently by the network).
    async fn heartbeat(&self) -> Result<()> {
        Ok(())
    }

    /// How many serving nodes are connected now, as far as the store can
    /// tell (an offline tool that needs every node stopped refuses
    /// otherwise). None for a single node, which its data dir's lock
    /// guards instead.
    async fn serving_nodes(&self) -> Result<u64> {
        Ok(0)
    }

    /// Records `fingerprint` as the deployment's server key if none is
    /// recorded; false if another is.
    async fn same_server_key(&self, fingerprint: &str) -> Result<bool>;
}

/// One node on its own: jobs are timed in memory.
#[derive(Default)]
pub struct LocalCluster {
    jobs: Mutex<HashMap<String, i64>>,
}

#[async_trait]
impl Cluster for LocalCluster {
    fn is_shared(&self) -> bool {
        false
    }

    async fn lock_all(&self, _keys: &[&str]) -> Result<ClusterGuard> {
        Ok(ClusterGuard::local())
    }

    async fn try_start_job(
        &self,
        name: &str,
        interval_ms: i64,
        now: i64,
    ) -> Result<Option<ClusterGuard>> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match jobs.get_mut(name) {
            None => {
                jobs.insert(name.to_string(), now);
                Ok(None)
            }
            Some(last) if now - *last >= interval_ms => {
                *last = now;
                Ok(Some(ClusterGuard::local()))
            }
            Some(_) => Ok(None),
        }
    }

    async fn subscribe(&self) -> Result<Box<dyn InvalidationFeed>> {
        Err(crate::StoreError::Unavailable(
            "a single node has no invalidations to follow".into(),
        ))
    }

    async fn same_server_key(&self, _fingerprint: &str) -> Result<bool> {
        Ok(true)
    }
}

/// The payload format of `pg_notify('berth_invalidate', ...)`, written by
/// the triggers of `migrations/postgres/0002_cluster.sql`: a kind letter
/// and tab-separated fields (names, tags and digests hold no tab).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn parse_invalidation(payload: &str) -> Option<Invalidation> {
    let mut f = payload.split('\t');
    let kind = f.next()?;
    let repo = |s: Option<&str>| s?.parse::<i64>().ok().map(RepoId);
    let digest = |s: Option<&str>| s?.parse::<Digest>().ok();
    Some(match kind {
        "t" => Invalidation::Tag {
            repo: repo(f.next())?,
            tag: f.next()?.to_string(),
        },
        "m" => Invalidation::Manifest {
            repo: repo(f.next())?,
            digest: digest(f.next())?,
        },
        "b" => Invalidation::Link {
            repo: repo(f.next())?,
            digest: digest(f.next())?,
        },
        "r" => Invalidation::Repository {
            registry: RegistryKey {
                account_id: f.next()?.to_string(),
                region: f.next()?.to_string(),
            },
            name: f.next()?.to_string(),
        },
        "i" => Invalidation::Identity,
        "s" => Invalidation::Settings,
        "c" => Invalidation::ScanningConfig,
        "v" => Invalidation::VulnDb,
        "h" => Invalidation::Heartbeat,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_and_garbage_does_not() {
        let d = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert_eq!(
            parse_invalidation("t\t7\tv1.0"),
            Some(Invalidation::Tag {
                repo: RepoId(7),
                tag: "v1.0".into()
            })
        );
        assert_eq!(
            parse_invalidation(&format!("b\t7\t{d}")),
            Some(Invalidation::Link {
                repo: RepoId(7),
                digest: d.parse().unwrap()
            })
        );
        assert_eq!(
            parse_invalidation("r\t123456789012\tus-east-1\tteam/app"),
            Some(Invalidation::Repository {
                registry: RegistryKey {
                    account_id: "123456789012".into(),
                    region: "us-east-1".into()
                },
                name: "team/app".into()
            })
        );
        assert_eq!(parse_invalidation("i"), Some(Invalidation::Identity));
        for bad in ["", "x", "t\tseven\tv1", "m\t7\tnot-a-digest", "r\t1\t2"] {
            assert_eq!(parse_invalidation(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_local_job_first_waits_one_interval() {
        let c = LocalCluster::default();
        assert!(c.try_start_job("gc", 100, 1_000).await.unwrap().is_none());
        assert!(c.try_start_job("gc", 100, 1_050).await.unwrap().is_none());
        assert!(c.try_start_job("gc", 100, 1_100).await.unwrap().is_some());
        assert!(c.try_start_job("gc", 100, 1_150).await.unwrap().is_none());
    }
}
