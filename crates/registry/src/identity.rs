//! Accounts, users and access keys; login tokens. Secrets are sealed under
//! the server key before they reach the store.

use crate::fastset::KeyRef;
use crate::{Error, Registry, Result};
use berth_iam::keys;
use berth_iam::sigv4::{self, SigV4Error};
use berth_iam::token::{self, TokenError, TokenPrincipal};
use berth_store::AccessKeyRecord;
use std::sync::atomic::Ordering;

/// How long the token check trusts what it learnt about a user's existence.
pub const USER_CHECK_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a `docker login` token lives (ECR: 12 hours).
pub const TOKEN_LIFETIME_SECS: i64 = 12 * 3600;

/// The user every account starts with, with full access to its account.
pub const ADMIN_USER: &str = "admin";

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub account_id: String,
    pub user: String,
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

impl Registry {
    /// Makes sure `account` and its admin user exist and the admin has a
    /// key. `given` (from the environment) is stored as the admin's key;
    /// otherwise, if the admin has no key yet, one is generated and
    /// returned so that it can be shown once. `None`: nothing new to show.
    pub async fn bootstrap_admin(
        &self,
        account: &str,
        given: Option<NewAccessKey>,
    ) -> Result<Option<NewAccessKey>> {
        // Reads first: a restart with everything in place writes nothing
        // (each write is an fsync before the server can answer).
        let fresh = match given {
            Some(k) => {
                if !keys::valid_access_key_id(&k.id) {
                    return Err(Error::InvalidParameter(format!(
                        "access key id '{}' must be 16 to 128 letters, digits or underscores",
                        k.id
                    )));
                }
                let admin = Principal {
                    account_id: account.to_string(),
                    user: ADMIN_USER.to_string(),
                };
                if self.access_key(&k.id).await? == Some((admin, k.secret.clone())) {
                    return Ok(None);
                }
                self.meta
                    .ensure_user(account, ADMIN_USER, self.now())
                    .await?;
                self.store_key(account, ADMIN_USER, &k).await?;
                return Ok(None);
            }
            None if self
                .meta
                .access_keys_of(account, ADMIN_USER)
                .await?
                .is_empty() =>
            {
                NewAccessKey {
                    id: keys::new_access_key_id(),
                    secret: keys::new_secret_access_key(),
                }
            }
            None => return Ok(None),
        };
        self.meta
            .ensure_user(account, ADMIN_USER, self.now())
            .await?;
        self.store_key(account, ADMIN_USER, &fresh).await?;
        Ok(Some(fresh))
    }

    /// Stores `k` (its secret sealed) for `user`; returns its creation time.
    pub(crate) async fn store_key(
        &self,
        account: &str,
        user: &str,
        k: &NewAccessKey,
    ) -> Result<i64> {
        let created_at = self.now();
        self.meta
            .put_access_key(&AccessKeyRecord {
                id: k.id.clone(),
                account_id: account.to_string(),
                user_name: user.to_string(),
                secret_sealed: self.config.server_key.seal(k.secret.as_bytes()),
                active: true,
                created_at,
            })
            .await?;
        Ok(created_at)
    }

    /// The principal an access key belongs to and its secret, if the key
    /// exists and is active.
    pub async fn access_key(&self, id: &str) -> Result<Option<(Principal, String)>> {
        let Some(k) = self.meta.get_access_key(id).await? else {
            return Ok(None);
        };
        if !k.active {
            return Ok(None);
        }
        let secret = self
            .config
            .server_key
            .unseal(&k.secret_sealed)
            .map_err(|e| {
                Error::Store(berth_store::StoreError::Corrupt(format!(
                    "access key {id}: {e}; was the data dir started with another server key?"
                )))
            })?;
        let secret = String::from_utf8(secret).map_err(|_| {
            Error::Store(berth_store::StoreError::Corrupt(format!(
                "access key {id}: the secret is not text"
            )))
        })?;
        Ok(Some((
            Principal {
                account_id: k.account_id,
                user: k.user_name,
            },
            secret,
        )))
    }

    /// Checks a SigV4 signature (already parsed into `claim`) against the
    /// claimed key's secret and the registry clock: the one place both the
    /// ECR API and presigned `/v2` URLs authenticate. Returns the signer and
    /// the secret (which presigning a URL for the signer needs).
    pub async fn check_signature(
        &self,
        req: &sigv4::Request<'_>,
        claim: &sigv4::Claim,
    ) -> std::result::Result<(Principal, String), SignatureRefusal> {
        let (principal, secret) = self
            .access_key(&claim.access_key_id)
            .await
            .map_err(SignatureRefusal::Registry)?
            .ok_or(SignatureRefusal::UnknownKey)?;
        sigv4::verify(req, claim, &secret, self.now_secs()).map_err(SignatureRefusal::Signature)?;
        Ok((principal, secret))
    }

    /// A `docker login` password for `principal`, obtained with its access
    /// key `access_key_id`, and when it expires (Unix s).
    pub fn issue_token(&self, principal: &Principal, access_key_id: &str) -> (String, i64) {
        let expires_at = self.now() / 1000 + TOKEN_LIFETIME_SECS;
        let t = token::issue(
            &self.config.server_key,
            &principal.account_id,
            &principal.user,
            access_key_id,
            expires_at,
        );
        (t, expires_at)
    }

    /// Who a `docker login` password speaks for: the signature and expiry
    /// (one HMAC), then whether the access key that obtained it is still
    /// active (for old `v1` tokens: whether the user still exists), from a
    /// cache that forgets after `USER_CHECK_TTL`. No database read on the
    /// hot path; a deleted user's or a deactivated or deleted key's tokens
    /// stop working within that time, at once on the node that made the
    /// change (it calls `forget_user` or `forget_tokens`).
    pub async fn verify_token(&self, password: &str) -> std::result::Result<Principal, TokenError> {
        let TokenPrincipal {
            account_id,
            user,
            access_key_id,
            ..
        } = token::verify(&self.config.server_key, password, self.now() / 1000)?;
        let now = self.now();
        let since = self.users_seen_at.load(Ordering::Relaxed);
        if now - since > USER_CHECK_TTL.as_millis() as i64 {
            self.users_seen.clear();
            self.users_seen_at.store(now, Ordering::Relaxed);
        }
        let key_id = access_key_id.as_deref().unwrap_or("");
        let key = [account_id.as_str(), user.as_str(), key_id];
        if !self.users_seen.contains(KeyRef(&key)) {
            let valid = match &access_key_id {
                Some(id) => self.meta.get_access_key(id).await.map(|k| {
                    k.is_some_and(|k| k.active && k.account_id == account_id && k.user_name == user)
                }),
                None => self
                    .meta
                    .get_user(&account_id, &user)
                    .await
                    .map(|u| u.is_some()),
            };
            match valid {
                Ok(true) => self.users_seen.insert(KeyRef(&key)),
                Ok(false) => return Err(TokenError::Invalid),
                Err(e) => {
                    // A store failure must not lock everyone out of pulls
                    // whose token checks out; the next request asks again.
                    tracing::warn!(error = %e, "could not check a token's key; accepting the token");
                }
            }
        }
        Ok(Principal { account_id, user })
    }

    /// Makes the token check look again at every key and user (after a key
    /// is deactivated or deleted).
    pub fn forget_tokens(&self) {
        self.users_seen.clear();
    }

    /// Drops what the token check remembers of a user (call after deleting it).
    pub fn forget_user(&self) {
        // Entries are per (account, user, key): start over.
        self.forget_tokens();
        self.authz.changed();
    }
}
