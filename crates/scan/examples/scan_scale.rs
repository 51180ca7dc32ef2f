//! Time and peak memory to scan a generated ~500 MB, 10-layer gzip image
//! (issue 8, item 8), without a cache of layer inventories (none exists
//! yet, so "cold" is the only case measured).
//!
//! `cargo run --release -p berth-scan --example scan_scale`
//!
//! Each layer: 1,000 files of 48 KiB (half pseudo-random, half text, so
//! gzip does real work), 8 ELF executables of 2 MiB (held and searched),
//! a dpkg status in the first layer and 200 npm packages in the last.
//! Layers are generated into a temporary directory; a fresh process then
//! scans them from their files (page cache warm), so its peak RSS is the
//! scan's own, and the time is decompression, tar and detection.

use std::io::Write;
use std::time::Instant;

use berth_scan::{scan_image, Limits, VulnDb};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "--scan" {
        return scan(std::path::Path::new(&args[2]));
    }
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--scan")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
}

fn generate(dir: &std::path::Path) {
    let t = Instant::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut layers = Vec::new();
    let mut raw_total = 0u64;
    for l in 0..10 {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |path: String, data: &[u8], mode: u32| {
            let mut h = tar::Header::new_gnu();
            h.set_mode(mode);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, path, data).unwrap();
        };
        for f in 0..1000 {
            let data: Vec<u8> = if f % 2 == 0 {
                (0..48 << 10).map(|_| rand() as u8).collect()
            } else {
                b"the quick brown fox jumps over the lazy dog\n"
                    .iter()
                    .copied()
                    .cycle()
                    .take(48 << 10)
                    .collect()
            };
            raw_total += data.len() as u64;
            add(format!("usr/share/l{l}/f{f}"), &data, 0o644);
        }
        for e in 0..8 {
            let mut data = b"\x7fELF".to_vec();
            data.extend((0..(2 << 20) - 4).map(|_| rand() as u8));
            raw_total += data.len() as u64;
            add(format!("usr/bin/l{l}-tool{e}"), &data, 0o755);
        }
        if l == 0 {
            add(
                "etc/os-release".into(),
                b"ID=debian\nVERSION_ID=12\n",
                0o644,
            );
            let status = std::fs::read("/var/lib/dpkg/status").unwrap_or_default();
            add("var/lib/dpkg/status".into(), &status, 0o644);
        }
        if l == 9 {
            for p in 0..200 {
                let json = format!(r#"{{"name": "pkg{p}", "version": "1.0.{p}"}}"#);
                add(
                    format!("srv/app/node_modules/pkg{p}/package.json"),
                    json.as_bytes(),
                    0o644,
                );
            }
        }
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        std::fs::write(dir.join(format!("layer-{l}.tar.gz")), &gz).unwrap();
        layers.push(gz.len());
    }
    let compressed: usize = layers.iter().sum();
    eprintln!(
        "generated {} MB uncompressed file data, {} MB gzip, in {:.1?}",
        raw_total >> 20,
        compressed >> 20,
        t.elapsed()
    );
}

fn scan(dir: &std::path::Path) {
    let db = VulnDb::default();
    let open = || {
        (0..10).map(|l| {
            std::io::BufReader::new(
                std::fs::File::open(dir.join(format!("layer-{l}.tar.gz"))).unwrap(),
            )
        })
    };
    for run in 0..3 {
        let t = Instant::now();
        let r = scan_image(open(), &db, &Limits::default()).unwrap();
        eprintln!(
            "scan {run}: {:.2?}, {} packages, {} layers",
            t.elapsed(),
            r.packages.len(),
            r.layers
        );
    }
    eprintln!(
        "peak RSS of the scanning process: {} MB",
        status_kb("VmHWM:") >> 10
    );
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
