//! Lifecycle policies: the stored policy text and when it was last
//! evaluated, the snapshot an evaluation decides over, expiry, and the
//! one preview per repository.
//!
//! The registry decides what expires from a snapshot; expiry then deletes
//! an image only if it still is exactly what the snapshot saw (digest,
//! push time, tags, not listed by an index), so an image pushed or tagged
//! after the snapshot is never expired by a stale decision. Blob bytes are
//! left to garbage collection.

use super::images::ImageStatus;
use super::{RegistryKey, RepoId};
use crate::Result;
use async_trait::async_trait;
use berth_oci::Digest;

/// A repository's lifecycle policy, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecyclePolicyRecord {
    /// The policy text as the client sent it.
    pub text: String,
    /// When the scheduled evaluation last ran over the repository (ms).
    pub last_evaluated_at: Option<i64>,
}

/// A repository that has a lifecycle policy (what the scheduled run visits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryLifecycle {
    pub repo: RepoId,
    pub registry: RegistryKey,
    pub name: String,
    pub policy: String,
}

/// An image as lifecycle policies see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleImage {
    pub digest: Digest,
    /// In byte order.
    pub tags: Vec<String>,
    pub pushed_at: i64,
    pub last_pulled_at: Option<i64>,
    pub subject: Option<Digest>,
    /// An index in the repository lists it.
    pub in_index: bool,
    pub status: ImageStatus,
    pub archived_at: Option<i64>,
    pub activated_at: Option<i64>,
}

/// An image to expire, as the evaluation saw it: it is deleted only if it
/// still is exactly that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpireImage {
    pub digest: Digest,
    /// In byte order.
    pub tags: Vec<String>,
    pub pushed_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpireOutcome {
    /// Deleted with its tags.
    Expired,
    /// Nothing was deleted: the image is gone, was re-pushed, its tags
    /// changed since the snapshot, or an index now lists it.
    Changed,
}

/// A repository's last lifecycle policy preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecyclePreviewRecord {
    pub policy: String,
    /// IN_PROGRESS, COMPLETE or FAILED.
    pub status: String,
    pub started_at: i64,
    /// What the registry stored with the final status.
    pub results: Option<String>,
}

/// Lifecycle policies, snapshots, expiry and previews.
#[async_trait]
pub trait LifecycleStore: Send + Sync {
    /// A repository's lifecycle policy: `None` if the repository does not
    /// exist, `Some(None)` if it has no policy.
    async fn lifecycle_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<Option<LifecyclePolicyRecord>>>;
    /// Replaces (or with `None` removes, with its `last_evaluated_at`) a
    /// repository's lifecycle policy; the previous one comes back, with
    /// `None` if the repository does not exist.
    async fn set_lifecycle_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
        policy: Option<&str>,
    ) -> Result<Option<Option<LifecyclePolicyRecord>>>;
    /// Every repository that has a lifecycle policy, of every registry.
    async fn lifecycle_policies(&self) -> Result<Vec<RepositoryLifecycle>>;
    /// Records when the scheduled evaluation ran over a repository.
    async fn set_lifecycle_evaluated(&self, repo: RepoId, at: i64) -> Result<()>;
    /// Every image of the repository with its tags, times, subject and
    /// whether an index lists it, in one read.
    async fn lifecycle_snapshot(&self, repo: RepoId) -> Result<Vec<LifecycleImage>>;
    /// Deletes the images (manifests and tags) in one transaction, each
    /// only if it still has exactly the digest, push time and tags given
    /// and no index lists it; outcomes in the order given. Blob bytes are
    /// left to garbage collection.
    async fn expire_images(
        &self,
        repo: RepoId,
        images: &[ExpireImage],
    ) -> Result<Vec<ExpireOutcome>>;
    /// Starts a preview (replacing the last one) unless one started at or
    /// after `running_since` is still IN_PROGRESS (false; nothing changes).
    async fn start_lifecycle_preview(
        &self,
        repo: RepoId,
        policy: &str,
        now: i64,
        running_since: i64,
    ) -> Result<bool>;
    /// Stores a preview's outcome, if it is still the one started at `started_at`.
    async fn finish_lifecycle_preview(
        &self,
        repo: RepoId,
        started_at: i64,
        status: &str,
        results: Option<&str>,
    ) -> Result<()>;
    async fn lifecycle_preview(&self, repo: RepoId) -> Result<Option<LifecyclePreviewRecord>>;
}
