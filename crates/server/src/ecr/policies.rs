//! Repository and registry policies: SetRepositoryPolicy,
//! GetRepositoryPolicy, DeleteRepositoryPolicy, PutRegistryPolicy,
//! GetRegistryPolicy, DeleteRegistryPolicy. Stored and validated here;
//! evaluated on every request once authorization is enforced.

use super::ops::parse;
use super::Call;
use crate::aws_error::AwsError;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepositoryPolicyInput {
    registry_id: Option<String>,
    repository_name: String,
    policy_text: Option<String>,
    #[serde(default)]
    force: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistryPolicyInput {
    policy_text: Option<String>,
}

impl Call<'_> {
    fn repository_policy_answer(&self, name: &str, text: String) -> Value {
        json!({
            "registryId": self.registry.account_id,
            "repositoryName": name,
            "policyText": text,
        })
    }
}

pub async fn set_repository_policy(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: RepositoryPolicyInput = parse(input)?;
    call.check_registry_id(input.registry_id.as_deref())?;
    call.repository_name(&input.repository_name)?;
    let text = input
        .policy_text
        .ok_or_else(|| AwsError::invalid_parameter("SetRepositoryPolicy needs policyText"))?;
    call.app
        .registry
        .identity()
        .set_repository_policy(
            &call.principal,
            &call.registry,
            &input.repository_name,
            &text,
            input.force,
        )
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(call.repository_policy_answer(&input.repository_name, text))
}

pub async fn get_repository_policy(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: RepositoryPolicyInput = parse(input)?;
    call.check_registry_id(input.registry_id.as_deref())?;
    call.repository_name(&input.repository_name)?;
    let text = call
        .app
        .registry
        .identity()
        .repository_policy(&call.registry, &input.repository_name)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(call.repository_policy_answer(&input.repository_name, text))
}

pub async fn delete_repository_policy(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: RepositoryPolicyInput = parse(input)?;
    call.check_registry_id(input.registry_id.as_deref())?;
    call.repository_name(&input.repository_name)?;
    let text = call
        .app
        .registry
        .identity()
        .delete_repository_policy(&call.registry, &input.repository_name)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(call.repository_policy_answer(&input.repository_name, text))
}

pub async fn put_registry_policy(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: RegistryPolicyInput = parse(input)?;
    let text = input
        .policy_text
        .ok_or_else(|| AwsError::invalid_parameter("PutRegistryPolicy needs policyText"))?;
    call.app
        .registry
        .identity()
        .put_registry_policy(&call.registry, &text)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({ "registryId": call.registry.account_id, "policyText": text }))
}

pub async fn get_registry_policy(call: &Call<'_>, _input: Value) -> Result<Value, AwsError> {
    let text = call
        .app
        .registry
        .identity()
        .registry_policy(&call.registry)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({ "registryId": call.registry.account_id, "policyText": text }))
}

pub async fn delete_registry_policy(call: &Call<'_>, _input: Value) -> Result<Value, AwsError> {
    let text = call
        .app
        .registry
        .identity()
        .delete_registry_policy(&call.registry)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({ "registryId": call.registry.account_id, "policyText": text }))
}
