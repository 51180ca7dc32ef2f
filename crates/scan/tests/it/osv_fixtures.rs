//! The scan layer over the real OSV records in `tests/fixtures/osv` (280
//! records copied from osv-scanner's test data, RustSec's `osv` branch and
//! PyPA's advisory database; that directory's README and MANIFEST.tsv give
//! each file's source, commit and licence). They are kept in the
//! repository so that a clean checkout tests with them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_scan::matching::{evaluate_range, Package};
use berth_scan::osv::{parse_record, Ecosystem, EcosystemName, RangeKind, Rejected};
use berth_scan::{affected_by, assess, Severity, Vulnerability};

fn fixtures_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BERTH_OSV_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv"));
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "OSV fixtures missing at {}",
        dir.display()
    );
    eprintln!("skipping: no OSV fixtures at {}", dir.display());
    None
}

/// Every record, by directory and id.
fn load_all() -> Option<BTreeMap<(String, String), berth_scan::Record>> {
    let dir = fixtures_dir()?;
    let mut out = BTreeMap::new();
    for sub in std::fs::read_dir(&dir).unwrap() {
        let sub = sub.unwrap().path();
        if !sub.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&sub).unwrap() {
            let f = f.unwrap().path();
            if f.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let rec = parse_record(&std::fs::read(&f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let dir_name = sub.file_name().unwrap().to_string_lossy().into_owned();
            out.insert((dir_name, rec.id.clone()), rec);
        }
    }
    Some(out)
}

fn vuln(dir: &str, id: &str) -> Option<Vulnerability> {
    let path = fixtures_dir()?.join(dir).join(format!("{id}.json"));
    let rec = parse_record(&std::fs::read(&path).unwrap()).unwrap();
    Some(Vulnerability::new(rec).unwrap())
}

#[test]
fn every_record_parses_and_withdrawn_ones_are_dropped() {
    let Some(all) = load_all() else { return };
    assert_eq!(all.len(), 280);
    let mut withdrawn: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unmatchable = Vec::new();
    let mut kept = 0;
    for ((dir, id), rec) in &all {
        match Vulnerability::new(rec.clone()) {
            Ok(_) => kept += 1,
            Err(Rejected::Withdrawn) => *withdrawn.entry(dir.as_str()).or_default() += 1,
            Err(Rejected::NoKnownPackage) => unmatchable.push(id.as_str()),
        }
    }
    // The README's counts: 10 withdrawn PyPI records, 13 withdrawn RustSec.
    assert_eq!(withdrawn.get("PyPI"), Some(&10));
    assert_eq!(withdrawn.get("crates.io"), Some(&13));
    assert_eq!(withdrawn.values().sum::<usize>(), 23, "{withdrawn:?}");
    // GIT-only records name no ecosystem berth can match.
    unmatchable.sort();
    assert_eq!(
        unmatchable,
        [
            "CVE-2024-51757",
            "CVE-2025-11187",
            "OSV-2018-389",
            "OSV-2023-1161"
        ]
    );
    assert_eq!(kept, 280 - 23 - 4);
}

/// osv.dev expands ranges into the `versions` list, so where a record has
/// both, every listed version must lie in one of its evaluable ranges: a
/// check of the comparators and the evaluation on real data.
#[test]
fn listed_versions_lie_in_the_ranges() {
    let Some(all) = load_all() else { return };
    let mut checked: BTreeMap<EcosystemName, usize> = BTreeMap::new();
    let mut outside = Vec::new();
    let mut unparseable = Vec::new();
    for rec in all.values() {
        let Ok(v) = Vulnerability::new(rec.clone()) else {
            continue;
        };
        for (eco, affected) in v.affected() {
            let evaluable: Vec<_> = affected
                .ranges
                .iter()
                .filter(|r| r.kind != RangeKind::Git)
                .filter_map(|r| {
                    let scheme = match r.kind {
                        RangeKind::Semver => Some(berth_scan::Scheme::SemVer),
                        _ => eco.name.scheme(),
                    }?;
                    Some((r, scheme))
                })
                .collect();
            if evaluable.is_empty() {
                continue;
            }
            for listed in &affected.versions {
                if evaluable.iter().all(|(_, s)| s.parse(listed).is_err()) {
                    // Legacy strings outside the scheme (`0.1-bulbasaur` is
                    // no PEP 440 version) cannot lie in a range.
                    unparseable.push(listed.clone());
                    continue;
                }
                let inside = evaluable.iter().any(|(r, s)| {
                    evaluate_range(r, *s, listed)
                        .map(|o| o.affected)
                        .unwrap_or(false)
                });
                *checked.entry(eco.name).or_default() += 1;
                if !inside {
                    outside.push(format!("{} {} {}", rec.id, eco, listed));
                }
            }
        }
    }
    eprintln!("checked: {checked:?}");
    assert!(
        outside.is_empty(),
        "{} outside:\n{}",
        outside.len(),
        outside.join("\n")
    );
    assert_eq!(checked.get(&EcosystemName::PyPI), Some(&3623));
    assert_eq!(checked.get(&EcosystemName::Debian), Some(&69));
    assert_eq!(unparseable.len(), 8, "{unparseable:?}");
}

/// (directory, record id, image ecosystem, package, version, expected fix:
/// `Some(fix)` affected with that fix, `Some("")` affected with no fix known,
/// `None` not affected). Expectations read off each record's ranges by hand.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

const KNOWN: &[Case] = &[
    // npm (GHSA): SEMVER ranges, last_affected, one package in two entries.
    (
        "npm",
        "GHSA-29mw-wpgm-hmr9",
        "npm",
        "lodash",
        "4.17.20",
        Some("4.17.21"),
    ),
    (
        "npm",
        "GHSA-29mw-wpgm-hmr9",
        "npm",
        "lodash",
        "4.17.21",
        None,
    ),
    (
        "npm",
        "GHSA-29mw-wpgm-hmr9",
        "npm",
        "lodash",
        "3.10.1",
        None,
    ),
    (
        "npm",
        "GHSA-29mw-wpgm-hmr9",
        "npm",
        "lodash.trim",
        "4.5.1",
        Some(""),
    ),
    (
        "npm",
        "GHSA-29mw-wpgm-hmr9",
        "npm",
        "lodash.trim",
        "4.5.2",
        None,
    ),
    (
        "npm",
        "GHSA-3787-6prv-h9w3",
        "npm",
        "undici",
        "5.28.2",
        Some("5.28.3"),
    ),
    (
        "npm",
        "GHSA-3787-6prv-h9w3",
        "npm",
        "undici",
        "5.28.3",
        None,
    ),
    (
        "npm",
        "GHSA-3787-6prv-h9w3",
        "npm",
        "undici",
        "6.5.0",
        Some("6.6.1"),
    ),
    ("npm", "GHSA-3787-6prv-h9w3", "npm", "undici", "6.6.1", None),
    ("npm", "GHSA-3787-6prv-h9w3", "npm", "Undici", "5.0.0", None),
    (
        "npm",
        "GHSA-2j2x-2gpw-g8fm",
        "npm",
        "flat",
        "5.0.0",
        Some("5.0.1"),
    ),
    ("npm", "GHSA-2j2x-2gpw-g8fm", "npm", "flat", "5.0.1", None),
    ("npm", "GHSA-2j2x-2gpw-g8fm", "PyPI", "flat", "5.0.0", None),
    // PyPI (PYSEC): PEP 440 ranges, names in normal form, no fix, last_affected.
    (
        "PyPI",
        "PYSEC-2009-10",
        "PyPI",
        "ZODB3",
        "3.8.2",
        Some("3.8.3"),
    ),
    ("PyPI", "PYSEC-2009-10", "PyPI", "zodb3", "3.8.3", None),
    (
        "PyPI",
        "PYSEC-2009-10",
        "PyPI",
        "zodb3",
        "3.9.0c1",
        Some("3.9.0c2"),
    ),
    ("PyPI", "PYSEC-2009-10", "PyPI", "zodb3", "3.9.0", None),
    ("PyPI", "PYSEC-2009-10", "PyPI", "zodb3", "3.7", None),
    (
        "PyPI",
        "PYSEC-2012-1",
        "PyPI",
        "Beaker",
        "1.6.5",
        Some("1.6.5.post1"),
    ),
    (
        "PyPI",
        "PYSEC-2012-1",
        "PyPI",
        "beaker",
        "1.6.5.post1",
        None,
    ),
    (
        "PyPI",
        "PYSEC-2012-18",
        "PyPI",
        "horizon",
        "2024.1",
        Some(""),
    ),
    ("PyPI", "PYSEC-2022-42969", "PyPI", "py", "1.11.0", Some("")),
    ("PyPI", "PYSEC-2022-42969", "PyPI", "py", "1.11.1", None),
    // crates.io (RustSec): 0.0.0-0 lower bounds, pre-release fixes.
    (
        "crates.io",
        "RUSTSEC-2021-0003",
        "crates.io",
        "smallvec",
        "0.6.13",
        Some("0.6.14"),
    ),
    (
        "crates.io",
        "RUSTSEC-2021-0003",
        "crates.io",
        "smallvec",
        "0.6.14",
        None,
    ),
    (
        "crates.io",
        "RUSTSEC-2021-0003",
        "crates.io",
        "smallvec",
        "0.6.2",
        None,
    ),
    (
        "crates.io",
        "RUSTSEC-2021-0003",
        "crates.io",
        "smallvec",
        "1.6.0",
        Some("1.6.1"),
    ),
    (
        "crates.io",
        "RUSTSEC-2021-0003",
        "crates.io",
        "smallvec",
        "1.6.1",
        None,
    ),
    (
        "crates.io",
        "RUSTSEC-2016-0004",
        "crates.io",
        "libusb",
        "0.3.0",
        Some("0.3.1-0"),
    ),
    (
        "crates.io",
        "RUSTSEC-2016-0004",
        "crates.io",
        "libusb",
        "0.3.1-alpha",
        None,
    ),
    (
        "crates.io",
        "RUSTSEC-2016-0004",
        "crates.io",
        "libusb",
        "0.0.0-0",
        Some("0.3.1-0"),
    ),
    // Go: pseudo-versions, the standard library, v prefixes.
    (
        "Go",
        "GO-2022-0274",
        "Go",
        "github.com/opencontainers/runc",
        "v1.0.0",
        None,
    ),
    (
        "Go",
        "GO-2022-0274",
        "Go",
        "github.com/opencontainers/runc",
        "v1.0.1-0.20211012131345-9c444070ec7b",
        Some("1.1.0"),
    ),
    (
        "Go",
        "GO-2022-0274",
        "Go",
        "github.com/opencontainers/runc",
        "v1.0.1",
        Some("1.1.0"),
    ),
    (
        "Go",
        "GO-2022-0274",
        "Go",
        "github.com/opencontainers/runc",
        "v1.1.0-rc.1",
        Some("1.1.0"),
    ),
    (
        "Go",
        "GO-2022-0274",
        "Go",
        "github.com/opencontainers/runc",
        "v1.1.0",
        None,
    ),
    (
        "Go",
        "GO-2022-0493",
        "Go",
        "stdlib",
        "go1.17.9",
        Some("1.17.10"),
    ),
    (
        "Go",
        "GO-2022-0493",
        "Go",
        "stdlib",
        "1.18.1",
        Some("1.18.2"),
    ),
    ("Go", "GO-2022-0493", "Go", "stdlib", "1.18.2", None),
    (
        "Go",
        "GO-2022-0493",
        "Go",
        "golang.org/x/sys",
        "v0.0.0-20220412000000-abcdefabcdef",
        Some("0.0.0-20220412211240-33da011f77ad"),
    ),
    (
        "Go",
        "GO-2022-0493",
        "Go",
        "golang.org/x/sys",
        "v0.0.0-20220412211240-33da011f77ad",
        None,
    ),
    (
        "Go",
        "GO-2022-0493",
        "Go",
        "golang.org/x/sys",
        "v0.1.0",
        None,
    ),
    (
        "Go",
        "GO-2023-2382",
        "Go",
        "stdlib",
        "1.21.4",
        Some("1.21.5"),
    ),
    // Debian (DLA, Debian:9 only): dpkg ranges, the release must match.
    (
        "Debian",
        "DLA-3012-1",
        "Debian:9",
        "libxml2",
        "2.9.4+dfsg1-2.2+deb9u6",
        Some("2.9.4+dfsg1-2.2+deb9u7"),
    ),
    (
        "Debian",
        "DLA-3012-1",
        "Debian:9",
        "libxml2",
        "2.9.4+dfsg1-2.2+deb9u7",
        None,
    ),
    (
        "Debian",
        "DLA-3012-1",
        "Debian:10",
        "libxml2",
        "2.9.4+dfsg1-2.2+deb9u6",
        None,
    ),
    (
        "Debian",
        "DLA-3008-1",
        "Debian:9",
        "openssl",
        "1.1.0l-1~deb9u5",
        Some("1.1.0l-1~deb9u6"),
    ),
    (
        "Debian",
        "DLA-3008-1",
        "Debian:9",
        "openssl",
        "1.1.0l-1",
        None,
    ),
    (
        "Debian",
        "DLA-3051-1",
        "Debian:9",
        "tzdata",
        "2021a-0+deb9u3",
        Some("2021a-0+deb9u4"),
    ),
    // Alpine: one record, a fix per branch.
    (
        "Alpine",
        "ALPINE-CVE-2025-26519",
        "Alpine:v3.16",
        "musl",
        "1.2.3-r3",
        Some("1.2.3-r4"),
    ),
    (
        "Alpine",
        "ALPINE-CVE-2025-26519",
        "Alpine:v3.16",
        "musl",
        "1.2.3-r4",
        None,
    ),
    (
        "Alpine",
        "ALPINE-CVE-2025-26519",
        "Alpine:v3.16",
        "musl",
        "0.9.12-r0",
        None,
    ),
    (
        "Alpine",
        "ALPINE-CVE-2025-26519",
        "Alpine:v3.17",
        "musl",
        "1.2.3-r4",
        Some("1.2.3-r6"),
    ),
    (
        "Alpine",
        "ALPINE-CVE-2025-26519",
        "Alpine:v3.19",
        "musl",
        "1.2.4-r2",
        Some("1.2.4_git20230717-r5"),
    ),
    (
        "Alpine",
        "ALPINE-CVE-2025-26519",
        "Alpine:v3.19",
        "musl",
        "1.2.4_git20230717-r4",
        Some("1.2.4_git20230717-r5"),
    ),
    (
        "Alpine",
        "ALPINE-CVE-2025-26519",
        "Alpine:v3.19",
        "musl",
        "1.2.4_git20230717-r5",
        None,
    ),
    (
        "Alpine",
        "ALPINE-CVE-2025-26519",
        "Alpine:v3.15",
        "musl",
        "1.2.2-r7",
        None,
    ),
];

pub fn check_cases(dir_of: impl Fn(&str) -> Option<Vulnerability>, cases: &[Case]) {
    let mut wrong = Vec::new();
    for (dir, id, eco, name, version, want) in cases {
        let Some(v) = dir_of(&format!("{dir}/{id}")) else {
            return;
        };
        let ecosystem = Ecosystem::parse(eco).unwrap();
        let hit = affected_by(
            &v,
            &Package {
                ecosystem: &ecosystem,
                name,
                version,
            },
        );
        let got = hit.map(|h| h.fixed.unwrap_or_default());
        if got.as_deref() != *want {
            wrong.push(format!(
                "{id} {eco} {name} {version}: want {want:?}, got {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn known_vulnerable_and_fixed_versions() {
    check_cases(
        |path| {
            let (dir, id) = path.split_once('/').unwrap();
            vuln(dir, id)
        },
        KNOWN,
    );
}

#[test]
fn severities_of_real_records() {
    let cases: &[(&str, &str, Severity)] = &[
        // GitHub's own severity first (MODERATE is MEDIUM), over CVSS.
        ("npm", "GHSA-29mw-wpgm-hmr9", Severity::Medium),
        ("npm", "GHSA-2j2x-2gpw-g8fm", Severity::Critical),
        ("npm", "GHSA-2mhh-w6q8-5hxw", Severity::Low),
        // RustSec: CVSS v3 9.8; informational advisories.
        ("crates.io", "RUSTSEC-2021-0003", Severity::Critical),
        ("crates.io", "RUSTSEC-2016-0004", Severity::Informational),
        // The Go database and PYSEC records without vectors.
        ("Go", "GO-2021-0053", Severity::Undefined),
        ("PyPI", "PYSEC-2012-1", Severity::Undefined),
        // Alpine's record carries an NVD v3.1 vector (7.0).
        ("Alpine", "ALPINE-CVE-2025-26519", Severity::High),
    ];
    for (dir, id, want) in cases {
        let Some(v) = vuln(dir, id) else { return };
        let a = assess(&v.record, Some(&v.record.affected[v.known[0].0]));
        assert_eq!(a.severity, *want, "{id}");
    }
    let Some(v) = vuln("crates.io", "RUSTSEC-2025-0149") else {
        return;
    };
    let a = assess(&v.record, Some(&v.record.affected[0]));
    let cvss = a.cvss.expect("a v4 vector");
    assert_eq!(cvss.version, berth_scan::CvssVersion::V4_0);
    assert_eq!(a.severity, Severity::from_score(cvss.score));
    assert!(cvss.score > 0.0);
}

/// Every kept record's severity is computable, and every vector in the
/// fixtures parses: a vector the cvss crate refused would silently lower a
/// finding to UNDEFINED.
#[test]
fn every_fixture_vector_scores() {
    let Some(all) = load_all() else { return };
    let mut vectors = 0;
    for rec in all.values() {
        for s in rec
            .severity
            .iter()
            .chain(rec.affected.iter().flat_map(|a| a.severity.iter()))
        {
            if s.kind.starts_with("CVSS_") {
                vectors += 1;
                let c = berth_scan::CvssScore::parse(&s.score)
                    .unwrap_or_else(|| panic!("{}: {}", rec.id, s.score));
                assert!((0.0..=10.0).contains(&c.score));
            }
        }
    }
    assert_eq!(vectors, 165);
}

#[test]
fn the_fixture_directory_loads_into_an_index() {
    let Some(dir) = fixtures_dir() else { return };
    let (db, stats) = berth_scan::load_dir(&dir).unwrap();
    assert_eq!(stats.loaded, 253);
    assert_eq!(
        (stats.withdrawn, stats.unmatchable, stats.invalid),
        (23, 4, 0)
    );
    assert_eq!(db.len(), 253);
    // lodash is named by several GHSA records; the index finds them all.
    let npm = Ecosystem::new(EcosystemName::Npm);
    let hits = db.matches(&Package {
        ecosystem: &npm,
        name: "lodash",
        version: "4.17.20",
    });
    let ids: Vec<&str> = hits.iter().map(|h| h.vulnerability.id()).collect();
    assert!(
        ids.contains(&"GHSA-29mw-wpgm-hmr9") && ids.contains(&"GHSA-35jh-r3h4-6jhm"),
        "{ids:?}"
    );
    assert!(db
        .matches(&Package {
            ecosystem: &npm,
            name: "lodash",
            version: "4.17.21"
        })
        .iter()
        .all(|h| h.vulnerability.id() != "GHSA-29mw-wpgm-hmr9"));
}
