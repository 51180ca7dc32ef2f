//! The archive storage class on real stores: what archiving hides, where
//! the bytes go, restoring (by request, by push, after a crash), indexes,
//! garbage collection and lifecycle transitions.

use crate::test_fixture::*;
use crate::*;
use berth_oci::{Digest, Reference};
use berth_store::{BlobStore, FsBlobStore, ImageStatus, StatusFilter, TagStatus};
use bytes::Bytes;
use std::sync::atomic::Ordering;

const DAY: i64 = 86_400_000;

/// Pushes an image whose config and layers are the given bytes.
async fn push_with(
    reg: &Registry,
    r: &Repo,
    config: &str,
    layers: &[&str],
    tag_name: Option<&str>,
) -> (Digest, Vec<Digest>) {
    let c = sha(config.as_bytes());
    reg.upload_blob(r, &c, body(&[config.as_bytes()]))
        .await
        .unwrap();
    let mut ls = Vec::new();
    for l in layers {
        let d = sha(l.as_bytes());
        reg.upload_blob(r, &d, body(&[l.as_bytes()])).await.unwrap();
        ls.push(d);
    }
    let m = image_manifest(&c, &ls.iter().collect::<Vec<_>>());
    let reference = match tag_name {
        Some(t) => tag(t),
        None => Reference::Digest(sha(&m)),
    };
    let put = reg.put_manifest(r, &reference, None, m).await.unwrap();
    (put.digest, ls)
}

async fn status(reg: &Registry, r: &Repo, d: &Digest) -> berth_store::ImageRecord {
    reg.image_details(r, std::slice::from_ref(d))
        .await
        .unwrap()
        .pop()
        .expect("the image exists")
        .record
}

/// Until the background restore has finished: the store says ACTIVE and
/// the registry serves the manifest. The restore commits first and drops
/// the cached (archived) entries after, so the store alone can say ACTIVE
/// a moment before a pull sees it (the cache's generation protocol).
async fn until_active(reg: &Registry, r: &Repo, d: &Digest) {
    for _ in 0..500 {
        if status(reg, r, d).await.status == ImageStatus::Active
            && reg
                .get_manifest(r, &Reference::Digest(d.clone()), &[])
                .await
                .is_ok()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{d} never became ACTIVE");
}

async fn archive_store(root: &std::path::Path) -> FsBlobStore {
    FsBlobStore::open(root.join("archive")).await.unwrap()
}

async fn blob_store(root: &std::path::Path) -> FsBlobStore {
    FsBlobStore::open(root.join("blobs")).await.unwrap()
}

async fn ids(reg: &Registry, r: &Repo, by: StatusFilter) -> Vec<Digest> {
    reg.image_digests(r, TagStatus::Any, by, None, 100)
        .await
        .unwrap()
}

#[tokio::test]
async fn archiving_hides_an_image_moves_its_own_bytes_and_restoring_brings_it_back() {
    let f = fixture().await;
    let reg = Arc::new(registry_at(&f.root, f.clock.clone()).await);
    let r = repo("team/app");
    let (old, old_layers) = push_with(
        &reg,
        &r,
        "config old",
        &["base layer", "old layer"],
        Some("v1"),
    )
    .await;
    let (new, _) = push_with(
        &reg,
        &r,
        "config new",
        &["base layer", "new layer"],
        Some("v2"),
    )
    .await;
    let (base, own) = (&old_layers[0], &old_layers[1]);
    let t0 = f.clock.now_millis();

    let (d, s) = reg
        .update_storage_class(&r, &tag("v1"), true)
        .await
        .unwrap();
    assert_eq!((d, s), (old.clone(), ImageStatus::Archived));

    // Not pullable, by tag or digest; its own layer is not readable, the
    // layer it shares with an ACTIVE image is.
    for reference in [tag("v1"), Reference::Digest(old.clone())] {
        let err = reg.get_manifest(&r, &reference, &[]).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::ImageArchived {
                    status: ImageStatus::Archived,
                    ..
                }
            ),
            "{err}"
        );
    }
    let err = reg.read_blob(&r, own, None).await.err().unwrap();
    assert!(matches!(err, Error::BlobArchived(_)), "{err}");
    assert_eq!(read_all(&reg, &r, base).await, b"base layer");
    assert!(reg.blob_is_archived(own).await.unwrap());
    assert!(!reg.blob_is_archived(base).await.unwrap());
    // The bytes moved: the archive holds the image's own blobs, the blob
    // store only what ACTIVE images use.
    let (archive, blobs) = (archive_store(&f.root).await, blob_store(&f.root).await);
    assert_eq!(archive.stat(own).await.unwrap(), Some(9));
    assert_eq!(blobs.stat(own).await.unwrap(), None);
    assert_eq!(archive.stat(base).await.unwrap(), None);
    assert_eq!(blobs.stat(base).await.unwrap(), Some(10));
    // fsck knows where archived bytes belong: nothing to report.
    let report = reg
        .fsck(FsckOptions {
            deep: true,
            repair: false,
        })
        .await
        .unwrap();
    assert_eq!(report.problems, [], "{report:?}");

    // Listed only through the status filter; its tag is not in /v2 listings.
    let active = StatusFilter::Only(ImageStatus::Active);
    assert_eq!(ids(&reg, &r, active).await, std::slice::from_ref(&new));
    assert_eq!(
        ids(&reg, &r, StatusFilter::Only(ImageStatus::Archived)).await,
        std::slice::from_ref(&old)
    );
    assert_eq!(ids(&reg, &r, StatusFilter::Any).await.len(), 2);
    assert_eq!(reg.list_tags(&r, None, 100).await.unwrap().items, ["v2"]);
    let rec = status(&reg, &r, &old).await;
    assert_eq!(
        (rec.status, rec.archived_at, rec.activated_at),
        (ImageStatus::Archived, Some(t0), None)
    );
    // Archiving again changes nothing.
    assert_eq!(
        reg.update_storage_class(&r, &tag("v1"), true)
            .await
            .unwrap()
            .1,
        ImageStatus::Archived
    );

    // Restoring answers ACTIVATING, then the image is ACTIVE and pullable.
    f.clock.0.store(t0 + DAY, Ordering::SeqCst);
    let (_, s) = reg
        .update_storage_class(&r, &Reference::Digest(old.clone()), false)
        .await
        .unwrap();
    assert!(
        matches!(s, ImageStatus::Activating | ImageStatus::Active),
        "{s:?}"
    );
    until_active(&reg, &r, &old).await;
    let rec = status(&reg, &r, &old).await;
    assert_eq!(
        (rec.archived_at, rec.activated_at),
        (Some(t0), Some(t0 + DAY))
    );
    reg.get_manifest(&r, &tag("v1"), &[]).await.unwrap();
    assert_eq!(read_all(&reg, &r, own).await, b"old layer");
    assert!(!reg.blob_is_archived(own).await.unwrap());
    assert_eq!(archive.stat(own).await.unwrap(), None);
    assert_eq!(
        reg.list_tags(&r, None, 100).await.unwrap().items,
        ["v1", "v2"]
    );
    // Restoring an ACTIVE image changes nothing.
    assert_eq!(
        reg.update_storage_class(&r, &tag("v1"), false)
            .await
            .unwrap()
            .1,
        ImageStatus::Active
    );
}

#[tokio::test]
async fn pushing_an_archived_image_again_restores_it() {
    let f = fixture().await;
    let reg = Arc::new(registry_at(&f.root, f.clock.clone()).await);
    let r = repo("team/app");
    let (d, layers) = push_with(&reg, &r, "config", &["only layer"], Some("v1")).await;
    reg.update_storage_class(&r, &tag("v1"), true)
        .await
        .unwrap();
    assert!(reg.blob_is_archived(&layers[0]).await.unwrap());
    // A client that finds the layers (HEAD) pushes only the manifest: the
    // push brings the bytes back before it stores.
    f.clock.0.store(f.clock.now_millis() + 5, Ordering::SeqCst);
    let m = image_manifest(&sha(b"config"), &[&layers[0]]);
    let put = reg.put_manifest(&r, &tag("v1"), None, m).await.unwrap();
    assert_eq!(put.digest, d);
    let rec = status(&reg, &r, &d).await;
    assert_eq!(rec.status, ImageStatus::Active);
    assert_eq!(rec.activated_at, Some(f.clock.now_millis()));
    reg.get_manifest(&r, &tag("v1"), &[]).await.unwrap();
    assert_eq!(read_all(&reg, &r, &layers[0]).await, b"only layer");
    assert!(!reg.blob_is_archived(&layers[0]).await.unwrap());

    // A client that uploads the layer again, then the manifest, too.
    reg.update_storage_class(&r, &tag("v1"), true)
        .await
        .unwrap();
    reg.upload_blob(&r, &layers[0], body(&[b"only layer"]))
        .await
        .unwrap();
    let m = image_manifest(&sha(b"config"), &[&layers[0]]);
    reg.put_manifest(&r, &tag("v1"), None, m).await.unwrap();
    assert_eq!(read_all(&reg, &r, &layers[0]).await, b"only layer");
    assert_eq!(
        archive_store(&f.root).await.stat(&layers[0]).await.unwrap(),
        None,
        "no copy is left behind in the archive"
    );
}

fn index_of(children: &[&Digest]) -> Bytes {
    let ms: Vec<String> = children
        .iter()
        .map(|d| format!(r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}"#, size_of(d)))
        .collect();
    Bytes::from(format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        ms.join(",")
    ))
}

#[tokio::test]
async fn an_index_is_archived_and_restored_with_its_images() {
    let f = fixture().await;
    let reg = Arc::new(registry_at(&f.root, f.clock.clone()).await);
    let r = repo("team/multi");
    let (amd, amd_layers) = push_with(&reg, &r, "config amd64", &["amd64 layer"], None).await;
    let (arm, _) = push_with(&reg, &r, "config arm64", &["arm64 layer"], None).await;
    let index = reg
        .put_manifest(&r, &tag("v1"), None, index_of(&[&amd, &arm]))
        .await
        .unwrap()
        .digest;

    let err = reg
        .update_storage_class(&r, &Reference::Digest(amd.clone()), true)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::StorageClassUpdateNotSupported(m) if m.contains(index.as_str())),
        "{err}"
    );
    reg.update_storage_class(&r, &tag("v1"), true)
        .await
        .unwrap();
    for d in [&index, &amd, &arm] {
        assert_eq!(status(&reg, &r, d).await.status, ImageStatus::Archived);
    }
    assert!(reg.blob_is_archived(&amd_layers[0]).await.unwrap());
    assert!(ids(&reg, &r, StatusFilter::Only(ImageStatus::Active))
        .await
        .is_empty());

    reg.update_storage_class(&r, &tag("v1"), false)
        .await
        .unwrap();
    until_active(&reg, &r, &index).await;
    for d in [&amd, &arm] {
        assert_eq!(status(&reg, &r, d).await.status, ImageStatus::Active);
    }
    assert_eq!(read_all(&reg, &r, &amd_layers[0]).await, b"amd64 layer");
}

#[tokio::test]
async fn garbage_collection_frees_archived_bytes_once_their_image_is_deleted() {
    let f = fixture().await;
    let reg = Arc::new(registry_at(&f.root, f.clock.clone()).await);
    let r = repo("team/app");
    let (d, layers) = push_with(&reg, &r, "config gc", &["layer gc"], Some("v1")).await;
    reg.update_storage_class(&r, &tag("v1"), true)
        .await
        .unwrap();
    // While the archived image exists, collection keeps its bytes.
    f.clock
        .0
        .store(f.clock.now_millis() + 2 * DAY, Ordering::SeqCst);
    gc(&reg, gc_now(0)).await;
    let archive = archive_store(&f.root).await;
    assert_eq!(archive.stat(&layers[0]).await.unwrap(), Some(8));
    // BatchDeleteImage may delete an archived image; collection then frees
    // the archive's copy.
    reg.delete_manifest(&r, &Reference::Digest(d))
        .await
        .unwrap();
    let run = gc(&reg, gc_now(0)).await;
    assert_eq!(run.blobs_deleted, 2, "{run:?}");
    assert_eq!(archive.stat(&layers[0]).await.unwrap(), None);
    // An archive file no record owns (a crash mid-delete) is swept.
    let stray = sha(b"stray");
    copy_in(&archive, &stray, b"stray").await;
    // The test clock is far in the past: move it past the file's mtime.
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    f.clock.0.store(wall + 2 * DAY, Ordering::SeqCst);
    let run = gc(&reg, gc_now(0)).await;
    assert_eq!(run.orphan_files, 1, "{run:?}");
    assert_eq!(archive.stat(&stray).await.unwrap(), None);
}

async fn copy_in(store: &FsBlobStore, d: &Digest, bytes: &'static [u8]) {
    let id = uuid::Uuid::new_v4().to_string();
    let mut w = store.upload_writer(&id, 0).await.unwrap();
    w.write(Bytes::from_static(bytes)).await.unwrap();
    w.finish().await.unwrap();
    store.commit_upload(&id, d).await.unwrap();
}

#[tokio::test]
async fn moves_a_crash_interrupted_are_finished_at_start() {
    let f = fixture().await;
    let r = repo("team/app");
    let (archived, a_layers) = {
        let reg = registry_at(&f.root, f.clock.clone()).await;
        let pushed = push_with(&reg, &r, "config a", &["layer a"], Some("a")).await;
        let restoring = push_with(&reg, &r, "config b", &["layer b"], Some("b")).await;
        let repo_id = reg.repo_id(&r).await.unwrap();
        // A crash after "image ARCHIVED, blob marked" and before the copy.
        let images =
            [pushed.0.clone(), restoring.0.clone()].map(|digest| berth_store::ArchiveImage {
                digest,
                expected: None,
            });
        reg.meta
            .archive_images(repo_id, &images, f.clock.now_millis())
            .await
            .unwrap();
        for l in &pushed.1 {
            assert!(reg.meta.mark_blob_archived(l).await.unwrap());
        }
        // ...and a restore stopped after "ACTIVATING".
        reg.meta.start_restore(repo_id, &restoring.0).await.unwrap();
        pushed
    };
    let reg = registry_at(&f.root, f.clock.clone()).await;
    // fsck sees the unfinished move as harmless garbage, not damage.
    let report = reg
        .fsck(FsckOptions {
            deep: false,
            repair: false,
        })
        .await
        .unwrap();
    assert_eq!(report.damage(), 0, "{report:?}");
    let kinds: Vec<&str> = report.problems.iter().map(|p| p.kind).collect();
    assert!(kinds.contains(&"archive-move-unfinished"), "{kinds:?}");
    assert_eq!(reg.resume_storage_moves().await.unwrap(), (1, 1));
    let report = reg
        .fsck(FsckOptions {
            deep: true,
            repair: false,
        })
        .await
        .unwrap();
    assert_eq!(report.problems, [], "{report:?}");
    let (archive, blobs) = (archive_store(&f.root).await, blob_store(&f.root).await);
    assert_eq!(archive.stat(&a_layers[0]).await.unwrap(), Some(7));
    assert_eq!(blobs.stat(&a_layers[0]).await.unwrap(), None);
    assert_eq!(
        status(&reg, &r, &archived).await.status,
        ImageStatus::Archived
    );
    reg.get_manifest(&r, &tag("b"), &[]).await.unwrap();
    // Nothing left to do the next time.
    assert_eq!(reg.resume_storage_moves().await.unwrap(), (0, 0));
}

#[tokio::test]
async fn lifecycle_archives_unpulled_images_and_expires_them_90_days_later() {
    // The ECR guide's second example: transition after 30 days without a
    // pull, expire 90 days after the transition.
    let f = fixture().await;
    let reg = Arc::new(registry_at(&f.root, f.clock.clone()).await);
    let r = repo("team/app");
    let t0 = f.clock.now_millis();
    let (idle, idle_layers) =
        push_with(&reg, &r, "config idle", &["idle layer"], Some("idle")).await;
    let (busy, _) = push_with(&reg, &r, "config busy", &["busy layer"], Some("busy")).await;
    let policy = r#"{"rules":[
        {"rulePriority":1,"description":"archive images not pulled for 30 days","selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}},
        {"rulePriority":2,"description":"delete images archived for 90 days","selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90},"action":{"type":"expire"}}]}"#;
    reg.put_lifecycle_policy(&r.registry, r.name.as_str(), policy)
        .await
        .unwrap();
    f.clock.0.store(t0 + 20 * DAY, Ordering::SeqCst);
    let pulled = reg.get_manifest(&r, &tag("busy"), &[]).await.unwrap();
    reg.record_pull(&pulled);
    f.clock.0.store(t0 + 31 * DAY, Ordering::SeqCst);

    reg.start_lifecycle_preview(&r, None).await.unwrap();
    let preview = reg.lifecycle_preview(&r).await.unwrap();
    assert_eq!(preview.results.len(), 1);
    assert_eq!(preview.results[0].digest, idle);
    let run = reg.run_lifecycle().await.unwrap();
    assert_eq!((run.transitioned, run.expired), (1, 0), "{run:?}");
    let rec = status(&reg, &r, &idle).await;
    assert_eq!(
        (rec.status, rec.archived_at),
        (ImageStatus::Archived, Some(t0 + 31 * DAY))
    );
    assert!(reg.blob_is_archived(&idle_layers[0]).await.unwrap());
    assert_eq!(status(&reg, &r, &busy).await.status, ImageStatus::Active);

    // 89 days in the archive: kept (busy, last pulled on day 20, goes to
    // the archive now). 91 days: expired.
    f.clock.0.store(t0 + 120 * DAY, Ordering::SeqCst);
    let run = reg.run_lifecycle().await.unwrap();
    assert_eq!((run.transitioned, run.expired), (1, 0), "{run:?}");
    f.clock.0.store(t0 + 122 * DAY, Ordering::SeqCst);
    let run = reg.run_lifecycle().await.unwrap();
    assert_eq!((run.transitioned, run.expired), (0, 1), "{run:?}");
    assert!(reg
        .image_details(&r, std::slice::from_ref(&idle))
        .await
        .unwrap()
        .is_empty());
}

/// A repository of another account (tenant A) in the same region.
fn other_tenant(name: &str) -> Repo {
    let mut r = repo(name);
    r.registry.account_id = "111111111111".into();
    r
}

/// Issue 17 item 12: tenant A uploaded a blob and has not referenced it
/// yet; tenant B pushes an image with a layer of the same bytes and
/// archives it. B's archive must not hide the bytes from A: the blob stays
/// in the blob store (only B's own layer moves).
#[tokio::test]
async fn another_tenants_archive_never_hides_bytes_a_repository_has_linked() {
    let f = fixture().await;
    let reg = Arc::new(registry_at(&f.root, f.clock.clone()).await);
    let a = other_tenant("a/app");
    let b = repo("b/app");
    let x = sha(b"shared layer");
    reg.upload_blob(&a, &x, body(&[b"shared layer"]))
        .await
        .unwrap();
    let (img, layers) = push_with(
        &reg,
        &b,
        "config b",
        &["shared layer", "b's own"],
        Some("v1"),
    )
    .await;
    assert_eq!(layers[0], x);
    reg.update_storage_class(&b, &tag("v1"), true)
        .await
        .unwrap();

    assert_eq!(read_all(&reg, &a, &x).await, b"shared layer");
    assert!(!reg.blob_is_archived(&x).await.unwrap());
    assert_eq!(blob_store(&f.root).await.stat(&x).await.unwrap(), Some(12));
    // B's own layer moved as before.
    assert!(reg.blob_is_archived(&layers[1]).await.unwrap());
    let archive = archive_store(&f.root).await;
    assert_eq!(archive.stat(&layers[1]).await.unwrap(), Some(7));
    assert_eq!(archive.stat(&x).await.unwrap(), None);

    // B's image restores as usual; A still reads.
    reg.update_storage_class(&b, &tag("v1"), false)
        .await
        .unwrap();
    until_active(&reg, &b, &img).await;
    assert_eq!(read_all(&reg, &b, &layers[1]).await, b"b's own");
    assert_eq!(read_all(&reg, &a, &x).await, b"shared layer");
}

/// The reverse order: B archives first (the bytes move to the archive),
/// then A uploads the same bytes, monolithic or in a session: A reads them
/// (the upload brings them back into the blob store). A mount from an
/// archived link is not done (the client uploads instead). B's image still
/// restores.
#[tokio::test]
async fn bytes_another_tenant_archived_are_readable_by_a_later_uploader() {
    let f = fixture().await;
    let reg = Arc::new(registry_at(&f.root, f.clock.clone()).await);
    let a = other_tenant("a/app");
    let b = repo("b/app");
    let (img, layers) = push_with(
        &reg,
        &b,
        "config b",
        &["layer one", "layer two", "layer three"],
        Some("v1"),
    )
    .await;
    reg.update_storage_class(&b, &tag("v1"), true)
        .await
        .unwrap();
    for l in &layers {
        assert!(reg.blob_is_archived(l).await.unwrap());
    }

    // Monolithic upload.
    reg.upload_blob(&a, &layers[0], body(&[b"layer one"]))
        .await
        .unwrap();
    assert_eq!(read_all(&reg, &a, &layers[0]).await, b"layer one");
    assert!(!reg.blob_is_archived(&layers[0]).await.unwrap());
    assert_eq!(
        archive_store(&f.root).await.stat(&layers[0]).await.unwrap(),
        None
    );

    // An upload session.
    let up = reg.start_upload(&a, None).await.unwrap();
    reg.append_upload(&a, &up.id, None, body(&[b"layer ", b"two"]))
        .await
        .unwrap();
    reg.complete_upload(&a, &up.id, &layers[1], None, None)
        .await
        .unwrap();
    assert_eq!(read_all(&reg, &a, &layers[1]).await, b"layer two");

    // A mount (within B's registry) of a blob whose bytes are archived is
    // refused: the client uploads, which brings them back.
    let b2 = repo("b/other");
    reg.start_upload(&b2, None).await.unwrap();
    let from = berth_oci::RepositoryName::parse("b/app").unwrap();
    assert!(reg
        .mount_blob(&b2, &from, &layers[2])
        .await
        .unwrap()
        .is_none());
    assert!(reg.blob_is_archived(&layers[2]).await.unwrap());
    reg.upload_blob(&b2, &layers[2], body(&[b"layer three"]))
        .await
        .unwrap();
    assert_eq!(read_all(&reg, &b2, &layers[2]).await, b"layer three");

    // B's archived image is still archived, and restores whole.
    assert_eq!(status(&reg, &b, &img).await.status, ImageStatus::Archived);
    reg.update_storage_class(&b, &tag("v1"), false)
        .await
        .unwrap();
    until_active(&reg, &b, &img).await;
    for (l, bytes) in layers
        .iter()
        .zip([&b"layer one"[..], b"layer two", b"layer three"])
    {
        assert_eq!(read_all(&reg, &b, l).await, bytes);
    }
}
