//! Vulnerability scanning's storage (`0009_scanning.sql`): the
//! vulnerability database (OSV records and the keys they are found by),
//! layer inventories cached by digest, image scans and their findings,
//! and registry scanning configurations.
//!
//! An import stores a record only if newer than the stored one (and a
//! withdrawal deletes only if not older), so batches may arrive in any
//! order or twice. A scan's outcome is stored only if the scan that
//! produced it is still the image's last one: a rescan started meanwhile
//! wins. Findings and configurations are the registry's JSON text.

use super::{RegistryKey, RepoId};
use crate::Result;
use async_trait::async_trait;
use berth_oci::Digest;

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

/// Who runs an IN_PROGRESS scan (a process's id, new at every start) and
/// until when (ms); the process renews it while the scan is queued or runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanClaim<'a> {
    pub by: &'a str,
    pub until: i64,
}

/// An image scan and where its repository is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRef {
    pub repo: RepoId,
    pub registry: RegistryKey,
    pub name: String,
    pub digest: Digest,
}

/// The vulnerability database, layer inventories, image scans and
/// registry scanning configurations.
#[async_trait]
pub trait ScanningStore: Send + Sync {
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
    /// Marks the image's scan IN_PROGRESS from `now` under `claim`,
    /// replacing its last one.
    async fn start_image_scan(
        &self,
        repo: RepoId,
        digest: &Digest,
        scan_type: &str,
        now: i64,
        claim: ScanClaim<'_>,
    ) -> Result<()>;
    /// Moves every IN_PROGRESS claim of `claim.by` to `claim.until`; how many.
    async fn renew_scan_claims(&self, claim: ScanClaim<'_>) -> Result<u64>;
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
    /// Scans left IN_PROGRESS whose claim ran out before `lapsed_before` (a
    /// server stopped during them; on a cluster, a node that died). A scan
    /// without a claim counts from its start.
    async fn scans_in_progress(&self, lapsed_before: i64) -> Result<Vec<ScanRef>>;
    /// The repository's COMPLETE scans that kept their detection.
    async fn complete_scans(&self, repo: RepoId) -> Result<Vec<ImageScanRecord>>;
    async fn registry_scanning(&self, registry: &RegistryKey) -> Result<Option<String>>;
    async fn put_registry_scanning(&self, registry: &RegistryKey, config: &str) -> Result<()>;
    /// Every registry with a scanning configuration.
    async fn registry_scanning_all(&self) -> Result<Vec<(RegistryKey, String)>>;
}
