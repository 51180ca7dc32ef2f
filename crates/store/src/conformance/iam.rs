//! `IamPolicyStore`'s suite (with the identity rules that depend on
//! policies: DeleteUser's refusals).

use crate::metadata::{
    AccessKeyRecord, AttachOutcome, CreateUserOutcome, DeletePolicyOutcome, DeleteUserOutcome,
    Holder, IamPolicyStore, IdentityStore, ManagedPolicyRecord,
};

/// The IAM API's records: user ids and paths, the two-key limit, inactive
/// keys, inline policies, managed policies and attachments, and deletes
/// refused while something still hangs off the user or policy.
pub async fn iam_policy_store_suite<S: IdentityStore + IamPolicyStore + ?Sized>(store: &S) {
    let acct = "444444444444";
    store.create_account(acct, "admin", 1).await.unwrap();
    let CreateUserOutcome::Created(u) = store.create_user(acct, "dev", "/team/", 2).await.unwrap()
    else {
        panic!("user not created");
    };
    assert_eq!(u.path, "/team/");
    assert!(
        u.user_id.starts_with("AIDA") && u.user_id.len() == 21,
        "{}",
        u.user_id
    );
    assert_eq!(store.get_user(acct, "dev").await.unwrap(), Some(u.clone()));
    let admin = store.get_user(acct, "admin").await.unwrap().unwrap();
    assert_eq!(admin.path, "/");
    assert_eq!(admin.user_id.len(), 21);
    assert_ne!(admin.user_id, u.user_id);

    // At most `max` keys per user, counted in the inserting transaction.
    let key = |id: &str| AccessKeyRecord {
        id: id.into(),
        account_id: acct.into(),
        user_name: "dev".into(),
        secret_sealed: "sealed".into(),
        active: true,
        created_at: 3,
    };
    assert!(store
        .add_access_key(&key("AKIADEV0000000000001"), 2)
        .await
        .unwrap());
    assert!(store
        .add_access_key(&key("AKIADEV0000000000002"), 2)
        .await
        .unwrap());
    assert!(!store
        .add_access_key(&key("AKIADEV0000000000003"), 2)
        .await
        .unwrap());
    assert_eq!(
        store.get_access_key("AKIADEV0000000000003").await.unwrap(),
        None
    );
    assert!(store
        .set_access_key_active(acct, "dev", "AKIADEV0000000000001", false)
        .await
        .unwrap());
    assert!(
        !store
            .get_access_key("AKIADEV0000000000001")
            .await
            .unwrap()
            .unwrap()
            .active
    );
    // Only through the key's own user.
    assert!(!store
        .set_access_key_active(acct, "admin", "AKIADEV0000000000002", false)
        .await
        .unwrap());

    // Inline policies.
    assert!(store
        .put_inline_policy(acct, Holder::user("dev"), "p1", "{\"a\":1}")
        .await
        .unwrap());
    assert!(store
        .put_inline_policy(acct, Holder::user("dev"), "p1", "{\"a\":2}")
        .await
        .unwrap());
    assert!(store
        .put_inline_policy(acct, Holder::user("dev"), "p0", "{}")
        .await
        .unwrap());
    assert!(!store
        .put_inline_policy(acct, Holder::user("nobody"), "p1", "{}")
        .await
        .unwrap());
    assert_eq!(
        store
            .get_inline_policy(acct, Holder::user("dev"), "p1")
            .await
            .unwrap()
            .as_deref(),
        Some("{\"a\":2}")
    );
    assert_eq!(
        store
            .list_inline_policies(acct, Holder::user("dev"))
            .await
            .unwrap(),
        ["p0", "p1"]
    );

    // Managed policies and attachments.
    let arn = format!("arn:aws:iam::{acct}:policy/team/deploy");
    let policy = ManagedPolicyRecord {
        account_id: acct.into(),
        name: "deploy".into(),
        path: "/team/".into(),
        arn: arn.clone(),
        policy_id: "ANPA00000000000000001".into(),
        description: Some("d".into()),
        default_version: "v1".into(),
        created_at: 4,
        updated_at: 4,
        attachment_count: 0,
    };
    assert!(store
        .create_managed_policy(&policy, "{\"v\":1}")
        .await
        .unwrap());
    let mut other_path = policy.clone();
    other_path.arn = format!("arn:aws:iam::{acct}:policy/deploy");
    assert!(
        !store
            .create_managed_policy(&other_path, "{}")
            .await
            .unwrap(),
        "names are unique per account"
    );
    assert_eq!(
        store.get_managed_policy(acct, &arn).await.unwrap(),
        Some(policy.clone())
    );
    assert_eq!(
        store
            .get_managed_policy("000000000001", &arn)
            .await
            .unwrap(),
        None
    );
    let v1 = store
        .get_policy_version(acct, &arn, "v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((v1.document.as_str(), v1.is_default), ("{\"v\":1}", true));
    assert_eq!(
        store.get_policy_version(acct, &arn, "v2").await.unwrap(),
        None
    );

    let aws = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
    let missing = format!("arn:aws:iam::{acct}:policy/missing");
    assert_eq!(
        store
            .attach_policy(acct, Holder::user("dev"), &arn, true, 5)
            .await
            .unwrap(),
        AttachOutcome::Attached
    );
    assert_eq!(
        store
            .attach_policy(acct, Holder::user("dev"), &arn, true, 6)
            .await
            .unwrap(),
        AttachOutcome::Attached
    );
    assert_eq!(
        store
            .attach_policy(acct, Holder::user("dev"), aws, false, 5)
            .await
            .unwrap(),
        AttachOutcome::Attached
    );
    assert_eq!(
        store
            .attach_policy(acct, Holder::user("dev"), &missing, true, 5)
            .await
            .unwrap(),
        AttachOutcome::NoSuchPolicy
    );
    assert_eq!(
        store
            .attach_policy(acct, Holder::user("nobody"), aws, false, 5)
            .await
            .unwrap(),
        AttachOutcome::NoSuchHolder
    );
    assert_eq!(
        store
            .attached_policies(acct, Holder::user("dev"))
            .await
            .unwrap(),
        [arn.clone(), aws.to_string()]
    );
    assert_eq!(store.policy_attachment_count(acct, aws).await.unwrap(), 1);
    let listed = store.list_managed_policies(acct).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].attachment_count, 1);
    assert_eq!(
        store.delete_managed_policy(acct, &arn).await.unwrap(),
        DeletePolicyOutcome::Attached(1)
    );

    // A user is deleted only once nothing hangs off it.
    assert_eq!(
        store.delete_user(acct, "dev").await.unwrap(),
        DeleteUserOutcome::HasAccessKeys
    );
    for id in ["AKIADEV0000000000001", "AKIADEV0000000000002"] {
        assert!(store.delete_access_key(acct, id).await.unwrap());
    }
    assert_eq!(
        store.delete_user(acct, "dev").await.unwrap(),
        DeleteUserOutcome::HasInlinePolicies
    );
    assert!(store
        .delete_inline_policy(acct, Holder::user("dev"), "p0")
        .await
        .unwrap());
    assert!(store
        .delete_inline_policy(acct, Holder::user("dev"), "p1")
        .await
        .unwrap());
    assert!(!store
        .delete_inline_policy(acct, Holder::user("dev"), "p1")
        .await
        .unwrap());
    assert_eq!(
        store.delete_user(acct, "dev").await.unwrap(),
        DeleteUserOutcome::HasAttachedPolicies
    );
    assert!(store
        .detach_policy(acct, Holder::user("dev"), &arn)
        .await
        .unwrap());
    assert!(!store
        .detach_policy(acct, Holder::user("dev"), &arn)
        .await
        .unwrap());
    assert!(store
        .detach_policy(acct, Holder::user("dev"), aws)
        .await
        .unwrap());
    assert_eq!(
        store.delete_user(acct, "dev").await.unwrap(),
        DeleteUserOutcome::Deleted
    );
    assert_eq!(
        store.delete_user(acct, "dev").await.unwrap(),
        DeleteUserOutcome::NotFound
    );
    assert_eq!(
        store.delete_managed_policy(acct, &arn).await.unwrap(),
        DeletePolicyOutcome::Deleted
    );
    assert_eq!(
        store.get_policy_version(acct, &arn, "v1").await.unwrap(),
        None
    );
    assert_eq!(
        store.delete_managed_policy(acct, &arn).await.unwrap(),
        DeletePolicyOutcome::NotFound
    );
}
