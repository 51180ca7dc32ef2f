//! Repositories and what hangs directly off them: their ECR settings (tag
//! mutability, scan on push), resource tags, and per-registry account
//! settings.
//!
//! A repository belongs to one registry (account + region) and its name is
//! unique there; its `RepoId` is what every other concern keys on, stable
//! for the repository's lifetime. Deleting a repository takes everything
//! keyed on it (images, links, upload sessions, tags, scans) in the same
//! transaction, so no other concern ever sees an orphaned `RepoId`.

use super::{RegistryKey, RepoId};
use crate::Result;
use async_trait::async_trait;

/// A resource tag of a repository (ECR's `Tag`: `Key`, `Value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTag {
    pub key: String,
    pub value: String,
}

/// A repository with the settings the ECR API manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryRecord {
    pub id: RepoId,
    pub name: String,
    pub created_at: i64,
    /// MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION.
    pub image_tag_mutability: String,
    /// The exclusion filters as JSON text, if any.
    pub mutability_filters: Option<String>,
    pub scan_on_push: bool,
    /// ECR's `encryptionType`: AES256, KMS or KMS_DSSE (fixed at creation).
    pub encryption_type: String,
    /// The KMS key's ARN, for KMS and KMS_DSSE.
    pub kms_key: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum DeleteRepositoryOutcome {
    NotFound,
    /// Nothing was deleted: the repository holds images and `force` was not given.
    NotEmpty,
    /// Deleted, with everything in it; these upload sessions' data is the
    /// caller's to remove.
    Deleted {
        record: RepositoryRecord,
        uploads: Vec<String>,
    },
}

/// Repositories, their settings and resource tags; account settings.
/// A repository creation template (ECR's), one per prefix of a registry:
/// its settings in the registry's encoding (JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRecord {
    /// A repository namespace, or `ROOT`.
    pub prefix: String,
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What `create_template` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateTemplateOutcome {
    Created,
    /// The registry has a template for this prefix already.
    Exists,
    /// The registry holds the most templates it may.
    Full,
}

#[async_trait]
pub trait RepositoryStore: Send + Sync {
    async fn ensure_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
        now: i64,
    ) -> Result<RepoId>;
    async fn find_repository(&self, registry: &RegistryKey, name: &str) -> Result<Option<RepoId>>;
    /// Creates a repository with these settings and resource tags, in one
    /// transaction; `None` if the name is taken.
    async fn create_repository(
        &self,
        registry: &RegistryKey,
        record: &RepositoryRecord,
        tags: &[ResourceTag],
    ) -> Result<Option<RepositoryRecord>>;
    async fn get_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<RepositoryRecord>>;
    /// Repositories in name order, strictly after `after`, at most `limit`.
    async fn describe_repositories(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RepositoryRecord>>;
    /// Sets a repository's tag mutability; false if it does not exist.
    async fn set_tag_mutability(
        &self,
        registry: &RegistryKey,
        name: &str,
        mutability: &str,
        filters: Option<&str>,
    ) -> Result<bool>;
    /// Sets a repository's scan-on-push flag; false if it does not exist.
    async fn set_scan_on_push(&self, registry: &RegistryKey, name: &str, on: bool) -> Result<bool>;
    /// Deletes a repository with its tags, manifests, links and upload
    /// sessions; refused while it has images unless `force`.
    async fn delete_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
        force: bool,
    ) -> Result<DeleteRepositoryOutcome>;
    /// A repository's resource tags, by key.
    async fn repository_tags(&self, repo: RepoId) -> Result<Vec<ResourceTag>>;
    /// Adds tags, replacing the values of existing keys. Nothing changes and
    /// `false` comes back when the repository would end up with more than
    /// `max` tags.
    async fn tag_repository(&self, repo: RepoId, tags: &[ResourceTag], max: usize) -> Result<bool>;
    /// Removes the tags with these keys (absent keys are ignored).
    async fn untag_repository(&self, repo: RepoId, keys: &[String]) -> Result<()>;
    /// A registry setting, if it was ever put.
    async fn account_setting(&self, registry: &RegistryKey, name: &str) -> Result<Option<String>>;
    async fn put_account_setting(
        &self,
        registry: &RegistryKey,
        name: &str,
        value: &str,
    ) -> Result<()>;
    /// Names in byte order, strictly after `after`, at most `limit`.
    async fn list_repositories(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>>;
    /// Creation templates (`repository_templates`). Creates the template
    /// unless its prefix is taken or the registry already has `max`.
    async fn create_template(
        &self,
        registry: &RegistryKey,
        template: &TemplateRecord,
        max: u32,
    ) -> Result<CreateTemplateOutcome>;
    /// Replaces a template's body and `updated_at`; `false` if it is absent.
    async fn update_template(
        &self,
        registry: &RegistryKey,
        template: &TemplateRecord,
    ) -> Result<bool>;
    /// Deletes a template, returning what it was.
    async fn delete_template(
        &self,
        registry: &RegistryKey,
        prefix: &str,
    ) -> Result<Option<TemplateRecord>>;
    async fn get_template(
        &self,
        registry: &RegistryKey,
        prefix: &str,
    ) -> Result<Option<TemplateRecord>>;
    /// Templates in prefix order after `after`, at most `limit`.
    async fn list_templates(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<TemplateRecord>>;
}
