//! Images: manifests (bodies stored byte for byte, once per digest), tags,
//! referrers (manifests by `subject`), the listings DescribeImages and
//! `/v2` read, and pull times.
//!
//! Invariants (ARCHITECTURE, 3 and 6): a manifest is accepted only if,
//! inside the transaction that stores it, every blob it needs is linked to
//! its repository and every child of an index is a manifest there, with
//! the sizes the descriptors declare; tag immutability is checked in that
//! same transaction. A manifest an index lists cannot be deleted; an
//! image goes with its last tag only when nothing lists it. Blob bytes are
//! never deleted here: that is garbage collection's (`BlobRecordStore`).

use super::RepoId;
use crate::Result;
use async_trait::async_trait;
use berth_oci::Digest;

/// A validated manifest ready to be stored. References have been extracted
/// by the caller; the store checks them inside its transaction.
pub struct NewManifest<'a> {
    pub digest: &'a Digest,
    pub media_type: &'a str,
    /// What is stored: the body, or the body sealed (`sealed.rs`).
    pub body: &'a [u8],
    /// `body` is sealed in the repository's KMS key domain: it is kept
    /// with this repository's manifest row, and the shared body row (which
    /// the foreign key needs) holds an empty placeholder unless an AES256
    /// repository stores the body.
    pub repository_body: bool,
    /// The body's own size (the manifest's size, whatever is stored).
    pub size: u64,
    pub artifact_type: Option<&'a str>,
    /// JSON object text, if the manifest has annotations.
    pub annotations: Option<&'a str>,
    pub subject: Option<&'a Digest>,
    /// The blobs (config, layers) the manifest needs, each with the size
    /// its descriptor declares.
    pub blob_refs: &'a [(Digest, u64)],
    /// The manifests (an index's children) it needs, with declared sizes.
    pub manifest_refs: &'a [(Digest, u64)],
    pub tag: Option<&'a str>,
    /// The tag may not be moved to another image (tag immutability).
    pub tag_immutable: bool,
    /// ECR's PutImage: the image is refused if it is already there under
    /// the tag (or, pushed without one, at all), checked in the same
    /// transaction as the write, so that of two identical pushes at once
    /// one is refused.
    pub refuse_existing: bool,
    pub now: i64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PutManifestOutcome {
    /// Stored (or already there). `previous` is what the tag pointed at before,
    /// if the put moved a tag.
    Stored { previous: Option<Digest> },
    /// Nothing was written: these references are in the repository but in
    /// the archive storage class (blobs whose bytes were archived,
    /// manifests not ACTIVE). The caller restores them and tries again.
    Archived {
        blobs: Vec<Digest>,
        manifests: Vec<Digest>,
    },
    /// Nothing was written: these references are not in the repository.
    MissingReferences(Vec<Digest>),
    /// Nothing was written: these references' descriptors declare another
    /// size than the stored content has: (digest, declared, stored).
    WrongSizes(Vec<(Digest, u64, u64)>),
    /// Nothing was written: the tag is immutable and names another image.
    TagImmutable,
    /// Nothing was written (`refuse_existing`): the image is already there
    /// under the tag, or, without one, at all.
    AlreadyExists,
}

#[derive(Debug, PartialEq, Eq)]
pub enum DeleteManifestOutcome {
    NotFound,
    /// Nothing was deleted: an index in the same repository lists the manifest.
    ReferencedBy(Digest),
    /// Deleted, together with these tags.
    Deleted {
        tags: Vec<String>,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub enum UntagOutcome {
    NotFound,
    /// The tag is gone. `image_deleted`: it was the image's last tag (and no
    /// index in the repository lists the image), so the image went too.
    Untagged {
        digest: Digest,
        image_deleted: bool,
    },
}

/// Which images a listing includes, by whether they have tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagStatus {
    Tagged,
    Untagged,
    Any,
}

/// An image's storage class state (ECR's `imageStatus`). Only ACTIVE
/// images can be pulled; ARCHIVED ones are in the archive storage class;
/// ACTIVATING ones are being restored from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ImageStatus {
    #[default]
    Active,
    Archived,
    Activating,
}

impl ImageStatus {
    pub fn api_name(self) -> &'static str {
        match self {
            ImageStatus::Active => "ACTIVE",
            ImageStatus::Archived => "ARCHIVED",
            ImageStatus::Activating => "ACTIVATING",
        }
    }

    /// The stored form (`manifests.storage_status`).
    pub fn code(self) -> i64 {
        match self {
            ImageStatus::Active => 0,
            ImageStatus::Archived => 1,
            ImageStatus::Activating => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(ImageStatus::Active),
            1 => Some(ImageStatus::Archived),
            2 => Some(ImageStatus::Activating),
            _ => None,
        }
    }
}

/// Which images a listing includes by status (ECR's `imageStatus` filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Only(ImageStatus),
    Any,
}

impl StatusFilter {
    /// The SQL condition on `m.storage_status` (constants only).
    pub(crate) fn sql(self) -> &'static str {
        match self {
            StatusFilter::Only(ImageStatus::Active) => "AND m.storage_status = 0",
            StatusFilter::Only(ImageStatus::Archived) => "AND m.storage_status = 1",
            StatusFilter::Only(ImageStatus::Activating) => "AND m.storage_status = 2",
            StatusFilter::Any => "",
        }
    }
}

/// An image as DescribeImages shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub digest: Digest,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    pub pushed_at: i64,
    pub tags: Vec<String>,
    /// Sum of the sizes of the blobs the manifest references.
    pub blob_bytes: u64,
    /// Child manifests (of an index).
    pub children: Vec<Digest>,
    /// When a pull was last recorded (ms), if ever.
    pub last_pulled_at: Option<i64>,
    pub status: ImageStatus,
    /// When it last went to the archive storage class, and last came back (ms).
    pub archived_at: Option<i64>,
    pub activated_at: Option<i64>,
}

/// A manifest whose `subject` is a given digest, as a referrers listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    /// JSON object text.
    pub annotations: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    pub media_type: String,
    pub body: bytes::Bytes,
    /// The KMS key (ARN) whose domain sealed `body` (the repository's own
    /// copy); `None`: the shared, AES256 domain's.
    pub domain_key: Option<String>,
    /// Only an ACTIVE image may be pulled.
    pub status: ImageStatus,
}

/// Manifests, tags, referrers, image listings and pull times.
#[async_trait]
pub trait ImageStore: Send + Sync {
    /// Records pulls: each image's `last_pulled_at` becomes the later of
    /// its stored value and the given time. Images deleted since are skipped.
    async fn record_pulls(&self, pulls: &[(RepoId, Digest, i64)]) -> Result<()>;
    async fn put_manifest(
        &self,
        repo: RepoId,
        manifest: NewManifest<'_>,
    ) -> Result<PutManifestOutcome>;
    async fn get_manifest(&self, repo: RepoId, digest: &Digest) -> Result<Option<StoredManifest>>;
    async fn delete_manifest(&self, repo: RepoId, digest: &Digest)
        -> Result<DeleteManifestOutcome>;
    /// Removes a tag and, when it was the image's last, the image (as ECR's
    /// BatchDeleteImage does for an image tag).
    async fn untag(&self, repo: RepoId, tag: &str) -> Result<UntagOutcome>;
    async fn resolve_tag(&self, repo: RepoId, tag: &str) -> Result<Option<Digest>>;
    /// Manifests in `repo` whose subject is `subject`, in digest order,
    /// only those of `artifact_type` when given; at most `limit`.
    async fn list_referrers(
        &self,
        repo: RepoId,
        subject: &Digest,
        artifact_type: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Referrer>>;
    /// (digest, tag) pairs of the repository's images in (digest, tag)
    /// order after `after`; an untagged image appears once with no tag.
    async fn list_image_ids(
        &self,
        repo: RepoId,
        status: TagStatus,
        image_status: StatusFilter,
        after: Option<(&Digest, &str)>,
        limit: u32,
    ) -> Result<Vec<(Digest, Option<String>)>>;
    /// Digests of the repository's images in order after `after`.
    async fn list_image_digests(
        &self,
        repo: RepoId,
        status: TagStatus,
        image_status: StatusFilter,
        after: Option<&Digest>,
        limit: u32,
    ) -> Result<Vec<Digest>>;
    /// The images among `digests` that exist, in the order given.
    async fn image_records(&self, repo: RepoId, digests: &[Digest]) -> Result<Vec<ImageRecord>>;
    /// Tags of ACTIVE images in byte order, strictly after `after`, at most `limit`.
    async fn list_tags(&self, repo: RepoId, after: Option<&str>, limit: u32)
        -> Result<Vec<String>>;
}
