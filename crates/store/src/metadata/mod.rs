//! The metadata store's contract, one trait per concern.
//!
//! Each concern trait (`RepositoryStore`, `ImageStore`, ...) owns a set
//! of tables and the records the registry reads from them; `MetadataStore`
//! is all of them at once, which is what the registry holds
//! (`Arc<dyn MetadataStore>`). The split exists so that a backend can be
//! written, reviewed and run against its conformance suite one concern at
//! a time (`crate::conformance`).
//!
//! Rules every concern shares:
//! * Every method is one transaction: a check and the write it guards are
//!   never split across two, so a concurrent caller cannot slip between.
//! * Times are Unix milliseconds passed in by the caller, never read from
//!   a clock here, so tests control time and a retry is deterministic.
//! * The store records and answers; what is *allowed* is decided by the
//!   registry. Where a rule must hold under concurrency (tag immutability,
//!   upload caps, key limits) the registry passes it in and the store
//!   checks it inside its transaction.
//!
//! Calling a concern's methods through `dyn MetadataStore` needs that
//! concern's trait in scope: `use berth_store::prelude::*;`.

mod archive;
mod blobs;
mod console;
mod groups;
mod iam;
mod identity;
mod images;
mod kms;
mod lifecycle;
mod maintenance;
mod policies;
mod public;
mod replication;
mod repositories;
mod roles;
mod scanning;
mod usage;

pub use archive::{ArchiveImage, ArchiveOutcome, ArchiveStore, RestoreOutcome};
pub use blobs::{
    BlobLink, BlobRecordStore, CollectOutcome, CreateUploadOutcome, UnlinkBlobOutcome,
    UploadLimits, UploadRecord,
};
pub use console::{ConsoleSession, ConsoleSessionStore};
pub use groups::{GroupRecord, GroupStore, MembershipOutcome};
pub use iam::{
    AttachOutcome, DeletePolicyOutcome, Holder, HolderKind, IamPolicyStore, ManagedPolicyRecord,
    PolicyVersionRecord,
};
pub use identity::{
    AccessKeyRecord, AccountRecord, CreateUserOutcome, DeleteUserOutcome, IdentityStore, UserRecord,
};
pub use images::{
    DeleteManifestOutcome, ImageRecord, ImageStatus, ImageStore, NewManifest, PutManifestOutcome,
    Referrer, StatusFilter, StoredManifest, TagStatus, UntagOutcome,
};
pub use kms::{
    KmsAliasOutcome, KmsAliasRecord, KmsGrantOutcome, KmsGrantRecord, KmsKeyRecord, KmsStore,
};
pub use lifecycle::{
    ExpireImage, ExpireOutcome, LifecycleImage, LifecyclePolicyRecord, LifecyclePreviewRecord,
    LifecycleStore, RepositoryLifecycle,
};
pub use maintenance::{
    Counts, DomainManifestBody, MaintenanceStore, MetaProblem, MetaRepair, RepoLabel,
};
pub use policies::ResourcePolicyStore;
pub use public::{
    CreatePublicRegistryOutcome, PublicListing, PublicRegistryRecord, PublicRegistryStore,
};
pub use replication::{
    BackfillOutcome, BackfillRecord, NewReplicationTask, ReplicationAction, ReplicationStore,
    ReplicationTask, REPLICATION_COMPLETE, REPLICATION_FAILED, REPLICATION_IN_PROGRESS,
};
pub use repositories::{
    CreateTemplateOutcome, DeleteRepositoryOutcome, RepositoryRecord, RepositoryStore, ResourceTag,
    TemplateRecord,
};
pub use roles::{
    CreateOutcome, DeleteHolderOutcome, RoleRecord, RoleStore, RoleUpdate, TagOutcome,
};
pub use scanning::{
    ImageScanRecord, ScanClaim, ScanOutcome, ScanRef, ScanningStore, VulnImportOutcome,
    VulnRecordRow, VulnSource,
};

pub use usage::{
    RepositoryMeasure, UsageAccrual, UsageFigures, UsageOrder, UsagePoint, UsageStore,
};

/// A registry: one account's repositories in one region.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistryKey {
    pub account_id: String,
    pub region: String,
}

/// A repository's row id. Stable for the repository's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RepoId(pub i64);

/// Registry metadata: every concern at once. Implemented for any type that
/// implements all the concern traits, so a backend never names it.
pub trait MetadataStore:
    RepositoryStore
    + ResourcePolicyStore
    + ImageStore
    + BlobRecordStore
    + IdentityStore
    + IamPolicyStore
    + RoleStore
    + GroupStore
    + KmsStore
    + ReplicationStore
    + ConsoleSessionStore
    + UsageStore
    + PublicRegistryStore
    + LifecycleStore
    + ArchiveStore
    + ScanningStore
    + MaintenanceStore
    + Send
    + Sync
    + 'static
{
}

impl<T> MetadataStore for T where
    T: RepositoryStore
        + ResourcePolicyStore
        + ImageStore
        + BlobRecordStore
        + IdentityStore
        + IamPolicyStore
        + RoleStore
        + GroupStore
        + KmsStore
        + ReplicationStore
        + ConsoleSessionStore
        + UsageStore
        + PublicRegistryStore
        + LifecycleStore
        + ArchiveStore
        + ScanningStore
        + MaintenanceStore
        + Send
        + Sync
        + 'static
{
}
