//! Resource policies as the ECR API manages them: a repository's policy
//! (SetRepositoryPolicy, with ECR's lock-out guard) and the registry's
//! (PutRegistryPolicy). Documents are validated with the IAM policy
//! language (`berth_iam::policy`) before they are stored, byte for byte.

use super::principal::Principal;
use super::rules::{check_v1_actions, resource_arn, MAX_POLICY_CHARS};
use super::Identity;
use crate::{Error, Result};
use berth_iam::policy::{self, Decision, Policies, Policy, PolicyKind, PolicySource};
use berth_store::RegistryKey;

fn parse(text: &str, what: &str) -> Result<Policy> {
    if text.chars().count() > MAX_POLICY_CHARS {
        return Err(Error::InvalidParameter(format!(
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Member must have length less than or equal to {MAX_POLICY_CHARS}'"
        )));
    }
    Policy::parse(text, PolicyKind::Resource).map_err(|e| {
        Error::InvalidParameter(format!(
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid {what} policy provided': {e}"
        ))
    })
}

/// `Ok` if `text` is a repository policy SetRepositoryPolicy would take.
pub(crate) fn check_repository_policy(text: &str) -> Result<()> {
    parse(text, "repository").map(drop)
}

impl Identity {
    /// Sets the policy a creation template gives a repository it creates:
    /// validated when the template was stored; no lock-out guard (the
    /// registry, not a caller, sets it).
    pub(crate) async fn set_repository_policy_as_template(
        &self,
        registry: &RegistryKey,
        name: &str,
        text: &str,
    ) -> Result<()> {
        parse(text, "repository")?;
        self.store_repository_policy(registry, name, text).await
    }

    /// Sets a repository's policy. Unless `force`, a policy that would deny
    /// the caller `ecr:SetRepositoryPolicy` on the repository is refused, as
    /// ECR refuses it: the caller could never change it again.
    pub async fn set_repository_policy(
        &self,
        caller: &Principal,
        registry: &RegistryKey,
        name: &str,
        text: &str,
        force: bool,
    ) -> Result<()> {
        let parsed = parse(text, "repository")?;
        if !force {
            let arn = resource_arn(registry, Some(name));
            let action = if registry.region == crate::PUBLIC_REGION {
                "ecr-public:SetRepositoryPolicy"
            } else {
                "ecr:SetRepositoryPolicy"
            };
            let request = self.request(caller, action, &arn);
            let decision = policy::evaluate(
                &request,
                &Policies {
                    identity: &[],
                    session: None,
                    repository: Some(&parsed),
                    registry: None,
                    resource_account: &registry.account_id,
                },
            );
            if let Decision::ExplicitDeny {
                policy: PolicySource::Repository,
                ..
            } = decision
            {
                return Err(Error::InvalidParameter(format!(
                    "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'The repository policy would deny you {action} on {arn}, so it could not be changed again; set it with force to do so anyway'"
                )));
            }
        }
        self.store_repository_policy(registry, name, text).await
    }

    /// Stores a checked repository policy; every node's decisions change.
    async fn store_repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
        text: &str,
    ) -> Result<()> {
        let stored = self
            .meta
            .set_repository_policy(registry, name, Some(text))
            .await?;
        self.authz.changed();
        match stored {
            Some(_) => Ok(()),
            None => Err(Error::NameUnknown(name.to_string())),
        }
    }

    pub async fn repository_policy(&self, registry: &RegistryKey, name: &str) -> Result<String> {
        match self.meta.repository_policy(registry, name).await? {
            None => Err(Error::NameUnknown(name.to_string())),
            Some(None) => Err(Error::RepositoryPolicyNotFound(name.to_string())),
            Some(Some(p)) => Ok(p),
        }
    }

    /// Removes a repository's policy; the removed text comes back.
    pub async fn delete_repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<String> {
        let removed = self
            .meta
            .set_repository_policy(registry, name, None)
            .await?;
        self.authz.changed();
        match removed {
            None => Err(Error::NameUnknown(name.to_string())),
            Some(None) => Err(Error::RepositoryPolicyNotFound(name.to_string())),
            Some(Some(p)) => Ok(p),
        }
    }

    pub async fn put_registry_policy(&self, registry: &RegistryKey, text: &str) -> Result<()> {
        let parsed = parse(text, "registry")?;
        if !self.settings.registry_policy_scope_v2(registry).await? {
            check_v1_actions(&parsed)?;
        }
        self.meta.set_registry_policy(registry, Some(text)).await?;
        self.authz.changed();
        Ok(())
    }

    pub async fn registry_policy(&self, registry: &RegistryKey) -> Result<String> {
        self.meta
            .registry_policy(registry)
            .await?
            .ok_or(Error::RegistryPolicyNotFound)
    }

    pub async fn delete_registry_policy(&self, registry: &RegistryKey) -> Result<String> {
        let removed = self.meta.set_registry_policy(registry, None).await?;
        self.authz.changed();
        removed.ok_or(Error::RegistryPolicyNotFound)
    }
}
