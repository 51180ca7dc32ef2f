//! `KmsStore`'s suite: keys replaced only over the revision read, listed
//! in pages per account and region; aliases unique per region, limited per
//! key, gone with their key; grants limited per key, found by id, grantee,
//! name and retiring principal, gone with their key.

use crate::metadata::{
    BlobRecordStore, IdentityStore, KmsAliasOutcome, KmsAliasRecord, KmsGrantOutcome,
    KmsGrantRecord, KmsKeyRecord, KmsStore, RepositoryStore,
};

fn key(acct: &str, region: &str, id: &str) -> KmsKeyRecord {
    KmsKeyRecord {
        account_id: acct.into(),
        region: region.into(),
        key_id: id.into(),
        description: "app".into(),
        key_usage: "ENCRYPT_DECRYPT".into(),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        origin: "AWS_KMS".into(),
        key_manager: "CUSTOMER".into(),
        state: "Enabled".into(),
        created_at: 10,
        deletion_date: None,
        pending_window_days: None,
        rotation_period_days: Some(365),
        next_rotation_at: Some(99),
        policy: "{}".into(),
        materials: "[m1]".into(),
        tags: "[]".into(),
        revision: 1,
        storage_kek: None,
    }
}

fn alias(acct: &str, name: &str, target: &str) -> KmsAliasRecord {
    KmsAliasRecord {
        account_id: acct.into(),
        region: "us-east-1".into(),
        name: name.into(),
        target_key_id: target.into(),
        created_at: 5,
        updated_at: 5,
    }
}

fn grant(id: &str, key_id: &str, grantee: &str, name: &str) -> KmsGrantRecord {
    KmsGrantRecord {
        grant_id: id.into(),
        account_id: "555555555555".into(),
        region: "us-east-1".into(),
        key_id: key_id.into(),
        name: name.into(),
        grantee_principal: grantee.into(),
        retiring_principal: Some("arn:aws:iam::555555555555:role/ops".into()),
        issuing_account: "arn:aws:iam::555555555555:root".into(),
        operations: "[\"Decrypt\"]".into(),
        constraints: None,
        token_secret: "s".repeat(64),
        created_at: 3,
    }
}

/// Grants: created under the per-key limit, found every way the registry
/// looks, deleted alone or with their key.
async fn grant_suite<S: IdentityStore + KmsStore + ?Sized>(store: &S) {
    let (acct, r) = ("555555555555", "us-east-1");
    let max = 3;
    let g1 = grant("g1", "k1", "arn:aws:iam::555555555555:user/dev", "");
    assert_eq!(
        store.create_kms_grant(&g1, max).await.unwrap(),
        KmsGrantOutcome::Done
    );
    assert_eq!(
        store
            .create_kms_grant(&grant("g0", "nope", "x", ""), max)
            .await
            .unwrap(),
        KmsGrantOutcome::KeyNotFound
    );
    let mut g2 = grant("g2", "k1", "ecr.us-east-1.amazonaws.com", "repo-a");
    g2.retiring_principal = None;
    g2.constraints = Some("{\"EncryptionContextSubset\":{}}".into());
    store.create_kms_grant(&g2, max).await.unwrap();
    store
        .create_kms_grant(&grant("g3", "k1", "x", "repo-a"), max)
        .await
        .unwrap();
    assert_eq!(
        store
            .create_kms_grant(&grant("g4", "k1", "x", ""), max)
            .await
            .unwrap(),
        KmsGrantOutcome::TooMany
    );
    store
        .create_kms_grant(&grant("g5", "k2", "x", ""), max)
        .await
        .unwrap();
    assert_eq!(store.get_kms_grant("g2").await.unwrap(), Some(g2.clone()));
    assert_eq!(store.get_kms_grant("g4").await.unwrap(), None);
    let ids = |v: Vec<KmsGrantRecord>| v.into_iter().map(|g| g.grant_id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_kms_grants(acct, r, "k1", None, 2).await.unwrap()),
        ["g1", "g2"]
    );
    assert_eq!(
        ids(store
            .list_kms_grants(acct, r, "k1", Some("g2"), 2)
            .await
            .unwrap()),
        ["g3"]
    );
    assert_eq!(
        ids(store
            .kms_grants_to(acct, r, "k1", "arn:aws:iam::555555555555:user/dev")
            .await
            .unwrap()),
        ["g1"]
    );
    assert_eq!(
        ids(store
            .kms_grants_named(acct, r, "k1", "repo-a", "ecr.us-east-1.amazonaws.com")
            .await
            .unwrap()),
        ["g2"]
    );
    assert_eq!(
        ids(store
            .kms_grants_named(acct, r, "k1", "repo-a", "x")
            .await
            .unwrap()),
        ["g3"]
    );
    assert!(store
        .kms_grants_named(acct, r, "k2", "repo-a", "x")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(store
            .list_retirable_kms_grants(r, "arn:aws:iam::555555555555:role/ops", None, 9)
            .await
            .unwrap()),
        ["g1", "g3", "g5"]
    );
    assert_eq!(
        ids(store
            .list_retirable_kms_grants(r, "arn:aws:iam::555555555555:role/ops", Some("g1"), 1)
            .await
            .unwrap()),
        ["g3"]
    );
    assert!(store
        .list_retirable_kms_grants("eu-west-1", "arn:aws:iam::555555555555:role/ops", None, 9)
        .await
        .unwrap()
        .is_empty());
    // Another account's key whose grant names the same retiring principal:
    // listed too, as AWS lists grants on other accounts' keys.
    store
        .create_account("666666666666", "admin", 1)
        .await
        .unwrap();
    assert!(store
        .create_kms_key(&key("666666666666", r, "k6"))
        .await
        .unwrap());
    let mut g6 = grant("g6", "k6", "x", "");
    g6.account_id = "666666666666".into();
    store.create_kms_grant(&g6, max).await.unwrap();
    assert_eq!(
        ids(store
            .list_retirable_kms_grants(r, "arn:aws:iam::555555555555:role/ops", None, 9)
            .await
            .unwrap()),
        ["g1", "g3", "g5", "g6"]
    );
    assert!(store.delete_kms_key("666666666666", r, "k6").await.unwrap());
    assert!(store.delete_kms_grant("g3").await.unwrap());
    assert!(!store.delete_kms_grant("g3").await.unwrap());
    assert_eq!(
        ids(store.list_kms_grants(acct, r, "k1", None, 9).await.unwrap()),
        ["g1", "g2"]
    );
}

pub async fn kms_store_suite<
    S: IdentityStore + KmsStore + RepositoryStore + BlobRecordStore + ?Sized,
>(
    store: &S,
) {
    let acct = "555555555555";
    let r = "us-east-1";
    assert!(
        !store.create_kms_key(&key(acct, r, "k1")).await.unwrap(),
        "no such account"
    );
    store.create_account(acct, "admin", 1).await.unwrap();
    for id in ["k2", "k1", "k3"] {
        assert!(store.create_kms_key(&key(acct, r, id)).await.unwrap());
    }
    store
        .create_kms_key(&key(acct, "eu-west-1", "k9"))
        .await
        .unwrap();
    assert_eq!(
        store.get_kms_key(acct, r, "k1").await.unwrap(),
        Some(key(acct, r, "k1"))
    );
    assert_eq!(
        store.get_kms_key(acct, "eu-west-1", "k1").await.unwrap(),
        None
    );
    assert_eq!(
        store.get_kms_key("666666666666", r, "k1").await.unwrap(),
        None
    );
    let ids = |v: Vec<KmsKeyRecord>| v.into_iter().map(|k| k.key_id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_kms_keys(acct, r, None, 2).await.unwrap()),
        ["k1", "k2"]
    );
    assert_eq!(
        ids(store.list_kms_keys(acct, r, Some("k2"), 2).await.unwrap()),
        ["k3"]
    );
    assert_eq!(
        ids(store
            .list_kms_keys(acct, "eu-west-1", None, 9)
            .await
            .unwrap()),
        ["k9"]
    );

    // An update lands only over the revision it read.
    let mut changed = key(acct, r, "k1");
    changed.state = "Disabled".into();
    changed.deletion_date = Some(7);
    changed.rotation_period_days = None;
    changed.materials = "[m1,m2]".into();
    changed.revision = 2;
    assert!(store.update_kms_key(&changed).await.unwrap());
    assert!(
        !store.update_kms_key(&changed).await.unwrap(),
        "revision 2 is not written over itself"
    );
    let mut stale = key(acct, r, "k1");
    stale.revision = 2;
    assert!(!store.update_kms_key(&stale).await.unwrap());
    assert_eq!(
        store.get_kms_key(acct, r, "k1").await.unwrap(),
        Some(changed)
    );

    // Aliases.
    let max = 2;
    assert_eq!(
        store
            .create_kms_alias(&alias(acct, "alias/app", "k1"), max)
            .await
            .unwrap(),
        KmsAliasOutcome::Done
    );
    assert_eq!(
        store
            .create_kms_alias(&alias(acct, "alias/app", "k2"), max)
            .await
            .unwrap(),
        KmsAliasOutcome::AliasExists
    );
    assert_eq!(
        store
            .create_kms_alias(&alias(acct, "alias/x", "nope"), max)
            .await
            .unwrap(),
        KmsAliasOutcome::KeyNotFound
    );
    store
        .create_kms_alias(&alias(acct, "alias/app2", "k1"), max)
        .await
        .unwrap();
    assert_eq!(
        store
            .create_kms_alias(&alias(acct, "alias/app3", "k1"), max)
            .await
            .unwrap(),
        KmsAliasOutcome::TooMany
    );
    let mut moved = alias(acct, "alias/app", "k2");
    moved.updated_at = 9;
    assert_eq!(
        store
            .update_kms_alias(&alias(acct, "alias/none", "k2"), max)
            .await
            .unwrap(),
        KmsAliasOutcome::AliasNotFound
    );
    assert_eq!(
        store.update_kms_alias(&moved, max).await.unwrap(),
        KmsAliasOutcome::Done
    );
    assert_eq!(
        store
            .update_kms_alias(&alias(acct, "alias/app2", "k1"), max)
            .await
            .unwrap(),
        KmsAliasOutcome::Done,
        "an alias re-pointed at the key it names does not count against it"
    );
    let got = store
        .get_kms_alias(acct, r, "alias/app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.target_key_id.as_str(), got.created_at, got.updated_at),
        ("k2", 5, 9)
    );
    let names = |v: Vec<KmsAliasRecord>| v.into_iter().map(|a| a.name).collect::<Vec<_>>();
    assert_eq!(
        names(
            store
                .list_kms_aliases(acct, r, None, None, 10)
                .await
                .unwrap()
        ),
        ["alias/app", "alias/app2"]
    );
    assert_eq!(
        names(
            store
                .list_kms_aliases(acct, r, Some("k1"), None, 10)
                .await
                .unwrap()
        ),
        ["alias/app2"]
    );
    assert_eq!(
        names(
            store
                .list_kms_aliases(acct, r, None, Some("alias/app"), 1)
                .await
                .unwrap()
        ),
        ["alias/app2"]
    );
    assert!(store
        .list_kms_aliases(acct, "eu-west-1", None, None, 10)
        .await
        .unwrap()
        .is_empty());

    grant_suite(store).await;

    // Deleting a key takes its aliases and grants.
    assert!(store.delete_kms_key(acct, r, "k1").await.unwrap());
    assert_eq!(store.get_kms_grant("g1").await.unwrap(), None);
    assert!(store.get_kms_grant("g5").await.unwrap().is_some());
    assert!(!store.delete_kms_key(acct, r, "k1").await.unwrap());
    assert_eq!(
        store.get_kms_alias(acct, r, "alias/app2").await.unwrap(),
        None
    );
    assert!(store.delete_kms_alias(acct, r, "alias/app").await.unwrap());
    assert!(!store.delete_kms_alias(acct, r, "alias/app").await.unwrap());
    assert_eq!(
        ids(store.list_kms_keys(acct, r, None, 9).await.unwrap()),
        ["k2", "k3"]
    );

    // Repositories under a key, across registries, by id.
    let reg = crate::RegistryKey {
        account_id: acct.into(),
        region: r.into(),
    };
    let repo = super::repository_record;
    let under = store
        .create_repository(&reg, &repo("kms/a", Some("arn:k2")), &[])
        .await
        .unwrap()
        .unwrap();
    store
        .create_repository(&reg, &repo("plain", None), &[])
        .await
        .unwrap();
    store
        .create_repository(&reg, &repo("kms/b", Some("arn:k3")), &[])
        .await
        .unwrap();
    let found = store.kms_repositories(0, 10).await.unwrap();
    let names: Vec<(&str, &str)> = found.iter().map(|f| (f.2.as_str(), f.3.as_str())).collect();
    assert_eq!(names, [("kms/a", "arn:k2"), ("kms/b", "arn:k3")]);
    assert_eq!(found[0].1, reg);
    let rest = store.kms_repositories(under.id.0, 10).await.unwrap();
    assert_eq!(rest.len(), 1);

    // The key domains a blob's links need: each key once, AES256 as None.
    let id_of = |name: &'static str| {
        let reg = reg.clone();
        async move { store.find_repository(&reg, name).await.unwrap().unwrap() }
    };
    let (a, plain, b) = (
        id_of("kms/a").await,
        id_of("plain").await,
        id_of("kms/b").await,
    );
    let layer = berth_oci::Digest::of_bytes(berth_oci::Algorithm::Sha256, b"layer under keys");
    assert!(store.blob_link_keys(&layer).await.unwrap().is_empty());
    store.link_blob(a, &layer, 5, 1).await.unwrap();
    assert_eq!(
        store.blob_link_keys(&layer).await.unwrap(),
        [Some("arn:k2".to_string())]
    );
    store.link_blob(plain, &layer, 5, 1).await.unwrap();
    store.link_blob(b, &layer, 5, 1).await.unwrap();
    assert_eq!(
        store.blob_link_keys(&layer).await.unwrap(),
        [None, Some("arn:k2".to_string()), Some("arn:k3".to_string())]
    );
    // A repository's linked digests, in pages.
    let other = berth_oci::Digest::of_bytes(berth_oci::Algorithm::Sha256, b"another layer");
    store.link_blob(a, &other, 5, 1).await.unwrap();
    let mut both = vec![layer.clone(), other.clone()];
    both.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    assert_eq!(store.repository_blob_page(a, None, 10).await.unwrap(), both);
    assert_eq!(
        store.repository_blob_page(a, None, 1).await.unwrap(),
        both[..1]
    );
    assert_eq!(
        store
            .repository_blob_page(a, Some(&both[0]), 10)
            .await
            .unwrap(),
        both[1..]
    );
    assert_eq!(
        store.repository_blob_page(plain, None, 10).await.unwrap(),
        std::slice::from_ref(&layer)
    );

    // The wrapped root: written once, the first writer's kept.
    assert_eq!(store.kms_root().await.unwrap(), None);
    assert_eq!(store.put_kms_root("first").await.unwrap(), "first");
    assert_eq!(store.put_kms_root("second").await.unwrap(), "first");
    assert_eq!(store.kms_root().await.unwrap().as_deref(), Some("first"));
    // ... and changed only over what it is (a rotation's compare-and-swap).
    assert!(!store.replace_kms_root("other", "third").await.unwrap());
    assert!(store.replace_kms_root("first", "third").await.unwrap());
    assert!(!store.replace_kms_root("first", "fourth").await.unwrap());
    assert_eq!(store.kms_root().await.unwrap().as_deref(), Some("third"));
    // Every account's keys, paged in (account, region, id) order.
    let mut all = Vec::new();
    let mut after: Option<(String, String, String)> = None;
    loop {
        let page = store
            .all_kms_keys(
                after
                    .as_ref()
                    .map(|a| (a.0.as_str(), a.1.as_str(), a.2.as_str())),
                2,
            )
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((
            last.account_id.clone(),
            last.region.clone(),
            last.key_id.clone(),
        ));
        all.extend(page.into_iter().map(|k| (k.account_id, k.region, k.key_id)));
    }
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
    assert_eq!(store.kms_key_count().await.unwrap(), 3);
}
