//! Conformance suites: every backend of a store trait must pass its suite.
//! A backend's own tests call these with a fresh, empty store.

use crate::metadata::*;
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
    let mut ids = store.upload_ids().await.unwrap();
    ids.sort();
    assert_eq!(ids, vec![id2.to_string()], "listed before its commit");
    store
        .commit_upload(id2, &digest)
        .await
        .expect("second commit");
    assert_eq!(store.stat(&digest).await.unwrap(), Some(11));

    assert!(store.upload_ids().await.unwrap().is_empty());

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

fn d(n: u8) -> Digest {
    Digest::of_bytes(Algorithm::Sha256, &[n])
}

fn manifest<'a>(
    digest: &'a Digest,
    body: &'a [u8],
    blobs: &'a [(Digest, u64)],
    children: &'a [(Digest, u64)],
    tag: Option<&'a str>,
) -> NewManifest<'a> {
    NewManifest {
        digest,
        media_type: "application/vnd.oci.image.manifest.v1+json",
        body,
        artifact_type: None,
        annotations: None,
        subject: None,
        blob_refs: blobs,
        manifest_refs: children,
        tag,
        tag_immutable: false,
        refuse_existing: false,
        now: 1000,
    }
}

const LIMITS: UploadLimits = UploadLimits {
    per_repository: 1000,
    per_principal: 1000,
};

/// Open sessions are capped per repository and per opener; a refused
/// session writes nothing, and closing one makes room.
async fn upload_limits(store: &dyn MetadataStore, a: RepoId, b: RepoId, template: &UploadRecord) {
    let limits = UploadLimits {
        per_repository: 3,
        per_principal: 2,
    };
    let open = |id: &str, repo: RepoId, by: Option<&str>| UploadRecord {
        id: id.into(),
        repository: repo,
        started_by: by.map(str::to_string),
        ..template.clone()
    };
    let create = |u: UploadRecord| async move { store.create_upload(&u, limits).await.unwrap() };
    assert_eq!(
        create(open("p1", a, Some("x:alice"))).await,
        CreateUploadOutcome::Created
    );
    assert_eq!(
        create(open("p2", b, Some("x:alice"))).await,
        CreateUploadOutcome::Created
    );
    assert_eq!(
        create(open("p3", a, Some("x:alice"))).await,
        CreateUploadOutcome::PrincipalFull(2),
        "alice has two open, in any repositories"
    );
    assert!(!store.upload_exists("p3").await.unwrap());
    assert_eq!(
        create(open("p4", a, Some("x:bob"))).await,
        CreateUploadOutcome::Created
    );
    assert_eq!(
        create(open("p5", a, None)).await,
        CreateUploadOutcome::Created
    );
    assert_eq!(
        create(open("p6", a, Some("x:carol"))).await,
        CreateUploadOutcome::RepositoryFull(3)
    );
    assert_eq!(
        create(open("p7", a, None)).await,
        CreateUploadOutcome::RepositoryFull(3),
        "anonymous sessions count for their repository"
    );
    assert_eq!(
        create(open("p8", b, Some("x:carol"))).await,
        CreateUploadOutcome::Created
    );
    assert!(store.delete_upload("p1").await.unwrap());
    assert_eq!(
        create(open("p9", a, Some("x:alice"))).await,
        CreateUploadOutcome::Created
    );
    for id in ["p2", "p4", "p5", "p8", "p9"] {
        assert!(store.delete_upload(id).await.unwrap());
    }
}

pub async fn metadata_store_suite(store: &dyn MetadataStore) {
    store.ping().await.expect("ping");
    let reg = RegistryKey {
        account_id: "000000000000".into(),
        region: "us-east-1".into(),
    };
    let other = RegistryKey {
        account_id: "111111111111".into(),
        region: "us-east-1".into(),
    };

    // Repositories: idempotent creation, per-registry namespaces, paging in byte order.
    let a = store.ensure_repository(&reg, "team/app", 1).await.unwrap();
    assert_eq!(
        store.ensure_repository(&reg, "team/app", 2).await.unwrap(),
        a
    );
    let b = store.ensure_repository(&reg, "base", 1).await.unwrap();
    store
        .ensure_repository(&reg, "team/app-b", 1)
        .await
        .unwrap();
    let elsewhere = store.ensure_repository(&other, "base", 1).await.unwrap();
    assert_ne!(elsewhere, b);
    assert_eq!(store.find_repository(&reg, "nope").await.unwrap(), None);
    assert_eq!(
        store.list_repositories(&reg, None, 10).await.unwrap(),
        ["base", "team/app", "team/app-b"]
    );
    assert_eq!(
        store
            .list_repositories(&reg, Some("base"), 1)
            .await
            .unwrap(),
        ["team/app"]
    );
    assert_eq!(
        store.list_repositories(&other, None, 10).await.unwrap(),
        ["base"]
    );

    // Blob links are per repository.
    let (l1, l2, cfg) = (d(1), d(2), d(3));
    store.link_blob(a, &l1, 10, 5).await.unwrap();
    store.link_blob(a, &cfg, 3, 5).await.unwrap();
    assert_eq!(
        store.blob_link(a, &l1).await.unwrap().map(|l| l.size),
        Some(10)
    );
    assert_eq!(store.blob_link(b, &l1).await.unwrap().map(|l| l.size), None);
    assert_eq!(
        store.link_existing_blob(b, a, &l1, 6).await.unwrap(),
        Some(10)
    );
    assert_eq!(
        store.blob_link(b, &l1).await.unwrap().map(|l| l.size),
        Some(10)
    );
    assert_eq!(store.link_existing_blob(b, a, &l2, 6).await.unwrap(), None);

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

    // Upload sessions: compare-and-set sizes, completion links the blob.
    let up = UploadRecord {
        id: "u1".into(),
        repository: b,
        size: 0,
        started_at: 100,
        updated_at: 100,
        started_by: Some("000000000000:ci".into()),
    };
    assert_eq!(
        store.create_upload(&up, LIMITS).await.unwrap(),
        CreateUploadOutcome::Created
    );
    assert!(store.upload_exists("u1").await.unwrap());
    assert_eq!(store.get_upload("u1").await.unwrap().unwrap(), up);
    assert!(store.set_upload_size("u1", 0, 50, 200).await.unwrap());
    assert!(
        !store.set_upload_size("u1", 0, 70, 201).await.unwrap(),
        "stale expected size must not apply"
    );
    let got = store.get_upload("u1").await.unwrap().unwrap();
    assert_eq!((got.size, got.updated_at, got.repository), (50, 200, b));
    assert_eq!(store.stale_uploads(201, 10).await.unwrap().len(), 1);
    assert_eq!(store.stale_uploads(200, 10).await.unwrap().len(), 0);
    let blob = d(20);
    store
        .complete_upload("u1", b, &blob, 50, 300)
        .await
        .unwrap();
    assert_eq!(store.get_upload("u1").await.unwrap(), None);
    assert_eq!(
        store.blob_link(b, &blob).await.unwrap().map(|l| l.size),
        Some(50)
    );
    store
        .create_upload(
            &UploadRecord {
                id: "u2".into(),
                ..up.clone()
            },
            LIMITS,
        )
        .await
        .unwrap();
    assert!(store.delete_upload("u2").await.unwrap());
    assert!(!store.delete_upload("u2").await.unwrap());
    upload_limits(store, a, b, &up).await;

    let c = store.counts().await.unwrap();
    assert_eq!(
        (c.repositories, c.blobs, c.blob_bytes),
        (4, 4, 10 + 3 + 20 + 50)
    );
    untag_referrers_and_collection(store, &reg).await;
    lifecycle(store, &reg).await;
    scanning(store, &reg).await;
    repository_tags_and_settings(store, &reg, &other).await;
    accounts_users_and_keys(store).await;
    iam_users_and_policies(store).await;
}

async fn repository_tags_and_settings(
    store: &dyn MetadataStore,
    reg: &RegistryKey,
    other: &RegistryKey,
) {
    let tag = |k: &str, v: &str| ResourceTag {
        key: k.into(),
        value: v.into(),
    };
    let record = RepositoryRecord {
        id: RepoId(0),
        name: "suite/tagged".into(),
        created_at: 5,
        image_tag_mutability: "MUTABLE".into(),
        mutability_filters: None,
        scan_on_push: false,
    };
    let created = store
        .create_repository(reg, &record, &[tag("team", "a"), tag("env", "dev")])
        .await
        .unwrap()
        .expect("created");
    let r = created.id;
    assert_eq!(
        store.create_repository(reg, &record, &[]).await.unwrap(),
        None
    );
    assert_eq!(
        store.repository_tags(r).await.unwrap(),
        [tag("env", "dev"), tag("team", "a")]
    );
    // Replacing a value and adding a key; over the limit nothing changes.
    assert!(store
        .tag_repository(r, &[tag("team", "b"), tag("cost", "1")], 3)
        .await
        .unwrap());
    assert!(!store.tag_repository(r, &[tag("x", "1")], 3).await.unwrap());
    assert_eq!(
        store.repository_tags(r).await.unwrap(),
        [tag("cost", "1"), tag("env", "dev"), tag("team", "b")]
    );
    store
        .untag_repository(r, &["env".into(), "absent".into()])
        .await
        .unwrap();
    assert_eq!(store.repository_tags(r).await.unwrap().len(), 2);

    assert!(store
        .set_scan_on_push(reg, "suite/tagged", true)
        .await
        .unwrap());
    assert!(!store
        .set_scan_on_push(reg, "suite/none", true)
        .await
        .unwrap());
    assert!(
        store
            .get_repository(reg, "suite/tagged")
            .await
            .unwrap()
            .unwrap()
            .scan_on_push
    );

    // Settings are per registry.
    assert_eq!(
        store.account_setting(reg, "BLOB_MOUNTING").await.unwrap(),
        None
    );
    store
        .put_account_setting(reg, "BLOB_MOUNTING", "DISABLED")
        .await
        .unwrap();
    store
        .put_account_setting(reg, "BLOB_MOUNTING", "ENABLED")
        .await
        .unwrap();
    assert_eq!(
        store
            .account_setting(reg, "BLOB_MOUNTING")
            .await
            .unwrap()
            .as_deref(),
        Some("ENABLED")
    );
    assert_eq!(
        store.account_setting(other, "BLOB_MOUNTING").await.unwrap(),
        None
    );

    // Policies: per repository (the repository must exist) and per registry.
    let doc = r#"{"Statement":[]}"#;
    assert_eq!(
        store.repository_policy(reg, "suite/tagged").await.unwrap(),
        Some(None)
    );
    assert_eq!(
        store.repository_policy(reg, "suite/none").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .set_repository_policy(reg, "suite/tagged", Some(doc))
            .await
            .unwrap(),
        Some(None)
    );
    assert_eq!(
        store
            .set_repository_policy(reg, "suite/none", Some(doc))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.repository_policy(reg, "suite/tagged").await.unwrap(),
        Some(Some(doc.to_string()))
    );
    assert_eq!(store.registry_policy(reg).await.unwrap(), None);
    assert_eq!(
        store.set_registry_policy(reg, Some(doc)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .set_registry_policy(reg, None)
            .await
            .unwrap()
            .as_deref(),
        Some(doc)
    );
    assert_eq!(store.registry_policy(reg).await.unwrap(), None);
    assert_eq!(store.registry_policy(other).await.unwrap(), None);

    // Deleting the repository takes its tags.
    store
        .delete_repository(reg, "suite/tagged", false)
        .await
        .unwrap();
    assert!(store.repository_tags(r).await.unwrap().is_empty());
}

async fn lifecycle(store: &dyn MetadataStore, reg: &RegistryKey) {
    let r = store
        .ensure_repository(reg, "suite/lifecycle", 1)
        .await
        .unwrap();
    assert_eq!(
        store.lifecycle_policy(reg, "suite/none").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .lifecycle_policy(reg, "suite/lifecycle")
            .await
            .unwrap(),
        Some(None)
    );
    assert_eq!(
        store
            .set_lifecycle_policy(reg, "suite/none", Some("{}"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .set_lifecycle_policy(reg, "suite/lifecycle", Some("p1"))
            .await
            .unwrap(),
        Some(None)
    );
    let listed = store.lifecycle_policies().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].repo, listed[0].name.as_str()),
        (r, "suite/lifecycle")
    );
    assert_eq!(listed[0].policy, "p1");
    store.set_lifecycle_evaluated(r, 77).await.unwrap();
    // Replacing keeps the evaluation time; removing clears it.
    let old = store
        .set_lifecycle_policy(reg, "suite/lifecycle", Some("p2"))
        .await
        .unwrap();
    assert_eq!(
        old,
        Some(Some(LifecyclePolicyRecord {
            text: "p1".into(),
            last_evaluated_at: Some(77)
        }))
    );
    let old = store
        .set_lifecycle_policy(reg, "suite/lifecycle", None)
        .await
        .unwrap();
    assert_eq!(old.unwrap().unwrap().last_evaluated_at, Some(77));
    store
        .set_lifecycle_policy(reg, "suite/lifecycle", Some("p3"))
        .await
        .unwrap();
    assert_eq!(
        store
            .lifecycle_policy(reg, "suite/lifecycle")
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .last_evaluated_at,
        None
    );

    // The snapshot: tags in byte order, subject, listed by an index.
    let cfg = d(60);
    store.link_blob(r, &cfg, 1, 100).await.unwrap();
    let blobs = [(cfg.clone(), 1)];
    let (old_img, child, index, sig) = (d(61), d(62), d(63), d(64));
    for (m, tag) in [(&old_img, "b"), (&old_img, "a"), (&child, "c")] {
        store
            .put_manifest(r, manifest(m, b"img", &blobs, &[], Some(tag)))
            .await
            .unwrap();
    }
    store
        .put_manifest(
            r,
            manifest(&index, b"idx", &[], &[(child.clone(), 3)], None),
        )
        .await
        .unwrap();
    let mut nm = manifest(&sig, b"sig", &[], &[], None);
    nm.subject = Some(&old_img);
    store.put_manifest(r, nm).await.unwrap();
    store
        .record_pulls(&[(r, old_img.clone(), 5000)])
        .await
        .unwrap();
    let mut snap = store.lifecycle_snapshot(r).await.unwrap();
    snap.sort_by(|a, b| a.digest.as_str().cmp(b.digest.as_str()));
    let find = |x: &Digest| snap.iter().find(|i| &i.digest == x).unwrap().clone();
    assert_eq!(snap.len(), 4);
    let o = find(&old_img);
    assert_eq!(o.tags, ["a", "b"]);
    assert_eq!(
        (o.pushed_at, o.last_pulled_at, o.in_index),
        (1000, Some(5000), false)
    );
    assert!(find(&child).in_index);
    assert!(!find(&index).in_index);
    assert_eq!(find(&sig).subject, Some(old_img.clone()));

    // Expiry re-checks each image: changed tags, another push time, an
    // index listing it or its absence leave it alone.
    let expect = |x: &Digest, tags: &[&str]| ExpireImage {
        digest: x.clone(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        pushed_at: 1000,
    };
    let out = store
        .expire_images(
            r,
            &[
                expect(&old_img, &["a"]),
                expect(&child, &["c"]),
                ExpireImage {
                    pushed_at: 999,
                    ..expect(&sig, &[])
                },
                expect(&d(65), &[]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(out, vec![ExpireOutcome::Changed; 4]);
    assert_eq!(store.lifecycle_snapshot(r).await.unwrap().len(), 4);
    let out = store
        .expire_images(r, &[expect(&old_img, &["a", "b"]), expect(&index, &[])])
        .await
        .unwrap();
    assert_eq!(out, vec![ExpireOutcome::Expired; 2]);
    assert_eq!(store.resolve_tag(r, "a").await.unwrap(), None);
    assert!(store.get_manifest(r, &old_img).await.unwrap().is_none());
    // The child is no longer listed; the referrer stays until expired.
    let snap = store.lifecycle_snapshot(r).await.unwrap();
    assert_eq!(snap.len(), 2);
    assert!(snap.iter().all(|i| !i.in_index));

    // Previews: one at a time unless the running one is stale.
    assert_eq!(store.lifecycle_preview(r).await.unwrap(), None);
    assert!(store.start_lifecycle_preview(r, "p", 10, 0).await.unwrap());
    assert!(!store.start_lifecycle_preview(r, "q", 11, 5).await.unwrap());
    let p = store.lifecycle_preview(r).await.unwrap().unwrap();
    assert_eq!(
        (p.policy.as_str(), p.status.as_str(), p.started_at),
        ("p", "IN_PROGRESS", 10)
    );
    // A finish for an older start does not overwrite.
    store
        .finish_lifecycle_preview(r, 9, "COMPLETE", Some("old"))
        .await
        .unwrap();
    store
        .finish_lifecycle_preview(r, 10, "COMPLETE", Some("[]"))
        .await
        .unwrap();
    let p = store.lifecycle_preview(r).await.unwrap().unwrap();
    assert_eq!(
        (p.status.as_str(), p.results.as_deref()),
        ("COMPLETE", Some("[]"))
    );
    assert!(store.start_lifecycle_preview(r, "q", 12, 11).await.unwrap());
    // Stale (started before `running_since`): replaced.
    assert!(store.start_lifecycle_preview(r, "s", 20, 15).await.unwrap());
    assert_eq!(
        store.lifecycle_preview(r).await.unwrap().unwrap().policy,
        "s"
    );
}

async fn untag_referrers_and_collection(store: &dyn MetadataStore, reg: &RegistryKey) {
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

    // Collection: links younger than the cutoff stay; referenced ones stay.
    let page = store.blob_page(Some(&d(0)), 1000).await.unwrap();
    assert!(page.windows(2).all(|w| w[0] < w[1]), "digest order");
    let mine = [cfg.clone(), layer.clone(), loose.clone()];
    assert_eq!(
        store.collectable(&mine, 100).await.unwrap(),
        Vec::<Digest>::new()
    );
    let mut want = mine.to_vec();
    want.sort();
    let mut got = store.collectable(&mine, 101).await.unwrap();
    got.sort();
    assert_eq!(got, want);
    assert!(store.touch_blob_link(r, &loose, 500).await.unwrap());
    assert_eq!(
        store
            .collectable(std::slice::from_ref(&loose), 101)
            .await
            .unwrap(),
        Vec::<Digest>::new()
    );
    let dry = store
        .collect_blobs(std::slice::from_ref(&cfg), 101, true)
        .await
        .unwrap();
    assert_eq!(
        dry,
        [CollectOutcome {
            unlinked: vec![r],
            deleted: Some(1)
        }]
    );
    assert!(
        store.blob_recorded(&cfg).await.unwrap(),
        "a dry run rolls back"
    );
    assert_eq!(
        store
            .collect_blobs(std::slice::from_ref(&cfg), 101, false)
            .await
            .unwrap(),
        dry
    );
    assert!(!store.blob_recorded(&cfg).await.unwrap());
    assert_eq!(store.blob_link(r, &cfg).await.unwrap(), None);
    // Linked elsewhere: only this repository's link goes.
    let other = store
        .ensure_repository(reg, "suite/gc-other", 1)
        .await
        .unwrap();
    assert_eq!(
        store
            .link_existing_blob(other, r, &layer, 1000)
            .await
            .unwrap(),
        Some(1)
    );
    let out = store
        .collect_blobs(&[layer.clone(), d(99)], 101, false)
        .await
        .unwrap();
    assert_eq!(
        out,
        [
            CollectOutcome {
                unlinked: vec![r],
                deleted: None
            },
            CollectOutcome::default()
        ]
    );
    assert!(store.touch_blob_link(other, &layer, 2000).await.unwrap());
    assert!(!store.touch_blob_link(r, &layer, 2000).await.unwrap());
}

/// Accounts come with their first user; users need an account; keys are
/// listed per account and deleted only through their own account.
async fn accounts_users_and_keys(store: &dyn MetadataStore) {
    let acct = "222222222222";
    let created = store.create_account(acct, "admin", 7).await.unwrap();
    assert_eq!(
        created,
        Some(AccountRecord {
            id: acct.into(),
            created_at: 7
        })
    );
    assert_eq!(store.create_account(acct, "admin", 8).await.unwrap(), None);
    assert_eq!(
        store.get_account(acct).await.unwrap().unwrap().created_at,
        7
    );
    assert_eq!(store.get_account("333333333333").await.unwrap(), None);
    store.ensure_account("000000000001", 9).await.unwrap();
    let ids: Vec<String> = store
        .list_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids.contains(&acct.to_string()) && ids.contains(&"000000000001".to_string()));

    assert!(matches!(
        store.create_user(acct, "ci", "/", 10).await.unwrap(),
        CreateUserOutcome::Created(u) if u.name == "ci" && u.account_id == acct
    ));
    assert_eq!(
        store.create_user(acct, "ci", "/", 11).await.unwrap(),
        CreateUserOutcome::AlreadyExists
    );
    assert_eq!(
        store
            .create_user("333333333333", "ci", "/", 11)
            .await
            .unwrap(),
        CreateUserOutcome::NoSuchAccount
    );
    assert_eq!(store.get_account("333333333333").await.unwrap(), None);
    let names: Vec<String> = store
        .list_users(acct)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["admin", "ci"]);
    assert_eq!(
        store
            .get_user(acct, "ci")
            .await
            .unwrap()
            .unwrap()
            .created_at,
        10
    );
    assert_eq!(store.get_user(acct, "nobody").await.unwrap(), None);

    let key = |id: &str, user: &str| AccessKeyRecord {
        id: id.into(),
        account_id: acct.into(),
        user_name: user.into(),
        secret_sealed: "sealed".into(),
        active: true,
        created_at: 12,
    };
    store
        .put_access_key(&key("AKIAKEYOFCI000000001", "ci"))
        .await
        .unwrap();
    store
        .put_access_key(&key("AKIAKEYOFADMIN000001", "admin"))
        .await
        .unwrap();
    let listed: Vec<(String, String)> = store
        .access_keys_of_account(acct)
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.user_name, k.id))
        .collect();
    assert_eq!(
        listed,
        [
            ("admin".to_string(), "AKIAKEYOFADMIN000001".to_string()),
            ("ci".to_string(), "AKIAKEYOFCI000000001".to_string())
        ]
    );
    // Another account cannot delete it.
    assert!(!store
        .delete_access_key("000000000001", "AKIAKEYOFCI000000001")
        .await
        .unwrap());
    assert!(store
        .delete_access_key(acct, "AKIAKEYOFCI000000001")
        .await
        .unwrap());
    assert!(!store
        .delete_access_key(acct, "AKIAKEYOFCI000000001")
        .await
        .unwrap());
    assert_eq!(
        store.get_access_key("AKIAKEYOFCI000000001").await.unwrap(),
        None
    );
    assert_eq!(store.access_keys_of(acct, "ci").await.unwrap(), []);
}

/// The IAM API's records: user ids and paths, the two-key limit, inactive
/// keys, inline policies, managed policies and attachments, and deletes
/// refused while something still hangs off the user or policy.
async fn iam_users_and_policies(store: &dyn MetadataStore) {
    let acct = "444444444444";
    store.create_account(acct, "admin", 1).await.unwrap();
    let CreateUserOutcome::Created(u) = store.create_user(acct, "dev", "/team/", 2).await.unwrap()
    else {
        panic!("user not created");
    };
    assert_eq!(u.path, "/team/");
    assert!(
        u.user_id.starts_with("AIDA") && u.user_id.len() == 21,
        "{}",
        u.user_id
    );
    assert_eq!(store.get_user(acct, "dev").await.unwrap(), Some(u.clone()));
    let admin = store.get_user(acct, "admin").await.unwrap().unwrap();
    assert_eq!(admin.path, "/");
    assert_eq!(admin.user_id.len(), 21);
    assert_ne!(admin.user_id, u.user_id);

    // At most `max` keys per user, counted in the inserting transaction.
    let key = |id: &str| AccessKeyRecord {
        id: id.into(),
        account_id: acct.into(),
        user_name: "dev".into(),
        secret_sealed: "sealed".into(),
        active: true,
        created_at: 3,
    };
    assert!(store
        .add_access_key(&key("AKIADEV0000000000001"), 2)
        .await
        .unwrap());
    assert!(store
        .add_access_key(&key("AKIADEV0000000000002"), 2)
        .await
        .unwrap());
    assert!(!store
        .add_access_key(&key("AKIADEV0000000000003"), 2)
        .await
        .unwrap());
    assert_eq!(
        store.get_access_key("AKIADEV0000000000003").await.unwrap(),
        None
    );
    assert!(store
        .set_access_key_active(acct, "dev", "AKIADEV0000000000001", false)
        .await
        .unwrap());
    assert!(
        !store
            .get_access_key("AKIADEV0000000000001")
            .await
            .unwrap()
            .unwrap()
            .active
    );
    // Only through the key's own user.
    assert!(!store
        .set_access_key_active(acct, "admin", "AKIADEV0000000000002", false)
        .await
        .unwrap());

    // Inline policies.
    assert!(store
        .put_user_policy(acct, "dev", "p1", "{\"a\":1}")
        .await
        .unwrap());
    assert!(store
        .put_user_policy(acct, "dev", "p1", "{\"a\":2}")
        .await
        .unwrap());
    assert!(store
        .put_user_policy(acct, "dev", "p0", "{}")
        .await
        .unwrap());
    assert!(!store
        .put_user_policy(acct, "nobody", "p1", "{}")
        .await
        .unwrap());
    assert_eq!(
        store
            .get_user_policy(acct, "dev", "p1")
            .await
            .unwrap()
            .as_deref(),
        Some("{\"a\":2}")
    );
    assert_eq!(
        store.list_user_policies(acct, "dev").await.unwrap(),
        ["p0", "p1"]
    );

    // Managed policies and attachments.
    let arn = format!("arn:aws:iam::{acct}:policy/team/deploy");
    let policy = ManagedPolicyRecord {
        account_id: acct.into(),
        name: "deploy".into(),
        path: "/team/".into(),
        arn: arn.clone(),
        policy_id: "ANPA00000000000000001".into(),
        description: Some("d".into()),
        default_version: "v1".into(),
        created_at: 4,
        updated_at: 4,
        attachment_count: 0,
    };
    assert!(store
        .create_managed_policy(&policy, "{\"v\":1}")
        .await
        .unwrap());
    let mut other_path = policy.clone();
    other_path.arn = format!("arn:aws:iam::{acct}:policy/deploy");
    assert!(
        !store
            .create_managed_policy(&other_path, "{}")
            .await
            .unwrap(),
        "names are unique per account"
    );
    assert_eq!(
        store.get_managed_policy(acct, &arn).await.unwrap(),
        Some(policy.clone())
    );
    assert_eq!(
        store
            .get_managed_policy("000000000001", &arn)
            .await
            .unwrap(),
        None
    );
    let v1 = store
        .get_policy_version(acct, &arn, "v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((v1.document.as_str(), v1.is_default), ("{\"v\":1}", true));
    assert_eq!(
        store.get_policy_version(acct, &arn, "v2").await.unwrap(),
        None
    );

    let aws = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
    let missing = format!("arn:aws:iam::{acct}:policy/missing");
    assert_eq!(
        store
            .attach_user_policy(acct, "dev", &arn, true, 5)
            .await
            .unwrap(),
        AttachOutcome::Attached
    );
    assert_eq!(
        store
            .attach_user_policy(acct, "dev", &arn, true, 6)
            .await
            .unwrap(),
        AttachOutcome::Attached
    );
    assert_eq!(
        store
            .attach_user_policy(acct, "dev", aws, false, 5)
            .await
            .unwrap(),
        AttachOutcome::Attached
    );
    assert_eq!(
        store
            .attach_user_policy(acct, "dev", &missing, true, 5)
            .await
            .unwrap(),
        AttachOutcome::NoSuchPolicy
    );
    assert_eq!(
        store
            .attach_user_policy(acct, "nobody", aws, false, 5)
            .await
            .unwrap(),
        AttachOutcome::NoSuchUser
    );
    assert_eq!(
        store.attached_user_policies(acct, "dev").await.unwrap(),
        [arn.clone(), aws.to_string()]
    );
    assert_eq!(store.policy_attachment_count(acct, aws).await.unwrap(), 1);
    let listed = store.list_managed_policies(acct).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].attachment_count, 1);
    assert_eq!(
        store.delete_managed_policy(acct, &arn).await.unwrap(),
        DeletePolicyOutcome::Attached(1)
    );

    // A user is deleted only once nothing hangs off it.
    assert_eq!(
        store.delete_user(acct, "dev").await.unwrap(),
        DeleteUserOutcome::HasAccessKeys
    );
    for id in ["AKIADEV0000000000001", "AKIADEV0000000000002"] {
        assert!(store.delete_access_key(acct, id).await.unwrap());
    }
    assert_eq!(
        store.delete_user(acct, "dev").await.unwrap(),
        DeleteUserOutcome::HasInlinePolicies
    );
    assert!(store.delete_user_policy(acct, "dev", "p0").await.unwrap());
    assert!(store.delete_user_policy(acct, "dev", "p1").await.unwrap());
    assert!(!store.delete_user_policy(acct, "dev", "p1").await.unwrap());
    assert_eq!(
        store.delete_user(acct, "dev").await.unwrap(),
        DeleteUserOutcome::HasAttachedPolicies
    );
    assert!(store.detach_user_policy(acct, "dev", &arn).await.unwrap());
    assert!(!store.detach_user_policy(acct, "dev", &arn).await.unwrap());
    assert!(store.detach_user_policy(acct, "dev", aws).await.unwrap());
    assert_eq!(
        store.delete_user(acct, "dev").await.unwrap(),
        DeleteUserOutcome::Deleted
    );
    assert_eq!(
        store.delete_user(acct, "dev").await.unwrap(),
        DeleteUserOutcome::NotFound
    );
    assert_eq!(
        store.delete_managed_policy(acct, &arn).await.unwrap(),
        DeletePolicyOutcome::Deleted
    );
    assert_eq!(
        store.get_policy_version(acct, &arn, "v1").await.unwrap(),
        None
    );
    assert_eq!(
        store.delete_managed_policy(acct, &arn).await.unwrap(),
        DeletePolicyOutcome::NotFound
    );
}

async fn scanning(store: &dyn MetadataStore, reg: &RegistryKey) {
    let row = |id: &str, modified: &str, json: &str, pkgs: &[(&str, &str)]| VulnRecordRow {
        id: id.into(),
        modified: Some(modified.into()),
        json: json.into(),
        packages: pkgs
            .iter()
            .map(|(e, n)| (e.to_string(), n.to_string()))
            .collect(),
    };
    assert_eq!(store.vuln_source().await.unwrap(), None);
    let o = store
        .import_vuln_records(
            &[
                row(
                    "A-1",
                    "2024-01-01T00:00:00Z",
                    "a1",
                    &[("Debian", "openssl")],
                ),
                row(
                    "A-2",
                    "2024-01-01T00:00:00Z",
                    "a2",
                    &[("Debian", "openssl"), ("PyPI", "x")],
                ),
            ],
            &[],
        )
        .await
        .unwrap();
    assert_eq!((o.stored, o.unchanged, o.removed), (2, 0, 0));
    let keys = |e: &str, n: &str| vec![(e.to_string(), n.to_string())];
    let mut ids = store
        .vuln_record_ids(&keys("Debian", "openssl"))
        .await
        .unwrap();
    ids.sort();
    assert_eq!(ids.len(), 2);
    // An older version changes nothing; a newer one replaces text and keys.
    let o = store
        .import_vuln_records(
            &[
                row("A-1", "2023-01-01T00:00:00Z", "old", &[]),
                row("A-2", "2025-01-01T00:00:00Z", "a2-new", &[("PyPI", "x")]),
            ],
            &[],
        )
        .await
        .unwrap();
    assert_eq!((o.stored, o.unchanged), (1, 1));
    assert_eq!(
        store
            .vuln_record_ids(&keys("Debian", "openssl"))
            .await
            .unwrap(),
        [("A-1".to_string(), Some("2024-01-01T00:00:00Z".to_string()))]
    );
    let recs = store
        .vuln_records(&["A-1".into(), "A-2".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().any(|r| r.0 == "A-2" && r.2 == "a2-new"));
    // A withdrawal older than the stored record leaves it; a newer one deletes it.
    let o = store
        .import_vuln_records(&[], &[("A-2".into(), Some("2024-06-01T00:00:00Z".into()))])
        .await
        .unwrap();
    assert_eq!(o.removed, 0);
    let o = store
        .import_vuln_records(&[], &[("A-2".into(), Some("2025-06-01T00:00:00Z".into()))])
        .await
        .unwrap();
    assert_eq!(o.removed, 1);
    assert!(store
        .vuln_record_ids(&keys("PyPI", "x"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.vuln_record_count().await.unwrap(), 1);
    let s1 = store.finish_vuln_import(10).await.unwrap();
    let s2 = store.finish_vuln_import(20).await.unwrap();
    assert_eq!((s2.updated_at, s2.generation), (20, s1.generation + 1));
    assert_eq!(store.vuln_source().await.unwrap(), Some(s2));

    // Layer inventories by digest.
    let layer = Digest::of_bytes(Algorithm::Sha256, b"layer");
    assert_eq!(store.layer_inventory(&layer).await.unwrap(), None);
    store
        .put_layer_inventory(&layer, Some("sha256:x"), b"inv", 1)
        .await
        .unwrap();
    assert_eq!(
        store.layer_inventory(&layer).await.unwrap(),
        Some(b"inv".to_vec())
    );

    // Scans: a finish from a superseded start is discarded.
    let r = store.ensure_repository(reg, "suite/scan", 1).await.unwrap();
    let d = Digest::of_bytes(Algorithm::Sha256, b"image");
    assert_eq!(store.image_scan(r, &d).await.unwrap(), None);
    store.start_image_scan(r, &d, "BASIC", 100).await.unwrap();
    assert_eq!(store.scans_in_progress().await.unwrap().len(), 1);
    assert_eq!(
        store.scans_in_progress().await.unwrap()[0].name,
        "suite/scan"
    );
    store
        .start_image_scan(r, &d, "ENHANCED", 200)
        .await
        .unwrap();
    let outcome = ScanOutcome {
        status: "COMPLETE",
        description: None,
        completed_at: 300,
        source_updated_at: Some(20),
        source_generation: Some(2),
        findings: Some("[]"),
        counts: Some("{}"),
        detection: Some(b"det"),
    };
    assert!(!store.finish_image_scan(r, &d, 100, &outcome).await.unwrap());
    assert!(store.finish_image_scan(r, &d, 200, &outcome).await.unwrap());
    let scan = store.image_scan(r, &d).await.unwrap().unwrap();
    assert_eq!(
        (scan.status.as_str(), scan.scan_type.as_str()),
        ("COMPLETE", "ENHANCED")
    );
    assert_eq!(scan.detection.as_deref(), Some(&b"det"[..]));
    assert_eq!(store.complete_scans(r).await.unwrap().len(), 1);
    assert!(store.scans_in_progress().await.unwrap().is_empty());

    // Registry scanning configurations.
    assert_eq!(store.registry_scanning(reg).await.unwrap(), None);
    store.put_registry_scanning(reg, "{\"a\":1}").await.unwrap();
    store.put_registry_scanning(reg, "{\"a\":2}").await.unwrap();
    assert_eq!(
        store.registry_scanning(reg).await.unwrap().as_deref(),
        Some("{\"a\":2}")
    );
    assert_eq!(store.registry_scanning_all().await.unwrap().len(), 1);
}
