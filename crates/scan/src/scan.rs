//! One image's scan: read its layers in order, stack them, detect packages,
//! match them against the vulnerability database.
//!
//! [`scan_image`] does it all from layer streams. The parts stay public so
//! the registry can cache a layer's [`Inventory`] by diff id (a base layer
//! shared by many images is read once) and re-match a stored [`Detection`]
//! when the database changes, without reading layers again
//! ([`match_packages`]).

use std::io::Read;

use crate::detect::{detect, Detection, FoundPackage, OsInfo, PackageKind};
use crate::index::VulnDb;
use crate::layers::{
    apply_layer_within, read_layer_over, FileView, LayerError, Limits, OVER_IMAGE_BUDGET,
};
use crate::severity::{assess, CvssScore, Severity};
pub use crate::warnings::{Warnings, MAX_WARNINGS};

/// A record that affects a package of the image.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The OSV id (`DSA-5532-1`, `GHSA-...`, `CVE-...`).
    pub id: String,
    /// Index into [`Report::packages`].
    pub package: usize,
    /// Whether BASIC scanning reports it (OS packages) or only ENHANCED.
    pub kind: PackageKind,
    /// The version that fixes it, if the record knows one.
    pub fixed: Option<String>,
    pub severity: Severity,
    pub cvss: Option<CvssScore>,
    pub summary: Option<String>,
    pub aliases: Vec<String>,
}

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub os: Option<OsInfo>,
    pub packages: Vec<FoundPackage>,
    /// Ordered by package, then id.
    pub findings: Vec<Finding>,
    /// Layers read.
    pub layers: usize,
    /// Files that matter but were not read (size caps), malformed metadata.
    pub warnings: Vec<String>,
}

impl Report {
    /// The findings ECR's BASIC scanning reports: OS packages only.
    pub fn basic_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.kind == PackageKind::Os)
    }

    pub fn package_of(&self, f: &Finding) -> &FoundPackage {
        &self.packages[f.package]
    }
}

#[derive(Debug, thiserror::Error)]
#[error("layer {index}: {source}")]
pub struct ScanError {
    /// Zero-based, in manifest order.
    pub index: usize,
    #[source]
    pub source: LayerError,
}

/// Scans an image from its layer streams, lowest layer first.
pub fn scan_image<R: Read>(
    layers: impl IntoIterator<Item = R>,
    db: &VulnDb,
    limits: &Limits,
) -> Result<Report, ScanError> {
    let mut view = FileView::default();
    let mut count = 0;
    let mut dropped = Warnings::default();
    for (index, layer) in layers.into_iter().enumerate() {
        // A layer keeps at most what the budget has left beside the view
        // (and what it replaces), so the two together stay within it.
        let inv = read_layer_over(layer, limits, Some(&view))
            .map_err(|source| ScanError { index, source })?;
        let place = format!("layer {index}");
        dropped.extend(inv.dropped_warnings(&place));
        // The view holds only what the layers above may still override,
        // within the image's budget; each layer's inventory is dropped once
        // applied.
        dropped.extend(
            apply_layer_within(&mut view, inv, limits.max_kept_bytes)
                .warnings(&place, OVER_IMAGE_BUDGET),
        );
        count += 1;
    }
    let detection = detect(&view);
    let mut report = match_packages(detection, db);
    report.layers = count;
    dropped.extend(std::mem::take(&mut report.warnings));
    report.warnings = dropped.into_vec();
    Ok(report)
}

/// Matches detected packages against the database.
pub fn match_packages(detection: Detection, db: &VulnDb) -> Report {
    let mut findings = Vec::new();
    for (i, found) in detection.packages.iter().enumerate() {
        let Some(pkg) = found.as_package() else {
            continue;
        };
        let mut hits = db.matches(&pkg);
        hits.sort_by(|a, b| a.vulnerability.id().cmp(b.vulnerability.id()));
        for hit in hits {
            let record = &hit.vulnerability.record;
            let a = assess(record, Some(hit.affected));
            findings.push(Finding {
                id: record.id.clone(),
                package: i,
                kind: found.kind,
                fixed: hit.fixed,
                severity: a.severity,
                cvss: a.cvss,
                summary: record.summary.clone(),
                aliases: record.aliases.clone(),
            });
        }
    }
    Report {
        os: detection.os,
        packages: detection.packages,
        findings,
        layers: 0,
        warnings: detection.warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_past_the_cap_are_counted() {
        let mut w = Warnings::default();
        w.extend((0..MAX_WARNINGS + 5).map(|i| format!("w{i}")));
        let v = w.into_vec();
        assert_eq!(v.len(), MAX_WARNINGS + 1);
        assert_eq!(v[MAX_WARNINGS], "5 more warnings not listed");
    }
}
