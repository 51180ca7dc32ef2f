//! Temporary credentials (GetSessionToken, AssumeRole): an `ASIA…` key id,
//! a secret, and a session token that carries everything needed to check
//! a request signed with them, sealed under the server key.
//!
//! Token form: `base64url(nonce ‖ ChaCha20-Poly1305(JSON claims))` under a
//! key derived for sessions only, with the key id as associated data, so a
//! token opens only beside its own key id. The claims hold the secret: the
//! server stores nothing, every node that shares the server key verifies
//! every session, and sessions survive restarts.

use crate::server_key::ServerKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// What a session speaks for. Its `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The secret access key the client signs with.
    pub secret: String,
    pub account: String,
    /// GetSessionToken: the user, its path, and the long-term key that
    /// obtained the session (which must stay active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<SessionUser>,
    /// AssumeRole: the role and the session's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<SessionRole>,
    /// Issued at (Unix ms).
    pub iat: i64,
    /// Expires at (Unix s).
    pub exp: i64,
    #[serde(default)]
    pub mfa: bool,
    /// The inline session policy, as given (at most 2,048 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Managed session policies by ARN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_arns: Vec<String>,
}

impl std::fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionClaims")
            .field("secret", &"<redacted>")
            .field("account", &self.account)
            .field("user", &self.user)
            .field("role", &self.role)
            .field("iat", &self.iat)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub name: String,
    pub path: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRole {
    pub name: String,
    pub path: String,
    /// `AROA…`: a role deleted and made again under the same name has
    /// another id, and the old sessions stay dead.
    pub id: String,
    pub session: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    /// Not one of ours, altered, or presented with another key id.
    #[error("The security token included in the request is invalid.")]
    Invalid,
    #[error("The security token included in the request is expired")]
    Expired,
}

/// The session token for `claims`, bound to `access_key_id`.
pub fn seal(key: &ServerKey, access_key_id: &str, claims: &SessionClaims) -> String {
    let json = serde_json::to_vec(claims).expect("session claims serialize");
    B64.encode(key.seal_session(access_key_id.as_bytes(), &json))
}

/// The claims of a session token presented with `access_key_id`, if it is
/// ours, whole, and unexpired at `now` (Unix s).
pub fn open(
    key: &ServerKey,
    access_key_id: &str,
    token: &str,
    now: i64,
) -> Result<SessionClaims, SessionError> {
    let raw = B64.decode(token).map_err(|_| SessionError::Invalid)?;
    let json = key
        .open_session(access_key_id.as_bytes(), &raw)
        .map_err(|_| SessionError::Invalid)?;
    let claims: SessionClaims = serde_json::from_slice(&json).map_err(|_| SessionError::Invalid)?;
    if now >= claims.exp {
        return Err(SessionError::Expired);
    }
    Ok(claims)
}

/// A new temporary access key id: `ASIA` + 16 characters, as AWS's.
pub fn new_key_id() -> String {
    let id = crate::keys::new_access_key_id();
    format!("ASIA{}", &id[4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> ServerKey {
        ServerKey::from_bytes(&[b; 32]).unwrap()
    }

    fn claims() -> SessionClaims {
        SessionClaims {
            secret: "s3cr3t".into(),
            account: "123456789012".into(),
            user: None,
            role: Some(SessionRole {
                name: "node".into(),
                path: "/".into(),
                id: "AROAEXAMPLE".into(),
                session: "i-1".into(),
            }),
            iat: 1_000,
            exp: 2_000,
            mfa: false,
            policy: None,
            policy_arns: vec![],
        }
    }

    #[test]
    fn a_session_opens_with_its_key_id_until_it_expires() {
        let id = new_key_id();
        assert!(id.starts_with("ASIA") && id.len() == 20, "{id}");
        let t = seal(&key(1), &id, &claims());
        assert!(!t.contains("s3cr3t") && !t.contains(':') && !t.contains('|'));
        assert_eq!(open(&key(1), &id, &t, 1_999), Ok(claims()));
        assert_eq!(open(&key(1), &id, &t, 2_000), Err(SessionError::Expired));
    }

    #[test]
    fn another_key_id_another_server_or_a_flipped_bit_is_invalid() {
        let t = seal(&key(1), "ASIAAAAAAAAAAAAAAAAA", &claims());
        assert_eq!(
            open(&key(1), "ASIABBBBBBBBBBBBBBBB", &t, 0),
            Err(SessionError::Invalid)
        );
        assert_eq!(
            open(&key(2), "ASIAAAAAAAAAAAAAAAAA", &t, 0),
            Err(SessionError::Invalid)
        );
        let mut bytes = B64.decode(&t).unwrap();
        bytes[20] ^= 1;
        assert_eq!(
            open(&key(1), "ASIAAAAAAAAAAAAAAAAA", &B64.encode(bytes), 0),
            Err(SessionError::Invalid)
        );
        assert_eq!(
            open(&key(1), "ASIA", "not base64!", 0),
            Err(SessionError::Invalid)
        );
    }
}
