//! The public registry's operations: DescribeRegistries (the caller's
//! account's registry, its alias assigned at first use),
//! Get/PutRegistryCatalogData, GetAuthorizationToken. Each is authorized as an `ecr-public:`
//! action by the caller's identity policies.

use crate::aws_error::AwsError;
use base64::Engine as _;
use berth_registry::{public_registry_arn, PublicRegistryRecord};
use serde::Deserialize;
use serde_json::{json, Value};

fn fail(e: berth_registry::Error) -> AwsError {
    AwsError::from_registry(e, "")
}

fn registry_json(call: &super::PublicCall<'_>, r: &PublicRegistryRecord) -> Value {
    json!({
        "registryId": r.account_id,
        "registryArn": public_registry_arn(&r.account_id),
        "registryUri": format!("{}/{}", call.app.hosts.public_host(&call.host), r.alias),
        // No account is verified by berth (AWS verifies publishers by hand).
        "verified": false,
        "aliases": [{
            "name": r.alias,
            "status": "ACTIVE",
            "primaryRegistryAlias": true,
            "defaultRegistryAlias": true,
        }],
    })
}

fn catalog_json(r: &PublicRegistryRecord) -> Value {
    if r.display_name.is_empty() {
        json!({"registryCatalogData": {}})
    } else {
        json!({"registryCatalogData": {"displayName": r.display_name}})
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DescribeRegistriesInput {
    next_token: Option<String>,
    max_results: Option<i64>,
}

handler!(
    describe_registries,
    DescribeRegistriesInput,
    |call, input| {
        if let Some(n) = input.max_results {
            if !(1..=1000).contains(&n) {
                return Err(AwsError::client(
                "InvalidParameterException",
                format!("1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000"),
            ));
            }
        }
        // One registry per account: no answer has a next page to continue.
        if input.next_token.is_some() {
            return Err(AwsError::client(
                "InvalidParameterException",
                "Invalid parameter at 'nextToken': the token is not one this registry gave",
            ));
        }
        let registry = call.app.registry.clone();
        registry
            .authorize_public(&call.caller, "ecr-public:DescribeRegistries", "*")
            .await
            .map_err(fail)?;
        let r = registry
            .public_registry(&call.caller.account_id)
            .await
            .map_err(fail)?;
        Ok(json!({"registries": [registry_json(call, &r)]}))
    }
);

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoInput {}

handler!(get_registry_catalog_data, NoInput, |call, input| {
    let account = &call.caller.account_id;
    call.app
        .registry
        .authorize_public(
            &call.caller,
            "ecr-public:GetRegistryCatalogData",
            &public_registry_arn(account),
        )
        .await
        .map_err(fail)?;
    let r = call
        .app
        .registry
        .public_registry(account)
        .await
        .map_err(fail)?;
    Ok(catalog_json(&r))
});

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutRegistryCatalogDataInput {
    display_name: Option<String>,
}

handler!(
    put_registry_catalog_data,
    PutRegistryCatalogDataInput,
    |call, input| {
        let account = &call.caller.account_id;
        call.app
            .registry
            .authorize_public(
                &call.caller,
                "ecr-public:PutRegistryCatalogData",
                &public_registry_arn(account),
            )
            .await
            .map_err(fail)?;
        let r = match input.display_name {
            Some(name) => call
                .app
                .registry
                .set_public_display_name(account, &name)
                .await
                .map_err(fail)?,
            None => call
                .app
                .registry
                .public_registry(account)
                .await
                .map_err(fail)?,
        };
        Ok(catalog_json(&r))
    }
);

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetAuthorizationTokenInput {}

handler!(
    get_authorization_token,
    GetAuthorizationTokenInput,
    |call, input| {
        // As AWS: the token is a bearer token of STS's too.
        for action in [
            "ecr-public:GetAuthorizationToken",
            "sts:GetServiceBearerToken",
        ] {
            call.app
                .registry
                .authorize_public(&call.caller, action, "*")
                .await
                .map_err(fail)?;
        }
        let Some(key) = call.caller.facts.signing_key.as_deref() else {
            return Err(AwsError::client(
                "InvalidParameterException",
                "the request was not signed with an access key",
            ));
        };
        // The account's registry (and alias) exists from its first login on.
        call.app
            .registry
            .public_registry(&call.caller.account_id)
            .await
            .map_err(fail)?;
        let (token, expires_at) = call
            .app
            .registry
            .identity()
            .issue_token(&call.caller.principal, key);
        Ok(json!({
            "authorizationData": {
                "authorizationToken": base64::engine::general_purpose::STANDARD
                    .encode(format!("AWS:{token}")),
                "expiresAt": expires_at,
            }
        }))
    }
);
