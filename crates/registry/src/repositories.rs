//! Repositories as the ECR API manages them: created explicitly, with
//! settings (tag mutability, scan on push), described, deleted.

use crate::{Error, Registry, Result};
use berth_oci::RepositoryName;
use berth_store::{DeleteRepositoryOutcome, RegistryKey, RepoId, RepositoryRecord};

/// Settings chosen when a repository is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositorySettings {
    pub image_tag_mutability: String,
    /// JSON text of the exclusion filters, when the mutability has them.
    pub mutability_filters: Option<String>,
    pub scan_on_push: bool,
}

impl Default for RepositorySettings {
    fn default() -> Self {
        RepositorySettings {
            image_tag_mutability: "MUTABLE".into(),
            mutability_filters: None,
            scan_on_push: false,
        }
    }
}

impl Registry {
    pub async fn create_repository(
        &self,
        registry: &RegistryKey,
        name: &RepositoryName,
        settings: RepositorySettings,
    ) -> Result<RepositoryRecord> {
        let record = RepositoryRecord {
            id: RepoId(0),
            name: name.to_string(),
            created_at: self.now(),
            image_tag_mutability: settings.image_tag_mutability,
            mutability_filters: settings.mutability_filters,
            scan_on_push: settings.scan_on_push,
        };
        self.meta
            .create_repository(registry, &record)
            .await?
            .ok_or_else(|| Error::RepositoryAlreadyExists(name.to_string()))
    }

    /// One repository, or `NameUnknown`.
    pub async fn repository(&self, registry: &RegistryKey, name: &str) -> Result<RepositoryRecord> {
        self.meta
            .get_repository(registry, name)
            .await?
            .ok_or_else(|| Error::NameUnknown(name.to_string()))
    }

    /// Repositories in name order after `after`, at most `limit`.
    pub async fn describe_repositories(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RepositoryRecord>> {
        Ok(self
            .meta
            .describe_repositories(registry, after, limit)
            .await?)
    }

    /// Deletes a repository; with images in it only if `force`. Its blobs'
    /// bytes are left to garbage collection.
    pub async fn delete_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
        force: bool,
    ) -> Result<RepositoryRecord> {
        match self.meta.delete_repository(registry, name, force).await? {
            DeleteRepositoryOutcome::NotFound => Err(Error::NameUnknown(name.to_string())),
            DeleteRepositoryOutcome::NotEmpty => Err(Error::RepositoryNotEmpty(name.to_string())),
            DeleteRepositoryOutcome::Deleted { record, uploads } => {
                self.cache.invalidate_repository(registry, name);
                for id in uploads {
                    self.uploads.hashers.lock().remove(&id);
                    if let Err(e) = self.blobs.delete_upload(&id).await {
                        tracing::warn!(upload = %id, error = %e, "could not remove a deleted repository's upload data; the next start will");
                    }
                }
                Ok(record)
            }
        }
    }
}
