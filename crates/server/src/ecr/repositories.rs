//! Repositories and the registry: CreateRepository, DescribeRepositories,
//! DeleteRepository, PutImageTagMutability, GetAuthorizationToken,
//! (DescribeRegistry is with replication, `replication.rs`).

use super::access::{Needs, Scope};
use super::call::{constraint, seconds, Call, Failure};
use super::operation::EcrOperation;
use super::paging::{batch_len, decode_token, encode_token, page_size, split_page};
use super::tagging::{resource_tags, Tag};
use crate::aws_error::AwsError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use berth_registry::RepositoryRecord;
use berth_registry::RepositorySettings;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// ECR's `Repository` shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Repository {
    repository_arn: String,
    registry_id: String,
    repository_name: String,
    repository_uri: String,
    created_at: f64,
    image_tag_mutability: String,
    image_scanning_configuration: ScanningConfiguration,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_tag_mutability_exclusion_filters: Option<Value>,
    /// AES256, as ECR reports it when nothing was asked: berth seals every
    /// repository's blobs and manifests (`berth_store::sealed`). Left out
    /// only where sealing is off (the benchmark's unencrypted baseline),
    /// so that berth never claims what it does not do.
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_configuration: Option<EncryptionOutput>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EncryptionOutput {
    encryption_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key: Option<String>,
}

impl Call<'_> {
    fn repository(&self, r: &RepositoryRecord) -> Repository {
        Repository {
            repository_arn: berth_registry::resource_arn(&self.registry, Some(&r.name)),
            registry_id: self.registry.account_id.clone(),
            repository_name: r.name.clone(),
            repository_uri: format!("{}/{}", self.registry_host(), r.name),
            created_at: seconds(r.created_at),
            image_tag_mutability: r.image_tag_mutability.clone(),
            image_scanning_configuration: ScanningConfiguration {
                scan_on_push: r.scan_on_push,
            },
            image_tag_mutability_exclusion_filters: r
                .mutability_filters
                .as_deref()
                .and_then(|f| serde_json::from_str::<Value>(f).ok()),
            encryption_configuration: self.app.registry.seals_at_rest().then(|| EncryptionOutput {
                encryption_type: r.encryption_type.clone(),
                kms_key: r.kms_key.clone(),
            }),
        }
    }
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanningConfiguration {
    #[serde(default)]
    pub scan_on_push: bool,
}

#[derive(Serialize)]
pub struct RepositoryOutput {
    repository: Repository,
}

pub struct CreateRepository;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRepositoryInput {
    registry_id: Option<String>,
    repository_name: String,
    #[serde(default)]
    tags: Vec<Tag>,
    image_tag_mutability: Option<String>,
    /// Kept as JSON: ECR words a malformed filter as a constraint.
    image_tag_mutability_exclusion_filters: Option<Vec<Value>>,
    image_scanning_configuration: Option<ScanningConfiguration>,
    encryption_configuration: Option<EncryptionConfiguration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EncryptionConfiguration {
    pub(super) encryption_type: String,
    pub(super) kms_key: Option<String>,
}

impl EcrOperation for CreateRepository {
    const NAME: &'static str = "CreateRepository";
    type Input = CreateRepositoryInput;
    type Output = RepositoryOutput;

    /// With tags, also `ecr:TagResource`.
    fn needs(scope: &Scope) -> Result<Needs, AwsError> {
        let mut needs = Needs::on(Self::NAME, scope.repository_name.clone());
        needs.request_tags = scope.tags.clone();
        if !needs.request_tags.is_empty() {
            needs
                .checks
                .push(("ecr:TagResource".to_string(), scope.repository_name.clone()));
        }
        Ok(needs)
    }

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        call.check_registry_id(input.registry_id.as_deref())?;
        let name = call.repository_name(&input.repository_name)?;
        if call.replica {
            let repo = berth_registry::Repo {
                registry: call.registry.clone(),
                name,
            };
            let registry = &call.app.registry;
            if registry.create_replica_repository(&repo).await? {
                let record = registry
                    .repository(&call.registry, repo.name.as_str())
                    .await?;
                return Ok(RepositoryOutput {
                    repository: call.repository(&record),
                });
            }
            return Err(
                berth_registry::Error::RepositoryAlreadyExists(repo.name.to_string()).into(),
            );
        }
        let (encryption_type, kms_key) = match &input.encryption_configuration {
            None => ("AES256", None),
            Some(e) => (e.encryption_type.as_str(), e.kms_key.as_deref()),
        };
        let caller = berth_registry::Caller {
            principal: call.principal.clone(),
            facts: call.facts.clone(),
        };
        let kms_key = call
            .app
            .registry
            .repository_encryption(&caller, &call.registry, encryption_type, kms_key)
            .await?;
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
            encryption_type: encryption_type.to_string(),
            kms_key,
        };
        let record = call
            .app
            .registry
            .create_repository(&call.registry, &name, settings, &resource_tags(input.tags))
            .await?;
        Ok(RepositoryOutput {
            repository: call.repository(&record),
        })
    }
}

/// Validates a tag mutability and its exclusion filters as ECR does; the
/// filters come back as the JSON text stored with the repository.
pub(super) fn tag_mutability(
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

pub struct PutImageTagMutability;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutImageTagMutabilityInput {
    registry_id: Option<String>,
    repository_name: String,
    image_tag_mutability: String,
    image_tag_mutability_exclusion_filters: Option<Vec<Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutImageTagMutabilityOutput {
    registry_id: String,
    repository_name: String,
    image_tag_mutability: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_tag_mutability_exclusion_filters: Option<Vec<Value>>,
}

impl EcrOperation for PutImageTagMutability {
    const NAME: &'static str = "PutImageTagMutability";
    type Input = PutImageTagMutabilityInput;
    type Output = PutImageTagMutabilityOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
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
            .await?;
        Ok(PutImageTagMutabilityOutput {
            registry_id: call.registry.account_id.clone(),
            repository_name: input.repository_name,
            image_tag_mutability: mutability,
            image_tag_mutability_exclusion_filters: input.image_tag_mutability_exclusion_filters,
        })
    }
}

pub struct DescribeRepositories;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeRepositoriesInput {
    registry_id: Option<String>,
    repository_names: Option<Vec<String>>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeRepositoriesOutput {
    repositories: Vec<Repository>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl EcrOperation for DescribeRepositories {
    const NAME: &'static str = "DescribeRepositories";
    type Input = DescribeRepositoriesInput;
    type Output = DescribeRepositoriesOutput;

    /// Each repository named; without names, every repository (`*`).
    fn needs(scope: &Scope) -> Result<Needs, AwsError> {
        Ok(match &scope.repository_names {
            Some(names) => Needs::on_each(Self::NAME, names),
            None => Needs::on(Self::NAME, Some("*".to_string())),
        })
    }

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        call.check_registry_id(input.registry_id.as_deref())?;
        let reg = &call.app.registry;
        if let Some(names) = input.repository_names {
            if input.next_token.is_some() || input.max_results.is_some() {
                return Err(AwsError::invalid_parameter(
                    "repositoryNames cannot be combined with nextToken or maxResults",
                )
                .into());
            }
            batch_len(&names, "repositoryNames")?;
            let mut repositories = Vec::new();
            for n in &names {
                let r = reg.repository(&call.registry, n).await?;
                repositories.push(call.repository(&r));
            }
            return Ok(DescribeRepositoriesOutput {
                repositories,
                next_token: None,
            });
        }
        let limit = page_size(input.max_results)?;
        let after = decode_token(&input.next_token)?;
        // One more than asked tells whether another page follows.
        let rows = reg
            .describe_repositories(&call.registry, after.as_deref(), limit + 1)
            .await?;
        let (page, more) = split_page(rows, limit);
        Ok(DescribeRepositoriesOutput {
            repositories: page.iter().map(|r| call.repository(r)).collect(),
            next_token: more
                .then(|| page.last().map(|last| encode_token(&last.name)))
                .flatten(),
        })
    }
}

pub struct DeleteRepository;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRepositoryInput {
    registry_id: Option<String>,
    repository_name: String,
    #[serde(default)]
    force: bool,
}

impl EcrOperation for DeleteRepository {
    const NAME: &'static str = "DeleteRepository";
    type Input = DeleteRepositoryInput;
    type Output = RepositoryOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        call.check_registry_id(input.registry_id.as_deref())?;
        call.repository_name(&input.repository_name)?;
        let record = call
            .app
            .registry
            .delete_repository(&call.registry, &input.repository_name, input.force)
            .await?;
        Ok(RepositoryOutput {
            repository: call.repository(&record),
        })
    }
}

/// The password docker stores is `AWS:<token>`; one token serves every
/// registry of the caller's account.
pub struct GetAuthorizationToken;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetAuthorizationTokenOutput {
    authorization_data: Vec<AuthorizationData>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationData {
    authorization_token: String,
    /// Unix seconds (an integer, as berth has always answered).
    expires_at: i64,
    proxy_endpoint: String,
}

impl EcrOperation for GetAuthorizationToken {
    const NAME: &'static str = "GetAuthorizationToken";
    /// Its members (`registryIds`, deprecated) change nothing.
    type Input = IgnoredAny;
    type Output = GetAuthorizationTokenOutput;

    async fn handle(call: &Call<'_>, _: IgnoredAny) -> Result<Self::Output, Failure> {
        let (token, expires_at) = call
            .app
            .registry
            .identity()
            .issue_token(&call.principal, &call.access_key_id);
        Ok(GetAuthorizationTokenOutput {
            authorization_data: vec![AuthorizationData {
                authorization_token: B64.encode(format!("AWS:{token}")),
                expires_at,
                proxy_endpoint: format!("{}://{}", call.app.hosts.scheme, call.registry_host()),
            }],
        })
    }
}
