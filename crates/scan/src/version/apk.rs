//! Alpine package versions, ordered as apk-tools orders them (src/version.c
//! of apk-tools 2.14/3.x):
//!
//! `digits{.digits}[letter]{_suffix[digits]}[~hash][-rN]`
//!
//! Tokens are compared in turn while both strings have a token of the same
//! kind: numbers numerically, except that a dotted component with a leading
//! zero on either side compares as a string (`1.02 < 1.1`, as Gentoo does);
//! letters by byte; suffixes in the order
//! `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`;
//! the commit hash as a string; `-rN` numerically. When one string runs out
//! or changes token kind first, a pre-release suffix (`_alpha` .. `_rc`)
//! makes it older; otherwise the string whose next token comes later in
//! that list is older (`1.0 < 1.0.1`, `1.0 < 1.0-r1`, `1.0_p1 > 1.0`).
//! An invalid token ends a string's comparison where it stands, as in apk.

use std::cmp::Ordering;

use super::{Scheme, VersionError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(String);

impl Version {
    /// Any non-empty string: apk compares invalid versions too (up to the
    /// first invalid token), and so does berth. [`is_valid`] tells them apart.
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        if text.is_empty() {
            return Err(VersionError::new(Scheme::Apk, text, "empty"));
        }
        Ok(Version(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}

// Token kinds in apk's order; the order matters for comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

// Suffix ranks; NONE (no suffix) is the pivot between pre- and post-release.
const PRE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];
const SUFFIX_NONE: i32 = 0;

fn suffix_rank(s: &[u8]) -> Option<i32> {
    if let Some(i) = PRE_SUFFIXES.iter().position(|p| p.as_bytes() == s) {
        return Some(i as i32 - PRE_SUFFIXES.len() as i32);
    }
    POST_SUFFIXES
        .iter()
        .position(|p| p.as_bytes() == s)
        .map(|i| i as i32 + 1)
}

struct Lexer<'a> {
    rest: &'a [u8],
    kind: Kind,
    value: &'a [u8],
    suffix: i32,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str) -> Self {
        let mut l = Lexer {
            rest: s.as_bytes(),
            kind: Kind::InitialDigit,
            value: b"",
            suffix: SUFFIX_NONE,
        };
        l.digits();
        l
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let n = self.rest.iter().take_while(|&&c| f(c)).count();
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        taken
    }

    fn digits(&mut self) {
        self.value = self.take_while(|c| c.is_ascii_digit());
        if self.value.is_empty() {
            self.kind = Kind::Invalid;
        }
    }

    fn advance(&mut self) {
        let Some(&c) = self.rest.first() else {
            self.kind = Kind::End;
            return;
        };
        match c {
            b'a'..=b'z' if self.kind <= Kind::Digit => {
                self.value = &self.rest[..1];
                self.rest = &self.rest[1..];
                self.kind = Kind::Letter;
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if self.kind > Kind::Digit {
                        self.kind = Kind::Invalid;
                        return;
                    }
                    self.rest = &self.rest[1..];
                }
                self.kind = match self.kind {
                    Kind::InitialDigit | Kind::Digit => Kind::Digit,
                    Kind::Suffix => Kind::SuffixNo,
                    _ => {
                        self.kind = Kind::Invalid;
                        return;
                    }
                };
                self.digits();
            }
            b'_' if self.kind <= Kind::SuffixNo => {
                self.rest = &self.rest[1..];
                self.value = self.take_while(|c| c.is_ascii_lowercase());
                match suffix_rank(self.value) {
                    Some(rank) => {
                        self.suffix = rank;
                        self.kind = Kind::Suffix;
                    }
                    None => self.kind = Kind::Invalid,
                }
            }
            b'~' if self.kind < Kind::CommitHash => {
                self.rest = &self.rest[1..];
                self.value = self.take_while(|c| c.is_ascii_hexdigit());
                self.kind = if self.value.is_empty() {
                    Kind::Invalid
                } else {
                    Kind::CommitHash
                };
            }
            b'-' if self.kind < Kind::RevisionNo && self.rest.starts_with(b"-r") => {
                self.rest = &self.rest[2..];
                self.kind = Kind::RevisionNo;
                self.digits();
            }
            _ => self.kind = Kind::Invalid,
        }
    }
}

fn numeric(a: &[u8], b: &[u8]) -> Ordering {
    // Digit strings compared as numbers without overflow: strip leading
    // zeros, then the longer is larger, then bytewise.
    fn strip(s: &[u8]) -> &[u8] {
        let n = s.iter().take_while(|&&c| c == b'0').count();
        &s[n..]
    }
    let (a, b) = (strip(a), strip(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn token_cmp(a: &Lexer<'_>, b: &Lexer<'_>) -> Ordering {
    match a.kind {
        Kind::Digit if a.value.first() == Some(&b'0') || b.value.first() == Some(&b'0') => {
            a.value.cmp(b.value)
        }
        Kind::Digit | Kind::InitialDigit | Kind::SuffixNo | Kind::RevisionNo => {
            numeric(a.value, b.value)
        }
        Kind::Letter => a.value[0].cmp(&b.value[0]),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.value.cmp(b.value),
    }
}

/// Compares two apk version strings.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut ta, mut tb) = (Lexer::new(a), Lexer::new(b));
    while ta.kind == tb.kind && ta.kind < Kind::End {
        match token_cmp(&ta, &tb) {
            Ordering::Equal => {}
            other => return other,
        }
        ta.advance();
        tb.advance();
    }
    if ta.kind == tb.kind {
        return Ordering::Equal;
    }
    if ta.kind == Kind::Suffix && ta.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if tb.kind == Kind::Suffix && tb.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    // The side whose next token comes later in the kind order is older.
    tb.kind.cmp(&ta.kind)
}

/// Whether apk would accept the string as a version (`apk_version_validate`).
pub fn is_valid(s: &str) -> bool {
    let mut t = Lexer::new(s);
    while t.kind < Kind::End {
        t.advance();
    }
    t.kind == Kind::End
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::{table, Scheme};

    /// A selection of apk-tools' own test table (test/version.data), plus
    /// versions from Alpine's secdb.
    const CASES: &[(&str, &str, &str)] = &[
        ("2.34", ">", "0.1.0_alpha"),
        ("23_foo", ">", "4_beta"),
        ("1.0", "<", "1.0bc"),
        ("0.1.0_alpha", "=", "0.1.0_alpha"),
        ("0.1.0_alpha", "<", "0.1.3_alpha"),
        ("0.1.0_alpha2", ">", "0.1.0_alpha"),
        ("0.1.0_alpha", "<", "2.2.39-r1"),
        ("1.0.4-r3", "<", "1.0.4-r4"),
        ("1.1", ">", "1.1_alpha1"),
        ("1.2.1", ">", "1.2"),
        ("1.2", "<", "1.3_alpha"),
        ("1.3_alpha", "<", "1.3_alpha2"),
        ("0.7.0", "<", "0.8_beta1"),
        ("3.10.18-r1", ">", "2.3.0b-r1"),
        ("2.3.0b-r1", "<", "2.3.0b-r2"),
        ("0.12.3", ">", "0.12"),
        ("0.12", "<", "0.13_beta1"),
        ("1.2.12.1", "<", "1.2.13"),
        ("0.2.0-r1", "<", "3.1_p16"),
        ("3.1_p16", "<", "3.1_p17"),
        ("1.06-r6", "<", "006"),
        ("006", ">", "1.0.0"),
        ("1.2.2-r1", ">", "1.2.2"),
        ("9.3.4-r2", ">", "9.3.4"),
        ("2.59", "<", "20050718-r1"),
        ("3.9.8-r5", ">", "2.01.01_alpha10"),
        ("1.0", ">", "0.99.3.20040818"),
        ("1.39", ">", "1.00_beta2"),
        ("4.2.52_p2-r1", "<", "4.2.52_p4-r2"),
        ("2.11-r1", ">", "2.11"),
        ("20060720", ">", "3.0.20060720"),
        ("2.5.1-r8", "<", "2.5.1a-r1"),
        ("1.3.5-r10", ">", "1.3.5-r8"),
        ("2.0.0_rc3-r1", ">", "1.5"),
        ("3.0.0-r2", "<", "021109-r3"),
        ("0.9.16-r1", "<", "3.9_pre20060124"),
        ("1.1.7", "<", "6b-r7"),
        ("0.10.0", "<", "0.10.1_rc1"),
        ("1.1a", "<", "1.3a"),
        ("0.15.1b-r2", ">", "0.15.1b"),
        ("2.10.1", ">", "02.08.01b"),
        ("1.2.07.8", "<", "1.2.12.04"),
        ("2.02.06", "<", "2.02.10"),
        ("3.81", ">", "1.6d"),
        ("0.1_pre20060810", "<", "0.1_pre20060817"),
        ("0.20070118", "<", "0.20070207_rc1"),
        ("4.5_p1-r1", ">", "4.5_p1"),
        ("0.9.8c-r1", "<", "0.9.8d"),
        ("1.7", "<", "1.7b"),
        ("1.8.5", "<", "1.8.5_p2"),
        ("2.9.11_pre20051101-r2", "<", "2.9.11_pre20051101-r3"),
        ("2.9.11_pre20051101-r3", ">", "2.9.11_pre20051101"),
        ("1.6.8_p12-r1", ">", "1.6.8_p9-r2"),
        ("0.9.28.1", "<", "087-r1"),
        ("2.12r-r4", "<", "2.12r-r5"),
        ("7.0.17", "<", "7.0.174"),
        ("1.3-r0", "<", "1.3.1-r0"),
        ("1.3_pre1-r1", "<", "1.3.2"),
        ("1.0_p10-r0", ">", "1.0_p9-r0"),
        ("0.1.0_alpha_pre2", "<", "0.1.0_alpha"),
        (
            "1.0.0_pre20191002222144-r0",
            "<",
            "1.0.0_pre20210530193627-r0",
        ),
        // Alpine secdb shapes (musl, openssl, busybox).
        ("1.2.3-r4", ">", "1.2.3-r3"),
        ("1.2.3-r4", "<", "1.2.4-r0"),
        ("0.9.13", "<", "1.2.3-r4"),
        ("3.1.4-r5", "<", "3.1.4-r6"),
        ("1.36.1-r15", "<", "1.36.1-r19"),
        ("1.0_git20230101", ">", "1.0"),
        ("1.0~abc123-r1", ">", "1.0-r1"),
        ("1.0~abc123", "<", "1.0~abd000"),
    ];

    #[test]
    fn apk_table() {
        table::check(Scheme::Apk, CASES);
    }

    #[test]
    fn validity_follows_apk() {
        for v in [
            "1.0",
            "1.2.3_rc1-r4",
            "1.0a_p2",
            "006",
            "1.0~cafe-r1",
            "1_alpha_beta2",
        ] {
            assert!(is_valid(v), "{v}");
        }
        for v in [
            "",
            "a1",
            "1.0bc",
            "1.0-1",
            "1.0_foo",
            "1..0",
            "1.0-r",
            "1.0~",
            "1.0-r1-r2",
        ] {
            assert!(!is_valid(v), "{v}");
        }
    }
}
