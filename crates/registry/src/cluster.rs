//! The registry as one node of several (ARCHITECTURE.md, "Scale-out:
//! cross-node protocols"): its digest and upload locks span the cluster,
//! its caches follow every node's committed changes and are off while it
//! cannot hear them, background jobs run under leases, and all nodes share
//! one server key.

use crate::{Registry, Result};
use berth_store::{Cluster, ClusterGuard, Invalidation};
use std::sync::Arc;
use std::time::Duration;

/// How long a node waits before listening again after losing its
/// notification connection (its caches stay off meanwhile).
const RELISTEN_AFTER: Duration = Duration::from_secs(1);
/// How often each node sends a heartbeat through the notification channel.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// Silence after which a node takes its subscription for lost (a
/// connection the network dropped without a reset never errors): several
/// heartbeats, its own included, would have arrived.
const SILENCE_LIMIT: Duration = Duration::from_secs(20);

impl Registry {
    /// Makes this registry a node of `cluster`. On a shared cluster the
    /// caches stay off until `follow_cluster` listens.
    pub fn with_cluster(mut self, cluster: Arc<dyn Cluster>) -> Self {
        self.digest_locks = crate::locks::KeyedLocks::spanning(&cluster, "d:");
        self.upload_locks = crate::locks::KeyedLocks::spanning(&cluster, "u:");
        self.work_locks = crate::locks::KeyedLocks::spanning(&cluster, "w:");
        if cluster.is_shared() {
            self.set_caches_enabled(false);
        }
        self.cluster = cluster;
        self
    }

    /// Whether other nodes share this registry's stores.
    pub fn is_clustered(&self) -> bool {
        self.cluster.is_shared()
    }

    /// Follows the other nodes' changes for as long as it runs (spawn it):
    /// listens, turns the caches on, applies each invalidation; on a lost
    /// connection turns them off and listens again.
    pub async fn follow_cluster(self: Arc<Self>) {
        if !self.cluster.is_shared() {
            return;
        }
        let beat = {
            let cluster = self.cluster.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
                loop {
                    tick.tick().await;
                    // A failure shows as silence on the feed.
                    let _ = cluster.heartbeat().await;
                }
            })
        };
        let _stop_beat = AbortOnDrop(beat);
        let mut warned = false;
        loop {
            match self.cluster.subscribe().await {
                Ok(mut feed) => {
                    self.set_caches_enabled(true);
                    if warned {
                        tracing::info!("listening for other nodes' changes again; caches on");
                    }
                    loop {
                        let lost = match tokio::time::timeout(SILENCE_LIMIT, feed.next()).await {
                            Ok(Ok(inv)) => {
                                self.apply(inv);
                                continue;
                            }
                            Ok(Err(e)) => e.to_string(),
                            Err(_) => format!(
                                "no notification, not even a heartbeat, for {SILENCE_LIMIT:?}"
                            ),
                        };
                        self.set_caches_enabled(false);
                        tracing::warn!(error = %lost, "stopped hearing other nodes' changes; caches off until listening again");
                        warned = true;
                        break;
                    }
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(error = %e, "cannot listen for other nodes' changes; caches off until it can");
                        warned = true;
                    }
                }
            }
            tokio::time::sleep(RELISTEN_AFTER).await;
        }
    }

    fn set_caches_enabled(&self, enabled: bool) {
        self.cache.set_enabled(enabled);
        self.identity.set_caches_enabled(enabled);
        self.settings.set_enabled(enabled);
        self.scanning.set_caches_enabled(enabled);
    }

    /// Drops what a committed change (by any node) made stale.
    fn apply(&self, inv: Invalidation) {
        match inv {
            Invalidation::Tag { repo, tag } => self.cache.invalidate(repo, &[tag], &[]),
            Invalidation::Manifest { repo, digest } => self.cache.invalidate(repo, &[], &[&digest]),
            Invalidation::Link { repo, digest } => self.cache.invalidate_blob(repo, &digest),
            Invalidation::Repository { registry, name } => {
                self.cache.invalidate_repository(&registry, &name);
                self.identity.policies_changed();
            }
            Invalidation::Identity => self.identity.forget_user(),
            Invalidation::Settings => {
                self.settings.forget();
                self.identity.policies_changed();
            }
            Invalidation::ScanningConfig => self.scanning.forget_configs(),
            Invalidation::VulnDb => self.scanning.forget_records(),
            Invalidation::Heartbeat => {}
        }
    }

    /// Starts the background job `name` if it is due on this deployment:
    /// at most one node runs it, once per `every` (the first tick only
    /// starts the clock). Hold the lease while the job runs.
    pub async fn start_job(&self, name: &str, every: Duration) -> Result<Option<ClusterGuard>> {
        let every = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        Ok(self.cluster.try_start_job(name, every, self.now()).await?)
    }

    /// Whether every node of the deployment uses this node's server key (the
    /// first node to ask records its fingerprint).
    pub async fn server_key_matches(&self) -> Result<bool> {
        Ok(self
            .cluster
            .same_server_key(self.config.server_key.fingerprint())
            .await?)
    }
}

/// Aborts the task when dropped (the follower's heartbeat ends with it).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
