//! Lifecycle policies: PutLifecyclePolicy, GetLifecyclePolicy,
//! DeleteLifecyclePolicy, StartLifecyclePolicyPreview and
//! GetLifecyclePolicyPreview. Validation, evaluation and the preview's
//! state live in the registry (`berth_registry::lifecycle`); here are only
//! the shapes.

use super::call::{constraint, seconds, Call, Failure};
use super::operation::EcrOperation;
use super::paging::{batch_len, decode_token, encode_token, split_page};
use crate::aws_error::AwsError;
use berth_registry::lifecycle::ActionKind;
use berth_registry::LifecyclePolicyRecord;
use berth_registry::PreviewResult;
use serde::{Deserialize, Serialize};

/// The input of every lifecycle operation but GetLifecyclePolicyPreview.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyInput {
    registry_id: Option<String>,
    repository_name: String,
    lifecycle_policy_text: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutLifecyclePolicyOutput {
    registry_id: String,
    repository_name: String,
    lifecycle_policy_text: String,
}

/// GetLifecyclePolicy's and DeleteLifecyclePolicy's output.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecyclePolicyOutput {
    registry_id: String,
    repository_name: String,
    lifecycle_policy_text: String,
    /// ECR always answers it: 0 (the epoch) until the policy's first
    /// evaluation, as the CLI's documented delete-lifecycle-policy example
    /// shows.
    last_evaluated_at: f64,
}

impl Call<'_> {
    fn lifecycle_output(&self, name: &str, p: LifecyclePolicyRecord) -> LifecyclePolicyOutput {
        LifecyclePolicyOutput {
            registry_id: self.registry.account_id.clone(),
            repository_name: name.to_string(),
            lifecycle_policy_text: p.text,
            last_evaluated_at: seconds(p.last_evaluated_at.unwrap_or(0)),
        }
    }
}

pub struct PutLifecyclePolicy;

impl EcrOperation for PutLifecyclePolicy {
    const NAME: &'static str = "PutLifecyclePolicy";
    type Input = PolicyInput;
    type Output = PutLifecyclePolicyOutput;

    async fn handle(call: &Call<'_>, input: PolicyInput) -> Result<Self::Output, Failure> {
        let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
        let text = input.lifecycle_policy_text.ok_or_else(|| {
            AwsError::invalid_parameter("PutLifecyclePolicy needs lifecyclePolicyText")
        })?;
        call.app
            .registry
            .put_lifecycle_policy(&call.registry, repo.name.as_str(), &text)
            .await?;
        Ok(PutLifecyclePolicyOutput {
            registry_id: call.registry.account_id.clone(),
            repository_name: repo.name.as_str().to_string(),
            lifecycle_policy_text: text,
        })
    }
}

pub struct GetLifecyclePolicy;

impl EcrOperation for GetLifecyclePolicy {
    const NAME: &'static str = "GetLifecyclePolicy";
    type Input = PolicyInput;
    type Output = LifecyclePolicyOutput;

    async fn handle(call: &Call<'_>, input: PolicyInput) -> Result<Self::Output, Failure> {
        let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
        let p = call
            .app
            .registry
            .lifecycle_policy(&call.registry, repo.name.as_str())
            .await?;
        Ok(call.lifecycle_output(repo.name.as_str(), p))
    }
}

pub struct DeleteLifecyclePolicy;

impl EcrOperation for DeleteLifecyclePolicy {
    const NAME: &'static str = "DeleteLifecyclePolicy";
    type Input = PolicyInput;
    type Output = LifecyclePolicyOutput;

    async fn handle(call: &Call<'_>, input: PolicyInput) -> Result<Self::Output, Failure> {
        let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
        let p = call
            .app
            .registry
            .delete_lifecycle_policy(&call.registry, repo.name.as_str())
            .await?;
        Ok(call.lifecycle_output(repo.name.as_str(), p))
    }
}

/// The preview runs within this call; ECR's answer is always IN_PROGRESS
/// (clients then poll GetLifecyclePolicyPreview, which has the result).
pub struct StartLifecyclePolicyPreview;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartLifecyclePolicyPreviewOutput {
    registry_id: String,
    repository_name: String,
    lifecycle_policy_text: String,
    status: &'static str,
}

impl EcrOperation for StartLifecyclePolicyPreview {
    const NAME: &'static str = "StartLifecyclePolicyPreview";
    type Input = PolicyInput;
    type Output = StartLifecyclePolicyPreviewOutput;

    async fn handle(call: &Call<'_>, input: PolicyInput) -> Result<Self::Output, Failure> {
        let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
        let text = call
            .app
            .registry
            .start_lifecycle_preview(&repo, input.lifecycle_policy_text.as_deref())
            .await?;
        Ok(StartLifecyclePolicyPreviewOutput {
            registry_id: call.registry.account_id.clone(),
            repository_name: repo.name.as_str().to_string(),
            lifecycle_policy_text: text,
            status: "IN_PROGRESS",
        })
    }
}

pub struct GetLifecyclePolicyPreview;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageId {
    image_digest: Option<String>,
    image_tag: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PreviewFilter {
    tag_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPreviewInput {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Option<Vec<ImageId>>,
    next_token: Option<String>,
    max_results: Option<i64>,
    filter: Option<PreviewFilter>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPreviewOutput {
    registry_id: String,
    repository_name: String,
    lifecycle_policy_text: String,
    status: &'static str,
    preview_results: Vec<PreviewResultShape>,
    summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewResultShape {
    image_digest: String,
    image_pushed_at: f64,
    action: PreviewAction,
    applied_rule_priority: u32,
    storage_class: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_tags: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewAction {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_storage_class: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    expiring_image_total_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    transitioning_image_total_counts: Option<Vec<TransitioningCount>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransitioningCount {
    target_storage_class: &'static str,
    image_total_count: usize,
}

fn result_shape(r: &PreviewResult) -> PreviewResultShape {
    PreviewResultShape {
        image_digest: r.digest.as_str().to_string(),
        image_pushed_at: seconds(r.pushed_at),
        action: PreviewAction {
            kind: r.action.api_name(),
            target_storage_class: (r.action == ActionKind::Transition).then_some("ARCHIVE"),
        },
        applied_rule_priority: r.rule_priority,
        storage_class: r.storage_class.api_name(),
        image_tags: (!r.tags.is_empty()).then(|| r.tags.clone()),
    }
}

impl EcrOperation for GetLifecyclePolicyPreview {
    const NAME: &'static str = "GetLifecyclePolicyPreview";
    type Input = GetPreviewInput;
    type Output = GetPreviewOutput;

    async fn handle(call: &Call<'_>, input: GetPreviewInput) -> Result<GetPreviewOutput, Failure> {
        let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
        let limit = match input.max_results {
            None => 100,
            Some(n @ 1..=100) => n as usize,
            Some(_) => {
                return Err(
                    constraint("maxResults", "Member must have value between 1 and 100").into(),
                )
            }
        };
        let keep_tagged = match input.filter.unwrap_or_default().tag_status.as_deref() {
            None | Some("ANY") => None,
            Some("TAGGED") => Some(true),
            Some("UNTAGGED") => Some(false),
            Some(_) => {
                return Err(constraint(
                    "filter.tagStatus",
                    "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]",
                )
                .into())
            }
        };
        if let Some(ids) = &input.image_ids {
            if input.next_token.is_some() || input.max_results.is_some() {
                return Err(AwsError::invalid_parameter(
                    "imageIds cannot be combined with nextToken or maxResults",
                )
                .into());
            }
            batch_len(ids, "imageIds")?;
        }
        let preview = call.app.registry.lifecycle_preview(&repo).await?;
        // The summary counts every result, whatever this page shows.
        let expiring = preview
            .results
            .iter()
            .filter(|r| r.action == ActionKind::Expire)
            .count();
        let transitioning = preview.results.len() - expiring;
        let selected: Vec<&PreviewResult> = preview
            .results
            .iter()
            .filter(|r| keep_tagged.is_none_or(|tagged| tagged != r.tags.is_empty()))
            .filter(|r| match &input.image_ids {
                None => true,
                Some(ids) => ids.iter().any(|id| {
                    id.image_digest
                        .as_deref()
                        .is_none_or(|d| d == r.digest.as_str())
                        && id
                            .image_tag
                            .as_deref()
                            .is_none_or(|t| r.tags.iter().any(|x| x == t))
                        && (id.image_digest.is_some() || id.image_tag.is_some())
                }),
            })
            .collect();
        // The token is the position of the next result in the stored list.
        let start = match decode_token(&input.next_token)? {
            None => 0,
            Some(t) => t
                .parse::<usize>()
                .map_err(|_| AwsError::invalid_parameter("Invalid parameter at 'nextToken'"))?,
        };
        let rest: Vec<&PreviewResult> = selected.into_iter().skip(start).collect();
        let (page, more) = split_page(rest, limit as u32);
        Ok(GetPreviewOutput {
            registry_id: call.registry.account_id.clone(),
            repository_name: repo.name.as_str().to_string(),
            lifecycle_policy_text: preview.policy_text,
            status: preview.status.api_name(),
            preview_results: page.iter().map(|r| result_shape(r)).collect(),
            summary: Summary {
                expiring_image_total_count: expiring,
                transitioning_image_total_counts: (transitioning > 0).then(|| {
                    vec![TransitioningCount {
                        target_storage_class: "ARCHIVE",
                        image_total_count: transitioning,
                    }]
                }),
            },
            next_token: more.then(|| encode_token(&(start + limit).to_string())),
        })
    }
}
