//! Blob reads on real stores: media types, unlinking past the cache,
//! byte ranges.

use crate::test_fixture::*;
use crate::*;
use futures_util::StreamExt;

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
