//! Package databases and metadata files: the input becomes the content of
//! one of the files the scanner reads (chosen by the first byte), in a tar
//! layer, and the image is detected. Go build info and ELF sections are
//! parsed directly.
#![no_main]
use berth_scan::detect::detect;
use berth_scan::layers::{apply_layers, elf_section, parse_go_buildinfo, read_layer, Limits};
use libfuzzer_sys::fuzz_target;

const PATHS: [&str; 8] = [
    "var/lib/dpkg/status",
    "var/lib/dpkg/status.d/base",
    "lib/apk/db/installed",
    "etc/os-release",
    "usr/lib/python3/site-packages/pkg-1.0.dist-info/METADATA",
    "app/node_modules/left-pad/package.json",
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/python3/dist-packages/pkg.egg-info/PKG-INFO",
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, content)) = data.split_first() else {
        return;
    };
    let _ = parse_go_buildinfo(content);
    let _ = elf_section(content, b".dep-v0");
    let mut tar = tar::Builder::new(Vec::new());
    // An os-release that makes dpkg and apk databases count.
    let release: &[u8] = if which % 2 == 0 {
        b"ID=debian\nVERSION_ID=\"12\"\n"
    } else {
        b"ID=alpine\nVERSION_ID=3.19.1\n"
    };
    for (path, bytes) in [("usr/lib/os-release", release), (PATHS[which as usize % PATHS.len()], content)] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, bytes).unwrap();
    }
    let layer = tar.into_inner().unwrap();
    let inventory = read_layer(&layer[..], &Limits::default()).expect("a well-formed tar reads");
    let _ = detect(&apply_layers([&inventory]));
});
