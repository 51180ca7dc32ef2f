//! RPM versions, `[epoch:]version[-release]`, ordered by rpm's `rpmvercmp`
//! (rpmio/rpmvercmp.cc) applied to epoch, version and release in turn.
//!
//! `rpmvercmp` splits both strings into runs of digits and runs of ASCII
//! letters, skipping every other character as a separator; digit runs compare
//! as numbers, letter runs as bytes, and a digit run is newer than a letter
//! run. `~` sorts before anything, the end of the string included
//! (`1.0~rc1 < 1.0`); `^` sorts after the end but before anything else
//! (`1.0 < 1.0^git1 < 1.0.1`).
//!
//! One deviation: rpm's `rpmverCmp` ignores the release when one side has
//! none (a dependency on `foo = 1.0` accepts any release). That is not an
//! order, and ranges need one, so a missing release sorts as the empty
//! string: before any release.

use std::cmp::Ordering;

use super::{Scheme, VersionError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub epoch: String,
    pub version: String,
    pub release: Option<String>,
}

impl Version {
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        if text.is_empty() {
            return Err(VersionError::new(Scheme::Rpm, text, "empty"));
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
                (e.to_string(), rest)
            }
            _ => ("0".to_string(), text),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v.to_string(), Some(r.to_string())),
            None => (rest.to_string(), None),
        };
        if version.is_empty() {
            return Err(VersionError::new(Scheme::Rpm, text, "no version"));
        }
        Ok(Version {
            epoch,
            version,
            release,
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        rpmvercmp(&self.epoch, &other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| {
                rpmvercmp(
                    self.release.as_deref().unwrap_or(""),
                    other.release.as_deref().unwrap_or(""),
                )
            })
    }
}

/// rpm's segment comparison of two version (or release) strings.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    use Ordering::*;
    if a == b {
        return Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while i < a.len() && separator(a[i]) {
            i += 1;
        }
        while j < b.len() && separator(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());

        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Greater;
            }
            if cb != Some(b'~') {
                return Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Less;
            }
            if cb.is_none() {
                return Greater;
            }
            if ca != Some(b'^') {
                return Greater;
            }
            if cb != Some(b'^') {
                return Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else {
            break;
        };

        let numeric = ca.is_ascii_digit();
        let in_segment = |c: u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (si, sj) = (i, j);
        while i < a.len() && in_segment(a[i]) {
            i += 1;
        }
        while j < b.len() && in_segment(b[j]) {
            j += 1;
        }
        let (mut sa, mut sb) = (&a[si..i], &b[sj..j]);
        if sb.is_empty() {
            // Segments of different kinds: a number is newer than letters.
            return if numeric { Greater } else { Less };
        }
        if numeric {
            while sa.first() == Some(&b'0') {
                sa = &sa[1..];
            }
            while sb.first() == Some(&b'0') {
                sb = &sb[1..];
            }
            match sa.len().cmp(&sb.len()) {
                Equal => {}
                other => return other,
            }
        }
        match sa.cmp(sb) {
            Equal => {}
            other => return other,
        }
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Equal,
        (true, false) => Less,
        _ => Greater,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::version::{table, Scheme};

    /// rpm's own test table (tests/rpmvercmp.at), including the `~` and `^`
    /// cases; every row is also checked against `rpm.vercmp` by
    /// tests/reference_tools.rs where rpm exists.
    pub const CASES: &[(&str, &str, &str)] = &[
        ("1.0", "=", "1.0"),
        ("1.0", "<", "2.0"),
        ("2.0.1", "=", "2.0.1"),
        ("2.0", "<", "2.0.1"),
        ("2.0.1a", "=", "2.0.1a"),
        ("2.0.1a", ">", "2.0.1"),
        ("5.5p1", "<", "5.5p2"),
        ("5.5p1", "<", "5.5p10"),
        ("10xyz", "<", "10.1xyz"),
        ("xyz10", "<", "xyz10.1"),
        ("xyz.4", "<", "8"),
        ("xyz.4", "<", "2"),
        ("5.5p2", "<", "5.6p1"),
        ("5.6p1", "<", "6.5p1"),
        ("6.0.rc1", ">", "6.0"),
        ("10b2", ">", "10a1"),
        ("10a2", "<", "10b2"),
        ("1.0a", "<", "1.0aa"),
        ("10.0001", "=", "10.1"),
        ("10.0001", "<", "10.0039"),
        ("4.999.9", "<", "5.0"),
        ("20101121", "<", "20101122"),
        ("2_0", "=", "2.0"),
        ("a+", "=", "a_"),
        ("+a", "=", "_a"),
        ("+_", "=", "_+"),
        ("+", "=", "_"),
        ("1.0~rc1", "<", "1.0"),
        ("1.0~rc1", "<", "1.0~rc2"),
        ("1.0~rc1~git123", "<", "1.0~rc1"),
        ("1.0^", ">", "1.0"),
        ("1.0^git1", ">", "1.0"),
        ("1.0^git1", "<", "1.0^git2"),
        ("1.0^git1", "<", "1.01"),
        ("1.0^20160101", "<", "1.0.1"),
        ("1.0^20160101^git1", "<", "1.0^20160102"),
        ("1.0~rc1^git1", ">", "1.0~rc1"),
        ("1.0^git1~pre", "<", "1.0^git1"),
        // epoch:version-release
        ("1:1.0-1", ">", "2.0-1"),
        ("0:1.0-1", "=", "1.0-1"),
        ("1.0-1", "<", "1.0-2"),
        ("1.0-1.el9", "<", "1.0-1.el9_2"),
        ("1.0-10.el9", ">", "1.0-9.el9"),
        ("3.0.7-24.el9", "<", "1:3.0.7-25.el9_3"),
        ("2.34-60.el9", "<", "2.34-83.el9_3.7"),
        ("1.0", "<", "1.0-1"),
    ];

    #[test]
    fn rpm_table() {
        table::check(Scheme::Rpm, CASES);
    }

    #[test]
    fn evr_parts() {
        let v = Version::parse("2:1.0.1-3.el9").unwrap();
        assert_eq!(
            (v.epoch.as_str(), v.version.as_str(), v.release.as_deref()),
            ("2", "1.0.1", Some("3.el9"))
        );
        let v = Version::parse("1.0").unwrap();
        assert_eq!((v.epoch.as_str(), v.release), ("0", None));
    }
}
