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

    // The gallery's search: public repositories of every account, by
    // alias, name or catalog text in any case; never a private one.
    store
        .create_public_registry(&record("111111111111", "beta"))
        .await
        .unwrap();
    let beta = RegistryKey {
        account_id: "111111111111".into(),
        region: "@public".into(),
    };
    let private = RegistryKey {
        account_id: "000000000000".into(),
        region: "us-east-1".into(),
    };
    let web = store.ensure_repository(&public, "web", 2).await.unwrap();
    store
        .put_public_catalog(web, r#"{"description":"A Web Server, 100% fast"}"#, None)
        .await
        .unwrap();
    store
        .ensure_repository(&beta, "tools/cli", 3)
        .await
        .unwrap();
    store
        .ensure_repository(&private, "web-secret", 4)
        .await
        .unwrap();
    let names = |found: Vec<crate::metadata::PublicListing>| -> Vec<String> {
        found
            .into_iter()
            .map(|l| format!("{}/{}", l.alias, l.name))
            .collect()
    };
    let all = store.search_public_repositories("", 0, 10).await.unwrap();
    assert_eq!(names(all.clone()), ["alpha/web", "beta/tools/cli"]);
    assert_eq!(all[0].account_id, "000000000000");
    assert!(all[0].catalog.as_deref().unwrap().contains("Web Server"));
    assert_eq!(all[1].catalog, None);
    for (text, want) in [
        ("web", vec!["alpha/web"]),
        ("server", vec!["alpha/web"]),
        ("WEB SERVER", vec!["alpha/web"]),
        ("beta", vec!["beta/tools/cli"]),
        ("100%", vec!["alpha/web"]),
        ("0%", vec!["alpha/web"]),
        ("%", vec!["alpha/web"]),
        ("_", vec![]),
        ("secret", vec![]),
    ] {
        let found = store.search_public_repositories(text, 0, 10).await.unwrap();
        assert_eq!(names(found), want, "{text}");
    }
    let second = store.search_public_repositories("", 1, 1).await.unwrap();
    assert_eq!(names(second), ["beta/tools/cli"]);
}
