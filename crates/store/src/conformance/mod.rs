//! Conformance suites: every backend of a store trait must pass its suite.
//!
//! The metadata store's suites go one per concern (`repository_store_suite`,
//! `image_store_suite`, ...), each run on a fresh, empty store and bounded
//! by the concern traits it needs (a concern's suite also uses the ones
//! below it: images need repositories and blob links). A backend runs them
//! all with one constructor:
//!
//! ```ignore
//! mod my_backend_conformance {
//!     berth_store::metadata_store_conformance!(async {
//!         let store = MyStore::connect(/* a fresh, empty database */).await.unwrap();
//!         (store, ()) // the second value is kept alive until the test ends
//!     });
//! }
//! ```
//!
//! which makes one `#[tokio::test]` per concern, named after its suite, so
//! a failing concern shows by name. While a backend is being built, name
//! only the suites of the concerns it implements:
//! `metadata_store_conformance!(async { ... }; repository_store_suite, identity_store_suite);`.

mod archive;
mod blob_store;
mod blobs;
mod console;
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
mod roles_groups;
mod scanning;
mod usage;

pub use archive::archive_store_suite;
pub use blob_store::{blob_store_suite, domain_suite, reseal_suite, rewrap_suite};
pub use blobs::blob_record_store_suite;
pub use console::console_session_store_suite;
pub use iam::iam_policy_store_suite;
pub use identity::identity_store_suite;
pub use images::image_store_suite;
pub use kms::kms_store_suite;
pub use lifecycle::lifecycle_store_suite;
pub use maintenance::maintenance_store_suite;
pub use policies::resource_policy_store_suite;
pub use public::public_registry_store_suite;
pub use replication::replication_store_suite;
pub use repositories::repository_store_suite;
pub use roles_groups::{group_store_suite, role_store_suite};
pub use scanning::scanning_store_suite;
pub use usage::usage_store_suite;

use crate::metadata::{
    MetadataStore, NewManifest, RegistryKey, RepoId, RepositoryStore, UploadLimits, UploadRecord,
};
use berth_oci::{Algorithm, Digest};
use std::future::Future;

/// One `#[tokio::test]` per metadata concern suite, each on a store the
/// given expression makes: an `async` block (evaluated afresh per test)
/// giving `(store, guard)`, where `guard` (a temporary directory, a
/// container handle, `()`) lives until the test ends. With `; suite, ...`
/// after it, only those suites. The calling crate needs `tokio` with its
/// test macro.
#[macro_export]
macro_rules! metadata_store_conformance {
    ($fresh:expr) => {
        $crate::metadata_store_conformance!(
            $fresh;
            repository_store_suite,
            resource_policy_store_suite,
            blob_record_store_suite,
            image_store_suite,
            identity_store_suite,
            iam_policy_store_suite,
            role_store_suite,
            group_store_suite,
            kms_store_suite,
            replication_store_suite,
            console_session_store_suite,
            usage_store_suite,
            public_registry_store_suite,
            lifecycle_store_suite,
            archive_store_suite,
            scanning_store_suite,
            maintenance_store_suite,
        );
    };
    ($fresh:expr; $($suite:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $suite() {
                let (store, _guard) = $fresh.await;
                $crate::conformance::$suite(&store).await;
            }
        )+
    };
}

/// Every metadata concern suite in turn, each on a fresh store from
/// `fresh` (as `metadata_store_conformance!`, for callers that want one
/// test).
pub async fn metadata_store_suite<S, G, F, Fut>(fresh: F)
where
    S: MetadataStore,
    F: Fn() -> Fut,
    Fut: Future<Output = (S, G)>,
{
    macro_rules! each {
        ($($suite:ident),+) => {
            $({
                let (store, _guard) = fresh().await;
                $suite(&store).await;
            })+
        };
    }
    each!(
        repository_store_suite,
        resource_policy_store_suite,
        blob_record_store_suite,
        image_store_suite,
        identity_store_suite,
        iam_policy_store_suite,
        role_store_suite,
        group_store_suite,
        kms_store_suite,
        replication_store_suite,
        console_session_store_suite,
        usage_store_suite,
        public_registry_store_suite,
        lifecycle_store_suite,
        archive_store_suite,
        scanning_store_suite,
        maintenance_store_suite
    );
}

/// The registry most suites work in, and another for isolation checks.
fn registry() -> RegistryKey {
    RegistryKey {
        account_id: "000000000000".into(),
        region: "us-east-1".into(),
    }
}

/// `team/app` and `base` of `registry()`, where the blob and image suites
/// start.
async fn two_repositories<S: RepositoryStore + ?Sized>(
    store: &S,
    reg: &RegistryKey,
) -> (RepoId, RepoId) {
    let a = store.ensure_repository(reg, "team/app", 1).await.unwrap();
    let b = store.ensure_repository(reg, "base", 1).await.unwrap();
    (a, b)
}

/// An upload session of `repo`, opened at 100 by `000000000000:ci`.
fn upload_record(repo: RepoId) -> UploadRecord {
    UploadRecord {
        id: "u1".into(),
        repository: repo,
        size: 0,
        started_at: 100,
        updated_at: 100,
        started_by: Some("000000000000:ci".into()),
        hash_state: None,
    }
}

fn other_registry() -> RegistryKey {
    RegistryKey {
        account_id: "111111111111".into(),
        region: "us-east-1".into(),
    }
}

fn d(n: u8) -> Digest {
    Digest::of_bytes(Algorithm::Sha256, &[n])
}

/// A new repository's record: under KMS key `key` (an ARN), or AES256.
fn repository_record(name: &str, key: Option<&str>) -> crate::RepositoryRecord {
    crate::RepositoryRecord {
        id: RepoId(0),
        name: name.into(),
        created_at: 1,
        image_tag_mutability: "MUTABLE".into(),
        mutability_filters: None,
        scan_on_push: false,
        encryption_type: if key.is_some() { "KMS" } else { "AES256" }.into(),
        kms_key: key.map(str::to_string),
    }
}

/// Repository `name` of `reg` under KMS key `key` (an ARN).
async fn repository_under_key<S: RepositoryStore + ?Sized>(
    store: &S,
    reg: &RegistryKey,
    name: &str,
    key: &str,
) -> RepoId {
    store
        .create_repository(reg, &repository_record(name, Some(key)), &[])
        .await
        .unwrap()
        .unwrap()
        .id
}

fn manifest<'a>(
    digest: &'a Digest,
    body: &'a [u8],
    blobs: &'a [(Digest, u64)],
    children: &'a [(Digest, u64)],
    tag: Option<&'a str>,
) -> NewManifest<'a> {
    NewManifest {
        digest,
        media_type: "application/vnd.oci.image.manifest.v1+json",
        body,
        repository_body: false,
        size: body.len() as u64,
        artifact_type: None,
        annotations: None,
        subject: None,
        blob_refs: blobs,
        manifest_refs: children,
        tag,
        tag_immutable: false,
        refuse_existing: false,
        now: 1000,
    }
}

const LIMITS: UploadLimits = UploadLimits {
    per_repository: 1000,
    per_principal: 1000,
};
