//! Usage: shared layers counted once in stored bytes and per image in
//! logical bytes; GB-months accrued with the test's clock, split at a
//! month's end; deleted repositories accrue until the sample that misses
//! them; a sample per period.

use super::*;
use crate::test_fixture::*;
use std::sync::atomic::Ordering;

/// 2026-11-30T22:00:00Z.
const NOV_30_22H: i64 = 1_796_076_000_000;
const HOUR: i64 = 3_600_000;

/// Pushes an image of `layers` (contents) with its own config under `tag`.
async fn push(reg: &Registry, r: &crate::Repo, layers: &[&str], tag_name: &str) {
    let config = format!("config of {tag_name} in {}", r.name);
    let c = sha(config.as_bytes());
    reg.upload_blob(r, &c, body(&[config.as_bytes()]))
        .await
        .unwrap();
    let mut digests = vec![];
    for l in layers {
        let d = sha(l.as_bytes());
        reg.upload_blob(r, &d, body(&[l.as_bytes()])).await.unwrap();
        digests.push(d);
    }
    let refs: Vec<&berth_oci::Digest> = digests.iter().collect();
    reg.put_manifest(r, &tag(tag_name), None, image_manifest(&c, &refs))
        .await
        .unwrap();
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-30)
}

#[tokio::test]
async fn shared_layers_count_once_stored_and_per_image_logical_and_accrue_by_the_clock() {
    let f = fixture().await;
    f.clock.0.store(NOV_30_22H, Ordering::SeqCst);
    let (a, b) = (repo("team/a"), repo("team/b"));
    let base = "base layer: 40 bytes of shared content..";
    assert_eq!(base.len(), 40);
    push(&f.reg, &a, &[base, "app one"], "v1").await;
    push(&f.reg, &a, &[base, "app two!"], "v2").await;
    push(&f.reg, &b, &[base], "v1").await;
    let config_len =
        |tag: &str, r: &crate::Repo| format!("config of {tag} in {}", r.name).len() as u64;
    let (a1, a2, b1) = (
        config_len("v1", &a) + 40 + 7,
        config_len("v2", &a) + 40 + 8,
        config_len("v1", &b) + 40,
    );
    let stored_a = a1 + a2 - 40;
    let registry_stored = stored_a + b1 - 40;

    let sampled = f.reg.sample_usage().await.unwrap();
    assert_eq!(
        sampled,
        UsageSampled {
            repositories: 2,
            registries: 1,
            dropped: 0
        }
    );
    let report = f.reg.usage_report(None, None, true).await.unwrap();
    assert_eq!(report.month, "2026-11");
    assert_eq!(report.registries.len(), 1);
    let r = &report.registries[0];
    let latest = r.latest.as_ref().unwrap();
    assert_eq!(latest.images, 3);
    assert_eq!(latest.logical_bytes, a1 + a2 + b1, "per image");
    assert_eq!(latest.stored_bytes, registry_stored, "the base layer once");
    let repos: Vec<_> = r
        .repositories
        .iter()
        .map(|u| {
            let l = u.latest.as_ref().unwrap();
            (u.name.as_str(), l.images, l.logical_bytes, l.stored_bytes)
        })
        .collect();
    assert_eq!(
        repos,
        vec![("team/a", 2, a1 + a2, stored_a), ("team/b", 1, b1, b1)],
        "largest first"
    );
    // Nothing accrued yet; the estimate keeps today's bytes to the month's end (2 h).
    let nov_hours = 30.0 * 24.0;
    assert_eq!(r.cost.gb_months, 0.0);
    assert!(close(
        r.cost.estimated_gb_months,
        registry_stored as f64 * 2.0 / nov_hours / GIB
    ));

    // Four hours later, two of them in December.
    f.clock.0.store(NOV_30_22H + 4 * HOUR, Ordering::SeqCst);
    assert!(f
        .reg
        .sample_usage_if_due(Duration::from_secs(3600))
        .await
        .unwrap()
        .is_some());
    assert!(
        f.reg
            .sample_usage_if_due(Duration::from_secs(3600))
            .await
            .unwrap()
            .is_none(),
        "one sample per hour"
    );
    let nov = f
        .reg
        .usage_report(None, Some("2026-11"), true)
        .await
        .unwrap();
    let r = &nov.registries[0];
    let expected = registry_stored as f64 * 2.0 / nov_hours / GIB;
    assert!(close(r.cost.gb_months, expected), "{:?}", r.cost);
    assert!(
        close(r.cost.estimated_gb_months, expected),
        "November is over"
    );
    assert!(close(r.cost.accrued_cost, expected * 0.10));
    assert!(close(
        r.repositories[1].cost.gb_months,
        b1 as f64 * 2.0 / nov_hours / GIB
    ));
    let dec = f.reg.usage_report(None, None, false).await.unwrap();
    assert_eq!(dec.month, "2026-12");
    assert!(close(dec.elapsed_hours, 2.0));
    let r = &dec.registries[0];
    assert!(r.repositories.is_empty(), "not asked for");
    let dec_hours = 31.0 * 24.0;
    assert!(close(
        r.cost.gb_months,
        registry_stored as f64 * 2.0 / dec_hours / GIB
    ));
    assert!(close(
        r.cost.estimated_gb_months,
        registry_stored as f64 / GIB
    ));

    // team/b goes; the next sample accrues its last hour and drops it.
    f.reg
        .delete_repository(&b.registry, "team/b", true)
        .await
        .unwrap();
    f.clock.0.store(NOV_30_22H + 5 * HOUR, Ordering::SeqCst);
    let sampled = f.reg.sample_usage().await.unwrap();
    assert_eq!(sampled.dropped, 1);
    let dec = f.reg.usage_report(None, None, true).await.unwrap();
    let r = &dec.registries[0];
    assert_eq!(r.latest.as_ref().unwrap().stored_bytes, stored_a);
    let gone = r
        .repositories
        .iter()
        .find(|u| u.name == "team/b")
        .expect("a deleted repository keeps its month");
    assert!(gone.latest.is_none());
    assert!(close(
        gone.cost.gb_months,
        b1 as f64 * 3.0 / dec_hours / GIB
    ));
    assert!(close(gone.cost.estimated_gb_months, gone.cost.gb_months));
    let points = f
        .reg
        .usage_history(&a.registry, 0)
        .await
        .unwrap()
        .iter()
        .map(|p| p.stored_bytes)
        .collect::<Vec<_>>();
    assert_eq!(points, vec![registry_stored, registry_stored, stored_a]);
    assert!(f
        .reg
        .usage_report(None, Some("2026-13"), false)
        .await
        .is_err());
}

#[test]
fn accruals_split_at_month_ends() {
    assert_eq!(month_of(NOV_30_22H), "2026-11");
    assert_eq!(month_start("2026-12"), Some(NOV_30_22H + 2 * HOUR));
    assert_eq!(
        accrue(10, NOV_30_22H, NOV_30_22H + 3 * HOUR),
        vec![("2026-11".to_string(), 20.0), ("2026-12".to_string(), 10.0)]
    );
    assert!(accrue(10, NOV_30_22H, NOV_30_22H).is_empty());
    assert!(
        accrue(10, NOV_30_22H, NOV_30_22H - HOUR).is_empty(),
        "a clock gone back accrues nothing"
    );
    // December to January crosses the year.
    let dec_31_23h = month_start("2027-01").unwrap() - HOUR;
    assert_eq!(
        accrue(1, dec_31_23h, dec_31_23h + 2 * HOUR),
        vec![("2026-12".to_string(), 1.0), ("2027-01".to_string(), 1.0)]
    );
}
