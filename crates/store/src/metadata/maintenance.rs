//! Maintenance: what `berth fsck` reads and repairs, counts for reports,
//! readiness, and closing the store.
//!
//! The checks are read-only and meant for a store with no server running.
//! Problems name rows by stored text (a row may hold a digest that does
//! not parse). Each repair is one transaction that re-checks its condition
//! and does nothing (false) if it no longer holds, so repairing from a
//! stale report never breaks what has been fixed or changed since.

use super::blobs::UploadRecord;
use super::RepoId;
use crate::Result;
use async_trait::async_trait;

/// Where a repository lives, for reports: `account/region/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoLabel {
    pub id: RepoId,
    pub account_id: String,
    pub region: String,
    pub name: String,
}

impl std::fmt::Display for RepoLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.account_id, self.region, self.name)
    }
}

/// A disagreement between metadata rows that `berth fsck` reports
/// (`consistency_problems`). Digests are kept as stored text: a row may
/// hold one that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaProblem {
    /// A manifest references a blob that has no `blobs` row.
    ReferenceToUnrecordedBlob {
        repo: RepoLabel,
        manifest: String,
        blob: String,
    },
    /// A manifest references a recorded blob that its repository has no
    /// link to (pulls of the blob through this repository fail).
    ReferenceToUnlinkedBlob {
        repo: RepoLabel,
        manifest: String,
        blob: String,
    },
    /// An index lists a manifest that its repository does not hold.
    MissingChildManifest {
        repo: RepoLabel,
        manifest: String,
        child: String,
    },
    /// A `repository_blobs` row names a blob that has no `blobs` row.
    /// `referenced`: a manifest of the repository references it.
    DanglingLink {
        repo: RepoLabel,
        blob: String,
        referenced: bool,
    },
    /// A tag names a manifest that its repository does not hold.
    DanglingTag {
        repo: RepoLabel,
        tag: String,
        manifest: String,
    },
    /// A manifest row whose body (`manifest_bodies`) is missing.
    MissingManifestBody { repo: RepoLabel, manifest: String },
    /// A manifest body that no manifest row uses.
    UnusedManifestBody { digest: String },
    /// `manifest_references` rows of a manifest that is not there (they
    /// keep its blobs from being collected).
    OrphanReferences { repo: RepoLabel, manifest: String },
}

/// A change `berth fsck --repair` asks of the metadata store. Each is one
/// transaction that re-checks its condition inside, and does nothing (and
/// answers false) unless the condition still holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaRepair {
    /// Links a recorded blob that a manifest of `repo` references.
    Relink {
        repo: RepoId,
        blob: String,
        now: i64,
    },
    /// Removes a link to an unrecorded blob that no manifest of `repo` references.
    DropDanglingLink { repo: RepoId, blob: String },
    /// Removes a tag whose manifest is not in `repo`.
    DropDanglingTag { repo: RepoId, tag: String },
    /// Removes a manifest body no manifest row uses.
    DropUnusedBody { digest: String },
    /// Removes the references of a manifest that `repo` does not hold.
    DropOrphanReferences { repo: RepoId, manifest: String },
    /// Removes a blob's record and links, when no manifest references it.
    DropBlobRecord { blob: String },
    /// Records a stored blob that manifests reference but that lost its
    /// record, and links it to every repository whose manifests reference it.
    RecordBlob { blob: String, size: u64, now: i64 },
    /// Removes an upload session row.
    DropUpload { id: String },
    /// Rebuilds every index (`REINDEX`).
    Reindex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub repositories: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
}

/// A manifest's own body, sealed in its repository's key domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainManifestBody {
    pub repo: RepoId,
    pub digest: String,
    pub body: bytes::Bytes,
    /// The repository's key (ARN).
    pub kms_key: String,
}

/// Consistency checks and repairs (`berth fsck`), counts, readiness, close.
#[async_trait]
pub trait MaintenanceStore: Send + Sync {
    /// Problems `PRAGMA integrity_check` and `PRAGMA foreign_key_check`
    /// report, one line each; empty when both are clean.
    async fn integrity_problems(&self) -> Result<Vec<String>>;
    /// Up to `limit` blob records after `after` (digest text order): (digest,
    /// recorded size, whether the bytes are in the archive store).
    async fn blob_records(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, u64, bool)>>;
    /// Rows that point at rows that are not there (see [`MetaProblem`]).
    async fn consistency_problems(&self) -> Result<Vec<MetaProblem>>;
    /// The manifests, in any repository, that reference blob `digest`.
    async fn blob_users(&self, digest: &str) -> Result<Vec<(RepoLabel, String)>>;
    /// Up to `limit` manifest bodies after `after` (digest text order).
    async fn manifest_bodies(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, bytes::Bytes)>>;
    /// Replaces manifest body `digest` with `new` if it is still `old`
    /// (sealing a body from before encryption at rest); false if not.
    async fn replace_manifest_body(&self, digest: &str, old: &[u8], new: &[u8]) -> Result<bool>;
    /// Up to `limit` manifests with a body of their own (sealed in their
    /// repository's key domain), after (`repository`, `digest`), in that
    /// order.
    async fn domain_manifest_bodies(
        &self,
        after: Option<(RepoId, &str)>,
        limit: u32,
    ) -> Result<Vec<DomainManifestBody>>;
    /// Up to `limit` manifests of repository `repo` that read the shared
    /// body (their digest and that body), after digest `after`.
    async fn manifests_reading_shared_bodies(
        &self,
        repo: RepoId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, bytes::Bytes)>>;
    /// Gives manifest `digest` of `repo` a body of its own, `body`, unless
    /// it has one; and empties the shared body (to the placeholder) once no
    /// manifest reads it. False if the manifest is gone or had one.
    async fn set_domain_body(&self, repo: RepoId, digest: &str, body: &[u8]) -> Result<bool>;
    /// Every upload session.
    async fn upload_sessions(&self) -> Result<Vec<UploadRecord>>;
    /// Carries out one repair; false if its condition no longer held.
    async fn repair(&self, fix: &MetaRepair) -> Result<bool>;
    async fn counts(&self) -> Result<Counts>;
    async fn ping(&self) -> Result<()>;
    /// Flushes and closes the store; later calls fail.
    async fn close(&self);
}
