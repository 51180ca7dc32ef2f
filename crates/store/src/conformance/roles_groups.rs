//! `RoleStore`'s and `GroupStore`'s suite, with the policy rules they share
//! with users (`IamPolicyStore` through a `Holder`).

use crate::metadata::{
    AttachOutcome, CreateOutcome, CreateUserOutcome, DeleteHolderOutcome, DeletePolicyOutcome,
    DeleteUserOutcome, GroupRecord, GroupStore, Holder, IamPolicyStore, IdentityStore,
    ManagedPolicyRecord, MembershipOutcome, RoleRecord, RoleStore, RoleUpdate, TagOutcome,
};

fn role(acct: &str, name: &str) -> RoleRecord {
    RoleRecord {
        account_id: acct.into(),
        name: name.into(),
        path: "/service/".into(),
        role_id: format!("AROA{:0>17}", name.len()),
        trust_policy: "{\"trust\":1}".into(),
        description: Some("pulls".into()),
        max_session_duration: 3600,
        created_at: 10,
    }
}

/// Roles: unique names ignoring case, updates, tags with a limit, and
/// DeleteRole refused while policies remain.
pub async fn role_store_suite<S: IdentityStore + IamPolicyStore + RoleStore + ?Sized>(store: &S) {
    let acct = "555555555555";
    assert_eq!(
        store.create_role(&role(acct, "node"), &[]).await.unwrap(),
        CreateOutcome::NoSuchAccount
    );
    store.create_account(acct, "admin", 1).await.unwrap();
    let tags = vec![("team".to_string(), "ops".to_string())];
    assert_eq!(
        store.create_role(&role(acct, "node"), &tags).await.unwrap(),
        CreateOutcome::Created
    );
    assert_eq!(
        store.create_role(&role(acct, "NODE"), &[]).await.unwrap(),
        CreateOutcome::AlreadyExists,
        "names are unique ignoring case"
    );
    assert_eq!(
        store.get_role(acct, "node").await.unwrap(),
        Some(role(acct, "node"))
    );
    assert_eq!(store.get_role(acct, "other").await.unwrap(), None);
    assert_eq!(store.get_role("666666666666", "node").await.unwrap(), None);
    store.create_role(&role(acct, "ci"), &[]).await.unwrap();
    let names: Vec<String> = store
        .list_roles(acct)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["ci", "node"]);

    // Updates change only what they name.
    assert!(store
        .update_role(
            acct,
            "node",
            &RoleUpdate {
                max_session_duration: Some(7200),
                ..Default::default()
            }
        )
        .await
        .unwrap());
    assert!(store
        .update_role(
            acct,
            "node",
            &RoleUpdate {
                trust_policy: Some("{\"trust\":2}".into()),
                description: Some("nodes".into()),
                ..Default::default()
            }
        )
        .await
        .unwrap());
    let r = store.get_role(acct, "node").await.unwrap().unwrap();
    assert_eq!(
        (
            r.max_session_duration,
            r.trust_policy.as_str(),
            r.description.as_deref()
        ),
        (7200, "{\"trust\":2}", Some("nodes"))
    );
    assert!(!store
        .update_role(acct, "ghost", &RoleUpdate::default())
        .await
        .unwrap());

    // Tags: replaced by key, at most `max`, removed by key.
    assert_eq!(
        store.role_tags(acct, "node").await.unwrap(),
        [("team".to_string(), "ops".to_string())]
    );
    let more = vec![
        ("team".to_string(), "dev".to_string()),
        ("env".to_string(), "prod".to_string()),
    ];
    assert_eq!(
        store.tag_role(acct, "node", &more, 2).await.unwrap(),
        TagOutcome::Tagged
    );
    assert_eq!(
        store
            .tag_role(acct, "node", &[("x".into(), "y".into())], 2)
            .await
            .unwrap(),
        TagOutcome::TooMany
    );
    assert_eq!(
        store.tag_role(acct, "ghost", &more, 2).await.unwrap(),
        TagOutcome::NotFound
    );
    assert_eq!(
        store.role_tags(acct, "node").await.unwrap(),
        [
            ("env".to_string(), "prod".to_string()),
            ("team".to_string(), "dev".to_string())
        ]
    );
    assert!(store
        .untag_role(acct, "node", &["env".into(), "absent".into()])
        .await
        .unwrap());
    assert_eq!(store.role_tags(acct, "node").await.unwrap().len(), 1);
    assert!(!store.untag_role(acct, "ghost", &[]).await.unwrap());

    // Policies of a role, and DeleteRole's refusals.
    let node = Holder::role("node");
    assert!(store
        .put_inline_policy(acct, node, "pull", "{}")
        .await
        .unwrap());
    assert!(!store
        .put_inline_policy(acct, Holder::role("ghost"), "pull", "{}")
        .await
        .unwrap());
    assert_eq!(
        store.list_inline_policies(acct, node).await.unwrap(),
        ["pull"]
    );
    // A user of the same name has its own policies.
    store.create_user(acct, "node", "/", 2).await.unwrap();
    assert!(store
        .list_inline_policies(acct, Holder::user("node"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.delete_role(acct, "node").await.unwrap(),
        DeleteHolderOutcome::HasInlinePolicies
    );
    assert!(store
        .delete_inline_policy(acct, node, "pull")
        .await
        .unwrap());
    let arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
    assert_eq!(
        store
            .attach_policy(acct, node, arn, false, 11)
            .await
            .unwrap(),
        AttachOutcome::Attached
    );
    assert_eq!(
        store
            .attach_policy(acct, Holder::role("ghost"), arn, false, 11)
            .await
            .unwrap(),
        AttachOutcome::NoSuchHolder
    );
    assert_eq!(store.attached_policies(acct, node).await.unwrap(), [arn]);
    assert_eq!(
        store.delete_role(acct, "node").await.unwrap(),
        DeleteHolderOutcome::HasAttachedPolicies
    );
    assert!(store.detach_policy(acct, node, arn).await.unwrap());
    store.tag_role(acct, "node", &more, 50).await.unwrap();
    assert_eq!(
        store.delete_role(acct, "node").await.unwrap(),
        DeleteHolderOutcome::Deleted
    );
    assert_eq!(
        store.delete_role(acct, "node").await.unwrap(),
        DeleteHolderOutcome::NotFound
    );
    // Its tags went with it: a new role of that name starts bare.
    store.create_role(&role(acct, "node"), &[]).await.unwrap();
    assert!(store.role_tags(acct, "node").await.unwrap().is_empty());
}

fn group(acct: &str, name: &str) -> GroupRecord {
    GroupRecord {
        account_id: acct.into(),
        name: name.into(),
        path: "/".into(),
        group_id: format!("AGPA{:0>17}", name.len()),
        created_at: 20,
    }
}

/// Groups: members, their policies, DeleteGroup and DeleteUser refused while
/// members remain, and managed policies counted across users, roles and
/// groups.
pub async fn group_store_suite<
    S: IdentityStore + IamPolicyStore + GroupStore + RoleStore + ?Sized,
>(
    store: &S,
) {
    let acct = "777777777777";
    store.create_account(acct, "admin", 1).await.unwrap();
    assert_eq!(
        store.create_group(&group(acct, "devs")).await.unwrap(),
        CreateOutcome::Created
    );
    assert_eq!(
        store.create_group(&group(acct, "Devs")).await.unwrap(),
        CreateOutcome::AlreadyExists
    );
    store.create_group(&group(acct, "ops")).await.unwrap();
    assert_eq!(
        store.get_group(acct, "devs").await.unwrap(),
        Some(group(acct, "devs"))
    );
    assert_eq!(store.list_groups(acct).await.unwrap().len(), 2);
    let CreateUserOutcome::Created(_) = store.create_user(acct, "ann", "/", 2).await.unwrap()
    else {
        panic!("user not created")
    };
    store.create_user(acct, "bob", "/", 2).await.unwrap();

    // Membership: idempotent adds, typed refusals.
    for _ in 0..2 {
        assert_eq!(
            store
                .add_user_to_group(acct, "devs", "ann", 3)
                .await
                .unwrap(),
            MembershipOutcome::Done
        );
    }
    store
        .add_user_to_group(acct, "devs", "bob", 3)
        .await
        .unwrap();
    store
        .add_user_to_group(acct, "ops", "ann", 3)
        .await
        .unwrap();
    assert_eq!(
        store
            .add_user_to_group(acct, "nope", "ann", 3)
            .await
            .unwrap(),
        MembershipOutcome::NoSuchGroup
    );
    assert_eq!(
        store
            .add_user_to_group(acct, "devs", "nobody", 3)
            .await
            .unwrap(),
        MembershipOutcome::NoSuchUser
    );
    let members: Vec<String> = store
        .group_members(acct, "devs")
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(members, ["ann", "bob"]);
    let of_ann: Vec<String> = store
        .groups_for_user(acct, "ann")
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(of_ann, ["devs", "ops"]);
    assert_eq!(
        store
            .remove_user_from_group(acct, "ops", "bob")
            .await
            .unwrap(),
        MembershipOutcome::NotMember
    );

    // Refusals while members remain, on both sides.
    assert_eq!(
        store.delete_group(acct, "devs").await.unwrap(),
        DeleteHolderOutcome::HasMembers
    );
    assert_eq!(
        store.delete_user(acct, "bob").await.unwrap(),
        DeleteUserOutcome::InGroups
    );

    // A managed policy attached to a user, a role and a group counts three,
    // and cannot be deleted until all are detached.
    let arn = format!("arn:aws:iam::{acct}:policy/pull");
    assert!(store
        .create_managed_policy(
            &ManagedPolicyRecord {
                account_id: acct.into(),
                name: "pull".into(),
                path: "/".into(),
                arn: arn.clone(),
                policy_id: "ANPA00000000000000001".into(),
                description: None,
                default_version: "v1".into(),
                created_at: 4,
                updated_at: 4,
                attachment_count: 0,
            },
            "{}",
        )
        .await
        .unwrap());
    store.create_role(&role(acct, "node"), &[]).await.unwrap();
    let holders = [
        Holder::user("ann"),
        Holder::role("node"),
        Holder::group("devs"),
    ];
    for h in holders {
        assert_eq!(
            store.attach_policy(acct, h, &arn, true, 5).await.unwrap(),
            AttachOutcome::Attached
        );
    }
    assert_eq!(
        store
            .attach_policy(
                acct,
                Holder::group("devs"),
                "arn:aws:iam::777777777777:policy/none",
                true,
                5
            )
            .await
            .unwrap(),
        AttachOutcome::NoSuchPolicy
    );
    assert_eq!(store.policy_attachment_count(acct, &arn).await.unwrap(), 3);
    assert_eq!(
        store
            .get_managed_policy(acct, &arn)
            .await
            .unwrap()
            .unwrap()
            .attachment_count,
        3
    );
    assert_eq!(
        store.delete_managed_policy(acct, &arn).await.unwrap(),
        DeletePolicyOutcome::Attached(3)
    );
    for h in holders {
        assert!(store.detach_policy(acct, h, &arn).await.unwrap());
    }
    assert_eq!(
        store.delete_managed_policy(acct, &arn).await.unwrap(),
        DeletePolicyOutcome::Deleted
    );

    // A group's inline policy holds DeleteGroup back too.
    let devs = Holder::group("devs");
    assert!(store
        .put_inline_policy(acct, devs, "read", "{}")
        .await
        .unwrap());
    assert_eq!(
        store.get_inline_policy(acct, devs, "read").await.unwrap(),
        Some("{}".to_string())
    );
    for u in ["ann", "bob"] {
        assert_eq!(
            store.remove_user_from_group(acct, "devs", u).await.unwrap(),
            MembershipOutcome::Done
        );
    }
    assert_eq!(
        store.delete_group(acct, "devs").await.unwrap(),
        DeleteHolderOutcome::HasInlinePolicies
    );
    assert!(store
        .delete_inline_policy(acct, devs, "read")
        .await
        .unwrap());
    assert_eq!(
        store.delete_group(acct, "devs").await.unwrap(),
        DeleteHolderOutcome::Deleted
    );
    // A deleted user leaves its groups.
    assert_eq!(
        store
            .remove_user_from_group(acct, "ops", "ann")
            .await
            .unwrap(),
        MembershipOutcome::Done
    );
    assert_eq!(
        store.delete_user(acct, "ann").await.unwrap(),
        DeleteUserOutcome::Deleted
    );
    assert!(store.group_members(acct, "ops").await.unwrap().is_empty());
}
