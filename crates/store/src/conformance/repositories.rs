//! `RepositoryStore`'s suite.

use super::{other_registry, registry};
use crate::metadata::{
    CreateTemplateOutcome, RegistryKey, RepoId, RepositoryRecord, RepositoryStore, ResourceTag,
    TemplateRecord,
};

pub async fn repository_store_suite<S: RepositoryStore + ?Sized>(store: &S) {
    let (reg, other) = (registry(), other_registry());

    // Repositories: idempotent creation, per-registry namespaces, paging in byte order.
    let a = store.ensure_repository(&reg, "team/app", 1).await.unwrap();
    assert_eq!(
        store.ensure_repository(&reg, "team/app", 2).await.unwrap(),
        a
    );
    let b = store.ensure_repository(&reg, "base", 1).await.unwrap();
    store
        .ensure_repository(&reg, "team/app-b", 1)
        .await
        .unwrap();
    let elsewhere = store.ensure_repository(&other, "base", 1).await.unwrap();
    assert_ne!(elsewhere, b);
    assert_eq!(store.find_repository(&reg, "nope").await.unwrap(), None);
    assert_eq!(
        store.list_repositories(&reg, None, 10).await.unwrap(),
        ["base", "team/app", "team/app-b"]
    );
    assert_eq!(
        store
            .list_repositories(&reg, Some("base"), 1)
            .await
            .unwrap(),
        ["team/app"]
    );
    assert_eq!(
        store.list_repositories(&other, None, 10).await.unwrap(),
        ["base"]
    );
    tags_and_settings(store, &reg, &other).await;

    // Creation templates: one per prefix and registry, at most `max`.
    let t = |prefix: &str, body: &str, at: i64| TemplateRecord {
        prefix: prefix.into(),
        body: body.into(),
        created_at: at,
        updated_at: at,
    };
    let created = |o| assert_eq!(o, CreateTemplateOutcome::Created);
    created(
        store
            .create_template(&reg, &t("prod", "{}", 1), 3)
            .await
            .unwrap(),
    );
    created(
        store
            .create_template(&reg, &t("ROOT", "{\"a\":1}", 2), 3)
            .await
            .unwrap(),
    );
    assert_eq!(
        store
            .create_template(&reg, &t("prod", "{}", 3), 3)
            .await
            .unwrap(),
        CreateTemplateOutcome::Exists
    );
    created(
        store
            .create_template(&other, &t("prod", "{}", 1), 3)
            .await
            .unwrap(),
    );
    created(
        store
            .create_template(&reg, &t("dev/team", "{}", 4), 3)
            .await
            .unwrap(),
    );
    assert_eq!(
        store
            .create_template(&reg, &t("zzz", "{}", 5), 3)
            .await
            .unwrap(),
        CreateTemplateOutcome::Full
    );
    let prefixes = |v: Vec<TemplateRecord>| v.into_iter().map(|t| t.prefix).collect::<Vec<_>>();
    assert_eq!(
        prefixes(store.list_templates(&reg, None, 10).await.unwrap()),
        ["ROOT", "dev/team", "prod"]
    );
    assert_eq!(
        prefixes(store.list_templates(&reg, Some("ROOT"), 1).await.unwrap()),
        ["dev/team"]
    );
    let mut changed = t("prod", "{\"b\":2}", 1);
    changed.updated_at = 9;
    assert!(store.update_template(&reg, &changed).await.unwrap());
    assert_eq!(
        store.get_template(&reg, "prod").await.unwrap(),
        Some(changed.clone())
    );
    assert!(!store
        .update_template(&reg, &t("nope", "{}", 9))
        .await
        .unwrap());
    assert_eq!(
        store.delete_template(&reg, "prod").await.unwrap(),
        Some(changed)
    );
    assert_eq!(store.delete_template(&reg, "prod").await.unwrap(), None);
    assert_eq!(store.get_template(&reg, "prod").await.unwrap(), None);
    assert!(store.get_template(&other, "prod").await.unwrap().is_some());
}

async fn tags_and_settings<S: RepositoryStore + ?Sized>(
    store: &S,
    reg: &RegistryKey,
    other: &RegistryKey,
) {
    let tag = |k: &str, v: &str| ResourceTag {
        key: k.into(),
        value: v.into(),
    };
    let record = RepositoryRecord {
        id: RepoId(0),
        name: "suite/tagged".into(),
        created_at: 5,
        image_tag_mutability: "MUTABLE".into(),
        mutability_filters: None,
        scan_on_push: false,
        encryption_type: "KMS".into(),
        kms_key: Some("arn:aws:kms:us-east-1:000000000000:key/k1".into()),
    };
    let created = store
        .create_repository(reg, &record, &[tag("team", "a"), tag("env", "dev")])
        .await
        .unwrap()
        .expect("created");
    let r = created.id;
    let read = store
        .get_repository(reg, "suite/tagged")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.encryption_type.as_str(), read.kms_key.as_deref()),
        ("KMS", Some("arn:aws:kms:us-east-1:000000000000:key/k1")),
        "the encryption configuration is kept"
    );
    assert_eq!(
        store.create_repository(reg, &record, &[]).await.unwrap(),
        None
    );
    assert_eq!(
        store.repository_tags(r).await.unwrap(),
        [tag("env", "dev"), tag("team", "a")]
    );
    // Replacing a value and adding a key; over the limit nothing changes.
    assert!(store
        .tag_repository(r, &[tag("team", "b"), tag("cost", "1")], 3)
        .await
        .unwrap());
    assert!(!store.tag_repository(r, &[tag("x", "1")], 3).await.unwrap());
    assert_eq!(
        store.repository_tags(r).await.unwrap(),
        [tag("cost", "1"), tag("env", "dev"), tag("team", "b")]
    );
    store
        .untag_repository(r, &["env".into(), "absent".into()])
        .await
        .unwrap();
    assert_eq!(store.repository_tags(r).await.unwrap().len(), 2);

    assert!(store
        .set_scan_on_push(reg, "suite/tagged", true)
        .await
        .unwrap());
    assert!(!store
        .set_scan_on_push(reg, "suite/none", true)
        .await
        .unwrap());
    assert!(
        store
            .get_repository(reg, "suite/tagged")
            .await
            .unwrap()
            .unwrap()
            .scan_on_push
    );

    // Settings are per registry.
    assert_eq!(
        store.account_setting(reg, "BLOB_MOUNTING").await.unwrap(),
        None
    );
    store
        .put_account_setting(reg, "BLOB_MOUNTING", "DISABLED")
        .await
        .unwrap();
    store
        .put_account_setting(reg, "BLOB_MOUNTING", "ENABLED")
        .await
        .unwrap();
    assert_eq!(
        store
            .account_setting(reg, "BLOB_MOUNTING")
            .await
            .unwrap()
            .as_deref(),
        Some("ENABLED")
    );
    assert_eq!(
        store.account_setting(other, "BLOB_MOUNTING").await.unwrap(),
        None
    );

    // Deleting the repository takes its tags.
    store
        .delete_repository(reg, "suite/tagged", false)
        .await
        .unwrap();
    assert!(store.repository_tags(r).await.unwrap().is_empty());
}
