//! Repositories as the ECR API manages them: created explicitly, with
//! settings (tag mutability, scan on push), described, deleted.

use crate::{Error, Registry, Result};
use berth_oci::RepositoryName;
use berth_store::{DeleteRepositoryOutcome, RegistryKey, RepoId, RepositoryRecord, ResourceTag};

/// Resource tags per repository (ECR's limit).
pub const MAX_RESOURCE_TAGS: usize = 50;

/// Settings chosen when a repository is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositorySettings {
    pub image_tag_mutability: String,
    /// JSON text of the exclusion filters, when the mutability has them.
    pub mutability_filters: Option<String>,
    pub scan_on_push: bool,
    /// AES256, KMS or KMS_DSSE.
    pub encryption_type: String,
    /// The key's ARN for KMS and KMS_DSSE (`Registry::repository_encryption`).
    pub kms_key: Option<String>,
}

impl Default for RepositorySettings {
    fn default() -> Self {
        RepositorySettings {
            image_tag_mutability: "MUTABLE".into(),
            mutability_filters: None,
            scan_on_push: false,
            encryption_type: "AES256".into(),
            kms_key: None,
        }
    }
}

/// Whether `tag` may not be moved in a repository with these settings.
/// Exclusion filters are whole-tag wildcards (`*` any run).
pub(crate) fn tag_is_immutable(r: &RepositoryRecord, tag: &str) -> bool {
    let excluded = || {
        r.mutability_filters
            .as_deref()
            .and_then(|f| serde_json::from_str::<Vec<serde_json::Value>>(f).ok())
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f["filter"].as_str())
            .any(|pattern| wildcard_match(pattern, tag))
    };
    match r.image_tag_mutability.as_str() {
        "IMMUTABLE" => true,
        "IMMUTABLE_WITH_EXCLUSION" => !excluded(),
        "MUTABLE_WITH_EXCLUSION" => excluded(),
        _ => false,
    }
}

/// `*` matches any run of characters (including none); everything else itself.
pub fn wildcard_match(pattern: &str, s: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), s.as_bytes());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = si;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

impl Registry {
    pub async fn create_repository(
        &self,
        registry: &RegistryKey,
        name: &RepositoryName,
        settings: RepositorySettings,
        tags: &[ResourceTag],
    ) -> Result<RepositoryRecord> {
        check_resource_tags(tags, name.as_str())?;
        let repository_arn = crate::identity::resource_arn(registry, Some(name.as_str()));
        // ECR's grant first: a crash before the row leaves a grant naming no
        // repository (harmless, and listed), never a repository its own key
        // refuses.
        let grant = match &settings.kms_key {
            Some(key) => Some(
                self.kms()
                    .grant_to_ecr(key, &registry.account_id, &repository_arn)
                    .await?,
            ),
            None => None,
        };
        let record = RepositoryRecord {
            id: RepoId(0),
            name: name.to_string(),
            created_at: self.now(),
            image_tag_mutability: settings.image_tag_mutability,
            mutability_filters: settings.mutability_filters,
            scan_on_push: settings.scan_on_push,
            encryption_type: settings.encryption_type,
            kms_key: settings.kms_key,
        };
        let refused = match self.meta.create_repository(registry, &record, tags).await {
            Ok(Some(record)) => return Ok(record),
            Ok(None) => Error::RepositoryAlreadyExists(name.to_string()),
            Err(e) => e.into(),
        };
        if let Some(grant) = grant {
            if let Err(e) = self.kms().drop_ecr_grant(&grant).await {
                tracing::warn!(repository = %repository_arn, error = %e, "could not take back the grant of a repository that was not created");
            }
        }
        Err(refused)
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

    /// Changes a repository's tag mutability (and its exclusion filters, JSON).
    pub async fn set_tag_mutability(
        &self,
        registry: &RegistryKey,
        name: &str,
        mutability: &str,
        filters: Option<&str>,
    ) -> Result<()> {
        if self
            .meta
            .set_tag_mutability(registry, name, mutability, filters)
            .await?
        {
            Ok(())
        } else {
            Err(Error::NameUnknown(name.to_string()))
        }
    }

    pub async fn set_scan_on_push(
        &self,
        registry: &RegistryKey,
        name: &str,
        on: bool,
    ) -> Result<()> {
        if self.meta.set_scan_on_push(registry, name, on).await? {
            Ok(())
        } else {
            Err(Error::NameUnknown(name.to_string()))
        }
    }

    /// A repository's resource tags, by key.
    pub async fn repository_tags(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Vec<ResourceTag>> {
        let r = self.repository(registry, name).await?;
        Ok(self.meta.repository_tags(r.id).await?)
    }

    /// Adds resource tags (a key already there gets the new value).
    pub async fn tag_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
        tags: &[ResourceTag],
    ) -> Result<()> {
        check_tags(tags)?;
        let r = self.repository(registry, name).await?;
        if self
            .meta
            .tag_repository(r.id, tags, MAX_RESOURCE_TAGS)
            .await?
        {
            Ok(())
        } else {
            Err(Error::TooManyTags {
                repository: name.to_string(),
                max: MAX_RESOURCE_TAGS,
            })
        }
    }

    pub async fn untag_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
        keys: &[String],
    ) -> Result<()> {
        for k in keys {
            check_tag_key(k)?;
        }
        let r = self.repository(registry, name).await?;
        Ok(self.meta.untag_repository(r.id, keys).await?)
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
                if let Some(key) = &record.kms_key {
                    let arn = crate::identity::resource_arn(registry, Some(name));
                    let retired = self
                        .kms()
                        .retire_ecr_grants(key, &arn, record.created_at)
                        .await;
                    if let Err(e) = retired {
                        tracing::warn!(repository = %arn, error = %e, "could not retire ECR's grant of a deleted repository; ListGrants still shows it");
                    }
                }
                // Its policy went with it; a new repository of that name starts without.
                self.identity.policies_changed();
                for id in uploads {
                    if let Err(e) = self.blobs.delete_upload(&id).await {
                        tracing::warn!(upload = %id, error = %e, "could not remove a deleted repository's upload data; the next start will");
                    }
                }
                Ok(record)
            }
        }
    }
}

/// Tags as a repository (or a template, `owner`, for it) may carry: AWS's
/// rules, at most `MAX_RESOURCE_TAGS` keys.
pub(crate) fn check_resource_tags(tags: &[ResourceTag], owner: &str) -> Result<()> {
    check_tags(tags)?;
    if distinct_keys(tags) > MAX_RESOURCE_TAGS {
        return Err(Error::TooManyTags {
            repository: owner.to_string(),
            max: MAX_RESOURCE_TAGS,
        });
    }
    Ok(())
}

fn distinct_keys(tags: &[ResourceTag]) -> usize {
    tags.iter()
        .map(|t| t.key.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// AWS's tagging rules: keys 1–128 characters, values up to 256, letters,
/// digits, spaces and `_ . : / = + - @`; the `aws:` prefix is reserved.
fn check_tags(tags: &[ResourceTag]) -> Result<()> {
    for t in tags {
        check_tag_key(&t.key)?;
        if t.value.chars().count() > 256 || !t.value.chars().all(tag_char) {
            return Err(Error::InvalidTag(format!(
                "the value of tag '{}' must be at most 256 letters, digits, spaces or _ . : / = + - @",
                t.key
            )));
        }
    }
    Ok(())
}

fn check_tag_key(key: &str) -> Result<()> {
    let n = key.chars().count();
    if !(1..=128).contains(&n) || !key.chars().all(tag_char) {
        return Err(Error::InvalidTag(format!(
            "tag key '{key}' must be 1 to 128 letters, digits, spaces or _ . : / = + - @"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(Error::InvalidTag(format!(
            "tag key '{key}' uses the reserved prefix 'aws:'"
        )));
    }
    Ok(())
}

fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards_match_whole_tags() {
        for (p, s, want) in [
            ("latest", "latest", true),
            ("latest", "latest2", false),
            ("v*", "v1.2", true),
            ("*-rc*", "1.0-rc3", true),
            ("*-rc*", "1.0", false),
            ("prod*", "prod-repo", true),
            ("prod*", "repo-prod", false),
            ("*", "", true),
            ("a*b*c", "abxbc", true),
            ("a*b*c", "abxbd", false),
        ] {
            assert_eq!(wildcard_match(p, s), want, "{p} ~ {s}");
        }
    }
}
