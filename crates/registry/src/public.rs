//! Public registries (issue 24; ARCHITECTURE.md, "Public repositories"):
//! each account's, with an alias unique across the deployment (assigned
//! at first use) and its catalog data; the `ecr-public:` authorization of
//! calls about them. Public repositories themselves (under the registry
//! key `PUBLIC_REGION`) are the next step.

use crate::{Caller, Error, Registry, Result};
use berth_store::{CreatePublicRegistryOutcome, PublicRegistryRecord};
use rand::Rng as _;

/// The region of every account's public registry key: no request can name
/// it, since every region a request names must be `[a-z0-9-]`.
pub const PUBLIC_REGION: &str = "@public";
/// ECR Public's limit on a registry's display name.
pub const DISPLAY_NAME_MAX: usize = 100;
/// Tries at a free default alias before giving up (each is 36^7 × 26 wide).
const ALIAS_TRIES: usize = 8;

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
        let (decision, request) = self
            .identity
            .decide_identity_only(&caller.principal, action, resource, &caller.facts)
            .await?;
        match decision {
            berth_iam::policy::Decision::Allow => Ok(()),
            d => Err(Error::AccessDenied(
                d.denial_message(&request).unwrap_or_else(|| {
                    format!(
                        "User: {} is not authorized to perform: {action} on resource: {resource}",
                        caller.arn()
                    )
                }),
            )),
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

    /// The account whose public registry has `alias`, if any.
    pub async fn public_registry_by_alias(
        &self,
        alias: &str,
    ) -> Result<Option<PublicRegistryRecord>> {
        Ok(self.meta.public_registry_by_alias(alias).await?)
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
