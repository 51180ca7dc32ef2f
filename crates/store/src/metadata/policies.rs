//! Resource policies: a repository's policy and a registry's policy, the
//! documents `Registry::authorize` evaluates beside identity policies.
//!
//! Texts are stored as the client sent them (validated by the registry
//! before storing), because ECR hands them back byte for byte. A
//! repository policy lives and dies with its repository; answers tell
//! "no repository" apart from "no policy" so the registry can answer
//! `RepositoryNotFoundException` and `RepositoryPolicyNotFoundException`
//! from one read.

use super::RegistryKey;
use crate::Result;
use async_trait::async_trait;

/// Repository and registry policies.
#[async_trait]
pub trait ResourcePolicyStore: Send + Sync {
    /// A repository's policy: `None` if the repository does not exist,
    /// `Some(None)` if it has no policy.
    async fn repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<Option<String>>>;
    /// Replaces (or with `None` removes) a repository's policy; the previous
    /// one comes back, with `None` if the repository does not exist.
    async fn set_repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
        policy: Option<&str>,
    ) -> Result<Option<Option<String>>>;
    /// The policies of the repositories named `first..=last` that have one
    /// (a catalog page's, in one read).
    async fn repository_policies_between(
        &self,
        registry: &RegistryKey,
        first: &str,
        last: &str,
    ) -> Result<Vec<(String, String)>>;
    async fn registry_policy(&self, registry: &RegistryKey) -> Result<Option<String>>;
    /// Replaces (or with `None` removes) the registry policy; the previous one comes back.
    async fn set_registry_policy(
        &self,
        registry: &RegistryKey,
        policy: Option<&str>,
    ) -> Result<Option<String>>;
}
