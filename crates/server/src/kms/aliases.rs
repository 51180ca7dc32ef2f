//! Alias operations.

use super::members::{kms, seconds};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasTargetInput {
    alias_name: String,
    target_key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasNameInput {
    alias_name: String,
}

handler!(create_alias, AliasTargetInput, |call, input| {
    call.kms()
        .create_alias(
            &call.caller,
            &call.region,
            &input.alias_name,
            &input.target_key_id,
        )
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

handler!(update_alias, AliasTargetInput, |call, input| {
    call.kms()
        .update_alias(
            &call.caller,
            &call.region,
            &input.alias_name,
            &input.target_key_id,
        )
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

handler!(delete_alias, AliasNameInput, |call, input| {
    call.kms()
        .delete_alias(&call.caller, &call.region, &input.alias_name)
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesInput {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

handler!(list_aliases, ListAliasesInput, |call, input| {
    let page = call
        .kms()
        .list_aliases(
            &call.caller,
            &call.region,
            input.key_id.as_deref(),
            input.limit,
            input.marker.as_deref(),
        )
        .await
        .map_err(kms)?;
    let aliases: Vec<Value> = page
        .aliases
        .iter()
        .map(|a| {
            json!({
                "AliasName": a.name,
                "AliasArn": a.arn,
                "TargetKeyId": a.target_key_id,
                "CreationDate": seconds(a.created_at),
                "LastUpdatedDate": seconds(a.updated_at),
            })
        })
        .collect();
    let mut out = json!({ "Aliases": aliases, "Truncated": page.next.is_some() });
    if let Some(n) = page.next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
});
