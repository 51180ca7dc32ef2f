//! KMS keys, their aliases and grants (the KMS API, issue 21): one row per
//! key with its state, policy, rotation schedule and sealed key materials,
//! one row per alias naming a key of the same account and region, and one
//! row per grant on a key (deleted with it).
//!
//! The store decides nothing about key states; it keeps each key row whole
//! and replaces it only when nobody replaced it since it was read (the
//! `revision` check in `update_kms_key`), so the registry's read, rule,
//! write sequence cannot lose a concurrent change.

use crate::Result;
use async_trait::async_trait;

/// A KMS key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKeyRecord {
    pub account_id: String,
    pub region: String,
    /// A UUID.
    pub key_id: String,
    pub description: String,
    /// `ENCRYPT_DECRYPT`.
    pub key_usage: String,
    /// `SYMMETRIC_DEFAULT`.
    pub key_spec: String,
    /// `AWS_KMS`.
    pub origin: String,
    /// `CUSTOMER`, or `AWS` for the AWS-managed keys (`alias/aws/ecr`).
    pub key_manager: String,
    /// `Enabled`, `Disabled` or `PendingDeletion`.
    pub state: String,
    pub created_at: i64,
    /// When a key pending deletion is deleted.
    pub deletion_date: Option<i64>,
    /// The waiting period asked for when its deletion was scheduled.
    pub pending_window_days: Option<i64>,
    /// Automatic rotation: its period (`None`: off).
    pub rotation_period_days: Option<i64>,
    /// When the next automatic rotation is due.
    pub next_rotation_at: Option<i64>,
    /// The key policy's text, as sent.
    pub policy: String,
    /// The key materials, sealed under the root, in the registry's encoding.
    pub materials: String,
    /// The key's tags, in the registry's encoding.
    pub tags: String,
    /// Bumped by every update: `update_kms_key` writes revision `n` only
    /// over revision `n - 1`.
    pub revision: i64,
    /// The KEK of the key's storage domain (the blobs of repositories under
    /// it), sealed under the key's newest material in the registry's
    /// encoding; made at first use, re-sealed when the key rotates.
    pub storage_kek: Option<String>,
}

/// An alias (`alias/<name>`) of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsAliasRecord {
    pub account_id: String,
    pub region: String,
    /// With its `alias/` prefix.
    pub name: String,
    pub target_key_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What creating or re-pointing an alias found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsAliasOutcome {
    Done,
    /// CreateAlias: the name is taken.
    AliasExists,
    /// UpdateAlias: there is no such alias.
    AliasNotFound,
    /// The target key does not exist.
    KeyNotFound,
    /// The target key has as many aliases as the limit passed in.
    TooMany,
}

/// A grant on a key (CreateGrant): who may make which uses of it, besides
/// what the key's policy allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsGrantRecord {
    /// 64 hex digits, unique in the deployment.
    pub grant_id: String,
    /// The key's account, region and id.
    pub account_id: String,
    pub region: String,
    pub key_id: String,
    /// The grant's name; empty when it has none.
    pub name: String,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    /// `arn:aws:iam::<account>:root` of the account that created it.
    pub issuing_account: String,
    /// The operations, in the registry's encoding.
    pub operations: String,
    /// The constraints, in the registry's encoding; `None` without.
    pub constraints: Option<String>,
    /// The secret half of the grant's token (the registry's encoding).
    pub token_secret: String,
    pub created_at: i64,
}

/// What creating a grant found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsGrantOutcome {
    Done,
    /// The key does not exist (any more).
    KeyNotFound,
    /// The key has as many grants as the limit passed in.
    TooMany,
}

#[async_trait]
pub trait KmsStore: Send + Sync {
    /// False when the account does not exist.
    async fn create_kms_key(&self, key: &KmsKeyRecord) -> Result<bool>;
    async fn get_kms_key(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
    ) -> Result<Option<KmsKeyRecord>>;
    /// Up to `limit` keys of the account in the region after `after`, by id.
    async fn list_kms_keys(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KmsKeyRecord>>;
    /// Replaces the key's row with `key` if its stored revision is
    /// `key.revision - 1`; false if it is not (changed meanwhile, or gone).
    async fn update_kms_key(&self, key: &KmsKeyRecord) -> Result<bool>;
    /// Deletes a key and its aliases; false if there was none.
    async fn delete_kms_key(&self, account_id: &str, region: &str, key_id: &str) -> Result<bool>;

    /// Creates an alias of a key that has fewer than `max_per_key`.
    async fn create_kms_alias(
        &self,
        alias: &KmsAliasRecord,
        max_per_key: u32,
    ) -> Result<KmsAliasOutcome>;
    /// Points an existing alias at another key (of fewer than `max_per_key`).
    async fn update_kms_alias(
        &self,
        alias: &KmsAliasRecord,
        max_per_key: u32,
    ) -> Result<KmsAliasOutcome>;
    /// False if there was no such alias.
    async fn delete_kms_alias(&self, account_id: &str, region: &str, name: &str) -> Result<bool>;
    async fn get_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<KmsAliasRecord>>;
    /// Repositories under a KMS key, every account's, by id after `after`:
    /// (id, registry, name, key ARN), at most `limit`.
    async fn kms_repositories(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, crate::RegistryKey, String, String)>>;
    /// How many KMS keys there are, in every account.
    async fn kms_key_count(&self) -> Result<u64>;
    /// The deployment's root wrapped by an external KMS, if one was recorded.
    async fn kms_root(&self) -> Result<Option<String>>;
    /// Replaces the recorded root document `old` with `new`; false when
    /// the record is not `old` any more (another writer came first).
    async fn replace_kms_root(&self, old: &str, new: &str) -> Result<bool>;
    /// Every account's keys, in (account, region, key id) order after
    /// `after`, at most `limit` (what a root rotation re-wraps).
    async fn all_kms_keys(
        &self,
        after: Option<(&str, &str, &str)>,
        limit: u32,
    ) -> Result<Vec<KmsKeyRecord>>;
    /// Records `value` as the wrapped root unless one is recorded already;
    /// the recorded one (the first writer's, when nodes race at start).
    async fn put_kms_root(&self, value: &str) -> Result<String>;
    /// Up to `limit` aliases after `after` by name, of one key or of all.
    async fn list_kms_aliases(
        &self,
        account_id: &str,
        region: &str,
        key_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KmsAliasRecord>>;

    /// Creates a grant on a key that has fewer than `max_per_key`.
    async fn create_kms_grant(
        &self,
        grant: &KmsGrantRecord,
        max_per_key: u32,
    ) -> Result<KmsGrantOutcome>;
    async fn get_kms_grant(&self, grant_id: &str) -> Result<Option<KmsGrantRecord>>;
    /// Up to `limit` grants of a key after grant id `after`, by id.
    async fn list_kms_grants(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KmsGrantRecord>>;
    /// The grants of a key to `grantee` (what authorizing a use reads).
    async fn kms_grants_to(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
        grantee: &str,
    ) -> Result<Vec<KmsGrantRecord>>;
    /// The grants of a key named `name` to `grantee` (names are not
    /// unique).
    async fn kms_grants_named(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
        name: &str,
        grantee: &str,
    ) -> Result<Vec<KmsGrantRecord>>;
    /// Up to `limit` grants on keys in `region`, of any account, that
    /// `retiring_principal` may retire, after grant id `after`, by id.
    async fn list_retirable_kms_grants(
        &self,
        region: &str,
        retiring_principal: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KmsGrantRecord>>;
    /// False if there was no such grant.
    async fn delete_kms_grant(&self, grant_id: &str) -> Result<bool>;
}
