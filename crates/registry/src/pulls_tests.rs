//! Pull times: recorded to the second, stored on flush.

use crate::test_fixture::*;
use crate::*;
use berth_oci::Digest;
use std::sync::atomic::Ordering;

#[tokio::test]
async fn pulls_are_recorded_to_the_second_and_reach_the_store_on_flush() {
    let f = fixture().await;
    let a = repo("a");
    let (m, _) = push_image(&f.reg, &a, "pulled", Some("v1")).await;
    let (other, _) = push_image(&f.reg, &a, "never", Some("v2")).await;
    async fn pulled_at(reg: &Registry, a: &Repo, d: Digest) -> Option<i64> {
        reg.image_details(a, &[d]).await.unwrap()[0]
            .record
            .last_pulled_at
    }
    assert_eq!(pulled_at(&f.reg, &a, m.clone()).await, None);

    let read = f.reg.get_manifest(&a, &tag("v1"), &[]).await.unwrap();
    f.reg.record_pull(&read);
    let first = f.clock.0.load(Ordering::SeqCst);
    assert_eq!(
        pulled_at(&f.reg, &a, m.clone()).await,
        Some(first),
        "pending pulls show at once"
    );
    // Later in the same second: not logged again; in the next second: logged.
    f.clock.0.fetch_add(400, Ordering::SeqCst);
    f.reg.record_pull(&read);
    assert_eq!(pulled_at(&f.reg, &a, m.clone()).await, Some(first));
    f.clock.0.fetch_add(1000, Ordering::SeqCst);
    f.reg.record_pull(&read);
    let second = f.clock.0.load(Ordering::SeqCst);
    assert_eq!(pulled_at(&f.reg, &a, m.clone()).await, Some(second));

    assert_eq!(f.reg.flush_pulls().await.unwrap(), 1);
    assert_eq!(f.reg.flush_pulls().await.unwrap(), 0);
    assert_eq!(
        pulled_at(&f.reg, &a, m.clone()).await,
        Some(second),
        "stored"
    );
    assert_eq!(
        pulled_at(&f.reg, &a, other).await,
        None,
        "a HEAD or no read is no pull"
    );
}
