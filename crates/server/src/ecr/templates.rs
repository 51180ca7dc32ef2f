//! Repository creation templates: CreateRepositoryCreationTemplate,
//! UpdateRepositoryCreationTemplate, DescribeRepositoryCreationTemplates,
//! DeleteRepositoryCreationTemplate. Members are parsed here; the rules,
//! storage and applying a template are the registry's (`templates.rs`).
//! The operations have no `registryId`: they act on the caller's registry.

use super::access::{Needs, Scope};
use super::call::{constraint, seconds, Call, Failure};
use super::operation::EcrOperation;
use super::paging::{decode_token, encode_token, page_size, split_page};
use super::repositories::{tag_mutability, EncryptionConfiguration};
use super::tagging::Tag;
use crate::aws_error::AwsError;
use berth_registry::{Template, TemplateSettings};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Create's and Update's members (Update: all but `prefix` optional, and
/// only those present change).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInput {
    prefix: String,
    description: Option<String>,
    encryption_configuration: Option<EncryptionConfiguration>,
    resource_tags: Option<Vec<Tag>>,
    image_tag_mutability: Option<String>,
    image_tag_mutability_exclusion_filters: Option<Vec<Value>>,
    repository_policy: Option<String>,
    lifecycle_policy: Option<String>,
    applied_for: Option<Vec<String>>,
    custom_role_arn: Option<String>,
}

/// ECR's `RepositoryCreationTemplate` shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateShape {
    prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    encryption_configuration: EncryptionShape,
    resource_tags: Vec<Tag>,
    image_tag_mutability: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_tag_mutability_exclusion_filters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repository_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycle_policy: Option<String>,
    applied_for: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_role_arn: Option<String>,
    created_at: f64,
    updated_at: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EncryptionShape {
    encryption_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key: Option<String>,
}

fn shape(t: Template) -> TemplateShape {
    let s = t.settings;
    TemplateShape {
        prefix: t.prefix,
        description: s.description,
        encryption_configuration: EncryptionShape {
            encryption_type: s.encryption_type,
            kms_key: s.kms_key,
        },
        resource_tags: s
            .resource_tags
            .into_iter()
            .map(|(key, value)| Tag::new(key, value))
            .collect(),
        image_tag_mutability: s.image_tag_mutability,
        image_tag_mutability_exclusion_filters: s
            .mutability_filters
            .as_deref()
            .and_then(|f| serde_json::from_str(f).ok()),
        repository_policy: s.repository_policy,
        lifecycle_policy: s.lifecycle_policy,
        applied_for: s.applied_for,
        custom_role_arn: s.custom_role_arn,
        created_at: seconds(t.created_at),
        updated_at: seconds(t.updated_at),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateOutput {
    registry_id: String,
    repository_creation_template: TemplateShape,
}

impl Call<'_> {
    fn template_output(&self, t: Template) -> TemplateOutput {
        TemplateOutput {
            registry_id: self.registry.account_id.clone(),
            repository_creation_template: shape(t),
        }
    }
}

/// Applies the members present in `input` to `s`.
fn apply(input: TemplateInput, s: &mut TemplateSettings) -> Result<(), AwsError> {
    if input.description.is_some() {
        s.description = input.description;
    }
    if let Some(e) = input.encryption_configuration {
        s.encryption_type = e.encryption_type;
        s.kms_key = e.kms_key.filter(|k| !k.is_empty());
    }
    if let Some(tags) = input.resource_tags {
        s.resource_tags = tags.into_iter().map(Tag::into_pair).collect();
    }
    if input.image_tag_mutability.is_some()
        || input.image_tag_mutability_exclusion_filters.is_some()
    {
        let (m, f) = tag_mutability(
            input
                .image_tag_mutability
                .as_deref()
                .or(Some(s.image_tag_mutability.as_str())),
            input.image_tag_mutability_exclusion_filters.as_deref(),
        )?;
        s.image_tag_mutability = m;
        s.mutability_filters = f;
    }
    // An empty policy text removes it (the members allow length 0).
    if let Some(p) = input.repository_policy {
        s.repository_policy = (!p.is_empty()).then_some(p);
    }
    if let Some(p) = input.lifecycle_policy {
        s.lifecycle_policy = (!p.is_empty()).then_some(p);
    }
    if let Some(mut a) = input.applied_for {
        a.dedup();
        s.applied_for = a;
    }
    if let Some(r) = input.custom_role_arn {
        if r.len() > 2048 {
            return Err(constraint(
                "customRoleArn",
                "Member must have length less than or equal to 2048",
            ));
        }
        s.custom_role_arn = (!r.is_empty()).then_some(r);
    }
    Ok(())
}

/// `iam:PassRole` on the role a request names, when it names one.
async fn check_role(call: &Call<'_>, role: Option<&str>) -> Result<(), Failure> {
    let Some(role) = role.filter(|r| !r.is_empty()) else {
        return Ok(());
    };
    let caller = berth_registry::Caller {
        principal: call.principal.clone(),
        facts: call.facts.clone(),
    };
    call.app
        .registry
        .authorize_template_role(&caller, role)
        .await?;
    Ok(())
}

/// Creating or changing a template also needs what creating a repository
/// with its settings needs (the service authorization reference).
fn template_needs(operation: &str) -> Needs {
    let mut needs = Needs::on(operation, None);
    for extra in [
        "ecr:CreateRepository",
        "ecr:PutLifecyclePolicy",
        "ecr:SetRepositoryPolicy",
    ] {
        needs.checks.push((extra.to_string(), None));
    }
    needs
}

pub struct CreateRepositoryCreationTemplate;

impl EcrOperation for CreateRepositoryCreationTemplate {
    const NAME: &'static str = "CreateRepositoryCreationTemplate";
    type Input = TemplateInput;
    type Output = TemplateOutput;

    fn needs(_: &Scope) -> Result<Needs, AwsError> {
        Ok(template_needs(Self::NAME))
    }

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        if input.applied_for.is_none() {
            return Err(constraint("appliedFor", "Member must not be null").into());
        }
        check_role(call, input.custom_role_arn.as_deref()).await?;
        let prefix = input.prefix.clone();
        let mut settings = TemplateSettings {
            encryption_type: "AES256".into(),
            image_tag_mutability: "MUTABLE".into(),
            ..TemplateSettings::default()
        };
        apply(input, &mut settings)?;
        let t = call
            .app
            .registry
            .create_template(&call.registry, &prefix, settings)
            .await?;
        Ok(call.template_output(t))
    }
}

pub struct UpdateRepositoryCreationTemplate;

impl EcrOperation for UpdateRepositoryCreationTemplate {
    const NAME: &'static str = "UpdateRepositoryCreationTemplate";
    type Input = TemplateInput;
    type Output = TemplateOutput;

    fn needs(_: &Scope) -> Result<Needs, AwsError> {
        Ok(template_needs(Self::NAME))
    }

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        check_role(call, input.custom_role_arn.as_deref()).await?;
        let registry = &call.app.registry;
        let mut t = registry.template(&call.registry, &input.prefix).await?;
        apply(input, &mut t.settings)?;
        let t = registry.update_template(&call.registry, t).await?;
        Ok(call.template_output(t))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    prefixes: Option<Vec<String>>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeOutput {
    registry_id: String,
    repository_creation_templates: Vec<TemplateShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub struct DescribeRepositoryCreationTemplates;

impl EcrOperation for DescribeRepositoryCreationTemplates {
    const NAME: &'static str = "DescribeRepositoryCreationTemplates";
    type Input = DescribeInput;
    type Output = DescribeOutput;

    fn needs(_: &Scope) -> Result<Needs, AwsError> {
        Ok(Needs::on(Self::NAME, None))
    }

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let registry = &call.app.registry;
        if let Some(prefixes) = input.prefixes {
            if input.next_token.is_some() || input.max_results.is_some() {
                return Err(AwsError::invalid_parameter(
                    "Invalid parameter: prefixes cannot be combined with nextToken or maxResults",
                )
                .into());
            }
            let mut found = Vec::new();
            for p in prefixes {
                match registry.template(&call.registry, &p).await {
                    Ok(t) => found.push(shape(t)),
                    Err(berth_registry::Error::TemplateNotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(DescribeOutput {
                registry_id: call.registry.account_id.clone(),
                repository_creation_templates: found,
                next_token: None,
            });
        }
        let limit = page_size(input.max_results)?;
        let after = decode_token(&input.next_token)?;
        let rows = registry
            .templates(&call.registry, after.as_deref(), limit + 1)
            .await?;
        let (page, more) = split_page(rows, limit);
        let next_token = more
            .then(|| page.last().map(|t| encode_token(&t.prefix)))
            .flatten();
        Ok(DescribeOutput {
            registry_id: call.registry.account_id.clone(),
            repository_creation_templates: page.into_iter().map(shape).collect(),
            next_token,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteInput {
    prefix: String,
}

pub struct DeleteRepositoryCreationTemplate;

impl EcrOperation for DeleteRepositoryCreationTemplate {
    const NAME: &'static str = "DeleteRepositoryCreationTemplate";
    type Input = DeleteInput;
    type Output = TemplateOutput;

    fn needs(_: &Scope) -> Result<Needs, AwsError> {
        Ok(Needs::on(Self::NAME, None))
    }

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let t = call
            .app
            .registry
            .delete_template(&call.registry, &input.prefix)
            .await?;
        Ok(call.template_output(t))
    }
}
