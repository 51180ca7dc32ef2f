//! Usage and cost (issue 23): what each repository and registry holds,
//! measured by the hourly sample, and the stored bytes accrued per month.
//! The store measures and records; the registry (`usage.rs` there) decides
//! what a sample accrues and what a GB-month costs.

use super::{RegistryKey, RepoId};
use crate::Result;
use async_trait::async_trait;

/// A repository's figures, measured from its manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryMeasure {
    pub id: RepoId,
    pub registry: RegistryKey,
    pub name: String,
    /// Manifests (images, indexes and artifacts alike).
    pub images: u64,
    /// Per manifest, the blobs it references, summed: a layer two images
    /// share counts twice (the sum of the images' sizes).
    pub logical_bytes: u64,
    /// The distinct blobs its manifests reference, each counted once.
    pub stored_bytes: u64,
    pub last_pushed_at: Option<i64>,
}

/// One row of the latest sample: a repository's, or (`repository` empty)
/// its registry's, whose `stored_bytes` counts a blob once per key domain
/// however many of its repositories hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageFigures {
    pub registry: RegistryKey,
    pub repository: String,
    pub sampled_at: i64,
    pub images: u64,
    pub logical_bytes: u64,
    pub stored_bytes: u64,
    pub last_pushed_at: Option<i64>,
}

/// Byte-hours of stored bytes accrued in a month (`2026-12`, UTC), by a
/// repository or (`repository` empty) a registry.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageAccrual {
    pub registry: RegistryKey,
    pub repository: String,
    pub month: String,
    pub byte_hours: f64,
}

/// A registry's totals at one sample (the series charts draw).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsagePoint {
    pub at: i64,
    pub logical_bytes: u64,
    pub stored_bytes: u64,
}

/// How `ranked_usage` orders a registry's repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageOrder {
    /// Stored bytes, largest first.
    Stored,
    /// Images, most first.
    Images,
    /// Latest push, newest first (never pushed last).
    Pushed,
}

#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Up to `limit` repositories after id `after` (id order), each
    /// measured now.
    async fn measure_repositories(
        &self,
        after: Option<RepoId>,
        limit: u32,
    ) -> Result<Vec<RepositoryMeasure>>;
    /// Every registry whose manifests reference blobs, with its stored
    /// bytes: each blob counted once per key domain (AES256, or each KMS
    /// key) however many of its repositories reference it.
    async fn measure_registries(&self) -> Result<Vec<(RegistryKey, u64)>>;
    /// The latest sample's rows of `registry` for `repositories` (empty
    /// name: the registry's own), in no particular order; absent names have none.
    async fn usage_figures(
        &self,
        registry: &RegistryKey,
        repositories: &[String],
    ) -> Result<Vec<UsageFigures>>;
    /// Up to `limit` rows of the latest sample taken before `before`: the
    /// repositories and registries the current sample did not measure
    /// (deleted since); the sampler drops them as it goes.
    async fn stale_usage(&self, before: i64, limit: u32) -> Result<Vec<UsageFigures>>;
    /// One transaction: `figures` replace their rows of the latest sample,
    /// `accruals` add to their months, `dropped` rows leave the latest
    /// sample, and each registry row (`repository` empty) among `figures`
    /// is added to its registry's series, which keeps what is newer than
    /// `history_after`.
    async fn record_usage(
        &self,
        figures: &[UsageFigures],
        accruals: &[UsageAccrual],
        dropped: &[(RegistryKey, String)],
        history_after: i64,
    ) -> Result<()>;
    /// The latest sample's rows of `registry`'s repositories whose names
    /// start with `prefix`, in `order` (then by name), `limit` after the
    /// first `offset`.
    async fn ranked_usage(
        &self,
        registry: &RegistryKey,
        prefix: &str,
        order: UsageOrder,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<UsageFigures>>;
    /// When the last sample was taken, if ever.
    async fn last_usage_sample(&self) -> Result<Option<i64>>;
    /// The accruals of `month`, of one registry or of all, in key order
    /// (each registry's own row first); only the registries' own rows when
    /// `registries_only`.
    async fn usage_accruals(
        &self,
        registry: Option<&RegistryKey>,
        month: &str,
        registries_only: bool,
    ) -> Result<Vec<UsageAccrual>>;
    /// The latest sample's rows of one registry or of all, in key order
    /// (each registry's own row first); only the registries' own rows when
    /// `registries_only`.
    async fn latest_usage(
        &self,
        registry: Option<&RegistryKey>,
        registries_only: bool,
    ) -> Result<Vec<UsageFigures>>;
    /// A registry's series from `since` on, oldest first.
    async fn usage_history(&self, registry: &RegistryKey, since: i64) -> Result<Vec<UsagePoint>>;
    /// Live counts for the repository list: per repository id, its
    /// manifests and latest push.
    async fn image_counts(&self, repos: &[RepoId]) -> Result<Vec<(RepoId, u64, Option<i64>)>>;
}
