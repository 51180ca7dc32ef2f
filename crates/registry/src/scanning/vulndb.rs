//! The vulnerability database in the metadata store: importing OSV records
//! in batches, and building, for one scan, a small in-memory database of
//! only the records that name the packages it found (parsed records are
//! kept in a bounded LRU between scans). Imports add to what is stored: a
//! record replaces a stored one only if its `modified` is newer; withdrawn
//! records are deleted; records that name no ecosystem berth knows are not
//! stored. Nothing ever holds the whole database in memory.

use super::{Scanning, CONTINUOUS_SCAN, ENHANCED};
use crate::{Registry, Result};
use berth_scan::osv::{parse_record, Rejected};
use berth_scan::{package_keys, Detection, Loader, Record, VulnDb, Vulnerability};
use berth_store::{RepoId, ScanOutcome, VulnRecordRow, VulnSource};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The background job that refreshes the vulnerability database (`berth
/// serve --vuln-db-refresh`); its lease also orders the imports at start.
pub const VULNDB_JOB: &str = "vulndb";

/// What an import (or one batch of it) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportStats {
    /// Records read.
    pub read: u64,
    /// Stored (new, or newer than the stored version).
    pub stored: u64,
    /// Already stored at the same or a newer version.
    pub unchanged: u64,
    /// Withdrawn records (deleted if stored).
    pub withdrawn: u64,
    /// Records naming no ecosystem berth knows (not stored).
    pub unmatchable: u64,
    /// Not OSV JSON.
    pub invalid: u64,
    /// The first reasons records were invalid.
    pub errors: Vec<String>,
}

const KEPT_ERRORS: usize = 10;

impl ImportStats {
    pub fn add(&mut self, o: &ImportStats) {
        self.read += o.read;
        self.stored += o.stored;
        self.unchanged += o.unchanged;
        self.withdrawn += o.withdrawn;
        self.unmatchable += o.unmatchable;
        self.invalid += o.invalid;
        for e in &o.errors {
            if self.errors.len() < KEPT_ERRORS {
                self.errors.push(e.clone());
            }
        }
    }
}

impl Registry {
    /// Imports one batch of OSV records: (origin for error messages, JSON).
    /// Call [`finish_vuln_import`](Self::finish_vuln_import) after the last.
    pub async fn import_vuln_records(&self, batch: Vec<(String, Vec<u8>)>) -> Result<ImportStats> {
        let (rows, withdrawn, mut stats) = tokio::task::spawn_blocking(move || {
            let mut stats = ImportStats::default();
            let mut rows = Vec::new();
            let mut withdrawn = Vec::new();
            for (origin, json) in batch {
                stats.read += 1;
                let record = match parse_record(&json) {
                    Ok(r) => r,
                    Err(e) => {
                        stats.invalid += 1;
                        if stats.errors.len() < KEPT_ERRORS {
                            stats.errors.push(format!("{origin}: {e}"));
                        }
                        continue;
                    }
                };
                let (id, modified) = (record.id.clone(), record.modified.clone());
                match Vulnerability::new(record) {
                    Ok(v) => {
                        let packages = package_keys(&v)
                            .into_iter()
                            .map(|(e, n)| (e.as_str().to_string(), n))
                            .collect();
                        rows.push(VulnRecordRow {
                            id,
                            modified,
                            json: String::from_utf8_lossy(&json).into_owned(),
                            packages,
                        });
                    }
                    Err(Rejected::Withdrawn) => {
                        stats.withdrawn += 1;
                        withdrawn.push((id, modified));
                    }
                    Err(Rejected::NoKnownPackage) => stats.unmatchable += 1,
                }
            }
            (rows, withdrawn, stats)
        })
        .await
        .expect("parsing records does not panic");
        let o = self.meta.import_vuln_records(&rows, &withdrawn).await?;
        stats.stored = o.stored;
        stats.unchanged = o.unchanged;
        Ok(stats)
    }

    /// The lease for a node's import at start (`berth serve --vuln-db`),
    /// or `None` when the deployment's database was imported less than
    /// `fresh_for` ago by some node: nodes of a cluster that start
    /// together, or one after another, import once between them, not once
    /// each. The lease is the `vulndb` refresh job's, so a start import and
    /// a refresh never run at once. A node on its own always imports.
    pub async fn start_vuln_import(
        &self,
        fresh_for: std::time::Duration,
    ) -> Result<Option<berth_store::ClusterGuard>> {
        let lease = self
            .cluster
            .lock(&berth_store::job_lock_key(VULNDB_JOB))
            .await?;
        if self.is_clustered() {
            let fresh_for = i64::try_from(fresh_for.as_millis()).unwrap_or(i64::MAX);
            if let Some(last) = self.meta.vuln_source().await? {
                if self.now().saturating_sub(last.updated_at) < fresh_for {
                    return Ok(None);
                }
            }
        }
        Ok(Some(lease))
    }

    /// Marks an import finished (`vulnerabilitySourceUpdatedAt` is now) and
    /// re-matches the images of CONTINUOUS_SCAN repositories in the
    /// background.
    pub async fn finish_vuln_import(self: &Arc<Self>) -> Result<VulnSource> {
        let source = self.mark_vuln_import_finished().await?;
        let this = self.clone();
        tokio::spawn(async move {
            match this.rescan_continuous().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    images = n,
                    "continuous scanning re-matched images against the new vulnerability database"
                ),
                Err(e) => tracing::warn!(error = %e, "continuous rescans failed"),
            }
        });
        Ok(source)
    }

    /// Marks an import finished without re-matching anything (the caller
    /// runs [`rescan_continuous`](Self::rescan_continuous) itself).
    pub async fn mark_vuln_import_finished(&self) -> Result<VulnSource> {
        let source = self.meta.finish_vuln_import(self.now()).await?;
        // Records may have changed under the same id.
        self.scanning.records.clear();
        Ok(source)
    }

    pub async fn vuln_source(&self) -> Result<Option<VulnSource>> {
        Ok(self.meta.vuln_source().await?)
    }

    pub async fn vuln_record_count(&self) -> Result<u64> {
        Ok(self.meta.vuln_record_count().await?)
    }

    /// Re-matches the stored detections of every COMPLETE scan in
    /// repositories an ENHANCED CONTINUOUS_SCAN rule covers, without
    /// reading layers; how many images.
    pub async fn rescan_continuous(&self) -> Result<u64> {
        let mut n = 0;
        for (registry, text) in self.meta.registry_scanning_all().await? {
            let Ok(config) = serde_json::from_str::<super::ScanningConfig>(&text) else {
                continue;
            };
            if config.scan_type != ENHANCED
                || !config
                    .rules
                    .iter()
                    .any(|r| r.scan_frequency == CONTINUOUS_SCAN)
            {
                continue;
            }
            let mut after: Option<String> = None;
            loop {
                let names = self
                    .meta
                    .list_repositories(&registry, after.as_deref(), 500)
                    .await?;
                let Some(last) = names.last().cloned() else {
                    break;
                };
                for name in names {
                    if config.for_repository(&name, false).scan_frequency != CONTINUOUS_SCAN {
                        continue;
                    }
                    if let Some(repo) = self.meta.find_repository(&registry, &name).await? {
                        n += self.scanning.rematch(repo).await?;
                    }
                }
                after = Some(last);
            }
        }
        Ok(n)
    }
}

impl Scanning {
    async fn rematch(&self, repo: RepoId) -> Result<u64> {
        let mut n = 0;
        let source = self.meta.vuln_source().await?;
        for scan in self.meta.complete_scans(repo).await? {
            let Some(bytes) = scan.detection else {
                continue;
            };
            let Ok(detection) = berth_scan::cache::decode_or_legacy::<Detection>(&bytes) else {
                continue;
            };
            let (findings, counts) = self.match_detection(&detection, &scan.scan_type).await?;
            let findings = serde_json::to_string(&findings).expect("plain data serializes");
            let counts = serde_json::to_string(&counts).expect("plain data serializes");
            let stored = self
                .meta
                .finish_image_scan(
                    repo,
                    &scan.digest,
                    scan.started_at,
                    &ScanOutcome {
                        status: "COMPLETE",
                        description: scan.description.as_deref(),
                        completed_at: self.now(),
                        source_updated_at: source.map(|s| s.updated_at),
                        source_generation: source.map(|s| s.generation),
                        findings: Some(&findings),
                        counts: Some(&counts),
                        detection: Some(&bytes),
                    },
                )
                .await?;
            n += u64::from(stored);
        }
        Ok(n)
    }

    /// A database of just the records naming the detection's packages.
    pub(super) async fn db_for(&self, detection: &Detection) -> Result<VulnDb> {
        let mut keys: Vec<(String, String)> = Vec::new();
        for p in &detection.packages {
            let Some(pkg) = p.as_package() else { continue };
            let eco = pkg.ecosystem.name;
            let key = (
                eco.as_str().to_string(),
                eco.normalize_name(pkg.name).into_owned(),
            );
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let ids = self.meta.vuln_record_ids(&keys).await?;
        let mut records: Vec<Arc<(Option<String>, Record)>> = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for (id, modified) in ids {
            match self.records.get(&id) {
                Some(r) if r.0 == modified => records.push(r),
                _ => missing.push(id),
            }
        }
        for chunk in missing.chunks(200) {
            for (id, modified, json) in self.meta.vuln_records(chunk).await? {
                match parse_record(json.as_bytes()) {
                    Ok(r) => {
                        let r = Arc::new((modified, r));
                        self.records.insert(id, r.clone());
                        records.push(r);
                    }
                    Err(e) => {
                        tracing::warn!(id, error = %e, "a stored vulnerability record does not parse")
                    }
                }
            }
        }
        Ok(tokio::task::spawn_blocking(move || {
            let mut loader = Loader::new();
            for r in records {
                loader.add(r.1.clone());
            }
            loader.finish().0
        })
        .await
        .expect("building the database does not panic"))
    }
}
