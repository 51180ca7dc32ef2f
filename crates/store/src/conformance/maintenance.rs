//! `MaintenanceStore`'s suite: readiness, counts, a clean store's checks,
//! close.

use super::{d, manifest, other_registry, registry, two_repositories, upload_record, LIMITS};
use crate::metadata::{
    BlobRecordStore, ImageStore, MaintenanceStore, RepositoryStore, UnlinkBlobOutcome,
};

pub async fn maintenance_store_suite<S>(store: &S)
where
    S: RepositoryStore + BlobRecordStore + ImageStore + MaintenanceStore + ?Sized,
{
    store.ping().await.expect("ping");
    let (reg, other) = (registry(), other_registry());
    // Four repositories; four blob records, one no longer linked (a record
    // outlives its links until garbage collection).
    let (a, b) = two_repositories(store, &reg).await;
    store
        .ensure_repository(&reg, "team/app-b", 1)
        .await
        .unwrap();
    store.ensure_repository(&other, "base", 1).await.unwrap();
    store.link_blob(a, &d(1), 10, 5).await.unwrap();
    store.link_blob(a, &d(3), 3, 5).await.unwrap();
    store.link_blob(a, &d(2), 20, 7).await.unwrap();
    assert_eq!(
        store.unlink_blob(a, &d(2)).await.unwrap(),
        UnlinkBlobOutcome::Unlinked
    );
    store
        .create_upload(&upload_record(b), LIMITS)
        .await
        .unwrap();
    store
        .complete_upload("u1", b, &d(20), 50, 300)
        .await
        .unwrap();

    let c = store.counts().await.unwrap();
    assert_eq!(
        (c.repositories, c.blobs, c.blob_bytes),
        (4, 4, 10 + 3 + 20 + 50)
    );

    // A store written only through its API is consistent.
    assert_eq!(
        store.integrity_problems().await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(store.consistency_problems().await.unwrap(), vec![]);
    assert!(store.upload_sessions().await.unwrap().is_empty());
    // An open session is listed with everything its row holds.
    store
        .create_upload(&upload_record(b), LIMITS)
        .await
        .unwrap();
    assert!(store
        .set_upload_size("u1", 0, 7, b"state", 400)
        .await
        .unwrap());
    let sessions = store.upload_sessions().await.unwrap();
    assert_eq!(
        sessions
            .iter()
            .map(|u| (u.id.as_str(), u.size, u.hash_state.as_deref()))
            .collect::<Vec<_>>(),
        vec![("u1", 7, Some(&b"state"[..]))]
    );
    store.delete_upload("u1").await.unwrap();

    // A manifest body is replaced only over the body it had.
    let m = d(90);
    store
        .put_manifest(a, manifest(&m, b"plain", &[], &[], None))
        .await
        .unwrap();
    let key = m.to_string();
    assert!(!store
        .replace_manifest_body(&key, b"other", b"sealed")
        .await
        .unwrap());
    assert!(store
        .replace_manifest_body(&key, b"plain", b"sealed")
        .await
        .unwrap());
    let bodies = store.manifest_bodies(None, 10).await.unwrap();
    assert!(bodies.iter().any(|(k, b)| *k == key && &b[..] == b"sealed"));
    // A body only a repository keeps (in its key's domain) leaves a
    // placeholder that the listing of shared bodies leaves out.
    let own = d(91);
    store
        .put_manifest(
            a,
            crate::metadata::NewManifest {
                repository_body: true,
                ..manifest(&own, b"own", &[], &[], None)
            },
        )
        .await
        .unwrap();
    let bodies = store.manifest_bodies(None, 10).await.unwrap();
    assert!(!bodies.iter().any(|(k, _)| *k == own.to_string()));

    store.close().await;
    assert!(store.ping().await.is_err(), "a closed store refuses calls");
}
