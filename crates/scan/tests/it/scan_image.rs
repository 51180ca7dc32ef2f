//! End to end: images composed here as layer streams (gzip, zstd, plain
//! tar), scanned against the synthetic distribution records and the real
//! PyPI/npm fixtures.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use berth_scan::{scan_image, Limits, Loader, PackageKind, Report, VulnDb};

fn db() -> VulnDb {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut l = Loader::new();
    for dir in ["synthetic", "osv/PyPI", "osv/npm"] {
        l.add_dir(&root.join(dir)).unwrap();
    }
    l.finish().0
}

enum Item<'a> {
    File(&'a str, &'a str),
    Symlink(&'a str, &'a str),
}

fn tar_of(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for item in items {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match item {
            Item::File(path, data) => {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, data.as_bytes()).unwrap();
            }
            Item::Symlink(path, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, path, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn status(openssl: &str) -> String {
    format!(
        "Package: libssl3
Status: install ok installed
Source: openssl
Version: {openssl}

Package: login
Status: install ok installed
Source: shadow
Version: 1:4.13+dfsg1-1

Package: libc6
Status: install ok installed
Source: glibc (2.36-9+deb12u3)
Version: 2.36-9+deb12u3+b1

Package: zlib1g
Status: install ok installed
Source: zlib
Version: 1:1.2.13.dfsg-1

Package: curl
Status: deinstall ok config-files
Version: 7.88.1-10

Package: bash
Status: install ok installed
Version: 5.2.15-2+b2
"
    )
}

/// (package name, version, finding id, fixed version) of every finding.
fn findings(r: &Report) -> BTreeSet<(String, String, String, String)> {
    r.findings
        .iter()
        .map(|f| {
            let p = r.package_of(f);
            (
                p.name.clone(),
                p.version.clone(),
                f.id.clone(),
                f.fixed.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn has(r: &Report, name: &str, id: &str) -> bool {
    findings(r).iter().any(|(n, _, i, _)| n == name && i == id)
}

fn debian_layers() -> Vec<Vec<u8>> {
    let base = tar_of(&[
        Item::File(
            "usr/lib/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        ),
        Item::Symlink("etc/os-release", "../usr/lib/os-release"),
        Item::File("var/lib/dpkg/status", &status("3.0.11-1~deb12u1")),
        Item::File("usr/bin/bash", "\x7fELF..."),
    ]);
    let app = tar_of(&[
        Item::File(
            "usr/local/lib/python3.11/site-packages/paramiko-1.7.1.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: Paramiko\nVersion: 1.7.1\n\nlong description\n",
        ),
        Item::File(
            "srv/app/node_modules/lodash/package.json",
            r#"{"name": "lodash", "version": "4.17.20"}"#,
        ),
        Item::File(
            "srv/app/node_modules/flat/package.json",
            r#"{"name": "flat", "version": "5.0.0"}"#,
        ),
        Item::File("srv/app/node_modules/flat/index.js", "module.exports = 1"),
    ]);
    let fix = tar_of(&[
        // `apt-get upgrade libssl3` rewrites the status file; `npm rm flat`
        // leaves a whiteout of its directory.
        Item::File("var/lib/dpkg/status", &status("3.0.11-1~deb12u2")),
        Item::File("srv/app/node_modules/.wh.flat", ""),
    ]);
    vec![gzip(&base), zstd::encode_all(&app[..], 3).unwrap(), fix]
}

#[test]
fn debian_image_with_language_packages_and_a_fixing_layer() {
    let db = db();
    let layers = debian_layers();

    // The first two layers: everything vulnerable is there.
    let r = scan_image(layers[..2].iter().map(|l| &l[..]), &db, &Limits::default()).unwrap();
    assert_eq!(r.layers, 2);
    let os = r.os.as_ref().unwrap();
    assert_eq!(os.ecosystem.as_ref().unwrap().to_string(), "Debian:12");
    assert_eq!(
        os.release.pretty_name.as_deref(),
        Some("Debian GNU/Linux 12 (bookworm)")
    );
    let os_findings: BTreeSet<_> = r
        .basic_findings()
        .map(|f| {
            (
                r.package_of(f).name.as_str(),
                f.id.as_str(),
                f.fixed.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        os_findings,
        BTreeSet::from([
            ("libssl3", "BERTH-SYNTHETIC-0001", Some("3.0.11-1~deb12u2")),
            (
                "login",
                "BERTH-SYNTHETIC-0002",
                Some("1:4.13+dfsg1-1+deb12u1")
            ),
            ("libc6", "BERTH-SYNTHETIC-0003", None),
            ("zlib1g", "BERTH-SYNTHETIC-0008", None),
        ])
    );
    assert!(has(&r, "paramiko", "PYSEC-2008-8"));
    assert!(has(&r, "lodash", "GHSA-29mw-wpgm-hmr9"));
    assert!(has(&r, "flat", "GHSA-2j2x-2gpw-g8fm"));
    assert!(r
        .findings
        .iter()
        .filter(|f| f.kind == PackageKind::Language)
        .all(|f| r.package_of(f).kind == PackageKind::Language));
    let paramiko = r.packages.iter().find(|p| p.name == "paramiko").unwrap();
    assert_eq!(
        paramiko.path,
        "usr/local/lib/python3.11/site-packages/paramiko-1.7.1.dist-info/METADATA"
    );
    // Installed packages: five dpkg (curl is not installed), three language.
    assert_eq!(r.packages.len(), 8);

    // All three layers: openssl upgraded, flat removed.
    let r = scan_image(layers.iter().map(|l| &l[..]), &db, &Limits::default()).unwrap();
    assert_eq!(r.layers, 3);
    assert!(!has(&r, "libssl3", "BERTH-SYNTHETIC-0001"));
    assert!(has(&r, "login", "BERTH-SYNTHETIC-0002"));
    assert!(!r.packages.iter().any(|p| p.name == "flat"));
    assert!(has(&r, "lodash", "GHSA-29mw-wpgm-hmr9"));
    assert_eq!(r.basic_findings().count(), 3);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn alpine_image_matches_on_origin() {
    let db = db();
    let layer = tar_of(&[
        Item::File("etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n"),
        Item::File(
            "lib/apk/db/installed",
            "C:Q1x=\nP:busybox\nV:1.36.1-r15\no:busybox\n\nP:ssl_client\nV:1.36.1-r15\no:busybox\n\nP:libxml2\nV:2.11.6-r0\no:libxml2\n\nP:musl\nV:1.2.4_git20230717-r4\no:musl\n",
        ),
    ]);
    let r = scan_image([gzip(&layer).as_slice()], &db, &Limits::default()).unwrap();
    assert_eq!(
        findings(&r),
        BTreeSet::from([
            (
                "busybox".into(),
                "1.36.1-r15".into(),
                "BERTH-SYNTHETIC-0004".into(),
                "1.36.1-r16".into()
            ),
            (
                "ssl_client".into(),
                "1.36.1-r15".into(),
                "BERTH-SYNTHETIC-0004".into(),
                "1.36.1-r16".into()
            ),
            (
                "libxml2".into(),
                "2.11.6-r0".into(),
                "BERTH-SYNTHETIC-0005".into(),
                "2.11.7-r0".into()
            ),
        ])
    );
}

#[test]
fn the_release_must_match_and_unknown_distributions_are_listed_only() {
    let db = db();
    let ubuntu = |version_id: &str| {
        tar_of(&[
            Item::File(
                "etc/os-release",
                &format!("ID=ubuntu\nVERSION_ID=\"{version_id}\"\n"),
            ),
            Item::File(
                "var/lib/dpkg/status",
                "Package: curl\nStatus: install ok installed\nVersion: 7.81.0-1ubuntu1.14\n",
            ),
        ])
    };
    let r = scan_image([ubuntu("22.04").as_slice()], &db, &Limits::default()).unwrap();
    assert!(has(&r, "curl", "BERTH-SYNTHETIC-0006"));
    let r = scan_image([ubuntu("24.04").as_slice()], &db, &Limits::default()).unwrap();
    assert!(r.findings.is_empty());

    let unknown = tar_of(&[
        Item::File("etc/os-release", "ID=plan9\n"),
        Item::File("var/lib/dpkg/status", &status("3.0.11-1~deb12u1")),
    ]);
    let r = scan_image([unknown.as_slice()], &db, &Limits::default()).unwrap();
    assert_eq!(r.packages.len(), 5);
    assert!(r.packages.iter().all(|p| p.ecosystem.is_none()));
    assert!(r.findings.is_empty());
}

#[test]
fn a_broken_layer_names_its_index() {
    let db = db();
    let mut layers = debian_layers();
    let n = layers[1].len();
    layers[1].truncate(n / 2);
    let err = scan_image(layers.iter().map(|l| &l[..]), &db, &Limits::default()).unwrap_err();
    assert_eq!(err.index, 1);
}

#[test]
fn an_empty_image_has_nothing() {
    let r = scan_image(std::iter::empty::<&[u8]>(), &db(), &Limits::default()).unwrap();
    assert!(r.os.is_none() && r.packages.is_empty() && r.findings.is_empty());
}

/// An ELF file with Go 1.18+ inline build information at `offset`.
fn go_binary(offset: usize, go_version: &str, modinfo: &str) -> Vec<u8> {
    fn uvarint(mut n: usize, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }
    let mut b = b"\x7fELF".to_vec();
    b.resize(offset, 0xAA);
    b.extend_from_slice(b"\xff Go buildinf:");
    b.push(8); // pointer size
    b.push(2); // inline strings
    b.resize(offset + 32, 0);
    uvarint(go_version.len(), &mut b);
    b.extend_from_slice(go_version.as_bytes());
    let framed = format!("0123456789abcdef{modinfo}\nfedcba9876543210");
    uvarint(framed.len(), &mut b);
    b.extend_from_slice(framed.as_bytes());
    b.resize(b.len() + (600 << 10), 0x55);
    b
}

#[test]
fn go_binaries_modules_replacements_and_stdlib() {
    let modinfo = "path\texample.com/app\n\
mod\texample.com/app\t(devel)\t\n\
dep\tgithub.com/gogo/protobuf\tv1.3.1\th1:x=\n\
dep\tgolang.org/x/sys\tv0.1.0\th1:y=\n\
=>\tgolang.org/x/sys\tv0.0.0-20210101000000-abcdefabcdef\th1:z=\n\
dep\texample.com/local\tv1.0.0\n\
=>\t../local\t\t\n\
build\tGOOS=linux";
    // One binary whose magic straddles the scanner's 64 KiB chunks, one
    // near the start, and a non-Go executable.
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    };
    add(
        "usr/local/bin/app",
        &go_binary((64 << 10) - 3, "go1.21.3 X:boringcrypto", modinfo),
        0o755,
    );
    add(
        "usr/bin/tool",
        &go_binary(100, "go1.17.2", "mod\tt\tv1.0.0\t\n"),
        0o755,
    );
    add(
        "usr/share/not-executable",
        &go_binary(100, "go1.21.3", modinfo),
        0o644,
    );
    let mut elf = b"\x7fELF".to_vec();
    elf.resize(1 << 20, 1);
    add("usr/bin/c-program", &elf, 0o755);
    let layer = b.into_inner().unwrap();

    let db = db_with_go();
    let r = scan_image([gzip(&layer).as_slice()], &db, &Limits::default()).unwrap();
    let pkgs: BTreeSet<_> = r
        .packages
        .iter()
        .map(|p| (p.path.as_str(), p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(
        pkgs,
        BTreeSet::from([
            ("usr/local/bin/app", "github.com/gogo/protobuf", "v1.3.1"),
            (
                "usr/local/bin/app",
                "golang.org/x/sys",
                "v0.0.0-20210101000000-abcdefabcdef"
            ),
            ("usr/local/bin/app", "stdlib", "1.21.3"),
            ("usr/bin/tool", "t", "v1.0.0"),
            ("usr/bin/tool", "stdlib", "1.17.2"),
        ])
    );
    assert!(has(&r, "github.com/gogo/protobuf", "GO-2021-0053"));
    assert!(has(&r, "golang.org/x/sys", "GO-2022-0493"));
    let stdlib: BTreeSet<_> = findings(&r)
        .into_iter()
        .filter(|(n, ..)| n == "stdlib")
        .map(|(_, v, id, fixed)| (v, id, fixed))
        .collect();
    assert_eq!(
        stdlib,
        BTreeSet::from([
            ("1.21.3".into(), "GO-2023-2382".into(), "1.21.5".into()),
            ("1.17.2".into(), "GO-2022-0493".into(), "1.17.10".into()),
            ("1.17.2".into(), "GO-2023-2382".into(), "1.20.12".into()),
        ])
    );
    assert_eq!(
        r.basic_findings().count(),
        0,
        "Go modules are language packages"
    );

    // A later layer replacing the Go binary with a C program hides it.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(elf.len() as u64);
    b.append_data(&mut h, "usr/local/bin/app", &elf[..])
        .unwrap();
    let over = b.into_inner().unwrap();
    let r = scan_image([&layer[..], &over[..]], &db, &Limits::default()).unwrap();
    assert!(r.packages.iter().all(|p| p.path == "usr/bin/tool"));
}

fn db_with_go() -> VulnDb {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv/Go");
    let mut l = Loader::new();
    l.add_dir(&root).unwrap();
    l.finish().0
}

/// A 64-bit little-endian ELF file with the sections given (a null section
/// and `.shstrtab` are added), padded to at least `pad` bytes before them.
fn elf_with_sections(pad: usize, sections: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = vec![0u8; 64];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2; // 64-bit
    b[5] = 1; // little-endian
    b[6] = 1;
    b.resize(pad.max(64), 0x90);
    let mut names = b"\0.shstrtab\0".to_vec();
    let mut headers = vec![(0u32, 0u64, 0u64); 1];
    let strtab_name = 1u32;
    let mut placed = Vec::new();
    for (name, data) in sections {
        let at = names.len() as u32;
        names.extend_from_slice(name.as_bytes());
        names.push(0);
        placed.push((at, b.len() as u64, data.len() as u64));
        b.extend_from_slice(data);
    }
    headers.push((strtab_name, b.len() as u64, names.len() as u64));
    b.extend_from_slice(&names);
    headers.extend(placed);
    while !b.len().is_multiple_of(8) {
        b.push(0);
    }
    let shoff = b.len() as u64;
    for (name, off, size) in &headers {
        let mut h = [0u8; 64];
        h[..4].copy_from_slice(&name.to_le_bytes());
        h[4..8].copy_from_slice(&1u32.to_le_bytes());
        h[24..32].copy_from_slice(&off.to_le_bytes());
        h[32..40].copy_from_slice(&size.to_le_bytes());
        b.extend_from_slice(&h);
    }
    b[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
    b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
    b[0x3c..0x3e].copy_from_slice(&(headers.len() as u16).to_le_bytes());
    b[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
    b
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn cargo_auditable_binaries() {
    let json = br#"{"packages": [
        {"name": "my-app", "version": "0.1.0", "source": "local", "dependencies": [1, 2, 3], "root": true},
        {"name": "chrono", "version": "0.4.19", "source": "crates.io"},
        {"name": "tokio", "version": "1.8.0", "source": "crates.io", "kind": "runtime"},
        {"name": "cc", "version": "1.0.0", "source": "crates.io", "kind": "build"}
    ]}"#;
    let bin = elf_with_sections(200 << 10, &[(".text", b"\xc3"), (".dep-v0", &zlib(json))]);
    assert_eq!(
        berth_scan::layers::elf_section(&bin, b".dep-v0").map(|s| s.len()),
        Some(zlib(json).len())
    );
    let broken = elf_with_sections(200 << 10, &[(".dep-v0", b"not zlib")]);
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in [("usr/bin/app", &bin), ("usr/bin/broken", &broken)] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, &data[..]).unwrap();
    }
    let layer = b.into_inner().unwrap();

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv/crates.io");
    let mut l = Loader::new();
    l.add_dir(&root).unwrap();
    let db = l.finish().0;
    let r = scan_image(
        [zstd::encode_all(&layer[..], 1).unwrap().as_slice()],
        &db,
        &Limits::default(),
    )
    .unwrap();
    let pkgs: Vec<_> = r
        .packages
        .iter()
        .map(|p| (p.path.as_str(), p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(
        pkgs,
        [
            ("usr/bin/app", "chrono", "0.4.19"),
            ("usr/bin/app", "tokio", "1.8.0")
        ]
    );
    assert!(has(&r, "chrono", "RUSTSEC-2020-0159"));
    assert!(has(&r, "tokio", "RUSTSEC-2021-0124"));
}

#[test]
fn binaries_too_large_to_hold_are_searched_as_they_stream() {
    let big = go_binary(
        3 << 20,
        "go1.21.3",
        "dep\tgithub.com/gogo/protobuf\tv1.3.1\t\n",
    );
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(big.len() as u64);
    b.append_data(&mut h, "usr/bin/big", &big[..]).unwrap();
    // The entry after it must still be read from the right place.
    let pj = br#"{"name": "lodash", "version": "4.17.20"}"#;
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(pj.len() as u64);
    b.append_data(&mut h, "srv/node_modules/lodash/package.json", &pj[..])
        .unwrap();
    let layer = b.into_inner().unwrap();
    let limits = Limits {
        max_buffered_binary_bytes: 1 << 20,
        ..Limits::default()
    };
    let r = scan_image([gzip(&layer).as_slice()], &db_with_go(), &limits).unwrap();
    let names: BTreeSet<_> = r.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["github.com/gogo/protobuf", "stdlib", "lodash"])
    );
}

#[test]
fn rocky_image_with_an_rpm_sqlite_database() {
    let rpmdb = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rpmdb/rpmdb.sqlite"),
    )
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in [
        ("etc/os-release", &b"ID=\"rocky\"\nVERSION_ID=\"9.3\"\n"[..]),
        ("var/lib/rpm/rpmdb.sqlite", &rpmdb[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    }
    let layer = b.into_inner().unwrap();
    let r = scan_image([gzip(&layer).as_slice()], &db(), &Limits::default()).unwrap();
    assert_eq!(r.packages.len(), 303);
    assert_eq!(
        findings(&r),
        BTreeSet::from([(
            "openssl".into(),
            "1:3.0.7-24.el9".into(),
            "BERTH-SYNTHETIC-0007".into(),
            "1:3.0.7-25.el9_3".into()
        )])
    );
    assert_eq!(r.basic_findings().count(), 1);
}

/// Real wheels' metadata: every `*.dist-info/METADATA` and `*.egg-info` of
/// this machine's Debian Python packages, put in a layer at their real
/// paths, is detected with the name and version its directory carries.
/// Skipped where there are none.
#[test]
fn real_python_metadata_from_this_machine() {
    let root = std::path::Path::new("/usr/lib/python3/dist-packages");
    let Ok(dir) = std::fs::read_dir(root) else {
        eprintln!("no {}; skipped", root.display());
        return;
    };
    let mut b = tar::Builder::new(Vec::new());
    let mut want = BTreeSet::new();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let (file, stem) = if let Some(stem) = name.strip_suffix(".dist-info") {
            (e.path().join("METADATA"), stem.to_string())
        } else if let Some(stem) = name.strip_suffix(".egg-info") {
            let p = e.path();
            (
                if p.is_dir() { p.join("PKG-INFO") } else { p },
                stem.to_string(),
            )
        } else {
            continue;
        };
        let Ok(data) = std::fs::read(&file) else {
            continue;
        };
        // `name-version[-pyX.Y]`: the directory's own record of both.
        let mut parts = stem.splitn(3, '-');
        let (Some(n), Some(v)) = (parts.next(), parts.next()) else {
            continue;
        };
        want.insert((
            berth_scan::EcosystemName::PyPI
                .normalize_name(n)
                .into_owned(),
            v.to_string(),
        ));
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        let path = file.strip_prefix("/").unwrap();
        b.append_data(&mut h, path, &data[..]).unwrap();
    }
    if want.is_empty() {
        eprintln!("no Python metadata; skipped");
        return;
    }
    let layer = b.into_inner().unwrap();
    let r = scan_image([&layer[..]], &VulnDb::default(), &Limits::default()).unwrap();
    let got: BTreeSet<_> = r
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert_eq!(got, want);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

/// Issue 17 item 7: the kept-bytes budget is the image's, not each layer's.
/// Four layers of 60 `package.json` files of 10 KiB each keep 600 KiB
/// apiece, under a 1 MiB budget one by one; stacked they would hold
/// 2.4 MiB. The view stops at the budget: the rest are warnings.
#[test]
fn the_kept_bytes_budget_is_per_image_not_per_layer() {
    let limits = Limits {
        max_kept_bytes: 1 << 20,
        ..Limits::default()
    };
    let padding = " ".repeat(10 << 10);
    let layers: Vec<Vec<u8>> = (0..4)
        .map(|l| {
            let files: Vec<(String, String)> = (0..60)
                .map(|i| {
                    (
                        format!("app/node_modules/p{l}x{i}/package.json"),
                        format!(
                            "{{\"name\":\"p{l}x{i}\",\"version\":\"1.0.0\",\"d\":\"{padding}\"}}"
                        ),
                    )
                })
                .collect();
            let items: Vec<Item<'_>> = files
                .iter()
                .map(|(p, d)| Item::File(p.as_str(), d.as_str()))
                .collect();
            gzip(&tar_of(&items))
        })
        .collect();
    let r = scan_image(layers.iter().map(|l| &l[..]), &VulnDb::default(), &limits).unwrap();
    // About 100 files of ~10.2 KiB fit in 1 MiB.
    assert!(
        (90..=102).contains(&r.packages.len()),
        "{} packages kept",
        r.packages.len()
    );
    let over: Vec<_> = r
        .warnings
        .iter()
        .filter(|w| w.contains("kept-bytes budget"))
        .collect();
    assert!(!over.is_empty(), "warnings: {:?}", r.warnings);
    // The first layer fits whole; later ones are cut.
    assert!(over.iter().all(|w| !w.starts_with("layer 0:")), "{over:?}");
}

/// A layer that rewrites a file of the view (apt-get in a later layer
/// rewrites dpkg's status) is read within the budget the old copy frees:
/// with the view nearly full, the new status is read and the old one does
/// not show through.
#[test]
fn a_rewritten_database_over_a_full_view_replaces_the_old_one() {
    let limits = Limits {
        max_kept_bytes: 64 << 10,
        ..Limits::default()
    };
    let status = |version: &str| {
        format!(
            "Package: libfoo\nStatus: install ok installed\nVersion: {version}\nDescription: {}\n",
            "x".repeat(12 << 10)
        )
    };
    let padding = "y".repeat(10 << 10);
    let fillers: Vec<(String, String)> = (0..4)
        .map(|i| {
            (
                format!("app/node_modules/f{i}/package.json"),
                format!("{{\"name\":\"f{i}\",\"version\":\"1.0.0\",\"d\":\"{padding}\"}}"),
            )
        })
        .collect();
    let old = status("1.0-1");
    let mut low: Vec<Item<'_>> = vec![Item::File("var/lib/dpkg/status", &old)];
    low.extend(fillers.iter().map(|(p, d)| Item::File(p, d)));
    let new = status("2.0-1");
    let layers = [
        gzip(&tar_of(&low)),
        gzip(&tar_of(&[Item::File("var/lib/dpkg/status", &new)])),
    ];
    let r = scan_image(layers.iter().map(|l| &l[..]), &VulnDb::default(), &limits).unwrap();
    let foo: Vec<_> = r.packages.iter().filter(|p| p.name == "libfoo").collect();
    assert_eq!(foo.len(), 1, "{:?}", r.packages);
    assert_eq!(foo[0].version, "2.0-1", "warnings: {:?}", r.warnings);
    assert_eq!(r.packages.len(), 5, "{:?}", r.warnings);
}
