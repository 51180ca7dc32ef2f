//! Storage behind traits.
//!
//! * [`BlobStore`]: content-addressed bytes (layers, configs) and the
//!   temporary objects of upload sessions. Backend: [`FsBlobStore`].
//! * [`MetadataStore`]: everything else the registry records, changed only
//!   in transactions. It is one trait per concern, so that a backend can be
//!   built and tested a concern at a time:
//!   [`RepositoryStore`] (repositories, their settings and resource tags,
//!   account settings), [`ResourcePolicyStore`] (repository and registry
//!   policies), [`ImageStore`] (manifests, tags, referrers, pulls),
//!   [`BlobRecordStore`] (blob records and links, upload sessions, garbage
//!   collection), [`IdentityStore`] (accounts, users, access keys),
//!   [`IamPolicyStore`] (inline and managed IAM policies),
//!   [`LifecycleStore`], [`ArchiveStore`], [`ScanningStore`] (the
//!   vulnerability database and image scans) and [`MaintenanceStore`]
//!   (`berth fsck`'s checks and repairs, counts, ping, close).
//!   `MetadataStore` is all of them; any type implementing them all is one.
//!   Backend: [`SqliteMetadataStore`], a file per concern.
//!
//! Calling a concern's methods through `dyn MetadataStore` needs its trait
//! in scope: `use berth_store::prelude::*;`.
//!
//! Every backend must pass the conformance suites (`conformance`, behind
//! the `conformance` feature): `metadata_store_conformance!` gives a backend
//! one test per concern from one constructor.
//!
//! Stores do what they are told atomically and durably; what is *allowed*
//! is decided by the `registry` crate above.
#![deny(unsafe_code)]

mod blob;
mod cluster;
mod console_sql;
mod error;
mod fs_blob;
mod fs_sealed;
mod group_sync;
mod iam_sql;
mod kms_sql;
mod manifest_sql;
mod metadata;
pub mod offload;
#[cfg(feature = "postgres")]
mod postgres;
mod public_sql;
mod replication_sql;
#[cfg(feature = "s3")]
mod s3_blob;
pub mod sealed;
mod sqlite;
mod stored;
mod sys;
mod template_sql;
mod usage_sql;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use blob::{copy_blob, BlobReader, BlobStore, UploadWriter, PRIVATE_DIR, PRIVATE_FILE};
pub use cluster::{
    job_lock_key, Cluster, ClusterGuard, Invalidation, InvalidationFeed, LocalCluster,
};
pub use error::StoreError;
pub use fs_blob::FsBlobStore;
pub use metadata::{
    AccessKeyRecord, AccountRecord, ArchiveImage, ArchiveOutcome, AttachOutcome, BlobLink,
    CollectOutcome, Counts, CreateOutcome, CreateUploadOutcome, CreateUserOutcome,
    DeleteHolderOutcome, DeleteManifestOutcome, DeletePolicyOutcome, DeleteRepositoryOutcome,
    DeleteUserOutcome, ExpireImage, ExpireOutcome, GroupRecord, Holder, HolderKind, ImageRecord,
    ImageStatus, KmsAliasOutcome, KmsAliasRecord, KmsGrantOutcome, KmsGrantRecord, KmsKeyRecord,
    LifecycleImage, LifecyclePolicyRecord, LifecyclePreviewRecord, ManagedPolicyRecord,
    MembershipOutcome, MetaProblem, MetaRepair, NewManifest, PolicyVersionRecord,
    PutManifestOutcome, Referrer, RegistryKey, RepoId, RepoLabel, RepositoryLifecycle,
    RepositoryRecord, ResourceTag, RestoreOutcome, RoleRecord, RoleUpdate, StatusFilter,
    StoredManifest, TagOutcome, TagStatus, UnlinkBlobOutcome, UntagOutcome, UploadLimits,
    UploadRecord, UserRecord,
};
pub use metadata::{
    ArchiveStore, BlobRecordStore, ConsoleSession, ConsoleSessionStore, DomainManifestBody,
    GroupStore, IamPolicyStore, IdentityStore, ImageStore, KmsStore, LifecycleStore,
    MaintenanceStore, MetadataStore, RepositoryStore, ResourcePolicyStore, RoleStore,
    ScanningStore,
};
pub use metadata::{
    BackfillOutcome, BackfillRecord, NewReplicationTask, ReplicationAction, ReplicationTask,
    REPLICATION_COMPLETE, REPLICATION_FAILED, REPLICATION_IN_PROGRESS,
};
pub use metadata::{CreatePublicRegistryOutcome, PublicRegistryRecord, PublicRegistryStore};
pub use metadata::{CreateTemplateOutcome, TemplateRecord};
pub use metadata::{
    ImageScanRecord, ScanClaim, ScanOutcome, ScanRef, VulnImportOutcome, VulnRecordRow, VulnSource,
};
pub use metadata::{
    RepositoryMeasure, UsageAccrual, UsageFigures, UsageOrder, UsagePoint, UsageStore,
};
/// A fresh PostgreSQL database per test (`BERTH_TEST_POSTGRES`, or a throwaway cluster).
#[cfg(all(feature = "postgres", any(test, feature = "conformance")))]
pub use postgres::testing as postgres_testing;
#[cfg(feature = "postgres")]
pub use postgres::{PgMetadataStore, PgSettings, TableCount};
/// An S3 store per test, under its own prefix (`BERTH_TEST_S3_*`).
#[cfg(all(feature = "s3", any(test, feature = "conformance")))]
pub use s3_blob::testing as s3_testing;
#[cfg(feature = "s3")]
pub use s3_blob::{S3BlobStore, S3Settings};
pub use sqlite::SqliteMetadataStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Every store trait, for `use berth_store::prelude::*;`: a method of a
/// concern trait can be called through `dyn MetadataStore` only with that
/// trait in scope.
pub mod prelude {
    pub use crate::metadata::{
        ArchiveStore, BlobRecordStore, GroupStore, IamPolicyStore, IdentityStore, ImageStore,
        KmsStore, LifecycleStore, MaintenanceStore, MetadataStore, PublicRegistryStore,
        ReplicationStore, RepositoryStore, ResourcePolicyStore, RoleStore, ScanningStore,
        UsageStore,
    };
    pub use crate::BlobStore;
}

#[cfg(test)]
mod tests {
    /// On the S3 server `BERTH_TEST_S3_ENDPOINT` names (SeaweedFS in
    /// scripts/test.sh), under a prefix of its own.
    #[cfg(feature = "s3")]
    #[tokio::test]
    async fn s3_blob_store_conforms() {
        let store = crate::s3_testing::store().await;
        crate::conformance::blob_store_suite(&store).await;
    }

    #[cfg(feature = "s3")]
    #[tokio::test]
    async fn sealed_s3_blob_store_conforms() {
        let keys = std::sync::Arc::new(crate::sealed::Keyring::from_root(&[3u8; 32]));
        let store = crate::s3_testing::store().await.sealing(keys);
        crate::conformance::blob_store_suite(&store).await;
    }

    #[tokio::test]
    async fn fs_blob_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::FsBlobStore::open(dir.path()).await.unwrap();
        crate::conformance::blob_store_suite(&store).await;
    }

    #[tokio::test]
    async fn sealed_fs_blob_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let keys = std::sync::Arc::new(crate::sealed::Keyring::from_root(&[3u8; 32]));
        let store = crate::FsBlobStore::open(dir.path())
            .await
            .unwrap()
            .sealing(keys);
        crate::conformance::blob_store_suite(&store).await;
    }

    #[tokio::test]
    async fn sealed_fs_blob_store_keeps_key_domains_apart() {
        let dir = tempfile::tempdir().unwrap();
        let keys = std::sync::Arc::new(crate::sealed::Keyring::from_root(&[3u8; 32]));
        let plain = crate::FsBlobStore::open(dir.path().join("plain"))
            .await
            .unwrap();
        let store = crate::FsBlobStore::open(dir.path().join("sealed"))
            .await
            .unwrap()
            .sealing(keys.clone());
        crate::conformance::domain_suite(&store, &plain, &keys).await;
    }

    #[cfg(feature = "s3")]
    #[tokio::test]
    async fn sealed_s3_blob_store_keeps_key_domains_apart() {
        let keys = std::sync::Arc::new(crate::sealed::Keyring::from_root(&[3u8; 32]));
        let plain = crate::s3_testing::store().await;
        let store = crate::s3_testing::store().await.sealing(keys.clone());
        crate::conformance::domain_suite(&store, &plain, &keys).await;
    }

    #[tokio::test]
    async fn fs_blob_store_seals_plaintext_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let keys = std::sync::Arc::new(crate::sealed::Keyring::from_root(&[3u8; 32]));
        let plain = crate::FsBlobStore::open(dir.path()).await.unwrap();
        let sealing = crate::FsBlobStore::open(dir.path())
            .await
            .unwrap()
            .sealing(keys);
        crate::conformance::reseal_suite(&plain, &sealing).await;
    }

    #[cfg(feature = "s3")]
    #[tokio::test]
    async fn s3_blob_store_seals_plaintext_in_place() {
        let keys = std::sync::Arc::new(crate::sealed::Keyring::from_root(&[3u8; 32]));
        let plain = crate::s3_testing::store().await;
        let sealing = plain.clone().sealing(keys);
        crate::conformance::reseal_suite(&plain, &sealing).await;
    }

    /// Three keyrings over one root generation change (1, then 1 and 2
    /// with 2 current, then 2 alone), as a root rotation has them.
    fn rotation_keyrings() -> [std::sync::Arc<crate::sealed::Keyring>; 3] {
        use crate::sealed::{Keyring, Roots};
        let (r1, r2) = ([3u8; 32], [4u8; 32]);
        let ring = |current, roots: &[(u32, [u8; 32])]| {
            let roots = Roots::new(current, roots.iter().copied().collect()).unwrap();
            std::sync::Arc::new(Keyring::from_roots(&roots))
        };
        [
            ring(1, &[(1, r1)]),
            ring(2, &[(1, r1), (2, r2)]),
            ring(2, &[(2, r2)]),
        ]
    }

    #[tokio::test]
    async fn fs_blob_store_rewraps_under_a_new_root_generation() {
        let dir = tempfile::tempdir().unwrap();
        let open = || crate::FsBlobStore::open(dir.path());
        let [old, both, new] = rotation_keyrings();
        let (plain, old, both, new) = (
            open().await.unwrap(),
            open().await.unwrap().sealing(old),
            open().await.unwrap().sealing(both),
            open().await.unwrap().sealing(new),
        );
        crate::conformance::rewrap_suite(&old, &both, &new, &plain).await;
    }

    #[cfg(feature = "s3")]
    #[tokio::test]
    async fn s3_blob_store_rewraps_under_a_new_root_generation() {
        let [old, both, new] = rotation_keyrings();
        let plain = crate::s3_testing::store().await;
        let (o, b, n) = (
            plain.clone().sealing(old),
            plain.clone().sealing(both),
            plain.clone().sealing(new),
        );
        crate::conformance::rewrap_suite(&o, &b, &n, &plain).await;
    }

    /// One test per concern (`sqlite_metadata_store::repository_store_suite`, ...),
    /// each on a fresh database.
    mod sqlite_metadata_store {
        crate::metadata_store_conformance!(async {
            let dir = tempfile::tempdir().unwrap();
            let store = crate::SqliteMetadataStore::open(&dir.path().join("meta.db"))
                .await
                .unwrap();
            (store, dir)
        });
    }

    /// The same suites on PostgreSQL (`BERTH_TEST_POSTGRES`, see
    /// `postgres::testing`), each on a database of its own.
    #[cfg(feature = "postgres")]
    mod postgres_metadata_store {
        crate::metadata_store_conformance!(async {
            let db = crate::postgres_testing::TestDatabase::create().await;
            (db.store().await, db)
        });
    }
}
