//! A finding's severity, ECR's scale: CRITICAL, HIGH, MEDIUM, LOW,
//! INFORMATIONAL, UNDEFINED.
//!
//! The record's publisher knows its own vulnerability best, so its severity
//! comes first: GitHub's `database_specific.severity` (MODERATE is MEDIUM),
//! the same field on the `affected` entry or in its `ecosystem_specific`
//! (the schema's PyPI and RustSec examples put it there), or an Ubuntu
//! priority. Else the
//! highest CVSS base score among the record's vectors (v2, v3.0, v3.1, v4.0;
//! the `affected` entry's own vectors included), mapped as NVD maps v3
//! scores: 9.0 and up CRITICAL, 7.0 HIGH, 4.0 MEDIUM, above 0 LOW. RustSec's
//! informational advisories (unmaintained, unsound, notice) without a
//! vector are INFORMATIONAL; everything else without a score is UNDEFINED.

use std::fmt;

use serde_json::Value;

use crate::osv::{Affected, Record, SeverityEntry};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Undefined,
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Informational => "INFORMATIONAL",
            Severity::Undefined => "UNDEFINED",
        }
    }

    /// NVD's bands for a CVSS base score.
    pub fn from_score(score: f64) -> Severity {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::Undefined
        }
    }

    /// A vendor's word for severity: GitHub's four levels, Ubuntu's
    /// priorities, and the plain names.
    pub fn from_vendor(word: &str) -> Option<Severity> {
        Some(match word.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Severity::Critical,
            "HIGH" | "IMPORTANT" => Severity::High,
            "MODERATE" | "MEDIUM" => Severity::Medium,
            "LOW" | "NEGLIGIBLE" => Severity::Low,
            _ => return None,
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvssVersion {
    V2,
    V3_0,
    V3_1,
    V4_0,
}

impl CvssVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            CvssVersion::V2 => "2.0",
            CvssVersion::V3_0 => "3.0",
            CvssVersion::V3_1 => "3.1",
            CvssVersion::V4_0 => "4.0",
        }
    }
}

/// A CVSS vector and the base score the cvss crate computes for it.
#[derive(Debug, Clone, PartialEq)]
pub struct CvssScore {
    pub version: CvssVersion,
    pub vector: String,
    pub score: f64,
}

impl CvssScore {
    /// `None` for vectors the cvss crate refuses (malformed, unknown version).
    pub fn parse(vector: &str) -> Option<CvssScore> {
        let cvss: cvss::Cvss = vector.trim().parse().ok()?;
        let version = match &cvss {
            cvss::Cvss::CvssV20(_) => CvssVersion::V2,
            cvss::Cvss::CvssV30(_) => CvssVersion::V3_0,
            cvss::Cvss::CvssV31(_) => CvssVersion::V3_1,
            cvss::Cvss::CvssV40(_) => CvssVersion::V4_0,
            _ => return None,
        };
        Some(CvssScore {
            version,
            vector: vector.trim().to_string(),
            score: cvss.score(),
        })
    }
}

/// Where the severity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Vendor,
    Cvss,
    Informational,
    None,
}

/// A finding's severity, with the highest-scoring CVSS vector for its
/// attributes (present even when the vendor's severity decided).
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub severity: Severity,
    pub source: Source,
    pub cvss: Option<CvssScore>,
}

/// The severity of `record` for the package of `affected` (the entry that
/// matched, if known).
pub fn assess(record: &Record, affected: Option<&Affected>) -> Assessment {
    let cvss = affected
        .into_iter()
        .flat_map(|a| a.severity.iter())
        .chain(record.severity.iter())
        .filter_map(cvss_of)
        .fold(None::<CvssScore>, |best, s| match best {
            Some(b) if b.score >= s.score => Some(b),
            _ => Some(s),
        });

    if let Some(severity) = vendor_severity(record, affected) {
        return Assessment {
            severity,
            source: Source::Vendor,
            cvss,
        };
    }
    if let Some(c) = &cvss {
        let severity = Severity::from_score(c.score);
        if severity != Severity::Undefined {
            return Assessment {
                severity,
                source: Source::Cvss,
                cvss,
            };
        }
    }
    let informational = affected
        .and_then(|a| a.database_specific.as_ref())
        .and_then(|d| d.get("informational"))
        .is_some_and(|v| !v.is_null());
    Assessment {
        severity: if informational {
            Severity::Informational
        } else {
            Severity::Undefined
        },
        source: if informational {
            Source::Informational
        } else {
            Source::None
        },
        cvss,
    }
}

fn cvss_of(entry: &SeverityEntry) -> Option<CvssScore> {
    match entry.kind.as_str() {
        "CVSS_V2" | "CVSS_V3" | "CVSS_V4" => CvssScore::parse(&entry.score),
        _ => None,
    }
}

fn vendor_severity(record: &Record, affected: Option<&Affected>) -> Option<Severity> {
    let word = |v: Option<&Value>| {
        v.and_then(|d| d.get("severity"))
            .and_then(Value::as_str)
            .and_then(Severity::from_vendor)
    };
    word(record.database_specific.as_ref())
        .or_else(|| word(affected.and_then(|a| a.database_specific.as_ref())))
        .or_else(|| word(affected.and_then(|a| a.ecosystem_specific.as_ref())))
        .or_else(|| {
            affected
                .into_iter()
                .flat_map(|a| a.severity.iter())
                .chain(record.severity.iter())
                .find(|s| s.kind == "Ubuntu")
                .and_then(|s| Severity::from_vendor(&s.score))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::parse_record;

    #[test]
    fn score_bands() {
        for (score, want) in [
            (10.0, Severity::Critical),
            (9.0, Severity::Critical),
            (8.9, Severity::High),
            (7.0, Severity::High),
            (6.9, Severity::Medium),
            (4.0, Severity::Medium),
            (3.9, Severity::Low),
            (0.1, Severity::Low),
            (0.0, Severity::Undefined),
        ] {
            assert_eq!(Severity::from_score(score), want, "{score}");
        }
    }

    #[test]
    fn cvss_vectors_of_each_version_score() {
        // Scores as FIRST's calculators give them.
        let cases = [
            ("AV:N/AC:L/Au:N/C:P/I:P/A:P", CvssVersion::V2, 7.5),
            (
                "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                CvssVersion::V3_0,
                9.8,
            ),
            (
                "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N",
                CvssVersion::V3_1,
                6.8,
            ),
            (
                "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H",
                CvssVersion::V3_1,
                7.0,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                CvssVersion::V4_0,
                9.3,
            ),
        ];
        for (vector, version, score) in cases {
            let s = CvssScore::parse(vector).unwrap_or_else(|| panic!("{vector}"));
            assert_eq!(s.version, version, "{vector}");
            assert!((s.score - score).abs() < 1e-9, "{vector}: {}", s.score);
        }
        assert!(CvssScore::parse("CVSS:3.1/AV:X").is_none());
        assert!(CvssScore::parse("CVSS:5.0/AV:N").is_none());
    }

    fn record(json: &str) -> Record {
        parse_record(json.as_bytes()).unwrap()
    }

    #[test]
    fn vendor_severity_wins_over_cvss() {
        let r = record(
            r#"{"id": "GHSA-x", "database_specific": {"severity": "MODERATE"},
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}"#,
        );
        let a = assess(&r, None);
        assert_eq!(a.severity, Severity::Medium);
        assert_eq!(a.source, Source::Vendor);
        assert_eq!(a.cvss.unwrap().score, 9.8);
    }

    #[test]
    fn highest_cvss_decides_without_vendor_severity() {
        let r = record(
            r#"{"id": "X", "severity": [
                {"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H"},
                {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]}"#,
        );
        let a = assess(&r, None);
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(a.source, Source::Cvss);
        assert_eq!(a.cvss.unwrap().version, CvssVersion::V4_0);
    }

    #[test]
    fn no_score_is_undefined_and_rustsec_notices_informational() {
        assert_eq!(
            assess(&record(r#"{"id": "X"}"#), None).severity,
            Severity::Undefined
        );
        let r = record(
            r#"{"id": "RUSTSEC-x", "affected": [{"package": {"ecosystem": "crates.io", "name": "c"},
                "database_specific": {"informational": "unmaintained"}}]}"#,
        );
        let a = assess(&r, Some(&r.affected[0]));
        assert_eq!(a.severity, Severity::Informational);
    }

    #[test]
    fn affected_entry_vectors_count() {
        let r = record(
            r#"{"id": "X", "affected": [{"package": {"ecosystem": "npm", "name": "a"},
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N"}]}]}"#,
        );
        let a = assess(&r, Some(&r.affected[0]));
        assert_eq!(a.severity, Severity::Medium);
        assert_eq!(
            a.cvss.unwrap().vector,
            "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N"
        );
    }

    #[test]
    fn ecosystem_specific_severity_counts_as_the_vendor_s() {
        let r = record(
            r#"{"id": "PYSEC-x", "affected": [{"package": {"ecosystem": "PyPI", "name": "p"},
                "ecosystem_specific": {"severity": "HIGH"}}]}"#,
        );
        assert_eq!(assess(&r, Some(&r.affected[0])).severity, Severity::High);
    }

    #[test]
    fn ubuntu_priorities_are_vendor_severities() {
        let r = record(r#"{"id": "UBUNTU-x", "severity": [{"type": "Ubuntu", "score": "high"}]}"#);
        assert_eq!(assess(&r, None).severity, Severity::High);
    }
}
