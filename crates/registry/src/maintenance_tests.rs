//! Expiry of stale upload sessions and the sweep of orphan upload files.

use crate::test_fixture::*;
use crate::*;
use std::sync::atomic::Ordering;

#[tokio::test]
async fn stale_uploads_expire_and_orphans_are_swept() {
    let f = fixture().await;
    let a = repo("a");
    let old = f.reg.start_upload(&a, None).await.unwrap();
    f.reg
        .append_upload(&a, &old.id, None, body(&[b"abc"]))
        .await
        .unwrap();
    f.clock.0.fetch_add(23 * 3600 * 1000, Ordering::SeqCst);
    let fresh = f.reg.start_upload(&a, None).await.unwrap();
    assert_eq!(f.reg.expire_uploads().await.unwrap(), 0);
    f.clock.0.fetch_add(2 * 3600 * 1000, Ordering::SeqCst);
    assert_eq!(f.reg.expire_uploads().await.unwrap(), 1);
    assert!(matches!(
        f.reg.upload_status(&a, &old.id).await,
        Err(Error::BlobUploadUnknown(_))
    ));
    assert!(f.reg.upload_status(&a, &fresh.id).await.is_ok());

    std::fs::write(
        f.root
            .join("blobs/uploads/0badf00d-0000-4000-8000-000000000000"),
        b"orphan",
    )
    .unwrap();
    assert_eq!(f.reg.sweep_orphan_uploads().await.unwrap(), 1);
}

#[tokio::test]
async fn upload_data_without_a_session_is_swept_once_idle_for_the_expiry() {
    let f = fixture().await;
    let a = repo("a");
    // A chunked session idle for days keeps its data (its row expires it).
    let session = f.reg.start_upload(&a, None).await.unwrap();
    f.reg
        .append_upload(&a, &session.id, None, body(&[b"abc"]))
        .await
        .unwrap();
    let orphan = "0badf00d-0000-4000-8000-000000000001";
    std::fs::write(f.root.join("blobs/uploads").join(orphan), b"left").unwrap();
    let real_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Written an hour ago: perhaps a monolithic upload in flight elsewhere.
    f.clock.0.store(real_now + 3_600_000, Ordering::SeqCst);
    assert_eq!(f.reg.sweep_abandoned_uploads().await.unwrap(), 0);
    // Idle beyond the 24 h expiry: left by a dead node.
    f.clock.0.store(real_now + 25 * 3_600_000, Ordering::SeqCst);
    assert_eq!(f.reg.sweep_abandoned_uploads().await.unwrap(), 1);
    assert!(!f.root.join("blobs/uploads").join(orphan).exists());
    assert!(f.reg.upload_status(&a, &session.id).await.is_ok());
}
