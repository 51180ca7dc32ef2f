//! Replication (issue 22): each registry's replication configuration, and
//! the durable queue of images to replicate (ARCHITECTURE.md,
//! "Replication"). A task is one image pushed to one destination; it is
//! claimed under a lease (a node that dies loses it when the lease ends),
//! retried later when it fails for a cause that may pass, and finished
//! COMPLETE or FAILED. An image's latest task per destination is its
//! replication status.

use super::RegistryKey;
use crate::Result;
use async_trait::async_trait;

/// `IN_PROGRESS`: queued, running or waiting to be retried.
pub const REPLICATION_IN_PROGRESS: &str = "IN_PROGRESS";
pub const REPLICATION_COMPLETE: &str = "COMPLETE";
pub const REPLICATION_FAILED: &str = "FAILED";

/// What a task does at its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplicationAction {
    /// Copies the image (and its tag, while the source's names it).
    #[default]
    Replicate,
    /// Deletes the image and its tags (`deleteReplication`: the source's
    /// image was deleted, lost its last tag, or expired).
    Delete,
    /// Removes the tag from the image, if it still names it there
    /// (`deleteReplication`: the source's image lost one of its tags).
    Untag,
}

impl ReplicationAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicationAction::Replicate => "REPLICATE",
            ReplicationAction::Delete => "DELETE",
            ReplicationAction::Untag => "UNTAG",
        }
    }

    /// A stored action; what is not known is a copy (the column's default).
    pub fn parse(s: &str) -> Self {
        match s {
            "DELETE" => ReplicationAction::Delete,
            "UNTAG" => ReplicationAction::Untag,
            _ => ReplicationAction::Replicate,
        }
    }
}

/// An image to replicate to one destination, or its delete or untag to
/// carry there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReplicationTask {
    pub source: RegistryKey,
    pub repository: String,
    pub digest: String,
    /// The tag the push set, if any (an untag: the tag removed).
    pub tag: Option<String>,
    pub destination: RegistryKey,
    /// The backfill that queued it, if one did.
    pub backfill: Option<String>,
    pub action: ReplicationAction,
}

/// A backfill: images stored before the configuration, queued for one
/// destination a page of repositories at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillRecord {
    pub id: String,
    pub source: RegistryKey,
    pub destination: RegistryKey,
    /// IN_PROGRESS, COMPLETE or STOPPED.
    pub status: String,
    /// The last repository name whose images are queued ('' at first).
    pub after_repo: String,
    /// Every repository's images are queued.
    pub enumerated: bool,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

/// What `create_backfill` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackfillOutcome {
    Created,
    /// One is already running to that destination region: its id.
    InProgress(String),
    /// The registry runs the most allowed.
    Full,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationTask {
    pub id: i64,
    pub task: NewReplicationTask,
    pub status: String,
    pub failure_code: Option<String>,
    /// Times it was claimed, this one included.
    pub attempts: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[async_trait]
pub trait ReplicationStore: Send + Sync {
    /// The registry's configuration (ECR's JSON), if one was put.
    async fn replication_config(&self, registry: &RegistryKey) -> Result<Option<String>>;
    /// Replaces the registry's configuration.
    async fn put_replication_config(
        &self,
        registry: &RegistryKey,
        config: &str,
        now: i64,
    ) -> Result<()>;
    /// Queues `tasks`, due at once.
    async fn enqueue_replications(&self, tasks: &[NewReplicationTask], now: i64) -> Result<()>;
    /// The oldest due task nobody holds, claimed until `lease_until`
    /// (its attempts counted); `None` when nothing is due. Two claimers
    /// never get the same task while its lease lasts.
    async fn claim_replication(
        &self,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<ReplicationTask>>;
    /// Finishes the claim (`id`, `attempts`, as claimed): COMPLETE, or
    /// FAILED with `failure_code`. False when the claim is not the task's
    /// latest (its lease ended and another claimed it since): nothing done.
    async fn finish_replication(
        &self,
        claim: (i64, i64),
        status: &str,
        failure_code: Option<&str>,
        now: i64,
    ) -> Result<bool>;
    /// Puts a claimed task back, due again at `due_at`, noting why it
    /// failed this time; false as `finish_replication`.
    async fn retry_replication(
        &self,
        claim: (i64, i64),
        due_at: i64,
        failure_code: Option<&str>,
        now: i64,
    ) -> Result<bool>;
    /// Extends a claim's lease to `lease_until` (a long copy); false when
    /// the claim is no longer the task's.
    async fn renew_replication(&self, claim: (i64, i64), lease_until: i64) -> Result<bool>;
    /// Ends every lease (a single node starting: nothing else can hold
    /// one, so what a dead process claimed is claimable at once). How many.
    async fn release_replication_leases(&self) -> Result<u64>;
    /// The latest task per destination of one image.
    async fn image_replications(
        &self,
        source: &RegistryKey,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<ReplicationTask>>;
    /// Tasks still in progress, and the creation time of the oldest (for
    /// `/metrics`: queue depth and lag).
    async fn replication_backlog(&self) -> Result<(u64, Option<i64>)>;
    /// Records a backfill unless one is running to the same destination
    /// region from the registry, or the registry runs `max_running`.
    async fn create_backfill(
        &self,
        b: &BackfillRecord,
        max_running: u32,
    ) -> Result<BackfillOutcome>;
    async fn get_backfill(
        &self,
        registry: &RegistryKey,
        id: &str,
    ) -> Result<Option<BackfillRecord>>;
    /// The registry's backfills by id after `after`, at most `limit`.
    async fn list_backfills(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BackfillRecord>>;
    /// Backfills in progress, every registry's (what the workers advance).
    async fn running_backfills(&self, limit: u32) -> Result<Vec<BackfillRecord>>;
    /// Moves a backfill's cursor from `from` to `to` (and marks it
    /// enumerated) and queues `tasks`, in one transaction, only if the
    /// cursor is still `from` (two nodes advancing it queue a page once).
    async fn advance_backfill(
        &self,
        id: &str,
        from: &str,
        to: &str,
        enumerated: bool,
        tasks: &[NewReplicationTask],
        now: i64,
    ) -> Result<bool>;
    /// Ends an IN_PROGRESS backfill as `status` (COMPLETE, or STOPPED,
    /// which also fails its queued tasks nobody holds with
    /// `BACKFILL_STOPPED`). False when it was not in progress.
    async fn end_backfill(&self, id: &str, status: &str, now: i64) -> Result<bool>;
    /// A backfill's tasks by id after `after`, only those of `status`.
    async fn backfill_tasks(
        &self,
        id: &str,
        status: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ReplicationTask>>;
    /// A backfill's tasks: (in progress, complete, failed).
    async fn backfill_counts(&self, id: &str) -> Result<(u64, u64, u64)>;
}
