//! Reading layers generated here as tar, tar+gzip and tar+zstd: what is
//! kept, what is skipped, limits, hostile archives, and stacking layers with
//! whiteouts and opaque directories.

use std::io::Write;

use berth_scan::layers::{
    apply_layers, read_layer, Entry, FileView, Inventory, LayerError, Limits,
};
use proptest::prelude::*;

pub enum Item<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

/// Writes the path bytes straight into the header, so tests can produce
/// what the `tar` crate itself refuses to write (`..`, absolute paths).
fn raw_header(path: &str, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let name = &mut h.as_gnu_mut().unwrap().name;
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h
}

pub fn tar_of(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for item in items {
        match item {
            Item::File(p, data) => {
                let h = raw_header(p, tar::EntryType::Regular, data.len() as u64);
                b.append(&h, *data).unwrap();
            }
            Item::Dir(p) => {
                let h = raw_header(p, tar::EntryType::Directory, 0);
                b.append(&h, &[][..]).unwrap();
            }
            Item::Symlink(p, target) | Item::Hardlink(p, target) => {
                let kind = if matches!(item, Item::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                let mut h = raw_header(p, kind, 0);
                h.set_link_name(target).unwrap();
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd_of(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

fn read(bytes: &[u8]) -> Result<Inventory, LayerError> {
    read_layer(bytes, &Limits::default())
}

fn file(s: &str) -> Entry {
    Entry::File(s.as_bytes().to_vec())
}

const OS: &[u8] = b"ID=debian\nVERSION_ID=\"12\"\n";

fn base() -> Vec<u8> {
    tar_of(&[
        Item::Dir("etc/"),
        Item::File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
        Item::Symlink("etc/os-release", "../usr/lib/os-release"),
        Item::File("./usr/lib/os-release", OS),
        Item::File("/var/lib/dpkg/status", b"Package: a\n"),
        Item::File("var/lib/dpkg/status-old", b"Package: old\n"),
        Item::File("usr/bin/big", &[7u8; 300_000]),
        Item::File("app/node_modules/lodash/package.json", b"{}"),
        Item::File("app/node_modules/lodash/lib/package.json", b"{}"),
        Item::Hardlink(
            "usr/lib/python3/dist-packages/x-1.dist-info/METADATA",
            "srv/x",
        ),
        Item::File("usr/../../../lib/apk/db/installed", b"P:x\n"),
        Item::File("opt/.wh..wh..opq", b""),
        Item::File("usr/share/.wh.doc", b""),
    ])
}

#[test]
fn the_same_inventory_from_tar_gzip_and_zstd() {
    let tar = base();
    let plain = read(&tar).unwrap();
    assert_eq!(read(&gzip(&tar)).unwrap(), plain);
    assert_eq!(read(&zstd_of(&tar)).unwrap(), plain);

    let paths: Vec<_> = plain.files.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "app/node_modules/lodash/package.json",
            "etc/os-release",
            "lib/apk/db/installed",
            "usr/lib/os-release",
            "usr/lib/python3/dist-packages/x-1.dist-info/METADATA",
            "var/lib/dpkg/status",
        ]
    );
    assert_eq!(
        plain.files["etc/os-release"],
        Entry::Symlink("../usr/lib/os-release".into())
    );
    assert_eq!(
        plain.files["usr/lib/python3/dist-packages/x-1.dist-info/METADATA"],
        Entry::Hardlink("srv/x".into())
    );
    assert_eq!(plain.files["usr/lib/os-release"], Entry::File(OS.to_vec()));
    assert_eq!(plain.opaque_dirs, ["opt"]);
    assert_eq!(plain.whiteouts, ["usr/share/doc"]);
    assert_eq!(plain.entries, 13);
    assert!(plain.dropped.is_empty());
}

#[test]
fn gzip_members_concatenated() {
    let tar = base();
    let (a, b) = tar.split_at(1024);
    let mut two = gzip(a);
    two.extend(gzip(b));
    assert_eq!(read(&two).unwrap(), read(&tar).unwrap());
}

#[test]
fn size_caps_and_limits() {
    let big_status = vec![b'x'; 9 << 20];
    let tar = tar_of(&[
        Item::File("var/lib/dpkg/status", &big_status),
        Item::File("etc/os-release", &[b'y'; 2 << 20]),
        Item::File("a/node_modules/p/package.json", b"{\"name\":\"p\"}"),
        Item::File("a/node_modules/q/package.json", b"{\"name\":\"q\"}"),
    ]);
    let inv = read(&tar).unwrap();
    assert_eq!(inv.files["var/lib/dpkg/status"], Entry::TooLarge(9 << 20));
    assert_eq!(inv.files["etc/os-release"], Entry::TooLarge(2 << 20));

    // The two TooLarge markers' cost and one package.json's: paths,
    // contents, the overhead per entry.
    use berth_scan::layers::entry_cost;
    let room = entry_cost("var/lib/dpkg/status", &Entry::TooLarge(0))
        + entry_cost("etc/os-release", &Entry::TooLarge(0))
        + entry_cost("a/node_modules/p/package.json", &Entry::File(vec![0; 12]));
    let tight = Limits {
        max_kept_bytes: room,
        ..Limits::default()
    };
    let inv = read_layer(&tar[..], &tight).unwrap();
    assert!(matches!(
        inv.files["a/node_modules/p/package.json"],
        Entry::File(_)
    ));
    assert_eq!(inv.dropped, ["a/node_modules/q/package.json"]);

    let few = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    assert!(matches!(
        read_layer(&tar[..], &few),
        Err(LayerError::TooManyEntries(3))
    ));

    // A decompression bomb: 64 MiB of zeros in ~64 KiB of gzip.
    let bomb = gzip(&tar_of(&[Item::File("usr/bin/zeros", &vec![0; 64 << 20])]));
    assert!(bomb.len() < 1 << 20);
    let small = Limits {
        max_layer_bytes: 8 << 20,
        ..Limits::default()
    };
    assert!(matches!(
        read_layer(&bomb[..], &small),
        Err(LayerError::TooLarge(_))
    ));
    assert!(read_layer(
        &zstd_of(&tar_of(&[Item::File("z", &vec![0; 16 << 20])]))[..],
        &small
    )
    .is_err());
}

#[test]
fn malformed_layers_are_errors_not_panics() {
    let tar = base();
    let gz = gzip(&tar);
    let zs = zstd_of(&tar);
    assert!(read(&gz[..gz.len() / 2]).is_err(), "truncated gzip");
    assert!(read(&zs[..zs.len() / 2]).is_err(), "truncated zstd");
    assert!(read(&tar[..700]).is_err(), "truncated tar");
    assert!(read(&[0x1f, 0x8b, 0, 0, 0]).is_err(), "gzip header only");
    assert!(
        read(&[0x28, 0xb5, 0x2f, 0xfd, 0xff]).is_err(),
        "zstd garbage"
    );
    let mut bad_sum = tar.clone();
    bad_sum[0] ^= 0x55;
    assert!(read(&bad_sum).is_err(), "checksum");
    // An empty stream and a tar of zeros are empty layers.
    assert_eq!(read(b"").unwrap(), Inventory::default());
    assert_eq!(read(&[0; 1024]).unwrap(), Inventory::default());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read(&bytes);
    }

    #[test]
    fn arbitrary_binaries_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048), class in 0..3u8, order in 0..3u8) {
        let _ = berth_scan::layers::parse_go_buildinfo(&bytes);
        let mut go = b"\xff Go buildinf:\x08\x02".to_vec();
        go.extend_from_slice(&bytes);
        let _ = berth_scan::layers::parse_go_buildinfo(&go);
        if bytes.len() >= 6 {
            bytes[..4].copy_from_slice(b"\x7fELF");
            bytes[4] = class;
            bytes[5] = order;
        }
        let _ = berth_scan::layers::elf_section(&bytes, b".dep-v0");
    }

    #[test]
    fn corrupted_layers_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>(), which in 0..3usize) {
        let tar = base();
        let mut data = match which {
            0 => tar,
            1 => gzip(&tar),
            _ => zstd_of(&tar),
        };
        let i = pos.index(data.len());
        data[i] = byte;
        let _ = read(&data);
        data.truncate(i);
        let _ = read(&data);
    }
}

fn view_paths(v: &FileView) -> Vec<&str> {
    v.files.keys().map(String::as_str).collect()
}

#[test]
fn layers_stack_with_whiteouts_and_opaque_dirs() {
    let l1 = read(&tar_of(&[
        Item::File("etc/os-release", b"ID=debian\nVERSION_ID=11\n"),
        Item::File("var/lib/dpkg/status", b"one"),
        Item::File("app/node_modules/a/package.json", b"a"),
        Item::File("app/node_modules/b/package.json", b"b"),
        Item::File("app/node_modules/@s/c/package.json", b"c"),
        Item::File("srv/node_modules/d/package.json", b"d"),
        Item::File("usr/lib/python3/dist-packages/x-1.dist-info/METADATA", b"x"),
    ]))
    .unwrap();
    let l2 = read(&tar_of(&[
        // Later layers override.
        Item::File("etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
        // A whiteout of a file, and of a directory with everything below it.
        Item::File("app/node_modules/.wh.a", b""),
        Item::File("app/node_modules/@s/.wh.c", b""),
        Item::File("usr/lib/python3/dist-packages/.wh.x-1.dist-info", b""),
        // An opaque directory hides lower content but keeps this layer's.
        Item::File("srv/node_modules/.wh..wh..opq", b""),
        Item::File("srv/node_modules/e/package.json", b"e"),
    ]))
    .unwrap();
    let l3 = read(&tar_of(&[Item::File(
        "var/lib/dpkg/status",
        &vec![b'z'; 9 << 20],
    )]))
    .unwrap();

    let v = apply_layers([&l1, &l2]);
    assert_eq!(
        view_paths(&v),
        [
            "app/node_modules/b/package.json",
            "etc/os-release",
            "srv/node_modules/e/package.json",
            "var/lib/dpkg/status",
        ]
    );
    assert_eq!(
        v.read("etc/os-release"),
        Some(&b"ID=debian\nVERSION_ID=12\n"[..])
    );
    // A file over its cap in a later layer still hides the lower one.
    let v = apply_layers([&l1, &l2, &l3]);
    assert_eq!(v.read("var/lib/dpkg/status"), None);
    assert_eq!(
        v.too_large().collect::<Vec<_>>(),
        [("var/lib/dpkg/status", 9 << 20)]
    );

    // A root-level opaque marker hides everything below.
    let l4 = read(&tar_of(&[Item::File(".wh..wh..opq", b"")])).unwrap();
    assert!(apply_layers([&l1, &l4]).files.is_empty());
    // A whiteout of a prefix that is not a parent directory deletes nothing else.
    let l5 = read(&tar_of(&[Item::File("app/node_modules/.wh.b", b"")])).unwrap();
    let v = apply_layers([&l1, &l5]);
    assert!(v.files.contains_key("app/node_modules/@s/c/package.json"));
    assert!(!v.files.contains_key("app/node_modules/b/package.json"));
}

#[test]
fn links_resolve_within_the_view() {
    let mut v = FileView::default();
    v.files
        .insert("usr/lib/os-release".into(), file("ID=alpine"));
    v.files.insert(
        "etc/os-release".into(),
        Entry::Symlink("../usr/lib/os-release".into()),
    );
    v.files.insert(
        "a/METADATA".into(),
        Entry::Symlink("/etc/os-release".into()),
    );
    v.files.insert(
        "b/METADATA".into(),
        Entry::Hardlink("usr/lib/os-release".into()),
    );
    v.files.insert("loop".into(), Entry::Symlink("loop".into()));
    v.files
        .insert("dangling".into(), Entry::Symlink("/nowhere".into()));
    for p in ["etc/os-release", "a/METADATA", "b/METADATA"] {
        assert_eq!(v.read(p), Some(&b"ID=alpine"[..]), "{p}");
    }
    assert_eq!(v.read("loop"), None);
    assert_eq!(v.read("dangling"), None);
    assert_eq!(v.iter().count(), 4);
}

/// The view never costs more than the budget, and a file that does not
/// fit hides the lower layer's copy rather than letting it show through.
#[test]
fn the_view_stays_within_the_budget() {
    use berth_scan::layers::{apply_layer_within, entry_cost};
    let f = |n: usize| Entry::File(vec![b'x'; n]);
    let mut low = Inventory::default();
    low.files
        .insert("a/node_modules/p/package.json".into(), f(10));
    low.files
        .insert("b/node_modules/q/package.json".into(), f(10));
    let cost = entry_cost("a/node_modules/p/package.json", &f(10));
    let budget = 2 * cost + 50;
    let mut view = FileView::default();
    assert_eq!(apply_layer_within(&mut view, low, budget).total, 0);
    assert_eq!(view.kept, 2 * cost);
    let mut high = Inventory::default();
    high.files
        .insert("a/node_modules/p/package.json".into(), f(100));
    high.files
        .insert("c/node_modules/r/package.json".into(), f(10));
    let dropped = apply_layer_within(&mut view, high, budget);
    assert_eq!(dropped.paths, ["a/node_modules/p/package.json"]);
    assert!(view.kept <= budget);
    // p's lower copy does not show through; q stays, r fits in what p freed.
    assert!(view.read("a/node_modules/p/package.json").is_none());
    assert!(view.read("b/node_modules/q/package.json").is_some());
    assert!(view.read("c/node_modules/r/package.json").is_some());
    assert_eq!(view.kept, 2 * cost);
}
