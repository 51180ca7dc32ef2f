//! Version ordering per ecosystem.
//!
//! Each ecosystem orders versions its own way, and a vulnerability range is
//! only as right as the comparison behind it: `1.0~rc1` is before `1.0` for
//! dpkg and rpm, `1.0_rc1` before `1.0` for apk, `1.0rc1` before `1.0` for
//! PEP 440, `1.0.0-rc.1` before `1.0.0` for SemVer. Each scheme follows its
//! reference implementation: dpkg's `verrevcmp` (through the debversion
//! crate), apk-tools' `version.c`, rpm's `rpmvercmp`, PEP 440 (pep440_rs) and
//! SemVer 2.0 section 11 (semver crate, build metadata ignored).

use std::cmp::Ordering;
use std::fmt;

pub mod apk;
pub mod dpkg;
pub mod rpm;
pub mod semantic;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod reference;

/// A way of ordering versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Debian and Ubuntu packages: `[epoch:]upstream[-revision]`.
    Dpkg,
    /// Alpine, Wolfi, Chainguard packages: `1.2.3_rc1-r4`.
    Apk,
    /// RPM packages: `[epoch:]version[-release]`.
    Rpm,
    /// Python packages (PEP 440).
    Pep440,
    /// npm, crates.io and OSV `SEMVER` ranges (SemVer 2.0).
    SemVer,
    /// Go modules: SemVer with a `v` prefix, pseudo-versions, `+incompatible`.
    Go,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scheme:?} version {text:?} does not parse: {reason}")]
pub struct VersionError {
    pub scheme: Scheme,
    pub text: String,
    pub reason: String,
}

impl VersionError {
    pub(crate) fn new(scheme: Scheme, text: &str, reason: impl fmt::Display) -> Self {
        VersionError {
            scheme,
            text: text.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// A parsed version of some scheme. Versions of different schemes do not
/// compare (`partial_cmp` is `None`).
#[derive(Debug, Clone)]
pub enum Version {
    Dpkg(dpkg::Version),
    Apk(apk::Version),
    Rpm(rpm::Version),
    Pep440(pep440_rs::Version),
    SemVer(semantic::Version),
}

impl Scheme {
    pub fn parse(self, text: &str) -> Result<Version, VersionError> {
        let text = text.trim();
        match self {
            Scheme::Dpkg => dpkg::Version::parse(text).map(Version::Dpkg),
            Scheme::Apk => apk::Version::parse(text).map(Version::Apk),
            Scheme::Rpm => rpm::Version::parse(text).map(Version::Rpm),
            Scheme::Pep440 => text
                .parse::<pep440_rs::Version>()
                .map(Version::Pep440)
                .map_err(|e| VersionError::new(self, text, e)),
            Scheme::SemVer => semantic::Version::parse(text, false).map(Version::SemVer),
            Scheme::Go => semantic::Version::parse(text, true).map(Version::SemVer),
        }
    }

    /// Parses both and compares them.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let a = self.parse(a)?;
        let b = self.parse(b)?;
        Ok(a.partial_cmp(&b)
            .expect("versions parsed by one scheme always compare"))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.partial_cmp(other) == Some(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Version::Dpkg(a), Version::Dpkg(b)) => Some(a.cmp(b)),
            (Version::Apk(a), Version::Apk(b)) => Some(a.cmp(b)),
            (Version::Rpm(a), Version::Rpm(b)) => Some(a.cmp(b)),
            (Version::Pep440(a), Version::Pep440(b)) => Some(a.cmp(b)),
            (Version::SemVer(a), Version::SemVer(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod table {
    use super::*;

    /// Runs a table of `(a, op, b)` with op one of `<`, `=`, `>`, checking
    /// both directions.
    pub fn check(scheme: Scheme, cases: &[(&str, &str, &str)]) {
        let mut failures = Vec::new();
        for (a, op, b) in cases {
            let want = match *op {
                "<" => Ordering::Less,
                "=" => Ordering::Equal,
                ">" => Ordering::Greater,
                _ => panic!("bad op {op}"),
            };
            match scheme.compare(a, b) {
                Ok(got) if got == want => {}
                got => failures.push(format!("{a} {op} {b}: got {got:?}")),
            }
            match scheme.compare(b, a) {
                Ok(got) if got == want.reverse() => {}
                got => failures.push(format!("{b} vs {a} (reversed): got {got:?}")),
            }
        }
        assert!(failures.is_empty(), "{scheme:?}:\n{}", failures.join("\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep440_table() {
        // PEP 440's summary ordering ("Summary of permitted suffixes and
        // relative ordering") and its normalization rules.
        let chain = [
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        let mut cases: Vec<(&str, &str, &str)> =
            chain.windows(2).map(|w| (w[0], "<", w[1])).collect();
        cases.extend([
            ("1.0", "=", "1.0.0"),
            ("1.0", "=", "1.0.0.0"),
            ("1!1.0", ">", "2.0"),
            ("1.0a1", "=", "1.0alpha1"),
            ("1.0c1", "=", "1.0rc1"),
            ("1.0-1", "=", "1.0.post1"),
            ("1.0.DEV1", "=", "1.0.dev1"),
            ("v1.0", "=", "1.0"),
            ("1.10", ">", "1.9"),
            ("2.1.214rc1", "<", "2.1.214"),
        ]);
        table::check(Scheme::Pep440, &cases);
    }

    #[test]
    fn schemes_do_not_mix() {
        let a = Scheme::SemVer.parse("1.0.0").unwrap();
        let b = Scheme::Pep440.parse("1.0.0").unwrap();
        assert_eq!(a.partial_cmp(&b), None);
    }
}
