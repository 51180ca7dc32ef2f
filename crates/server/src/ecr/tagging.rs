//! Resource tags of repositories: TagResource, UntagResource,
//! ListTagsForResource (and the `tags` of CreateRepository). The only
//! taggable resource is a repository, named by its ARN.

use super::ops::parse;
use super::Call;
use crate::aws_error::AwsError;
use berth_iam::arn::RepositoryArn;
use berth_registry::ResourceTag;
use serde::Deserialize;
use serde_json::{json, Value};

/// ECR's `Tag` shape: capitalised members.
#[derive(Deserialize)]
pub(super) struct Tag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value")]
    value: String,
}

pub(super) fn resource_tags(tags: Vec<Tag>) -> Vec<ResourceTag> {
    tags.into_iter()
        .map(|t| ResourceTag {
            key: t.key,
            value: t.value,
        })
        .collect()
}

fn tags_json(tags: &[ResourceTag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({ "Key": t.key, "Value": t.value }))
            .collect(),
    )
}

impl Call<'_> {
    /// The repository an ARN names, which must be in the registry the request
    /// addresses:
    /// `arn:<partition>:ecr:<region>:<account>:repository/<name>`.
    fn repository_of_arn(&self, arn: &str) -> Result<String, AwsError> {
        let RepositoryArn {
            region,
            account,
            name,
            ..
        } = RepositoryArn::parse(arn)
            .ok_or_else(|| super::ops::constraint("resourceArn", "Invalid ARN"))?;
        self.check_registry_id(Some(account))?;
        if region != self.registry.region {
            return Err(AwsError::invalid_parameter(format!(
                "the ARN names region '{region}' but the request was signed for '{}'; call the API in the repository's region",
                self.registry.region
            )));
        }
        self.repository_name(name)?;
        Ok(name.to_string())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagResourceInput {
    resource_arn: String,
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UntagResourceInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListTagsForResourceInput {
    resource_arn: String,
}

pub async fn tag_resource(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: TagResourceInput = parse(input)?;
    let name = call.repository_of_arn(&input.resource_arn)?;
    call.app
        .registry
        .tag_repository(&call.registry, &name, &resource_tags(input.tags))
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({}))
}

pub async fn untag_resource(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: UntagResourceInput = parse(input)?;
    let name = call.repository_of_arn(&input.resource_arn)?;
    call.app
        .registry
        .untag_repository(&call.registry, &name, &input.tag_keys)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({}))
}

pub async fn list_tags_for_resource(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: ListTagsForResourceInput = parse(input)?;
    let name = call.repository_of_arn(&input.resource_arn)?;
    let tags = call
        .app
        .registry
        .repository_tags(&call.registry, &name)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({ "tags": tags_json(&tags) }))
}
