//! CreateAlias, UpdateAlias, DeleteAlias, ListAliases. An alias operation
//! needs permission on the alias (identity policies, resource the alias
//! ARN) and on each key it touches (that key's policy), as on AWS.

use super::keys::{next_marker, page_limit, require_state};
use super::rules::{self, kms_error};
use super::{Found, KmsApi};
use crate::identity::Caller;
use crate::Result;
use berth_store::{KmsAliasOutcome, KmsAliasRecord};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasEntry {
    pub name: String,
    pub arn: String,
    pub target_key_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasPage {
    pub aliases: Vec<AliasEntry>,
    pub next: Option<String>,
}

impl KmsApi<'_> {
    /// The key an alias may point at: the caller's own, customer managed,
    /// not pending deletion, and the caller may `action` on it.
    async fn alias_target(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        action: &str,
    ) -> Result<Found> {
        let found = self.key_for(caller, region, key_id, action, false).await?;
        if found.key.account_id != caller.account_id {
            return Err(rules::key_not_found(&found.arn));
        }
        if found.key.key_manager == "AWS" {
            return Err(kms_error(
                "UnsupportedOperationException",
                format!(
                    "{} is an AWS managed key: an alias cannot point at it",
                    found.arn
                ),
            ));
        }
        require_state(&found.key, &found.arn, false)?;
        Ok(found)
    }

    /// The caller's alias `name` (its ARN and record), once `action` is
    /// allowed on the alias (identity policies) and on the key it points
    /// at now (that key's policy).
    async fn existing_alias(
        &self,
        caller: &Caller,
        region: &str,
        name: &str,
        action: &str,
    ) -> Result<(String, KmsAliasRecord)> {
        let arn = rules::alias_arn(region, &caller.account_id, name);
        self.authorize_identity(caller, action, &arn).await?;
        let Some(current) = self
            .meta()
            .get_kms_alias(&caller.account_id, region, name)
            .await?
        else {
            return Err(kms_error(
                "NotFoundException",
                format!("Alias {arn} is not found."),
            ));
        };
        self.key_for(caller, region, &current.target_key_id, action, false)
            .await?;
        Ok((arn, current))
    }

    fn outcome(&self, outcome: KmsAliasOutcome, arn: &str, target: &Found) -> Result<()> {
        match outcome {
            KmsAliasOutcome::Done => Ok(()),
            KmsAliasOutcome::AliasExists => Err(kms_error(
                "AlreadyExistsException",
                format!("An alias with the name {arn} already exists"),
            )),
            KmsAliasOutcome::AliasNotFound => Err(kms_error(
                "NotFoundException",
                format!("Alias {arn} is not found."),
            )),
            KmsAliasOutcome::KeyNotFound => Err(rules::key_not_found(&target.arn)),
            KmsAliasOutcome::TooMany => Err(kms_error(
                "LimitExceededException",
                format!(
                    "{} has {} aliases, the most a key may have",
                    target.arn,
                    rules::MAX_ALIASES_PER_KEY
                ),
            )),
        }
    }

    pub async fn create_alias(
        &self,
        caller: &Caller,
        region: &str,
        name: &str,
        target_key_id: &str,
    ) -> Result<()> {
        rules::check_alias_name(name, true)?;
        let arn = rules::alias_arn(region, &caller.account_id, name);
        self.authorize_identity(caller, "kms:CreateAlias", &arn)
            .await?;
        let target = self
            .alias_target(caller, region, target_key_id, "kms:CreateAlias")
            .await?;
        let now = self.now();
        let outcome = self
            .meta()
            .create_kms_alias(
                &KmsAliasRecord {
                    account_id: caller.account_id.clone(),
                    region: region.to_string(),
                    name: name.to_string(),
                    target_key_id: target.key.key_id.clone(),
                    created_at: now,
                    updated_at: now,
                },
                rules::MAX_ALIASES_PER_KEY,
            )
            .await?;
        self.outcome(outcome, &arn, &target)
    }

    pub async fn update_alias(
        &self,
        caller: &Caller,
        region: &str,
        name: &str,
        target_key_id: &str,
    ) -> Result<()> {
        rules::check_alias_name(name, true)?;
        let (arn, current) = self
            .existing_alias(caller, region, name, "kms:UpdateAlias")
            .await?;
        // Then the key it is to point at.
        let target = self
            .alias_target(caller, region, target_key_id, "kms:UpdateAlias")
            .await?;
        let outcome = self
            .meta()
            .update_kms_alias(
                &KmsAliasRecord {
                    target_key_id: target.key.key_id.clone(),
                    updated_at: self.now(),
                    ..current
                },
                rules::MAX_ALIASES_PER_KEY,
            )
            .await?;
        self.outcome(outcome, &arn, &target)
    }

    pub async fn delete_alias(&self, caller: &Caller, region: &str, name: &str) -> Result<()> {
        rules::check_alias_name(name, true)?;
        let (arn, _) = self
            .existing_alias(caller, region, name, "kms:DeleteAlias")
            .await?;
        if !self
            .meta()
            .delete_kms_alias(&caller.account_id, region, name)
            .await?
        {
            return Err(kms_error(
                "NotFoundException",
                format!("Alias {arn} is not found."),
            ));
        }
        Ok(())
    }

    /// ListAliases: the account's aliases in the region, or one key's
    /// (`KeyId`, whose policy must then allow `kms:ListAliases`).
    pub async fn list_aliases(
        &self,
        caller: &Caller,
        region: &str,
        key_id: Option<&str>,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> Result<AliasPage> {
        self.authorize_identity(caller, "kms:ListAliases", "*")
            .await?;
        let limit = page_limit(limit, 50, 100)?;
        let key = match key_id {
            Some(k) => {
                let found = self.resolve(caller, region, k, false).await?;
                if found.key.account_id != caller.account_id {
                    return Err(rules::key_not_found(&found.arn));
                }
                Some(found.key.key_id)
            }
            None => None,
        };
        let mut rows = self
            .meta()
            .list_kms_aliases(
                &caller.account_id,
                region,
                key.as_deref(),
                marker,
                limit + 1,
            )
            .await?;
        let next = next_marker(&mut rows, limit, |a| a.name.clone());
        Ok(AliasPage {
            aliases: rows
                .into_iter()
                .map(|a| AliasEntry {
                    arn: rules::alias_arn(region, &a.account_id, &a.name),
                    name: a.name,
                    target_key_id: a.target_key_id,
                    created_at: a.created_at,
                    updated_at: a.updated_at,
                })
                .collect(),
            next,
        })
    }
}
