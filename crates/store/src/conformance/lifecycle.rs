//! `LifecycleStore`'s suite: policies, snapshots, expiry's re-checks,
//! previews.

use super::{d, manifest, registry};
use crate::metadata::{
    BlobRecordStore, ExpireImage, ExpireOutcome, ImageStore, LifecyclePolicyRecord, LifecycleStore,
    RepositoryStore,
};
use berth_oci::Digest;

pub async fn lifecycle_store_suite<S>(store: &S)
where
    S: RepositoryStore + BlobRecordStore + ImageStore + LifecycleStore + ?Sized,
{
    let reg = &registry();
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
