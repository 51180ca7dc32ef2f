//! `BlobStore`'s suite: uploads, commits, reads and deletes of bytes.

use crate::sealed::Keyring;
use crate::{BlobStore, StoreError};
use berth_oci::{Algorithm, Digest};
use bytes::Bytes;
use futures_util::StreamExt;

async fn collect(mut r: crate::BlobReader) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = r.stream.next().await {
        out.extend_from_slice(&chunk.expect("read chunk"));
    }
    out
}

async fn write_upload(store: &dyn BlobStore, id: &str, offset: u64, parts: &[&[u8]]) -> u64 {
    let mut w = store.upload_writer(id, offset).await.expect("open writer");
    for p in parts {
        w.write(Bytes::copy_from_slice(p)).await.expect("write");
    }
    w.finish().await.expect("finish")
}

pub async fn blob_store_suite(store: &dyn BlobStore) {
    store.ping().await.expect("ping");
    let id = "0b5e7a0c-0000-4000-8000-000000000001";

    // Appends accumulate, and a writer opened at an offset drops what lies beyond it.
    assert_eq!(write_upload(store, id, 0, &[b"hello ", b"wor"]).await, 9);
    assert_eq!(write_upload(store, id, 9, &[b"ld"]).await, 11);
    assert_eq!(write_upload(store, id, 6, &[b"there"]).await, 11);
    assert_eq!(
        collect(store.read_upload(id, 11).await.unwrap()).await,
        b"hello there"
    );

    // Reopening a missing upload at a non-zero offset is an error, not a new file.
    let missing = store
        .upload_writer("0b5e7a0c-0000-4000-8000-00000000dead", 5)
        .await;
    assert!(matches!(missing, Err(StoreError::UploadNotFound(_))));
    // Ids that could escape the uploads area are refused.
    assert!(matches!(
        store.upload_writer("../x", 0).await,
        Err(StoreError::UploadNotFound(_))
    ));

    let digest = Digest::of_bytes(Algorithm::Sha256, b"hello there");
    assert_eq!(store.stat(&digest).await.unwrap(), None);
    store.commit_upload(id, &digest).await.expect("commit");
    assert_eq!(store.stat(&digest).await.unwrap(), Some(11));
    assert!(
        store.read_upload(id, 11).await.is_err(),
        "the upload is gone after commit"
    );

    let r = store
        .read(&digest, 0, 11)
        .await
        .unwrap()
        .expect("blob present");
    assert_eq!(r.len, 11);
    assert_eq!(collect(r).await, b"hello there");
    let r = store.read(&digest, 6, 3).await.unwrap().unwrap();
    assert_eq!(collect(r).await, b"the");

    // Committing identical content again keeps one copy.
    let id2 = "0b5e7a0c-0000-4000-8000-000000000002";
    write_upload(store, id2, 0, &[b"hello there"]).await;
    let listed = store.upload_objects().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, vec![id2], "listed before its commit");
    // Written just now (the store's clock is this machine's, give or take).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (listed[0].1 - now).abs() < 60_000,
        "last written at {} ms, now is {now}",
        listed[0].1
    );
    store
        .commit_upload(id2, &digest)
        .await
        .expect("second commit");
    assert_eq!(store.stat(&digest).await.unwrap(), Some(11));

    // The duplicate's data may be discarded in the background (the
    // contract of `commit_upload`): gone within a few seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !store.upload_objects().await.unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "a committed duplicate's upload is still listed after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // A store that writes blobs directly shows nothing before `finish`,
    // the blob after it (again over the stored copy, and an empty one),
    // and nothing for a writer dropped unfinished; no upload is left.
    let direct = Digest::of_bytes(Algorithm::Sha256, b"in one write");
    let empty = Digest::of_bytes(Algorithm::Sha256, b"");
    for _ in 0..2 {
        let Some(mut w) = store.blob_writer(&direct).await.unwrap() else {
            break;
        };
        w.write(Bytes::from_static(b"in one ")).await.unwrap();
        w.write(Bytes::from_static(b"write")).await.unwrap();
        assert_eq!(w.finish().await.unwrap(), 12);
        assert_eq!(store.stat(&direct).await.unwrap(), Some(12));
        let r = store
            .read(&direct, 0, 12)
            .await
            .unwrap()
            .expect("blob present");
        assert_eq!(collect(r).await, b"in one write");

        let w = store.blob_writer(&empty).await.unwrap().expect("a writer");
        assert_eq!(w.finish().await.unwrap(), 0);
        assert_eq!(store.stat(&empty).await.unwrap(), Some(0));
        store.delete(&empty).await.unwrap();
    }
    let unfinished = Digest::of_bytes(Algorithm::Sha256, b"never finished");
    if let Some(mut w) = store.blob_writer(&unfinished).await.unwrap() {
        // More than any store's part (S3's 8 MiB): parts already sent.
        w.write(Bytes::from(vec![7u8; 9 << 20])).await.unwrap();
        drop(w);
        assert_eq!(store.stat(&unfinished).await.unwrap(), None);
    }
    assert!(store.upload_objects().await.unwrap().is_empty());

    // Abandoned uploads are deleted; deleting twice is fine.
    let id3 = "0b5e7a0c-0000-4000-8000-000000000003";
    write_upload(store, id3, 0, &[b"junk"]).await;
    store.delete_upload(id3).await.unwrap();
    store.delete_upload(id3).await.unwrap();
    assert!(store.read_upload(id3, 4).await.is_err());

    // A writer dropped without finish leaves the upload usable from its old size.
    let id4 = "0b5e7a0c-0000-4000-8000-000000000004";
    write_upload(store, id4, 0, &[b"abc"]).await;
    {
        let mut w = store.upload_writer(id4, 3).await.unwrap();
        w.write(Bytes::from_static(b"zzz")).await.unwrap();
    }
    assert_eq!(write_upload(store, id4, 3, &[b"def"]).await, 6);
    assert_eq!(
        collect(store.read_upload(id4, 6).await.unwrap()).await,
        b"abcdef"
    );

    // Larger than one read chunk, to cover chunked streaming.
    let big: Vec<u8> = (0..(3 * 256 * 1024 + 17))
        .map(|i| (i % 251) as u8)
        .collect();
    let id5 = "0b5e7a0c-0000-4000-8000-000000000005";
    write_upload(store, id5, 0, &[&big[..1000], &big[1000..]]).await;
    let bd = Digest::of_bytes(Algorithm::Sha256, &big);
    store.commit_upload(id5, &bd).await.unwrap();
    assert_eq!(
        collect(store.read(&bd, 0, big.len() as u64).await.unwrap().unwrap()).await,
        big
    );

    store.delete(&digest).await.unwrap();
    assert_eq!(store.stat(&digest).await.unwrap(), None);
    assert!(store.read(&digest, 0, 1).await.unwrap().is_none());
}

/// Sealing plaintext in place (`BlobStore::reseal`): `plain` writes a blob
/// as a store from before encryption did; `sealing` (the same location,
/// with keys) reads it as it is, seals it, and reads the same bytes back,
/// whole and by range; a sealed blob is left as it is.
pub async fn reseal_suite(plain: &dyn BlobStore, sealing: &dyn BlobStore) {
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::of_bytes(Algorithm::Sha256, &bytes);
    let id = "0b5e7a0c-0000-4000-8000-00000000a001";
    write_upload(plain, id, 0, &[&bytes]).await;
    plain.commit_upload(id, &digest).await.expect("commit");
    assert!(sealing.is_plaintext(&digest).await.unwrap());
    let before = sealing
        .read(&digest, 0, bytes.len() as u64)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sealing.reseal(&digest).await.unwrap(),
        Some(bytes.len() as u64)
    );
    assert_eq!(
        collect(before).await,
        bytes,
        "a read begun before the seal ends as it began"
    );
    assert!(!sealing.is_plaintext(&digest).await.unwrap());
    assert_eq!(
        sealing.stat(&digest).await.unwrap(),
        Some(bytes.len() as u64)
    );
    let whole = sealing
        .read(&digest, 0, bytes.len() as u64)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(collect(whole).await, bytes);
    let part = sealing.read(&digest, 65_530, 20).await.unwrap().unwrap();
    assert_eq!(collect(part).await, &bytes[65_530..65_550]);
    assert_eq!(
        sealing.reseal(&digest).await.unwrap(),
        None,
        "sealed already"
    );
    let absent = Digest::of_bytes(Algorithm::Sha256, b"absent");
    assert_eq!(sealing.reseal(&absent).await.unwrap(), None);
    assert_eq!(
        plain.reseal(&digest).await.unwrap(),
        None,
        "a store without keys"
    );
}

/// A root rotation's re-wrap (`BlobStore::rewrap`, `rewrap_uploads`) on
/// one store's objects seen through three keyrings: `old` holds generation
/// 1 only, `both` holds 1 and 2 with 2 current, `new` holds 2 only (after
/// 1 is retired); `plain` has no keys. What `old` wrote opens under `new`
/// only once re-wrapped, byte for byte (whole, ranges, an upload continued
/// and committed), and no longer under `old`.
pub async fn rewrap_suite(
    old: &dyn BlobStore,
    both: &dyn BlobStore,
    new: &dyn BlobStore,
    plain: &dyn BlobStore,
) {
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let digest = Digest::of_bytes(Algorithm::Sha256, &bytes);
    let id = "0b5e7a0c-0000-4000-8000-00000000b001";
    write_upload(old, id, 0, &[&bytes]).await;
    old.commit_upload(id, &digest).await.expect("commit");
    let pending = "0b5e7a0c-0000-4000-8000-00000000b002";
    assert_eq!(
        write_upload(old, pending, 0, &[&bytes[..70_000]]).await,
        70_000
    );
    let len = bytes.len() as u64;
    assert!(
        match new.read(&digest, 0, len).await {
            Err(_) => true,
            Ok(Some(r)) => collect_result(r).await.is_err(),
            Ok(None) => false,
        },
        "generation 1's blob does not open without generation 1"
    );

    assert_eq!(both.rewrap_uploads(false).await.unwrap(), (0, 1), "counted");
    assert!(both.rewrap(&digest).await.unwrap());
    assert!(!both.rewrap(&digest).await.unwrap(), "current already");
    assert_eq!(both.rewrap_uploads(true).await.unwrap(), (1, 0));
    assert_eq!(both.rewrap_uploads(false).await.unwrap(), (0, 0));
    let absent = Digest::of_bytes(Algorithm::Sha256, b"absent");
    assert!(!both.rewrap(&absent).await.unwrap());
    assert!(
        !plain.rewrap(&digest).await.unwrap(),
        "a store without keys"
    );

    // Generation 1 retired: everything opens under generation 2 alone.
    let whole = new.read(&digest, 0, len).await.unwrap().unwrap();
    assert_eq!(collect(whole).await, bytes);
    let part = new.read(&digest, 65_530, 20).await.unwrap().unwrap();
    assert_eq!(collect(part).await, &bytes[65_530..65_550]);
    assert_eq!(new.stat(&digest).await.unwrap(), Some(len));
    assert_eq!(
        write_upload(new, pending, 70_000, &[&bytes[70_000..]]).await,
        len
    );
    let other = Digest::of_bytes(Algorithm::Sha256, &[&bytes[..], b"!"].concat());
    let mut w = new.upload_writer(pending, len).await.unwrap();
    w.write(Bytes::from_static(b"!")).await.unwrap();
    w.finish().await.unwrap();
    new.commit_upload(pending, &other)
        .await
        .expect("commit the continued upload");
    let got = new.read(&other, 0, len + 1).await.unwrap().unwrap();
    assert_eq!(collect(got).await, [&bytes[..], b"!"].concat());
    // ... and no longer under generation 1 alone: the headers changed.
    assert!(
        match old.read(&digest, 0, len).await {
            Err(_) => true,
            Ok(Some(r)) => collect_result(r).await.is_err(),
            Ok(None) => false,
        },
        "re-wrapped, not left under generation 1"
    );
}

async fn collect_result(mut r: crate::BlobReader) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = r.stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Key domains (`BlobStore::domain`) of a store that seals, `store`; `plain`
/// writes plaintext. A domain keeps the whole suite's contract, shares the
/// store's uploads, and keeps its blobs apart from the store's and other
/// domains', each sealed under its own KEK.
pub async fn domain_suite(store: &dyn BlobStore, plain: &dyn BlobStore, base: &Keyring) {
    use crate::sealed::Kek;
    use std::sync::Arc;
    let (a_name, b_name) = (
        "kms/111122223333.us-east-1.0a1b2c3d-k1",
        "kms/111122223333.us-west-2.k2",
    );
    let a = store
        .domain(Arc::new(base.domain(a_name, Kek::from_bytes([1; 32]))))
        .await
        .expect("domain a");
    let b = store
        .domain(Arc::new(base.domain(b_name, Kek::from_bytes([2; 32]))))
        .await
        .expect("domain b");
    blob_store_suite(a.as_ref()).await;

    let bytes: Vec<u8> = (0..150_000u32).map(|i| (i % 241) as u8).collect();
    let digest = Digest::of_bytes(Algorithm::Sha256, &bytes);
    let len = bytes.len() as u64;
    // An upload of the store's area becomes a blob of the domain it is
    // committed in, and of that domain only.
    let id = "0b5e7a0c-0000-4000-8000-00000000d001";
    write_upload(store, id, 0, &[&bytes]).await;
    a.commit_upload(id, &digest).await.expect("commit into a");
    assert_eq!(a.stat(&digest).await.unwrap(), Some(len));
    assert_eq!(store.stat(&digest).await.unwrap(), None, "not the store's");
    assert_eq!(b.stat(&digest).await.unwrap(), None, "not b's");
    let whole = a.read(&digest, 0, len).await.unwrap().expect("a's copy");
    assert_eq!(collect(whole).await, bytes);
    // The same digest in another domain is a second copy.
    let id = "0b5e7a0c-0000-4000-8000-00000000d002";
    write_upload(store, id, 0, &[&bytes]).await;
    b.commit_upload(id, &digest).await.expect("commit into b");
    let part = b
        .read(&digest, 65_530, 20)
        .await
        .unwrap()
        .expect("b's copy");
    assert_eq!(collect(part).await, &bytes[65_530..65_550]);

    // A copy opens only under its domain's KEK.
    let wrong = store
        .domain(Arc::new(base.domain(a_name, Kek::from_bytes([9; 32]))))
        .await
        .expect("domain a, another KEK");
    let opened = match wrong.read(&digest, 0, len).await {
        Err(_) => false,
        Ok(None) => panic!("the copy is there"),
        Ok(Some(mut r)) => {
            let mut ok = true;
            while let Some(chunk) = r.stream.next().await {
                if chunk.is_err() {
                    ok = false;
                    break;
                }
            }
            ok
        }
    };
    assert!(!opened, "a domain's blob opened under another KEK");

    assert_eq!(
        store.domains().await.unwrap(),
        vec![a_name.to_string(), b_name.to_string()]
    );
    a.delete(&digest).await.unwrap();
    assert_eq!(a.stat(&digest).await.unwrap(), None);
    assert_eq!(
        b.stat(&digest).await.unwrap(),
        Some(len),
        "b keeps its copy"
    );
    b.delete(&digest).await.unwrap();

    for bad in [
        "blobs",
        "kms/",
        "kms/a.b",
        "kms/../x.y.z",
        "kms/a.b.c/d",
        "kms/a..b",
    ] {
        assert!(
            store
                .domain(Arc::new(base.domain(bad, Kek::from_bytes([1; 32]))))
                .await
                .is_err(),
            "{bad:?} is not a domain"
        );
    }
    assert!(
        plain
            .domain(Arc::new(base.domain(a_name, Kek::from_bytes([1; 32]))))
            .await
            .is_err(),
        "a store that does not seal has no domains"
    );
}
