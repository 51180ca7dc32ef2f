//! Who calls, as the rest of berth sees it: principals, the key pairs
//! handed out once, and why credentials are refused.

use crate::Error;
use berth_iam::sigv4::SigV4Error;
use berth_iam::token::TokenError;
use berth_store::AccessKeyRecord;

/// The user every account starts with, with full access to its account.
pub const ADMIN_USER: &str = "admin";

/// Who is calling: a user of an account (authenticated, perhaps through
/// temporary credentials), a role session, or nobody (`anonymous`, only
/// in the server's anonymous mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub account_id: String,
    /// The user's name; empty for a role session (its role is in `session`).
    pub user: String,
    /// The user's or role's IAM path (`/`, `/team/`): part of its ARN,
    /// which policies and denial messages name.
    pub path: String,
    /// Temporary credentials: what they were issued as.
    pub session: Option<std::sync::Arc<Session>>,
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
            session: None,
            anonymous: false,
        }
    }

    /// A caller without credentials (anonymous mode).
    pub fn anonymous() -> Principal {
        Principal {
            account_id: String::new(),
            user: String::new(),
            path: String::new(),
            session: None,
            anonymous: true,
        }
    }

    /// The caller as policies see it.
    pub fn policy_principal(&self) -> berth_iam::policy::Principal {
        use berth_iam::policy::{Principal as P, SessionFacts};
        if self.anonymous {
            return P::anonymous();
        }
        let Some(s) = &self.session else {
            return P::user_at(&self.account_id, &self.path, &self.user);
        };
        let facts = SessionFacts {
            issued_at_ms: s.issued_at_ms,
            mfa: s.mfa,
        };
        match &s.role {
            Some(r) => P {
                tags: s.tags.clone(),
                ..P::role_session(&self.account_id, &self.path, r.clone(), facts)
            },
            None => P {
                session: Some(facts),
                ..P::user_at(&self.account_id, &self.path, &self.user)
            },
        }
    }

    /// The caller's ARN: `arn:aws:iam::<account>:user<path><name>`, a role
    /// session's `arn:aws:sts::<account>:assumed-role/<role>/<session>`, or
    /// `anonymous`.
    pub fn arn(&self) -> String {
        self.policy_principal().arn()
    }

    /// A user's temporary credentials (GetSessionToken): without MFA they
    /// may not manage identities (IAM, the admin API's users and accounts).
    pub fn is_user_session(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.role.is_none())
    }

    /// The role behind a role session.
    pub fn role(&self) -> Option<&berth_iam::policy::AssumedRole> {
        self.session.as_ref().and_then(|s| s.role.as_ref())
    }

    /// What the identity-policy cache knows this caller's policies by: the
    /// user's name, or `role/<name>` (no user name holds `/`).
    pub fn identity_key(&self) -> &str {
        match &self.session {
            Some(s) if s.role.is_some() => &s.role_key,
            _ => &self.user,
        }
    }

    /// What the decision cache knows this caller by: the user's name; a
    /// role session's role and session name (resource policies can name
    /// one session, and `${aws:userid}` differs per session); and a session
    /// with its own policies, that session alone.
    pub fn decision_key(&self) -> &str {
        match &self.session {
            Some(s) if s.role.is_some() || s.policies.is_some() => &s.decision_key,
            _ => &self.user,
        }
    }
}

/// What temporary credentials were issued as (GetSessionToken or
/// AssumeRole), as opened from their session token. Two are equal when
/// they are the same credentials. Its `Debug` leaves the token out.
pub struct Session {
    /// The `ASIA…` key id.
    pub access_key_id: String,
    /// The session token, as presented (a login token made under the
    /// session carries it).
    pub token: String,
    pub issued_at_ms: i64,
    /// Unix s.
    pub expires_at: i64,
    pub mfa: bool,
    /// A role session: the role (name, id) and the session name.
    pub role: Option<berth_iam::policy::AssumedRole>,
    /// The session policies: `None` when none were given (the role's
    /// policies alone decide); else an Allow is needed from one of them.
    pub policies: Option<Vec<(String, std::sync::Arc<berth_iam::policy::Policy>)>>,
    /// `role/<name>` for a role session (`Principal::identity_key`).
    pub role_key: String,
    /// A role session's role's tags (`aws:PrincipalTag/<key>`), as they
    /// were when the session was last checked.
    pub tags: Vec<(String, String)>,
    /// `role/<name>/<session>`, with `#<key id>` when the session has its
    /// own policies (`Principal::decision_key`).
    pub decision_key: String,
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
    /// No active access key has the claimed id, or its session token is
    /// not one of berth's (or no longer speaks for anyone).
    UnknownKey,
    /// The session token has expired.
    ExpiredToken,
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

impl PartialEq for Session {
    fn eq(&self, other: &Self) -> bool {
        self.access_key_id == other.access_key_id && self.token == other.token
    }
}

impl Eq for Session {}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_key_id", &self.access_key_id)
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}
