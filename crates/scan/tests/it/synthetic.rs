//! Distribution matching over the synthetic records in
//! tests/fixtures/synthetic (written for these tests; see the README there),
//! loaded through the directory and zip loaders.

use std::io::Write;
use std::path::PathBuf;

use berth_scan::matching::Package;
use berth_scan::osv::Ecosystem;
use berth_scan::{assess, load_dir, load_zip, Loader, Severity, VulnDb};

fn synthetic_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/synthetic")
}

fn db() -> VulnDb {
    let (db, stats) = load_dir(&synthetic_dir()).unwrap();
    assert_eq!(stats.loaded, 8);
    assert_eq!(stats.withdrawn, 1);
    assert_eq!(stats.skipped_entries, 1, "the Imaginary:1 entry");
    assert_eq!(stats.invalid, 0);
    db
}

/// (image ecosystem, package, version, ids with their fixes: "" for none).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const CASES: &[Case] = &[
    // Debian: the release decides which fix applies; epochs; `~` before the
    // release; unfixed records; withdrawn records never match.
    (
        "Debian:12",
        "openssl",
        "3.0.11-1~deb12u1",
        &[("BERTH-SYNTHETIC-0001", "3.0.11-1~deb12u2")],
    ),
    ("Debian:12", "openssl", "3.0.11-1~deb12u2", &[]),
    ("Debian:12", "openssl", "3.0.13-1~deb12u1", &[]),
    ("Debian:11", "openssl", "1.1.1w-0+deb11u1", &[]),
    (
        "Debian:11",
        "openssl",
        "1.1.1n-0+deb11u5",
        &[("BERTH-SYNTHETIC-0001", "1.1.1w-0+deb11u1")],
    ),
    ("Debian:10", "openssl", "1.1.1n-0+deb10u6", &[]),
    (
        "Debian:12",
        "shadow",
        "1:4.13+dfsg1-1",
        &[("BERTH-SYNTHETIC-0002", "1:4.13+dfsg1-1+deb12u1")],
    ),
    (
        "Debian:12",
        "shadow",
        "4.99-1",
        &[("BERTH-SYNTHETIC-0002", "1:4.13+dfsg1-1+deb12u1")],
    ),
    ("Debian:12", "shadow", "1:4.13+dfsg1-1+deb12u1", &[]),
    (
        "Debian:12",
        "glibc",
        "2.36-9+deb12u10",
        &[("BERTH-SYNTHETIC-0003", "")],
    ),
    (
        "Debian:12",
        "zlib",
        "1:1.2.13.dfsg-1",
        &[("BERTH-SYNTHETIC-0008", "")],
    ),
    ("Debian:12", "zlib", "1:1.2.13.dfsg-1+b1", &[]),
    (
        "Debian:12",
        "zlib",
        "1:1.3.dfsg-2",
        &[("BERTH-SYNTHETIC-0008", "")],
    ),
    ("Debian:12", "zlib", "1:1.3.dfsg-3", &[]),
    // Alpine: one fix per branch; _rc sorts before the release, -rN after.
    (
        "Alpine:v3.19",
        "busybox",
        "1.36.1-r15",
        &[("BERTH-SYNTHETIC-0004", "1.36.1-r16")],
    ),
    ("Alpine:v3.19", "busybox", "1.36.1-r16", &[]),
    (
        "Alpine:v3.20",
        "busybox",
        "1.36.1-r16",
        &[("BERTH-SYNTHETIC-0004", "1.36.1-r29")],
    ),
    ("Alpine:v3.20", "busybox", "1.36.1-r29", &[]),
    ("Alpine:v3.18", "busybox", "1.36.1-r2", &[]),
    (
        "Alpine:v3.19",
        "libxml2",
        "2.11.7_rc1-r0",
        &[("BERTH-SYNTHETIC-0005", "2.11.7-r0")],
    ),
    (
        "Alpine:v3.19",
        "libxml2",
        "2.11.6-r3",
        &[("BERTH-SYNTHETIC-0005", "2.11.7-r0")],
    ),
    ("Alpine:v3.19", "libxml2", "2.11.7-r0", &[]),
    ("Alpine:v3.19", "libxml2", "2.10.4-r0", &[]),
    // Ubuntu: `:LTS` is a label; Pro fixes apply to Pro only.
    (
        "Ubuntu:22.04",
        "curl",
        "7.81.0-1ubuntu1.14",
        &[("BERTH-SYNTHETIC-0006", "7.81.0-1ubuntu1.15")],
    ),
    ("Ubuntu:22.04", "curl", "7.81.0-1ubuntu1.15", &[]),
    ("Ubuntu:18.04", "curl", "7.58.0-2ubuntu3.24", &[]),
    // rpm: epochs and `.el9_3` releases.
    (
        "Rocky Linux:9",
        "openssl",
        "1:3.0.7-24.el9",
        &[("BERTH-SYNTHETIC-0007", "1:3.0.7-25.el9_3")],
    ),
    ("Rocky Linux:9", "openssl", "1:3.0.7-25.el9_3", &[]),
    (
        "AlmaLinux:9",
        "openssl",
        "1:3.0.7-25.el9",
        &[("BERTH-SYNTHETIC-0007", "1:3.0.7-25.el9_3")],
    ),
    ("AlmaLinux:8", "openssl", "1:1.1.1k-9.el8", &[]),
];

fn check(db: &VulnDb) {
    let mut wrong = Vec::new();
    for (eco, name, version, want) in CASES {
        let ecosystem = Ecosystem::parse(eco).unwrap();
        let got: Vec<(String, String)> = db
            .matches(&Package {
                ecosystem: &ecosystem,
                name,
                version,
            })
            .into_iter()
            .map(|h| {
                (
                    h.vulnerability.id().to_string(),
                    h.fixed.unwrap_or_default(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        if got != want {
            wrong.push(format!(
                "{eco} {name} {version}: want {want:?}, got {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn distribution_packages_match_by_release_and_version() {
    check(&db());
}

#[test]
fn severities_of_distribution_records() {
    let db = db();
    let sev = |id: &str| {
        let v = db.get(id).unwrap();
        assess(&v.record, Some(&v.record.affected[v.known[0].0])).severity
    };
    assert_eq!(sev("BERTH-SYNTHETIC-0001"), Severity::High, "CVSS v3.1 7.5");
    assert_eq!(
        sev("BERTH-SYNTHETIC-0002"),
        Severity::High,
        "vendor severity"
    );
    assert_eq!(sev("BERTH-SYNTHETIC-0003"), Severity::Undefined);
    assert_eq!(sev("BERTH-SYNTHETIC-0004"), Severity::High, "CVSS v2 7.5");
    assert_eq!(
        sev("BERTH-SYNTHETIC-0006"),
        Severity::Medium,
        "Ubuntu priority"
    );
    assert_eq!(
        sev("BERTH-SYNTHETIC-0007"),
        Severity::Medium,
        "CVSS v3.1 5.9"
    );
}

#[test]
fn zip_archives_load_like_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("all.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for entry in std::fs::read_dir(synthetic_dir()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            w.start_file(p.file_name().unwrap().to_string_lossy(), opts)
                .unwrap();
            w.write_all(&std::fs::read(&p).unwrap()).unwrap();
        }
    }
    w.start_file("not-a-record.json", opts).unwrap();
    w.write_all(b"{\"no\": \"id\"}").unwrap();
    w.start_file("README.txt", opts).unwrap();
    w.write_all(b"ignored").unwrap();
    w.finish().unwrap();

    let (db, stats) = load_zip(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(
        (stats.loaded, stats.withdrawn, stats.invalid),
        (8, 1, 1),
        "{stats:?}"
    );
    assert!(
        stats.errors[0].starts_with("not-a-record.json"),
        "{:?}",
        stats.errors
    );
    check(&db);

    // A member over the size limit is refused, not read.
    let mut l = Loader::new();
    l.add_zip(std::fs::File::open(&path).unwrap(), 64).unwrap();
    let (db, stats) = l.finish();
    assert_eq!(db.len(), 0);
    assert_eq!(stats.invalid, 10);
}

#[test]
fn a_later_withdrawal_removes_the_record() {
    let v1 = br#"{"id": "X-1", "modified": "2026-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": "a"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}"#;
    let v2 =
        br#"{"id": "X-1", "modified": "2026-02-01T00:00:00Z", "withdrawn": "2026-02-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": "a"}}]}"#;
    for order in [[&v1[..], &v2[..]], [&v2[..], &v1[..]]] {
        let mut l = Loader::new();
        for json in order {
            l.add_json("x", json);
        }
        let (db, stats) = l.finish();
        assert!(db.get("X-1").is_none());
        assert_eq!((stats.withdrawn, stats.superseded), (1, 1));
    }
}
