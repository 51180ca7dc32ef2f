//! Domain tests on real stores in a temporary directory, with a clock the
//! test controls.

use crate::*;
use berth_oci::{Algorithm, Digest, Reference};
use berth_store::{FsBlobStore, SqliteMetadataStore};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicI64, Ordering};

pub(crate) struct TestClock(pub(crate) AtomicI64);
impl Clock for TestClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) root: std::path::PathBuf,
    pub(crate) clock: Arc<TestClock>,
    pub(crate) reg: Registry,
}

pub(crate) async fn registry_at(root: &std::path::Path, clock: Arc<TestClock>) -> Registry {
    let blobs = Arc::new(FsBlobStore::open(root.join("blobs")).await.unwrap());
    let meta = Arc::new(
        SqliteMetadataStore::open(&root.join("meta.db"))
            .await
            .unwrap(),
    );
    let archive = Arc::new(FsBlobStore::open(root.join("archive")).await.unwrap());
    // Domain tests push to many names; creation is tested on its own.
    Registry::new(
        blobs,
        meta,
        clock,
        RegistryConfig {
            create_on_push: true,
            ..RegistryConfig::default()
        },
    )
    .with_archive_store(archive)
}

pub(crate) async fn fixture() -> Fixture {
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

pub(crate) fn repo(name: &str) -> Repo {
    Repo {
        registry: berth_store::RegistryKey {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
        },
        name: berth_oci::RepositoryName::parse(name).unwrap(),
    }
}

pub(crate) fn body(parts: &[&[u8]]) -> ByteStream {
    let owned: Vec<std::io::Result<Bytes>> = parts
        .iter()
        .map(|p| Ok(Bytes::copy_from_slice(p)))
        .collect();
    futures_util::stream::iter(owned).boxed()
}

/// The digest of `b`, noting its size for the manifests the tests build
/// (a descriptor must declare the size of the content it names).
pub(crate) fn sha(b: &[u8]) -> Digest {
    let d = Digest::of_bytes(Algorithm::Sha256, b);
    sizes().lock().insert(d.clone(), b.len() as u64);
    d
}

fn sizes() -> &'static parking_lot::Mutex<std::collections::HashMap<Digest, u64>> {
    static SIZES: std::sync::OnceLock<parking_lot::Mutex<std::collections::HashMap<Digest, u64>>> =
        std::sync::OnceLock::new();
    SIZES.get_or_init(Default::default)
}

/// The size of content whose digest `sha` (or a manifest builder here)
/// made; 1 for digests of content never made.
pub(crate) fn size_of(d: &Digest) -> u64 {
    sizes().lock().get(d).copied().unwrap_or(1)
}

pub(crate) async fn read_all(reg: &Registry, r: &Repo, d: &Digest) -> Vec<u8> {
    let mut read = reg.read_blob(r, d, None).await.unwrap();
    let mut out = Vec::new();
    while let Some(c) = read.stream.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    assert_eq!(read.size as usize, out.len());
    out
}

pub(crate) fn image_manifest(config: &Digest, layers: &[&Digest]) -> Bytes {
    let layers: Vec<String> = layers
        .iter()
        .map(|d| format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{d}","size":{}}}"#, size_of(d)))
        .collect();
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{}}},"layers":[{}]}}"#,
        size_of(config),
        layers.join(",")
    );
    sha(body.as_bytes());
    Bytes::from(body)
}

pub(crate) fn tag(t: &str) -> Reference {
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

    let up = f.reg.start_upload(&a, None).await.unwrap();
    f.reg
        .append_upload(&a, &up.id, None, body(&[b"actual"]))
        .await
        .unwrap();
    let err = f
        .reg
        .complete_upload(&a, &up.id, &wrong, None, None)
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
    let up = f.reg.start_upload(&a, None).await.unwrap();
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
    reg.complete_upload(&a, &up.id, &d, None, Some(body(&[b"!"])))
        .await
        .unwrap();
    assert_eq!(read_all(&reg, &a, &d).await, b"hello world!");
}

/// `Content-Range: 0-18446744073709551615` claims 2^64 bytes, which `end -
/// start + 1` wraps to 0: with an empty body it was accepted (issue 17).
/// Such a claim, and a claim whose bytes never came, are refused.
#[tokio::test]
async fn ranges_that_overflow_or_bring_no_bytes_are_refused() {
    let f = fixture().await;
    let a = repo("a");
    let all = ChunkRange {
        start: 0,
        end: u64::MAX,
    };
    assert_eq!(all.claimed_len(), None);
    assert_eq!(
        ChunkRange {
            start: 1,
            end: u64::MAX
        }
        .claimed_len(),
        Some(u64::MAX)
    );
    assert_eq!(ChunkRange { start: 5, end: 4 }.claimed_len(), None);
    let empty = sha(b"");
    let up = f.reg.start_upload(&a, None).await.unwrap();
    let err = f
        .reg
        .append_upload(&a, &up.id, Some(all), body(&[]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RangeNotSatisfiable { size: 0 }),
        "{err}"
    );
    let err = f
        .reg
        .complete_upload(&a, &up.id, &empty, Some(all), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RangeNotSatisfiable { size: 0 }),
        "{err}"
    );
    let err = f
        .reg
        .complete_upload(&a, &up.id, &empty, Some(all), Some(body(&[])))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RangeNotSatisfiable { size: 0 }),
        "{err}"
    );
    // A closing PUT that claims bytes but sends none.
    let err = f
        .reg
        .complete_upload(
            &a,
            &up.id,
            &empty,
            Some(ChunkRange { start: 0, end: 9 }),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::BlobUploadInvalid(ref m) if m.contains("claims 10 bytes")),
        "{err}"
    );
    assert!(matches!(
        f.reg.stat_blob(&a, &empty).await,
        Err(Error::BlobUnknown(_))
    ));
    // The session is still usable.
    f.reg
        .complete_upload(&a, &up.id, &empty, None, None)
        .await
        .unwrap();
}

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

/// BatchCheckLayerAvailability's `mediaType`: the descriptor's type in a
/// manifest of the repository; none while no manifest uses the blob.
#[tokio::test]
async fn a_blobs_media_type_is_its_descriptors() {
    let f = fixture().await;
    let (a, b) = (repo("app"), repo("other"));
    let (cfg, l1, loose) = (sha(b"cfg"), sha(b"l1"), sha(b"loose"));
    for (d, bytes) in [(&cfg, &b"cfg"[..]), (&l1, b"l1"), (&loose, b"loose")] {
        f.reg.upload_blob(&a, d, body(&[bytes])).await.unwrap();
        f.reg.upload_blob(&b, d, body(&[bytes])).await.unwrap();
    }
    f.reg
        .put_manifest(&a, &tag("v1"), None, image_manifest(&cfg, &[&l1]))
        .await
        .unwrap();
    let got = f
        .reg
        .blob_media_types(&a, &[l1.clone(), cfg.clone(), loose.clone()])
        .await
        .unwrap();
    assert_eq!(
        got,
        [
            Some("application/vnd.oci.image.layer.v1.tar+gzip".to_string()),
            Some("application/vnd.oci.image.config.v1+json".to_string()),
            None
        ]
    );
    assert_eq!(
        f.reg
            .blob_media_types(&b, std::slice::from_ref(&l1))
            .await
            .unwrap(),
        [None],
        "another repository's manifests say nothing"
    );
}

/// Open upload sessions are capped per repository and per principal
/// (issue 17: 5,000 were accepted from one user).
#[tokio::test]
async fn open_upload_sessions_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let reg = Registry::new(
        Arc::new(FsBlobStore::open(root.join("blobs")).await.unwrap()),
        Arc::new(
            SqliteMetadataStore::open(&root.join("meta.db"))
                .await
                .unwrap(),
        ),
        Arc::new(TestClock(AtomicI64::new(1_000_000))),
        RegistryConfig {
            create_on_push: true,
            upload_sessions: berth_store::UploadLimits {
                per_repository: 2,
                per_principal: 3,
            },
            ..RegistryConfig::default()
        },
    );
    let alice = Principal::user("000000000000", "alice");
    let (a, b) = (repo("a"), repo("b"));
    let first = reg.start_upload(&a, Some(&alice)).await.unwrap();
    reg.start_upload(&a, None).await.unwrap();
    let err = reg.start_upload(&a, Some(&alice)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooManyUploads {
                by_principal: false,
                open: 2,
                expiry_hours: 24,
                ..
            }
        ),
        "{err:?}"
    );
    reg.start_upload(&b, Some(&alice)).await.unwrap();
    reg.start_upload(&repo("c"), Some(&alice)).await.unwrap();
    let err = reg
        .start_upload(&repo("c"), Some(&alice))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooManyUploads {
                by_principal: true,
                open: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("you have 3 upload sessions open"),
        "{err}"
    );
    // Completing a session closes it: room in a, and for alice.
    reg.complete_upload(&a, &first.id, &sha(b""), None, None)
        .await
        .unwrap();
    reg.start_upload(&a, Some(&alice)).await.unwrap();
    assert!(reg.start_upload(&b, Some(&alice)).await.is_err());
}

#[tokio::test]
async fn empty_blobs_upload_both_ways() {
    let f = fixture().await;
    let a = repo("a");
    let empty = sha(b"");
    let up = f.reg.start_upload(&a, None).await.unwrap();
    f.reg
        .complete_upload(&a, &up.id, &empty, None, None)
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
        f.reg.read_blob(&a, &d, None).await,
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
    f.reg.start_upload(&repo("zz/top"), None).await.unwrap();
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
    let old = f.reg.start_upload(&a, None).await.unwrap();
    f.reg
        .append_upload(&a, &old.id, None, body(&[b"abc"]))
        .await
        .unwrap();
    f.clock.0.fetch_add(23 * 3600 * 1000, Ordering::SeqCst);
    let fresh = f.reg.start_upload(&a, None).await.unwrap();
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

fn sha512(b: &[u8]) -> Digest {
    Digest::of_bytes(Algorithm::Sha512, b)
}

#[tokio::test]
async fn sha512_blobs_upload_monolithic_and_chunked() {
    let f = fixture().await;
    let a = repo("a");
    let d = sha512(b"five hundred twelve");
    f.reg
        .upload_blob(&a, &d, body(&[b"five hundred ", b"twelve"]))
        .await
        .unwrap();
    assert_eq!(read_all(&f.reg, &a, &d).await, b"five hundred twelve");
    // A session learns the algorithm only at the end.
    let up = f.reg.start_upload(&a, None).await.unwrap();
    f.reg
        .append_upload(&a, &up.id, None, body(&[b"chunk one "]))
        .await
        .unwrap();
    let d2 = sha512(b"chunk one chunk two");
    f.reg
        .complete_upload(&a, &up.id, &d2, None, Some(body(&[b"chunk two"])))
        .await
        .unwrap();
    assert_eq!(read_all(&f.reg, &a, &d2).await, b"chunk one chunk two");
    // The same bytes under the other algorithm are a different blob.
    b_is_unknown(&f.reg, &a, &sha(b"chunk one chunk two")).await;
    // A wrong sha512 stores nothing.
    let up = f.reg.start_upload(&a, None).await.unwrap();
    let err = f
        .reg
        .complete_upload(&a, &up.id, &sha512(b"other"), None, Some(body(&[b"bytes"])))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestInvalid(_)));
}

#[tokio::test]
async fn byte_ranges_resolve_as_rfc_9110_says_and_read_exactly() {
    assert_eq!(ByteRange::Bounded(0, 9).resolve(5), Some((0, 4)));
    assert_eq!(ByteRange::Bounded(5, 9).resolve(5), None);
    assert_eq!(ByteRange::Bounded(3, 2).resolve(5), None);
    assert_eq!(ByteRange::From(4).resolve(5), Some((4, 4)));
    assert_eq!(ByteRange::From(5).resolve(5), None);
    assert_eq!(ByteRange::Suffix(2).resolve(5), Some((3, 4)));
    assert_eq!(ByteRange::Suffix(50).resolve(5), Some((0, 4)));
    assert_eq!(ByteRange::Suffix(1).resolve(0), None);

    let f = fixture().await;
    let a = repo("a");
    let d = sha(b"0123456789");
    f.reg
        .upload_blob(&a, &d, body(&[b"0123456789"]))
        .await
        .unwrap();
    let mut r = f
        .reg
        .read_blob(&a, &d, Some(ByteRange::Bounded(2, 5)))
        .await
        .unwrap();
    assert_eq!((r.size, r.range), (10, Some((2, 5))));
    let mut got = Vec::new();
    while let Some(c) = r.stream.next().await {
        got.extend_from_slice(&c.unwrap());
    }
    assert_eq!(got, b"2345");
    assert!(matches!(
        f.reg.read_blob(&a, &d, Some(ByteRange::From(10))).await,
        Err(Error::BlobRangeNotSatisfiable { size: 10 })
    ));
}

/// Pushes a one-layer image (config and layer derived from `seed`) under `tag`.
pub(crate) async fn push_image(
    reg: &Registry,
    r: &Repo,
    seed: &str,
    tag_name: Option<&str>,
) -> (Digest, Vec<Digest>) {
    let config = format!("config {seed}");
    let layer = format!("layer {seed}");
    let (c, l) = (sha(config.as_bytes()), sha(layer.as_bytes()));
    reg.upload_blob(r, &c, body(&[config.as_bytes()]))
        .await
        .unwrap();
    reg.upload_blob(r, &l, body(&[layer.as_bytes()]))
        .await
        .unwrap();
    let m = image_manifest(&c, &[&l]);
    let reference = match tag_name {
        Some(t) => tag(t),
        None => Reference::Digest(sha(&m)),
    };
    let put = reg.put_manifest(r, &reference, None, m).await.unwrap();
    (put.digest, vec![c, l])
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

#[tokio::test]
async fn referrers_list_manifests_with_a_subject_and_filter_by_artifact_type() {
    let f = fixture().await;
    let a = repo("a");
    let (subject, _) = push_image(&f.reg, &a, "app", Some("v1")).await;
    let empty = sha(b"{}");
    f.reg.upload_blob(&a, &empty, body(&[b"{}"])).await.unwrap();
    let mut pushed = Vec::new();
    for (kind, note) in [
        ("application/vnd.example.sig", "s"),
        ("application/vnd.example.sbom", "b"),
    ] {
        let m = Bytes::from(format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"{kind}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{subject}","size":1}},"annotations":{{"note":"{note}"}}}}"#
        ));
        let d = sha(&m);
        let put = f
            .reg
            .put_manifest(&a, &Reference::Digest(d.clone()), None, m)
            .await
            .unwrap();
        assert_eq!(put.subject.as_ref(), Some(&subject));
        pushed.push(d);
    }
    let all = f.reg.referrers(&a, &subject, None).await.unwrap();
    assert_eq!(all.len(), 2);
    let sboms = f
        .reg
        .referrers(&a, &subject, Some("application/vnd.example.sbom"))
        .await
        .unwrap();
    assert_eq!(sboms.len(), 1);
    assert_eq!(sboms[0].digest, pushed[1]);
    assert_eq!(sboms[0].annotations.as_deref(), Some(r#"{"note":"b"}"#));
    // Another repository, or an unknown one, has none.
    assert!(f
        .reg
        .referrers(&repo("b"), &subject, None)
        .await
        .unwrap()
        .is_empty());
    // A subject need not exist.
    assert!(f
        .reg
        .referrers(&a, &sha(b"nothing"), None)
        .await
        .unwrap()
        .is_empty());
}

pub(crate) fn gc_now(grace_secs: u64) -> GcOptions {
    GcOptions {
        dry_run: false,
        grace: std::time::Duration::from_secs(grace_secs),
    }
}

pub(crate) async fn gc(reg: &Arc<Registry>, options: GcOptions) -> GcSnapshot {
    let run = reg.start_gc(options).ok().expect("no run in progress");
    while !run.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let s = run.snapshot();
    assert_eq!(s.error, None);
    s
}

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

#[tokio::test]
async fn pulls_are_recorded_to_the_second_and_reach_the_store_on_flush() {
    let f = fixture().await;
    let a = repo("a");
    let (m, _) = push_image(&f.reg, &a, "pulled", Some("v1")).await;
    let (other, _) = push_image(&f.reg, &a, "never", Some("v2")).await;
    async fn pulled_at(reg: &Registry, a: &Repo, d: Digest) -> Option<i64> {
        reg.image_details(a, &[d]).await.unwrap()[0]
            .record
            .last_pulled_at
    }
    assert_eq!(pulled_at(&f.reg, &a, m.clone()).await, None);

    let read = f.reg.get_manifest(&a, &tag("v1"), &[]).await.unwrap();
    f.reg.record_pull(&read);
    let first = f.clock.0.load(Ordering::SeqCst);
    assert_eq!(
        pulled_at(&f.reg, &a, m.clone()).await,
        Some(first),
        "pending pulls show at once"
    );
    // Later in the same second: not logged again; in the next second: logged.
    f.clock.0.fetch_add(400, Ordering::SeqCst);
    f.reg.record_pull(&read);
    assert_eq!(pulled_at(&f.reg, &a, m.clone()).await, Some(first));
    f.clock.0.fetch_add(1000, Ordering::SeqCst);
    f.reg.record_pull(&read);
    let second = f.clock.0.load(Ordering::SeqCst);
    assert_eq!(pulled_at(&f.reg, &a, m.clone()).await, Some(second));

    assert_eq!(f.reg.flush_pulls().await.unwrap(), 1);
    assert_eq!(f.reg.flush_pulls().await.unwrap(), 0);
    assert_eq!(
        pulled_at(&f.reg, &a, m.clone()).await,
        Some(second),
        "stored"
    );
    assert_eq!(
        pulled_at(&f.reg, &a, other).await,
        None,
        "a HEAD or no read is no pull"
    );
}

#[tokio::test]
async fn tokens_speak_only_while_their_key_is_active() {
    let f = fixture().await;
    let key = f
        .reg
        .identity()
        .bootstrap_admin("000000000000", None)
        .await
        .unwrap()
        .expect("a generated key");
    let admin = Principal::user("000000000000", ADMIN_USER);
    let (token, _) = f.reg.identity().issue_token(&admin, &key.id);
    assert_eq!(f.reg.identity().verify_token(&token).await.unwrap(), admin);
    // A key that is not the user's, or does not exist, speaks for nobody.
    let ghost = Principal::user("000000000000", "ghost");
    for (who, key_id) in [(&ghost, key.id.as_str()), (&admin, "AKIANOSUCHKEY0000000")] {
        let (token, _) = f.reg.identity().issue_token(who, key_id);
        assert!(matches!(
            f.reg.identity().verify_token(&token).await,
            Err(crate::TokenRefusal::Token(
                berth_iam::token::TokenError::Invalid
            ))
        ));
    }
    let (token, _) = f.reg.identity().issue_token(&ghost, "AKIANOSUCHKEY0000000");
    assert!(matches!(
        f.reg.identity().verify_token(&token).await,
        Err(crate::TokenRefusal::Token(
            berth_iam::token::TokenError::Invalid
        ))
    ));
}

/// A token whose key cannot be checked (the store fails) is refused, never
/// waved through: a deleted user's token must not work while the store is
/// down.
#[tokio::test]
async fn tokens_are_refused_when_their_key_cannot_be_checked() {
    let f = fixture().await;
    let key = f
        .reg
        .identity()
        .bootstrap_admin("000000000000", None)
        .await
        .unwrap()
        .expect("a generated key");
    let admin = Principal::user("000000000000", ADMIN_USER);
    let (token, _) = f.reg.identity().issue_token(&admin, &key.id);
    f.reg.close().await;
    assert!(matches!(
        f.reg.identity().verify_token(&token).await,
        Err(crate::TokenRefusal::Unavailable(_))
    ));
}

/// Keys and tokens speak for the user with its IAM path, which is part of
/// the ARN that policies and denials name.
#[tokio::test]
async fn principals_carry_their_users_path() {
    let f = fixture().await;
    f.reg
        .identity()
        .bootstrap_admin("000000000000", None)
        .await
        .unwrap();
    let admin = crate::Caller {
        principal: Principal::user("000000000000", ADMIN_USER),
        facts: Default::default(),
    };
    f.reg
        .identity()
        .iam_create_user(&admin, "ops", Some("/team/"))
        .await
        .unwrap();
    let (info, key) = f
        .reg
        .identity()
        .iam_create_access_key(&admin, Some("ops"))
        .await
        .unwrap();
    let (p, _) = f
        .reg
        .identity()
        .access_key(&info.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p, Principal::user_at("000000000000", "/team/", "ops"));
    assert_eq!(p.arn(), "arn:aws:iam::000000000000:user/team/ops");
    let (token, _) = f.reg.identity().issue_token(&p, &key.id);
    for _ in 0..2 {
        // Once from the store, once from the cache.
        assert_eq!(f.reg.identity().verify_token(&token).await.unwrap(), p);
    }
}

/// "Expire untagged images older than 30 days" with the registry's clock
/// moved instead of the images' push times: the preview, then the run,
/// on the real store.
#[tokio::test]
async fn lifecycle_expires_untagged_images_older_than_30_days() {
    const DAY: i64 = 86_400_000;
    let f = fixture().await;
    let r = repo("team/app");
    let t0 = f.clock.now_millis();
    let old_untagged = push_image(&f.reg, &r, "old-untagged", None).await.0;
    let old_tagged = push_image(&f.reg, &r, "old-tagged", Some("v1")).await.0;
    f.clock.0.store(t0 + 20 * DAY, Ordering::SeqCst);
    let young_untagged = push_image(&f.reg, &r, "young-untagged", None).await.0;
    f.clock.0.store(t0 + 31 * DAY, Ordering::SeqCst);
    let key = &r.registry;
    let name = r.name.as_str();

    // Refusals first.
    let err = f.reg.lifecycle_policy(key, name).await.unwrap_err();
    assert!(matches!(err, Error::LifecyclePolicyNotFound(_)), "{err}");
    let err = f.reg.lifecycle_preview(&r).await.unwrap_err();
    assert!(matches!(err, Error::LifecyclePreviewNotFound(_)), "{err}");
    let err = f.reg.start_lifecycle_preview(&r, None).await.unwrap_err();
    assert!(matches!(err, Error::LifecyclePolicyNotFound(_)), "{err}");
    let bad = r#"{"rules":[{"rulePriority":1,"description":"expire untagged images older than thirty days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countNumber":30},"action":{"type":"expire"}}]}"#;
    let err = f
        .reg
        .put_lifecycle_policy(key, name, bad)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter(m) if m.contains("rulePriority 1: 'selection.countUnit' is required")),
        "{err}"
    );
    let err = f
        .reg
        .put_lifecycle_policy(
            key,
            "team/none",
            &bad.replace("\"countNumber\"", "\"countUnit\":\"days\",\"countNumber\""),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NameUnknown(_)), "{err}");

    let policy = bad.replace("\"countNumber\"", "\"countUnit\":\"days\",\"countNumber\"");
    f.reg
        .put_lifecycle_policy(key, name, &policy)
        .await
        .unwrap();
    let stored = f.reg.lifecycle_policy(key, name).await.unwrap();
    assert_eq!(
        (stored.text.as_str(), stored.last_evaluated_at),
        (policy.as_str(), None)
    );

    // The preview names exactly the old untagged image.
    assert_eq!(
        f.reg.start_lifecycle_preview(&r, None).await.unwrap(),
        policy
    );
    let preview = f.reg.lifecycle_preview(&r).await.unwrap();
    assert_eq!(preview.status, PreviewStatus::Complete);
    assert_eq!(preview.results.len(), 1);
    assert_eq!(preview.results[0].digest, old_untagged);
    assert_eq!(preview.results[0].rule_priority, 1);
    assert_eq!(preview.results[0].pushed_at, t0);

    // The run expires what the preview showed, and nothing else.
    let run = f.reg.run_lifecycle().await.unwrap();
    assert_eq!(
        (run.repositories, run.expired, run.skipped_changed),
        (1, 1, 0)
    );
    let gone = f
        .reg
        .get_manifest(&r, &Reference::Digest(old_untagged), &[])
        .await
        .unwrap_err();
    assert!(matches!(gone, Error::ManifestUnknown(_)), "{gone}");
    for kept in [&old_tagged, &young_untagged] {
        f.reg
            .get_manifest(&r, &Reference::Digest(kept.clone()), &[])
            .await
            .unwrap();
    }
    assert_eq!(
        f.reg
            .lifecycle_policy(key, name)
            .await
            .unwrap()
            .last_evaluated_at,
        Some(t0 + 31 * DAY)
    );
    // Nothing more to do on the next run.
    assert_eq!(f.reg.run_lifecycle().await.unwrap().expired, 0);

    // A preview of another text does not change the stored policy; the
    // deleted policy comes back with its evaluation time.
    let keep_one = r#"{"rules":[{"rulePriority":1,"description":"keep only the newest image of this repository","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;
    f.reg
        .start_lifecycle_preview(&r, Some(keep_one))
        .await
        .unwrap();
    let preview = f.reg.lifecycle_preview(&r).await.unwrap();
    assert_eq!(preview.policy_text, keep_one);
    assert_eq!(preview.results.len(), 1);
    assert_eq!(preview.results[0].digest, old_tagged);
    assert_eq!(preview.results[0].tags, ["v1"]);
    let removed = f.reg.delete_lifecycle_policy(key, name).await.unwrap();
    assert_eq!(removed.text, policy);
    assert_eq!(removed.last_evaluated_at, Some(t0 + 31 * DAY));
    assert_eq!(f.reg.run_lifecycle().await.unwrap().repositories, 0);
}

/// Scanning at the registry level: an index scanned per platform, each
/// child with its own record; a layer's inventory cached (a scan after the
/// layer's file is gone still reads it from the cache); a scan a stopped
/// registry left IN_PROGRESS resumed by the next.
mod scanning_tests {
    use super::*;

    const RECORD: &[u8] =
        include_bytes!("../../scan/tests/fixtures/synthetic/BERTH-SYNTHETIC-0001.json");

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
        let f: Vec<StoredFinding> =
            serde_json::from_str(scan.findings.as_deref().unwrap()).unwrap();
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scan_left_in_progress_runs_again_after_a_restart() {
        let f = fixture().await;
        let r = repo("scan/resume");
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
        // A registry stopped during a scan leaves it IN_PROGRESS.
        let id = f
            .reg
            .meta
            .find_repository(&r.registry, "scan/resume")
            .await
            .unwrap()
            .unwrap();
        f.reg
            .meta
            .start_image_scan(id, &d, "BASIC", 5)
            .await
            .unwrap();
        let reg = registry_at(&f.root, f.clock.clone()).await;
        assert_eq!(reg.resume_scans().await.unwrap(), 1);
        wait_idle(&reg).await;
        let scan = reg.image_scan(&r, &d).await.unwrap().unwrap();
        // Debian without packages: COMPLETE with no findings.
        assert_eq!(scan.status, "COMPLETE", "{scan:?}");
        assert!(ids(&scan).is_empty());
    }
}

fn caller_with(principal: Principal, facts: crate::RequestFacts) -> crate::Caller {
    crate::Caller { principal, facts }
}

/// The outside review's takeover: `dev` may create keys and put policies
/// on every user but those under `/team/`; `ops` lives at `/team/`, so
/// every IAM action on it is refused, and the denial names its real ARN.
#[tokio::test]
async fn iam_denies_on_a_path_bind_the_users_under_it() {
    let f = fixture().await;
    f.reg
        .identity()
        .bootstrap_admin("000000000000", None)
        .await
        .unwrap();
    let admin = caller_with(
        Principal::user("000000000000", ADMIN_USER),
        Default::default(),
    );
    f.reg
        .identity()
        .iam_create_user(&admin, "dev", None)
        .await
        .unwrap();
    f.reg
        .identity()
        .iam_create_user(&admin, "ops", Some("/team/"))
        .await
        .unwrap();
    f.reg
        .identity()
        .put_user_policy(
            &admin,
            "dev",
            "iam-but-not-team",
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["iam:CreateAccessKey", "iam:PutUserPolicy", "iam:ListAccessKeys"], "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:*", "Resource": "arn:aws:iam::000000000000:user/team/*"}]}"#,
        )
        .await
        .unwrap();
    let dev = caller_with(Principal::user("000000000000", "dev"), Default::default());
    let err = f
        .reg
        .identity()
        .iam_create_access_key(&dev, Some("ops"))
        .await
        .unwrap_err();
    let Error::AccessDenied(message) = err else {
        panic!("{err:?}")
    };
    assert!(
        message
            .contains("on resource: arn:aws:iam::000000000000:user/team/ops with an explicit deny"),
        "{message}"
    );
    assert!(matches!(
        f.reg
            .identity()
            .put_user_policy(&dev, "ops", "mine", r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#)
            .await,
        Err(Error::AccessDenied(_))
    ));
    assert!(matches!(
        f.reg
            .identity()
            .iam_list_access_keys(&dev, Some("ops"))
            .await,
        Err(Error::AccessDenied(_))
    ));
    // Outside the path, the Allow stands.
    f.reg
        .identity()
        .iam_create_user(&admin, "web", None)
        .await
        .unwrap();
    f.reg
        .identity()
        .iam_create_access_key(&dev, Some("web"))
        .await
        .unwrap();
}

/// IAM and the admin API evaluate with the request's facts: a Deny
/// conditioned on the source address stops them as it stops ECR calls.
#[tokio::test]
async fn iam_and_admin_calls_see_the_requests_facts() {
    let f = fixture().await;
    f.reg
        .identity()
        .bootstrap_admin("000000000000", None)
        .await
        .unwrap();
    let admin = caller_with(
        Principal::user("000000000000", ADMIN_USER),
        Default::default(),
    );
    f.reg
        .identity()
        .put_user_policy(
            &admin,
            ADMIN_USER,
            "office-only",
            r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}}"#,
        )
        .await
        .unwrap();
    let at = |ip: &str| {
        caller_with(
            Principal::user("000000000000", ADMIN_USER),
            crate::RequestFacts {
                source_ip: Some(ip.parse().unwrap()),
                ..Default::default()
            },
        )
    };
    let (office, home) = (at("10.1.2.3"), at("192.0.2.7"));
    f.reg.identity().iam_get_user(&office, None).await.unwrap();
    assert!(matches!(
        f.reg.identity().iam_get_user(&home, None).await,
        Err(Error::AccessDenied(_))
    ));
    assert!(matches!(
        f.reg.identity().iam_list_access_keys(&home, None).await,
        Err(Error::AccessDenied(_))
    ));
    f.reg.identity().list_accounts(&office).await.unwrap();
    let Err(Error::AccessDenied(message)) = f.reg.identity().list_accounts(&home).await else {
        panic!("the admin API ignored the Deny")
    };
    assert!(message.contains("berth:ManageAccounts"), "{message}");
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
