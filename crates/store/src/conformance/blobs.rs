//! `BlobRecordStore`'s suite: links, upload sessions and their caps,
//! garbage collection's steps.

use super::{d, registry, two_repositories, upload_record, LIMITS};
use crate::metadata::{
    BlobRecordStore, CollectOutcome, CreateUploadOutcome, RegistryKey, RepoId, RepositoryStore,
    UploadLimits, UploadRecord,
};
use berth_oci::Digest;

pub async fn blob_record_store_suite<S: RepositoryStore + BlobRecordStore + ?Sized>(store: &S) {
    let reg = registry();
    let (a, b) = two_repositories(store, &reg).await;

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

    // Upload sessions: compare-and-set sizes, completion links the blob.
    let up = upload_record(b);
    assert_eq!(
        store.create_upload(&up, LIMITS).await.unwrap(),
        CreateUploadOutcome::Created
    );
    assert!(store.upload_exists("u1").await.unwrap());
    assert_eq!(store.get_upload("u1").await.unwrap().unwrap(), up);
    assert!(store
        .set_upload_size("u1", 0, 50, b"at 50", 200)
        .await
        .unwrap());
    assert!(
        !store
            .set_upload_size("u1", 0, 70, b"at 70", 201)
            .await
            .unwrap(),
        "stale expected size must not apply"
    );
    let got = store.get_upload("u1").await.unwrap().unwrap();
    assert_eq!((got.size, got.updated_at, got.repository), (50, 200, b));
    assert_eq!(
        got.hash_state.as_deref(),
        Some(&b"at 50"[..]),
        "the state moves with the size"
    );
    assert_eq!(
        store.stale_uploads(201, 10).await.unwrap()[0]
            .hash_state
            .as_deref(),
        Some(&b"at 50"[..])
    );
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
    collection(store, &reg).await;
}

/// Open sessions are capped per repository and per opener; a refused
/// session writes nothing, and closing one makes room.
async fn upload_limits<S: BlobRecordStore + ?Sized>(
    store: &S,
    a: RepoId,
    b: RepoId,
    template: &UploadRecord,
) {
    let limits = UploadLimits {
        per_repository: 3,
        per_principal: 2,
    };
    let open = |id: &str, repo: RepoId, by: Option<&str>| UploadRecord {
        id: id.into(),
        repository: repo,
        started_by: by.map(str::to_string),
        hash_state: None,
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

/// Garbage collection over links nothing references.
async fn collection<S: RepositoryStore + BlobRecordStore + ?Sized>(store: &S, reg: &RegistryKey) {
    let r = store.ensure_repository(reg, "suite/gc", 1).await.unwrap();
    let (cfg, layer, loose) = (d(40), d(41), d(42));
    for x in [&cfg, &layer, &loose] {
        store.link_blob(r, x, 1, 100).await.unwrap();
    }

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
