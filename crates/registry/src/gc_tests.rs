//! Garbage collection on real stores: the grace period, claims renewed
//! by a HEAD, orphan files, a collector running during a push storm.

use crate::test_fixture::*;
use crate::*;
use berth_oci::Reference;
use std::sync::atomic::Ordering;

#[tokio::test]
async fn gc_deletes_exactly_the_unreferenced_blobs_after_the_grace_period() {
    let f = fixture().await;
    let reg = Arc::new(f.reg);
    let (a, b) = (repo("a"), repo("b"));
    let (_, kept) = push_image(&reg, &a, "kept", Some("v1")).await;
    let (gone_m, gone) = push_image(&reg, &a, "gone", Some("v2")).await;
    // "gone"'s layer is also used by an image in b: only a's link goes.
    reg.mount_blob(&b, &a.name, &gone[1])
        .await
        .unwrap()
        .unwrap();
    let cfg_b = sha(b"config b");
    reg.upload_blob(&b, &cfg_b, body(&[b"config b"]))
        .await
        .unwrap();
    reg.put_manifest(&b, &tag("v1"), None, image_manifest(&cfg_b, &[&gone[1]]))
        .await
        .unwrap();
    reg.delete_manifest(&a, &Reference::Digest(gone_m))
        .await
        .unwrap();
    let stray = sha(b"never referenced");
    reg.upload_blob(&a, &stray, body(&[b"never referenced"]))
        .await
        .unwrap();

    // Within the grace period nothing is collected.
    let s = gc(&reg, gc_now(3600)).await;
    assert_eq!((s.blobs_deleted, s.links_removed), (0, 0));
    f.clock.0.fetch_add(2 * 3600 * 1000, Ordering::SeqCst);

    let dry = gc(
        &reg,
        GcOptions {
            dry_run: true,
            ..gc_now(3600)
        },
    )
    .await;
    assert_eq!((dry.blobs_deleted, dry.links_removed), (2, 3));
    assert_eq!(
        read_all(&reg, &a, &stray).await,
        b"never referenced",
        "a dry run changes nothing"
    );

    let s = gc(&reg, gc_now(3600)).await;
    // gone's config and the stray blob are deleted; gone's layer loses a's link only.
    assert_eq!((s.blobs_deleted, s.links_removed, s.examined), (2, 3, 6));
    assert_eq!(
        s.bytes_freed,
        ("config gone".len() + "never referenced".len()) as u64
    );
    b_is_unknown(&reg, &a, &gone[0]).await;
    b_is_unknown(&reg, &a, &gone[1]).await;
    b_is_unknown(&reg, &a, &stray).await;
    assert_eq!(read_all(&reg, &b, &gone[1]).await, b"layer gone");
    for d in &kept {
        assert!(
            read_all(&reg, &a, d).await.starts_with(b"config kept")
                || read_all(&reg, &a, d).await.starts_with(b"layer kept")
        );
    }
    assert!(!f
        .root
        .join(format!(
            "blobs/blobs/sha256/{}/{}",
            &stray.hex()[..2],
            stray.hex()
        ))
        .exists());
    // Nothing left to do.
    let again = gc(&reg, gc_now(3600)).await;
    assert_eq!((again.blobs_deleted, again.links_removed), (0, 0));
    // A collected blob can be pushed again.
    reg.upload_blob(&a, &stray, body(&[b"never referenced"]))
        .await
        .unwrap();
    assert_eq!(read_all(&reg, &a, &stray).await, b"never referenced");
}

#[tokio::test]
async fn a_head_renews_a_blobs_claim_and_orphan_files_are_swept() {
    let f = fixture().await;
    let reg = Arc::new(f.reg);
    let a = repo("a");
    let d = sha(b"checked");
    reg.upload_blob(&a, &d, body(&[b"checked"])).await.unwrap();
    // A day later a client checks the blob (about to reference it): spared.
    f.clock.0.fetch_add(25 * 3600 * 1000, Ordering::SeqCst);
    reg.stat_blob(&a, &d).await.unwrap();
    let s = gc(&reg, gc_now(3600)).await;
    assert_eq!(s.blobs_deleted, 0);
    f.clock.0.fetch_add(2 * 3600 * 1000, Ordering::SeqCst);
    let s = gc(&reg, gc_now(3600)).await;
    assert_eq!(s.blobs_deleted, 1);
    // The cache does not outlive the collection.
    b_is_unknown(&reg, &a, &d).await;

    // A blob file without a record (a crash between rename and link).
    let orphan = sha(b"orphan");
    let path = f.root.join(format!(
        "blobs/blobs/sha256/{}/{}",
        &orphan.hex()[..2],
        orphan.hex()
    ));
    std::fs::write(&path, b"orphan").unwrap();
    // The test clock is far in the past, so move it past the file's mtime.
    f.clock.0.store(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            + 2 * 3600 * 1000,
        Ordering::SeqCst,
    );
    let s = gc(&reg, gc_now(3600)).await;
    assert_eq!(s.orphan_files, 1);
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_running_in_a_loop_during_a_push_storm_loses_nothing() {
    let f = fixture().await;
    let reg = Arc::new(f.reg);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Each run moves the clock a minute on, against a 30-minute grace: a
    // blob becomes collectable 30 runs after its last claim, so garbage is
    // collected during the storm while each push (a few ms) stays inside
    // its grace, as a real push does inside the default 24 h.
    let clock = f.clock.clone();
    let collector = {
        let (reg, stop) = (reg.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut runs, mut deleted) = (0, 0);
            while !stop.load(Ordering::SeqCst) {
                deleted += gc(&reg, gc_now(1800)).await.blobs_deleted;
                clock.0.fetch_add(60_000, Ordering::SeqCst);
                runs += 1;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            (runs, deleted)
        })
    };
    let mut pushers = Vec::new();
    for w in 0..4 {
        let reg = reg.clone();
        pushers.push(tokio::spawn(async move {
            let r = repo(&format!("storm/{w}"));
            let mut pushed = Vec::new();
            for i in 0..40 {
                // Shared base layer across workers, plus a unique one.
                let base = b"shared base layer".to_vec();
                let own = format!("layer {w}-{i}");
                let cfg = format!("config {w}-{i}");
                let (bd, od, cd) = (sha(&base), sha(own.as_bytes()), sha(cfg.as_bytes()));
                for (d, bytes) in [
                    (&bd, base.clone()),
                    (&od, own.clone().into_bytes()),
                    (&cd, cfg.clone().into_bytes()),
                ] {
                    if reg.stat_blob(&r, d).await.is_err() {
                        reg.upload_blob(&r, d, body(&[&bytes])).await.unwrap();
                    }
                }
                let m = image_manifest(&cd, &[&bd, &od]);
                reg.put_manifest(&r, &tag(&format!("t{i}")), None, m)
                    .await
                    .expect("a push during garbage collection must not fail");
                pushed.push((i, od));
                // Every other image is deleted again: garbage for the collector.
                if i % 2 == 1 {
                    reg.delete_manifest(&r, &tag(&format!("t{i}")))
                        .await
                        .unwrap();
                }
            }
            (r, pushed)
        }));
    }
    let mut results = Vec::new();
    for p in pushers {
        results.push(p.await.unwrap());
    }
    stop.store(true, Ordering::SeqCst);
    let (runs, mut deleted) = collector.await.unwrap();
    assert!(runs > 0);
    // Past every grace: what the storm deleted goes now, and nothing else.
    f.clock.0.fetch_add(3600 * 1000, Ordering::SeqCst);
    deleted += gc(&reg, gc_now(1800)).await.blobs_deleted;
    // 4 workers × 20 deleted images × (unique layer + config).
    assert_eq!(deleted, 4 * 20 * 2, "after {runs} runs");
    for (r, pushed) in results {
        for (i, layer) in pushed {
            if i % 2 == 0 {
                let m = reg
                    .get_manifest(&r, &tag(&format!("t{i}")), &[])
                    .await
                    .unwrap();
                assert_eq!(m.digest, sha(&m.body));
                read_all(&reg, &r, &layer).await;
            }
        }
    }
}
