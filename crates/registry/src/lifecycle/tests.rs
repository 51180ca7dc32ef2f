//! A lifecycle policy on a registry's real store: preview, then run.

use crate::test_fixture::*;
use crate::*;
use berth_oci::Reference;
use std::sync::atomic::Ordering;

/// "Expire untagged images older than 30 days" with the registry's clock
/// moved instead of the images' push times: the preview, then the run,
/// on the real store.
#[tokio::test]
async fn lifecycle_expires_untagged_images_older_than_30_days() {
    const DAY: i64 = 86_400_000;
    let f = fixture().await;
    let r = repo("team/app");
    let t0 = f.clock.now_millis();
    let old_untagged = push_image(&f.reg, &r, "old-untagged", None).await.0;
    let old_tagged = push_image(&f.reg, &r, "old-tagged", Some("v1")).await.0;
    f.clock.0.store(t0 + 20 * DAY, Ordering::SeqCst);
    let young_untagged = push_image(&f.reg, &r, "young-untagged", None).await.0;
    f.clock.0.store(t0 + 31 * DAY, Ordering::SeqCst);
    let key = &r.registry;
    let name = r.name.as_str();

    // Refusals first.
    let err = f.reg.lifecycle_policy(key, name).await.unwrap_err();
    assert!(matches!(err, Error::LifecyclePolicyNotFound(_)), "{err}");
    let err = f.reg.lifecycle_preview(&r).await.unwrap_err();
    assert!(matches!(err, Error::LifecyclePreviewNotFound(_)), "{err}");
    let err = f.reg.start_lifecycle_preview(&r, None).await.unwrap_err();
    assert!(matches!(err, Error::LifecyclePolicyNotFound(_)), "{err}");
    let bad = r#"{"rules":[{"rulePriority":1,"description":"expire untagged images older than thirty days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countNumber":30},"action":{"type":"expire"}}]}"#;
    let err = f
        .reg
        .put_lifecycle_policy(key, name, bad)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidParameter(m) if m.contains("rulePriority 1: 'selection.countUnit' is required")),
        "{err}"
    );
    let err = f
        .reg
        .put_lifecycle_policy(
            key,
            "team/none",
            &bad.replace("\"countNumber\"", "\"countUnit\":\"days\",\"countNumber\""),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NameUnknown(_)), "{err}");

    let policy = bad.replace("\"countNumber\"", "\"countUnit\":\"days\",\"countNumber\"");
    f.reg
        .put_lifecycle_policy(key, name, &policy)
        .await
        .unwrap();
    let stored = f.reg.lifecycle_policy(key, name).await.unwrap();
    assert_eq!(
        (stored.text.as_str(), stored.last_evaluated_at),
        (policy.as_str(), None)
    );

    // The preview names exactly the old untagged image.
    assert_eq!(
        f.reg.start_lifecycle_preview(&r, None).await.unwrap(),
        policy
    );
    let preview = f.reg.lifecycle_preview(&r).await.unwrap();
    assert_eq!(preview.status, PreviewStatus::Complete);
    assert_eq!(preview.results.len(), 1);
    assert_eq!(preview.results[0].digest, old_untagged);
    assert_eq!(preview.results[0].rule_priority, 1);
    assert_eq!(preview.results[0].pushed_at, t0);

    // The run expires what the preview showed, and nothing else.
    let run = f.reg.run_lifecycle().await.unwrap();
    assert_eq!(
        (run.repositories, run.expired, run.skipped_changed),
        (1, 1, 0)
    );
    let gone = f
        .reg
        .get_manifest(&r, &Reference::Digest(old_untagged), &[])
        .await
        .unwrap_err();
    assert!(matches!(gone, Error::ManifestUnknown(_)), "{gone}");
    for kept in [&old_tagged, &young_untagged] {
        f.reg
            .get_manifest(&r, &Reference::Digest(kept.clone()), &[])
            .await
            .unwrap();
    }
    assert_eq!(
        f.reg
            .lifecycle_policy(key, name)
            .await
            .unwrap()
            .last_evaluated_at,
        Some(t0 + 31 * DAY)
    );
    // Nothing more to do on the next run.
    assert_eq!(f.reg.run_lifecycle().await.unwrap().expired, 0);

    // A preview of another text does not change the stored policy; the
    // deleted policy comes back with its evaluation time.
    let keep_one = r#"{"rules":[{"rulePriority":1,"description":"keep only the newest image of this repository","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;
    f.reg
        .start_lifecycle_preview(&r, Some(keep_one))
        .await
        .unwrap();
    let preview = f.reg.lifecycle_preview(&r).await.unwrap();
    assert_eq!(preview.policy_text, keep_one);
    assert_eq!(preview.results.len(), 1);
    assert_eq!(preview.results[0].digest, old_tagged);
    assert_eq!(preview.results[0].tags, ["v1"]);
    let removed = f.reg.delete_lifecycle_policy(key, name).await.unwrap();
    assert_eq!(removed.text, policy);
    assert_eq!(removed.last_evaluated_at, Some(t0 + 31 * DAY));
    assert_eq!(f.reg.run_lifecycle().await.unwrap().repositories, 0);
}
