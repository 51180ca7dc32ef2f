//! Finding installed packages in an image's file view: the distribution
//! from `os-release`, OS packages from the dpkg and apk databases, language
//! packages from Python's `METADATA`/`PKG-INFO`, npm's `package.json`, Go
//! binaries' build information and cargo-auditable's `.dep-v0`.
//!
//! The rules follow what Trivy, Grype and osv-scanner read: dpkg packages
//! are matched on their source package (Debian's OSV records name source
//! packages), apk packages on their origin (Alpine's secdb does the same),
//! only packages dpkg says are installed count. Every parser takes bytes an
//! image author controls: malformed input skips the entry, never panics.

mod dpkg;
mod golang;
mod node;
mod os_release;
mod python;
mod rpm;
mod rust;
mod sqlite;

pub use dpkg::parse_status as parse_dpkg_status;
pub use golang::go_modules;
pub use node::parse_package_json;
pub use os_release::{parse_os_release, OsRelease};
pub use python::parse_metadata as parse_python_metadata;
pub use rpm::{parse_header as parse_rpm_header, parse_rpmdb_sqlite, RpmPackage};
pub use rust::auditable_crates;
pub use sqlite::column_bytes as sqlite_column_bytes;

use crate::layers::FileView;
use crate::matching::Package;
use crate::osv::{Ecosystem, EcosystemName};

/// OS packages are what ECR's BASIC scanning reports; language packages are
/// added by ENHANCED.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum PackageKind {
    Os,
    Language,
}

/// The package a distribution builds binary packages from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SourcePackage {
    pub name: String,
    /// Set when it differs from the binary package's version (dpkg's
    /// `Source: name (version)`, binNMUs and the like).
    pub version: Option<String>,
}

/// A package found in an image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FoundPackage {
    pub kind: PackageKind,
    /// `None`: an OS package of a distribution berth has no ecosystem for
    /// (it is listed, never matched).
    pub ecosystem: Option<Ecosystem>,
    /// The binary (installed) package's name; PyPI names in PEP 503 form.
    pub name: String,
    pub version: String,
    pub source: Option<SourcePackage>,
    /// The file it was read from.
    pub path: String,
}

impl FoundPackage {
    /// The name records are looked up by: the source package where there
    /// is one.
    pub fn match_name(&self) -> &str {
        self.source.as_ref().map_or(&self.name, |s| &s.name)
    }

    /// The version compared against records: the source version where dpkg
    /// gives one, as Trivy and Grype do, since Debian's ranges are source
    /// versions.
    pub fn match_version(&self) -> &str {
        self.source
            .as_ref()
            .and_then(|s| s.version.as_deref())
            .unwrap_or(&self.version)
    }

    /// The package as the matcher sees it; `None` when it cannot be matched.
    pub fn as_package(&self) -> Option<Package<'_>> {
        Some(Package {
            ecosystem: self.ecosystem.as_ref()?,
            name: self.match_name(),
            version: self.match_version(),
        })
    }
}

/// The distribution, from `etc/os-release` (else `usr/lib/os-release`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OsInfo {
    pub release: OsRelease,
    /// The OSV ecosystem of its packages (`Debian:12`); `None` for a
    /// distribution berth does not know.
    pub ecosystem: Option<Ecosystem>,
}

/// What detection found in one image.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    pub os: Option<OsInfo>,
    /// In the order found: OS packages first, then language packages by path.
    pub packages: Vec<FoundPackage>,
    /// Files that could not be read (too large, malformed), for the report.
    pub warnings: Vec<String>,
}

/// Where rpm keeps its sqlite database: RHEL 9 and clones, and Fedora 36+ /
/// openSUSE (where `var/lib/rpm` is a link to it).
pub const RPMDB_PATHS: [&str; 2] = [
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
];

/// Detects the OS and packages of an image's file view.
pub fn detect(view: &FileView) -> Detection {
    let mut d = Detection::default();
    for (path, size) in view.too_large() {
        d.warnings.push(format!(
            "{path}: {size} bytes, over the size limit; not read"
        ));
    }
    d.os = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| view.read(p))
        .map(|bytes| {
            let release = parse_os_release(&String::from_utf8_lossy(bytes));
            let ecosystem = Ecosystem::from_os_release(&release.id, release.version_id.as_deref());
            OsInfo { release, ecosystem }
        });
    let os_eco = d.os.as_ref().and_then(|o| o.ecosystem.clone());

    for (path, bytes) in view.iter() {
        let text = || String::from_utf8_lossy(bytes);
        if path == "var/lib/dpkg/status" || path.starts_with("var/lib/dpkg/status.d/") {
            // distroless status.d files carry no Status field: present means
            // installed there.
            let per_package = path != "var/lib/dpkg/status";
            let eco = os_eco
                .clone()
                .filter(|e| e.name.scheme() == Some(crate::Scheme::Dpkg));
            for p in dpkg::parse_status(&text(), per_package) {
                d.packages.push(FoundPackage {
                    kind: PackageKind::Os,
                    ecosystem: eco.clone(),
                    name: p.name,
                    version: p.version,
                    source: p.source,
                    path: path.to_string(),
                });
            }
        } else if RPMDB_PATHS.contains(&path) {
            // One database: where both paths lead to one file (a link), the
            // first is read.
            if RPMDB_PATHS
                .iter()
                .take_while(|p| **p != path)
                .any(|p| view.read(p).is_some())
            {
                continue;
            }
            let eco = os_eco
                .clone()
                .filter(|e| e.name.scheme() == Some(crate::Scheme::Rpm));
            let Some(pkgs) = rpm::parse_rpmdb_sqlite(bytes) else {
                d.warnings
                    .push(format!("{path}: not an rpm sqlite database"));
                continue;
            };
            for p in pkgs {
                d.packages.push(FoundPackage {
                    kind: PackageKind::Os,
                    ecosystem: eco.clone(),
                    name: p.name,
                    version: p.version,
                    // Red Hat-family OSV records name binary packages, so
                    // the source rpm is not what matching looks up.
                    source: None,
                    path: path.to_string(),
                });
            }
        } else if path == "lib/apk/db/installed" {
            let eco = os_eco.clone().filter(|e| {
                matches!(
                    e.name,
                    EcosystemName::Alpine | EcosystemName::Wolfi | EcosystemName::Chainguard
                )
            });
            for p in parse_apk_installed(&text()) {
                d.packages.push(FoundPackage {
                    kind: PackageKind::Os,
                    ecosystem: eco.clone(),
                    path: path.to_string(),
                    ..p
                });
            }
        }
    }
    for (path, bytes) in view.iter() {
        let found = if path.ends_with("/METADATA")
            || path.ends_with("/PKG-INFO")
            || path.ends_with(".egg-info")
        {
            python::parse_metadata(&String::from_utf8_lossy(bytes)).map(|(name, version)| {
                (
                    Ecosystem::new(EcosystemName::PyPI),
                    EcosystemName::PyPI.normalize_name(&name).into_owned(),
                    version,
                )
            })
        } else if path.ends_with("/package.json") {
            node::parse_package_json(bytes)
                .map(|(name, version)| (Ecosystem::new(EcosystemName::Npm), name, version))
        } else {
            continue;
        };
        match found {
            Some((ecosystem, name, version)) => d.packages.push(FoundPackage {
                kind: PackageKind::Language,
                ecosystem: Some(ecosystem),
                name,
                version,
                source: None,
                path: path.to_string(),
            }),
            None => d
                .warnings
                .push(format!("{path}: no package name and version")),
        }
    }
    for (path, info) in view.go_binaries() {
        for (name, version) in golang::go_modules(info) {
            d.packages.push(FoundPackage {
                kind: PackageKind::Language,
                ecosystem: Some(Ecosystem::new(EcosystemName::Go)),
                name,
                version,
                source: None,
                path: path.to_string(),
            });
        }
    }
    for (path, json) in view.auditable_binaries() {
        let Some(crates) = rust::auditable_crates(json) else {
            d.warnings
                .push(format!("{path}: unreadable cargo-auditable data"));
            continue;
        };
        for (name, version) in crates {
            d.packages.push(FoundPackage {
                kind: PackageKind::Language,
                ecosystem: Some(Ecosystem::new(EcosystemName::CratesIo)),
                name,
                version,
                source: None,
                path: path.to_string(),
            });
        }
    }
    let mut capped = crate::warnings::Warnings::default();
    capped.extend(std::mem::take(&mut d.warnings));
    d.warnings = capped.into_vec();
    d
}

/// apk's database: one package per blank-line-separated block of `X:value`
/// lines; `P` name, `V` version, `o` origin (the source package, which
/// Alpine's advisories name).
pub fn parse_apk_installed(text: &str) -> Vec<FoundPackage> {
    let mut out = Vec::new();
    let (mut name, mut version, mut origin) = (None, None, None);
    let mut flush =
        |name: &mut Option<&str>, version: &mut Option<&str>, origin: &mut Option<&str>| {
            if let (Some(n), Some(v)) = (name.take(), version.take()) {
                if !n.is_empty() && !v.is_empty() {
                    out.push(FoundPackage {
                        kind: PackageKind::Os,
                        ecosystem: None,
                        name: n.to_string(),
                        version: v.to_string(),
                        source: origin.filter(|o| !o.is_empty()).map(|o| SourcePackage {
                            name: o.to_string(),
                            version: None,
                        }),
                        path: String::new(),
                    });
                }
            }
            *origin = None;
        };
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            flush(&mut name, &mut version, &mut origin);
            continue;
        }
        match line.split_once(':') {
            Some(("P", v)) => name = Some(v.trim()),
            Some(("V", v)) => version = Some(v.trim()),
            Some(("o", v)) => origin = Some(v.trim()),
            _ => {}
        }
    }
    flush(&mut name, &mut version, &mut origin);
    out
}

#[cfg(test)]
mod tests;
