//! berth's vulnerability scanning layer, pure part: reading image layers,
//! detecting installed packages, OSV records, version comparison per
//! ecosystem, matching a package against a record, severity.
//!
//! Nothing here touches the network or storage: the registry hands records in
//! (from its database) and asks questions; scans must work offline.

#![forbid(unsafe_code)]

pub mod cache;
pub mod detect;
pub mod index;
pub mod layers;
pub mod matching;
pub mod osv;
pub mod scan;
pub mod severity;
pub mod version;
mod warnings;

pub use detect::{detect, Detection, FoundPackage, OsInfo, PackageKind};
pub use index::{
    load_dir, load_zip, package_keys, visit_dir, visit_zip, LoadError, LoadStats, Loader, VulnDb,
    MAX_RECORD_BYTES,
};
pub use layers::{
    apply_layer_within, apply_layers, read_layer, Dropped, Inventory, LayerError, Limits,
};
pub use matching::{affected_by, Hit, HitReason, Package};
pub use osv::{Ecosystem, EcosystemName, Record, Vulnerability};
pub use scan::{match_packages, scan_image, Finding, Report, ScanError};
pub use severity::{assess, Assessment, CvssScore, CvssVersion, Severity, Source};
pub use version::{Scheme, Version, VersionError};
