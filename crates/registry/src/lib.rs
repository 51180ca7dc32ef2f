//! The registry domain: what may be stored, read, moved and deleted, and in
//! what order things must happen for that to stay true under crashes and
//! concurrency. HTTP and storage engines are someone else's business.
#![forbid(unsafe_code)]

mod account_settings;
mod archive;
mod blobs;
mod bodies;
mod cache;
mod clock;
mod cluster;
mod console_sessions;
mod domains;
mod error;
mod fastset;
mod fsck;
mod gallery;
mod gc;
mod hashing;
pub mod identity;
mod images;
pub mod kms;
pub mod lifecycle;
mod listing;
mod locks;
mod maintenance;
pub use maintenance::Readiness;
mod manifests;
mod public;
pub use gallery::{GalleryEntry, GalleryImage, GalleryRepository, GALLERY_IMAGES};
pub use public::{public_key, public_registry_arn, PublicCatalog, LOGO_MAX, PUBLIC_REGION};
mod pulls;
mod referrers;
mod replication;
pub use replication::{
    Backfill, DeleteReplication, Destination, RemoteDelete, RemoteError, RemoteRegistry,
    ReplicationConfiguration, ReplicationRule, ReplicationStatus, ReplicationTotals,
    RepositoryFilter,
};
mod repositories;
mod rewrap;
pub use console_sessions::{
    ConsoleUser, ABSOLUTE_MS as CONSOLE_ABSOLUTE_MS, IDLE_MS as CONSOLE_IDLE_MS,
};
pub use rewrap::RewrapRun;
pub use settings::account_setting_choices;
pub mod roots;
pub mod scanning;
mod sealing;
mod settings;
mod templates;
mod uploads;
mod usage;
pub use usage::{
    month_of, month_start, Cost, RegistryUsage, RepositoryUsage, UsageReport, UsageSampled, GIB,
};

/// The records the registry answers with. They are the store's own types
/// (one definition, nothing copied at the boundary), re-exported so that
/// the protocol layer depends on the domain only, never on the store.
pub use berth_store::{
    AccountRecord, BackfillRecord, Counts, Holder, HolderKind, ImageScanRecord, ImageStatus,
    LifecyclePolicyRecord, ManagedPolicyRecord, PublicRegistryRecord, RegistryKey,
    RepositoryRecord, ResourceTag, RoleUpdate, StatusFilter, TagStatus, UsageFigures, UsageOrder,
    UsagePoint, UserRecord,
};
pub use blobs::{BlobInfo, BlobRead, ByteRange};
pub use clock::{Clock, SystemClock};
pub use domains::domain_keyring;
pub use error::{Error, Result};
pub use fsck::{Fix, FsckCounts, FsckOptions, FsckProblem, FsckReport, Severity};
pub use gc::{GcOptions, GcPhase, GcRun, GcSnapshot};
pub use identity::{
    admin_may, aws_managed_policies, iam_may, resource_arn, user_arn, valid_account_id,
    valid_user_name, validate_policy_document, AccessKeyInfo, AdminAction, AnonymousAccess,
    AssumeRole, AssumedRoleUser, AwsManagedPolicy, Caller, CallerIdentity, IamGroup, IamRole,
    IamUser, Identity, NewAccessKey, NewRole, PolicyKind, PolicyScope, Principal, RequestFacts,
    Session, SignatureRefusal, TemporaryCredentials, TokenRefusal, ADMIN_USER,
    ANONYMOUS_PULL_ACTIONS, ANONYMOUS_PUSH_ACTIONS, MAX_ACCESS_KEYS_PER_USER, MAX_IAM_POLICY_CHARS,
    MAX_POLICY_CHARS, PUBLIC_READ_ACTIONS, TOKEN_LIFETIME_SECS,
};
pub use images::ImageDetail;
pub use lifecycle::{LifecyclePreview, LifecycleRun, PreviewResult, PreviewStatus};
pub use listing::Page;
pub use manifests::{ManifestRead, PutManifest};
pub use pulls::PULL_FLUSH_INTERVAL;
pub use repositories::{RepositorySettings, MAX_RESOURCE_TAGS};
pub use scanning::{
    ImportStats, RepositoryScanning, ScanningConfig, StoredFinding, SCAN_CLAIM, VULNDB_JOB,
};
pub use sealing::{SealRun, SealTotals};
pub use templates::{
    normalize_prefix, Template, TemplateSettings, APPLIED_FOR, CREATE_ON_PUSH, MAX_TEMPLATES,
    ROOT_PREFIX,
};
pub use uploads::{ChunkRange, UploadState};

use berth_oci::RepositoryName;
pub use berth_store::RepoId;
use berth_store::{BlobStore, MetadataStore};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use std::sync::Arc;
use std::time::Duration;

/// A request body or blob stream.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// A repository as a request names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repo {
    pub registry: RegistryKey,
    pub name: RepositoryName,
}

#[derive(Clone, Debug)]
pub struct RegistryConfig {
    /// Upload sessions untouched for this long are removed with their data.
    pub upload_expiry: Duration,
    /// Memory budget for cached manifest bodies.
    pub manifest_cache_bytes: u64,
    /// Garbage collection spares blobs uploaded, mounted or found by a
    /// `HEAD` within this long, referenced or not: a client that just
    /// pushed or checked a layer is about to push the manifest using it.
    pub gc_grace: Duration,
    /// Pushes to a repository that does not exist create it (Distribution's
    /// behaviour, and ECR's with a CREATE_ON_PUSH template for every
    /// name). Off, a push to an unknown repository is `NAME_UNKNOWN`.
    pub create_on_push: bool,
    /// Seals secrets at rest and signs login tokens. Every node of a
    /// deployment must use the same one.
    pub server_key: berth_iam::ServerKey,
    /// The account anonymous callers and plain host names address; its
    /// admin user administers the whole server (`identity/accounts.rs`).
    pub default_account: String,
    /// Image scans that may run at once (each on one blocking thread).
    pub scan_workers: usize,
    /// What callers without credentials may do (`--allow-anonymous`).
    pub anonymous: AnonymousAccess,
    /// The most upload sessions open at once in one repository, and opened
    /// by one principal (a session closes when completed, cancelled or
    /// expired).
    pub upload_sessions: berth_store::UploadLimits,
    /// Called (on a blocking thread) after each scan, whose kept files may
    /// have reached the 128 MiB budget: `berth serve` hands glibc's
    /// `malloc_trim` here, so that memory returns to the OS at once rather
    /// than at the next periodic trim.
    pub after_scan: Option<fn()>,
    /// Blob downloads answered with a redirect to a presigned URL of the
    /// blob store (S3), where it can make one, instead of streamed through
    /// the registry; GetDownloadUrlForLayer answers such URLs too.
    pub redirect_downloads: bool,
    /// How far ahead a scan's claim reaches (`SCAN_CLAIM`); renewed every
    /// quarter of it. Shorter only in tests of the takeover.
    pub scan_claim: Duration,
    /// Manifest bodies sealed at rest under keys from `server_key` (blob
    /// bytes are sealed by the blob store, given the same keys). Off only
    /// for the benchmark's unencrypted baseline.
    pub seal_at_rest: bool,
    /// What a GB-month of stored bytes costs (usage reports' estimates;
    /// ECR's price, $0.10, by default).
    pub storage_price: f64,
}

/// Open upload sessions allowed by default: far above what a CI farm keeps
/// open (docker pushes 5 layers at a time, so 400 pushes at once into one
/// repository, or by one user), far below what fills the uploads table.
pub const DEFAULT_UPLOAD_SESSIONS: berth_store::UploadLimits = berth_store::UploadLimits {
    per_repository: 2_000,
    per_principal: 2_000,
};

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            upload_expiry: Duration::from_secs(24 * 3600),
            manifest_cache_bytes: 64 * 1024 * 1024,
            gc_grace: Duration::from_secs(24 * 3600),
            create_on_push: false,
            // Tests and tools that never persist secrets; `berth serve`
            // always passes the data dir's key.
            server_key: berth_iam::ServerKey::from_bytes(&berth_iam::ServerKey::generate())
                .expect("a generated key has the right length"),
            default_account: "000000000000".into(),
            scan_workers: 1,
            anonymous: AnonymousAccess::Off,
            upload_sessions: DEFAULT_UPLOAD_SESSIONS,
            after_scan: None,
            redirect_downloads: false,
            scan_claim: SCAN_CLAIM,
            seal_at_rest: true,
            storage_price: 0.10,
        }
    }
}

pub struct Registry {
    blobs: Arc<dyn BlobStore>,
    /// Where the bytes of blobs that only archived images use go
    /// (`archive.rs`); `None`: archiving is refused.
    archive: Option<Arc<dyn BlobStore>>,
    meta: Arc<dyn MetadataStore>,
    clock: Arc<dyn Clock>,
    cache: cache::HotCache,
    /// One request at a time per upload session, across the cluster (`u:<id>`).
    upload_locks: locks::KeyedLocks,
    /// Held across "blob file in place" and "blob linked" by uploads, and
    /// across "record deleted" and "file deleted" by garbage collection.
    digest_locks: locks::KeyedLocks,
    /// Work that must not run twice at once in the deployment, whoever
    /// starts it (a usage sample: the job's or the admin API's).
    work_locks: locks::KeyedLocks,
    /// The other nodes of the deployment, if any (`cluster.rs`).
    cluster: Arc<dyn berth_store::Cluster>,
    gc: gc::GcJobs,
    pulls: pulls::PullLog,
    settings: Arc<settings::AccountSettings>,
    /// Who calls and what they may do (accounts, keys, policies).
    identity: identity::Identity,
    /// Held by a lifecycle run: one at a time per node.
    lifecycle_running: tokio::sync::Mutex<()>,
    scanning: Arc<scanning::Scanning>,
    /// Manifest bodies sealed on the way in, opened on the way out.
    bodies: bodies::Bodies,
    /// KMS keys and aliases (the KMS API).
    kms: Arc<kms::Kms>,
    /// The blob stores of KMS keys' storage domains (`domains.rs`).
    domains: Arc<domains::DomainStores>,
    /// What sealing plaintext from before encryption did (`sealing.rs`).
    sealing: sealing::SealCounters,
    /// Wakes this node's replication workers when a push queues work.
    replication_wake: tokio::sync::Notify,
    replication_counters: replication::ReplicationCounters,
    /// Regions served by other berth deployments (`replication/remote.rs`).
    replication_remotes: std::collections::HashMap<String, Arc<dyn RemoteRegistry>>,
    /// Public registry alias → account (an alias is never reassigned).
    public_aliases: quick_cache::sync::Cache<String, String>,
    config: RegistryConfig,
}

impl Registry {
    pub fn new(
        blobs: Arc<dyn BlobStore>,
        meta: Arc<dyn MetadataStore>,
        clock: Arc<dyn Clock>,
        config: RegistryConfig,
    ) -> Self {
        let settings = Arc::new(settings::AccountSettings::new(meta.clone()));
        let roots = roots::roots_of(&config.server_key);
        let keyring = config
            .seal_at_rest
            .then(|| Arc::new(berth_store::sealed::Keyring::from_roots(&roots)));
        let identity = identity::Identity::new(
            meta.clone(),
            clock.clone(),
            settings.clone(),
            identity::IdentityConfig {
                server_key: config.server_key.clone(),
                default_account: config.default_account.clone(),
                anonymous: config.anonymous,
            },
        );
        let kms = Arc::new(kms::Kms::new(meta.clone(), clock.clone(), &roots));
        let domains = Arc::new(domains::DomainStores::new(
            blobs.clone(),
            keyring.clone(),
            kms.clone(),
        ));
        let bodies = bodies::Bodies::new(keyring, domains.clone());
        Registry {
            kms,
            domains: domains.clone(),
            sealing: sealing::SealCounters::default(),
            replication_wake: tokio::sync::Notify::new(),
            replication_counters: Default::default(),
            replication_remotes: Default::default(),
            scanning: scanning::Scanning::new(
                domains,
                meta.clone(),
                clock.clone(),
                config.scan_workers,
                config.after_scan,
                config.scan_claim,
                bodies.clone(),
            ),
            bodies,
            blobs,
            archive: None,
            meta,
            clock,
            cache: cache::HotCache::new(config.manifest_cache_bytes),
            upload_locks: locks::KeyedLocks::default(),
            digest_locks: locks::KeyedLocks::default(),
            work_locks: locks::KeyedLocks::default(),
            cluster: Arc::new(berth_store::LocalCluster::default()),
            gc: gc::GcJobs::default(),
            pulls: pulls::PullLog::default(),
            settings,
            identity,
            lifecycle_running: tokio::sync::Mutex::new(()),
            public_aliases: quick_cache::sync::Cache::new(10_000),
            config,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Who calls and what they may do: accounts, users, keys, tokens,
    /// IAM and resource policies, `authorize`.
    pub fn identity(&self) -> &identity::Identity {
        &self.identity
    }

    /// The KMS API: keys, aliases, the cryptographic operations.
    pub fn kms(&self) -> kms::KmsApi<'_> {
        kms::KmsApi {
            kms: &self.kms,
            identity: &self.identity,
        }
    }

    /// Whether what is stored is sealed at rest (ECR's AES256): off only
    /// for the benchmark's unencrypted baseline.
    pub fn seals_at_rest(&self) -> bool {
        self.config.seal_at_rest
    }

    /// The account anonymous callers and plain host names address.
    pub fn default_account(&self) -> &str {
        &self.config.default_account
    }

    /// The registry's clock, in Unix seconds (signatures and tokens use it).
    pub fn now_secs(&self) -> i64 {
        self.now() / 1000
    }

    /// The repository's id, or `NameUnknown` if it does not exist.
    async fn repo_id(&self, repo: &Repo) -> Result<RepoId> {
        self.find_repo_id(repo)
            .await?
            .ok_or_else(|| Error::NameUnknown(repo.name.to_string()))
    }

    async fn find_repo_id(&self, repo: &Repo) -> Result<Option<RepoId>> {
        if let Some(id) = self.cache.repo(&repo.registry, repo.name.as_str()) {
            return Ok(Some(id));
        }
        let seen = self.cache.generation();
        let id = self
            .meta
            .find_repository(&repo.registry, repo.name.as_str())
            .await?;
        if let Some(id) = id {
            self.cache
                .fill_repo(seen, &repo.registry, repo.name.as_str(), id);
        }
        Ok(id)
    }

    /// The repository's id for a push: creating the repository when
    /// `create_on_push` is on, else `NameUnknown` if it does not exist.
    async fn repo_id_for_push(&self, repo: &Repo) -> Result<RepoId> {
        if let Some(id) = self.cache.repo(&repo.registry, repo.name.as_str()) {
            return Ok(id);
        }
        if let Some(id) = self.find_repo_id(repo).await? {
            return Ok(id);
        }
        // Public repositories are made by ECR Public's CreateRepository
        // only, with their catalog data.
        if repo.registry.region == PUBLIC_REGION {
            return Err(Error::NameUnknown(repo.name.to_string()));
        }
        // A repository created on push takes its creation template (ECR:
        // only a matching CREATE_ON_PUSH template creates one; berth's
        // `create_on_push` setting also creates one without).
        if let Some(t) = self
            .template_for(
                &repo.registry,
                repo.name.as_str(),
                templates::CREATE_ON_PUSH,
            )
            .await?
        {
            return self.create_from_template(repo, &t).await;
        }
        if !self.config.create_on_push {
            return Err(Error::NameUnknown(repo.name.to_string()));
        }
        // `ensure_repository` looks the name up before inserting.
        let seen = self.cache.generation();
        let id = self
            .meta
            .ensure_repository(&repo.registry, repo.name.as_str(), self.now())
            .await?;
        self.cache
            .fill_repo(seen, &repo.registry, repo.name.as_str(), id);
        Ok(id)
    }
}

#[cfg(test)]
mod archive_tests;
#[cfg(test)]
mod blobs_tests;
#[cfg(test)]
mod gc_tests;
#[cfg(test)]
mod listing_tests;
#[cfg(test)]
mod maintenance_tests;
#[cfg(test)]
mod manifests_tests;
#[cfg(test)]
mod pulls_tests;
#[cfg(test)]
mod referrers_tests;
#[cfg(test)]
mod test_fixture;
#[cfg(test)]
mod uploads_tests;
