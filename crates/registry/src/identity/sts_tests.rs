//! Sessions on a registry's real store with a controlled clock: expiry (of
//! the credentials and of the login tokens made with them), revocation by
//! `aws:TokenIssueTime`, and what a role session's policies are.

use crate::test_fixture::*;
use crate::*;
use berth_iam::sigv4::Claim;
use std::sync::atomic::Ordering;

const ACCT: &str = "000000000000";

async fn admin(f: &Fixture) -> Caller {
    f.reg.identity().bootstrap_admin(ACCT, None).await.unwrap();
    Caller {
        principal: Principal::user(ACCT, ADMIN_USER),
        facts: Default::default(),
    }
}

async fn role(f: &Fixture, caller: &Caller, name: &str, max: i64) {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCT}:user/admin"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    f.reg
        .identity()
        .iam_create_role(
            caller,
            NewRole {
                name: name.into(),
                trust_policy: trust,
                max_session_duration: Some(max),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

async fn assume(f: &Fixture, caller: &Caller, name: &str, secs: i64) -> TemporaryCredentials {
    f.reg
        .identity()
        .assume_role(
            caller,
            AssumeRole {
                role_arn: format!("arn:aws:iam::{ACCT}:role/{name}"),
                session_name: "s-1".into(),
                duration_secs: Some(secs),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .0
}

async fn open(f: &Fixture, c: &TemporaryCredentials) -> Result<Principal, SignatureRefusal> {
    let claim = Claim {
        access_key_id: c.access_key_id.clone(),
        session_token: Some(c.session_token.clone()),
        ..Claim::default()
    };
    f.reg
        .identity()
        .signing_key(&claim)
        .await
        .map(|(p, secret)| {
            assert_eq!(secret, c.secret_access_key);
            p
        })
}

async fn check(f: &Fixture, registry: &RegistryKey, p: &Principal) -> Result<()> {
    f.reg
        .identity()
        .authorize(
            p,
            "ecr:BatchGetImage",
            registry,
            Some("app"),
            &RequestFacts::default(),
        )
        .await
}

fn advance(f: &Fixture, ms: i64) {
    f.clock.0.fetch_add(ms, Ordering::SeqCst);
}

#[tokio::test]
async fn sessions_and_their_login_tokens_expire_with_the_credentials() {
    let f = fixture().await;
    let admin = admin(&f).await;
    role(&f, &admin, "node", 3600).await;
    let c = assume(&f, &admin, "node", 900).await;
    assert!(c.access_key_id.starts_with("ASIA"));
    let p = open(&f, &c).await.unwrap();
    assert_eq!(
        p.arn(),
        format!("arn:aws:sts::{ACCT}:assumed-role/node/s-1")
    );
    // The login token: the session's expiry, not 12 hours.
    let (token, expires) = f.reg.identity().issue_token(&p, &c.access_key_id);
    assert_eq!(expires, c.expires_at);
    assert_eq!(f.reg.identity().verify_token(&token).await.unwrap(), p);
    advance(&f, 899_000);
    assert!(open(&f, &c).await.is_ok());
    advance(&f, 1_000);
    assert!(matches!(
        open(&f, &c).await,
        Err(SignatureRefusal::ExpiredToken)
    ));
    assert!(matches!(
        f.reg.identity().verify_token(&token).await,
        Err(TokenRefusal::Token(berth_iam::token::TokenError::Expired))
    ));
}

#[tokio::test]
async fn a_deny_on_token_issue_time_revokes_older_sessions_only() {
    let f = fixture().await;
    let admin = admin(&f).await;
    role(&f, &admin, "node", 3600).await;
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}"#;
    let identity = f.reg.identity();
    identity
        .put_holder_policy(&admin, Holder::role("node"), "ecr", allow)
        .await
        .unwrap();
    let old = assume(&f, &admin, "node", 3600).await;
    let old_p = open(&f, &old).await.unwrap();
    let registry = RegistryKey {
        account_id: ACCT.into(),
        region: "us-east-1".into(),
    };
    check(&f, &registry, &old_p).await.unwrap();
    // AWS's "revoke active sessions": deny what was issued before now.
    advance(&f, 1_000);
    let cutoff = berth_iam::dates::iso8601(f.clock.0.load(Ordering::SeqCst));
    let revoke = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"*","Resource":"*","Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{cutoff}"}}}}}}]}}"#
    );
    identity
        .put_holder_policy(
            &admin,
            Holder::role("node"),
            "AWSRevokeOlderSessions",
            &revoke,
        )
        .await
        .unwrap();
    let e = check(&f, &registry, &old_p).await.unwrap_err();
    assert!(
        matches!(&e, Error::AccessDenied(m) if m.contains("explicit deny")),
        "{e:?}"
    );
    advance(&f, 1_000);
    let new = assume(&f, &admin, "node", 3600).await;
    check(&f, &registry, &open(&f, &new).await.unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn role_chaining_is_limited_to_an_hour_and_a_user_session_cannot_ask_for_another() {
    let f = fixture().await;
    let admin = admin(&f).await;
    role(&f, &admin, "a", 43_200).await;
    // b trusts a's sessions.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCT}:role/a"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    f.reg
        .identity()
        .iam_create_role(
            &admin,
            NewRole {
                name: "b".into(),
                trust_policy: trust,
                max_session_duration: Some(43_200),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let a = assume(&f, &admin, "a", 7_200).await;
    let a_caller = Caller {
        principal: open(&f, &a).await.unwrap(),
        facts: Default::default(),
    };
    let too_long = f
        .reg
        .identity()
        .assume_role(
            &a_caller,
            AssumeRole {
                role_arn: format!("arn:aws:iam::{ACCT}:role/b"),
                session_name: "chained".into(),
                duration_secs: Some(3_601),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(&too_long, Err(Error::InvalidParameter(m)) if m.contains("role chaining")),
        "{too_long:?}"
    );
    assume(&f, &a_caller, "b", 3_600).await;
    // GetSessionToken is for long-term keys only.
    let user_session = f
        .reg
        .identity()
        .get_session_token(&admin, "AKIAEXAMPLE000000000", Some(900))
        .await
        .unwrap();
    let _ = user_session;
    let again = f
        .reg
        .identity()
        .get_session_token(&a_caller, "ASIAEXAMPLE", None)
        .await;
    assert!(matches!(again, Err(Error::AccessDenied(_))));
}

#[tokio::test]
async fn conditions_see_each_principals_keys() {
    let f = fixture().await;
    let admin = admin(&f).await;
    let identity = f.reg.identity();
    let registry = RegistryKey {
        account_id: ACCT.into(),
        region: "us-east-1".into(),
    };
    // A role session: its type, its role's ARN, its user id and its
    // role's tags.
    role(&f, &admin, "node", 3600).await;
    identity
        .iam_tag_role(&admin, "node", vec![("team".into(), "ops".into())])
        .await
        .unwrap();
    let c = assume(&f, &admin, "node", 900).await;
    let p = open(&f, &c).await.unwrap();
    let role_id = identity.iam_get_role(&admin, "node").await.unwrap().role_id;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{{
            "StringEquals":{{"aws:PrincipalType":"AssumedRole","aws:PrincipalTag/team":"ops",
                "aws:PrincipalArn":"arn:aws:iam::{ACCT}:role/node","aws:userid":"{role_id}:s-1"}},
            "Bool":{{"aws:MultiFactorAuthPresent":"false"}}}}}}]}}"#
    );
    identity
        .put_holder_policy(&admin, Holder::role("node"), "keys", &policy)
        .await
        .unwrap();
    check(&f, &registry, &p).await.unwrap();
    // The tag goes: the session's next check sees it gone.
    identity
        .iam_untag_role(&admin, "node", vec!["team".into()])
        .await
        .unwrap();
    let p = open(&f, &c).await.unwrap();
    assert!(check(&f, &registry, &p).await.is_err());

    // A user: `aws:userid` is its AIDA… id, read only when a condition
    // names it.
    let dev = identity.iam_create_user(&admin, "dev", None).await.unwrap();
    let for_id = |id: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{{"StringEquals":{{"aws:userid":"{id}","aws:PrincipalType":"User"}}}}}}]}}"#
        )
    };
    identity
        .put_holder_policy(
            &admin,
            Holder::user("dev"),
            "p",
            &for_id("AIDANOTTHISONE000000"),
        )
        .await
        .unwrap();
    let dev_p = Principal::user(ACCT, "dev");
    assert!(check(&f, &registry, &dev_p).await.is_err());
    identity
        .put_holder_policy(&admin, Holder::user("dev"), "p", &for_id(&dev.user_id))
        .await
        .unwrap();
    check(&f, &registry, &dev_p).await.unwrap();
}

/// A repository policy can name one session of a role: a decision cached
/// for another session of the same role must not answer for it.
#[tokio::test]
async fn a_deny_naming_one_session_is_not_bypassed_by_another_sessions_allow() {
    let f = fixture().await;
    let admin = admin(&f).await;
    let identity = f.reg.identity();
    role(&f, &admin, "node", 3600).await;
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}"#;
    identity
        .put_holder_policy(&admin, Holder::role("node"), "ecr", allow)
        .await
        .unwrap();
    let registry = RegistryKey {
        account_id: ACCT.into(),
        region: "us-east-1".into(),
    };
    f.reg
        .create_repository(
            &registry,
            &berth_oci::RepositoryName::parse("app").unwrap(),
            RepositorySettings::default(),
            &[],
        )
        .await
        .unwrap();
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":{{"AWS":"arn:aws:sts::{ACCT}:assumed-role/node/bad"}},"Action":"ecr:BatchGetImage"}}]}}"#
    );
    identity
        .set_repository_policy(&admin, &registry, "app", &deny, false)
        .await
        .unwrap();
    let assume_as = |name: &'static str| {
        let admin = admin.clone();
        let f = &f;
        async move {
            let (c, _) = f
                .reg
                .identity()
                .assume_role(
                    &admin,
                    AssumeRole {
                        role_arn: format!("arn:aws:iam::{ACCT}:role/node"),
                        session_name: name.into(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            open(f, &c).await.unwrap()
        }
    };
    let good = assume_as("good").await;
    let bad = assume_as("bad").await;
    // The good session is allowed (and the Allow may be cached), then the
    // bad one must still meet its Deny.
    check(&f, &registry, &good).await.unwrap();
    check(&f, &registry, &good).await.unwrap();
    let e = check(&f, &registry, &bad).await.unwrap_err();
    assert!(
        matches!(&e, Error::AccessDenied(m) if m.contains("explicit deny")),
        "{e:?}"
    );
}
