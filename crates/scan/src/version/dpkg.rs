//! Debian versions, `[epoch:]upstream[-revision]`, ordered as dpkg's
//! `verrevcmp` orders them (Debian Policy 5.6.12): epochs numerically, then
//! upstream and revision alternating non-digit runs (letters before other
//! characters, `~` before everything, even the end) and digit runs compared
//! as numbers. The debversion crate implements exactly that; this wrapper
//! adds the lenient parse dpkg itself applies to the odd real-world string.

use std::cmp::Ordering;

use super::{Scheme, VersionError};

#[derive(Debug, Clone)]
pub struct Version(debversion::Version);

impl Version {
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        if text.is_empty() {
            return Err(VersionError::new(Scheme::Dpkg, text, "empty"));
        }
        text.parse::<debversion::Version>()
            // Real packages carry characters policy forbids (`_`); dpkg
            // accepts them with a warning, so matching must too.
            .or_else(|_| debversion::Version::parse_lenient(text))
            .map(Version)
            .map_err(|e| VersionError::new(Scheme::Dpkg, text, e))
    }
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
        self.0.cmp(&other.0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::version::{table, Scheme};

    /// From Debian Policy 5.6.12 (the `~` ordering example), dpkg's
    /// lib/dpkg/t/t-version.c, and real Debian security versions; every
    /// row is also checked against `dpkg --compare-versions` by
    /// tests/reference_tools.rs where dpkg exists.
    pub const CASES: &[(&str, &str, &str)] = &[
        ("0", "=", "0"),
        ("0", "=", "00"),
        ("1.0", "=", "1.0-0"),
        ("1.0", "=", "0:1.0"),
        ("1.0", "<", "1.1"),
        ("1.2", "<", "1.10"),
        ("1.01", "=", "1.1"),
        ("1.001", "=", "1.1"),
        ("1.0", "<", "1.0.0"),
        ("1.0", "<", "1.0a"),
        ("1.0a", "<", "1.0b"),
        ("1.0a", "<", "1.0+"),
        ("1.0+", "<", "1.0."),
        ("1.0~~", "<", "1.0~~a"),
        ("1.0~~a", "<", "1.0~"),
        ("1.0~", "<", "1.0"),
        ("1.0~rc1", "<", "1.0"),
        ("1.0~rc1", "<", "1.0~rc2"),
        ("1.0-1", "<", "1.0-2"),
        ("1.0-1", "<", "1.0-1+b1"),
        ("1.0-1", "<", "1.0-1.1"),
        ("1.0-1~bpo1", "<", "1.0-1"),
        ("1.0+dfsg-1", ">", "1.0-1"),
        ("1:0.1", ">", "9.9"),
        ("2:1.0", ">", "1:9.0"),
        ("1:1.0-1", "=", "1:1.0-1"),
        ("7.6p2-4", ">", "7.6-0"),
        ("1.0.3-3", ">", "1.0-1"),
        ("1.3", ">", "1.2.2-2"),
        ("1.3", ">", "1.2.2"),
        ("0-pre", "=", "0-pre"),
        ("0-pre", "<", "0-pree"),
        ("1.1.6r2-2", ">", "1.1.6r-1"),
        ("2.6b2-1", ">", "2.6b-2"),
        ("98.1p5-1", "<", "98.1-pre2-b6-2"),
        ("0.4a6-2", ">", "0.4-1"),
        ("1:3.0.5-2", "<", "1:3.0.5.1"),
        ("2.9.4+dfsg1-2.2+deb9u6", "<", "2.9.4+dfsg1-2.2+deb9u7"),
        ("2.9.4+dfsg1-2.2+deb9u7", "<", "2.9.4+dfsg1-2.2+deb9u7.1"),
        ("1.2.11.dfsg-2+deb11u2", ">", "1.2.11.dfsg-2+deb11u1"),
        ("3.0.11-1~deb12u2", "<", "3.0.11-1"),
        ("3.0.11-1~deb12u2", ">", "3.0.11-1~deb12u1"),
        ("252.30-1~deb12u2", "<", "252.31-1~deb12u1"),
    ];

    #[test]
    fn dpkg_table() {
        table::check(Scheme::Dpkg, CASES);
    }

    #[test]
    fn lenient_parse_takes_what_dpkg_takes() {
        assert!(Scheme::Dpkg.parse("2.0.37+cvs.JCW_PRE2_2037-1").is_ok());
        assert!(Scheme::Dpkg.parse("").is_err());
    }
}
