//! Public registries (issue 24; ARCHITECTURE.md, "Public repositories"):
//! each account's, with an alias unique across the deployment (assigned
//! at first use) and its catalog data; the `ecr-public:` authorization of
//! calls about them. Public repositories themselves (under the registry
//! key `PUBLIC_REGION`) are the next step.

use crate::repositories::RepositorySettings;
use crate::{Caller, Error, Registry, RegistryKey, RepositoryRecord, ResourceTag, Result};
use berth_oci::RepositoryName;
use berth_store::{CreatePublicRegistryOutcome, PublicRegistryRecord};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// The region of every account's public registry key: no request can name
/// it, since every region a request names must be `[a-z0-9-]`.
pub const PUBLIC_REGION: &str = "@public";
/// ECR Public's limit on a registry's display name.
pub const DISPLAY_NAME_MAX: usize = 100;
/// Tries at a free default alias before giving up (each is 36^7 × 26 wide).
const ALIAS_TRIES: usize = 8;

/// ECR Public's limits on catalog data.
const DESCRIPTION_MAX: usize = 1024;
const TEXT_MAX: usize = 25_600;
const LIST_MAX: usize = 50;
pub const LOGO_MAX: usize = 512_000;

/// The registry key of an account's public repositories.
pub fn public_key(account_id: &str) -> RegistryKey {
    RegistryKey {
        account_id: account_id.to_string(),
        region: PUBLIC_REGION.to_string(),
    }
}

/// A public repository's catalog data, as ECR Public's
/// `RepositoryCatalogData` names its text members (the logo is apart).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicCatalog {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operating_systems: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_text: Option<String>,
}

fn too_long(member: &str, max: usize) -> Error {
    Error::InvalidParameter(format!(
        "Invalid parameter at '{member}' failed to satisfy constraint: 'Member must have length less than or equal to {max}'"
    ))
}

impl PublicCatalog {
    /// ECR Public's limits, with its wording.
    pub fn validate(&self, logo: Option<&[u8]>) -> Result<()> {
        let len = |s: &Option<String>| s.as_deref().map_or(0, |s| s.chars().count());
        if len(&self.description) > DESCRIPTION_MAX {
            return Err(too_long("catalogData.description", DESCRIPTION_MAX));
        }
        for (member, text) in [
            ("aboutText", &self.about_text),
            ("usageText", &self.usage_text),
        ] {
            if len(text) > TEXT_MAX {
                return Err(too_long(&format!("catalogData.{member}"), TEXT_MAX));
            }
        }
        for (member, list) in [
            ("architectures", &self.architectures),
            ("operatingSystems", &self.operating_systems),
        ] {
            if list.len() > LIST_MAX {
                return Err(too_long(&format!("catalogData.{member}"), LIST_MAX));
            }
            if list.iter().any(|v| v.is_empty() || v.chars().count() > 50) {
                return Err(Error::InvalidParameter(format!(
                    "Invalid parameter at 'catalogData.{member}': each value must have 1 to 50 characters"
                )));
            }
        }
        if let Some(logo) = logo {
            if logo.len() > LOGO_MAX {
                return Err(too_long("catalogData.logoImageBlob", LOGO_MAX));
            }
            let png = logo.starts_with(b"\x89PNG\r\n\x1a\n");
            let jpeg = logo.starts_with(&[0xff, 0xd8, 0xff]);
            if !logo.is_empty() && !png && !jpeg {
                return Err(Error::InvalidParameter(
                    "Invalid parameter at 'catalogData.logoImageBlob': the logo must be a PNG or JPEG image".into(),
                ));
            }
        }
        Ok(())
    }
}

/// `[a-z][a-z0-9]{7}`: within ECR Public's alias pattern and length.
fn default_alias() -> String {
    const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut alias = String::with_capacity(8);
    alias.push(char::from(b'a' + rng.random_range(0..26u8)));
    for _ in 0..7 {
        alias.push(char::from(REST[rng.random_range(0..REST.len())]));
    }
    alias
}

/// The ARN of an account's public registry (ECR Public's ARNs have no region).
pub fn public_registry_arn(account_id: &str) -> String {
    format!("arn:aws:ecr-public::{account_id}:registry/{account_id}")
}

impl Registry {
    /// `Ok` if `caller` may do `action` (an `ecr-public:` action) on
    /// `resource`, by its identity policies under this request's facts;
    /// else AccessDenied in AWS's words.
    pub async fn authorize_public(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
    ) -> Result<()> {
        match self
            .identity
            .identity_denial(caller, action, resource)
            .await?
        {
            None => Ok(()),
            Some(m) => Err(Error::AccessDenied(m)),
        }
    }

    /// The account's public registry, made with a default alias the first
    /// time it is asked for (by any node: the store keeps one per account
    /// and an alias to one account).
    pub async fn public_registry(&self, account_id: &str) -> Result<PublicRegistryRecord> {
        if let Some(r) = self.meta.public_registry(account_id).await? {
            return Ok(r);
        }
        for _ in 0..ALIAS_TRIES {
            let record = PublicRegistryRecord {
                account_id: account_id.to_string(),
                alias: default_alias(),
                display_name: String::new(),
                created_at: self.now(),
            };
            match self.meta.create_public_registry(&record).await? {
                CreatePublicRegistryOutcome::Created => return Ok(record),
                CreatePublicRegistryOutcome::Exists(r) => return Ok(r),
                CreatePublicRegistryOutcome::AliasTaken => continue,
            }
        }
        Err(Error::Unavailable(
            "no free registry alias was found; try again".into(),
        ))
    }

    /// The account's public registry if it has one (a read: nothing made).
    pub async fn existing_public_registry(
        &self,
        account_id: &str,
    ) -> Result<Option<PublicRegistryRecord>> {
        Ok(self.meta.public_registry(account_id).await?)
    }

    /// The account whose public registry has `alias`, if any.
    pub async fn public_registry_by_alias(
        &self,
        alias: &str,
    ) -> Result<Option<PublicRegistryRecord>> {
        Ok(self.meta.public_registry_by_alias(alias).await?)
    }

    /// The account whose public registry has `alias`, from a node cache
    /// (an alias is never reassigned); `None` for no such registry, which
    /// names that cannot be aliases answer without a read.
    pub async fn public_account(&self, alias: &str) -> Result<Option<String>> {
        if !alias_shaped(alias) {
            return Ok(None);
        }
        if let Some(account) = self.public_aliases.get(alias) {
            return Ok(Some(account));
        }
        let found = self
            .meta
            .public_registry_by_alias(alias)
            .await?
            .map(|r| r.account_id);
        if let Some(account) = &found {
            self.public_aliases
                .insert(alias.to_string(), account.clone());
        }
        Ok(found)
    }

    /// PutRegistryCatalogData: the display name (at most 100 characters).
    pub async fn set_public_display_name(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<PublicRegistryRecord> {
        if name.chars().count() > DISPLAY_NAME_MAX {
            return Err(Error::InvalidParameter(format!(
                "Invalid parameter at 'displayName' failed to satisfy constraint: 'Member must have length less than or equal to {DISPLAY_NAME_MAX}'"
            )));
        }
        let mut r = self.public_registry(account_id).await?;
        self.meta.set_public_display_name(account_id, name).await?;
        r.display_name = name.to_string();
        Ok(r)
    }
}

impl Registry {
    /// CreateRepository of ECR Public: a repository of the account's public
    /// registry (whose alias it makes if need be), with its catalog data.
    pub async fn create_public_repository(
        &self,
        account_id: &str,
        name: &str,
        catalog: Option<(&PublicCatalog, Option<&[u8]>)>,
        tags: &[ResourceTag],
    ) -> Result<RepositoryRecord> {
        let parsed = public_name(name)?;
        if let Some((c, logo)) = catalog {
            c.validate(logo)?;
        }
        self.public_registry(account_id).await?;
        let record = self
            .create_repository(
                &public_key(account_id),
                &parsed,
                RepositorySettings::default(),
                tags,
            )
            .await?;
        if let Some((c, logo)) = catalog {
            let data = serde_json::to_string(c).expect("catalog data serializes");
            self.meta.put_public_catalog(record.id, &data, logo).await?;
        }
        Ok(record)
    }

    /// A public repository's catalog data (empty when none was given) and
    /// whether it has a logo.
    pub async fn public_catalog(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<(PublicCatalog, bool)> {
        let r = self.repository(&public_key(account_id), name).await?;
        self.catalog_of(r.id, name).await
    }

    /// Repository `id`'s (`name`'s) catalog data and whether it has a logo.
    pub(crate) async fn catalog_of(
        &self,
        id: berth_store::RepoId,
        name: &str,
    ) -> Result<(PublicCatalog, bool)> {
        match self.meta.public_catalog(id).await? {
            None => Ok((PublicCatalog::default(), false)),
            Some((data, logo)) => {
                let c = serde_json::from_str(&data).map_err(|e| {
                    Error::Store(berth_store::StoreError::Corrupt(format!(
                        "the catalog data of public repository {name}: {e}"
                    )))
                })?;
                Ok((c, logo.is_some_and(|l| !l.is_empty())))
            }
        }
    }

    /// PutRepositoryCatalogData: replaces the catalog data (and the logo:
    /// none given keeps none).
    pub async fn put_public_catalog(
        &self,
        account_id: &str,
        name: &str,
        catalog: &PublicCatalog,
        logo: Option<&[u8]>,
    ) -> Result<()> {
        catalog.validate(logo)?;
        let r = self.repository(&public_key(account_id), name).await?;
        let data = serde_json::to_string(catalog).expect("catalog data serializes");
        self.meta.put_public_catalog(r.id, &data, logo).await?;
        Ok(())
    }
}

/// ECR Public's alias pattern, `[a-z][a-z0-9]+(?:[._-][a-z0-9]+)*`, 2 to
/// 50 characters.
fn alias_shaped(alias: &str) -> bool {
    let b = alias.as_bytes();
    (2..=50).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
        && !b
            .windows(2)
            .any(|w| b"._-".contains(&w[0]) && b"._-".contains(&w[1]))
        && !b"._-".contains(&b[b.len() - 1])
}

/// ECR Public's repository names: 2 to 205 characters of ECR's form.
fn public_name(name: &str) -> Result<RepositoryName> {
    let invalid = || {
        Error::InvalidParameter(format!(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must have 2 to 205 characters of lowercase letters, digits and . _ - / separators', not '{name}'"
        ))
    };
    if !(2..=205).contains(&name.len()) {
        return Err(invalid());
    }
    RepositoryName::parse(name).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use crate::test_fixture::fixture;

    #[test]
    fn default_aliases_match_ecr_publics_pattern() {
        for _ in 0..200 {
            let a = super::default_alias();
            assert_eq!(a.len(), 8);
            assert!(a.as_bytes()[0].is_ascii_lowercase(), "{a}");
            assert!(
                a.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{a}"
            );
        }
    }

    #[tokio::test]
    async fn an_account_gets_one_alias_at_first_use_and_keeps_it() {
        let f = fixture().await;
        let a = f.reg.public_registry("000000000000").await.unwrap();
        assert_eq!(
            f.reg.public_registry("000000000000").await.unwrap(),
            a,
            "the same registry, the same alias"
        );
        let b = f.reg.public_registry("111111111111").await.unwrap();
        assert_ne!(a.alias, b.alias);
        assert_eq!(
            f.reg
                .public_registry_by_alias(&b.alias)
                .await
                .unwrap()
                .map(|r| r.account_id),
            Some("111111111111".to_string())
        );
        let named = f
            .reg
            .set_public_display_name("000000000000", "Team Alpha")
            .await
            .unwrap();
        assert_eq!(
            (named.alias.as_str(), named.display_name.as_str()),
            (a.alias.as_str(), "Team Alpha")
        );
        assert!(f
            .reg
            .set_public_display_name("000000000000", &"x".repeat(101))
            .await
            .is_err());
    }
}
