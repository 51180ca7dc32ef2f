//! Public repositories (issue 24): CreateRepository, DescribeRepositories,
//! DeleteRepository, Get/PutRepositoryCatalogData. Reads are authorized as
//! their `ecr-public:` action on the repository's ARN by the caller's
//! identity policies (public repositories are readable by every account);
//! changes by the identity and repository policies, as ECR's are.

use super::PublicCall;
use crate::aws_error::AwsError;
use base64::Engine as _;
use berth_registry::{public_key, PublicCatalog, RepositoryRecord, ResourceTag};
use serde::Deserialize;
use serde_json::{json, Value};

/// The repositories a DescribeRepositories page holds by default, and at most.
const PAGE_DEFAULT: u32 = 100;
const PAGE_MAX: i64 = 1000;

/// ECR Public's ARN of a repository, as policies see it.
fn repository_arn(account: &str, name: &str) -> String {
    berth_registry::resource_arn(&public_key(account), Some(name))
}

/// The registry a request names: `registryId`, else the caller's.
fn registry_of<'a>(call: &'a PublicCall<'a>, registry_id: &'a Option<String>) -> &'a str {
    registry_id.as_deref().unwrap_or(&call.caller.account_id)
}

/// A change to a repository: the caller's identity policies and the
/// repository's policy decide, as for ECR's repositories (another
/// account's caller needs the repository policy to allow it).
pub(super) async fn authorize_change(
    call: &PublicCall<'_>,
    action: &str,
    account: &str,
    name: &str,
) -> Result<(), AwsError> {
    call.app
        .registry
        .authorize(
            &call.caller.principal,
            action,
            &public_key(account),
            Some(name),
            &call.caller.facts,
        )
        .await
        .map_err(|e| AwsError::from_registry(e, account))
}

/// A read of public repositories: the caller's identity policies decide
/// (they are public, so another account's are readable as the caller's own).
async fn authorize(
    call: &PublicCall<'_>,
    action: &str,
    account: &str,
    name: &str,
) -> Result<(), AwsError> {
    call.app
        .registry
        .authorize_public(&call.caller, action, &repository_arn(account, name))
        .await
        .map_err(|e| AwsError::from_registry(e, account))
}

/// `<public host>/<alias>` of `account`'s public registry, read once per
/// request: only called with a repository in hand, and CreateRepository
/// makes the registry before any repository, so it is there (a read:
/// naming another account's registry makes nothing for it).
async fn uri_prefix(call: &PublicCall<'_>, account: &str) -> Result<String, AwsError> {
    let registry = call
        .app
        .registry
        .existing_public_registry(account)
        .await
        .map_err(|e| AwsError::from_registry(e, account))?
        .ok_or_else(|| {
            AwsError::from_registry(
                berth_registry::Error::Unavailable(format!(
                    "account {account} has public repositories but no public registry"
                )),
                account,
            )
        })?;
    Ok(format!(
        "{}/{}",
        call.app.hosts.public_host(&call.host),
        registry.alias
    ))
}

/// Where the gallery serves a public repository's logo (ECR Public's
/// `logoUrl`).
async fn logo_url(call: &PublicCall<'_>, account: &str, name: &str) -> Result<String, AwsError> {
    let prefix = uri_prefix(call, account).await?;
    let (host, alias) = prefix.split_once('/').unwrap_or((&prefix, ""));
    Ok(format!(
        "{}://{host}/-/logo/{alias}/{name}",
        call.app.hosts.scheme
    ))
}

fn repository_json(prefix: &str, account: &str, r: &RepositoryRecord) -> Value {
    json!({
        "repositoryArn": repository_arn(account, &r.name),
        "registryId": account,
        "repositoryName": r.name,
        "repositoryUri": format!("{prefix}/{}", r.name),
        "createdAt": r.created_at as f64 / 1000.0,
    })
}

fn catalog_json(c: &PublicCatalog) -> Value {
    let mut v = serde_json::to_value(c).expect("catalog data serializes");
    v["marketplaceCertified"] = json!(false);
    v
}

/// ECR Public's `RepositoryCatalogDataInput`: the text members, and the
/// logo in base64.
// No `deny_unknown_fields`: serde does not support it beside `flatten`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CatalogInput {
    #[serde(flatten)]
    catalog: PublicCatalog,
    logo_image_blob: Option<String>,
}

impl CatalogInput {
    fn logo(&self) -> Result<Option<Vec<u8>>, AwsError> {
        self.logo_image_blob
            .as_deref()
            .map(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|_| {
                        AwsError::client(
                            "InvalidParameterException",
                            "Invalid parameter at 'catalogData.logoImageBlob': not base64",
                        )
                    })
            })
            .transpose()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateInput {
    repository_name: String,
    catalog_data: Option<CatalogInput>,
    #[serde(default)]
    tags: Vec<Tag>,
}

handler!(create_repository, CreateInput, |call, input| {
    let account = call.caller.account_id.clone();
    let name = input.repository_name;
    authorize_change(call, "ecr-public:CreateRepository", &account, &name).await?;
    let logo = match &input.catalog_data {
        Some(c) => c.logo()?,
        None => None,
    };
    let tags: Vec<ResourceTag> = input
        .tags
        .into_iter()
        .map(|t| ResourceTag {
            key: t.key,
            value: t.value,
        })
        .collect();
    let catalog = input
        .catalog_data
        .as_ref()
        .map(|c| (&c.catalog, logo.as_deref()));
    let record = call
        .app
        .registry
        .create_public_repository(&account, &name, catalog, &tags)
        .await
        .map_err(|e| AwsError::from_registry(e, &account))?;
    let prefix = uri_prefix(call, &account).await?;
    let mut out = json!({"repository": repository_json(&prefix, &account, &record)});
    if let Some(c) = &input.catalog_data {
        out["catalogData"] = catalog_json(&c.catalog);
    }
    Ok(out)
});

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DescribeInput {
    registry_id: Option<String>,
    repository_names: Option<Vec<String>>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

handler!(describe_repositories, DescribeInput, |call, input| {
    let account = registry_of(call, &input.registry_id).to_string();
    authorize(call, "ecr-public:DescribeRepositories", &account, "*").await?;
    let key = public_key(&account);
    let registry = &call.app.registry;
    let fail = |e| AwsError::from_registry(e, &account);
    let mut out = vec![];
    if let Some(names) = &input.repository_names {
        if input.next_token.is_some() || input.max_results.is_some() {
            return Err(AwsError::client(
                "InvalidParameterException",
                "repositoryNames cannot be used with maxResults or nextToken",
            ));
        }
        let mut records = Vec::with_capacity(names.len());
        for name in names {
            records.push(registry.repository(&key, name).await.map_err(fail)?);
        }
        if !records.is_empty() {
            let prefix = uri_prefix(call, &account).await?;
            out.extend(
                records
                    .iter()
                    .map(|r| repository_json(&prefix, &account, r)),
            );
        }
        return Ok(json!({"repositories": out}));
    }
    let limit = match input.max_results {
        None => PAGE_DEFAULT,
        Some(n) if (1..=PAGE_MAX).contains(&n) => n as u32,
        Some(n) => {
            return Err(AwsError::client(
                "InvalidParameterException",
                format!("1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000"),
            ))
        }
    };
    let after = match &input.next_token {
        None => None,
        Some(t) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    AwsError::client(
                        "InvalidParameterException",
                        "Invalid parameter at 'nextToken': not a token this registry gave",
                    )
                })?,
        ),
    };
    let mut page = registry
        .describe_repositories(&key, after.as_deref(), limit + 1)
        .await
        .map_err(fail)?;
    let next = (page.len() > limit as usize).then(|| {
        page.truncate(limit as usize);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&page[page.len() - 1].name)
    });
    if !page.is_empty() {
        let prefix = uri_prefix(call, &account).await?;
        out.extend(page.iter().map(|r| repository_json(&prefix, &account, r)));
    }
    let mut answer = json!({"repositories": out});
    if let Some(n) = next {
        answer["nextToken"] = json!(n);
    }
    Ok(answer)
});

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteInput {
    registry_id: Option<String>,
    repository_name: String,
    #[serde(default)]
    force: bool,
}

handler!(delete_repository, DeleteInput, |call, input| {
    let account = registry_of(call, &input.registry_id).to_string();
    let name = input.repository_name;
    authorize_change(call, "ecr-public:DeleteRepository", &account, &name).await?;
    let record = call
        .app
        .registry
        .delete_repository(&public_key(&account), &name, input.force)
        .await
        .map_err(|e| AwsError::from_registry(e, &account))?;
    let prefix = uri_prefix(call, &account).await?;
    Ok(json!({"repository": repository_json(&prefix, &account, &record)}))
});

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetCatalogInput {
    registry_id: Option<String>,
    repository_name: String,
}

handler!(
    get_repository_catalog_data,
    GetCatalogInput,
    |call, input| {
        let account = registry_of(call, &input.registry_id).to_string();
        let name = input.repository_name;
        authorize(call, "ecr-public:GetRepositoryCatalogData", &account, &name).await?;
        let (catalog, has_logo) = call
            .app
            .registry
            .public_catalog(&account, &name)
            .await
            .map_err(|e| AwsError::from_registry(e, &account))?;
        let mut data = catalog_json(&catalog);
        if has_logo {
            data["logoUrl"] = json!(logo_url(call, &account, &name).await?);
        }
        Ok(json!({"catalogData": data}))
    }
);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutCatalogInput {
    registry_id: Option<String>,
    repository_name: String,
    catalog_data: CatalogInput,
}

handler!(
    put_repository_catalog_data,
    PutCatalogInput,
    |call, input| {
        let account = registry_of(call, &input.registry_id).to_string();
        let name = input.repository_name;
        authorize_change(call, "ecr-public:PutRepositoryCatalogData", &account, &name).await?;
        let logo = input.catalog_data.logo()?;
        call.app
            .registry
            .put_public_catalog(
                &account,
                &name,
                &input.catalog_data.catalog,
                logo.as_deref(),
            )
            .await
            .map_err(|e| AwsError::from_registry(e, &account))?;
        let mut data = catalog_json(&input.catalog_data.catalog);
        if logo.as_deref().is_some_and(|l| !l.is_empty()) {
            data["logoUrl"] = json!(logo_url(call, &account, &name).await?);
        }
        Ok(json!({"catalogData": data}))
    }
);
