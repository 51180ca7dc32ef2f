use crate::Result;
use async_trait::async_trait;
use berth_oci::Digest;

/// A registry: one account's repositories in one region.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegistryKey {
    pub account_id: String,
    pub region: String,
}

/// A repository's row id. Stable for the repository's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RepoId(pub i64);

/// A validated manifest ready to be stored. References have been extracted
/// by the caller; the store checks them inside its transaction.
pub struct NewManifest<'a> {
    pub digest: &'a Digest,
    pub media_type: &'a str,
    pub body: &'a [u8],
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

#[derive(Debug, PartialEq, Eq)]
pub enum UnlinkBlobOutcome {
    NotLinked,
    /// Nothing was unlinked: a manifest in the repository references the blob.
    ReferencedBy(Digest),
    Unlinked,
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
pub struct StoredManifest {
    pub media_type: String,
    pub body: bytes::Bytes,
    /// Only an ACTIVE image may be pulled.
    pub status: ImageStatus,
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

/// An access key: an id and a secret (sealed under the server key by the
/// caller; the store never sees it in clear).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub id: String,
    pub account_id: String,
    pub user_name: String,
    pub secret_sealed: String,
    pub active: bool,
    pub created_at: i64,
}

/// A resource tag of a repository (ECR's `Tag`: `Key`, `Value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTag {
    pub key: String,
    pub value: String,
}

/// An account (the owner of registries, users and keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub id: String,
    pub created_at: i64,
}

/// A user of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub account_id: String,
    pub name: String,
    pub created_at: i64,
    /// IAM's `UserId` (`AIDA` + 17 characters), made by the store on insert.
    pub user_id: String,
    /// IAM's `Path` (`/` unless given at creation).
    pub path: String,
}

/// Why DeleteUser deleted nothing (IAM refuses while any of these remain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteUserOutcome {
    Deleted,
    NotFound,
    HasAccessKeys,
    HasInlinePolicies,
    HasAttachedPolicies,
}

/// A customer-managed policy (CreatePolicy), with its attachment count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicyRecord {
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub arn: String,
    pub policy_id: String,
    pub description: Option<String>,
    pub default_version: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Users it is attached to (filled in by reads; ignored on create).
    pub attachment_count: u64,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionRecord {
    pub version_id: String,
    pub document: String,
    pub is_default: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachOutcome {
    /// Attached now, or already attached (IAM treats both as success).
    Attached,
    NoSuchUser,
    NoSuchPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletePolicyOutcome {
    Deleted,
    NotFound,
    /// Still attached to this many users.
    Attached(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateUserOutcome {
    Created(UserRecord),
    AlreadyExists,
    NoSuchAccount,
}

/// A repository with the settings the ECR API manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryRecord {
    pub id: RepoId,
    pub name: String,
    pub created_at: i64,
    /// MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION.
    pub image_tag_mutability: String,
    /// The exclusion filters as JSON text, if any.
    pub mutability_filters: Option<String>,
    pub scan_on_push: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum DeleteRepositoryOutcome {
    NotFound,
    /// Nothing was deleted: the repository holds images and `force` was not given.
    NotEmpty,
    /// Deleted, with everything in it; these upload sessions' data is the
    /// caller's to remove.
    Deleted {
        record: RepositoryRecord,
        uploads: Vec<String>,
    },
}

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

/// One OSV record to store: its JSON text and the (ecosystem, normalized
/// package name) keys it is found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VulnRecordRow {
    pub id: String,
    /// RFC 3339; a record replaces a stored one only if newer.
    pub modified: Option<String>,
    pub json: String,
    pub packages: Vec<(String, String)>,
}

/// What an import batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VulnImportOutcome {
    /// Records inserted or replaced by a newer version.
    pub stored: u64,
    /// Records already stored at the same or a newer `modified`.
    pub unchanged: u64,
    /// Stored records deleted because the import withdrew them.
    pub removed: u64,
}

/// When the vulnerability database last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VulnSource {
    /// ms; ECR's `vulnerabilitySourceUpdatedAt`.
    pub updated_at: i64,
    /// Finished imports so far.
    pub generation: i64,
}

/// An image's last scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageScanRecord {
    pub digest: Digest,
    /// IN_PROGRESS, COMPLETE, FAILED, UNSUPPORTED_IMAGE.
    pub status: String,
    pub description: Option<String>,
    /// BASIC or ENHANCED.
    pub scan_type: String,
    pub started_at: i64,
    pub completed_at: Option<i64>,
    pub source_updated_at: Option<i64>,
    pub source_generation: Option<i64>,
    /// JSON text the registry wrote.
    pub findings: Option<String>,
    /// JSON text: severity -> count.
    pub counts: Option<String>,
    /// The detection matched, in berth-scan's cache encoding.
    pub detection: Option<Vec<u8>>,
}

/// A finished scan's outcome.
#[derive(Debug, Clone, Copy)]
pub struct ScanOutcome<'a> {
    pub status: &'a str,
    pub description: Option<&'a str>,
    pub completed_at: i64,
    pub source_updated_at: Option<i64>,
    pub source_generation: Option<i64>,
    pub findings: Option<&'a str>,
    pub counts: Option<&'a str>,
    pub detection: Option<&'a [u8]>,
}

/// An image scan and where its repository is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRef {
    pub repo: RepoId,
    pub registry: RegistryKey,
    pub name: String,
    pub digest: Digest,
}

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

/// Registry metadata. Every method is one transaction. Times are Unix
/// milliseconds passed in by the caller (tests control the clock).
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    async fn ensure_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
        now: i64,
    ) -> Result<RepoId>;
    async fn find_repository(&self, registry: &RegistryKey, name: &str) -> Result<Option<RepoId>>;
    /// Creates a repository with these settings and resource tags, in one
    /// transaction; `None` if the name is taken.
    async fn create_repository(
        &self,
        registry: &RegistryKey,
        record: &RepositoryRecord,
        tags: &[ResourceTag],
    ) -> Result<Option<RepositoryRecord>>;
    async fn get_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<RepositoryRecord>>;
    /// Repositories in name order, strictly after `after`, at most `limit`.
    async fn describe_repositories(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RepositoryRecord>>;
    /// Sets a repository's tag mutability; false if it does not exist.
    async fn set_tag_mutability(
        &self,
        registry: &RegistryKey,
        name: &str,
        mutability: &str,
        filters: Option<&str>,
    ) -> Result<bool>;
    /// A repository's policy: `None` if the repository does not exist,
    /// `Some(None)` if it has no policy.
    async fn repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<Option<String>>>;
    /// Replaces (or with `None` removes) a repository's policy; the previous
    /// one comes back, with `None` if the repository does not exist.
    async fn set_repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
        policy: Option<&str>,
    ) -> Result<Option<Option<String>>>;
    /// The policies of the repositories named `first..=last` that have one
    /// (a catalog page's, in one read).
    async fn repository_policies_between(
        &self,
        registry: &RegistryKey,
        first: &str,
        last: &str,
    ) -> Result<Vec<(String, String)>>;
    async fn registry_policy(&self, registry: &RegistryKey) -> Result<Option<String>>;
    /// Replaces (or with `None` removes) the registry policy; the previous one comes back.
    async fn set_registry_policy(
        &self,
        registry: &RegistryKey,
        policy: Option<&str>,
    ) -> Result<Option<String>>;
    /// Sets a repository's scan-on-push flag; false if it does not exist.
    async fn set_scan_on_push(&self, registry: &RegistryKey, name: &str, on: bool) -> Result<bool>;
    /// Deletes a repository with its tags, manifests, links and upload
    /// sessions; refused while it has images unless `force`.
    async fn delete_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
        force: bool,
    ) -> Result<DeleteRepositoryOutcome>;

    /// A repository's resource tags, by key.
    async fn repository_tags(&self, repo: RepoId) -> Result<Vec<ResourceTag>>;
    /// Adds tags, replacing the values of existing keys. Nothing changes and
    /// `false` comes back when the repository would end up with more than
    /// `max` tags.
    async fn tag_repository(&self, repo: RepoId, tags: &[ResourceTag], max: usize) -> Result<bool>;
    /// Removes the tags with these keys (absent keys are ignored).
    async fn untag_repository(&self, repo: RepoId, keys: &[String]) -> Result<()>;

    /// A registry setting, if it was ever put.
    async fn account_setting(&self, registry: &RegistryKey, name: &str) -> Result<Option<String>>;
    async fn put_account_setting(
        &self,
        registry: &RegistryKey,
        name: &str,
        value: &str,
    ) -> Result<()>;

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

    /// Records pulls: each image's `last_pulled_at` becomes the later of
    /// its stored value and the given time. Images deleted since are skipped.
    async fn record_pulls(&self, pulls: &[(RepoId, Digest, i64)]) -> Result<()>;

    /// Creates the account if it does not exist.
    async fn ensure_account(&self, id: &str, now: i64) -> Result<()>;
    /// Creates the user (and its account) if it does not exist.
    async fn ensure_user(&self, account_id: &str, name: &str, now: i64) -> Result<()>;
    /// Stores an access key, replacing the secret of an existing one with the same id.
    async fn put_access_key(&self, key: &AccessKeyRecord) -> Result<()>;
    async fn get_access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>>;
    async fn access_keys_of(&self, account_id: &str, user: &str) -> Result<Vec<AccessKeyRecord>>;
    /// Creates an account with its first user, `admin_user`, in one
    /// transaction; `None` if the account exists (nothing is changed).
    async fn create_account(
        &self,
        id: &str,
        admin_user: &str,
        now: i64,
    ) -> Result<Option<AccountRecord>>;
    async fn get_account(&self, id: &str) -> Result<Option<AccountRecord>>;
    /// Every account, by id.
    async fn list_accounts(&self) -> Result<Vec<AccountRecord>>;
    /// Creates a user in an existing account.
    async fn create_user(
        &self,
        account_id: &str,
        name: &str,
        path: &str,
        now: i64,
    ) -> Result<CreateUserOutcome>;
    async fn get_user(&self, account_id: &str, name: &str) -> Result<Option<UserRecord>>;
    /// The users of an account, by name.
    async fn list_users(&self, account_id: &str) -> Result<Vec<UserRecord>>;
    /// Every access key of an account, by user, then creation.
    async fn access_keys_of_account(&self, account_id: &str) -> Result<Vec<AccessKeyRecord>>;
    /// Deletes an access key of `account_id`; false if it has no such key.
    async fn delete_access_key(&self, account_id: &str, id: &str) -> Result<bool>;

    // The IAM API. Every method is scoped to one account.

    /// Deletes a user that has no access keys, inline or attached policies
    /// (checked in the deleting transaction).
    async fn delete_user(&self, account_id: &str, name: &str) -> Result<DeleteUserOutcome>;
    /// Stores a new access key unless its user already has `max_per_user`
    /// keys (false; nothing stored). The count and the insert are one
    /// transaction, so two concurrent creations cannot both pass.
    async fn add_access_key(&self, key: &AccessKeyRecord, max_per_user: usize) -> Result<bool>;
    /// Sets a key of `user` active or inactive; false if the user has no such key.
    async fn set_access_key_active(
        &self,
        account_id: &str,
        user: &str,
        id: &str,
        active: bool,
    ) -> Result<bool>;
    /// Creates or replaces an inline policy; false if the user does not exist.
    async fn put_user_policy(
        &self,
        account_id: &str,
        user: &str,
        name: &str,
        document: &str,
    ) -> Result<bool>;
    async fn get_user_policy(
        &self,
        account_id: &str,
        user: &str,
        name: &str,
    ) -> Result<Option<String>>;
    /// Inline policy names of a user, in byte order.
    async fn list_user_policies(&self, account_id: &str, user: &str) -> Result<Vec<String>>;
    async fn delete_user_policy(&self, account_id: &str, user: &str, name: &str) -> Result<bool>;
    /// Attaches a policy by ARN. With `local`, the ARN must name a managed
    /// policy of the account (checked in the same transaction, so that a
    /// concurrent DeletePolicy cannot leave a dangling attachment).
    async fn attach_user_policy(
        &self,
        account_id: &str,
        user: &str,
        arn: &str,
        local: bool,
        now: i64,
    ) -> Result<AttachOutcome>;
    /// False if it was not attached.
    async fn detach_user_policy(&self, account_id: &str, user: &str, arn: &str) -> Result<bool>;
    /// ARNs of the policies attached to a user, in byte order.
    async fn attached_user_policies(&self, account_id: &str, user: &str) -> Result<Vec<String>>;
    /// How many users of the account a policy is attached to.
    async fn policy_attachment_count(&self, account_id: &str, arn: &str) -> Result<u64>;
    /// Creates a managed policy with `document` as its default version;
    /// false if the account has a policy of that name (nothing stored).
    async fn create_managed_policy(
        &self,
        policy: &ManagedPolicyRecord,
        document: &str,
    ) -> Result<bool>;
    async fn get_managed_policy(
        &self,
        account_id: &str,
        arn: &str,
    ) -> Result<Option<ManagedPolicyRecord>>;
    /// The account's managed policies, by ARN.
    async fn list_managed_policies(&self, account_id: &str) -> Result<Vec<ManagedPolicyRecord>>;
    async fn get_policy_version(
        &self,
        account_id: &str,
        arn: &str,
        version_id: &str,
    ) -> Result<Option<PolicyVersionRecord>>;
    /// Deletes a managed policy and its versions unless it is attached.
    async fn delete_managed_policy(
        &self,
        account_id: &str,
        arn: &str,
    ) -> Result<DeletePolicyOutcome>;
    /// Names in byte order, strictly after `after`, at most `limit`.
    async fn list_repositories(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>>;

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
    /// Moves an upload's size from `expected` to `size`; false if it was not at `expected`.
    async fn set_upload_size(&self, id: &str, expected: u64, size: u64, now: i64) -> Result<bool>;
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

    // Vulnerability scanning (0009_scanning.sql).

    /// Stores records (each only if newer than the stored one, its package
    /// keys replaced with it) and deletes withdrawn ones (`(id, modified)`:
    /// only if the stored one is not newer), in one transaction.
    async fn import_vuln_records(
        &self,
        records: &[VulnRecordRow],
        withdrawn: &[(String, Option<String>)],
    ) -> Result<VulnImportOutcome>;
    /// Marks an import finished at `now`: a new generation.
    async fn finish_vuln_import(&self, now: i64) -> Result<VulnSource>;
    async fn vuln_source(&self) -> Result<Option<VulnSource>>;
    /// (id, modified) of the records naming any of the (ecosystem, name) keys.
    async fn vuln_record_ids(
        &self,
        keys: &[(String, String)],
    ) -> Result<Vec<(String, Option<String>)>>;
    /// (id, modified, JSON) of the records asked for that exist.
    async fn vuln_records(&self, ids: &[String]) -> Result<Vec<(String, Option<String>, String)>>;
    /// How many records are stored.
    async fn vuln_record_count(&self) -> Result<u64>;
    async fn layer_inventory(&self, layer: &Digest) -> Result<Option<Vec<u8>>>;
    async fn put_layer_inventory(
        &self,
        layer: &Digest,
        diff_id: Option<&str>,
        inventory: &[u8],
        now: i64,
    ) -> Result<()>;
    /// Marks the image's scan IN_PROGRESS from `now`, replacing its last one.
    async fn start_image_scan(
        &self,
        repo: RepoId,
        digest: &Digest,
        scan_type: &str,
        now: i64,
    ) -> Result<()>;
    /// Stores a scan's outcome if the scan started at `started_at` is still
    /// the image's last one; false if another replaced it.
    async fn finish_image_scan(
        &self,
        repo: RepoId,
        digest: &Digest,
        started_at: i64,
        outcome: &ScanOutcome<'_>,
    ) -> Result<bool>;
    async fn image_scan(&self, repo: RepoId, digest: &Digest) -> Result<Option<ImageScanRecord>>;
    /// Scans left IN_PROGRESS (a server stopped during them).
    async fn scans_in_progress(&self) -> Result<Vec<ScanRef>>;
    /// The repository's COMPLETE scans that kept their detection.
    async fn complete_scans(&self, repo: RepoId) -> Result<Vec<ImageScanRecord>>;
    async fn registry_scanning(&self, registry: &RegistryKey) -> Result<Option<String>>;
    async fn put_registry_scanning(&self, registry: &RegistryKey, config: &str) -> Result<()>;
    /// Every registry with a scanning configuration.
    async fn registry_scanning_all(&self) -> Result<Vec<(RegistryKey, String)>>;
    // Consistency checks (`berth fsck`; run with no server on the store).

    /// Problems `PRAGMA integrity_check` and `PRAGMA foreign_key_check`
    /// report, one line each; empty when both are clean.
    async fn integrity_problems(&self) -> Result<Vec<String>>;
    /// Up to `limit` blob records after `after` (digest text order), with
    /// their recorded sizes.
    /// (digest, size, bytes in the archive store) of recorded blobs.
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
    /// Every upload session.
    async fn upload_sessions(&self) -> Result<Vec<UploadRecord>>;
    /// Carries out one repair; false if its condition no longer held.
    async fn repair(&self, fix: &MetaRepair) -> Result<bool>;

    async fn counts(&self) -> Result<Counts>;
    async fn ping(&self) -> Result<()>;
    /// Flushes and closes the store; later calls fail.
    async fn close(&self);
}
