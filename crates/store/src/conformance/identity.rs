//! `IdentityStore`'s suite.

use crate::metadata::{AccessKeyRecord, AccountRecord, CreateUserOutcome, IdentityStore};

/// Accounts come with their first user; users need an account; keys are
/// listed per account and deleted only through their own account.
pub async fn identity_store_suite<S: IdentityStore + ?Sized>(store: &S) {
    let acct = "222222222222";
    let created = store.create_account(acct, "admin", 7).await.unwrap();
    assert_eq!(
        created,
        Some(AccountRecord {
            id: acct.into(),
            created_at: 7
        })
    );
    assert_eq!(store.create_account(acct, "admin", 8).await.unwrap(), None);
    assert_eq!(
        store.get_account(acct).await.unwrap().unwrap().created_at,
        7
    );
    assert_eq!(store.get_account("333333333333").await.unwrap(), None);
    store.ensure_account("000000000001", 9).await.unwrap();
    let ids: Vec<String> = store
        .list_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids.contains(&acct.to_string()) && ids.contains(&"000000000001".to_string()));

    assert!(matches!(
        store.create_user(acct, "ci", "/", 10).await.unwrap(),
        CreateUserOutcome::Created(u) if u.name == "ci" && u.account_id == acct
    ));
    assert_eq!(
        store.create_user(acct, "ci", "/", 11).await.unwrap(),
        CreateUserOutcome::AlreadyExists
    );
    assert_eq!(
        store
            .create_user("333333333333", "ci", "/", 11)
            .await
            .unwrap(),
        CreateUserOutcome::NoSuchAccount
    );
    assert_eq!(store.get_account("333333333333").await.unwrap(), None);
    let names: Vec<String> = store
        .list_users(acct)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["admin", "ci"]);
    assert_eq!(
        store
            .get_user(acct, "ci")
            .await
            .unwrap()
            .unwrap()
            .created_at,
        10
    );
    assert_eq!(store.get_user(acct, "nobody").await.unwrap(), None);

    let key = |id: &str, user: &str| AccessKeyRecord {
        id: id.into(),
        account_id: acct.into(),
        user_name: user.into(),
        secret_sealed: "sealed".into(),
        active: true,
        created_at: 12,
    };
    store
        .put_access_key(&key("AKIAKEYOFCI000000001", "ci"))
        .await
        .unwrap();
    store
        .put_access_key(&key("AKIAKEYOFADMIN000001", "admin"))
        .await
        .unwrap();
    let listed: Vec<(String, String)> = store
        .access_keys_of_account(acct)
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.user_name, k.id))
        .collect();
    assert_eq!(
        listed,
        [
            ("admin".to_string(), "AKIAKEYOFADMIN000001".to_string()),
            ("ci".to_string(), "AKIAKEYOFCI000000001".to_string())
        ]
    );
    // Another account cannot delete it.
    assert!(!store
        .delete_access_key("000000000001", "AKIAKEYOFCI000000001")
        .await
        .unwrap());
    assert!(store
        .delete_access_key(acct, "AKIAKEYOFCI000000001")
        .await
        .unwrap());
    assert!(!store
        .delete_access_key(acct, "AKIAKEYOFCI000000001")
        .await
        .unwrap());
    assert_eq!(
        store.get_access_key("AKIAKEYOFCI000000001").await.unwrap(),
        None
    );
    assert_eq!(store.access_keys_of(acct, "ci").await.unwrap(), []);
}
