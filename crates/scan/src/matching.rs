//! Whether a package found in an image is affected by an OSV record.
//!
//! This is the schema's `IsVulnerable` (osv-schema, "Evaluation"): an
//! `affected` entry names the package (same ecosystem, the record's release
//! if it names one, the same name in the ecosystem's normal form), and the
//! version is listed in `versions` or lies in one of `ranges`. A range is
//! evaluated only if its `limit`s allow the version (no `limit` means no
//! bound; `*` is infinity); then its events are sorted in version order
//! (`introduced: "0"` first) and walked: `introduced <= v` makes the version
//! affected, `fixed <= v` or `last_affected < v` unaffected; the last event
//! that applies decides. Events at the same version apply in the order
//! introduced, last_affected, fixed, so `introduced: X, fixed: X` affects
//! nothing.
//!
//! `SEMVER` ranges compare as SemVer whatever the ecosystem; `ECOSYSTEM`
//! ranges with the ecosystem's own scheme; `GIT` ranges need the
//! repository's commit graph and are skipped, as are ranges of an ecosystem
//! without a comparator (Maven, NuGet, RubyGems, ...) and ranges with an
//! event berth cannot parse: a skipped range never makes a package affected,
//! and [`Evaluation::skipped_ranges`] counts them.

use std::cmp::Ordering;

use crate::osv::{Affected, Ecosystem, EcosystemName, Event, Range, RangeKind, Vulnerability};
use crate::version::{Scheme, Version, VersionError};

/// A package as found in an image: the ecosystem carries the image's
/// distribution release for OS packages (`Debian:12`), none for language
/// packages.
#[derive(Debug, Clone)]
pub struct Package<'a> {
    pub ecosystem: &'a Ecosystem,
    pub name: &'a str,
    pub version: &'a str,
}

/// Why a package is affected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HitReason {
    /// Its version is in the entry's `versions` list.
    Listed,
    /// Its version lies in `ranges[i]`.
    Range(usize),
}

/// A record that affects a package.
#[derive(Debug, Clone)]
pub struct Hit<'v> {
    pub vulnerability: &'v Vulnerability,
    pub affected: &'v Affected,
    pub reason: HitReason,
    /// The version that fixes it for this package: the lowest `fixed` event
    /// above the package's version in the range that matched (for a listed
    /// version, in any evaluable range). `None`: no fix known.
    pub fixed: Option<String>,
}

/// What evaluating one `affected` entry against a version found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub reason: Option<HitReason>,
    pub fixed: Option<String>,
    /// Ranges not evaluated: GIT, unknown types, no comparator, unparseable
    /// versions.
    pub skipped_ranges: usize,
}

/// The first `affected` entry of `vuln` that affects `pkg`, if any.
pub fn affected_by<'v>(vuln: &'v Vulnerability, pkg: &Package<'_>) -> Option<Hit<'v>> {
    for (ecosystem, affected) in vuln.affected() {
        if !names_package(ecosystem, affected, pkg) {
            continue;
        }
        let ev = evaluate(ecosystem.name, affected, pkg.version);
        if let Some(reason) = ev.reason {
            return Some(Hit {
                vulnerability: vuln,
                affected,
                reason,
                fixed: ev.fixed,
            });
        }
    }
    None
}

fn names_package(record: &Ecosystem, affected: &Affected, pkg: &Package<'_>) -> bool {
    let Some(id) = &affected.package else {
        return false;
    };
    record.covers(pkg.ecosystem)
        && record.name.normalize_name(&id.name) == record.name.normalize_name(pkg.name)
}

/// Evaluates one `affected` entry of an ecosystem against a version string.
pub fn evaluate(ecosystem: EcosystemName, affected: &Affected, version: &str) -> Evaluation {
    let eco_scheme = ecosystem.scheme();
    let mut skipped_ranges = 0;
    let listed = affected
        .versions
        .iter()
        .any(|listed| listed_equal(eco_scheme, listed, version));
    let mut reason = listed.then_some(HitReason::Listed);
    let mut fixed = None;
    let mut fix_above = None;

    for (i, range) in affected.ranges.iter().enumerate() {
        let Some(scheme) = range_scheme(&range.kind, ecosystem) else {
            skipped_ranges += 1;
            continue;
        };
        match evaluate_range(range, scheme, version) {
            Ok(r) => {
                if reason.is_none() && r.affected {
                    reason = Some(HitReason::Range(i));
                    fixed = r.fixed;
                }
                fix_above = fix_above.or(r.fix_above);
            }
            Err(_) => skipped_ranges += 1,
        }
    }
    if reason == Some(HitReason::Listed) {
        // A listed version takes its fix from the ranges that know it.
        fixed = fix_above;
    }
    Evaluation {
        reason,
        fixed,
        skipped_ranges,
    }
}

/// `versions` entries are the ecosystem's own strings; equal strings match,
/// and where one version has several spellings (`1.0` and `1.0.0` in PEP 440
/// and SemVer) equal versions match too. Distribution versions match only as
/// written: those lists come from the distribution itself.
fn listed_equal(scheme: Option<Scheme>, listed: &str, version: &str) -> bool {
    if listed == version {
        return true;
    }
    match scheme {
        Some(s @ (Scheme::Pep440 | Scheme::SemVer | Scheme::Go)) => {
            matches!((s.parse(listed), s.parse(version)), (Ok(a), Ok(b)) if a == b)
        }
        _ => false,
    }
}

fn range_scheme(kind: &RangeKind, ecosystem: EcosystemName) -> Option<Scheme> {
    match kind {
        RangeKind::Semver if ecosystem == EcosystemName::Go => Some(Scheme::Go),
        RangeKind::Semver => Some(Scheme::SemVer),
        RangeKind::Ecosystem => ecosystem.scheme(),
        RangeKind::Git | RangeKind::Other(_) => None,
    }
}

/// The outcome of one range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeOutcome {
    pub affected: bool,
    /// When affected: the `fixed` event that ends the interval holding the
    /// version.
    pub fixed: Option<String>,
    /// Whatever the outcome: the lowest `fixed` event above the version.
    pub fix_above: Option<String>,
}

#[derive(Debug)]
enum Bound {
    /// `introduced: "0"`: before every version.
    Zero,
    At(Version),
}

impl Bound {
    fn cmp_version(&self, v: &Version) -> Ordering {
        match self {
            Bound::Zero => Ordering::Less,
            Bound::At(b) => b.partial_cmp(v).unwrap_or(Ordering::Equal),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Introduced,
    LastAffected,
    Fixed,
}

/// Evaluates one range for a version, with the schema's algorithm.
pub fn evaluate_range(
    range: &Range,
    scheme: Scheme,
    version: &str,
) -> Result<RangeOutcome, VersionError> {
    let v = scheme.parse(version)?;
    let mut events: Vec<(Bound, Kind, &str)> = Vec::with_capacity(range.events.len());
    let mut limits = Vec::new();
    for e in &range.events {
        let (kind, text) = match e {
            Event::Introduced(t) if t == "0" => {
                events.push((Bound::Zero, Kind::Introduced, t));
                continue;
            }
            Event::Introduced(t) => (Kind::Introduced, t),
            Event::Fixed(t) => (Kind::Fixed, t),
            Event::LastAffected(t) => (Kind::LastAffected, t),
            Event::Limit(t) => {
                limits.push(if t.contains('*') {
                    None
                } else {
                    Some(scheme.parse(t)?)
                });
                continue;
            }
            Event::Unknown => continue,
        };
        events.push((Bound::At(scheme.parse(text)?), kind, text));
    }

    let fix_above = events
        .iter()
        .filter(|(b, k, _)| *k == Kind::Fixed && b.cmp_version(&v) == Ordering::Greater)
        .min_by(|a, b| order_bounds(&a.0, &b.0))
        .map(|(_, _, t)| t.to_string());

    let before_limits = limits.is_empty()
        || limits.iter().any(|l| match l {
            None => true,
            Some(l) => v < *l,
        });
    if !before_limits {
        return Ok(RangeOutcome {
            affected: false,
            fixed: None,
            fix_above,
        });
    }

    events.sort_by(|a, b| order_bounds(&a.0, &b.0).then(a.1.cmp(&b.1)));
    let mut affected = false;
    let mut fixed = None;
    for (bound, kind, text) in &events {
        let ord = bound.cmp_version(&v);
        match kind {
            Kind::Introduced if ord != Ordering::Greater => {
                affected = true;
                fixed = None;
            }
            Kind::Fixed if ord != Ordering::Greater => affected = false,
            Kind::LastAffected if ord == Ordering::Less => affected = false,
            Kind::Fixed if affected && fixed.is_none() => fixed = Some(text.to_string()),
            _ => {}
        }
    }
    Ok(RangeOutcome {
        affected,
        fixed: if affected { fixed } else { None },
        fix_above,
    })
}

fn order_bounds(a: &Bound, b: &Bound) -> Ordering {
    match (a, b) {
        (Bound::Zero, Bound::Zero) => Ordering::Equal,
        (Bound::Zero, _) => Ordering::Less,
        (_, Bound::Zero) => Ordering::Greater,
        (Bound::At(a), Bound::At(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::parse_record;

    fn range(kind: &str, events: &str) -> Range {
        serde_json::from_str(&format!(r#"{{"type": "{kind}", "events": {events}}}"#)).unwrap()
    }

    fn affects(r: &Range, scheme: Scheme, v: &str) -> bool {
        evaluate_range(r, scheme, v).unwrap().affected
    }

    #[test]
    fn introduced_fixed_intervals() {
        let r = range(
            "SEMVER",
            r#"[{"introduced": "1.0.0"}, {"fixed": "1.0.2"}, {"introduced": "3.0.0"}, {"fixed": "3.2.5"}]"#,
        );
        for (v, want) in [
            ("0.9.9", false),
            ("1.0.0", true),
            ("1.0.1", true),
            ("1.0.2", false),
            ("2.9.9", false),
            ("3.0.0-rc.1", false),
            ("3.0.0", true),
            ("3.2.4", true),
            ("3.2.5", false),
            ("4.0.0", false),
        ] {
            assert_eq!(affects(&r, Scheme::SemVer, v), want, "{v}");
        }
        let out = evaluate_range(&r, Scheme::SemVer, "3.1.0").unwrap();
        assert_eq!(out.fixed.as_deref(), Some("3.2.5"));
    }

    #[test]
    fn events_are_sorted_before_the_walk() {
        let r = range(
            "SEMVER",
            r#"[{"fixed": "3.2.5"}, {"introduced": "3.0.0"}, {"fixed": "1.0.2"}, {"introduced": "0"}]"#,
        );
        assert!(affects(&r, Scheme::SemVer, "0.0.1"));
        assert!(!affects(&r, Scheme::SemVer, "2.0.0"));
        assert!(affects(&r, Scheme::SemVer, "3.0.0"));
    }

    #[test]
    fn zero_introduces_before_everything() {
        let r = range("SEMVER", r#"[{"introduced": "0"}]"#);
        assert!(affects(&r, Scheme::SemVer, "0.0.0-0"));
        assert!(affects(&r, Scheme::SemVer, "999.0.0"));
        let deb = range(
            "ECOSYSTEM",
            r#"[{"introduced": "0"}, {"fixed": "1:1.0-1"}]"#,
        );
        assert!(affects(&deb, Scheme::Dpkg, "0:0~~"));
        assert!(
            affects(&deb, Scheme::Dpkg, "5.0-1"),
            "epoch 0 is below epoch 1"
        );
        assert!(!affects(&deb, Scheme::Dpkg, "1:1.0-1"));
    }

    #[test]
    fn last_affected_is_inclusive() {
        let r = range(
            "ECOSYSTEM",
            r#"[{"introduced": "0"}, {"last_affected": "2.1.214"}]"#,
        );
        assert!(affects(&r, Scheme::Pep440, "2.1.214"));
        assert!(affects(&r, Scheme::Pep440, "2.1.214rc1"));
        assert!(!affects(&r, Scheme::Pep440, "2.1.214.post1"));
        assert!(!affects(&r, Scheme::Pep440, "2.1.215"));
        assert_eq!(
            evaluate_range(&r, Scheme::Pep440, "1.0").unwrap().fixed,
            None
        );
    }

    #[test]
    fn limits_bound_the_range() {
        let r = range("SEMVER", r#"[{"introduced": "1.0.0"}, {"limit": "2.0.0"}]"#);
        assert!(affects(&r, Scheme::SemVer, "1.5.0"));
        assert!(!affects(&r, Scheme::SemVer, "2.0.0"));
        assert!(!affects(&r, Scheme::SemVer, "3.0.0"));
        let star = range("SEMVER", r#"[{"introduced": "1.0.0"}, {"limit": "*"}]"#);
        assert!(affects(&star, Scheme::SemVer, "99.0.0"));
        let two = range(
            "SEMVER",
            r#"[{"introduced": "1.0.0"}, {"limit": "1.5.0"}, {"limit": "3.0.0"}]"#,
        );
        assert!(
            affects(&two, Scheme::SemVer, "2.0.0"),
            "any limit above admits"
        );
    }

    #[test]
    fn same_version_introduced_and_fixed_affects_nothing() {
        let r = range("SEMVER", r#"[{"fixed": "1.0.0"}, {"introduced": "1.0.0"}]"#);
        assert!(!affects(&r, Scheme::SemVer, "1.0.0"));
        let inclusive = range(
            "SEMVER",
            r#"[{"last_affected": "1.0.0"}, {"introduced": "1.0.0"}]"#,
        );
        assert!(affects(&inclusive, Scheme::SemVer, "1.0.0"));
    }

    #[test]
    fn unparseable_events_skip_the_range() {
        let r = range(
            "ECOSYSTEM",
            r#"[{"introduced": "0"}, {"fixed": "not a version!"}]"#,
        );
        assert!(evaluate_range(&r, Scheme::Pep440, "1.0").is_err());
    }

    fn vuln(json: &str) -> Vulnerability {
        Vulnerability::new(parse_record(json.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn versions_list_or_ranges_and_git_ignored() {
        let v = vuln(
            r#"{"id": "T", "affected": [{"package": {"ecosystem": "PyPI", "name": "Foo_Bar"},
                "ranges": [{"type": "GIT", "repo": "r", "events": [{"introduced": "0"}, {"fixed": "abc"}]},
                           {"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "2.3"}]}],
                "versions": ["1.0", "1.1"]}]}"#,
        );
        let pypi = Ecosystem::new(EcosystemName::PyPI);
        let hit = |name, version| {
            affected_by(
                &v,
                &Package {
                    ecosystem: &pypi,
                    name,
                    version,
                },
            )
        };
        let listed = hit("foo-bar", "1.0.0").expect("1.0.0 is 1.0 in PEP 440");
        assert_eq!(listed.reason, HitReason::Listed);
        assert_eq!(listed.fixed.as_deref(), Some("2.3"));
        let ranged = hit("FOO.bar", "2.2").unwrap();
        assert_eq!(ranged.reason, HitReason::Range(1));
        assert_eq!(ranged.fixed.as_deref(), Some("2.3"));
        assert!(hit("foo-bar", "1.5").is_none());
        assert!(hit("foo-bar", "2.3").is_none());
        assert!(hit("foo-baz", "2.2").is_none());

        let ev = evaluate(EcosystemName::PyPI, &v.record.affected[0], "2.2");
        assert_eq!(ev.skipped_ranges, 1, "the GIT range");
    }

    #[test]
    fn ecosystems_without_comparator_match_only_listed_versions() {
        let v = vuln(
            r#"{"id": "M", "affected": [{"package": {"ecosystem": "Maven", "name": "g:a"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
                "versions": ["1.0"]}]}"#,
        );
        let maven = Ecosystem::new(EcosystemName::Maven);
        let pkg = |version| Package {
            ecosystem: &maven,
            name: "g:a",
            version,
        };
        assert!(affected_by(&v, &pkg("1.0")).is_some());
        assert!(affected_by(&v, &pkg("1.5")).is_none());
        assert_eq!(
            evaluate(EcosystemName::Maven, &v.record.affected[0], "1.5").skipped_ranges,
            1
        );
    }
}
