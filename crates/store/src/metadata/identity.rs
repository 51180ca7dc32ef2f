//! Identity: accounts, their users and the users' access keys.
//!
//! An account is created with its first (admin) user in one transaction; a
//! user needs its account; an access key's secret arrives sealed under
//! the server key and is never seen in clear here. Limits the IAM API
//! enforces (keys per user, what must be gone before DeleteUser) are
//! counted in the transaction that writes, so two concurrent calls cannot
//! both pass. Everything cascades from its account or user.

use crate::Result;
use async_trait::async_trait;

/// An access key: an id and a secret (sealed under the server key by the
/// caller; the store never sees it in clear).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub id: String,
    pub account_id: String,
    pub user_name: String,
    pub secret_sealed: String,
    pub active: bool,
    pub created_at: i64,
}

/// An account (the owner of registries, users and keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub id: String,
    pub created_at: i64,
}

/// A user of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub account_id: String,
    pub name: String,
    pub created_at: i64,
    /// IAM's `UserId` (`AIDA` + 17 characters), made by the store on insert.
    pub user_id: String,
    /// IAM's `Path` (`/` unless given at creation).
    pub path: String,
}

/// Why DeleteUser deleted nothing (IAM refuses while any of these remain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteUserOutcome {
    Deleted,
    NotFound,
    HasAccessKeys,
    HasInlinePolicies,
    HasAttachedPolicies,
    /// Still a member of a group.
    InGroups,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateUserOutcome {
    Created(UserRecord),
    AlreadyExists,
    NoSuchAccount,
}

/// Accounts, users and access keys.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Creates the account if it does not exist.
    async fn ensure_account(&self, id: &str, now: i64) -> Result<()>;
    /// Creates the user (and its account) if it does not exist.
    async fn ensure_user(&self, account_id: &str, name: &str, now: i64) -> Result<()>;
    /// Stores an access key, replacing the secret of an existing one with the same id.
    async fn put_access_key(&self, key: &AccessKeyRecord) -> Result<()>;
    async fn get_access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>>;
    async fn access_keys_of(&self, account_id: &str, user: &str) -> Result<Vec<AccessKeyRecord>>;
    /// Creates an account with its first user, `admin_user`, in one
    /// transaction; `None` if the account exists (nothing is changed).
    async fn create_account(
        &self,
        id: &str,
        admin_user: &str,
        now: i64,
    ) -> Result<Option<AccountRecord>>;
    async fn get_account(&self, id: &str) -> Result<Option<AccountRecord>>;
    /// Every account, by id.
    async fn list_accounts(&self) -> Result<Vec<AccountRecord>>;
    /// Creates a user in an existing account.
    async fn create_user(
        &self,
        account_id: &str,
        name: &str,
        path: &str,
        now: i64,
    ) -> Result<CreateUserOutcome>;
    async fn get_user(&self, account_id: &str, name: &str) -> Result<Option<UserRecord>>;
    /// The users of an account, by name.
    async fn list_users(&self, account_id: &str) -> Result<Vec<UserRecord>>;
    /// Every access key of an account, by user, then creation.
    async fn access_keys_of_account(&self, account_id: &str) -> Result<Vec<AccessKeyRecord>>;
    /// Deletes an access key of `account_id`; false if it has no such key.
    async fn delete_access_key(&self, account_id: &str, id: &str) -> Result<bool>;

    // The IAM API's user and key operations, each scoped to one account.
    /// Deletes a user that has no access keys, inline or attached policies
    /// and is in no group (checked in the deleting transaction).
    async fn delete_user(&self, account_id: &str, name: &str) -> Result<DeleteUserOutcome>;
    /// Stores a new access key unless its user already has `max_per_user`
    /// keys (false; nothing stored). The count and the insert are one
    /// transaction, so two concurrent creations cannot both pass.
    async fn add_access_key(&self, key: &AccessKeyRecord, max_per_user: usize) -> Result<bool>;
    /// Sets a key of `user` active or inactive; false if the user has no such key.
    async fn set_access_key_active(
        &self,
        account_id: &str,
        user: &str,
        id: &str,
        active: bool,
    ) -> Result<bool>;
}
