//! Authorization of IAM and admin calls on a registry's real store: denies
//! on a user path, conditions on the request's facts.

use crate::test_fixture::*;
use crate::*;

fn caller_with(principal: Principal, facts: crate::RequestFacts) -> crate::Caller {
    crate::Caller { principal, facts }
}

/// The outside review's takeover: `dev` may create keys and put policies
/// on every user but those under `/team/`; `ops` lives at `/team/`, so
/// every IAM action on it is refused, and the denial names its real ARN.
#[tokio::test]
async fn iam_denies_on_a_path_bind_the_users_under_it() {
    let f = fixture().await;
    f.reg
        .identity()
        .bootstrap_admin("000000000000", None)
        .await
        .unwrap();
    let admin = caller_with(
        Principal::user("000000000000", ADMIN_USER),
        Default::default(),
    );
    f.reg
        .identity()
        .iam_create_user(&admin, "dev", None)
        .await
        .unwrap();
    f.reg
        .identity()
        .iam_create_user(&admin, "ops", Some("/team/"))
        .await
        .unwrap();
    f.reg
        .identity()
        .put_holder_policy(&admin, berth_store::Holder::user("dev"),
            "iam-but-not-team",
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["iam:CreateAccessKey", "iam:PutUserPolicy", "iam:ListAccessKeys"], "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:*", "Resource": "arn:aws:iam::000000000000:user/team/*"}]}"#,
        )
        .await
        .unwrap();
    let dev = caller_with(Principal::user("000000000000", "dev"), Default::default());
    let err = f
        .reg
        .identity()
        .iam_create_access_key(&dev, Some("ops"))
        .await
        .unwrap_err();
    let Error::AccessDenied(message) = err else {
        panic!("{err:?}")
    };
    assert!(
        message
            .contains("on resource: arn:aws:iam::000000000000:user/team/ops with an explicit deny"),
        "{message}"
    );
    assert!(matches!(
        f.reg
            .identity()
            .put_holder_policy(&dev, berth_store::Holder::user("ops"), "mine", r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#)
            .await,
        Err(Error::AccessDenied(_))
    ));
    assert!(matches!(
        f.reg
            .identity()
            .iam_list_access_keys(&dev, Some("ops"))
            .await,
        Err(Error::AccessDenied(_))
    ));
    // Outside the path, the Allow stands.
    f.reg
        .identity()
        .iam_create_user(&admin, "web", None)
        .await
        .unwrap();
    f.reg
        .identity()
        .iam_create_access_key(&dev, Some("web"))
        .await
        .unwrap();
}

/// IAM and the admin API evaluate with the request's facts: a Deny
/// conditioned on the source address stops them as it stops ECR calls.
#[tokio::test]
async fn iam_and_admin_calls_see_the_requests_facts() {
    let f = fixture().await;
    f.reg
        .identity()
        .bootstrap_admin("000000000000", None)
        .await
        .unwrap();
    let admin = caller_with(
        Principal::user("000000000000", ADMIN_USER),
        Default::default(),
    );
    f.reg
        .identity()
        .put_holder_policy(
            &admin,
            berth_store::Holder::user(ADMIN_USER),
            "office-only",
            r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}}"#,
        )
        .await
        .unwrap();
    let at = |ip: &str| {
        caller_with(
            Principal::user("000000000000", ADMIN_USER),
            crate::RequestFacts {
                source_ip: Some(ip.parse().unwrap()),
                ..Default::default()
            },
        )
    };
    let (office, home) = (at("10.1.2.3"), at("192.0.2.7"));
    f.reg.identity().iam_get_user(&office, None).await.unwrap();
    assert!(matches!(
        f.reg.identity().iam_get_user(&home, None).await,
        Err(Error::AccessDenied(_))
    ));
    assert!(matches!(
        f.reg.identity().iam_list_access_keys(&home, None).await,
        Err(Error::AccessDenied(_))
    ));
    f.reg.identity().list_accounts(&office).await.unwrap();
    let Err(Error::AccessDenied(message)) = f.reg.identity().list_accounts(&home).await else {
        panic!("the admin API ignored the Deny")
    };
    assert!(message.contains("berth:ManageAccounts"), "{message}");
}
