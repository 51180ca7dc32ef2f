//! Tokens and access keys on a registry's real store: who a token speaks
//! for, and when it speaks for nobody.

use crate::test_fixture::*;
use crate::*;

#[tokio::test]
async fn tokens_speak_only_while_their_key_is_active() {
    let f = fixture().await;
    let key = f
        .reg
        .identity()
        .bootstrap_admin("000000000000", None)
        .await
        .unwrap()
        .expect("a generated key");
    let admin = Principal::user("000000000000", ADMIN_USER);
    let (token, _) = f.reg.identity().issue_token(&admin, &key.id);
    assert_eq!(f.reg.identity().verify_token(&token).await.unwrap(), admin);
    // A key that is not the user's, or does not exist, speaks for nobody.
    let ghost = Principal::user("000000000000", "ghost");
    for (who, key_id) in [(&ghost, key.id.as_str()), (&admin, "AKIANOSUCHKEY0000000")] {
        let (token, _) = f.reg.identity().issue_token(who, key_id);
        assert!(matches!(
            f.reg.identity().verify_token(&token).await,
            Err(crate::TokenRefusal::Token(
                berth_iam::token::TokenError::Invalid
            ))
        ));
    }
    let (token, _) = f.reg.identity().issue_token(&ghost, "AKIANOSUCHKEY0000000");
    assert!(matches!(
        f.reg.identity().verify_token(&token).await,
        Err(crate::TokenRefusal::Token(
            berth_iam::token::TokenError::Invalid
        ))
    ));
}

/// A token whose key cannot be checked (the store fails) is refused, never
/// waved through: a deleted user's token must not work while the store is
/// down.
#[tokio::test]
async fn tokens_are_refused_when_their_key_cannot_be_checked() {
    let f = fixture().await;
    let key = f
        .reg
        .identity()
        .bootstrap_admin("000000000000", None)
        .await
        .unwrap()
        .expect("a generated key");
    let admin = Principal::user("000000000000", ADMIN_USER);
    let (token, _) = f.reg.identity().issue_token(&admin, &key.id);
    f.reg.close().await;
    assert!(matches!(
        f.reg.identity().verify_token(&token).await,
        Err(crate::TokenRefusal::Unavailable(_))
    ));
}

/// Keys and tokens speak for the user with its IAM path, which is part of
/// the ARN that policies and denials name.
#[tokio::test]
async fn principals_carry_their_users_path() {
    let f = fixture().await;
    f.reg
        .identity()
        .bootstrap_admin("000000000000", None)
        .await
        .unwrap();
    let admin = crate::Caller {
        principal: Principal::user("000000000000", ADMIN_USER),
        facts: Default::default(),
    };
    f.reg
        .identity()
        .iam_create_user(&admin, "ops", Some("/team/"))
        .await
        .unwrap();
    let (info, key) = f
        .reg
        .identity()
        .iam_create_access_key(&admin, Some("ops"))
        .await
        .unwrap();
    let (p, _) = f
        .reg
        .identity()
        .access_key(&info.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p, Principal::user_at("000000000000", "/team/", "ops"));
    assert_eq!(p.arn(), "arn:aws:iam::000000000000:user/team/ops");
    let (token, _) = f.reg.identity().issue_token(&p, &key.id);
    for _ in 0..2 {
        // Once from the store, once from the cache.
        assert_eq!(f.reg.identity().verify_token(&token).await.unwrap(), p);
    }
}
