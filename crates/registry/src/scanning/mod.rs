//! Vulnerability scanning, the registry's part: the vulnerability database
//! in the metadata store (`vulndb.rs`), scan jobs that read an image's
//! layers from the blob store through berth-scan (`image.rs`), the
//! registry scanning configuration (`config.rs`), and the bounded worker
//! pool that runs scans beside pushes and pulls.
//!
//! * A scan is queued by StartImageScan, by a push to a repository whose
//!   scanning says SCAN_ON_PUSH (or CONTINUOUS_SCAN), and at start for scans
//!   a stopped server left IN_PROGRESS (they are queued again: the image is
//!   still there, and a scan is idempotent).
//! * Each IN_PROGRESS scan carries a claim: this process's id and a time
//!   `SCAN_CLAIM` ahead, which the process renews while the scan is queued
//!   or running (`renew_scan_claims`, every quarter of the claim). On a
//!   cluster, a scan whose claim lapsed belonged to a node that died, and
//!   another node queues it again (`resume_scans`).
//! * At most `scan_workers` scans run at once (a semaphore); their CPU work
//!   (decompression, detection, matching) runs on the blocking pool, so the
//!   async workers serving requests are never held. At most `MAX_QUEUED`
//!   scans wait; more are marked FAILED at once ("queue full").
//! * The result of a scan is stored per (repository, image digest): status,
//!   findings, severity counts and the detection (the packages found), so a
//!   change of the database re-matches CONTINUOUS_SCAN repositories'
//!   images without reading layers again.

mod config;
mod image;
mod vulndb;

pub use config::{
    filter_matches, valid_filter, RepositoryFilter, RepositoryScanning, ScanningConfig,
    ScanningRule, BASIC, CONTINUOUS_SCAN, ENHANCED, MANUAL, SCAN_ON_PUSH,
};
pub use image::{ScanStatus, StoredFinding};
pub use vulndb::{ImportStats, VULNDB_JOB};

use crate::clock::Clock;
use crate::{Error, Registry, Repo, Result};
use berth_oci::Digest;
use berth_scan::{Limits, Record};
use berth_store::{ImageScanRecord, MetadataStore, RegistryKey, RepoId, ScanClaim, ScanRef};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Scans waiting for a worker beyond this are refused (FAILED).
pub const MAX_QUEUED: usize = 10_000;

/// How far ahead a scan's claim reaches by default
/// (`RegistryConfig::scan_claim`): a node that died is noticed this long
/// after its last renewal. Covers clock skew between nodes and a renewal
/// that fails a few times while PostgreSQL restarts. A process renews its
/// claims every quarter of it.
pub const SCAN_CLAIM: std::time::Duration = std::time::Duration::from_secs(120);

/// A scan IN_PROGRESS for less than this is not started again by
/// StartImageScan or a push (the running one will answer).
const RUNNING_FOR: i64 = 10 * 60 * 1000;

/// Parsed records kept between scans, by id (a record's weight is its JSON
/// length).
const RECORD_CACHE_BYTES: u64 = 64 << 20;

/// Every shard of the record cache can hold a record this heavy (the
/// largest OSV records, e.g. a kernel advisory naming hundreds of
/// packages, weigh a few hundred KiB); heavier ones are parsed per scan.
const LARGEST_CACHED_RECORD: u64 = 1 << 20;

/// A parsed record's rough size in the record cache: its text fields dominate.
#[derive(Clone)]
struct RecordBytes;

impl quick_cache::Weighter<String, Arc<(Option<String>, Record)>> for RecordBytes {
    fn weight(&self, _: &String, v: &Arc<(Option<String>, Record)>) -> u64 {
        let r = &v.1;
        (r.details.as_ref().map_or(0, String::len)
            + r.summary.as_ref().map_or(0, String::len)
            + r.affected.len() * 256
            + 256) as u64
    }
}

pub(crate) struct Scanning {
    /// The blob store and the key domains that hold KMS repositories'
    /// blobs.
    domains: Arc<crate::domains::DomainStores>,
    /// Opens the manifest bodies scans read.
    pub(crate) bodies: crate::bodies::Bodies,
    meta: Arc<dyn MetadataStore>,
    clock: Arc<dyn Clock>,
    permits: Arc<Semaphore>,
    workers: usize,
    queued: AtomicUsize,
    /// id -> (modified, record).
    records: quick_cache::sync::Cache<String, Arc<(Option<String>, Record)>, RecordBytes>,
    limits: Limits,
    configs: RwLock<HashMap<RegistryKey, Arc<ScanningConfig>>>,
    /// Bumped when the configurations are forgotten: a read that began
    /// before does not fill.
    configs_generation: AtomicU64,
    /// False while this node cannot hear other nodes' changes.
    caches_enabled: AtomicBool,
    /// `RegistryConfig::after_scan`.
    after_scan: Option<fn()>,
    /// This process's claimant id (`ScanClaim::by`), new at every start, so
    /// that a restarted node never renews its earlier life's claims.
    claimant: String,
    /// How far ahead a claim reaches, ms (`RegistryConfig::scan_claim`).
    claim_ms: i64,
}

impl Scanning {
    pub(crate) fn new(
        domains: Arc<crate::domains::DomainStores>,
        meta: Arc<dyn MetadataStore>,
        clock: Arc<dyn Clock>,
        workers: usize,
        after_scan: Option<fn()>,
        claim: std::time::Duration,
        bodies: crate::bodies::Bodies,
    ) -> Arc<Self> {
        Arc::new(Scanning {
            bodies,
            domains,
            meta,
            clock,
            permits: Arc::new(Semaphore::new(workers.max(1))),
            workers: workers.max(1),
            queued: AtomicUsize::new(0),
            records: quick_cache::sync::Cache::with_options(
                crate::cache::sharded_for(RECORD_CACHE_BYTES, LARGEST_CACHED_RECORD, 2048),
                RecordBytes,
                Default::default(),
                Default::default(),
            ),
            limits: Limits::default(),
            configs: RwLock::new(HashMap::new()),
            configs_generation: AtomicU64::new(0),
            caches_enabled: AtomicBool::new(true),
            after_scan,
            claimant: uuid::Uuid::new_v4().to_string(),
            claim_ms: i64::try_from(claim.as_millis()).unwrap_or(i64::MAX),
        })
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// A claim, from now, for a scan this process starts.
    fn claim(&self) -> ScanClaim<'_> {
        ScanClaim {
            by: &self.claimant,
            until: self.now().saturating_add(self.claim_ms),
        }
    }

    async fn config(&self, registry: &RegistryKey) -> Result<Arc<ScanningConfig>> {
        if let Some(c) = self.configs.read().get(registry) {
            return Ok(c.clone());
        }
        let seen = self.configs_generation.load(Ordering::SeqCst);
        let c = match self.meta.registry_scanning(registry).await? {
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                Error::Store(berth_store::StoreError::Corrupt(format!(
                    "stored scanning configuration: {e}"
                )))
            })?,
            None => ScanningConfig::default(),
        };
        let c = Arc::new(c);
        let mut configs = self.configs.write();
        if self.caches_enabled.load(Ordering::SeqCst)
            && self.configs_generation.load(Ordering::SeqCst) == seen
        {
            configs.entry(registry.clone()).or_insert_with(|| c.clone());
        }
        Ok(c)
    }

    /// Forgets the cached configurations (another node put one).
    pub(crate) fn forget_configs(&self) {
        let mut configs = self.configs.write();
        self.configs_generation.fetch_add(1, Ordering::SeqCst);
        configs.clear();
    }

    /// Forgets the cached vulnerability records (another node imported).
    pub(crate) fn forget_records(&self) {
        self.records.clear();
    }

    /// Empties the caches and stops or resumes filling the configurations'.
    pub(crate) fn set_caches_enabled(&self, enabled: bool) {
        self.caches_enabled.store(enabled, Ordering::SeqCst);
        self.forget_configs();
        self.forget_records();
    }

    /// Marks the scan IN_PROGRESS and queues it.
    async fn queue(self: &Arc<Self>, job: ScanRef, scan_type: &str) -> Result<i64> {
        let started_at = self.now();
        self.meta
            .start_image_scan(job.repo, &job.digest, scan_type, started_at, self.claim())
            .await?;
        self.spawn(job, started_at, scan_type.to_string()).await;
        Ok(started_at)
    }

    async fn spawn(self: &Arc<Self>, job: ScanRef, started_at: i64, scan_type: String) {
        if self.queued.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            let _ = self
                .meta
                .finish_image_scan(
                    job.repo,
                    &job.digest,
                    started_at,
                    &failed_outcome(
                        self.now(),
                        "the scan queue is full; start the scan again later",
                    ),
                )
                .await;
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let permit = this.permits.clone().acquire_owned().await;
            this.queued.fetch_sub(1, Ordering::SeqCst);
            let _permit = permit;
            this.run(&job, started_at, &scan_type).await;
            // The scan's view and inventories are dropped by now.
            if let Some(release) = this.after_scan {
                let _ = tokio::task::spawn_blocking(release).await;
            }
        });
    }
}

fn failed_outcome(now: i64, why: &str) -> berth_store::ScanOutcome<'_> {
    berth_store::ScanOutcome {
        status: "FAILED",
        description: Some(why),
        completed_at: now,
        source_updated_at: None,
        source_generation: None,
        findings: None,
        counts: None,
        detection: None,
    }
}

impl Registry {
    /// The registry's scanning configuration (BASIC without rules if never put).
    pub async fn registry_scanning(&self, registry: &RegistryKey) -> Result<ScanningConfig> {
        Ok((*self.scanning.config(registry).await?).clone())
    }

    pub async fn put_registry_scanning(
        &self,
        registry: &RegistryKey,
        config: ScanningConfig,
    ) -> Result<ScanningConfig> {
        config.validate()?;
        let text = serde_json::to_string(&config).expect("plain data serializes");
        self.meta.put_registry_scanning(registry, &text).await?;
        // Forgotten, not overwritten: another node's later put may already
        // have been applied here.
        self.scanning.forget_configs();
        Ok(config)
    }

    /// How a repository is scanned (`RepositoryNotFound` as `NameUnknown`).
    pub async fn repository_scanning(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<RepositoryScanning> {
        let record = self.repository(registry, name).await?;
        let config = self.scanning.config(registry).await?;
        Ok(config.for_repository(name, record.scan_on_push))
    }

    /// Starts a scan of an image (StartImageScan): `ManifestUnknown` if it
    /// is not in the repository, `UnsupportedImageType` if it is not an
    /// image (an artifact, a signature). A scan already running is left to
    /// finish; its record is answered.
    pub async fn start_image_scan(&self, repo: &Repo, digest: &Digest) -> Result<ImageScanRecord> {
        let repo_id = self.repo_id(repo).await?;
        let stored = self
            .scanning
            .bodies
            .get(&*self.meta, repo_id, digest)
            .await?
            .ok_or_else(|| Error::ManifestUnknown(digest.to_string()))?;
        if stored.status != berth_store::ImageStatus::Active {
            return Err(Error::ImageArchived {
                reference: digest.to_string(),
                status: stored.status,
            });
        }
        if let Err(why) = image::scannable(&stored.media_type, &stored.body) {
            return Err(Error::UnsupportedImageType(why));
        }
        if let Some(running) = self.meta.image_scan(repo_id, digest).await? {
            if running.status == "IN_PROGRESS" && self.now() - running.started_at < RUNNING_FOR {
                return Ok(running);
            }
        }
        let config = self.scanning.config(&repo.registry).await?;
        self.scanning
            .queue(
                ScanRef {
                    repo: repo_id,
                    registry: repo.registry.clone(),
                    name: repo.name.to_string(),
                    digest: digest.clone(),
                },
                &config.scan_type,
            )
            .await?;
        self.meta
            .image_scan(repo_id, digest)
            .await?
            .ok_or_else(|| Error::ManifestUnknown(digest.to_string()))
    }

    /// The image's last scan, if it was ever scanned.
    pub async fn image_scan(
        &self,
        repo: &Repo,
        digest: &Digest,
    ) -> Result<Option<ImageScanRecord>> {
        let repo_id = self.repo_id(repo).await?;
        Ok(self.meta.image_scan(repo_id, digest).await?)
    }

    /// After a push: queues a scan when the repository's scanning says so
    /// and the manifest is an image.
    pub(crate) async fn scan_after_push(
        &self,
        repo: &Repo,
        repo_id: RepoId,
        repo_scan_on_push: bool,
        digest: &Digest,
        media_type: &str,
        body: &[u8],
    ) {
        let config = match self.scanning.config(&repo.registry).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the scanning configuration; no scan on push");
                return;
            }
        };
        if !config
            .for_repository(repo.name.as_str(), repo_scan_on_push)
            .scan_on_push
            || image::scannable(media_type, body).is_err()
        {
            return;
        }
        let job = ScanRef {
            repo: repo_id,
            registry: repo.registry.clone(),
            name: repo.name.to_string(),
            digest: digest.clone(),
        };
        if let Err(e) = self.scanning.queue(job, &config.scan_type).await {
            tracing::warn!(error = %e, repository = %repo.name, %digest, "could not queue the scan on push");
        }
    }

    /// Queues again, under this process's claim, the scans left IN_PROGRESS
    /// whose claim lapsed (their process stopped); how many. `all`: every
    /// scan left IN_PROGRESS, for a node on its own at start (no other
    /// process can be running one). A node of several takes over the scans
    /// of a node that died and leaves those another node renews (if two
    /// run one anyway, the later start wins: the earlier result is
    /// discarded).
    pub async fn resume_scans(&self, all: bool) -> Result<usize> {
        let lapsed_before = if all { i64::MAX } else { self.now() };
        let jobs = self.meta.scans_in_progress(lapsed_before).await?;
        let n = jobs.len();
        for job in jobs {
            let config = self.scanning.config(&job.registry).await?;
            self.scanning.queue(job, &config.scan_type).await?;
        }
        Ok(n)
    }

    /// How often this process renews its scans' claims
    /// ([`renew_scan_claims`](Self::renew_scan_claims)), and how often, at
    /// half the claim, a cluster looks for scans whose claim lapsed
    /// ([`resume_scans`](Self::resume_scans)): a dead node's scans are
    /// taken over within one and a half claims.
    pub fn scan_claim_timers(&self) -> (std::time::Duration, std::time::Duration) {
        (self.config.scan_claim / 4, self.config.scan_claim / 2)
    }

    /// Moves the claims of this process's queued and running scans
    /// a claim ahead; how many. Writes nothing while none is pending.
    pub async fn renew_scan_claims(&self) -> Result<u64> {
        if self.scans_pending() == 0 {
            return Ok(0);
        }
        Ok(self.meta.renew_scan_claims(self.scanning.claim()).await?)
    }

    /// Scans queued or running (tests wait for it to reach 0).
    pub fn scans_pending(&self) -> usize {
        let s = &self.scanning;
        s.queued.load(Ordering::SeqCst) + (s.workers - s.permits.available_permits())
    }
}

#[cfg(test)]
mod tests;
