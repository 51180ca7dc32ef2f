//! Identity: who is calling and what they may do. Accounts, users and
//! access keys (the admin API and the IAM API), login tokens, IAM
//! identity policies, repository and registry policies, and `authorize`
//! with its caches. The image registry (`Registry`) holds one `Identity`
//! and asks it; identity never calls back into the registry.
//!
//! Modules, lowest first (each uses only those above it):
//! `rules` (names, paths, documents), `principal` (who calls),
//! `authz` (the decision and its caches), `credentials` (keys, tokens),
//! `resource_policies`, `iam_policies`, `iam_users`, `accounts`.

mod accounts;
mod authz;
mod credentials;
mod iam_groups;
mod iam_holders;
mod iam_policies;
mod iam_roles;
mod iam_users;
mod principal;
mod resource_policies;
mod rules;
mod sts;

pub use accounts::{admin_may, AdminAction};
pub use authz::{
    AnonymousAccess, Caller, RequestFacts, ANONYMOUS_PULL_ACTIONS, ANONYMOUS_PUSH_ACTIONS,
    PUBLIC_READ_ACTIONS,
};
pub use credentials::{TOKEN_LIFETIME_SECS, USER_CHECK_TTL};
pub use iam_groups::IamGroup;
pub use iam_holders::holder_arn;
pub use iam_policies::{aws_managed_policies, AwsManagedPolicy, PolicyScope};
pub use iam_roles::{validate_trust_policy, IamRole, NewRole, MAX_MAX_SESSION, MIN_MAX_SESSION};
pub use iam_users::{iam_may, user_arn, IamUser, MAX_ACCESS_KEYS_PER_USER};
pub use principal::{
    AccessKeyInfo, NewAccessKey, Principal, Session, SignatureRefusal, TokenRefusal, ADMIN_USER,
};
pub(crate) use resource_policies::check_repository_policy;
pub(crate) use rules::{check_v1_actions, parse_stored, V1_REGISTRY_ACTIONS};
pub use rules::{
    resource_arn, valid_account_id, valid_user_name, validate_policy_document, PolicyKind,
    MAX_IAM_POLICY_CHARS, MAX_POLICY_CHARS,
};
pub use sts::{AssumeRole, AssumedRoleUser, CallerIdentity, TemporaryCredentials};

use crate::clock::Clock;
use crate::fastset::FastSet;
use crate::settings::AccountSettings;
use berth_store::MetadataStore;
use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

/// What identity needs of the server's configuration.
#[derive(Clone, Debug)]
pub struct IdentityConfig {
    /// Seals secrets at rest and signs login tokens and download URLs.
    pub server_key: berth_iam::ServerKey,
    /// The account anonymous callers and plain host names address; its
    /// admin user administers the whole server.
    pub default_account: String,
    /// What callers without credentials may do (`--allow-anonymous`).
    pub anonymous: AnonymousAccess,
}

pub struct Identity {
    meta: Arc<dyn MetadataStore>,
    clock: Arc<dyn Clock>,
    /// Account settings (`REGISTRY_POLICY_SCOPE` decides whether the
    /// registry policy takes part in every decision).
    settings: Arc<AccountSettings>,
    authz: authz::AuthzCache,
    /// (account, user, key) of root-path users known to exist, for
    /// `verify_token`; forgotten every `USER_CHECK_TTL` (`users_seen_at`, ms).
    users_seen: FastSet,
    /// The same for users whose path is not `/`: (account, user, key id)
    /// → path.
    user_paths: parking_lot::RwLock<HashMap<(String, String, String), String>>,
    users_seen_at: AtomicI64,
    /// Session token → its principal and secret, as `open_session` found
    /// them; forgotten with `users_seen`. Entries are about a kilobyte:
    /// 1,000 of them bound it near 1 MiB.
    sessions: quick_cache::sync::Cache<String, Arc<(principal::Principal, String)>>,
    /// Login password made under temporary credentials → its principal and
    /// its expiry (Unix s), once checked; forgotten with `users_seen`.
    logins: quick_cache::sync::Cache<String, Arc<(principal::Principal, i64)>>,
    /// Bumped by `forget_tokens`; the four caches above are filled only by
    /// a check that began at the current generation (`fill_checks`).
    checks_generation: std::sync::atomic::AtomicU64,
    checks_fill: parking_lot::RwLock<()>,
    /// False while this node cannot hear other nodes' changes: the token
    /// check reads the store every time.
    caches_enabled: std::sync::atomic::AtomicBool,
    config: IdentityConfig,
}

impl Identity {
    pub(crate) fn new(
        meta: Arc<dyn MetadataStore>,
        clock: Arc<dyn Clock>,
        settings: Arc<AccountSettings>,
        config: IdentityConfig,
    ) -> Self {
        Identity {
            authz: authz::AuthzCache::new(&config.default_account, config.anonymous),
            meta,
            clock,
            settings,
            users_seen: FastSet::new(100_000),
            user_paths: Default::default(),
            users_seen_at: AtomicI64::new(0),
            sessions: quick_cache::sync::Cache::new(1_000),
            logins: quick_cache::sync::Cache::new(1_000),
            checks_generation: std::sync::atomic::AtomicU64::new(0),
            checks_fill: parking_lot::RwLock::new(()),
            caches_enabled: std::sync::atomic::AtomicBool::new(true),
            config,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    fn now_secs(&self) -> i64 {
        self.now() / 1000
    }

    /// The account anonymous callers and plain host names address.
    pub fn default_account(&self) -> &str {
        &self.config.default_account
    }

    /// Forgets every cached decision and parsed policy: a policy, a
    /// repository's tags or a setting that decisions read has changed.
    pub(crate) fn policies_changed(&self) {
        self.authz.changed();
    }

    /// Empties the decision, policy and token caches and stops or resumes
    /// filling them (a node that cannot hear other nodes' changes).
    pub(crate) fn set_caches_enabled(&self, enabled: bool) {
        self.caches_enabled
            .store(enabled, std::sync::atomic::Ordering::SeqCst);
        self.authz.set_enabled(enabled);
        self.forget_tokens();
    }
}

#[cfg(test)]
impl Identity {
    /// An identity service on a fresh SQLite store in `dir`, with the
    /// default configuration and the system clock.
    pub(crate) async fn for_tests(dir: &std::path::Path) -> Identity {
        let meta: Arc<dyn MetadataStore> = Arc::new(
            berth_store::SqliteMetadataStore::open(&dir.join("meta.db"))
                .await
                .unwrap(),
        );
        let defaults = crate::RegistryConfig::default();
        Identity::new(
            meta.clone(),
            Arc::new(crate::SystemClock),
            Arc::new(AccountSettings::new(meta)),
            IdentityConfig {
                server_key: defaults.server_key,
                default_account: defaults.default_account,
                anonymous: defaults.anonymous,
            },
        )
    }
}

#[cfg(test)]
mod authz_tests;
#[cfg(test)]
mod credentials_tests;
#[cfg(test)]
mod sts_tests;
