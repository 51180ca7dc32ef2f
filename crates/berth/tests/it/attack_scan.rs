//! Issue 17 item 7, end to end: scan on push must not let a tenant drive the
//! server's memory up with a small image. The attack image is ~1 MB of
//! gzip: 4 layers of 260 `node_modules/*/package.json` files of 1 MiB each
//! (1 GiB once decompressed), plus a variant just under the per-file cap
//! (4 layers of 600 files of 250 KiB). Before the fix each layer kept up to
//! 256 MiB, the view accumulated them across layers and the cache encoded
//! them as JSON number arrays: 1.87 GB peak RSS. The test pushes both to a
//! repository with scanOnPush while another thread pulls an image, and
//! checks that the scans finish, that every authenticated pull was served
//! meanwhile, and that the server's peak RSS (VmHWM) stays under 400 MiB.
//!
//! `BERTH_TEST_BIN` runs it against another berth binary (the figures in
//! ARCHITECTURE.md were measured on release builds that way).

use crate::common::*;
use serde_json::json;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

fn gzip_member(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A tar header for a regular file.
fn header(path: &str, size: usize) -> [u8; 512] {
    let mut h = tar::Header::new_gnu();
    h.set_path(path).unwrap();
    h.set_mode(0o644);
    h.set_size(size as u64);
    h.set_cksum();
    *h.as_bytes()
}

/// Zero bytes that fill a tar entry of `len` bytes to its 512-byte block.
fn block_padding(len: usize) -> Vec<u8> {
    vec![0; (512 - len % 512) % 512]
}

/// A gzip layer of `files` package.json files of `size` bytes each (valid
/// JSON, padded with one repeated byte), plus `extra` small files. Built as
/// multi-member gzip (which gzip readers, berth's and Go's, read as one
/// stream) so that the padding, the same in every file, is compressed once:
/// the test builds 1.6 GiB of tar in well under a second. The diff ids are
/// not the tar's hashes (nothing checks them, and hashing 1.6 GiB would
/// double the test's time).
fn package_json_layer(
    layer: usize,
    files: usize,
    size: usize,
    extra: &[(&str, &str)],
) -> image::Layer {
    let mut out = Vec::new();
    for (path, data) in extra {
        let mut entry = header(path, data.len()).to_vec();
        entry.extend_from_slice(data.as_bytes());
        entry.extend(block_padding(data.len()));
        out.extend(gzip_member(&entry));
    }
    let head_len = format!("{{\"name\":\"p{layer}x0000\",\"version\":\"1.0.0\",\"d\":\"").len();
    let tail = format!("\"}}{}", String::from_utf8(block_padding(size)).unwrap());
    let pad = gzip_member(&vec![b'a'; size - head_len - 2]);
    let tail = gzip_member(tail.as_bytes());
    for i in 0..files {
        let name = format!("p{layer}x{i:04}");
        let mut start = header(&format!("app/node_modules/{name}/package.json"), size).to_vec();
        start.extend_from_slice(
            format!("{{\"name\":\"{name}\",\"version\":\"1.0.0\",\"d\":\"").as_bytes(),
        );
        assert_eq!(start.len(), 512 + head_len);
        out.extend(gzip_member(&start));
        out.extend_from_slice(&pad);
        out.extend_from_slice(&tail);
    }
    out.extend(gzip_member(&[0u8; 1024]));
    image::Layer {
        digest: image::sha256(&out),
        diff_id: image::sha256(format!("attack layer {layer}").as_bytes()),
        bytes: out,
    }
}

fn compose(layers: Vec<image::Layer>) -> image::Image {
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>() },
    }))
    .unwrap();
    let config_digest = image::sha256(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": image::OCI_MANIFEST,
        "config": { "mediaType": image::OCI_CONFIG, "digest": config_digest, "size": config.len() },
        "layers": layers.iter().map(|l| json!({
            "mediaType": image::OCI_LAYER_GZIP, "digest": l.digest, "size": l.bytes.len()
        })).collect::<Vec<_>>(),
    }))
    .unwrap();
    image::Image {
        manifest_digest: image::sha256(&manifest),
        manifest,
        config,
        config_digest,
        layers,
    }
}

const OS_RELEASE: &str = "ID=debian\nVERSION_ID=\"12\"\n";
const SMALL_PACKAGE: &str = r#"{"name":"left-pad","version":"1.3.0"}"#;

/// 4 layers of `files` package.json files of `size` bytes; the first layer
/// also has an os-release and one ordinary package.json.
fn attack_image(seed: usize, files: usize, size: usize) -> image::Image {
    compose(
        (0..4)
            .map(|l| {
                let extra: &[(&str, &str)] = if l == 0 {
                    &[
                        ("etc/os-release", OS_RELEASE),
                        ("app/node_modules/left-pad/package.json", SMALL_PACKAGE),
                    ]
                } else {
                    &[]
                };
                package_json_layer(seed * 10 + l, files, size, extra)
            })
            .collect(),
    )
}

/// A line of `/proc/<pid>/status` in bytes (`VmHWM`, `VmRSS`).
fn proc_status_bytes(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"));
    let kb: u64 = line[key.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

fn scan_status(s: &TestServer, repo: &str, digest: &str) -> (String, serde_json::Value) {
    let v = s
        .ecr(
            "us-east-1",
            "DescribeImageScanFindings",
            json!({ "repositoryName": repo, "imageId": { "imageDigest": digest } }),
        )
        .unwrap_or_else(|e| panic!("DescribeImageScanFindings: {e:?}"));
    (
        v["imageScanStatus"]["status"].as_str().unwrap().to_string(),
        v,
    )
}

#[test]
fn a_small_image_of_huge_package_json_files_does_not_blow_up_the_scan() {
    let s = start();
    let pid = s.pid();
    let api = Api::new(&s);

    // The image another tenant's clients keep pulling.
    let victim = image::oci_image(7, 2, 4, 256 << 10);
    api.push_image("victim", &victim, "v1");
    s.ecr(
        "us-east-1",
        "CreateRepository",
        json!({ "repositoryName": "attack", "imageScanningConfiguration": { "scanOnPush": true } }),
    )
    .unwrap();

    // The issue's image, and one just under the new 256 KiB package.json cap.
    let t = Instant::now();
    let images = [
        ("huge", attack_image(1, 260, MIB as usize)),
        ("under-cap", attack_image(2, 600, 250 << 10)),
    ];
    let gz: usize = images
        .iter()
        .flat_map(|(_, i)| i.layers.iter().map(|l| l.bytes.len()))
        .sum();
    eprintln!(
        "attack images: {gz} bytes of gzip, built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let baseline = proc_status_bytes(pid, "VmRSS");

    // Pull the victim image over and over while the attack is scanned.
    let stop = Arc::new(AtomicBool::new(false));
    let puller = {
        let client = s.client();
        let base = s.url();
        let stop = stop.clone();
        let blobs: Vec<String> = victim
            .layers
            .iter()
            .map(|l| l.digest.clone())
            .chain([victim.config_digest.clone()])
            .collect();
        std::thread::spawn(move || {
            let (mut pulls, mut slowest) = (0u32, Duration::ZERO);
            let mut failures = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let t = Instant::now();
                let r = client
                    .get(format!("{base}/v2/victim/manifests/v1"))
                    .header("accept", image::OCI_MANIFEST)
                    .send();
                match r {
                    Ok(r) if r.status() == 200 => {}
                    Ok(r) => failures.push(format!("manifest: {}", r.status())),
                    Err(e) => failures.push(format!("manifest: {e}")),
                }
                for d in &blobs {
                    match client.get(format!("{base}/v2/victim/blobs/{d}")).send() {
                        Ok(r) if r.status() == 200 => {
                            let _ = r.bytes();
                        }
                        Ok(r) => failures.push(format!("blob: {}", r.status())),
                        Err(e) => failures.push(format!("blob: {e}")),
                    }
                }
                slowest = slowest.max(t.elapsed());
                pulls += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            (pulls, slowest, failures)
        })
    };

    let t = Instant::now();
    for (tag, img) in &images {
        api.push_image("attack", img, tag);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for (tag, img) in &images {
        loop {
            let (status, v) = scan_status(&s, "attack", &img.manifest_digest);
            if status != "IN_PROGRESS" {
                assert_eq!(status, "COMPLETE", "{tag}: {v}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{tag}: the scan did not finish: {v}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let scanned = t.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (pulls, slowest, failures) = puller.join().unwrap();
    let peak = proc_status_bytes(pid, "VmHWM");
    let at_end = proc_status_bytes(pid, "VmRSS");
    eprintln!(
        "RSS before the attack {} MiB; pushes and scans took {:.1} s; peak RSS (VmHWM) {} MiB; \
         RSS when the scans ended {} MiB; \
         {pulls} pulls of the victim image meanwhile, the slowest {} ms, {} failed",
        baseline / MIB,
        scanned.as_secs_f64(),
        peak / MIB,
        at_end / MIB,
        slowest.as_millis(),
        failures.len()
    );
    // Memory goes back once the scan is done (berth trims every 10 s).
    let after = {
        let deadline = Instant::now() + Duration::from_secs(12);
        loop {
            let rss = proc_status_bytes(pid, "VmRSS");
            if rss < baseline + 64 * MIB || Instant::now() > deadline {
                break rss;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    eprintln!("RSS after the scans: {} MiB", after / MIB);
    assert!(
        failures.is_empty(),
        "pulls failed during the attack: {failures:?}"
    );
    assert!(pulls > 0, "no pull completed during the attack");
    assert!(
        peak < 400 * MIB,
        "peak RSS {} MiB during the attack (the bound is 400 MiB)",
        peak / MIB
    );
    assert!(
        after < baseline + 64 * MIB,
        "RSS stayed at {} MiB after the scans (baseline {} MiB)",
        after / MIB,
        baseline / MIB
    );

    // Both scans answer their findings (none: the database is empty).
    for (tag, img) in &images {
        let (_, v) = scan_status(&s, "attack", &img.manifest_digest);
        let summary = &v["imageScanFindings"];
        assert!(summary.is_object(), "{tag}: {v}");
    }
}
