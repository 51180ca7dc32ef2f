//! Time and peak memory to scan a generated ~500 MB, 10-layer gzip image
//! through the registry (issue 8, item 8): layers pushed into a real blob
//! store and SQLite metadata store, then scanned by the registry's scan job
//! (streamed from the blob store into berth-scan on the blocking pool),
//! cold, then a second image sharing the 9 lower layers (their inventories
//! come from the cache), then the first image again (all cached).
//!
//! `cargo run --release -p berth-registry --example scan_registry_scale`
//!
//! Layers as in berth-scan's `scan_scale` example: each 1,000 files of
//! 48 KiB (half pseudo-random, half text), 8 ELF executables of 2 MiB, the
//! machine's dpkg status in the first layer, 200 npm packages in the last.
//! A fresh process does the pushing and scanning; its peak RSS is reset
//! (`/proc/self/clear_refs`) after the pushes, so the figure is the scans'.

use berth_oci::{Algorithm, Digest, Reference, RepositoryName};
use berth_registry::{Clock, Registry, RegistryConfig, Repo, SystemClock};
use berth_store::{FsBlobStore, RegistryKey, SqliteMetadataStore};
use bytes::Bytes;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "--scan" {
        return tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(scan(Path::new(&args[2])));
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

/// Layers 0..=9 of image A, and `9b`, image B's own top layer.
fn generate(dir: &Path) {
    let t = Instant::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut total = 0;
    for (l, name) in (0..10)
        .map(|l| (l, l.to_string()))
        .chain([(9, "9b".to_string())])
    {
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
            add(format!("usr/share/l{name}/f{f}"), &data, 0o644);
        }
        for e in 0..8 {
            let mut data = b"\x7fELF".to_vec();
            data.extend((0..(2 << 20) - 4).map(|_| rand() as u8));
            add(format!("usr/bin/l{name}-tool{e}"), &data, 0o755);
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
        if name != "9b" {
            total += gz.len();
        }
        std::fs::write(dir.join(format!("layer-{name}.tar.gz")), &gz).unwrap();
    }
    eprintln!(
        "generated image A: {} MB gzip in 10 layers, in {:.1?}",
        total >> 20,
        t.elapsed()
    );
}

fn sha(b: &[u8]) -> Digest {
    Digest::of_bytes(Algorithm::Sha256, b)
}

/// Uploads a file as a blob, streamed in 1 MiB chunks.
async fn upload_file(reg: &Registry, repo: &Repo, path: &Path) -> (Digest, u64) {
    let mut hasher_input = std::fs::File::open(path).unwrap();
    let mut all = Vec::new();
    hasher_input.read_to_end(&mut all).unwrap();
    let digest = sha(&all);
    let len = all.len() as u64;
    let chunks: Vec<std::io::Result<Bytes>> = all
        .chunks(1 << 20)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    drop(all);
    reg.upload_blob(repo, &digest, Box::pin(futures_util::stream::iter(chunks)))
        .await
        .unwrap();
    (digest, len)
}

async fn push_image(reg: &Registry, repo: &Repo, layers: &[(Digest, u64)], tag: &str) -> Digest {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"tag":"{tag}"}}"#
    );
    let config_digest = sha(config.as_bytes());
    reg.upload_blob(
        repo,
        &config_digest,
        Box::pin(futures_util::stream::iter([Ok(Bytes::from(
            config.clone(),
        ))])),
    )
    .await
    .unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": layers.iter().map(|(d, n)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d.to_string(), "size": n
        })).collect::<Vec<_>>(),
    })
    .to_string();
    let put = reg
        .put_manifest(
            repo,
            &Reference::parse(tag).unwrap(),
            None,
            Bytes::from(manifest),
        )
        .await
        .unwrap();
    put.digest
}

async fn timed_scan(reg: &Registry, repo: &Repo, digest: &Digest, what: &str) {
    let t = Instant::now();
    reg.start_image_scan(repo, digest).await.unwrap();
    while reg.scans_pending() > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let scan = reg.image_scan(repo, digest).await.unwrap().unwrap();
    assert_eq!(scan.status, "COMPLETE", "{scan:?}");
    eprintln!("{what}: {:.2?}", t.elapsed());
}

async fn scan(dir: &Path) {
    let root = tempfile::tempdir().unwrap();
    let blobs = Arc::new(FsBlobStore::open(root.path().join("blobs")).await.unwrap());
    let meta = Arc::new(
        SqliteMetadataStore::open(&root.path().join("meta.db"))
            .await
            .unwrap(),
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let reg = Registry::new(
        blobs,
        meta,
        clock,
        RegistryConfig {
            create_on_push: true,
            ..RegistryConfig::default()
        },
    );
    let repo = Repo {
        registry: RegistryKey {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
        },
        name: RepositoryName::parse("scale/app").unwrap(),
    };
    let mut a = Vec::new();
    for l in 0..10 {
        a.push(upload_file(&reg, &repo, &dir.join(format!("layer-{l}.tar.gz"))).await);
    }
    let mut b = a[..9].to_vec();
    b.push(upload_file(&reg, &repo, &dir.join("layer-9b.tar.gz")).await);
    let a_digest = push_image(&reg, &repo, &a, "a").await;
    let b_digest = push_image(&reg, &repo, &b, "b").await;
    // Peak RSS from here on is the scans' (and the process's baseline).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    eprintln!("RSS before scanning: {} MB", status_kb("VmRSS:") >> 10);
    timed_scan(&reg, &repo, &a_digest, "image A, cold (10 layers read)").await;
    eprintln!(
        "peak RSS after the cold scan: {} MB",
        status_kb("VmHWM:") >> 10
    );
    timed_scan(&reg, &repo, &b_digest, "image B, 9 of 10 layers cached").await;
    timed_scan(
        &reg,
        &repo,
        &a_digest,
        "image A again, all 10 layers cached",
    )
    .await;
    eprintln!(
        "peak RSS over the three scans: {} MB",
        status_kb("VmHWM:") >> 10
    );
    reg.close().await;
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
