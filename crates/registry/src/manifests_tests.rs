//! Manifests on real stores: validation, tags moving under readers,
//! deletion by tag and digest, concurrent PutImage.

use crate::test_fixture::*;
use crate::*;
use berth_oci::Reference;
use std::sync::atomic::Ordering;

/// A descriptor's size must be the size of the content it names, and a
/// body must be UTF-8 JSON text even in fields berth does not read
/// (issue 17): BatchGetImage shows the body as text, and a size a client
/// is handed must be the one its pull finds.
#[tokio::test]
async fn manifests_declare_true_sizes_in_valid_json_text() {
    let f = fixture().await;
    let a = repo("app");
    let (cfg, l1) = (sha(b"cfg"), sha(b"l1"));
    f.reg.upload_blob(&a, &cfg, body(&[b"cfg"])).await.unwrap();
    f.reg.upload_blob(&a, &l1, body(&[b"l1"])).await.unwrap();
    let good = image_manifest(&cfg, &[&l1]);
    let lying = Bytes::from(
        String::from_utf8(good.to_vec())
            .unwrap()
            .replace(r#""size":2}"#, r#""size":5}"#),
    );
    assert_ne!(lying, good);
    let err = f
        .reg
        .put_manifest(&a, &tag("v1"), None, lying)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ManifestInvalid(ref m) if m.contains(&format!("{l1} is declared as 5 bytes but has 2"))),
        "{err}"
    );
    let mut bad_text = good[..good.len() - 1].to_vec();
    bad_text.extend_from_slice(b",\"note\":\"\xff\"}");
    let err = f
        .reg
        .put_manifest(&a, &tag("v1"), None, Bytes::from(bad_text))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ManifestInvalid(ref m) if m.contains("UTF-8")),
        "{err}"
    );
    assert!(matches!(
        f.reg.get_manifest(&a, &tag("v1"), &[]).await,
        Err(Error::ManifestUnknown(_))
    ));
    f.reg
        .put_manifest(&a, &tag("v1"), None, good)
        .await
        .unwrap();
}

#[tokio::test]
async fn manifests_need_their_blobs_and_tags_move_without_stale_reads() {
    let f = fixture().await;
    let a = repo("app");
    let (cfg, l1) = (sha(b"cfg"), sha(b"l1"));
    let m = image_manifest(&cfg, &[&l1]);
    let err = f
        .reg
        .put_manifest(&a, &tag("v1"), None, m.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ManifestBlobUnknown(ref v) if v.len() == 2),
        "{err}"
    );

    f.reg.upload_blob(&a, &cfg, body(&[b"cfg"])).await.unwrap();
    f.reg.upload_blob(&a, &l1, body(&[b"l1"])).await.unwrap();
    let put = f
        .reg
        .put_manifest(&a, &tag("v1"), None, m.clone())
        .await
        .unwrap();
    assert_eq!(put.digest, sha(&m));
    let got = f.reg.get_manifest(&a, &tag("v1"), &[]).await.unwrap();
    assert_eq!(got.body, m, "served byte for byte");
    assert_eq!(
        got.media_type(),
        "application/vnd.oci.image.manifest.v1+json"
    );

    // Move the tag: the cached value must not survive.
    let l2 = sha(b"l2");
    f.reg.upload_blob(&a, &l2, body(&[b"l2"])).await.unwrap();
    let m2 = image_manifest(&cfg, &[&l1, &l2]);
    f.reg
        .put_manifest(&a, &tag("v1"), None, m2.clone())
        .await
        .unwrap();
    assert_eq!(
        f.reg.get_manifest(&a, &tag("v1"), &[]).await.unwrap().body,
        m2
    );
    assert_eq!(
        f.reg
            .get_manifest(&a, &Reference::Digest(sha(&m)), &[])
            .await
            .unwrap()
            .body,
        m
    );

    // A wrong digest in the URL is refused.
    let err = f
        .reg
        .put_manifest(&a, &Reference::Digest(sha(b"x")), None, m.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestInvalid(_)));

    // Accept negotiation: a Docker-only client cannot take the OCI manifest.
    let err = f
        .reg
        .get_manifest(
            &a,
            &tag("v1"),
            &["application/vnd.docker.distribution.manifest.v2+json"],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ManifestUnknown(ref msg) if msg.contains("Accept")));

    // Deleting by digest removes its tags, and a cached read does not resurrect it.
    f.reg
        .delete_manifest(&a, &Reference::Digest(sha(&m2)))
        .await
        .unwrap();
    assert!(matches!(
        f.reg.get_manifest(&a, &tag("v1"), &[]).await,
        Err(Error::ManifestUnknown(_))
    ));
    assert!(matches!(
        f.reg
            .get_manifest(&a, &Reference::Digest(sha(&m2)), &[])
            .await,
        Err(Error::ManifestUnknown(_))
    ));
    assert_eq!(
        f.reg.list_tags(&a, None, 10).await.unwrap().items,
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_racing_tag_moves_end_on_the_last_one() {
    let f = Arc::new(fixture().await);
    let a = repo("race");
    let cfg = sha(b"cfg");
    f.reg.upload_blob(&a, &cfg, body(&[b"cfg"])).await.unwrap();
    let mut manifests = Vec::new();
    for i in 0..30u8 {
        let l = sha(&[i]);
        f.reg.upload_blob(&a, &l, body(&[&[i]])).await.unwrap();
        manifests.push(image_manifest(&cfg, &[&l]));
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..6 {
        let (f, a, done) = (f.clone(), a.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let _ = f.reg.get_manifest(&a, &tag("latest"), &[]).await;
                tokio::task::yield_now().await;
            }
        }));
    }
    for m in &manifests {
        f.reg
            .put_manifest(&a, &tag("latest"), None, m.clone())
            .await
            .unwrap();
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        r.await.unwrap();
    }
    for _ in 0..3 {
        let got = f.reg.get_manifest(&a, &tag("latest"), &[]).await.unwrap();
        assert_eq!(
            got.body,
            *manifests.last().unwrap(),
            "no stale tag survives the race"
        );
    }
}

#[tokio::test]
async fn deleting_a_tag_deletes_the_image_only_with_its_last_tag() {
    let f = fixture().await;
    let a = repo("a");
    let (m, _) = push_image(&f.reg, &a, "one", Some("v1")).await;
    f.reg
        .put_manifest(
            &a,
            &tag("latest"),
            None,
            f.reg.get_manifest(&a, &tag("v1"), &[]).await.unwrap().body,
        )
        .await
        .unwrap();
    f.reg.delete_manifest(&a, &tag("v1")).await.unwrap();
    assert!(matches!(
        f.reg.get_manifest(&a, &tag("v1"), &[]).await,
        Err(Error::ManifestUnknown(_))
    ));
    let by_digest = Reference::Digest(m.clone());
    assert!(f.reg.get_manifest(&a, &by_digest, &[]).await.is_ok());
    f.reg.delete_manifest(&a, &tag("latest")).await.unwrap();
    assert!(matches!(
        f.reg.get_manifest(&a, &by_digest, &[]).await,
        Err(Error::ManifestUnknown(_))
    ));
    assert!(matches!(
        f.reg.delete_manifest(&a, &tag("latest")).await,
        Err(Error::ManifestUnknown(_))
    ));
}

/// Two identical PutImage calls at once: the existence check is inside the
/// write's transaction, so exactly one stores and the other is refused
/// with ImageAlreadyExists (never both stored, never an error).
#[tokio::test]
async fn concurrent_identical_put_images_store_exactly_once() {
    let f = fixture().await;
    let reg = Arc::new(f.reg);
    let a = repo("race");
    let (cfg, l1) = (sha(b"cfg"), sha(b"l1"));
    reg.upload_blob(&a, &cfg, body(&[b"cfg"])).await.unwrap();
    reg.upload_blob(&a, &l1, body(&[b"l1"])).await.unwrap();
    for round in 0..20 {
        let m = image_manifest(&cfg, &[&l1]);
        let t = format!("v{round}");
        let puts: Vec<_> = (0..2)
            .map(|_| {
                let (reg, a, m, t) = (reg.clone(), a.clone(), m.clone(), t.clone());
                tokio::spawn(async move { reg.put_image(&a, &tag(&t), None, m).await })
            })
            .collect();
        let mut stored = 0;
        for p in puts {
            match p.await.unwrap() {
                Ok(_) => stored += 1,
                Err(Error::ImageAlreadyExists { tag: Some(got), .. }) => assert_eq!(got, t),
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(stored, 1, "round {round}");
        assert_eq!(reg.get_manifest(&a, &tag(&t), &[]).await.unwrap().body, m);
    }
    // Untagged: the same manifest again is refused too; /v2 keeps
    // accepting it (a re-push is a no-op there).
    let m = image_manifest(&cfg, &[&l1]);
    let by_digest = Reference::Digest(sha(&m));
    assert!(matches!(
        reg.put_image(&a, &by_digest, None, m.clone()).await,
        Err(Error::ImageAlreadyExists { tag: None, .. })
    ));
    reg.put_manifest(&a, &by_digest, None, m).await.unwrap();
}
