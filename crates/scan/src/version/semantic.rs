//! SemVer 2.0 precedence (section 11) for npm, crates.io, Go and OSV's
//! `SEMVER` ranges.
//!
//! Build metadata does not take part in precedence, so it is ignored here
//! (the semver crate's `Ord` would order by it). Go's forms need no special
//! ordering: `v` is dropped, a pseudo-version such as
//! `v0.0.0-20191109021931-daa7c04131f5` is a pre-release whose timestamp sorts
//! as a string of fixed width, and `+incompatible` is build metadata.

use std::cmp::Ordering;

use super::{Scheme, VersionError};

#[derive(Debug, Clone)]
pub struct Version(semver::Version);

impl Version {
    pub fn parse(text: &str, go: bool) -> Result<Version, VersionError> {
        let scheme = if go { Scheme::Go } else { Scheme::SemVer };
        let mut t = text.trim_start_matches('=');
        if go {
            // The Go toolchain reports itself as go1.21.3.
            t = t.strip_prefix("go").unwrap_or(t);
        }
        t = t.strip_prefix('v').unwrap_or(t);
        match semver::Version::parse(t) {
            Ok(v) => Ok(Version(v)),
            Err(e) => pad(t)
                .and_then(|p| semver::Version::parse(&p).ok())
                .map(Version)
                .ok_or_else(|| VersionError::new(scheme, text, e)),
        }
    }

    pub fn inner(&self) -> &semver::Version {
        &self.0
    }
}

/// `1.2` → `1.2.0` and `1` → `1.0.0` (keeping any pre-release or build
/// part): registries and advisories do write these, and they mean the same.
fn pad(t: &str) -> Option<String> {
    let end = t.find(['-', '+']).unwrap_or(t.len());
    let (core, tail) = t.split_at(end);
    let parts = core.split('.').count();
    if core.is_empty() || parts >= 3 {
        return None;
    }
    Some(format!("{core}{}{tail}", ".0".repeat(3 - parts)))
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Version {}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.0, &other.0);
        (a.major, a.minor, a.patch)
            .cmp(&(b.major, b.minor, b.patch))
            .then_with(|| a.pre.cmp(&b.pre))
    }
}

#[cfg(test)]
mod tests {
    use crate::version::{table, Scheme};

    #[test]
    fn semver_table() {
        // SemVer 2.0 section 11's own example chain, and build metadata.
        table::check(
            Scheme::SemVer,
            &[
                ("1.0.0", "<", "2.0.0"),
                ("2.0.0", "<", "2.1.0"),
                ("2.1.0", "<", "2.1.1"),
                ("1.0.0-alpha", "<", "1.0.0"),
                ("1.0.0-alpha", "<", "1.0.0-alpha.1"),
                ("1.0.0-alpha.1", "<", "1.0.0-alpha.beta"),
                ("1.0.0-alpha.beta", "<", "1.0.0-beta"),
                ("1.0.0-beta", "<", "1.0.0-beta.2"),
                ("1.0.0-beta.2", "<", "1.0.0-beta.11"),
                ("1.0.0-beta.11", "<", "1.0.0-rc.1"),
                ("1.0.0-rc.1", "<", "1.0.0"),
                ("1.0.0+build.1", "=", "1.0.0+build.2"),
                ("1.0.0+build", "=", "1.0.0"),
                // RustSec's lower bound and upper bounds.
                ("0.0.0-0", "<", "0.0.0"),
                ("0.0.0-0", "<", "0.0.1-alpha"),
                ("0.3.1-0", "<", "0.3.1"),
                ("0.3.0", "<", "0.3.1-0"),
                // npm: leading v and = are accepted; missing parts are zero.
                ("v1.2.3", "=", "1.2.3"),
                ("=1.2.3", "=", "1.2.3"),
                ("1.2", "=", "1.2.0"),
                ("1", "=", "1.0.0"),
                ("1.2-beta", "=", "1.2.0-beta"),
            ],
        );
    }

    #[test]
    fn go_table() {
        table::check(
            Scheme::Go,
            &[
                ("v1.2.3", "=", "1.2.3"),
                ("go1.21.3", "=", "1.21.3"),
                ("v2.0.0+incompatible", "=", "v2.0.0"),
                (
                    "v0.0.0-20191109021931-daa7c04131f5",
                    "<",
                    "v0.0.0-20200101000000-abcdef123456",
                ),
                ("v0.0.0-20200101000000-abcdef123456", "<", "v0.1.0"),
                ("v1.2.3", "<", "v1.2.4-0.20191109021931-daa7c04131f5"),
                ("v1.2.4-0.20191109021931-daa7c04131f5", "<", "v1.2.4"),
                (
                    "v1.2.4-pre.0.20191109021931-daa7c04131f5",
                    ">",
                    "v1.2.4-pre",
                ),
                ("v1.20.0-rc.2", "<", "v1.20.0"),
            ],
        );
    }

    #[test]
    fn not_versions() {
        for s in ["", "abc", "1.2.3.4", "1.2.x", "01.2.3"] {
            assert!(Scheme::SemVer.parse(s).is_err(), "{s}");
        }
    }
}
