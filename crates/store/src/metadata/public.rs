//! Public registries (issue 24; ARCHITECTURE.md, "Public repositories"):
//! one per account, named in public image references by an alias that is
//! unique across the deployment.

use super::RepoId;
use crate::Result;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicRegistryRecord {
    pub account_id: String,
    pub alias: String,
    /// ECR Public's registry catalog data.
    pub display_name: String,
    pub created_at: i64,
}

/// A public repository as the gallery lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicListing {
    pub alias: String,
    pub account_id: String,
    pub name: String,
    /// Its catalog data's text members (JSON), if it has any.
    pub catalog: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatePublicRegistryOutcome {
    Created,
    /// The account has one already (made by another caller first): it.
    Exists(PublicRegistryRecord),
    /// Another account holds the alias.
    AliasTaken,
}

#[async_trait]
pub trait PublicRegistryStore: Send + Sync {
    async fn public_registry(&self, account_id: &str) -> Result<Option<PublicRegistryRecord>>;
    async fn public_registry_by_alias(&self, alias: &str) -> Result<Option<PublicRegistryRecord>>;
    /// One transaction: the account's registry is made unless it has one
    /// or the alias is taken.
    async fn create_public_registry(
        &self,
        r: &PublicRegistryRecord,
    ) -> Result<CreatePublicRegistryOutcome>;
    /// False when the account has no public registry.
    async fn set_public_display_name(&self, account_id: &str, name: &str) -> Result<bool>;
    /// A public repository's catalog data: its text members (JSON) and logo.
    async fn public_catalog(&self, repo: RepoId) -> Result<Option<(String, Option<Vec<u8>>)>>;
    /// Replaces a repository's catalog data.
    async fn put_public_catalog(&self, repo: RepoId, data: &str, logo: Option<&[u8]>)
        -> Result<()>;
    /// Public repositories of every account whose alias, name or catalog
    /// data contains `text` (any case), by alias and name, `offset` then at
    /// most `limit` of them.
    async fn search_public_repositories(
        &self,
        text: &str,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<PublicListing>>;
}
