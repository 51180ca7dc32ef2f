//! `UsageStore`'s suite: repositories measured (a layer two images share
//! counts twice in the logical bytes, once in the stored), registries
//! measured once per blob, samples recorded, accruals added up, stale rows
//! found and dropped, the series pruned.

use super::{d, manifest, other_registry, registry, two_repositories};
use crate::metadata::{
    BlobRecordStore, ImageStore, PutManifestOutcome, RegistryKey, RepositoryStore, UsageAccrual,
    UsageFigures, UsageOrder, UsagePoint, UsageStore,
};

fn figures(reg: &RegistryKey, repository: &str, at: i64, stored: u64) -> UsageFigures {
    UsageFigures {
        registry: reg.clone(),
        repository: repository.into(),
        sampled_at: at,
        images: 1,
        logical_bytes: stored * 2,
        stored_bytes: stored,
        last_pushed_at: Some(at - 1),
    }
}

fn accrual(reg: &RegistryKey, repository: &str, month: &str, byte_hours: f64) -> UsageAccrual {
    UsageAccrual {
        registry: reg.clone(),
        repository: repository.into(),
        month: month.into(),
        byte_hours,
    }
}

pub async fn usage_store_suite<
    S: RepositoryStore + BlobRecordStore + ImageStore + UsageStore + ?Sized,
>(
    store: &S,
) {
    let reg = registry();
    let (a, b) = two_repositories(store, &reg).await;
    let (l1, l2, cfg) = (d(1), d(2), d(3));
    store.link_blob(a, &l1, 10, 5).await.unwrap();
    store.link_blob(a, &l2, 20, 5).await.unwrap();
    store.link_blob(a, &cfg, 3, 5).await.unwrap();
    store.link_existing_blob(b, a, &l1, 6).await.unwrap();
    let (m1, m2, m3) = (d(10), d(11), d(12));
    for (repo, m, blobs) in [
        (
            a,
            &m1,
            vec![(cfg.clone(), 3), (l1.clone(), 10), (l2.clone(), 20)],
        ),
        (a, &m2, vec![(cfg.clone(), 3), (l1.clone(), 10)]),
        (b, &m3, vec![(l1.clone(), 10)]),
    ] {
        let out = store
            .put_manifest(repo, manifest(m, b"m", &blobs, &[], None))
            .await
            .unwrap();
        assert!(matches!(out, PutManifestOutcome::Stored { .. }));
    }
    let other = other_registry();
    let c = store.ensure_repository(&other, "c", 1).await.unwrap();
    store.link_existing_blob(c, a, &l2, 6).await.unwrap();
    store
        .put_manifest(c, manifest(&d(13), b"m", &[(l2.clone(), 20)], &[], None))
        .await
        .unwrap();
    let empty = store.ensure_repository(&reg, "empty", 1).await.unwrap();

    let measured = store.measure_repositories(None, 10).await.unwrap();
    let summary: Vec<_> = measured
        .iter()
        .map(|m| {
            (
                m.id,
                m.name.as_str(),
                m.images,
                m.logical_bytes,
                m.stored_bytes,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (a, "team/app", 2, 46, 33),
            (b, "base", 1, 10, 10),
            (c, "c", 1, 20, 20),
            (empty, "empty", 0, 0, 0),
        ],
        "logical counts a shared layer per image, stored once"
    );
    assert_eq!(measured[0].registry, reg);
    assert_eq!(measured[0].last_pushed_at, Some(1000));
    assert_eq!(measured[3].last_pushed_at, None);
    let page: Vec<_> = store
        .measure_repositories(Some(a), 2)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(page, vec![b, c], "paged by id");
    assert_eq!(
        store.measure_registries().await.unwrap(),
        vec![(reg.clone(), 33), (other.clone(), 20)],
        "a blob two repositories of a registry hold is stored once"
    );
    assert_eq!(
        store.image_counts(&[b, a, empty]).await.unwrap(),
        vec![(b, 1, Some(1000)), (a, 2, Some(1000)), (empty, 0, None)]
    );

    // Samples.
    assert_eq!(store.last_usage_sample().await.unwrap(), None);
    let first = [
        figures(&reg, "", 5000, 33),
        figures(&reg, "team/app", 5000, 33),
        figures(&reg, "base", 5000, 10),
        figures(&other, "", 5000, 20),
    ];
    store
        .record_usage(&first, &[accrual(&reg, "", "2026-11", 1.5)], &[], 0)
        .await
        .unwrap();
    assert_eq!(store.last_usage_sample().await.unwrap(), Some(5000));
    let mut got = store
        .usage_figures(&reg, &["base".into(), "nope".into(), "".into()])
        .await
        .unwrap();
    got.sort_by(|x, y| x.repository.cmp(&y.repository));
    assert_eq!(got, vec![first[0].clone(), first[2].clone()]);
    assert_eq!(
        store.latest_usage(Some(&reg), false).await.unwrap(),
        vec![first[0].clone(), first[2].clone(), first[1].clone()],
        "the registry's row first, then by name"
    );
    assert_eq!(store.latest_usage(None, false).await.unwrap().len(), 4);
    let ranked = |prefix: &'static str, order, offset| {
        let reg = reg.clone();
        async move {
            store
                .ranked_usage(&reg, prefix, order, offset, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|f| f.repository)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ranked("", UsageOrder::Stored, 0).await,
        ["team/app", "base"]
    );
    assert_eq!(ranked("", UsageOrder::Stored, 1).await, ["base"]);
    assert_eq!(
        ranked("", UsageOrder::Images, 0).await,
        ["base", "team/app"],
        "ties by name"
    );
    assert_eq!(ranked("ba", UsageOrder::Pushed, 0).await, ["base"]);
    assert!(ranked("x", UsageOrder::Stored, 0).await.is_empty());
    assert_eq!(
        store.latest_usage(None, true).await.unwrap(),
        vec![first[0].clone(), first[3].clone()]
    );

    // The next sample: "base" was deleted (not measured), accruals add up.
    let second = [
        figures(&reg, "", 9000, 40),
        figures(&reg, "team/app", 9000, 40),
    ];
    store
        .record_usage(
            &second,
            &[
                accrual(&reg, "", "2026-11", 2.0),
                accrual(&reg, "", "2026-12", 4.0),
                accrual(&reg, "team/app", "2026-12", 1.0),
            ],
            &[],
            5000,
        )
        .await
        .unwrap();
    let stale = store.stale_usage(9000, 10).await.unwrap();
    assert_eq!(
        stale,
        vec![first[2].clone(), first[3].clone()],
        "in key order"
    );
    assert_eq!(store.stale_usage(9000, 1).await.unwrap().len(), 1);
    store
        .record_usage(
            &[],
            &[accrual(&reg, "base", "2026-12", 0.5)],
            &[(reg.clone(), "base".into()), (other.clone(), "".into())],
            5000,
        )
        .await
        .unwrap();
    assert!(store.stale_usage(9000, 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .usage_accruals(Some(&reg), "2026-11", false)
            .await
            .unwrap(),
        vec![accrual(&reg, "", "2026-11", 3.5)]
    );
    assert_eq!(
        store.usage_accruals(None, "2026-12", false).await.unwrap(),
        vec![
            accrual(&reg, "", "2026-12", 4.0),
            accrual(&reg, "base", "2026-12", 0.5),
            accrual(&reg, "team/app", "2026-12", 1.0),
        ]
    );
    assert_eq!(
        store.usage_accruals(None, "2026-12", true).await.unwrap(),
        vec![accrual(&reg, "", "2026-12", 4.0)]
    );
    assert!(store
        .usage_accruals(Some(&other), "2026-12", false)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.usage_history(&reg, 0).await.unwrap(),
        vec![UsagePoint {
            at: 9000,
            logical_bytes: 80,
            stored_bytes: 40
        }],
        "points at or before 5000 were pruned"
    );
    assert_eq!(store.last_usage_sample().await.unwrap(), Some(9000));
}
