//! Repository and registry policies: SetRepositoryPolicy,
//! GetRepositoryPolicy, DeleteRepositoryPolicy, PutRegistryPolicy,
//! GetRegistryPolicy, DeleteRegistryPolicy. Stored and validated by the
//! registry; evaluated on every request. Policy texts pass through as
//! the caller sent them.

use super::call::{Call, Failure};
use super::operation::EcrOperation;
use crate::aws_error::AwsError;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// The three repository policy operations' input.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryPolicyInput {
    registry_id: Option<String>,
    repository_name: String,
    policy_text: Option<String>,
    #[serde(default)]
    force: bool,
}

/// The three repository policy operations' output.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryPolicyOutput {
    registry_id: String,
    repository_name: String,
    policy_text: String,
}

impl Call<'_> {
    fn repository_policy_output(&self, name: String, text: String) -> RepositoryPolicyOutput {
        RepositoryPolicyOutput {
            registry_id: self.registry.account_id.clone(),
            repository_name: name,
            policy_text: text,
        }
    }

    fn registry_policy_output(&self, text: String) -> RegistryPolicyOutput {
        RegistryPolicyOutput {
            registry_id: self.registry.account_id.clone(),
            policy_text: text,
        }
    }
}

pub struct SetRepositoryPolicy;

impl EcrOperation for SetRepositoryPolicy {
    const NAME: &'static str = "SetRepositoryPolicy";
    type Input = RepositoryPolicyInput;
    type Output = RepositoryPolicyOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
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
            .await?;
        Ok(call.repository_policy_output(input.repository_name, text))
    }
}

pub struct GetRepositoryPolicy;

impl EcrOperation for GetRepositoryPolicy {
    const NAME: &'static str = "GetRepositoryPolicy";
    type Input = RepositoryPolicyInput;
    type Output = RepositoryPolicyOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        call.check_registry_id(input.registry_id.as_deref())?;
        call.repository_name(&input.repository_name)?;
        let text = call
            .app
            .registry
            .identity()
            .repository_policy(&call.registry, &input.repository_name)
            .await?;
        Ok(call.repository_policy_output(input.repository_name, text))
    }
}

pub struct DeleteRepositoryPolicy;

impl EcrOperation for DeleteRepositoryPolicy {
    const NAME: &'static str = "DeleteRepositoryPolicy";
    type Input = RepositoryPolicyInput;
    type Output = RepositoryPolicyOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        call.check_registry_id(input.registry_id.as_deref())?;
        call.repository_name(&input.repository_name)?;
        let text = call
            .app
            .registry
            .identity()
            .delete_repository_policy(&call.registry, &input.repository_name)
            .await?;
        Ok(call.repository_policy_output(input.repository_name, text))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRegistryPolicyInput {
    policy_text: Option<String>,
}

/// The three registry policy operations' output.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryPolicyOutput {
    registry_id: String,
    policy_text: String,
}

pub struct PutRegistryPolicy;

impl EcrOperation for PutRegistryPolicy {
    const NAME: &'static str = "PutRegistryPolicy";
    type Input = PutRegistryPolicyInput;
    type Output = RegistryPolicyOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let text = input
            .policy_text
            .ok_or_else(|| AwsError::invalid_parameter("PutRegistryPolicy needs policyText"))?;
        call.app
            .registry
            .identity()
            .put_registry_policy(&call.registry, &text)
            .await?;
        Ok(call.registry_policy_output(text))
    }
}

pub struct GetRegistryPolicy;

impl EcrOperation for GetRegistryPolicy {
    const NAME: &'static str = "GetRegistryPolicy";
    type Input = IgnoredAny;
    type Output = RegistryPolicyOutput;

    async fn handle(call: &Call<'_>, _: IgnoredAny) -> Result<Self::Output, Failure> {
        let text = call
            .app
            .registry
            .identity()
            .registry_policy(&call.registry)
            .await?;
        Ok(call.registry_policy_output(text))
    }
}

pub struct DeleteRegistryPolicy;

impl EcrOperation for DeleteRegistryPolicy {
    const NAME: &'static str = "DeleteRegistryPolicy";
    type Input = IgnoredAny;
    type Output = RegistryPolicyOutput;

    async fn handle(call: &Call<'_>, _: IgnoredAny) -> Result<Self::Output, Failure> {
        let text = call
            .app
            .registry
            .identity()
            .delete_registry_policy(&call.registry)
            .await?;
        Ok(call.registry_policy_output(text))
    }
}
