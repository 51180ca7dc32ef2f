//! The archive storage class: images marked ARCHIVED or ACTIVATING, and
//! which blobs' bytes live in the archive store.
//!
//! Moving is split into steps the registry runs under its digest locks,
//! each step one transaction that re-checks its condition, so a stop
//! between steps leaves a state start-up can finish (`archived_blobs`,
//! `activating_images`). Invariant 11 (ARCHITECTURE): `blobs.archived = 0`
//! means the blob store holds the bytes, and a blob is marked archived
//! only while every manifest referencing it, in any repository, is
//! ARCHIVED (the `UPDATE` in `mark_blob_archived`).

use super::RepoId;
use crate::Result;
use async_trait::async_trait;
use berth_oci::Digest;

/// An image to move to the archive storage class. With `expected`, only
/// if it still has that push time and those tags (a lifecycle run's
/// snapshot); without, whatever it is now (UpdateImageStorageClass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveImage {
    pub digest: Digest,
    /// (push time, tags in byte order).
    pub expected: Option<(i64, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveOutcome {
    /// Now ARCHIVED, with these manifests (the image, and for an index
    /// the children no ACTIVE index of the repository still lists) and
    /// their tags (for the caller's cache).
    Archived {
        manifests: Vec<Digest>,
        tags: Vec<String>,
    },
    /// Nothing changed: already ARCHIVED.
    AlreadyArchived,
    /// Nothing changed: it is being restored.
    Activating,
    /// Nothing changed: an ACTIVE index in the repository lists it (the
    /// index must be archived instead).
    ListedByIndex(Digest),
    NotFound,
    /// Nothing changed: it differs from `expected`.
    Changed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// These manifests (the image, and for an index its ARCHIVED children)
    /// are now ACTIVATING, or were already.
    Activating(Vec<Digest>),
    /// Nothing changed: it is ACTIVE.
    AlreadyActive,
    NotFound,
}

/// Archiving and restoring images; where blob bytes live.
#[async_trait]
pub trait ArchiveStore: Send + Sync {
    /// The archive storage class, step 1 (one transaction): marks each
    /// image ARCHIVED (see `ArchiveImage` and `ArchiveOutcome`).
    async fn archive_images(
        &self,
        repo: RepoId,
        images: &[ArchiveImage],
        now: i64,
    ) -> Result<Vec<ArchiveOutcome>>;
    /// Step 2: the blobs of these manifests of `repo` that are still in the
    /// blob store and that no manifest of any repository outside the
    /// archive storage class references: the bytes to move.
    async fn blobs_only_archived(&self, repo: RepoId, manifests: &[Digest]) -> Result<Vec<Digest>>;
    /// Step 3, before the bytes move: marks a blob archived, if it still is
    /// referenced only by ARCHIVED manifests; false (nothing changed) if not.
    async fn mark_blob_archived(&self, digest: &Digest) -> Result<bool>;
    /// Marks a blob's bytes as back in the blob store.
    async fn mark_blob_standard(&self, digest: &Digest) -> Result<()>;
    /// Whether a recorded blob's bytes are in the archive; `None` if unrecorded.
    async fn blob_archived(&self, digest: &Digest) -> Result<Option<bool>>;
    /// Archived blobs in digest order after `after` (to finish moves at start).
    async fn archived_blobs(&self, after: Option<&Digest>, limit: u32) -> Result<Vec<Digest>>;
    /// Restoring, step 1: ARCHIVED → ACTIVATING for the image (and an
    /// index's ARCHIVED children).
    async fn start_restore(&self, repo: RepoId, digest: &Digest) -> Result<RestoreOutcome>;
    /// Step 2: the archived blobs these manifests reference.
    async fn archived_blobs_of(&self, repo: RepoId, manifests: &[Digest]) -> Result<Vec<Digest>>;
    /// Step 3: ACTIVATING → ACTIVE (setting `activated_at`) for those of
    /// `manifests` that are ACTIVATING. Returns their tags.
    async fn finish_restore(
        &self,
        repo: RepoId,
        manifests: &[Digest],
        now: i64,
    ) -> Result<Vec<String>>;
    /// Every ACTIVATING image (restores a stop interrupted).
    async fn activating_images(&self) -> Result<Vec<(RepoId, Digest)>>;
}
