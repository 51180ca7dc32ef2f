//! Domain tests on real stores in a temporary directory, with a clock the
//! test controls.

use crate::*;
use berth_oci::{Algorithm, Digest, Reference};
use berth_store::{FsBlobStore, SqliteMetadataStore};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicI64, Ordering};

struct TestClock(AtomicI64);
impl Clock for TestClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    clock: Arc<TestClock>,
    reg: Registry,
}

async fn registry_at(root: &std::path::Path, clock: Arc<TestClock>) -> Registry {
    let blobs = Arc::new(FsBlobStore::open(root.join("blobs")).await.unwrap());
    let meta = Arc::new(
        SqliteMetadataStore::open(&root.join("meta.db"))
            .await
            .unwrap(),
    );
    Registry::new(blobs, meta, clock, RegistryConfig::default())
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let clock = Arc::new(TestClock(AtomicI64::new(1_000_000)));
    let reg = registry_at(&root, clock.clone()).await;
    Fixture {
        _dir: dir,
        root,
        clock,
        reg,
    }
}

fn repo(name: &str) -> Repo {
    Repo {
        registry: berth_store::RegistryKey {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
        },
        name: berth_oci::RepositoryName::parse(name).unwrap(),
    }
}

fn body(parts: &[&[u8]]) -> ByteStream {
    let owned: Vec<std::io::Result<Bytes>> = parts
        .iter()
        .map(|p| Ok(Bytes::copy_from_slice(p)))
        .collect();
    futures_util::stream::iter(owned).boxed()
}

fn sha(b: &[u8]) -> Digest {
    Digest::of_bytes(Algorithm::Sha256, b)
}

async fn read_all(reg: &Registry, r: &Repo, d: &Digest) -> Vec<u8> {
    let mut read = reg.read_blob(r, d).await.unwrap();
    let mut out = Vec::new();
    while let Some(c) = read.stream.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    assert_eq!(read.size as usize, out.len());
    out
}

fn image_manifest(config: &Digest, layers: &[&Digest]) -> Bytes {
    let layers: Vec<String> = layers
        .iter()
        .map(|d| format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{d}","size":1}}"#))
        .collect();
    Bytes::from(format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":1}},"layers":[{}]}}"#,
        layers.join(",")
    ))
}

fn tag(t: &str) -> Reference {
    Reference::parse(t).unwrap()
}

#[tokio::test]
async fn monolithic_upload_is_readable_only_from_its_repository() {
    let f = fixture().await;
    let (a, b) = (repo("team/a"), repo("team/b"));
    let d = sha(b"layer bytes");
    let info = f
        .reg
        .upload_blob(&a, &d, body(&[b"layer ", b"bytes"]))
        .await
        .unwrap();
    assert_eq!(info.size, 11);
    assert_eq!(read_all(&f.reg, &a, &d).await, b"layer bytes");
    b_is_unknown(&f.reg, &b, &d).await;
    // Pushing the same bytes to B makes them readable there, stored once.
    f.reg
        .upload_blob(&b, &d, body(&[b"layer bytes"]))
        .await
        .unwrap();
    assert_eq!(read_all(&f.reg, &b, &d).await, b"layer bytes");
    assert_eq!(f.reg.counts().await.unwrap().blobs, 1);
}

async fn b_is_unknown(reg: &Registry, r: &Repo, d: &Digest) {
    match reg.stat_blob(r, d).await {
        Err(Error::NameUnknown(_)) | Err(Error::BlobUnknown(_)) => {}
        other => panic!("expected unknown, got {:?}", other.map(|i| i.size)),
    }
}

#[tokio::test]
async fn a_digest_mismatch_stores_nothing() {
    let f = fixture().await;
    let a = repo("a");
    let wrong = sha(b"something else");
    let err = f
        .reg
        .upload_blob(&a, &wrong, body(&[b"actual"]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DigestInvalid(ref m) if m.contains("nothing was stored")),
        "{err}"
    );
    b_is_unknown(&f.reg, &a, &wrong).await;
    assert_eq!(f.reg.counts().await.unwrap().blobs, 0);

    let up = f.reg.start_upload(&a).await.unwrap();
    f.reg
        .append_upload(&a, &up.id, None, body(&[b"actual"]))
        .await
        .unwrap();
    let err = f
        .reg
        .complete_upload(&a, &up.id, &wrong, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestInvalid(_)));
    assert!(matches!(
        f.reg.upload_status(&a, &up.id).await,
        Err(Error::BlobUploadUnknown(_))
    ));
    assert!(
        std::fs::read_dir(f.root.join("blobs/uploads"))
            .unwrap()
            .next()
            .is_none(),
        "temp data removed"
    );
}

#[tokio::test]
async fn chunked_upload_checks_ranges_and_survives_a_restart() {
    let f = fixture().await;
    let a = repo("a");
    let up = f.reg.start_upload(&a).await.unwrap();
    let s = f
        .reg
        .append_upload(
            &a,
            &up.id,
            Some(ChunkRange { start: 0, end: 4 }),
            body(&[b"hello"]),
        )
        .await
        .unwrap();
    assert_eq!(s.size, 5);
    // Out of order, or a retried earlier chunk: 416 with the current size.
    let err = f
        .reg
        .append_upload(
            &a,
            &up.id,
            Some(ChunkRange { start: 0, end: 4 }),
            body(&[b"hello"]),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RangeNotSatisfiable { size: 5 }));
    // A chunk shorter than it claims is not kept.
    let err = f
        .reg
        .append_upload(
            &a,
            &up.id,
            Some(ChunkRange { start: 5, end: 10 }),
            body(&[b" w"]),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BlobUploadInvalid(_)));
    assert_eq!(f.reg.upload_status(&a, &up.id).await.unwrap().size, 5);
    // Another repository cannot touch the session.
    assert!(matches!(
        f.reg.upload_status(&repo("b"), &up.id).await,
        Err(Error::NameUnknown(_))
    ));

    // A new process on the same data dir finishes the upload (hash state rebuilt from disk).
    f.reg.close().await;
    let reg = registry_at(&f.root, f.clock.clone()).await;
    reg.append_upload(&a, &up.id, None, body(&[b" world"]))
        .await
        .unwrap();
    let d = sha(b"hello world!");
    reg.complete_upload(&a, &up.id, &d, Some(body(&[b"!"])))
        .await
        .unwrap();
    assert_eq!(read_all(&reg, &a, &d).await, b"hello world!");
}

#[tokio::test]
async fn empty_blobs_upload_both_ways() {
    let f = fixture().await;
    let a = repo("a");
    let empty = sha(b"");
    let up = f.reg.start_upload(&a).await.unwrap();
    f.reg
        .complete_upload(&a, &up.id, &empty, None)
        .await
        .unwrap();
    assert_eq!(f.reg.stat_blob(&a, &empty).await.unwrap().size, 0);
    f.reg
        .upload_blob(&repo("b"), &empty, body(&[]))
        .await
        .unwrap();
    assert_eq!(read_all(&f.reg, &repo("b"), &empty).await, b"");
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
    assert_eq!(got.media_type, "application/vnd.oci.image.manifest.v1+json");

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

#[tokio::test]
async fn an_unlinked_blob_is_gone_even_after_cached_reads() {
    let f = fixture().await;
    let a = repo("app");
    let d = sha(b"layer");
    f.reg.upload_blob(&a, &d, body(&[b"layer"])).await.unwrap();
    // Both reads go through (and fill) the cache.
    assert_eq!(f.reg.stat_blob(&a, &d).await.unwrap().size, 5);
    assert_eq!(read_all(&f.reg, &a, &d).await, b"layer");
    f.reg.delete_blob(&a, &d).await.unwrap();
    assert!(matches!(
        f.reg.stat_blob(&a, &d).await,
        Err(Error::BlobUnknown(_))
    ));
    assert!(matches!(
        f.reg.read_blob(&a, &d).await,
        Err(Error::BlobUnknown(_))
    ));
    // Pushed again, it is readable again.
    f.reg.upload_blob(&a, &d, body(&[b"layer"])).await.unwrap();
    assert_eq!(read_all(&f.reg, &a, &d).await, b"layer");
}

#[tokio::test]
async fn listings_paginate() {
    let f = fixture().await;
    let a = repo("app");
    let cfg = sha(b"cfg");
    f.reg.upload_blob(&a, &cfg, body(&[b"cfg"])).await.unwrap();
    let m = image_manifest(&cfg, &[]);
    for t in ["b", "a", "c", "d"] {
        f.reg
            .put_manifest(&a, &tag(t), None, m.clone())
            .await
            .unwrap();
    }
    let p = f.reg.list_tags(&a, None, 3).await.unwrap();
    assert_eq!(
        (p.items.as_slice(), p.more),
        (&["a".to_string(), "b".into(), "c".into()][..], true)
    );
    let p = f.reg.list_tags(&a, Some("c"), 3).await.unwrap();
    assert_eq!((p.items, p.more), (vec!["d".to_string()], false));
    f.reg.start_upload(&repo("zz/top")).await.unwrap();
    let p = f.reg.catalog(&a.registry, None, 1).await.unwrap();
    assert_eq!((p.items, p.more), (vec!["app".to_string()], true));
    assert!(matches!(
        f.reg.list_tags(&repo("nope"), None, 3).await,
        Err(Error::NameUnknown(_))
    ));
}

#[tokio::test]
async fn mounts_need_the_blob_in_the_source() {
    let f = fixture().await;
    let (a, b) = (repo("a"), repo("b"));
    let d = sha(b"shared");
    assert_eq!(f.reg.mount_blob(&b, &a.name, &d).await.unwrap(), None);
    f.reg.upload_blob(&a, &d, body(&[b"shared"])).await.unwrap();
    assert_eq!(
        f.reg
            .mount_blob(&b, &a.name, &d)
            .await
            .unwrap()
            .unwrap()
            .size,
        6
    );
    assert_eq!(read_all(&f.reg, &b, &d).await, b"shared");
}

#[tokio::test]
async fn stale_uploads_expire_and_orphans_are_swept() {
    let f = fixture().await;
    let a = repo("a");
    let old = f.reg.start_upload(&a).await.unwrap();
    f.reg
        .append_upload(&a, &old.id, None, body(&[b"abc"]))
        .await
        .unwrap();
    f.clock.0.fetch_add(23 * 3600 * 1000, Ordering::SeqCst);
    let fresh = f.reg.start_upload(&a).await.unwrap();
    assert_eq!(f.reg.expire_uploads().await.unwrap(), 0);
    f.clock.0.fetch_add(2 * 3600 * 1000, Ordering::SeqCst);
    assert_eq!(f.reg.expire_uploads().await.unwrap(), 1);
    assert!(matches!(
        f.reg.upload_status(&a, &old.id).await,
        Err(Error::BlobUploadUnknown(_))
    ));
    assert!(f.reg.upload_status(&a, &fresh.id).await.is_ok());

    std::fs::write(
        f.root
            .join("blobs/uploads/0badf00d-0000-4000-8000-000000000000"),
        b"orphan",
    )
    .unwrap();
    assert_eq!(f.reg.sweep_orphan_uploads().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_of_one_blob_store_it_once() {
    let f = Arc::new(fixture().await);
    let data = vec![7u8; 3 * 1024 * 1024];
    let d = sha(&data);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (f, data, d) = (f.clone(), data.clone(), d.clone());
        tasks.push(tokio::spawn(async move {
            let r = repo(&format!("r{}", i % 4));
            let chunks: Vec<&[u8]> = data.chunks(64 * 1024).collect();
            f.reg.upload_blob(&r, &d, body(&chunks)).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for i in 0..4 {
        assert_eq!(read_all(&f.reg, &repo(&format!("r{i}")), &d).await, data);
    }
    assert_eq!(f.reg.counts().await.unwrap().blobs, 1);
    let shard = f.root.join("blobs/blobs/sha256").join(&d.hex()[..2]);
    assert_eq!(
        std::fs::read_dir(shard).unwrap().count(),
        1,
        "one copy on disk"
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
