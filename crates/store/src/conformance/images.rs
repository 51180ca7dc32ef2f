//! `ImageStore`'s suite: manifests and their references, tags, indexes,
//! PutImage's refusal, deletes, referrers, pulls, untagging.

use super::{d, manifest, registry, two_repositories};
use crate::metadata::{
    BlobRecordStore, DeleteManifestOutcome, ImageStore, NewManifest, PutManifestOutcome,
    RegistryKey, RepositoryStore, UnlinkBlobOutcome, UntagOutcome,
};
use berth_oci::Digest;

pub async fn image_store_suite<S: RepositoryStore + BlobRecordStore + ImageStore + ?Sized>(
    store: &S,
) {
    let reg = registry();
    let (a, b) = two_repositories(store, &reg).await;
    // Blobs linked as `blob_record_store_suite` links them.
    let (l1, l2, cfg) = (d(1), d(2), d(3));
    store.link_blob(a, &l1, 10, 5).await.unwrap();
    store.link_blob(a, &cfg, 3, 5).await.unwrap();
    store.link_existing_blob(b, a, &l1, 6).await.unwrap();

    // A manifest with a missing reference is refused and leaves nothing behind.
    let m1 = d(10);
    let blobs = [(cfg.clone(), 3), (l1.clone(), 10), (l2.clone(), 20)];
    let out = store
        .put_manifest(a, manifest(&m1, b"m1", &blobs, &[], Some("v1")))
        .await
        .unwrap();
    assert_eq!(out, PutManifestOutcome::MissingReferences(vec![l2.clone()]));
    assert_eq!(store.get_manifest(a, &m1).await.unwrap(), None);
    assert_eq!(store.resolve_tag(a, "v1").await.unwrap(), None);

    store.link_blob(a, &l2, 20, 7).await.unwrap();
    // A descriptor must declare the size the content has.
    let wrong = [(cfg.clone(), 3), (l1.clone(), 11), (l2.clone(), 20)];
    let out = store
        .put_manifest(a, manifest(&m1, b"m1", &wrong, &[], Some("v1")))
        .await
        .unwrap();
    assert_eq!(
        out,
        PutManifestOutcome::WrongSizes(vec![(l1.clone(), 11, 10)])
    );
    assert_eq!(store.get_manifest(a, &m1).await.unwrap(), None);
    let out = store
        .put_manifest(a, manifest(&m1, b"m1", &blobs, &[], Some("v1")))
        .await
        .unwrap();
    assert_eq!(out, PutManifestOutcome::Stored { previous: None });
    assert_eq!(
        store.manifest_using_blob(a, &l2).await.unwrap(),
        Some(m1.clone())
    );
    assert_eq!(
        store.manifest_using_blob(b, &l1).await.unwrap(),
        None,
        "linked in b, used in a only"
    );
    let got = store.get_manifest(a, &m1).await.unwrap().unwrap();
    assert_eq!(&got.body[..], b"m1");
    assert_eq!(got.media_type, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(store.resolve_tag(a, "v1").await.unwrap(), Some(m1.clone()));
    assert_eq!(
        store.get_manifest(b, &m1).await.unwrap(),
        None,
        "manifests are per repository"
    );

    // Pushing the same again is a no-op; moving a tag reports where it was.
    let again = store
        .put_manifest(a, manifest(&m1, b"m1", &blobs, &[], Some("v1")))
        .await
        .unwrap();
    assert_eq!(again, PutManifestOutcome::Stored { previous: None });
    // PutImage's rule: the same image under the same tag (or, untagged, at
    // all) is refused in the write's transaction; under another tag it is
    // stored.
    let refusing = |tag| NewManifest {
        refuse_existing: true,
        ..manifest(&m1, b"m1", &blobs, &[], tag)
    };
    for tag in [Some("v1"), None] {
        assert_eq!(
            store.put_manifest(a, refusing(tag)).await.unwrap(),
            PutManifestOutcome::AlreadyExists,
            "{tag:?}"
        );
    }
    assert_eq!(
        store
            .put_manifest(a, refusing(Some("v1-copy")))
            .await
            .unwrap(),
        PutManifestOutcome::Stored { previous: None }
    );
    assert_eq!(
        store.untag(a, "v1-copy").await.unwrap(),
        UntagOutcome::Untagged {
            digest: m1.clone(),
            image_deleted: false
        }
    );
    let m2 = d(11);
    let blobs2 = [(cfg.clone(), 3), (l1.clone(), 10)];
    let moved = store
        .put_manifest(a, manifest(&m2, b"m2", &blobs2, &[], Some("v1")))
        .await
        .unwrap();
    assert_eq!(
        moved,
        PutManifestOutcome::Stored {
            previous: Some(m1.clone())
        }
    );
    assert_eq!(store.resolve_tag(a, "v1").await.unwrap(), Some(m2.clone()));
    for t in ["latest", "v0", "a"] {
        store
            .put_manifest(a, manifest(&m1, b"m1", &blobs, &[], Some(t)))
            .await
            .unwrap();
    }
    assert_eq!(
        store.list_tags(a, None, 100).await.unwrap(),
        ["a", "latest", "v0", "v1"]
    );
    assert_eq!(
        store.list_tags(a, Some("a"), 2).await.unwrap(),
        ["latest", "v0"]
    );

    // An index needs its children in the same repository, and protects them.
    let idx = d(12);
    let children = [(m1.clone(), 2), (m2.clone(), 2)];
    let out = store
        .put_manifest(b, manifest(&idx, b"idx", &[], &children, None))
        .await
        .unwrap();
    assert!(matches!(out, PutManifestOutcome::MissingReferences(ref v) if v.len() == 2));
    let out = store
        .put_manifest(
            a,
            manifest(&idx, b"idx", &[], &[(m1.clone(), 2), (m2.clone(), 3)], None),
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        PutManifestOutcome::WrongSizes(vec![(m2.clone(), 3, 2)]),
        "a child manifest's size is its body's"
    );
    let out = store
        .put_manifest(a, manifest(&idx, b"idx", &[], &children, Some("multi")))
        .await
        .unwrap();
    assert_eq!(out, PutManifestOutcome::Stored { previous: None });
    assert_eq!(
        store.delete_manifest(a, &m1).await.unwrap(),
        DeleteManifestOutcome::ReferencedBy(idx.clone())
    );
    assert_eq!(
        store.unlink_blob(a, &l2).await.unwrap(),
        UnlinkBlobOutcome::ReferencedBy(m1.clone())
    );

    // Deleting removes the manifest and its tags.
    assert_eq!(
        store.delete_manifest(a, &idx).await.unwrap(),
        DeleteManifestOutcome::Deleted {
            tags: vec!["multi".into()]
        }
    );
    assert_eq!(
        store.delete_manifest(a, &m1).await.unwrap(),
        DeleteManifestOutcome::Deleted {
            tags: vec!["a".into(), "latest".into(), "v0".into()]
        }
    );
    assert_eq!(
        store.delete_manifest(a, &m1).await.unwrap(),
        DeleteManifestOutcome::NotFound
    );
    assert_eq!(store.list_tags(a, None, 100).await.unwrap(), ["v1"]);
    assert_eq!(
        store.manifest_using_blob(a, &l2).await.unwrap(),
        None,
        "m2, still tagged, does not use l2"
    );
    assert_eq!(
        store.unlink_blob(a, &l2).await.unwrap(),
        UnlinkBlobOutcome::Unlinked
    );
    assert_eq!(
        store.unlink_blob(a, &l2).await.unwrap(),
        UnlinkBlobOutcome::NotLinked
    );
    assert_eq!(store.blob_link(a, &l2).await.unwrap().map(|l| l.size), None);
    untag_referrers_and_pulls(store, &reg).await;
    repository_bodies(store, &reg).await;
}

/// Bodies sealed in a repository's key domain are that repository's own:
/// read back with the key named, whichever of a KMS and an AES256
/// repository stored the digest first, and never in place of the other's.
async fn repository_bodies<S: RepositoryStore + ImageStore + ?Sized>(store: &S, reg: &RegistryKey) {
    let key = "arn:aws:kms:us-east-1:000000000000:key/k1";
    let kms = super::repository_under_key(store, reg, "suite/kms", key).await;
    let plain = store
        .ensure_repository(reg, "suite/plain", 1)
        .await
        .unwrap();
    for (digest, kms_first) in [(d(80), true), (d(81), false)] {
        let own = NewManifest {
            repository_body: true,
            ..manifest(&digest, b"sealed under k1", &[], &[], None)
        };
        let shared = manifest(&digest, b"sealed under AES256", &[], &[], None);
        if kms_first {
            store.put_manifest(kms, own).await.unwrap();
            store.put_manifest(plain, shared).await.unwrap();
        } else {
            store.put_manifest(plain, shared).await.unwrap();
            store.put_manifest(kms, own).await.unwrap();
        }
        let k = store.get_manifest(kms, &digest).await.unwrap().unwrap();
        assert_eq!(
            (&k.body[..], k.domain_key.as_deref()),
            (&b"sealed under k1"[..], Some(key)),
            "kms first: {kms_first}"
        );
        let p = store.get_manifest(plain, &digest).await.unwrap().unwrap();
        assert_eq!(
            (&p.body[..], p.domain_key),
            (&b"sealed under AES256"[..], None),
            "kms first: {kms_first}"
        );
    }
}

async fn untag_referrers_and_pulls<S: RepositoryStore + BlobRecordStore + ImageStore + ?Sized>(
    store: &S,
    reg: &RegistryKey,
) {
    let r = store.ensure_repository(reg, "suite/gc", 1).await.unwrap();
    let (cfg, layer, loose) = (d(40), d(41), d(42));
    for x in [&cfg, &layer, &loose] {
        store.link_blob(r, x, 1, 100).await.unwrap();
    }
    let img = d(43);
    let blobs = [(cfg.clone(), 1), (layer.clone(), 1)];
    store
        .put_manifest(r, manifest(&img, b"img", &blobs, &[], Some("a")))
        .await
        .unwrap();
    store
        .put_manifest(r, manifest(&img, b"img", &blobs, &[], Some("b")))
        .await
        .unwrap();

    // Referrers: by subject, filtered by artifact type.
    let (sig, sbom) = (d(44), d(45));
    for (m, kind) in [(&sig, "application/x-sig"), (&sbom, "application/x-sbom")] {
        let mut nm = manifest(m, b"ref", &[], &[], None);
        nm.subject = Some(&img);
        nm.artifact_type = Some(kind);
        nm.annotations = Some(r#"{"k":"v"}"#);
        store.put_manifest(r, nm).await.unwrap();
    }
    let all = store.list_referrers(r, &img, None, 100).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].annotations.as_deref(), Some(r#"{"k":"v"}"#));
    let only = store
        .list_referrers(r, &img, Some("application/x-sbom"), 100)
        .await
        .unwrap();
    assert_eq!(only.iter().map(|x| &x.digest).collect::<Vec<_>>(), [&sbom]);

    // Pulls: the later time wins; unknown images are skipped.
    store
        .record_pulls(&[(r, img.clone(), 500), (r, d(98), 600)])
        .await
        .unwrap();
    store.record_pulls(&[(r, img.clone(), 400)]).await.unwrap();
    let rec = store
        .image_records(r, std::slice::from_ref(&img))
        .await
        .unwrap();
    assert_eq!(rec[0].last_pulled_at, Some(500));

    // A manifest's references keep its blobs from collection.
    assert_eq!(
        store
            .collectable(&[cfg.clone(), layer.clone()], 101)
            .await
            .unwrap(),
        Vec::<Digest>::new()
    );

    // Untagging: the image goes with its last tag.
    assert_eq!(
        store.untag(r, "a").await.unwrap(),
        UntagOutcome::Untagged {
            digest: img.clone(),
            image_deleted: false
        }
    );
    assert_eq!(
        store.untag(r, "b").await.unwrap(),
        UntagOutcome::Untagged {
            digest: img.clone(),
            image_deleted: true
        }
    );
    assert_eq!(store.untag(r, "b").await.unwrap(), UntagOutcome::NotFound);
    assert_eq!(store.get_manifest(r, &img).await.unwrap(), None);
    // With the image gone, nothing holds its blobs.
    let mut got = store
        .collectable(&[cfg.clone(), layer.clone()], 101)
        .await
        .unwrap();
    got.sort();
    let mut want = vec![cfg, layer];
    want.sort();
    assert_eq!(got, want);
}
