//! What the public gallery shows (issue 24; served on the public host by
//! `berth_server::gallery`): public repositories of every account found by
//! text, and one repository's catalog data, logo and tagged images. Only
//! `@public` registries are ever read here.

use crate::public::{public_key, PublicCatalog};
use crate::{Error, Registry, Repo, Result};
use berth_oci::{Digest, RepositoryName};
use berth_store::{StatusFilter, TagStatus};

/// A search result.
#[derive(Debug, Clone)]
pub struct GalleryEntry {
    pub alias: String,
    pub name: String,
    pub description: Option<String>,
}

/// A tagged image of a public repository.
#[derive(Debug, Clone)]
pub struct GalleryImage {
    pub tags: Vec<String>,
    pub digest: Digest,
    pub size: u64,
    /// Unix milliseconds.
    pub pushed_at: i64,
}

/// A public repository's page.
#[derive(Debug, Clone)]
pub struct GalleryRepository {
    pub alias: String,
    pub name: String,
    pub catalog: PublicCatalog,
    pub has_logo: bool,
    /// The most recently pushed first, at most `GALLERY_IMAGES`.
    pub images: Vec<GalleryImage>,
}

/// Tagged images a repository's page lists.
pub const GALLERY_IMAGES: u32 = 100;

impl Registry {
    /// Public repositories whose alias, name or catalog text holds `text`,
    /// `page_size` from `offset`; and whether more follow.
    pub async fn public_gallery(
        &self,
        text: &str,
        offset: u32,
        page_size: u32,
    ) -> Result<(Vec<GalleryEntry>, bool)> {
        let mut found = self
            .meta
            .search_public_repositories(text, offset, page_size + 1)
            .await?;
        let more = found.len() > page_size as usize;
        found.truncate(page_size as usize);
        let entries = found
            .into_iter()
            .map(|l| GalleryEntry {
                description: l
                    .catalog
                    .and_then(|c| serde_json::from_str::<PublicCatalog>(&c).ok())
                    .and_then(|c| c.description),
                alias: l.alias,
                name: l.name,
            })
            .collect();
        Ok((entries, more))
    }

    /// The public repository `<alias>/<name>`, if there is one.
    pub async fn public_gallery_repository(
        &self,
        alias: &str,
        name: &str,
    ) -> Result<Option<GalleryRepository>> {
        let Some((repo, id)) = self.gallery_repo(alias, name).await? else {
            return Ok(None);
        };
        let (catalog, has_logo) = self.catalog_of(id, name).await?;
        let digests = self
            .image_digests(
                &repo,
                TagStatus::Tagged,
                StatusFilter::Any,
                None,
                GALLERY_IMAGES,
            )
            .await?;
        let mut images: Vec<GalleryImage> = self
            .image_details(&repo, &digests)
            .await?
            .into_iter()
            .map(|d| GalleryImage {
                tags: d.record.tags,
                digest: d.record.digest,
                size: d.size,
                pushed_at: d.record.pushed_at,
            })
            .collect();
        images.sort_by_key(|i| std::cmp::Reverse(i.pushed_at));
        Ok(Some(GalleryRepository {
            alias: alias.to_string(),
            name: name.to_string(),
            catalog,
            has_logo,
            images,
        }))
    }

    /// The logo of the public repository `<alias>/<name>`, if it has one.
    pub async fn public_logo(&self, alias: &str, name: &str) -> Result<Option<Vec<u8>>> {
        let Some((_, id)) = self.gallery_repo(alias, name).await? else {
            return Ok(None);
        };
        Ok(self
            .meta
            .public_catalog(id)
            .await?
            .and_then(|(_, logo)| logo)
            .filter(|l| !l.is_empty()))
    }

    /// The public repository a gallery path names, and its id.
    async fn gallery_repo(
        &self,
        alias: &str,
        name: &str,
    ) -> Result<Option<(Repo, berth_store::RepoId)>> {
        let Some(account) = self.public_account(alias).await? else {
            return Ok(None);
        };
        let Ok(name) = RepositoryName::parse(name) else {
            return Ok(None);
        };
        let repo = Repo {
            registry: public_key(&account),
            name,
        };
        match self.repo_id(&repo).await {
            Ok(id) => Ok(Some((repo, id))),
            Err(Error::NameUnknown(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
