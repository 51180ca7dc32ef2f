//! One function per ECR operation: read the input shape (botocore's member
//! names), call the registry, build the output shape.

use super::paging::{batch_len, decode_token, encode_token, page_size, split_page};
use super::Call;
use crate::aws_error::AwsError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use berth_oci::RepositoryName;
use berth_registry::RepositoryRecord;
use berth_registry::RepositorySettings;
use serde::Deserialize;
use serde_json::{json, Value};

/// Every operation of the ECR service model (botocore 1.44.5: 62).
pub const ALL: &[&str] = &[
    "BatchCheckLayerAvailability",
    "BatchDeleteImage",
    "BatchGetImage",
    "BatchGetRepositoryScanningConfiguration",
    "CompleteLayerUpload",
    "CreatePullThroughCacheRule",
    "CreateRepository",
    "CreateRepositoryCreationTemplate",
    "DeleteLifecyclePolicy",
    "DeletePullThroughCacheRule",
    "DeleteRegistryPolicy",
    "DeleteRepository",
    "DeleteRepositoryCreationTemplate",
    "DeleteRepositoryPolicy",
    "DeleteSigningConfiguration",
    "DeregisterPullTimeUpdateExclusion",
    "DescribeImageReplicationStatus",
    "DescribeImageScanFindings",
    "DescribeImageSigningStatus",
    "DescribeImages",
    "DescribePullThroughCacheRules",
    "DescribeRegistry",
    "DescribeReplicationBackfillResults",
    "DescribeRepositories",
    "DescribeRepositoryCreationTemplates",
    "GetAccountSetting",
    "GetAuthorizationToken",
    "GetDownloadUrlForLayer",
    "GetLifecyclePolicy",
    "GetLifecyclePolicyPreview",
    "GetRegistryPolicy",
    "GetRegistryScanningConfiguration",
    "GetRepositoryPolicy",
    "GetSigningConfiguration",
    "InitiateLayerUpload",
    "ListImageReferrers",
    "ListImages",
    "ListPullTimeUpdateExclusions",
    "ListReplicationBackfills",
    "ListTagsForResource",
    "PutAccountSetting",
    "PutImage",
    "PutImageScanningConfiguration",
    "PutImageTagMutability",
    "PutLifecyclePolicy",
    "PutRegistryPolicy",
    "PutRegistryScanningConfiguration",
    "PutReplicationConfiguration",
    "PutSigningConfiguration",
    "RegisterPullTimeUpdateExclusion",
    "SetRepositoryPolicy",
    "StartImageScan",
    "StartLifecyclePolicyPreview",
    "StartReplicationBackfill",
    "StopReplicationBackfill",
    "TagResource",
    "UntagResource",
    "UpdateImageStorageClass",
    "UpdatePullThroughCacheRule",
    "UpdateRepositoryCreationTemplate",
    "UploadLayerPart",
    "ValidatePullThroughCacheRule",
];

/// The operations berth answers; the rest of `ALL` answer
/// `UnsupportedOperationException`.
pub const IMPLEMENTED: &[&str] = &[
    "CreateRepository",
    "DescribeRepositories",
    "DeleteRepository",
    "GetAuthorizationToken",
    "DescribeRegistry",
    "ListImages",
    "DescribeImages",
    "BatchGetImage",
    "BatchDeleteImage",
    "BatchCheckLayerAvailability",
    "PutImage",
    "GetDownloadUrlForLayer",
    "PutImageTagMutability",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "PutImageScanningConfiguration",
    "GetAccountSetting",
    "PutAccountSetting",
    "InitiateLayerUpload",
    "UploadLayerPart",
    "CompleteLayerUpload",
    "ListImageReferrers",
    "SetRepositoryPolicy",
    "GetRepositoryPolicy",
    "DeleteRepositoryPolicy",
    "PutRegistryPolicy",
    "GetRegistryPolicy",
    "DeleteRegistryPolicy",
    "PutLifecyclePolicy",
    "GetLifecyclePolicy",
    "DeleteLifecyclePolicy",
    "StartLifecyclePolicyPreview",
    "GetLifecyclePolicyPreview",
    "UpdateImageStorageClass",
    "StartImageScan",
    "DescribeImageScanFindings",
    "BatchGetRepositoryScanningConfiguration",
    "GetRegistryScanningConfiguration",
    "PutRegistryScanningConfiguration",
];

pub async fn dispatch(call: &Call<'_>, op: &str, input: Value) -> Result<Value, AwsError> {
    // Authorization comes first, as on AWS: an unauthorised caller learns
    // nothing about the repository, not even whether it exists.
    let needs = super::access::required(op, &input)?;
    let facts = berth_registry::RequestFacts {
        request_tags: needs.request_tags,
        tag_keys: needs.tag_keys,
        ..call.facts.clone()
    };
    for (action, repository) in &needs.checks {
        call.app
            .registry
            .identity()
            .authorize(
                &call.principal,
                action,
                &call.registry,
                repository.as_deref(),
                &facts,
            )
            .await
            .map_err(|e| call.registry_error(e))?;
    }
    match op {
        "CreateRepository" => create_repository(call, parse(input)?).await,
        "DescribeRepositories" => describe_repositories(call, parse(input)?).await,
        "DeleteRepository" => delete_repository(call, parse(input)?).await,
        "GetAuthorizationToken" => get_authorization_token(call),
        "ListImages" => super::images::list_images(call, parse(input)?).await,
        "DescribeImages" => super::images::describe_images(call, parse(input)?).await,
        "BatchGetImage" => super::images::batch_get_image(call, parse(input)?).await,
        "BatchDeleteImage" => super::images::batch_delete_image(call, parse(input)?).await,
        "BatchCheckLayerAvailability" => {
            super::images::batch_check_layer_availability(call, parse(input)?).await
        }
        "PutImage" => super::images::put_image(call, parse(input)?).await,
        "PutImageTagMutability" => put_image_tag_mutability(call, parse(input)?).await,
        "GetDownloadUrlForLayer" => {
            super::images::get_download_url_for_layer(call, parse(input)?).await
        }
        "InitiateLayerUpload" => super::layers::initiate_layer_upload(call, input).await,
        "UploadLayerPart" => super::layers::upload_layer_part(call, input).await,
        "CompleteLayerUpload" => super::layers::complete_layer_upload(call, input).await,
        "ListImageReferrers" => super::images::list_image_referrers(call, parse(input)?).await,
        "SetRepositoryPolicy" => super::policies::set_repository_policy(call, input).await,
        "GetRepositoryPolicy" => super::policies::get_repository_policy(call, input).await,
        "DeleteRepositoryPolicy" => super::policies::delete_repository_policy(call, input).await,
        "PutRegistryPolicy" => super::policies::put_registry_policy(call, input).await,
        "GetRegistryPolicy" => super::policies::get_registry_policy(call, input).await,
        "DeleteRegistryPolicy" => super::policies::delete_registry_policy(call, input).await,
        "PutLifecyclePolicy" => super::lifecycle::put_lifecycle_policy(call, input).await,
        "GetLifecyclePolicy" => super::lifecycle::get_lifecycle_policy(call, input).await,
        "DeleteLifecyclePolicy" => super::lifecycle::delete_lifecycle_policy(call, input).await,
        "StartLifecyclePolicyPreview" => {
            super::lifecycle::start_lifecycle_policy_preview(call, input).await
        }
        "GetLifecyclePolicyPreview" => {
            super::lifecycle::get_lifecycle_policy_preview(call, input).await
        }
        "UpdateImageStorageClass" => {
            super::images::update_image_storage_class(call, parse(input)?).await
        }
        "TagResource" => super::tagging::tag_resource(call, input).await,
        "UntagResource" => super::tagging::untag_resource(call, input).await,
        "ListTagsForResource" => super::tagging::list_tags_for_resource(call, input).await,
        "PutImageScanningConfiguration" => {
            super::settings::put_image_scanning_configuration(call, input).await
        }
        "StartImageScan" => super::scanning::start_image_scan(call, input).await,
        "DescribeImageScanFindings" => {
            super::scanning::describe_image_scan_findings(call, input).await
        }
        "BatchGetRepositoryScanningConfiguration" => {
            super::scanning::batch_get_repository_scanning_configuration(call, input).await
        }
        "GetRegistryScanningConfiguration" => {
            super::scanning::get_registry_scanning_configuration(call).await
        }
        "PutRegistryScanningConfiguration" => {
            super::scanning::put_registry_scanning_configuration(call, input).await
        }
        "GetAccountSetting" => super::settings::get_account_setting(call, input).await,
        "PutAccountSetting" => super::settings::put_account_setting(call, input).await,
        "DescribeRegistry" => Ok(json!({
            "registryId": call.registry.account_id,
            "replicationConfiguration": { "rules": [] },
        })),
        other => Err(AwsError::client(
            "UnsupportedOperationException",
            format!("berth does not implement the ECR operation {other} yet"),
        )),
    }
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(input: Value) -> Result<T, AwsError> {
    serde_json::from_value(input)
        .map_err(|e| AwsError::client("SerializationException", e.to_string()))
}

/// ECR's wording for a value that breaks a constraint.
pub(super) fn constraint(member: &str, reason: &str) -> AwsError {
    AwsError::invalid_parameter(format!(
        "Invalid parameter at '{member}' failed to satisfy constraint: '{reason}'"
    ))
}

impl Call<'_> {
    /// Checks a `registryId`'s form. The registry it names is the one the
    /// request addresses (`Call::registry`, chosen from it before
    /// authorization), so another account's id is a cross-account request,
    /// which that account's policies decide.
    pub(super) fn check_registry_id(&self, registry_id: Option<&str>) -> Result<(), AwsError> {
        match registry_id {
            None => Ok(()),
            Some(id) if id == self.registry.account_id => Ok(()),
            Some(_) => Err(constraint(
                "registryId",
                "must satisfy regular expression '[0-9]{12}'",
            )),
        }
    }

    pub(super) fn repository_name(&self, name: &str) -> Result<RepositoryName, AwsError> {
        // ECR's words for each bound.
        if name.len() < 2 {
            return Err(constraint(
                "repositoryName",
                "must have length greater than or equal to 2",
            ));
        }
        if name.len() > 256 {
            return Err(constraint(
                "repositoryName",
                "must have length less than or equal to 256",
            ));
        }
        RepositoryName::parse(name).map_err(|_| {
            constraint(
                "repositoryName",
                "must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'",
            )
        })
    }

    pub(super) fn registry_error(&self, e: berth_registry::Error) -> AwsError {
        AwsError::from_registry(e, &self.registry.account_id)
    }

    /// Where clients reach the registry this call addresses, for
    /// `repositoryUri` and `proxyEndpoint`. With the default domain
    /// (`localhost`, no DNS behind it) the caller's own registry in the
    /// default region is the address this request reached (`127.0.0.1:5000`
    /// works with docker as it is: loopback needs no TLS, and a plain host
    /// name addresses the caller's own account); every other registry, and
    /// every registry once an operator sets a real domain, is its account
    /// host name `<account>.dkr.ecr.<region>.<domain>[:port]`, the port
    /// being the one this request came in on.
    fn registry_host(&self) -> String {
        let own_default = self.registry.account_id == self.principal.account_id
            && self.registry.region == self.app.hosts.default_region;
        if own_default
            && self.app.hosts.domain == crate::host::LOCAL_DOMAIN
            && !self.host.is_empty()
        {
            return self.host.clone();
        }
        let port = self
            .host
            .rsplit_once(':')
            .filter(|(h, p)| !h.ends_with(']') || p.bytes().all(|b| b.is_ascii_digit()))
            .map(|(_, p)| p)
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let base = format!(
            "{}.dkr.ecr.{}.{}",
            self.registry.account_id, self.registry.region, self.app.hosts.domain
        );
        match port {
            Some(p) => format!("{base}:{p}"),
            None => base,
        }
    }

    fn repository_json(&self, r: &RepositoryRecord) -> Value {
        let mut v = json!({
            "repositoryArn": berth_registry::resource_arn(&self.registry, Some(&r.name)),
            "registryId": self.registry.account_id,
            "repositoryName": r.name,
            "repositoryUri": format!("{}/{}", self.registry_host(), r.name),
            "createdAt": r.created_at as f64 / 1000.0,
            "imageTagMutability": r.image_tag_mutability,
            "imageScanningConfiguration": { "scanOnPush": r.scan_on_push },
        });
        if let Some(f) = r
            .mutability_filters
            .as_deref()
            .and_then(|f| serde_json::from_str::<Value>(f).ok())
        {
            v["imageTagMutabilityExclusionFilters"] = f;
        }
        // No encryptionConfiguration: blobs are not encrypted at rest yet,
        // and berth does not claim what it does not do.
        v
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRepositoryInput {
    registry_id: Option<String>,
    repository_name: String,
    #[serde(default)]
    tags: Vec<super::tagging::Tag>,
    image_tag_mutability: Option<String>,
    image_tag_mutability_exclusion_filters: Option<Vec<Value>>,
    image_scanning_configuration: Option<ScanningConfiguration>,
    encryption_configuration: Option<EncryptionConfiguration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ScanningConfiguration {
    #[serde(default)]
    pub(super) scan_on_push: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EncryptionConfiguration {
    encryption_type: String,
}

async fn create_repository(
    call: &Call<'_>,
    input: CreateRepositoryInput,
) -> Result<Value, AwsError> {
    call.check_registry_id(input.registry_id.as_deref())?;
    let name = call.repository_name(&input.repository_name)?;
    if let Some(e) = &input.encryption_configuration {
        match e.encryption_type.as_str() {
            "AES256" => {}
            "KMS" | "KMS_DSSE" => {
                return Err(AwsError::invalid_parameter(format!(
                    "berth does not support {} encryption; omit encryptionConfiguration",
                    e.encryption_type
                )))
            }
            _ => {
                return Err(constraint(
                    "encryptionConfiguration.encryptionType",
                    "Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]",
                ))
            }
        }
    }
    let (mutability, filters) = tag_mutability(
        input.image_tag_mutability.as_deref(),
        input.image_tag_mutability_exclusion_filters.as_deref(),
    )?;
    let settings = RepositorySettings {
        image_tag_mutability: mutability,
        mutability_filters: filters,
        scan_on_push: input
            .image_scanning_configuration
            .is_some_and(|s| s.scan_on_push),
    };
    let record = call
        .app
        .registry
        .create_repository(
            &call.registry,
            &name,
            settings,
            &super::tagging::resource_tags(input.tags),
        )
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({ "repository": call.repository_json(&record) }))
}

/// Validates a tag mutability and its exclusion filters as ECR does; the
/// filters come back as the JSON text stored with the repository.
fn tag_mutability(
    mutability: Option<&str>,
    filters: Option<&[Value]>,
) -> Result<(String, Option<String>), AwsError> {
    let mutability = mutability.unwrap_or("MUTABLE");
    let with_exclusion = match mutability {
        "MUTABLE" | "IMMUTABLE" => false,
        "IMMUTABLE_WITH_EXCLUSION" | "MUTABLE_WITH_EXCLUSION" => true,
        _ => {
            return Err(constraint(
                "imageTagMutability",
                "Member must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]",
            ))
        }
    };
    let filters = match (with_exclusion, filters) {
        (false, None) => return Ok((mutability.to_string(), None)),
        (false, Some(_)) => {
            return Err(AwsError::invalid_parameter(format!(
                "imageTagMutabilityExclusionFilters are allowed only with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not {mutability}"
            )))
        }
        (true, None) => {
            return Err(AwsError::invalid_parameter(format!(
                "{mutability} needs imageTagMutabilityExclusionFilters"
            )))
        }
        (true, Some(f)) => f,
    };
    if filters.is_empty() || filters.len() > 5 {
        return Err(constraint(
            "imageTagMutabilityExclusionFilters",
            "Member must have length between 1 and 5",
        ));
    }
    for f in filters {
        if f["filterType"] != "WILDCARD" {
            return Err(constraint(
                "imageTagMutabilityExclusionFilters.filterType",
                "Member must satisfy enum value set: [WILDCARD]",
            ));
        }
        let ok = f["filter"].as_str().is_some_and(|p| {
            (1..=128).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._*-".contains(&b))
        });
        if !ok {
            return Err(constraint(
                "imageTagMutabilityExclusionFilters.filter",
                "must satisfy regular expression '^[0-9a-zA-Z._*-]{1,128}$'",
            ));
        }
    }
    Ok((
        mutability.to_string(),
        Some(Value::Array(filters.to_vec()).to_string()),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutImageTagMutabilityInput {
    registry_id: Option<String>,
    repository_name: String,
    image_tag_mutability: String,
    image_tag_mutability_exclusion_filters: Option<Vec<Value>>,
}

async fn put_image_tag_mutability(
    call: &Call<'_>,
    input: PutImageTagMutabilityInput,
) -> Result<Value, AwsError> {
    call.check_registry_id(input.registry_id.as_deref())?;
    call.repository_name(&input.repository_name)?;
    let (mutability, filters) = tag_mutability(
        Some(&input.image_tag_mutability),
        input.image_tag_mutability_exclusion_filters.as_deref(),
    )?;
    call.app
        .registry
        .set_tag_mutability(
            &call.registry,
            &input.repository_name,
            &mutability,
            filters.as_deref(),
        )
        .await
        .map_err(|e| call.registry_error(e))?;
    let mut out = json!({
        "registryId": call.registry.account_id,
        "repositoryName": input.repository_name,
        "imageTagMutability": mutability,
    });
    if let Some(f) = input.image_tag_mutability_exclusion_filters {
        out["imageTagMutabilityExclusionFilters"] = Value::Array(f);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeRepositoriesInput {
    registry_id: Option<String>,
    repository_names: Option<Vec<String>>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

async fn describe_repositories(
    call: &Call<'_>,
    input: DescribeRepositoriesInput,
) -> Result<Value, AwsError> {
    call.check_registry_id(input.registry_id.as_deref())?;
    let reg = &call.app.registry;
    if let Some(names) = input.repository_names {
        if input.next_token.is_some() || input.max_results.is_some() {
            return Err(AwsError::invalid_parameter(
                "repositoryNames cannot be combined with nextToken or maxResults",
            ));
        }
        batch_len(&names, "repositoryNames")?;
        let mut out = Vec::new();
        for n in &names {
            let r = reg
                .repository(&call.registry, n)
                .await
                .map_err(|e| call.registry_error(e))?;
            out.push(call.repository_json(&r));
        }
        return Ok(json!({ "repositories": out }));
    }
    let limit = page_size(input.max_results)?;
    let after = decode_token(&input.next_token)?;
    // One more than asked tells whether another page follows.
    let rows = reg
        .describe_repositories(&call.registry, after.as_deref(), limit + 1)
        .await
        .map_err(|e| call.registry_error(e))?;
    let (page, more) = split_page(rows, limit);
    let mut out = json!({
        "repositories": page.iter().map(|r| call.repository_json(r)).collect::<Vec<_>>(),
    });
    if more {
        if let Some(last) = page.last() {
            out["nextToken"] = json!(encode_token(&last.name));
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteRepositoryInput {
    registry_id: Option<String>,
    repository_name: String,
    #[serde(default)]
    force: bool,
}

async fn delete_repository(
    call: &Call<'_>,
    input: DeleteRepositoryInput,
) -> Result<Value, AwsError> {
    call.check_registry_id(input.registry_id.as_deref())?;
    call.repository_name(&input.repository_name)?;
    let record = call
        .app
        .registry
        .delete_repository(&call.registry, &input.repository_name, input.force)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({ "repository": call.repository_json(&record) }))
}

/// The password docker stores is `AWS:<token>`; one token serves every
/// registry of the caller's account.
fn get_authorization_token(call: &Call<'_>) -> Result<Value, AwsError> {
    let (token, expires_at) = call
        .app
        .registry
        .identity()
        .issue_token(&call.principal, &call.access_key_id);
    Ok(json!({
        "authorizationData": [{
            "authorizationToken": B64.encode(format!("AWS:{token}")),
            "expiresAt": expires_at,
            "proxyEndpoint": format!("{}://{}", call.app.hosts.scheme, call.registry_host()),
        }]
    }))
}
