//! Scanning at the registry level: an index scanned per platform, each
//! child with its own record; a layer's inventory cached (a scan after the
//! layer's file is gone still reads it from the cache); a scan a stopped
//! registry left IN_PROGRESS resumed by the next.

use crate::clock::Clock as _;
use crate::test_fixture::*;
use crate::*;
use berth_oci::{Digest, Reference};
use berth_store::ScanClaim;

const RECORD: &[u8] =
    include_bytes!("../../../scan/tests/fixtures/synthetic/BERTH-SYNTHETIC-0001.json");

fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

async fn put_blob(reg: &Registry, r: &Repo, bytes: &[u8]) -> Digest {
    let d = sha(bytes);
    reg.upload_blob(r, &d, body(&[bytes])).await.unwrap();
    d
}

async fn wait_idle(reg: &Registry) {
    for _ in 0..600 {
        if reg.scans_pending() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("scans never finished");
}

fn ids(scan: &berth_store::ImageScanRecord) -> Vec<String> {
    let f: Vec<StoredFinding> = serde_json::from_str(scan.findings.as_deref().unwrap()).unwrap();
    f.into_iter()
        .map(|f| format!("{} {} {}", f.id, f.package, f.version))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_scan_per_platform_and_layers_are_read_once() {
    let f = fixture().await;
    let r = repo("scan/multi");
    let stats = f
        .reg
        .import_vuln_records(vec![("0001".into(), RECORD.to_vec())])
        .await
        .unwrap();
    assert_eq!((stats.read, stats.stored), (1, 1));
    f.reg.mark_vuln_import_finished().await.unwrap();

    let base = tar_of(&[
        ("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
        (
            "var/lib/dpkg/status",
            "Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.11-1~deb12u1\n",
        ),
    ]);
    let base = put_blob(&f.reg, &r, &base).await;
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let own = put_blob(
            &f.reg,
            &r,
            &tar_of(&[(format!("srv/{arch}").as_str(), arch)]),
        )
        .await;
        let config = put_blob(
            &f.reg,
            &r,
            format!(r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}}}}"#).as_bytes(),
        )
        .await;
        let m = image_manifest(&config, &[&base, &own]);
        let d = sha(&m);
        f.reg
            .put_manifest(&r, &Reference::Digest(d.clone()), None, m.clone())
            .await
            .unwrap();
        children.push((arch, d, m.len()));
    }
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        children
            .iter()
            .map(|(arch, d, n)| format!(r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":{n},"platform":{{"os":"linux","architecture":"{arch}"}}}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let index = Bytes::from(index);
    let index_digest = sha(&index);
    f.reg
        .put_manifest(&r, &tag("multi"), None, index)
        .await
        .unwrap();
    // No scan on push by default.
    assert!(f.reg.image_scan(&r, &index_digest).await.unwrap().is_none());

    let started = f.reg.start_image_scan(&r, &index_digest).await.unwrap();
    assert_eq!(started.status, "IN_PROGRESS");
    wait_idle(&f.reg).await;
    let scan = f.reg.image_scan(&r, &index_digest).await.unwrap().unwrap();
    assert_eq!(scan.status, "COMPLETE", "{scan:?}");
    // The same package on both platforms is one finding.
    assert_eq!(
        ids(&scan),
        ["BERTH-SYNTHETIC-0001 libssl3 3.0.11-1~deb12u1"]
    );
    assert_eq!(scan.counts.as_deref(), Some(r#"{"HIGH":1}"#));
    for (_, child, _) in &children {
        let c = f.reg.image_scan(&r, child).await.unwrap().unwrap();
        assert_eq!(c.status, "COMPLETE");
        assert_eq!(ids(&c), ids(&scan));
    }

    // The base layer's file goes; its cached inventory still answers.
    let hex = base.hex();
    std::fs::remove_file(f.root.join("blobs/blobs/sha256").join(&hex[..2]).join(hex)).unwrap();
    f.reg.start_image_scan(&r, &children[0].1).await.unwrap();
    wait_idle(&f.reg).await;
    let again = f.reg.image_scan(&r, &children[0].1).await.unwrap().unwrap();
    assert_eq!(again.status, "COMPLETE", "{again:?}");
    assert_eq!(ids(&again), ids(&scan));
}

/// An image whose scan a process left IN_PROGRESS under `claim`, as a
/// server stopped (or a node killed) during the scan leaves it.
async fn scan_left_in_progress(f: &Fixture, name: &str, claim: ScanClaim<'_>) -> (Repo, Digest) {
    let r = repo(name);
    let layer = put_blob(
        &f.reg,
        &r,
        &tar_of(&[("etc/os-release", "ID=debian\nVERSION_ID=12\n")]),
    )
    .await;
    let config = put_blob(&f.reg, &r, br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#).await;
    let m = image_manifest(&config, &[&layer]);
    let d = sha(&m);
    f.reg.put_manifest(&r, &tag("v1"), None, m).await.unwrap();
    let id = f
        .reg
        .meta
        .find_repository(&r.registry, name)
        .await
        .unwrap()
        .unwrap();
    f.reg
        .meta
        .start_image_scan(id, &d, "BASIC", 5, claim)
        .await
        .unwrap();
    (r, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_left_in_progress_runs_again_after_a_restart() {
    let f = fixture().await;
    let far = ScanClaim {
        by: "earlier-life",
        until: i64::MAX - 1,
    };
    let (r, d) = scan_left_in_progress(&f, "scan/resume", far).await;
    // A node on its own takes every scan left, claimed or not.
    let reg = registry_at(&f.root, f.clock.clone()).await;
    assert_eq!(reg.resume_scans(true).await.unwrap(), 1);
    wait_idle(&reg).await;
    let scan = reg.image_scan(&r, &d).await.unwrap().unwrap();
    // Debian without packages: COMPLETE with no findings.
    assert_eq!(scan.status, "COMPLETE", "{scan:?}");
    assert!(ids(&scan).is_empty());
}

/// On a cluster a node takes over a scan only once its claimant stopped
/// renewing the claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_takes_over_a_scan_only_when_its_claim_lapsed() {
    let f = fixture().await;
    let now = f.clock.now_millis();
    let other = ScanClaim {
        by: "another-node",
        until: now + 60_000,
    };
    let (r, d) = scan_left_in_progress(&f, "scan/claimed", other).await;
    assert_eq!(
        f.reg.resume_scans(false).await.unwrap(),
        0,
        "the claim holds"
    );
    assert_eq!(
        f.reg.image_scan(&r, &d).await.unwrap().unwrap().status,
        "IN_PROGRESS"
    );
    f.clock
        .0
        .fetch_add(60_001, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        f.reg.resume_scans(false).await.unwrap(),
        1,
        "the claim lapsed"
    );
    wait_idle(&f.reg).await;
    assert_eq!(
        f.reg.image_scan(&r, &d).await.unwrap().unwrap().status,
        "COMPLETE"
    );
    assert_eq!(f.reg.resume_scans(false).await.unwrap(), 0);
}
