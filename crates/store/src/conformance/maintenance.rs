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
    shared_bodies_end_with_their_last_reader(store, &reg).await;

    store.close().await;
    assert!(store.ping().await.is_err(), "a closed store refuses calls");
}

/// A shared (AES256) body ends when the last manifest reading it goes,
/// though manifests with bodies of their own (under a KMS key) keep the
/// digest: by a manifest's deletion, a repository's, and by the last
/// reader getting a body of its own.
async fn shared_bodies_end_with_their_last_reader<S>(store: &S, reg: &crate::RegistryKey)
where
    S: RepositoryStore + ImageStore + MaintenanceStore + ?Sized,
{
    let kms = super::repository_under_key(
        store,
        reg,
        "suite/under-key",
        "arn:aws:kms:us-east-1:000000000000:key/k",
    )
    .await;
    let shared = |digest: String| async move {
        store
            .manifest_bodies(None, 1000)
            .await
            .unwrap()
            .iter()
            .any(|(k, _)| *k == digest)
    };
    let (x, y, z) = (d(92), d(93), d(94));
    for digest in [&x, &y, &z] {
        let own = crate::metadata::NewManifest {
            repository_body: true,
            ..manifest(digest, b"own", &[], &[], None)
        };
        store.put_manifest(kms, own).await.unwrap();
    }
    // x: an AES256 manifest deleted.
    let p1 = store.ensure_repository(reg, "suite/p1", 1).await.unwrap();
    store
        .put_manifest(p1, manifest(&x, b"shared", &[], &[], None))
        .await
        .unwrap();
    assert!(shared(x.to_string()).await);
    store.delete_manifest(p1, &x).await.unwrap();
    assert!(!shared(x.to_string()).await);
    // y: an AES256 repository deleted.
    let p2 = store.ensure_repository(reg, "suite/p2", 1).await.unwrap();
    store
        .put_manifest(p2, manifest(&y, b"shared", &[], &[], None))
        .await
        .unwrap();
    assert!(shared(y.to_string()).await);
    store
        .delete_repository(reg, "suite/p2", true)
        .await
        .unwrap();
    assert!(!shared(y.to_string()).await);
    // z: read by a KMS repository's older manifest until it gets its own.
    let k2 = super::repository_under_key(
        store,
        reg,
        "suite/under-key-2",
        "arn:aws:kms:us-east-1:000000000000:key/k",
    )
    .await;
    store
        .put_manifest(k2, manifest(&z, b"shared", &[], &[], None))
        .await
        .unwrap();
    assert_eq!(
        store
            .manifests_reading_shared_bodies(k2, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .set_domain_body(k2, z.as_str(), b"own2")
        .await
        .unwrap());
    assert!(!store
        .set_domain_body(k2, z.as_str(), b"own3")
        .await
        .unwrap());
    assert!(!shared(z.to_string()).await);
    let mine = store
        .domain_manifest_bodies(Some((k2, "")), 10)
        .await
        .unwrap();
    assert_eq!(
        mine.iter()
            .map(|b| (&b.body[..], b.digest.as_str()))
            .collect::<Vec<_>>(),
        [(&b"own2"[..], z.as_str())]
    );
    assert!(store
        .manifests_reading_shared_bodies(k2, None, 10)
        .await
        .unwrap()
        .is_empty());
}
