//! Replication (issue 22; ARCHITECTURE.md, "Replication"): a registry's
//! configuration (`rules.rs`), the durable queue a push feeds and the
//! workers drain (this file), the copy into another registry of the same
//! deployment (`copy.rs`) or another deployment (`remote.rs`), deletes and
//! untags carried to either (`deletes.rs`), and each image's status per
//! destination.

mod backfill;
mod copy;
mod deletes;
mod image;
mod remote;
pub mod rules;

pub use backfill::Backfill;
pub use remote::{RemoteDelete, RemoteError, RemoteRegistry};

pub use rules::{
    DeleteReplication, Destination, ReplicationConfiguration, ReplicationRule, RepositoryFilter,
};

use crate::{Registry, Repo, Result};
use berth_oci::Digest;
use berth_store::{NewReplicationTask, RegistryKey, ReplicationAction, ReplicationTask};
use rand::Rng as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long a claimed task is its claimer's: a node that dies mid-task
/// loses it then, and another node runs it again.
const LEASE_MS: i64 = 5 * 60_000;
/// Attempts before a task that keeps failing for a cause that may pass is
/// FAILED with its last cause.
const MAX_ATTEMPTS: i64 = 20;
/// The longest wait between attempts.
const MAX_BACKOFF_MS: i64 = 10 * 60_000;

/// `failureCode`s (AWS documents none; these are berth's).
pub const IMAGE_NOT_FOUND: &str = "IMAGE_NOT_FOUND";
pub const ACCESS_DENIED: &str = "REPLICATION_ACCESS_DENIED";
pub const TAG_IMMUTABLE: &str = "TAG_IMMUTABLE";
pub const KMS_ERROR: &str = "KMS_ERROR";
pub const UNAVAILABLE: &str = "DESTINATION_UNAVAILABLE";
pub const INVALID_IMAGE: &str = "INVALID_IMAGE";

/// An image's replication to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationStatus {
    pub destination: RegistryKey,
    /// IN_PROGRESS, COMPLETE or FAILED.
    pub status: String,
    pub failure_code: Option<String>,
}

/// How one attempt at a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Complete,
    /// Will not succeed by trying again.
    Failed {
        code: &'static str,
        why: String,
    },
    /// May succeed later (a store unavailable, a key disabled).
    Retry {
        code: &'static str,
        why: String,
    },
}

/// Replication's totals since the process started, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct ReplicationCounters {
    complete: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
}

/// What `/metrics` shows of replication.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicationTotals {
    pub complete: u64,
    pub failed: u64,
    pub retried: u64,
    /// Tasks in progress (queued, running or waiting to retry).
    pub queued: u64,
    /// Age of the oldest task in progress, in milliseconds.
    pub lag_ms: u64,
}

impl Registry {
    /// Declares regions served by other berth deployments: replication to
    /// them goes through their API (`remote.rs`) instead of a copy here.
    pub fn with_replication_remotes(
        mut self,
        remotes: impl IntoIterator<Item = (String, std::sync::Arc<dyn RemoteRegistry>)>,
    ) -> Self {
        self.replication_remotes.extend(remotes);
        self
    }

    /// The registry's replication configuration (no rules when none was put).
    pub async fn replication_configuration(
        &self,
        registry: &RegistryKey,
    ) -> Result<ReplicationConfiguration> {
        Ok(match self.meta.replication_config(registry).await? {
            Some(text) => ReplicationConfiguration::parse(&text)?,
            None => ReplicationConfiguration::default(),
        })
    }

    /// PutReplicationConfiguration: replaces the registry's configuration
    /// whole. Only pushes from now on replicate.
    pub async fn put_replication_configuration(
        &self,
        registry: &RegistryKey,
        config: ReplicationConfiguration,
    ) -> Result<ReplicationConfiguration> {
        config.validate(registry)?;
        self.meta
            .put_replication_config(registry, &config.to_text(), self.now())
            .await?;
        Ok(config)
    }

    /// Queues the replication of an image a push just stored in `repo`
    /// (with `tag`, if the push set one) to every destination of the
    /// registry's rules that match the repository, and wakes this node's
    /// workers.
    pub(crate) async fn enqueue_replication(
        &self,
        repo: &Repo,
        digest: &Digest,
        tag: Option<&str>,
    ) -> Result<()> {
        self.enqueue_action(
            &repo.registry,
            repo.name.as_str(),
            &[digest],
            tag,
            ReplicationAction::Replicate,
        )
        .await
    }

    /// Queues, for the destinations of rules with `deleteReplication`
    /// enabled, what the source's repository just lost: the images
    /// (deleted, expired, or their last tag removed) or, with `untagged`,
    /// that one tag of images that keep others (ECR's "replication of
    /// deletes"). One read of the configuration and one insert for them all
    /// (a lifecycle run expires a batch at a time).
    pub(crate) async fn enqueue_deletion(
        &self,
        registry: &RegistryKey,
        repository: &str,
        digests: &[&Digest],
        untagged: Option<&str>,
    ) -> Result<()> {
        let action = match untagged {
            Some(_) => ReplicationAction::Untag,
            None => ReplicationAction::Delete,
        };
        self.enqueue_action(registry, repository, digests, untagged, action)
            .await
    }

    async fn enqueue_action(
        &self,
        registry: &RegistryKey,
        repository: &str,
        digests: &[&Digest],
        tag: Option<&str>,
        action: ReplicationAction,
    ) -> Result<()> {
        if digests.is_empty() {
            return Ok(());
        }
        let Some(text) = self.meta.replication_config(registry).await? else {
            return Ok(());
        };
        let config = ReplicationConfiguration::parse(&text)?;
        let destinations = match action {
            ReplicationAction::Replicate => config.destinations_for(repository),
            ReplicationAction::Delete | ReplicationAction::Untag => {
                config.delete_destinations_for(repository)
            }
        };
        let tasks: Vec<NewReplicationTask> = digests
            .iter()
            .flat_map(|digest| {
                destinations.iter().map(|destination| NewReplicationTask {
                    source: registry.clone(),
                    repository: repository.to_string(),
                    digest: digest.to_string(),
                    tag: tag.map(str::to_string),
                    destination: destination.clone(),
                    backfill: None,
                    action,
                })
            })
            .collect();
        if tasks.is_empty() {
            return Ok(());
        }
        self.meta.enqueue_replications(&tasks, self.now()).await?;
        self.replication_wake.notify_one();
        Ok(())
    }

    /// DescribeImageReplicationStatus: the image's latest replication to
    /// each destination.
    pub async fn image_replication_statuses(
        &self,
        repo: &Repo,
        digest: &Digest,
    ) -> Result<Vec<ReplicationStatus>> {
        Ok(self
            .meta
            .image_replications(&repo.registry, repo.name.as_str(), digest.as_str())
            .await?
            .into_iter()
            .map(|t| ReplicationStatus {
                destination: t.task.destination,
                status: t.status,
                failure_code: t.failure_code,
            })
            .collect())
    }

    /// At the start of a node that shares its stores with no other:
    /// what a previous process of it had claimed is claimable at once
    /// (in a cluster, a dead node's leases end by themselves).
    pub async fn release_replication_leases(&self) -> Result<()> {
        if self.is_clustered() {
            return Ok(());
        }
        let n = self.meta.release_replication_leases().await?;
        if n > 0 {
            tracing::info!(
                tasks = n,
                "resuming replications a previous run of this node had begun"
            );
        }
        Ok(())
    }

    /// Waits until a push queues replication work (or `timeout` passes).
    pub async fn replication_queued(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.replication_wake.notified()).await;
    }

    /// Claims and runs due tasks until none is due; how many ran.
    pub async fn replicate_due(&self) -> Result<u64> {
        let mut ran = 0;
        loop {
            let now = self.now();
            let Some(task) = self.meta.claim_replication(now, now + LEASE_MS).await? else {
                return Ok(ran);
            };
            ran += 1;
            self.run_task(task).await?;
        }
    }

    async fn run_task(&self, task: ReplicationTask) -> Result<()> {
        let started = std::time::Instant::now();
        let claim = (task.id, task.attempts);
        // The lease is renewed while the copy runs (a large image to a far
        // deployment outlasts one lease); a renewal refused means another
        // claimer has the task, and this copy stops.
        let copy = self.replicate(&task.task);
        tokio::pin!(copy);
        let mut renew =
            tokio::time::interval(std::time::Duration::from_millis(LEASE_MS as u64 / 3));
        renew.tick().await;
        let outcome = loop {
            tokio::select! {
                outcome = &mut copy => break outcome,
                _ = renew.tick() => {
                    let until = self.now() + LEASE_MS;
                    if !self.meta.renew_replication(claim, until).await? {
                        tracing::warn!(task = task.id, "a replication's lease was taken over; this copy stops");
                        return Ok(());
                    }
                }
            }
        };
        let t = &task.task;
        let now = self.now();
        let counters = &self.replication_counters;
        match outcome {
            Outcome::Complete => {
                counters.complete.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(repository = %t.repository, digest = %t.digest, to_account = %t.destination.account_id, to_region = %t.destination.region, took_ms = started.elapsed().as_millis() as u64, "replicated");
                self.meta
                    .finish_replication(claim, berth_store::REPLICATION_COMPLETE, None, now)
                    .await?;
            }
            Outcome::Retry { code, why } if task.attempts < MAX_ATTEMPTS => {
                counters.retried.fetch_add(1, Ordering::Relaxed);
                let due = now + backoff_ms(task.attempts);
                tracing::warn!(repository = %t.repository, digest = %t.digest, to_account = %t.destination.account_id, to_region = %t.destination.region, attempt = task.attempts, code, error = %why, "replication failed; it is tried again later");
                self.meta
                    .retry_replication(claim, due, Some(code), now)
                    .await?;
            }
            Outcome::Failed { code, why } | Outcome::Retry { code, why } => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(repository = %t.repository, digest = %t.digest, to_account = %t.destination.account_id, to_region = %t.destination.region, attempts = task.attempts, code, error = %why, "replication failed");
                self.meta
                    .finish_replication(claim, berth_store::REPLICATION_FAILED, Some(code), now)
                    .await?;
            }
        }
        Ok(())
    }

    /// Replication's totals and backlog, for `/metrics`.
    pub async fn replication_totals(&self) -> Result<ReplicationTotals> {
        let (queued, oldest) = self.meta.replication_backlog().await?;
        let c = &self.replication_counters;
        Ok(ReplicationTotals {
            complete: c.complete.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            queued,
            lag_ms: oldest.map_or(0, |t| (self.now() - t).max(0) as u64),
        })
    }
}

/// The wait before attempt `attempts + 1`: 2^attempts seconds, at most
/// ten minutes, ±50% so that tasks failed together do not retry together.
fn backoff_ms(attempts: i64) -> i64 {
    let base = (1_000i64 << attempts.clamp(0, 20)).min(MAX_BACKOFF_MS);
    base / 2 + rand::rng().random_range(0..=base)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        for attempts in 0..30 {
            let b = super::backoff_ms(attempts);
            let base = (1_000i64 << attempts.clamp(0, 20)).min(super::MAX_BACKOFF_MS);
            assert!(b >= base / 2 && b <= base / 2 + base, "{attempts}: {b}");
        }
    }
}
