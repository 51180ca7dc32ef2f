//! Pull-through cache rules. berth does not cache upstream registries yet:
//! CreatePullThroughCacheRule answers UnsupportedOperationException, so a
//! registry never has a rule, and DescribePullThroughCacheRules says so
//! truthfully (an empty list, or PullThroughCacheRuleNotFoundException
//! for the prefixes asked about), which lets tools that read the rules
//! (Terraform's data sources, inventory scripts) work against berth.

use super::call::{constraint, Call, Failure};
use super::operation::EcrOperation;
use super::paging::{decode_token, page_size};
use crate::aws_error::AwsError;
use serde::{Deserialize, Serialize};

pub struct DescribePullThroughCacheRules;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribePullThroughCacheRulesInput {
    registry_id: Option<String>,
    ecr_repository_prefixes: Option<Vec<String>>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// A rule as ECR describes it; there are none yet, so the list is empty.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PullThroughCacheRule {
    ecr_repository_prefix: String,
    upstream_registry_url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribePullThroughCacheRulesOutput {
    pull_through_cache_rules: Vec<PullThroughCacheRule>,
}

impl EcrOperation for DescribePullThroughCacheRules {
    const NAME: &'static str = "DescribePullThroughCacheRules";
    type Input = DescribePullThroughCacheRulesInput;
    type Output = DescribePullThroughCacheRulesOutput;

    async fn handle(
        call: &Call<'_>,
        input: Self::Input,
    ) -> Result<DescribePullThroughCacheRulesOutput, Failure> {
        call.check_registry_id(input.registry_id.as_deref())?;
        page_size(input.max_results)?;
        decode_token(&input.next_token)?;
        if let Some(prefixes) = &input.ecr_repository_prefixes {
            if prefixes.is_empty() || prefixes.len() > 100 {
                return Err(constraint(
                    "ecrRepositoryPrefixes",
                    "Member must have length between 1 and 100",
                )
                .into());
            }
            return Err(AwsError::client(
                "PullThroughCacheRuleNotFoundException",
                format!(
                    "The pull through cache rule with the ECR repository prefix '{}' does not exist in the registry with id '{}'",
                    prefixes[0], call.registry.account_id
                ),
            )
            .into());
        }
        Ok(DescribePullThroughCacheRulesOutput {
            pull_through_cache_rules: Vec::new(),
        })
    }
}
