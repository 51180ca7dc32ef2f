//! Uploads on real stores: monolithic and chunked, ranges, digest
//! mismatches, session caps, mounts, concurrent pushes, sha512.

use crate::test_fixture::*;
use crate::*;
use berth_oci::{Algorithm, Digest};
use berth_store::{FsBlobStore, SqliteMetadataStore};
use std::sync::atomic::AtomicI64;

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

    // A new process on the same data dir finishes the upload (the hash state is in the session row).
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

/// The hash state travels in the session row: the next request, on a new
/// process or another node, continues it instead of re-reading the bytes;
/// without a usable state it re-reads them. The stored bytes are changed
/// behind berth's back to tell the two apart.
#[tokio::test]
async fn a_chunked_upload_continues_the_hash_state_its_row_carries() {
    let f = fixture().await;
    let a = repo("a");
    let overwrite =
        |id: &str| std::fs::write(f.root.join("blobs/uploads").join(id), b"HELLO").unwrap();

    let up = f.reg.start_upload(&a, None).await.unwrap();
    f.reg
        .append_upload(&a, &up.id, None, body(&[b"hello"]))
        .await
        .unwrap();
    overwrite(&up.id);
    f.reg.close().await;
    let reg = registry_at(&f.root, f.clock.clone()).await;
    let saved = sha(b"hello world");
    reg.complete_upload(&a, &up.id, &saved, None, Some(body(&[b" world"])))
        .await
        .unwrap();

    // A state that does not parse (or was never written) is rebuilt from the bytes.
    let up = reg.start_upload(&a, None).await.unwrap();
    reg.append_upload(&a, &up.id, None, body(&[b"hello"]))
        .await
        .unwrap();
    assert!(reg
        .meta
        .set_upload_size(&up.id, 5, 5, b"junk", 0)
        .await
        .unwrap());
    overwrite(&up.id);
    let reread = sha(b"HELLO world");
    reg.complete_upload(&a, &up.id, &reread, None, Some(body(&[b" world"])))
        .await
        .unwrap();
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
