//! One scan: the image's config and layers read from the blob store in
//! order (streamed into berth-scan on the blocking pool, never whole in
//! memory), each layer's inventory cached by the layer blob's digest, the
//! packages detected and matched against the records that name them.
//!
//! The cache key is the layer's (compressed) digest, not the config's
//! `rootfs.diff_ids` entry: a diff id is what the pusher *claims* the
//! uncompressed layer hashes to, and nothing checks it, so keying by it
//! would let one tenant's crafted config point another's base layer at an
//! empty inventory (no findings). The blob digest is verified on upload.
//! The diff id is stored beside it for information.
//!
//! An index is scanned per platform: each child image (attestation
//! manifests, `platform.os` "unknown", are skipped) gets its own scan
//! record, and the index's record holds the union of their packages and
//! findings, so DescribeImageScanFindings on the index (as on each child)
//! answers.

use super::{failed_outcome, Scanning};
use crate::Result;
use berth_oci::manifest::{Descriptor, Manifest, ManifestKind};
use berth_oci::Digest;
use berth_scan::layers::{apply_layer_within, read_layer_over, FileView, OVER_IMAGE_BUDGET};
use berth_scan::{cache, detect, match_packages, Detection, Inventory, PackageKind};
use berth_store::{BlobStore, RepoId, ScanOutcome, ScanRef};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// An image config is small; a larger one is refused.
const MAX_CONFIG_BYTES: u64 = 8 << 20;

/// ECR's description of an image without a known OS or package manager.
pub const UNSUPPORTED: &str =
    "UnsupportedImageError: The operating system and/or package manager are not supported.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    InProgress,
    Complete,
    Failed,
    UnsupportedImage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StoredFindingKind {
    Os,
    Language,
}

/// A finding as stored with the scan (JSON), enough for both BASIC and
/// ENHANCED shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFinding {
    /// The OSV id.
    pub id: String,
    pub aliases: Vec<String>,
    pub package: String,
    pub version: String,
    /// The OSV ecosystem (`Debian:12`, `PyPI`).
    pub ecosystem: Option<String>,
    /// OS or LANGUAGE.
    pub kind: StoredFindingKind,
    /// Where the package was found.
    pub path: String,
    pub fixed: Option<String>,
    pub severity: String,
    /// CVSS version ("2", "3.1", "4"), vector and base score when known.
    pub cvss_version: Option<String>,
    pub cvss_vector: Option<String>,
    pub cvss_score: Option<f64>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub uri: String,
    pub references: Vec<String>,
}

/// Whether a manifest is an image berth can scan: an image manifest with
/// an image config, or an index listing at least one platform image.
pub fn scannable(media_type: &str, body: &[u8]) -> std::result::Result<(), String> {
    let m = Manifest::parse(body, Some(media_type)).map_err(|e| e.to_string())?;
    match m.kind {
        ManifestKind::Image { config, .. } => {
            if IMAGE_CONFIGS.contains(&config.media_type.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "The image has config media type '{}'; only container images can be scanned",
                    config.media_type
                ))
            }
        }
        ManifestKind::Index { .. } => {
            if platform_children(body).is_empty() {
                Err("The image index lists no platform images".into())
            } else {
                Ok(())
            }
        }
    }
}

/// The children of an index that are platform images (not attestations).
fn platform_children(body: &[u8]) -> Vec<Digest> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    v["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["platform"]["os"].as_str() != Some("unknown"))
        .filter(|m| {
            matches!(
                m["mediaType"].as_str(),
                Some(berth_oci::media_type::OCI_MANIFEST)
                    | Some(berth_oci::media_type::DOCKER_MANIFEST_V2)
            )
        })
        .filter_map(|m| m["digest"].as_str()?.parse().ok())
        .collect()
}

/// What scanning one manifest came to.
enum Scanned {
    Detected(Detection),
    Unsupported(String),
}

impl Scanning {
    /// Runs a queued scan and stores its outcome.
    pub(super) async fn run(&self, job: &ScanRef, started_at: i64, scan_type: &str) {
        let outcome = match self.repo_blobs(job).await {
            Ok(store) => {
                self.scan(&*store, job.repo, &job.digest, true, scan_type)
                    .await
            }
            Err(e) => Err(e.to_string()),
        };
        let stored = match outcome {
            Ok(Scanned::Detected(detection)) => {
                self.finish(job.repo, &job.digest, started_at, scan_type, detection)
                    .await
            }
            Ok(Scanned::Unsupported(why)) => self
                .meta
                .finish_image_scan(
                    job.repo,
                    &job.digest,
                    started_at,
                    &ScanOutcome {
                        status: "UNSUPPORTED_IMAGE",
                        description: Some(&why),
                        completed_at: self.now(),
                        source_updated_at: None,
                        source_generation: None,
                        findings: None,
                        counts: None,
                        detection: None,
                    },
                )
                .await
                .map(drop)
                .map_err(crate::Error::from),
            Err(why) => {
                tracing::warn!(repository = %job.name, digest = %job.digest, error = %why, "scan failed");
                self.meta
                    .finish_image_scan(
                        job.repo,
                        &job.digest,
                        started_at,
                        &failed_outcome(self.now(), &why),
                    )
                    .await
                    .map(drop)
                    .map_err(crate::Error::from)
            }
        };
        if let Err(e) = stored {
            tracing::warn!(repository = %job.name, digest = %job.digest, error = %e, "could not store a scan's outcome");
        }
    }

    /// Matches a detection and stores it as the scan's COMPLETE outcome.
    pub(super) async fn finish(
        &self,
        repo: RepoId,
        digest: &Digest,
        started_at: i64,
        scan_type: &str,
        detection: Detection,
    ) -> Result<()> {
        let source = self.meta.vuln_source().await?;
        let (findings, counts) = self.match_detection(&detection, scan_type).await?;
        let encoded = {
            let d = detection;
            tokio::task::spawn_blocking(move || cache::encode(&d))
                .await
                .expect("encoding does not panic")
        };
        let findings = serde_json::to_string(&findings).expect("plain data serializes");
        let counts = serde_json::to_string(&counts).expect("plain data serializes");
        self.meta
            .finish_image_scan(
                repo,
                digest,
                started_at,
                &ScanOutcome {
                    status: "COMPLETE",
                    description: Some("The scan was completed successfully."),
                    completed_at: self.now(),
                    source_updated_at: source.map(|s| s.updated_at),
                    source_generation: source.map(|s| s.generation),
                    findings: Some(&findings),
                    counts: Some(&counts),
                    detection: Some(&encoded),
                },
            )
            .await?;
        Ok(())
    }

    /// The findings of a detection (BASIC: OS packages only) and their
    /// counts by severity.
    pub(super) async fn match_detection(
        &self,
        detection: &Detection,
        scan_type: &str,
    ) -> Result<(Vec<StoredFinding>, BTreeMap<String, u64>)> {
        let db = self.db_for(detection).await?;
        let detection = detection.clone();
        let basic = scan_type == super::BASIC;
        let findings = tokio::task::spawn_blocking(move || {
            let report = match_packages(detection, &db);
            let mut out: Vec<StoredFinding> = Vec::new();
            for f in &report.findings {
                if basic && f.kind != PackageKind::Os {
                    continue;
                }
                let p = report.package_of(f);
                // An index's merged detection may list a package per platform.
                if out
                    .iter()
                    .any(|o| o.id == f.id && o.package == p.name && o.version == p.version)
                {
                    continue;
                }
                let record = db.get(&f.id).map(|v| &v.record);
                let references: Vec<String> = record
                    .map(|r| r.references.iter().map(|x| x.url.clone()).collect())
                    .unwrap_or_default();
                let uri = record
                    .and_then(|r| {
                        r.references
                            .iter()
                            .find(|x| x.kind.as_deref() == Some("ADVISORY"))
                            .or_else(|| r.references.first())
                            .map(|x| x.url.clone())
                    })
                    .unwrap_or_else(|| format!("https://osv.dev/vulnerability/{}", f.id));
                out.push(StoredFinding {
                    id: f.id.clone(),
                    aliases: f.aliases.clone(),
                    package: p.name.clone(),
                    version: p.version.clone(),
                    ecosystem: p.ecosystem.as_ref().map(ecosystem_string),
                    kind: match f.kind {
                        PackageKind::Os => StoredFindingKind::Os,
                        PackageKind::Language => StoredFindingKind::Language,
                    },
                    path: p.path.clone(),
                    fixed: f.fixed.clone(),
                    severity: f.severity.as_str().to_string(),
                    cvss_version: f.cvss.as_ref().map(|c| c.version.as_str().to_string()),
                    cvss_vector: f.cvss.as_ref().map(|c| c.vector.clone()),
                    cvss_score: f.cvss.as_ref().map(|c| c.score),
                    summary: f.summary.clone(),
                    description: record
                        .and_then(|r| r.details.clone().or_else(|| r.summary.clone())),
                    uri,
                    references,
                });
            }
            out
        })
        .await
        .expect("matching does not panic");
        let mut counts = BTreeMap::new();
        for f in &findings {
            *counts.entry(f.severity.clone()).or_insert(0u64) += 1;
        }
        Ok((findings, counts))
    }

    /// The blob store that holds the job's repository's blobs: the
    /// registry's, or its KMS key's domain, once the key is found enabled
    /// and ECR's grant for the repository in place (a scan reads the image
    /// as a pull would: a disabled key or a revoked grant fails it).
    async fn repo_blobs(&self, job: &ScanRef) -> Result<Arc<dyn BlobStore>> {
        let key = self
            .meta
            .get_repository(&job.registry, &job.name)
            .await?
            .and_then(|r| r.kms_key);
        if let Some(arn) = &key {
            let repository = crate::identity::resource_arn(&job.registry, Some(&job.name));
            self.domains.require_ecr_decrypt(arn, &repository).await?;
        }
        self.domains.for_key(key.as_deref()).await
    }

    /// Scans a manifest: an image, or (at the top) an index per platform.
    fn scan<'a>(
        &'a self,
        store: &'a dyn BlobStore,
        repo: RepoId,
        digest: &'a Digest,
        top: bool,
        scan_type: &'a str,
    ) -> futures_util::future::BoxFuture<'a, std::result::Result<Scanned, String>> {
        Box::pin(async move {
            let stored = self
                .bodies
                .get(&*self.meta, repo, digest)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("The image {digest} is no longer in the repository"))?;
            if let Err(why) = scannable(&stored.media_type, &stored.body) {
                return Ok(Scanned::Unsupported(why));
            }
            let m = Manifest::parse(&stored.body, Some(&stored.media_type))
                .map_err(|e| e.to_string())?;
            match m.kind {
                ManifestKind::Image { config, layers } => {
                    self.scan_image(store, &config, &layers).await
                }
                ManifestKind::Index { .. } if !top => Ok(Scanned::Unsupported(
                    "A nested image index is not scanned".into(),
                )),
                ManifestKind::Index { .. } => {
                    self.scan_index(store, repo, &stored.body, scan_type).await
                }
            }
        })
    }

    async fn scan_index(
        &self,
        store: &dyn BlobStore,
        repo: RepoId,
        body: &[u8],
        scan_type: &str,
    ) -> std::result::Result<Scanned, String> {
        let mut merged = Detection::default();
        let mut warnings = berth_scan::scan::Warnings::default();
        let mut seen = std::collections::HashSet::new();
        let mut any = false;
        let mut last_unsupported = String::from("The image index lists no platform images");
        for child in platform_children(body) {
            let started = self.now();
            let scanned = self.scan(store, repo, &child, false, scan_type).await?;
            // Each platform image keeps its own record too.
            match scanned {
                Scanned::Detected(d) => {
                    any = true;
                    if self
                        .meta
                        .start_image_scan(repo, &child, scan_type, started, self.claim())
                        .await
                        .is_ok()
                    {
                        let _ = self
                            .finish(repo, &child, started, scan_type, d.clone())
                            .await;
                    }
                    if merged.os.is_none() {
                        merged.os = d.os;
                    }
                    for p in d.packages {
                        // A set, not `contains` on the list: a child may
                        // list a million packages within its budget.
                        if seen.insert(p.clone()) {
                            merged.packages.push(p);
                        }
                    }
                    warnings.extend(d.warnings);
                }
                Scanned::Unsupported(why) => last_unsupported = why,
            }
        }
        merged.warnings = warnings.into_vec();
        Ok(if any {
            Scanned::Detected(merged)
        } else {
            Scanned::Unsupported(last_unsupported)
        })
    }

    async fn scan_image(
        &self,
        store: &dyn BlobStore,
        config: &Descriptor,
        layers: &[Descriptor],
    ) -> std::result::Result<Scanned, String> {
        let config_bytes = self.read_small(store, &config.digest).await?;
        let diff_ids: Vec<String> = serde_json::from_slice::<serde_json::Value>(&config_bytes)
            .ok()
            .and_then(|v| {
                v["rootfs"]["diff_ids"].as_array().map(|a| {
                    a.iter()
                        .map(|d| d.as_str().unwrap_or_default().to_string())
                        .collect()
                })
            })
            .unwrap_or_default();
        let mut view = FileView::default();
        let mut warnings = berth_scan::scan::Warnings::default();
        for (i, layer) in layers.iter().enumerate() {
            if berth_oci::media_type::NON_DISTRIBUTABLE_LAYERS.contains(&layer.media_type.as_str())
            {
                warnings.extend([format!(
                    "layer {i} ({}) is non-distributable and not stored here; not read",
                    layer.digest
                )]);
                continue;
            }
            let (inv, below) = self
                .inventory(store, layer, diff_ids.get(i).map(String::as_str), view)
                .await
                .map_err(|e| format!("layer {i} ({}): {e}", layer.digest))?;
            view = below;
            let place = format!("layer {i}");
            warnings.extend(inv.dropped_warnings(&place));
            // The per-image budget: the view, which accumulates the layers'
            // kept files, holds at most `max_kept_bytes` however many layers
            // the image has (a layer being read holds at most as much too),
            // so a scan worker holds at most twice the budget.
            warnings.extend(
                apply_layer_within(&mut view, inv, self.limits.max_kept_bytes)
                    .warnings(&place, OVER_IMAGE_BUDGET),
            );
        }
        let mut detection = tokio::task::spawn_blocking(move || detect(&view))
            .await
            .expect("detection does not panic");
        warnings.extend(std::mem::take(&mut detection.warnings));
        detection.warnings = warnings.into_vec();
        if detection.os.is_none() && detection.packages.is_empty() {
            return Ok(Scanned::Unsupported(UNSUPPORTED.into()));
        }
        Ok(Scanned::Detected(detection))
    }

    async fn read_small(
        &self,
        store: &dyn BlobStore,
        digest: &Digest,
    ) -> std::result::Result<Vec<u8>, String> {
        let size = store
            .stat(digest)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("blob {digest} is missing from the blob store"))?;
        if size > MAX_CONFIG_BYTES {
            return Err(format!(
                "the image config is {size} bytes, over the {MAX_CONFIG_BYTES}-byte limit"
            ));
        }
        let reader = store
            .read(digest, 0, size)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("blob {digest} is missing from the blob store"))?;
        let mut out = Vec::with_capacity(size as usize);
        let mut stream = reader.stream;
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        Ok(out)
    }

    /// A layer's inventory: from the cache, else read from the blob store
    /// (streamed through a small channel into the blocking pool) and cached.
    /// The view of the layers below goes along and comes back.
    ///
    /// A layer is read over the view (`read_layer_over`): it keeps at most
    /// what the image's budget has left beside the view (plus what it
    /// replaces), so the simple attack of many layers of different files
    /// holds at most the budget. Such an inventory depends on the image it
    /// was read for when it dropped files over a non-empty view: it is then
    /// not cached (the next image reads the layer with its own budget). A
    /// cached inventory (read under the full budget) may hold up to the
    /// budget beside the view: a scan holds at most twice the budget in
    /// kept files, and only then.
    async fn inventory(
        &self,
        store: &dyn BlobStore,
        layer: &Descriptor,
        diff_id: Option<&str>,
        view: FileView,
    ) -> std::result::Result<(Inventory, FileView), String> {
        if let Some(bytes) = self
            .meta
            .layer_inventory(&layer.digest)
            .await
            .map_err(|e| e.to_string())?
        {
            match tokio::task::spawn_blocking(move || cache::decode::<Inventory>(&bytes))
                .await
                .expect("decoding does not panic")
            {
                Ok(inv) => return Ok((inv, view)),
                // Written by an earlier version as JSON (file bytes as
                // number arrays, ~4× their size): never parsed, the layer
                // is read again and the row replaced.
                Err(cache::CacheError::Legacy) => {
                    tracing::debug!(layer = %layer.digest, "cached layer inventory in the old encoding; reading the layer again")
                }
                Err(e) => {
                    tracing::warn!(layer = %layer.digest, error = %e, "cached layer inventory unreadable; reading the layer again")
                }
            }
        }
        let size = store
            .stat(&layer.digest)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the layer blob is missing from the blob store")?;
        let reader = store
            .read(&layer.digest, 0, size)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the layer blob is missing from the blob store")?;
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
        let limits = self.limits.clone();
        let reading = tokio::task::spawn_blocking(move || {
            let inv = read_layer_over(
                ChannelReader {
                    rx,
                    chunk: Bytes::new(),
                },
                &limits,
                Some(&view),
            )?;
            let the_layers_own = view.kept == 0 || inv.dropped_total == 0;
            let encoded = the_layers_own.then(|| cache::encode(&inv));
            Ok::<_, berth_scan::LayerError>((inv, encoded, view))
        });
        let mut stream = reader.stream;
        while let Some(chunk) = stream.next().await {
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                // The reader stopped (done early or failed) or the read did.
                break;
            }
        }
        drop(tx);
        let (inv, encoded, view) = reading
            .await
            .expect("reading a layer does not panic")
            .map_err(|e| e.to_string())?;
        let Some(encoded) = encoded else {
            return Ok((inv, view));
        };
        if let Err(e) = self
            .meta
            .put_layer_inventory(&layer.digest, diff_id, &encoded, self.now())
            .await
        {
            tracing::warn!(layer = %layer.digest, error = %e, "could not cache a layer inventory");
        }
        Ok((inv, view))
    }
}

/// A blocking `Read` over chunks an async task sends.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(c)) => self.chunk = c,
                Some(Err(e)) => return Err(e),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

fn ecosystem_string(e: &berth_scan::Ecosystem) -> String {
    match &e.release {
        Some(r) => format!("{}:{r}", e.name.as_str()),
        None => e.name.as_str().to_string(),
    }
}
