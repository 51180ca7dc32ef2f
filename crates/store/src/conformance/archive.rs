//! `ArchiveStore`'s suite: archiving re-checks the image, an index's
//! listing keeps a manifest ACTIVE, which blobs may move, and a restore's
//! two steps.

use super::{d, manifest, registry};
use crate::metadata::{
    ArchiveImage, ArchiveOutcome, ArchiveStore, BlobRecordStore, ImageStatus, ImageStore,
    RepositoryStore, RestoreOutcome,
};

pub async fn archive_store_suite<S>(store: &S)
where
    S: RepositoryStore + BlobRecordStore + ImageStore + ArchiveStore + ?Sized,
{
    let reg = registry();
    let r = store
        .ensure_repository(&reg, "suite/archive", 1)
        .await
        .unwrap();
    let (cfg, layer, img) = (d(70), d(71), d(72));
    store.link_blob(r, &cfg, 1, 100).await.unwrap();
    store.link_blob(r, &layer, 1, 100).await.unwrap();
    let blobs = [(cfg.clone(), 1), (layer.clone(), 1)];
    store
        .put_manifest(r, manifest(&img, b"img", &blobs, &[], Some("t")))
        .await
        .unwrap();

    // Archiving with `expected` re-checks push time and tags.
    let archive = |expected| ArchiveImage {
        digest: img.clone(),
        expected,
    };
    assert_eq!(
        store
            .archive_images(r, &[archive(Some((999, vec!["t".into()])))], 2000)
            .await
            .unwrap(),
        [ArchiveOutcome::Changed]
    );
    assert_eq!(
        store
            .archive_images(
                r,
                &[
                    archive(Some((1000, vec!["t".into()]))),
                    ArchiveImage {
                        digest: d(79),
                        expected: None
                    }
                ],
                2000
            )
            .await
            .unwrap(),
        [
            ArchiveOutcome::Archived {
                manifests: vec![img.clone()],
                tags: vec!["t".into()]
            },
            ArchiveOutcome::NotFound
        ]
    );
    assert_eq!(
        store
            .archive_images(r, &[archive(None)], 2001)
            .await
            .unwrap(),
        [ArchiveOutcome::AlreadyArchived]
    );
    assert_eq!(
        store.get_manifest(r, &img).await.unwrap().unwrap().status,
        ImageStatus::Archived
    );

    // Its blobs may move: only archived manifests reference them.
    let mut both = vec![cfg.clone(), layer.clone()];
    both.sort();
    assert_eq!(
        store
            .blobs_only_archived(r, std::slice::from_ref(&img))
            .await
            .unwrap(),
        both
    );
    assert!(store.mark_blob_archived(&cfg).await.unwrap());
    assert!(
        !store.mark_blob_archived(&cfg).await.unwrap(),
        "already archived"
    );
    assert_eq!(store.blob_archived(&cfg).await.unwrap(), Some(true));
    assert_eq!(store.blob_archived(&layer).await.unwrap(), Some(false));
    assert_eq!(store.blob_archived(&d(99)).await.unwrap(), None);
    assert_eq!(
        store.archived_blobs(None, 10).await.unwrap(),
        std::slice::from_ref(&cfg)
    );

    // Restoring: ARCHIVED -> ACTIVATING, the bytes come back, -> ACTIVE.
    assert_eq!(
        store.start_restore(r, &img).await.unwrap(),
        RestoreOutcome::Activating(vec![img.clone()])
    );
    assert_eq!(
        store
            .archive_images(r, &[archive(None)], 2002)
            .await
            .unwrap(),
        [ArchiveOutcome::Activating]
    );
    assert_eq!(store.activating_images().await.unwrap(), [(r, img.clone())]);
    assert_eq!(
        store
            .archived_blobs_of(r, std::slice::from_ref(&img))
            .await
            .unwrap(),
        std::slice::from_ref(&cfg)
    );
    store.mark_blob_standard(&cfg).await.unwrap();
    assert_eq!(store.blob_archived(&cfg).await.unwrap(), Some(false));
    assert_eq!(
        store
            .finish_restore(r, std::slice::from_ref(&img), 3000)
            .await
            .unwrap(),
        ["t"]
    );
    assert!(store.activating_images().await.unwrap().is_empty());
    assert_eq!(
        store.start_restore(r, &img).await.unwrap(),
        RestoreOutcome::AlreadyActive
    );
    assert_eq!(
        store.start_restore(r, &d(79)).await.unwrap(),
        RestoreOutcome::NotFound
    );
    assert_eq!(
        store.get_manifest(r, &img).await.unwrap().unwrap().status,
        ImageStatus::Active
    );

    // A manifest an ACTIVE index lists is archived with the index, not alone.
    let index = d(73);
    store
        .put_manifest(r, manifest(&index, b"idx", &[], &[(img.clone(), 3)], None))
        .await
        .unwrap();
    assert_eq!(
        store
            .archive_images(r, &[archive(None)], 4000)
            .await
            .unwrap(),
        [ArchiveOutcome::ListedByIndex(index.clone())]
    );
}
