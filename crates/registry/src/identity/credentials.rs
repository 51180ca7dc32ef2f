//! Access keys and login tokens: storing keys (secrets sealed under the
//! server key before they reach the store), finding the key a signature
//! claims, presigned download URLs, and the `docker login` token check
//! with its cache.

use super::principal::{NewAccessKey, Principal, SignatureRefusal, TokenRefusal, ADMIN_USER};
use super::Identity;
use crate::fastset::KeyRef;
use crate::{Error, Result};
use berth_iam::keys;
use berth_iam::sigv4;
use berth_iam::token::{self, TokenError, TokenPrincipal};
use berth_store::AccessKeyRecord;
use std::sync::atomic::Ordering;

/// How long the token check trusts what it learnt about a user's existence.
pub const USER_CHECK_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a `docker login` token lives (ECR: 12 hours).
pub const TOKEN_LIFETIME_SECS: i64 = 12 * 3600;

impl Identity {
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
                let admin = Principal::user(account, ADMIN_USER);
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
        let Some((principal, k)) = self.key_holder(id).await? else {
            return Ok(None);
        };
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
        Ok(Some((principal, secret)))
    }

    /// The principal an active access key belongs to, its secret left
    /// sealed (a console session re-checks its key on every page).
    pub async fn access_key_principal(&self, id: &str) -> Result<Option<Principal>> {
        Ok(self.key_holder(id).await?.map(|(p, _)| p))
    }

    /// An active access key's record and the principal it belongs to.
    async fn key_holder(&self, id: &str) -> Result<Option<(Principal, AccessKeyRecord)>> {
        let Some(k) = self.meta.get_access_key(id).await? else {
            return Ok(None);
        };
        if !k.active {
            return Ok(None);
        }
        // Keys cascade from their user, so the user is there; its path is
        // part of the caller's ARN.
        let Some(user) = self.meta.get_user(&k.account_id, &k.user_name).await? else {
            return Ok(None);
        };
        Ok(Some((
            Principal::user_at(&k.account_id, &user.path, &k.user_name),
            k,
        )))
    }

    /// The secret a download URL is signed with on behalf of access key
    /// `access_key_id` (`ServerKey::download_url_secret`): GetDownloadUrlForLayer
    /// presigns with it, so the caller's own secret is never needed there.
    pub fn download_url_secret(&self, access_key_id: &str) -> String {
        self.config.server_key.download_url_secret(access_key_id)
    }

    /// Checks a download URL's SigV4 query signature (already parsed into
    /// `claim`): the key it names must still be active, and the signature
    /// must be berth's for that key, within the URL's lifetime by the
    /// registry clock. Returns the key's principal, whose rights the
    /// caller then checks.
    pub async fn check_download_url(
        &self,
        req: &sigv4::Request<'_>,
        claim: &sigv4::Claim,
    ) -> std::result::Result<Principal, SignatureRefusal> {
        let (principal, _) = self.signing_key(claim).await?;
        let secret = self.download_url_secret(&claim.access_key_id);
        sigv4::verify(req, claim, &secret, self.now_secs()).map_err(SignatureRefusal::Signature)?;
        Ok(principal)
    }

    /// Who the claim's access key belongs to and its secret, if the key
    /// exists and is active (or, with a session token, the session is
    /// berth's, unexpired and still speaks for someone): what a server can
    /// learn from a request's headers before it reads the body.
    pub async fn signing_key(
        &self,
        claim: &sigv4::Claim,
    ) -> std::result::Result<(Principal, String), SignatureRefusal> {
        if let Some(token) = &claim.session_token {
            return self.open_session(&claim.access_key_id, token).await;
        }
        // A temporary key id without its token: AWS answers as for an
        // unknown key.
        if claim.access_key_id.starts_with("ASIA") {
            return Err(SignatureRefusal::UnknownKey);
        }
        self.access_key(&claim.access_key_id)
            .await
            .map_err(SignatureRefusal::Registry)?
            .ok_or(SignatureRefusal::UnknownKey)
    }

    /// A `docker login` password for `principal`, obtained with its access
    /// key `access_key_id`, and when it expires (Unix s). Under temporary
    /// credentials it carries their session and expires with them, if
    /// sooner than 12 hours (as ECR's did).
    pub fn issue_token(&self, principal: &Principal, access_key_id: &str) -> (String, i64) {
        let expires_at = self.now() / 1000 + TOKEN_LIFETIME_SECS;
        if let Some(s) = &principal.session {
            let expires_at = expires_at.min(s.expires_at);
            let t = token::issue_for_session(
                &self.config.server_key,
                &s.access_key_id,
                &s.token,
                expires_at,
            );
            return (t, expires_at);
        }
        let t = token::issue(
            &self.config.server_key,
            &principal.account_id,
            &principal.user,
            access_key_id,
            expires_at,
        );
        (t, expires_at)
    }

    /// An anonymous bearer token of the public host, valid `lifetime_secs`,
    /// and when it expires (Unix s).
    pub fn issue_anonymous_token(&self, lifetime_secs: i64) -> (String, i64) {
        let expires_at = self.now() / 1000 + lifetime_secs;
        (
            token::issue_anonymous(&self.config.server_key, expires_at),
            expires_at,
        )
    }

    /// Whether `bearer` is an unexpired anonymous token of this deployment.
    pub fn verify_anonymous_token(&self, bearer: &str) -> std::result::Result<(), TokenError> {
        token::verify_anonymous(&self.config.server_key, bearer, self.now() / 1000).map(|_| ())
    }

    /// Who a `docker login` password speaks for: the signature and expiry
    /// (one HMAC), then whether the access key that obtained it is still
    /// active (for old `v1` tokens: whether the user still exists), from a
    /// cache that forgets after `USER_CHECK_TTL`. No database read on the
    /// hot path; a deleted user's or a deactivated or deleted key's tokens
    /// stop working within that time, at once on the node that made the
    /// change (it calls `forget_user` or `forget_tokens`). When the check
    /// cannot be made (the store fails) the token is refused: failing open
    /// would let a deleted user's token through.
    pub async fn verify_token(
        &self,
        password: &str,
    ) -> std::result::Result<Principal, TokenRefusal> {
        self.expire_checks();
        let seen = self.checks_generation.load(Ordering::SeqCst);
        // A password made under temporary credentials carries their session
        // token (about a kilobyte): once checked, the very same text is
        // found here, without decoding it and its MAC again.
        // (`djN8` is `v3|` in base64url: users' passwords skip the lookup.)
        if let Some(hit) = password
            .starts_with("djN8")
            .then(|| self.logins.get(password))
            .flatten()
        {
            if self.now() / 1000 >= hit.1 {
                return Err(TokenRefusal::Token(TokenError::Expired));
            }
            return Ok(hit.0.clone());
        }
        let TokenPrincipal {
            account_id,
            user,
            access_key_id,
            session_token,
            expires_at,
        } = token::verify(&self.config.server_key, password, self.now() / 1000)
            .map_err(TokenRefusal::Token)?;
        if let (Some(key_id), Some(session)) = (&access_key_id, &session_token) {
            return match self.open_session(key_id, session).await {
                Ok((p, _)) => {
                    self.fill_checks(seen, || {
                        self.logins.insert(
                            password.to_string(),
                            std::sync::Arc::new((p.clone(), expires_at)),
                        )
                    });
                    Ok(p)
                }
                Err(SignatureRefusal::ExpiredToken) => {
                    Err(TokenRefusal::Token(TokenError::Expired))
                }
                Err(SignatureRefusal::Registry(e)) => Err(TokenRefusal::Unavailable(e)),
                Err(_) => Err(TokenRefusal::Token(TokenError::Invalid)),
            };
        }
        let key_id = access_key_id.as_deref().unwrap_or("");
        let key = [account_id.as_str(), user.as_str(), key_id];
        // Users at the root path (nearly all) are a digest in a set; the
        // others' paths are kept beside it.
        if self.users_seen.contains(KeyRef(&key)) {
            return Ok(Principal::user(&account_id, &user));
        }
        let cached_path = self
            .user_paths
            .read()
            .get(&(account_id.clone(), user.clone(), key_id.to_string()))
            .cloned();
        if let Some(path) = cached_path {
            return Ok(Principal::user_at(&account_id, &path, &user));
        }
        let key_ok = match &access_key_id {
            Some(id) => self.meta.get_access_key(id).await.map(|k| {
                k.is_some_and(|k| k.active && k.account_id == account_id && k.user_name == user)
            }),
            None => Ok(true),
        }
        .map_err(|e| TokenRefusal::Unavailable(e.into()))?;
        if !key_ok {
            return Err(TokenRefusal::Token(TokenError::Invalid));
        }
        let path = match self.meta.get_user(&account_id, &user).await {
            Ok(Some(u)) => u.path,
            Ok(None) => return Err(TokenRefusal::Token(TokenError::Invalid)),
            Err(e) => return Err(TokenRefusal::Unavailable(e.into())),
        };
        self.fill_checks(seen, || {
            if path == "/" {
                self.users_seen.insert(KeyRef(&key));
            } else {
                self.user_paths.write().insert(
                    (account_id.clone(), user.clone(), key_id.to_string()),
                    path.clone(),
                );
            }
        });
        Ok(Principal::user_at(&account_id, &path, &user))
    }

    /// Forgets what the token and session checks learnt, every
    /// `USER_CHECK_TTL`.
    fn expire_checks(&self) {
        let now = self.now();
        let since = self.users_seen_at.load(Ordering::Relaxed);
        if now - since > USER_CHECK_TTL.as_millis() as i64 {
            self.forget_tokens();
            self.users_seen_at.store(now, Ordering::Relaxed);
        }
    }

    /// Makes the token and session checks look again at every key, user
    /// and role (after a key is deactivated or deleted, a role deleted).
    pub fn forget_tokens(&self) {
        // Exclusive across the bump and the clear: a check that read the
        // store before this cannot remember what it read after it.
        let _g = self.checks_fill.write();
        self.checks_generation.fetch_add(1, Ordering::SeqCst);
        self.users_seen.clear();
        self.user_paths.write().clear();
        self.sessions.clear();
        self.logins.clear();
    }

    /// Runs `insert` if nothing was forgotten since generation `seen` was
    /// read (before the store reads the entry rests on) and this node hears
    /// other nodes' changes: the protocol of `AuthzCache::fill`.
    fn fill_checks<R>(&self, seen: u64, insert: impl FnOnce() -> R) {
        let _g = self.checks_fill.read();
        if self.caches_enabled.load(Ordering::SeqCst)
            && self.checks_generation.load(Ordering::SeqCst) == seen
        {
            insert();
        }
    }

    /// The principal and secret of temporary credentials: the token must
    /// open beside `key_id` under the server key and be unexpired (one
    /// AEAD open and a JSON parse), and what it speaks for must still be
    /// there (the role, with the same id; a user session's source key,
    /// active). What was learnt is remembered `USER_CHECK_TTL`, per token.
    pub async fn open_session(
        &self,
        key_id: &str,
        token: &str,
    ) -> std::result::Result<(Principal, String), SignatureRefusal> {
        self.expire_checks();
        let seen = self.checks_generation.load(Ordering::SeqCst);
        let now = self.now();
        if let Some(hit) = self.sessions.get(token) {
            let session = hit.0.session.as_deref();
            // Cached sessions expire like any other.
            if session.is_some_and(|s| now / 1000 >= s.expires_at) {
                return Err(SignatureRefusal::ExpiredToken);
            }
            if session.is_some_and(|s| s.access_key_id == key_id) {
                return Ok((hit.0.clone(), hit.1.clone()));
            }
            return Err(SignatureRefusal::UnknownKey);
        }
        let claims = berth_iam::session::open(&self.config.server_key, key_id, token, now / 1000)
            .map_err(|e| match e {
            berth_iam::session::SessionError::Expired => SignatureRefusal::ExpiredToken,
            berth_iam::session::SessionError::Invalid => SignatureRefusal::UnknownKey,
        })?;
        let principal = self
            .session_principal(key_id, token, &claims)
            .await
            .map_err(SignatureRefusal::Registry)?
            .ok_or(SignatureRefusal::UnknownKey)?;
        self.fill_checks(seen, || {
            self.sessions.insert(
                token.to_string(),
                std::sync::Arc::new((principal.clone(), claims.secret.clone())),
            )
        });
        Ok((principal, claims.secret))
    }

    /// Drops what the token check remembers of a user (call after deleting it).
    pub fn forget_user(&self) {
        // Entries are per (account, user, key): start over.
        self.forget_tokens();
        self.authz.changed();
    }
}

impl Identity {
    /// Who `claims` speak for, if that still exists: `None` when the role
    /// is gone (or was made again: another id) or a user session's source
    /// key is no longer active.
    async fn session_principal(
        &self,
        key_id: &str,
        token: &str,
        claims: &berth_iam::session::SessionClaims,
    ) -> Result<Option<Principal>> {
        use berth_iam::policy::{AssumedRole, Policy, PolicyKind};
        let mut policies = Vec::new();
        if let Some(text) = &claims.policy {
            let p = Policy::parse(text, PolicyKind::Identity).map_err(|e| {
                Error::InvalidParameter(format!("the session policy no longer parses: {e}"))
            })?;
            policies.push(("session policy".to_string(), std::sync::Arc::new(p)));
        }
        for arn in &claims.policy_arns {
            if let Some(p) = self.managed_policy(&claims.account, arn).await? {
                policies.push((arn.clone(), p));
            }
        }
        let given = claims.policy.is_some() || !claims.policy_arns.is_empty();
        let role_key = claims
            .role
            .as_ref()
            .map(|r| format!("role/{}", r.name))
            .unwrap_or_default();
        let identity = match (&claims.role, &claims.user) {
            (Some(r), _) => format!("{role_key}/{}", r.session),
            (None, Some(u)) => u.name.clone(),
            (None, None) => String::new(),
        };
        let decision_key = if given {
            format!("{identity}#{key_id}")
        } else {
            identity
        };
        let mut session = super::principal::Session {
            tags: Vec::new(),
            role_key,
            decision_key,
            access_key_id: key_id.to_string(),
            token: token.to_string(),
            issued_at_ms: claims.iat,
            expires_at: claims.exp,
            mfa: claims.mfa,
            role: None,
            policies: given.then_some(policies),
        };
        if let Some(r) = &claims.role {
            match self.meta.get_role(&claims.account, &r.name).await? {
                Some(now) if now.role_id == r.id => {}
                _ => return Ok(None),
            }
            session.tags = self.meta.role_tags(&claims.account, &r.name).await?;
            session.role = Some(AssumedRole {
                name: r.name.clone(),
                id: r.id.clone(),
                session: r.session.clone(),
            });
            return Ok(Some(Principal {
                account_id: claims.account.clone(),
                user: String::new(),
                path: r.path.clone(),
                session: Some(std::sync::Arc::new(session)),
                anonymous: false,
            }));
        }
        let Some(u) = &claims.user else {
            return Ok(None);
        };
        let key_ok =
            self.meta.get_access_key(&u.key).await?.is_some_and(|k| {
                k.active && k.account_id == claims.account && k.user_name == u.name
            });
        if !key_ok {
            return Ok(None);
        }
        Ok(Some(Principal {
            session: Some(std::sync::Arc::new(session)),
            ..Principal::user_at(&claims.account, &u.path, &u.name)
        }))
    }
}
