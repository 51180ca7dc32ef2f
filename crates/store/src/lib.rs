//! Storage behind traits.
//!
//! * [`BlobStore`]: content-addressed bytes (layers, configs) and the
//!   temporary objects of upload sessions. Backend: [`FsBlobStore`].
//! * [`MetadataStore`]: repositories, manifests, tags, blob links and upload
//!   sessions, changed only in transactions. Backend: [`SqliteMetadataStore`].
//!
//! Stores do what they are told atomically and durably; what is *allowed*
//! is decided by the `registry` crate above.
#![deny(unsafe_code)]

mod blob;
mod error;
mod fs_blob;
mod metadata;
pub mod offload;
mod sqlite;
mod sys;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use blob::{BlobReader, BlobStore, UploadWriter};
pub use error::StoreError;
pub use fs_blob::{FsBlobStore, PRIVATE_DIR, PRIVATE_FILE};
pub use metadata::{
    AccessKeyRecord, AccountRecord, ArchiveImage, ArchiveOutcome, AttachOutcome, BlobLink,
    CollectOutcome, Counts, CreateUploadOutcome, CreateUserOutcome, DeleteManifestOutcome,
    DeletePolicyOutcome, DeleteRepositoryOutcome, DeleteUserOutcome, ExpireImage, ExpireOutcome,
    ImageRecord, ImageStatus, LifecycleImage, LifecyclePolicyRecord, LifecyclePreviewRecord,
    ManagedPolicyRecord, MetaProblem, MetaRepair, MetadataStore, NewManifest, PolicyVersionRecord,
    PutManifestOutcome, Referrer, RegistryKey, RepoId, RepoLabel, RepositoryLifecycle,
    RepositoryRecord, ResourceTag, RestoreOutcome, StatusFilter, StoredManifest, TagStatus,
    UnlinkBlobOutcome, UntagOutcome, UploadLimits, UploadRecord, UserRecord,
};
pub use metadata::{
    ImageScanRecord, ScanOutcome, ScanRef, VulnImportOutcome, VulnRecordRow, VulnSource,
};
pub use sqlite::SqliteMetadataStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn fs_blob_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::FsBlobStore::open(dir.path()).await.unwrap();
        crate::conformance::blob_store_suite(&store).await;
    }

    #[tokio::test]
    async fn sqlite_metadata_store_conforms() {
        use crate::MetadataStore;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteMetadataStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap();
        crate::conformance::metadata_store_suite(&store).await;
        store.close().await;
    }
}
