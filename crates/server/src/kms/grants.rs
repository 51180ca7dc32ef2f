//! Grant operations: CreateGrant, ListGrants, ListRetirableGrants,
//! RetireGrant, RevokeGrant.

use super::members::{kms, seconds};
use berth_registry::kms::{GrantConstraints, GrantPage, GrantQuery, NewGrant, RetireBy};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGrantInput {
    key_id: String,
    grantee_principal: String,
    operations: Vec<String>,
    retiring_principal: Option<String>,
    constraints: Option<GrantConstraints>,
    // GrantTokens is accepted (serde passes over it, as every KMS handler
    // does) and not needed: a grant works from the moment it is made.
    name: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

handler!(create_grant, CreateGrantInput, |call, input| {
    let made = call
        .kms()
        .create_grant(
            &call.caller,
            &call.region,
            NewGrant {
                key_id: input.key_id,
                grantee_principal: input.grantee_principal,
                operations: input.operations,
                retiring_principal: input.retiring_principal,
                constraints: input.constraints,
                name: input.name,
                dry_run: input.dry_run,
            },
        )
        .await
        .map_err(kms)?;
    Ok(json!({ "GrantId": made.grant_id, "GrantToken": made.grant_token }))
});

fn grant_page(page: GrantPage) -> Value {
    let grants: Vec<Value> = page
        .grants
        .iter()
        .map(|g| {
            let mut v = json!({
                "KeyId": g.key_arn,
                "GrantId": g.grant_id,
                "CreationDate": seconds(g.created_at),
                "GranteePrincipal": g.grantee_principal,
                "IssuingAccount": g.issuing_account,
                "Operations": g.operations,
            });
            if let Some(n) = &g.name {
                v["Name"] = json!(n);
            }
            if let Some(r) = &g.retiring_principal {
                v["RetiringPrincipal"] = json!(r);
            }
            if let Some(c) = &g.constraints {
                v["Constraints"] = json!(c);
            }
            v
        })
        .collect();
    let mut out = json!({ "Grants": grants, "Truncated": page.next.is_some() });
    if let Some(n) = page.next {
        out["NextMarker"] = json!(n);
    }
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGrantsInput {
    key_id: String,
    grant_id: Option<String>,
    grantee_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

handler!(list_grants, ListGrantsInput, |call, input| {
    let page = call
        .kms()
        .list_grants(
            &call.caller,
            &call.region,
            GrantQuery {
                key_id: &input.key_id,
                grant_id: input.grant_id.as_deref(),
                grantee: input.grantee_principal.as_deref(),
                limit: input.limit,
                marker: input.marker.as_deref(),
            },
        )
        .await
        .map_err(kms)?;
    Ok(grant_page(page))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRetirableInput {
    retiring_principal: String,
    limit: Option<i64>,
    marker: Option<String>,
}

handler!(list_retirable_grants, ListRetirableInput, |call, input| {
    let page = call
        .kms()
        .list_retirable_grants(
            &call.caller,
            &call.region,
            &input.retiring_principal,
            input.limit,
            input.marker.as_deref(),
        )
        .await
        .map_err(kms)?;
    Ok(grant_page(page))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetireGrantInput {
    grant_token: Option<String>,
    key_id: Option<String>,
    grant_id: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

handler!(retire_grant, RetireGrantInput, |call, input| {
    call.kms()
        .retire_grant(
            &call.caller,
            &call.region,
            RetireBy {
                grant_token: input.grant_token,
                key_id: input.key_id,
                grant_id: input.grant_id,
                dry_run: input.dry_run,
            },
        )
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RevokeGrantInput {
    key_id: String,
    grant_id: String,
    #[serde(default)]
    dry_run: bool,
}

handler!(revoke_grant, RevokeGrantInput, |call, input| {
    call.kms()
        .revoke_grant(
            &call.caller,
            &call.region,
            &input.key_id,
            &input.grant_id,
            input.dry_run,
        )
        .await
        .map_err(kms)?;
    Ok(json!({}))
});
