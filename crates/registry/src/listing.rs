//! Paginated listings: tags of a repository, repositories of a registry.

use crate::{Registry, Repo, Result};
use berth_store::RegistryKey;

/// One page of names in byte order. `more` says whether a next page exists
/// (its `last` is the last item of this page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<String>,
    pub more: bool,
}

impl Page {
    /// Fetches one page with `fetch(limit + 1)`: the extra row only says
    /// whether a next page exists. A zero limit asks the store nothing.
    async fn fetch<F, Fut>(limit: u32, fetch: F) -> Result<Page>
    where
        F: FnOnce(u32) -> Fut,
        Fut: std::future::Future<Output = berth_store::Result<Vec<String>>>,
    {
        if limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                more: false,
            });
        }
        let mut rows = fetch(limit.saturating_add(1)).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(Page { items: rows, more })
    }
}

impl Registry {
    pub async fn list_tags(&self, repo: &Repo, last: Option<&str>, limit: u32) -> Result<Page> {
        let repo_id = self.repo_id(repo).await?;
        Page::fetch(limit, |n| self.meta.list_tags(repo_id, last, n)).await
    }

    pub async fn catalog(
        &self,
        registry: &RegistryKey,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Page> {
        Page::fetch(limit, |n| self.meta.list_repositories(registry, last, n)).await
    }
}
