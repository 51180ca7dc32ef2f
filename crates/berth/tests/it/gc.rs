//! Garbage collection against a real berth: `berth gc` deletes exactly the
//! unreferenced blobs, and a push storm running beside collections in a
//! loop loses nothing.

use crate::common::*;
use image::{sha256, OCI_MANIFEST};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn berth_gc(s: &TestServer, args: &[&str]) -> String {
    // Signed with the default account's admin key, as the aws CLI would.
    let out = tools::run(
        Command::new(berth_bin())
            .envs(s.aws_env("us-east-1"))
            .arg("gc")
            .arg("--endpoint")
            .arg(s.url())
            .args(args),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Files in the blob store.
fn stored_blobs(s: &TestServer) -> usize {
    let mut n = 0;
    for alg in ["sha256", "sha512"] {
        let root = s.data_dir.join("blobs").join(alg);
        for shard in std::fs::read_dir(&root).unwrap() {
            n += std::fs::read_dir(shard.unwrap().path()).unwrap().count();
        }
    }
    n
}

#[test]
fn berth_gc_deletes_exactly_the_unreferenced_blobs() {
    let mut s = start();
    let api = Api::new(&s);
    let kept = image::oci_image(21, 2, 2, 5_000);
    let gone = image::oci_image(22, 2, 2, 5_000);
    api.push_image("gc/app", &kept, "v1");
    api.push_image("gc/app", &gone, "v2");
    // Another repository uses one of gone's layers: it must survive.
    api.push_image("gc/other", &image::oci_image(23, 1, 1, 100), "v1");
    let shared = api.push_blob("gc/other", &gone.layers[0].bytes);
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": kept.config_digest, "size": kept.config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": shared, "size": gone.layers[0].bytes.len() }],
    }))
    .unwrap();
    api.push_blob("gc/other", &kept.config);
    assert_eq!(
        api.put_manifest("gc/other", "uses-shared", OCI_MANIFEST, &m)
            .status(),
        201
    );
    let loose = api.push_blob("gc/app", b"uploaded, never referenced");
    let r = api
        .client
        .delete(api.url("/v2/gc/app/manifests/v2"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let before = stored_blobs(&s);

    // Inside the default grace (24 h) nothing goes.
    let out = berth_gc(&s, &[]);
    assert!(out.contains("deleted 0 blobs"), "{out}");
    // A dry run reports and changes nothing.
    let out = berth_gc(&s, &["--dry-run", "--grace", "0s"]);
    assert!(out.contains("would delete 3 blobs"), "{out}");
    assert_eq!(stored_blobs(&s), before);
    let out = berth_gc(&s, &["--grace", "0s"]);
    // gone's config and second layer, and the loose blob.
    assert!(out.contains("deleted 3 blobs"), "{out}");
    assert_eq!(stored_blobs(&s), before - 3);
    for d in [&gone.config_digest, &gone.layers[1].digest, &loose] {
        assert_eq!(
            api.head(&format!("/v2/gc/app/blobs/{d}")).status(),
            404,
            "{d}"
        );
    }
    assert_eq!(
        api.head(&format!("/v2/gc/app/blobs/{shared}")).status(),
        404,
        "a's link went"
    );
    assert_eq!(
        api.get(&format!("/v2/gc/other/blobs/{shared}"))
            .bytes()
            .unwrap()[..],
        gone.layers[0].bytes[..]
    );
    for l in &kept.layers {
        assert_eq!(
            api.get(&format!("/v2/gc/app/blobs/{}", l.digest))
                .bytes()
                .unwrap()[..],
            l.bytes[..]
        );
    }
    let (code, status) = s.admin("GET", "/berth/admin/gc", None);
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["phase"], "done");
    assert_eq!(status["blobsDeleted"], 3);

    // Offline, with the server stopped; refused while it runs.
    let offline = |dir: &std::path::Path| {
        Command::new(berth_bin())
            .args(["gc", "--offline", "--grace", "0s", "--data-dir"])
            .arg(dir)
            .output()
            .unwrap()
    };
    let refused = offline(&s.data_dir);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("in use"));
    s.stop();
    let out = offline(&s.data_dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleted 0 blobs"));
}

/// Pushes a small image: HEAD each blob, upload the missing ones, PUT the manifest.
fn push_checked(
    api: &Api,
    repo: &str,
    base: &[u8],
    seed: u64,
    tag: &str,
) -> Result<Vec<u8>, String> {
    let own = image::random_bytes(seed, 2_000);
    let config = format!(r#"{{"seed":{seed}}}"#).into_bytes();
    for bytes in [base, &own[..], &config[..]] {
        let d = sha256(bytes);
        if api.head(&format!("/v2/{repo}/blobs/{d}")).status() != 200 {
            api.push_blob(repo, bytes);
        }
    }
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len() },
        "layers": [
            { "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(base), "size": base.len() },
            { "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(&own), "size": own.len() },
        ],
    }))
    .unwrap();
    let r = api.put_manifest(repo, tag, OCI_MANIFEST, &m);
    if r.status() != 201 {
        return Err(format!("{}: {}", r.status(), r.text().unwrap_or_default()));
    }
    Ok(own)
}

#[test]
fn a_push_storm_beside_gc_in_a_loop_loses_nothing() {
    let s = start();
    push_storm_beside_gc(&s, &[&s]);
}

/// Collections in a loop on `s` while four workers push (and delete every
/// other image) through `pushers` (worker `w` through `pushers[w % n]`):
/// nothing acknowledged and not deleted is lost, every garbage blob is
/// collected. `it/cluster.rs` runs it across nodes.
pub(crate) fn push_storm_beside_gc(s: &TestServer, pushers: &[&TestServer]) {
    const WORKERS: u64 = 4;
    const IMAGES: u64 = 60;
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    // Collections in a loop, sparing only what was claimed in the last 5 s
    // (a push here takes milliseconds).
    let collector = {
        let (client, url, stop) = (s.raw_client(), s.url(), stop.clone());
        let admin = move |method: &str, body: Option<&serde_json::Value>| {
            berth_testkit::admin::call(
                &client,
                &url,
                (
                    berth_testkit::ROOT_ACCESS_KEY_ID,
                    berth_testkit::ROOT_SECRET_ACCESS_KEY,
                ),
                method,
                "/berth/admin/gc",
                body,
            )
        };
        std::thread::spawn(move || {
            let (mut runs, mut deleted) = (0u64, 0u64);
            while !stop.load(Ordering::SeqCst) {
                let (code, st) = admin("POST", Some(&serde_json::json!({ "graceSeconds": 5 })));
                assert_eq!(code, 202, "{st}");
                loop {
                    let (_, st) = admin("GET", None);
                    if st["phase"] == "done" {
                        deleted += st["blobsDeleted"].as_u64().unwrap();
                        break;
                    }
                    assert_ne!(st["phase"], "failed", "{st}");
                    std::thread::sleep(Duration::from_millis(5));
                }
                runs += 1;
            }
            (runs, deleted)
        })
    };
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (api, failed) = (
                Api::new(pushers[w as usize % pushers.len()]),
                failed.clone(),
            );
            std::thread::spawn(move || {
                let repo = format!("storm/{w}");
                let base = image::random_bytes(1000 + w, 50_000);
                let mut kept = Vec::new();
                for i in 0..IMAGES {
                    match push_checked(&api, &repo, &base, w * 10_000 + i, &format!("t{i}")) {
                        Ok(own) => kept.push((i, own)),
                        Err(e) => {
                            eprintln!("push {repo}:t{i} failed: {e}");
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    // Every other image is deleted again: garbage.
                    if i % 2 == 1 {
                        let r = api
                            .client
                            .delete(api.url(&format!("/v2/{repo}/manifests/t{i}")))
                            .send()
                            .unwrap();
                        assert_eq!(r.status(), 202);
                        kept.pop();
                    }
                    // Spread the storm over several grace periods.
                    std::thread::sleep(Duration::from_millis(100));
                }
                (repo, kept)
            })
        })
        .collect();
    let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let storm = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (runs, deleted_during) = collector.join().unwrap();
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "pushes failed during garbage collection"
    );
    assert!(
        deleted_during > 0,
        "the collector ran {runs} times during the storm but deleted nothing"
    );

    // Everything acknowledged and not deleted is intact.
    let api = Api::new(s);
    for (repo, kept) in &results {
        for (i, own) in kept {
            let r = api.get(&format!("/v2/{repo}/manifests/t{i}"));
            assert_eq!(r.status(), 200, "{repo}:t{i}");
            assert_eq!(
                api.get(&format!("/v2/{repo}/blobs/{}", sha256(own)))
                    .bytes()
                    .unwrap()[..],
                own[..]
            );
        }
    }
    // The rest of the garbage, timed.
    let t = Instant::now();
    let out = berth_gc(s, &["--grace", "0s"]);
    let rest: u64 = out
        .split("deleted ")
        .nth(1)
        .and_then(|x| x.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    let secs = t.elapsed().as_secs_f64();
    // Each deleted image left its own layer and config.
    assert_eq!(deleted_during + rest, WORKERS * IMAGES / 2 * 2);
    eprintln!(
        "gc storm: {} pushes in {:.1} s beside {runs} collections, 0 failed; {deleted_during} blobs deleted during the storm, {rest} after it in {secs:.2} s ({:.0} blobs/min)",
        WORKERS * IMAGES,
        storm.as_secs_f64(),
        rest as f64 / secs * 60.0
    );
}
