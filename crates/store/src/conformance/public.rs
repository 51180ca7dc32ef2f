//! `PublicRegistryStore`'s suite: one registry per account, an alias held
//! by one account, found by either, its display name set.

use crate::metadata::{
    CreatePublicRegistryOutcome, PublicRegistryRecord, PublicRegistryStore, RegistryKey,
    RepositoryStore,
};

fn record(account: &str, alias: &str) -> PublicRegistryRecord {
    PublicRegistryRecord {
        account_id: account.into(),
        alias: alias.into(),
        display_name: String::new(),
        created_at: 7,
    }
}

pub async fn public_registry_store_suite(store: &(impl PublicRegistryStore + RepositoryStore)) {
    assert_eq!(store.public_registry("000000000000").await.unwrap(), None);
    let a = record("000000000000", "alpha");
    assert_eq!(
        store.create_public_registry(&a).await.unwrap(),
        CreatePublicRegistryOutcome::Created
    );
    assert_eq!(
        store
            .create_public_registry(&record("000000000000", "other"))
            .await
            .unwrap(),
        CreatePublicRegistryOutcome::Exists(a.clone()),
        "one per account: the first stays"
    );
    assert_eq!(
        store
            .create_public_registry(&record("111111111111", "alpha"))
            .await
            .unwrap(),
        CreatePublicRegistryOutcome::AliasTaken
    );
    assert_eq!(store.public_registry("111111111111").await.unwrap(), None);
    assert_eq!(
        store.public_registry_by_alias("alpha").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.public_registry_by_alias("other").await.unwrap(), None);
    assert!(store
        .set_public_display_name("000000000000", "Team Alpha")
        .await
        .unwrap());
    assert!(!store
        .set_public_display_name("111111111111", "nobody")
        .await
        .unwrap());
    assert_eq!(
        store
            .public_registry("000000000000")
            .await
            .unwrap()
            .unwrap()
            .display_name,
        "Team Alpha"
    );

    // A repository's catalog data: none, set, replaced, gone with it.
    let public = RegistryKey {
        account_id: "000000000000".into(),
        region: "@public".into(),
    };
    let repo = store.ensure_repository(&public, "app", 1).await.unwrap();
    assert_eq!(store.public_catalog(repo).await.unwrap(), None);
    store
        .put_public_catalog(repo, r#"{"description":"one"}"#, Some(b"\x89PNG"))
        .await
        .unwrap();
    store
        .put_public_catalog(repo, r#"{"description":"two"}"#, None)
        .await
        .unwrap();
    assert_eq!(
        store.public_catalog(repo).await.unwrap(),
        Some((r#"{"description":"two"}"#.to_string(), None))
    );
    store.delete_repository(&public, "app", true).await.unwrap();
    assert_eq!(store.public_catalog(repo).await.unwrap(), None);
}
