//! The filesystem store with keys: what reaches the disk, ranges,
//! damage, resumed uploads and interrupted commits.

use crate::sealed::{Keyring, DEFAULT_SEGMENT};
use crate::{BlobStore, FsBlobStore, StoreError};
use berth_oci::{Algorithm, Digest};
use bytes::Bytes;
use futures_util::StreamExt;
use std::path::Path;
use std::sync::Arc;

/// What the sealed-store tests look for where bytes are kept.
pub(crate) const MARKER: &[u8] = b"BERTH-AT-REST-MARKER-7f3a";
const S: usize = DEFAULT_SEGMENT as usize;

async fn sealed_store() -> (tempfile::TempDir, FsBlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path())
        .await
        .unwrap()
        .sealing(Arc::new(Keyring::from_root(&[5u8; 32])));
    (dir, store)
}

/// Plaintext with the marker in several places, segment boundaries among
/// them (the S3 store's tests use it too).
pub(crate) fn layer(len: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len).map(|i| (i * 131 % 253) as u8).collect();
    for at in [0, S - 10, 2 * S + 7, len - MARKER.len()] {
        if at + MARKER.len() <= len {
            p[at..at + MARKER.len()].copy_from_slice(MARKER);
        }
    }
    p
}

async fn write(store: &FsBlobStore, id: &str, offset: u64, bytes: &[u8]) -> u64 {
    let mut w = store.upload_writer(id, offset).await.unwrap();
    for c in bytes.chunks(100_000) {
        w.write(Bytes::copy_from_slice(c)).await.unwrap();
    }
    w.finish().await.unwrap()
}

async fn read(store: &FsBlobStore, d: &Digest, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let r = store
        .read(d, offset, len)
        .await
        .map_err(|e| match e {
            StoreError::Io(e) => e,
            other => std::io::Error::other(other.to_string()),
        })?
        .expect("the blob exists");
    let mut s = r.stream;
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c?);
    }
    Ok(out)
}

fn files_containing(root: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[tokio::test]
async fn no_plaintext_reaches_the_disk_and_every_range_reads_back() {
    let (dir, store) = sealed_store().await;
    let p = layer(3 * S + 1234);
    let d = Digest::of_bytes(Algorithm::Sha256, &p);
    let id = "5ea1-0001";
    // Three requests ending mid-segment, at a boundary, and mid-segment.
    let cuts = [S / 2 + 3, 2 * S, p.len()];
    let mut at = 0;
    for cut in cuts {
        assert_eq!(write(&store, id, at as u64, &p[at..cut]).await, cut as u64);
        assert_eq!(store.upload_size(id).await.unwrap(), Some(cut as u64));
        assert!(files_containing(dir.path(), MARKER).is_empty());
        at = cut;
    }
    let mut rebuilt = Vec::new();
    let mut r = store.read_upload(id, p.len() as u64).await.unwrap().stream;
    while let Some(c) = r.next().await {
        rebuilt.extend_from_slice(&c.unwrap());
    }
    assert_eq!(rebuilt, p);
    store.commit_upload(id, &d).await.unwrap();
    assert!(files_containing(dir.path(), MARKER).is_empty());
    assert_eq!(store.stat(&d).await.unwrap(), Some(p.len() as u64));
    let n = p.len() as u64;
    let s = S as u64;
    for (offset, len) in [
        (0, n),
        (s - 1, 2),
        (s, s),
        (s - 1, s + 2),
        (16 * s - 1, 1),
        (n - 1, 1),
        (3 * s, n - 3 * s),
        (5, 0),
    ] {
        if offset + len > n {
            continue;
        }
        assert_eq!(
            read(&store, &d, offset, len).await.unwrap(),
            &p[offset as usize..(offset + len) as usize],
            "{offset}+{len}"
        );
    }
    // Past the end: an error, not a short body.
    assert!(read(&store, &d, n - 1, 2).await.is_err());
}

/// Blobs of several windows (16 segments each): the windows mapped on
/// the blocking pool and the ones opened on the request's task stay in
/// step whatever the range, and nothing is served after a damaged window.
#[tokio::test]
async fn reads_across_windows_stay_in_step_and_stop_at_damage() {
    let (_dir, store) = sealed_store().await;
    let w = 16 * S as u64;
    let p = layer(2 * w as usize + 1234);
    let d = Digest::of_bytes(Algorithm::Sha256, &p);
    write(&store, "5ea1-0003", 0, &p).await;
    store.commit_upload("5ea1-0003", &d).await.unwrap();
    let n = p.len() as u64;
    for (offset, len) in [
        (0, n),
        (0, w),
        (0, 2 * w),
        (w - 1, 2),
        (w, w),
        (5, 2 * w - 5),
        (w + 3, n - w - 3),
        (2 * w, n - 2 * w),
        (n - 1, 1),
    ] {
        assert_eq!(
            read(&store, &d, offset, len).await.unwrap(),
            &p[offset as usize..(offset + len) as usize],
            "{offset}+{len}"
        );
    }
    // A flipped bit in the second window (segment 17): the first window is
    // served, the second fails, and the third, sound, is not sent after it.
    let path = store.blob_path(&d);
    let mut bad = std::fs::read(&path).unwrap();
    bad[96 + 17 * (S + 28) + 40] ^= 4;
    std::fs::write(&path, &bad).unwrap();
    let mut s = store.read(&d, 0, n).await.unwrap().unwrap().stream;
    assert_eq!(&s.next().await.unwrap().unwrap()[..], &p[..w as usize]);
    let err = s.next().await.unwrap().unwrap_err();
    assert!(err.to_string().contains("segment 17"), "{err}");
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn a_flipped_bit_fails_the_read_and_is_never_served() {
    let (_dir, store) = sealed_store().await;
    let p = layer(2 * S + 99);
    let d = Digest::of_bytes(Algorithm::Sha256, &p);
    write(&store, "5ea1-0002", 0, &p).await;
    store.commit_upload("5ea1-0002", &d).await.unwrap();
    let path = store.blob_path(&d);
    let clean = std::fs::read(&path).unwrap();
    for at in [
        0usize,
        40,
        96,
        96 + 12 + 5,
        96 + 28 + S + 100,
        clean.len() - 1,
    ] {
        let mut bad = clean.clone();
        bad[at] ^= 0x10;
        std::fs::write(&path, &bad).unwrap();
        let got = read(&store, &d, 0, p.len() as u64).await;
        let err = got.expect_err(&format!("byte {at} flipped went unnoticed"));
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{at}: {err}");
    }
    // A range that does not touch the damaged segment still reads.
    let mut bad = clean.clone();
    bad[96 + 2 * (S + 28) + 5] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    assert_eq!(read(&store, &d, 0, 10).await.unwrap(), &p[..10]);
    let err = read(&store, &d, 2 * S as u64, 10).await.unwrap_err();
    assert!(err.to_string().contains("segment 2"), "{err}");
}

#[tokio::test]
async fn a_tail_torn_by_a_crash_is_recovered_from_its_sidecar() {
    let (_dir, store) = sealed_store().await;
    let p = layer(S + 500);
    let id = "5ea1-0003";
    write(&store, id, 0, &p[..S + 100]).await;
    // The next request re-opens the tail, keeps it in the sidecar, and
    // crashes while rewriting it: the upload file ends in a torn segment.
    let w = store.upload_writer(id, S as u64 + 100).await.unwrap();
    drop(w);
    let path = store.upload_path(id).unwrap();
    let torn = 96 + (S + 28) as u64 + 10;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(torn)
        .unwrap();
    assert_eq!(store.upload_size(id).await.unwrap(), Some(S as u64 + 100));
    assert_eq!(
        write(&store, id, S as u64 + 100, &p[S + 100..]).await,
        p.len() as u64
    );
    let d = Digest::of_bytes(Algorithm::Sha256, &p);
    store.commit_upload(id, &d).await.unwrap();
    assert_eq!(read(&store, &d, 0, p.len() as u64).await.unwrap(), p);
    // The sidecar went with the commit.
    assert!(store.upload_objects().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_interrupted_commit_completes_when_retried_and_plaintext_blobs_still_read() {
    let (dir, store) = sealed_store().await;
    let p = layer(S + 7);
    let d = Digest::of_bytes(Algorithm::Sha256, &p);
    let id = "5ea1-0004";
    write(&store, id, 0, &p).await;
    // The first commit wrote the terminal and the header, then stopped.
    let keys = Keyring::from_root(&[5u8; 32]);
    let path = store.upload_path(id).unwrap();
    super::seal_for_commit(&keys, &path, id, &d.to_string()).unwrap();
    store.commit_upload(id, &d).await.unwrap();
    assert_eq!(read(&store, &d, 0, p.len() as u64).await.unwrap(), p);
    // A blob written before encryption is read as it is.
    let old = b"plaintext from an earlier berth".to_vec();
    let od = Digest::of_bytes(Algorithm::Sha256, &old);
    std::fs::write(store.blob_path(&od), &old).unwrap();
    assert_eq!(store.stat(&od).await.unwrap(), Some(old.len() as u64));
    assert_eq!(read(&store, &od, 0, old.len() as u64).await.unwrap(), old);
    // Another deployment's keys read nothing of it.
    let other = FsBlobStore::open(dir.path())
        .await
        .unwrap()
        .sealing(Arc::new(Keyring::from_root(&[6u8; 32])));
    let Err(StoreError::Io(e)) = other.read(&d, 0, 1).await else {
        panic!("read with another root's keys");
    };
    assert!(e.to_string().contains("does not unwrap"), "{e}");
}
