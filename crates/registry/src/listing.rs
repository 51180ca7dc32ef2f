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
    /// Builds a page from `limit + 1` fetched rows.
    fn from_rows(mut rows: Vec<String>, limit: u32) -> Page {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Page { items: rows, more }
    }
}

impl Registry {
    pub async fn list_tags(&self, repo: &Repo, last: Option<&str>, limit: u32) -> Result<Page> {
        let repo_id = self.repo_id(repo).await?;
        if limit == 0 {
            return Ok(Page {
                items: vec![],
                more: false,
            });
        }
        let rows = self
            .meta
            .list_tags(repo_id, last, limit.saturating_add(1))
            .await?;
        Ok(Page::from_rows(rows, limit))
    }

    pub async fn catalog(
        &self,
        registry: &RegistryKey,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Page> {
        if limit == 0 {
            return Ok(Page {
                items: vec![],
                more: false,
            });
        }
        let rows = self
            .meta
            .list_repositories(registry, last, limit.saturating_add(1))
            .await?;
        Ok(Page::from_rows(rows, limit))
    }
}
