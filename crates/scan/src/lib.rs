//! berth's vulnerability scanning layer, pure part: OSV records, version
//! comparison per ecosystem, matching a package against a record, severity.
//!
//! Nothing here touches the network or storage: the registry hands records in
//! (from its database) and asks questions; scans must work offline.

#![forbid(unsafe_code)]

pub mod index;
pub mod matching;
pub mod osv;
pub mod severity;
pub mod version;

pub use index::{load_dir, load_zip, LoadError, LoadStats, Loader, VulnDb};
pub use matching::{affected_by, Hit, HitReason, Package};
pub use osv::{Ecosystem, EcosystemName, Record, Vulnerability};
pub use severity::{assess, Assessment, CvssScore, CvssVersion, Severity, Source};
pub use version::{Scheme, Version, VersionError};
