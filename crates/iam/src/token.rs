//! `docker login` tokens: what GetAuthorizationToken hands out and `/v2`
//! accepts as the Basic password of user `AWS`. Self-contained and signed
//! with the server key, so that checking one costs an HMAC, not a database
//! round trip, and survives restarts.
//!
//! Form: `base64url(payload) "." base64url(hmac)`, payload
//! `v2|<account>|<user>|<access key id>|<expires unix s>`: the key that
//! signed GetAuthorizationToken is named so that deactivating or deleting
//! it ends the tokens it obtained. (`v1` tokens, without the key, are still
//! accepted until they expire.) Neither part contains `:` (the AWS CLI and
//! the credential helper split `AWS:<token>` on it).
//!
//! A token obtained with temporary credentials is `v3|<key id>|<session
//! token>|<expires>`: the session token (`session.rs`) says who it speaks
//! for, and is opened and checked as a signed request's would be.

use crate::server_key::ServerKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPrincipal {
    pub account_id: String,
    pub user: String,
    /// The access key that obtained the token (`None` for `v1` tokens).
    pub access_key_id: Option<String>,
    pub expires_at: i64,
    /// `v3`: the session token of the temporary credentials that obtained
    /// it (`account_id` and `user` are then empty: the session says).
    pub session_token: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not one of ours, or altered.
    #[error("the authorization token is not valid")]
    Invalid,
    #[error("Your authorization token has expired. Reauthenticate and try again.")]
    Expired,
}

pub fn issue(
    key: &ServerKey,
    account_id: &str,
    user: &str,
    access_key_id: &str,
    expires_at: i64,
) -> String {
    let payload = format!("v2|{account_id}|{user}|{access_key_id}|{expires_at}");
    let mac = key.token_mac(payload.as_bytes());
    format!("{}.{}", B64.encode(payload), B64.encode(mac))
}

/// A token for temporary credentials (`access_key_id`, `session_token`).
pub fn issue_for_session(
    key: &ServerKey,
    access_key_id: &str,
    session_token: &str,
    expires_at: i64,
) -> String {
    let payload = format!("v3|{access_key_id}|{session_token}|{expires_at}");
    let mac = key.token_mac(payload.as_bytes());
    format!("{}.{}", B64.encode(payload), B64.encode(mac))
}

/// An anonymous bearer token of the public host (its `/token` endpoint
/// without credentials): it says only that berth issued it and until when.
/// `verify` refuses it, so it never passes for a login password.
pub fn issue_anonymous(key: &ServerKey, expires_at: i64) -> String {
    let payload = format!("v0|anonymous|{expires_at}");
    let mac = key.token_mac(payload.as_bytes());
    format!("{}.{}", B64.encode(payload), B64.encode(mac))
}

/// When an anonymous token from `issue_anonymous` expires, if it is one
/// and has not.
pub fn verify_anonymous(key: &ServerKey, token: &str, now: i64) -> Result<i64, TokenError> {
    let text = open(key, token)?;
    let expires_at: i64 = text
        .strip_prefix("v0|anonymous|")
        .and_then(|e| e.parse().ok())
        .ok_or(TokenError::Invalid)?;
    if now >= expires_at {
        return Err(TokenError::Expired);
    }
    Ok(expires_at)
}

/// A token's payload, once its MAC checks out.
fn open(key: &ServerKey, token: &str) -> Result<String, TokenError> {
    let (payload, mac) = token.split_once('.').ok_or(TokenError::Invalid)?;
    let payload = B64.decode(payload).map_err(|_| TokenError::Invalid)?;
    let mac = B64.decode(mac).map_err(|_| TokenError::Invalid)?;
    if !key.token_mac_matches(&payload, &mac) {
        return Err(TokenError::Invalid);
    }
    String::from_utf8(payload).map_err(|_| TokenError::Invalid)
}

pub fn verify(key: &ServerKey, token: &str, now: i64) -> Result<TokenPrincipal, TokenError> {
    let text = open(key, token)?;
    let parts: Vec<&str> = text.split('|').collect();
    if let ["v3", key_id, session, expires] = parts.as_slice() {
        let expires_at: i64 = expires.parse().map_err(|_| TokenError::Invalid)?;
        if now >= expires_at {
            return Err(TokenError::Expired);
        }
        return Ok(TokenPrincipal {
            account_id: String::new(),
            user: String::new(),
            access_key_id: Some(key_id.to_string()),
            expires_at,
            session_token: Some(session.to_string()),
        });
    }
    let (account_id, user, access_key_id, expires) = match parts.as_slice() {
        ["v2", account, user, key, expires] => (account, user, Some(key.to_string()), expires),
        ["v1", account, user, expires] => (account, user, None, expires),
        _ => return Err(TokenError::Invalid),
    };
    let expires_at: i64 = expires.parse().map_err(|_| TokenError::Invalid)?;
    if now >= expires_at {
        return Err(TokenError::Expired);
    }
    Ok(TokenPrincipal {
        account_id: account_id.to_string(),
        user: user.to_string(),
        access_key_id,
        expires_at,
        session_token: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ServerKey {
        ServerKey::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn a_token_names_its_principal_until_it_expires() {
        let t = issue(&key(), "123456789012", "ci", "AKIAEXAMPLE", 1_000);
        assert!(!t.contains(':'));
        let p = verify(&key(), &t, 999).unwrap();
        assert_eq!(
            (
                p.account_id.as_str(),
                p.user.as_str(),
                p.access_key_id.as_deref(),
                p.expires_at
            ),
            ("123456789012", "ci", Some("AKIAEXAMPLE"), 1_000)
        );
        assert_eq!(verify(&key(), &t, 1_000), Err(TokenError::Expired));
    }

    #[test]
    fn anonymous_tokens_expire_and_never_pass_for_a_login() {
        let t = issue_anonymous(&key(), 1_000);
        assert!(!t.contains(':'));
        assert_eq!(verify_anonymous(&key(), &t, 999), Ok(1_000));
        assert_eq!(
            verify_anonymous(&key(), &t, 1_000),
            Err(TokenError::Expired)
        );
        assert_eq!(verify(&key(), &t, 999), Err(TokenError::Invalid));
        let login = issue(&key(), "123456789012", "ci", "AKIAEXAMPLE", 1_000);
        assert_eq!(
            verify_anonymous(&key(), &login, 999),
            Err(TokenError::Invalid)
        );
        let other = ServerKey::from_bytes(&[8u8; 32]).unwrap();
        assert_eq!(verify_anonymous(&other, &t, 999), Err(TokenError::Invalid));
    }

    #[test]
    fn a_session_token_rides_in_a_v3_token() {
        let t = issue_for_session(&key(), "ASIAEXAMPLE", "c2Vzc2lvbg", 1_000);
        assert!(!t.contains(':'));
        let p = verify(&key(), &t, 999).unwrap();
        assert_eq!(p.access_key_id.as_deref(), Some("ASIAEXAMPLE"));
        assert_eq!(p.session_token.as_deref(), Some("c2Vzc2lvbg"));
        assert_eq!(verify(&key(), &t, 1_000), Err(TokenError::Expired));
    }

    #[test]
    fn v1_tokens_without_a_key_are_still_accepted() {
        let payload = "v1|123456789012|ci|1000";
        let t = format!(
            "{}.{}",
            B64.encode(payload),
            B64.encode(key().token_mac(payload.as_bytes()))
        );
        let p = verify(&key(), &t, 999).unwrap();
        assert_eq!((p.user.as_str(), p.access_key_id), ("ci", None));
    }

    #[test]
    fn forged_and_altered_tokens_are_invalid() {
        let t = issue(&key(), "123456789012", "ci", "AKIAEXAMPLE", 1_000);
        let other = ServerKey::from_bytes(&[8u8; 32]).unwrap();
        assert_eq!(verify(&other, &t, 0), Err(TokenError::Invalid));
        // Another account in the payload, the old MAC.
        let (_, mac) = t.split_once('.').unwrap();
        let forged = format!(
            "{}.{mac}",
            B64.encode("v2|000000000000|ci|AKIAEXAMPLE|1000")
        );
        assert_eq!(verify(&key(), &forged, 0), Err(TokenError::Invalid));
        for junk in ["", ".", "abc", "a.b", &format!("{t}x")] {
            assert_eq!(verify(&key(), junk, 0), Err(TokenError::Invalid), "{junk}");
        }
    }
}
