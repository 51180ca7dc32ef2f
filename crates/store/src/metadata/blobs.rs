//! What the metadata records about blobs: the blob records, each
//! repository's links to them, upload sessions, and the steps of garbage
//! collection.
//!
//! Invariants (ARCHITECTURE, 1, 4 and 6): a repository reads a blob only
//! through its link; a blob is recorded and linked only after its bytes
//! are durable and verified (the caller's order), completing an upload
//! ends the session and links the blob in one transaction. A link a
//! manifest of its repository references cannot be removed. Re-linking
//! renews `linked_at`, which garbage collection respects as a fresh claim:
//! collection removes only links no manifest references and older than
//! its cutoff, and a record only once no link is left.

use super::RepoId;
use crate::Result;
use async_trait::async_trait;
use berth_oci::Digest;

#[derive(Debug, PartialEq, Eq)]
pub enum UnlinkBlobOutcome {
    NotLinked,
    /// Nothing was unlinked: a manifest in the repository references the blob.
    ReferencedBy(Digest),
    Unlinked,
}

/// A repository's link to a stored blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLink {
    pub size: u64,
    /// When the link was made or last claimed (upload, mount, a `HEAD` that
    /// found it); garbage collection spares links younger than its grace.
    pub linked_at: i64,
}

/// What garbage collection did (or, dry, would do) to one blob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectOutcome {
    /// Repositories whose link to the blob was removed.
    pub unlinked: Vec<RepoId>,
    /// The blob's size, when no link is left and its record was removed:
    /// the caller then deletes the bytes.
    pub deleted: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: String,
    pub repository: RepoId,
    /// Bytes received and made durable so far.
    pub size: u64,
    pub started_at: i64,
    pub updated_at: i64,
    /// Who opened the session (`<account>:<user>`), for the per-principal
    /// cap; `None` for anonymous sessions and ones older than the column.
    pub started_by: Option<String>,
    /// The hash state after the `size` bytes (`DigestHasher::state`), so
    /// that any node continues the hash; `None` when not recorded.
    pub hash_state: Option<Vec<u8>>,
}

/// The most upload sessions that may be open at once (`create_upload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    pub per_repository: u64,
    /// Counted over the sessions whose `started_by` is the new one's.
    pub per_principal: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateUploadOutcome {
    Created,
    /// Nothing was written: the repository has this many sessions open,
    /// the most allowed.
    RepositoryFull(u64),
    /// Nothing was written: the session's opener has this many open.
    PrincipalFull(u64),
}

/// Blob records, repository links, upload sessions and garbage collection.
#[async_trait]
pub trait BlobRecordStore: Send + Sync {
    /// Records that blob `digest` (of `size` bytes) is stored and links it to `repo`.
    async fn link_blob(&self, repo: RepoId, digest: &Digest, size: u64, now: i64) -> Result<()>;
    /// Links an already stored blob into `repo` if `from` holds it; returns its size.
    async fn link_existing_blob(
        &self,
        repo: RepoId,
        from: RepoId,
        digest: &Digest,
        now: i64,
    ) -> Result<Option<u64>>;
    /// The link of `digest` in `repo`, if any.
    async fn blob_link(&self, repo: RepoId, digest: &Digest) -> Result<Option<BlobLink>>;
    /// Moves a link's `linked_at` up to `now`; false if there is no link.
    async fn touch_blob_link(&self, repo: RepoId, digest: &Digest, now: i64) -> Result<bool>;
    async fn unlink_blob(&self, repo: RepoId, digest: &Digest) -> Result<UnlinkBlobOutcome>;
    /// A manifest of `repo` that references blob `digest` (any one; an
    /// indexed read), or `None` while no manifest uses it.
    async fn manifest_using_blob(&self, repo: RepoId, digest: &Digest) -> Result<Option<Digest>>;
    /// Opens a session unless its repository, or its opener, already has
    /// `limits` sessions open; the counts and the insert are one
    /// transaction, and each count reads at most its limit's worth of an
    /// index.
    async fn create_upload(
        &self,
        upload: &UploadRecord,
        limits: UploadLimits,
    ) -> Result<CreateUploadOutcome>;
    async fn get_upload(&self, id: &str) -> Result<Option<UploadRecord>>;
    /// Moves an upload's size from `expected` to `size`, with the hash state
    /// after those bytes, in one compare-and-set; false if it was not at `expected`.
    async fn set_upload_size(
        &self,
        id: &str,
        expected: u64,
        size: u64,
        hash_state: &[u8],
        now: i64,
    ) -> Result<bool>;
    /// Ends upload `id` by linking the blob it became, in one transaction.
    async fn complete_upload(
        &self,
        id: &str,
        repo: RepoId,
        digest: &Digest,
        size: u64,
        now: i64,
    ) -> Result<()>;
    async fn delete_upload(&self, id: &str) -> Result<bool>;
    /// Upload sessions not touched since `before`.
    async fn stale_uploads(&self, before: i64, limit: u32) -> Result<Vec<UploadRecord>>;
    /// Whether an upload session with this id exists.
    async fn upload_exists(&self, id: &str) -> Result<bool>;
    /// Garbage collection, step 1: up to `limit` recorded blobs after
    /// `after`, in digest order.
    async fn blob_page(&self, after: Option<&Digest>, limit: u32) -> Result<Vec<Digest>>;
    /// Garbage collection, step 2: which of `digests` have a link that no
    /// manifest of its repository references and that is older than
    /// `cutoff`, or have no link at all and were recorded before `cutoff`.
    async fn collectable(&self, digests: &[Digest], cutoff: i64) -> Result<Vec<Digest>>;
    /// Garbage collection, step 3, in one transaction for all of
    /// `digests`: removes each blob's links that no manifest of their
    /// repository references and that are older than `cutoff`; then, if no
    /// link is left and the blob was recorded before `cutoff`, its record.
    /// `dry_run` rolls back instead. Outcomes are in the order of `digests`.
    async fn collect_blobs(
        &self,
        digests: &[Digest],
        cutoff: i64,
        dry_run: bool,
    ) -> Result<Vec<CollectOutcome>>;
    /// Whether a blob is recorded (for sweeping files no record owns).
    async fn blob_recorded(&self, digest: &Digest) -> Result<bool>;
    /// The KMS keys of the repositories that link the blob, each once
    /// (`None`: AES256 repositories): the key domains that must hold its
    /// bytes (garbage collection sweeps the copies no domain needs; fsck
    /// checks each domain that does).
    async fn blob_link_keys(&self, digest: &Digest) -> Result<Vec<Option<String>>>;
    /// The digests repository `repo` links, in order, after `after`: at
    /// most `limit`.
    async fn repository_blob_page(
        &self,
        repo: RepoId,
        after: Option<&Digest>,
        limit: u32,
    ) -> Result<Vec<Digest>>;
}
