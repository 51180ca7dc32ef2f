use super::*;
use crate::layers::{Entry, FileView};

#[test]
fn os_release_quoting_and_ecosystems() {
    let r = parse_os_release(
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n# comment\ngarbage line\n",
    );
    assert_eq!(r.id, "debian");
    assert_eq!(r.version_id.as_deref(), Some("12"));
    assert_eq!(
        r.pretty_name.as_deref(),
        Some("Debian GNU/Linux 12 (bookworm)")
    );
    let a = parse_os_release("ID='alpine'\nVERSION_ID=3.19.1\nID_LIKE=\"a b\"\n");
    assert_eq!(a.id, "alpine");
    assert_eq!(a.id_like, ["a", "b"]);
    let esc = parse_os_release("PRETTY_NAME=\"say \\\"hi\\\"\"\n");
    assert_eq!(esc.pretty_name.as_deref(), Some("say \"hi\""));
    assert_eq!(parse_os_release("").id, "linux");

    for (text, want) in [
        ("ID=debian\nVERSION_ID=\"12\"", Some("Debian:12")),
        ("ID=debian\nVERSION_ID=\"11.9\"", Some("Debian:11")),
        ("ID=alpine\nVERSION_ID=3.19.1", Some("Alpine:v3.19")),
        ("ID=ubuntu\nVERSION_ID=\"22.04\"", Some("Ubuntu:22.04")),
        ("ID=rocky\nVERSION_ID=\"9.3\"", Some("Rocky Linux:9")),
        ("ID=debian", Some("Debian")),
        ("ID=plan9\nVERSION_ID=4", None),
    ] {
        let r = parse_os_release(text);
        let eco = crate::osv::Ecosystem::from_os_release(&r.id, r.version_id.as_deref());
        assert_eq!(eco.map(|e| e.to_string()).as_deref(), want, "{text}");
    }
}

const STATUS: &str = "\
Package: libssl3
Status: install ok installed
Priority: optional
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u1
Description: Secure Sockets Layer toolkit
 This package is part of the OpenSSL project.
 .
 Version: 9.9 in a continuation line is not a field

Package: removed-pkg
Status: deinstall ok config-files
Version: 1.0

Package: libc6
Status: hold ok installed
Source: glibc (2.36-9+deb12u3)
Version: 2.36-9+deb12u3+b1

Package: half
Status: install ok half-installed
Version: 1.0

Package: no-version
Status: install ok installed

Package: bash
Status: install ok installed
Version: 5.2.15-2+b2
";

#[test]
fn dpkg_status_installed_only_with_sources() {
    let p = parse_dpkg_status(STATUS, false);
    let got: Vec<_> = p
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.source
                    .as_ref()
                    .map(|s| (s.name.as_str(), s.version.as_deref())),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("libssl3", "3.0.11-1~deb12u1", Some(("openssl", None))),
            (
                "libc6",
                "2.36-9+deb12u3+b1",
                Some(("glibc", Some("2.36-9+deb12u3")))
            ),
            ("bash", "5.2.15-2+b2", None),
        ]
    );
    // status.d paragraphs carry no Status.
    let d = parse_dpkg_status("Package: tzdata\nVersion: 2024a-0+deb12u1\n", true);
    assert_eq!(d.len(), 1);
    assert!(parse_dpkg_status("Package: tzdata\nVersion: 2024a-0+deb12u1\n", false).is_empty());
    assert!(parse_dpkg_status("\r\n:::\n\u{0}\nPackage:\nVersion:\n", true).is_empty());
}

#[test]
fn apk_installed_with_origins() {
    let text = "C:Q1abc=\nP:busybox-binsh\nV:1.36.1-r15\nA:x86_64\no:busybox\n\nP:musl\nV:1.2.4_git20230717-r4\no:musl\n\nP:broken\n\nV:orphan\n";
    let p = parse_apk_installed(text);
    let got: Vec<_> = p
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.match_name()))
        .collect();
    assert_eq!(
        got,
        [
            ("busybox-binsh", "1.36.1-r15", "busybox"),
            ("musl", "1.2.4_git20230717-r4", "musl"),
        ]
    );
}

#[test]
fn python_metadata_headers_only() {
    let m = "Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 2.31.0\nSummary: x\n\nName: not-this\n";
    assert_eq!(
        parse_python_metadata(m),
        Some(("Foo_Bar".to_string(), "2.31.0".to_string()))
    );
    assert_eq!(parse_python_metadata("Name: x\n"), None);
    assert_eq!(parse_python_metadata(""), None);
}

#[test]
fn package_json_name_and_version() {
    assert_eq!(
        parse_package_json(br#"{"name": "lodash", "version": "4.17.20", "dependencies": {}}"#),
        Some(("lodash".to_string(), "4.17.20".to_string()))
    );
    for bad in [
        &br#"{"name": "x"}"#[..],
        br#"{"name": 1, "version": "1.0.0"}"#,
        br#"[]"#,
        b"not json",
        b"",
        br#"{"name": "", "version": "1"}"#,
    ] {
        assert_eq!(parse_package_json(bad), None);
    }
}

fn view(files: &[(&str, Entry)]) -> FileView {
    let mut v = FileView::default();
    for (p, e) in files {
        v.insert(p.to_string(), e.clone());
    }
    v
}

fn file(s: &str) -> Entry {
    Entry::File(s.as_bytes().to_vec())
}

#[test]
fn detection_over_a_view() {
    let v = view(&[
        (
            "etc/os-release",
            Entry::Symlink("../usr/lib/os-release".into()),
        ),
        ("usr/lib/os-release", file("ID=debian\nVERSION_ID=\"12\"\n")),
        ("var/lib/dpkg/status", file(STATUS)),
        (
            "var/lib/dpkg/status.d/tzdata",
            file("Package: tzdata\nVersion: 2024a-0+deb12u1\n"),
        ),
        (
            "usr/lib/python3/dist-packages/Foo_Bar-1.0.dist-info/METADATA",
            file("Name: Foo_Bar\nVersion: 1.0\n"),
        ),
        (
            "app/node_modules/lodash/package.json",
            file(r#"{"name":"lodash","version":"4.17.20"}"#),
        ),
        ("app/node_modules/bad/package.json", file("{")),
        ("lib/apk/db/installed", file("P:musl\nV:1.2.4-r2\no:musl\n")),
        ("var/lib/dpkg/status.d/huge", Entry::TooLarge(99 << 20)),
    ]);
    let d = detect(&v);
    let os = d.os.as_ref().unwrap();
    assert_eq!(os.ecosystem.as_ref().unwrap().to_string(), "Debian:12");
    let names: Vec<_> = d
        .packages
        .iter()
        .map(|p| {
            (
                p.kind,
                p.name.as_str(),
                p.ecosystem.as_ref().map(|e| e.to_string()),
            )
        })
        .collect();
    let deb = Some("Debian:12".to_string());
    assert_eq!(
        names,
        [
            (PackageKind::Os, "musl", None),
            (PackageKind::Os, "libssl3", deb.clone()),
            (PackageKind::Os, "libc6", deb.clone()),
            (PackageKind::Os, "bash", deb.clone()),
            (PackageKind::Os, "tzdata", deb.clone()),
            (PackageKind::Language, "lodash", Some("npm".to_string())),
            (PackageKind::Language, "foo-bar", Some("PyPI".to_string())),
        ]
    );
    let libc = &d.packages[2];
    assert_eq!(
        (libc.match_name(), libc.match_version()),
        ("glibc", "2.36-9+deb12u3")
    );
    assert_eq!(d.warnings.len(), 2, "{:?}", d.warnings);
}

fn rpmdb_fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rpmdb/rpmdb.sqlite"
    ))
    .unwrap()
}

#[test]
fn rpm_sqlite_database_with_overflow_and_interior_pages() {
    let db = rpmdb_fixture();
    let pkgs = parse_rpmdb_sqlite(&db).unwrap();
    assert_eq!(pkgs.len(), 303, "304 rows, gpg-pubkey left out");
    assert_eq!(
        pkgs[0],
        RpmPackage {
            name: "openssl".into(),
            version: "1:3.0.7-24.el9".into(),
            source_rpm: Some("openssl-3.0.7-24.el9.src.rpm".into()),
        }
    );
    assert_eq!(pkgs[1].name, "openssl-libs", "the row on overflow pages");
    assert_eq!(
        (pkgs[2].name.as_str(), pkgs[2].version.as_str()),
        ("bash", "5.1.8-6.el9")
    );
    assert_eq!(
        pkgs[302].name, "filler-299",
        "rowid order across leaf pages"
    );
    // The index table is not the Packages table.
    assert_eq!(sqlite_column_bytes(&db, "Name", 0).unwrap().len(), 304);
    assert!(sqlite_column_bytes(&db, "Nope", 0).is_none());
    assert!(parse_rpmdb_sqlite(b"SQLite format 3\0").is_none());
    assert!(parse_rpmdb_sqlite(b"").is_none());
}

#[test]
fn rpm_headers_malformed() {
    for bad in [
        &b""[..],
        b"\0\0\0\x01\0\0\0\x04",
        b"\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\0\0\0\x01\0\0\0\x02\0\0\x03\xe8\0\0\0\x06\0\0\0\x09\0\0\0\x01ab",
    ] {
        assert_eq!(parse_rpm_header(bad), None);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    #[test]
    fn corrupted_rpm_databases_never_panic(
        edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 1..16),
        cut in proptest::prelude::any::<proptest::sample::Index>(),
    ) {
        let mut db = rpmdb_fixture();
        for (i, b) in &edits {
            let at = i.index(db.len());
            db[at] = *b;
        }
        let _ = parse_rpmdb_sqlite(&db);
        db.truncate(cut.index(db.len()));
        let _ = parse_rpmdb_sqlite(&db);
    }

    #[test]
    fn arbitrary_rpm_headers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let _ = parse_rpm_header(&bytes);
    }
}

#[test]
fn rpm_database_written_by_rpm_itself() {
    let db = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rpmdb/real-rpm-4.18.sqlite"
    ))
    .unwrap();
    assert_eq!(
        parse_rpmdb_sqlite(&db).unwrap(),
        [RpmPackage {
            name: "berth-demo".into(),
            version: "2:1.2.3-4.el9".into(),
            source_rpm: Some("berth-demo-1.2.3-4.el9.src.rpm".into()),
        }]
    );
}

/// The machine's own dpkg database (a real Debian system) read by berth and
/// by `dpkg-query`: the same installed packages, versions and source
/// packages. Skipped where there is no dpkg.
#[test]
fn dpkg_status_agrees_with_dpkg_query() {
    let Ok(status) = std::fs::read_to_string("/var/lib/dpkg/status") else {
        eprintln!("no /var/lib/dpkg/status; skipped");
        return;
    };
    let Ok(out) = std::process::Command::new("dpkg-query")
        .args([
            "-W",
            "-f",
            "${db:Status-Status}\\t${Package}\\t${Version}\\t${source:Package}\\t${source:Version}\\n",
        ])
        .output()
    else {
        eprintln!("no dpkg-query; skipped");
        return;
    };
    let mut want: Vec<(String, String, String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0] == "installed").then(|| (f[1].into(), f[2].into(), f[3].into(), f[4].into()))
        })
        .collect();
    let mut got: Vec<(String, String, String, String)> = parse_dpkg_status(&status, false)
        .into_iter()
        .map(|p| {
            let f = FoundPackage {
                kind: PackageKind::Os,
                ecosystem: None,
                name: p.name,
                version: p.version,
                source: p.source,
                path: String::new(),
            };
            (
                f.name.clone(),
                f.version.clone(),
                f.match_name().to_string(),
                f.match_version().to_string(),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert!(want.len() > 50, "{} packages", want.len());
    assert_eq!(got, want);
}

#[test]
fn one_rpm_database_when_both_paths_lead_to_it() {
    let db = rpmdb_fixture();
    let v = view(&[
        ("etc/os-release", file("ID=almalinux\nVERSION_ID=9.3\n")),
        ("usr/lib/sysimage/rpm/rpmdb.sqlite", Entry::File(db)),
        (
            "var/lib/rpm/rpmdb.sqlite",
            Entry::Symlink("../../../usr/lib/sysimage/rpm/rpmdb.sqlite".into()),
        ),
    ]);
    let d = detect(&v);
    assert_eq!(d.packages.len(), 303);
    assert!(d
        .packages
        .iter()
        .all(|p| p.ecosystem.as_ref().unwrap().to_string() == "AlmaLinux:9"));
}
