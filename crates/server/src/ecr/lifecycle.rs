//! Lifecycle policies: PutLifecyclePolicy, GetLifecyclePolicy,
//! DeleteLifecyclePolicy, StartLifecyclePolicyPreview and
//! GetLifecyclePolicyPreview. Validation, evaluation and the preview's
//! state live in the registry (`berth_registry::lifecycle`); here are only
//! the shapes.

use super::ops::{constraint, parse};
use super::paging::{batch_len, decode_token, encode_token, split_page};
use super::Call;
use crate::aws_error::AwsError;
use berth_registry::lifecycle::ActionKind;
use berth_registry::LifecyclePolicyRecord;
use berth_registry::PreviewResult;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyInput {
    registry_id: Option<String>,
    repository_name: String,
    lifecycle_policy_text: Option<String>,
}

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
struct GetPreviewInput {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Option<Vec<ImageId>>,
    next_token: Option<String>,
    max_results: Option<i64>,
    filter: Option<PreviewFilter>,
}

/// Times as the ECR API gives them: Unix seconds.
fn secs(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

impl Call<'_> {
    fn lifecycle_answer(&self, name: &str, p: &LifecyclePolicyRecord) -> Value {
        // ECR always answers `lastEvaluatedAt`: 0 (the epoch) until the
        // policy's first evaluation, as the CLI's documented
        // delete-lifecycle-policy example shows.
        json!({
            "registryId": self.registry.account_id,
            "repositoryName": name,
            "lifecyclePolicyText": p.text,
            "lastEvaluatedAt": secs(p.last_evaluated_at.unwrap_or(0)),
        })
    }
}

pub async fn put_lifecycle_policy(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: PolicyInput = parse(input)?;
    let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
    let text = input.lifecycle_policy_text.ok_or_else(|| {
        AwsError::invalid_parameter("PutLifecyclePolicy needs lifecyclePolicyText")
    })?;
    call.app
        .registry
        .put_lifecycle_policy(&call.registry, repo.name.as_str(), &text)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({
        "registryId": call.registry.account_id,
        "repositoryName": repo.name.as_str(),
        "lifecyclePolicyText": text,
    }))
}

pub async fn get_lifecycle_policy(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: PolicyInput = parse(input)?;
    let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
    let p = call
        .app
        .registry
        .lifecycle_policy(&call.registry, repo.name.as_str())
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(call.lifecycle_answer(repo.name.as_str(), &p))
}

pub async fn delete_lifecycle_policy(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: PolicyInput = parse(input)?;
    let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
    let p = call
        .app
        .registry
        .delete_lifecycle_policy(&call.registry, repo.name.as_str())
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(call.lifecycle_answer(repo.name.as_str(), &p))
}

/// The preview runs within this call; ECR's answer is always IN_PROGRESS
/// (clients then poll GetLifecyclePolicyPreview, which has the result).
pub async fn start_lifecycle_policy_preview(
    call: &Call<'_>,
    input: Value,
) -> Result<Value, AwsError> {
    let input: PolicyInput = parse(input)?;
    let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
    let text = call
        .app
        .registry
        .start_lifecycle_preview(&repo, input.lifecycle_policy_text.as_deref())
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({
        "registryId": call.registry.account_id,
        "repositoryName": repo.name.as_str(),
        "lifecyclePolicyText": text,
        "status": "IN_PROGRESS",
    }))
}

fn result_json(r: &PreviewResult) -> Value {
    let mut action = json!({ "type": r.action.api_name() });
    if r.action == ActionKind::Transition {
        action["targetStorageClass"] = json!("ARCHIVE");
    }
    let mut v = json!({
        "imageDigest": r.digest.as_str(),
        "imagePushedAt": secs(r.pushed_at),
        "action": action,
        "appliedRulePriority": r.rule_priority,
        "storageClass": r.storage_class.api_name(),
    });
    if !r.tags.is_empty() {
        v["imageTags"] = json!(r.tags);
    }
    v
}

pub async fn get_lifecycle_policy_preview(
    call: &Call<'_>,
    input: Value,
) -> Result<Value, AwsError> {
    let input: GetPreviewInput = parse(input)?;
    let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
    let limit = match input.max_results {
        None => 100,
        Some(n @ 1..=100) => n as usize,
        Some(_) => {
            return Err(constraint(
                "maxResults",
                "Member must have value between 1 and 100",
            ))
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
            ))
        }
    };
    if let Some(ids) = &input.image_ids {
        if input.next_token.is_some() || input.max_results.is_some() {
            return Err(AwsError::invalid_parameter(
                "imageIds cannot be combined with nextToken or maxResults",
            ));
        }
        batch_len(ids, "imageIds")?;
    }
    let preview = call
        .app
        .registry
        .lifecycle_preview(&repo)
        .await
        .map_err(|e| call.registry_error(e))?;
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
    let mut summary = json!({ "expiringImageTotalCount": expiring });
    if transitioning > 0 {
        summary["transitioningImageTotalCounts"] =
            json!([{ "targetStorageClass": "ARCHIVE", "imageTotalCount": transitioning }]);
    }
    let mut out = json!({
        "registryId": call.registry.account_id,
        "repositoryName": repo.name.as_str(),
        "lifecyclePolicyText": preview.policy_text,
        "status": preview.status.api_name(),
        "previewResults": page.iter().map(|r| result_json(r)).collect::<Vec<_>>(),
        "summary": summary,
    });
    if more {
        out["nextToken"] = json!(encode_token(&(start + limit).to_string()));
    }
    Ok(out)
}
