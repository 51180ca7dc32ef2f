//! Who calls, as the rest of berth sees it: principals, the key pairs
//! handed out once, and why credentials are refused.

use crate::Error;
use berth_iam::sigv4::SigV4Error;
use berth_iam::token::TokenError;
use berth_store::AccessKeyRecord;

/// The user every account starts with, with full access to its account.
pub const ADMIN_USER: &str = "admin";

/// Who is calling: a user of an account (authenticated), or nobody
/// (`anonymous`, only in the server's anonymous mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub account_id: String,
    pub user: String,
    /// The user's IAM path (`/`, `/team/`): part of its ARN, which policies
    /// and denial messages name.
    pub path: String,
    /// Unauthenticated (anonymous mode): belongs to no account, allowed
    /// only what the anonymous grant and resource policies naming everyone
    /// allow (`authz.rs`).
    pub anonymous: bool,
}

impl Principal {
    /// The user `user` of `account` at the path `/`.
    pub fn user(account: &str, user: &str) -> Principal {
        Principal::user_at(account, "/", user)
    }

    /// The user `user` of `account` at IAM path `path`.
    pub fn user_at(account: &str, path: &str, user: &str) -> Principal {
        Principal {
            account_id: account.to_string(),
            user: user.to_string(),
            path: path.to_string(),
            anonymous: false,
        }
    }

    /// A caller without credentials (anonymous mode).
    pub fn anonymous() -> Principal {
        Principal {
            account_id: String::new(),
            user: String::new(),
            path: String::new(),
            anonymous: true,
        }
    }

    /// The caller as policies see it.
    pub fn policy_principal(&self) -> berth_iam::policy::Principal {
        if self.anonymous {
            berth_iam::policy::Principal::anonymous()
        } else {
            berth_iam::policy::Principal::user_at(&self.account_id, &self.path, &self.user)
        }
    }

    /// `arn:aws:iam::<account>:user<path><name>`, or `anonymous`.
    pub fn arn(&self) -> String {
        self.policy_principal().arn()
    }
}

/// Why a `docker login` token is not accepted.
#[derive(Debug)]
pub enum TokenRefusal {
    /// Malformed, forged, expired, or its key or user is gone.
    Token(TokenError),
    /// Whether its key is still active could not be checked (the store
    /// failed): refused, since a deleted user's token must never pass.
    Unavailable(Error),
}

/// Why a SigV4-signed request is not accepted.
#[derive(Debug)]
pub enum SignatureRefusal {
    /// No active access key has the claimed id.
    UnknownKey,
    /// The signature, or its time, does not check out.
    Signature(SigV4Error),
    Registry(Error),
}

/// A key pair to hand to a person once.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAccessKey {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for NewAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewAccessKey({}, <secret>)", self.id)
    }
}

/// An access key as listed: never its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKeyInfo {
    pub id: String,
    pub account_id: String,
    pub user_name: String,
    pub active: bool,
    pub created_at: i64,
}

impl From<AccessKeyRecord> for AccessKeyInfo {
    fn from(k: AccessKeyRecord) -> Self {
        AccessKeyInfo {
            id: k.id,
            account_id: k.account_id,
            user_name: k.user_name,
            active: k.active,
            created_at: k.created_at,
        }
    }
}
