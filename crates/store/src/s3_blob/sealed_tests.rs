//! The S3 store with keys: nothing readable in the bucket, ranges at
//! segment boundaries, resumed and truncated uploads, damage refused.

use crate::sealed::{Keyring, DEFAULT_SEGMENT};
use crate::{BlobStore, S3BlobStore, StoreError};
use berth_oci::{Algorithm, Digest};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;

use crate::fs_sealed::tests::{layer, MARKER};
const S: usize = DEFAULT_SEGMENT as usize;

async fn sealed_store() -> S3BlobStore {
    super::testing::store()
        .await
        .sealing(Arc::new(Keyring::from_root(&[5u8; 32])))
}

async fn append(store: &S3BlobStore, id: &str, offset: u64, data: &[u8]) -> u64 {
    let mut w = store.upload_writer(id, offset).await.unwrap();
    for c in data.chunks(300_001) {
        w.write(Bytes::copy_from_slice(c)).await.unwrap();
    }
    w.finish().await.unwrap()
}

async fn read(store: &S3BlobStore, d: &Digest, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let r = match store.read(d, offset, len).await {
        Ok(r) => r.expect("stored"),
        Err(StoreError::Io(e)) => return Err(e),
        Err(e) => return Err(std::io::Error::other(e.to_string())),
    };
    let mut s = r.stream;
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c?);
    }
    Ok(out)
}

/// Every object under the store's prefix, whole.
async fn objects(store: &S3BlobStore) -> Vec<(String, Vec<u8>)> {
    let prefix = object_store::path::Path::from(store.prefix.clone());
    let metas: Vec<_> = store.s3.list(Some(&prefix)).try_collect().await.unwrap();
    let mut out = Vec::new();
    for m in metas {
        let bytes = store
            .s3
            .get(&m.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        out.push((m.location.to_string(), bytes.to_vec()));
    }
    out
}

fn holding(objects: &[(String, Vec<u8>)], needle: &[u8]) -> Vec<String> {
    objects
        .iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle))
        .map(|(n, _)| n.clone())
        .collect()
}

#[tokio::test]
async fn uploads_and_blobs_are_sealed_in_the_bucket_and_read_back_exactly() {
    let store = sealed_store().await;
    let p = layer(2 * super::PART_SIZE + 3 * S + 17);
    let d = Digest::of_bytes(Algorithm::Sha256, &p);
    let id = "5ea15300-0000-4000-8000-000000000001";
    // Three requests; the second is cut short by a writer opened again
    // mid-segment (a retry after an unacknowledged request).
    let a = S + 5;
    assert_eq!(append(&store, id, 0, &p[..a]).await, a as u64);
    append(&store, id, a as u64, &p[a..a + 1000]).await;
    let b = a + 300;
    assert_eq!(append(&store, id, b as u64, &p[b..]).await, p.len() as u64);
    assert_eq!(store.upload_size(id).await.unwrap(), Some(p.len() as u64));
    assert!(holding(&objects(&store).await, MARKER).is_empty());
    let mut rebuilt = Vec::new();
    let mut r = store.read_upload(id, p.len() as u64).await.unwrap().stream;
    while let Some(c) = r.next().await {
        rebuilt.extend_from_slice(&c.unwrap());
    }
    assert_eq!(rebuilt, p);
    store.commit_upload(id, &d).await.unwrap();
    let all = objects(&store).await;
    assert!(holding(&all, MARKER).is_empty(), "plaintext in the bucket");
    assert_eq!(
        all.len(),
        1,
        "only the blob is left: {:?}",
        all.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    assert_eq!(store.stat(&d).await.unwrap(), Some(p.len() as u64));
    let n = p.len() as u64;
    let s = S as u64;
    for (offset, len) in [
        (0, n),
        (s - 1, 2),
        (s, s),
        (s - 3, 2 * s + 6),
        (n - 1, 1),
        (n - s - 1, s + 1),
        (9, 0),
    ] {
        assert_eq!(
            read(&store, &d, offset, len).await.unwrap(),
            &p[offset as usize..(offset + len) as usize],
            "{offset}+{len}"
        );
    }
    assert!(read(&store, &d, n - 1, 2).await.is_err());
    // No presigned redirects to ciphertext.
    assert!(store
        .download_url(&d, std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .is_none());

    // Digest first: straight to the blob's object, sealed.
    let q = layer(S + 3);
    let dq = Digest::of_bytes(Algorithm::Sha256, &q);
    let mut w = store
        .blob_writer(&dq)
        .await
        .unwrap()
        .expect("S3 writes blobs directly");
    w.write(Bytes::copy_from_slice(&q)).await.unwrap();
    w.finish().await.unwrap();
    assert_eq!(read(&store, &dq, 0, q.len() as u64).await.unwrap(), q);
    assert!(holding(&objects(&store).await, MARKER).is_empty());

    // A flipped bit in the blob's object: refused, naming the segment.
    let path = store.blob_path(&d);
    let mut bytes = store
        .s3
        .get(&path)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    bytes[96 + (S + 28) + 50] ^= 2;
    store
        .s3
        .put(&path, Bytes::from(bytes).into())
        .await
        .unwrap();
    let err = read(&store, &d, 0, n).await.unwrap_err();
    assert!(err.to_string().contains("segment 1"), "{err}");
    assert_eq!(read(&store, &d, 0, 100).await.unwrap(), &p[..100]);
}
