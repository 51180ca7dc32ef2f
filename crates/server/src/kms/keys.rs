//! Key management operations: each parses its members and asks the
//! registry's `kms()`, which authorizes and applies KMS's rules.

use super::members::{kms, seconds, tag_pairs, Tag};
use berth_registry::kms::{KeyMetadata, NewKey};
use serde::Deserialize;
use serde_json::{json, Value};

fn metadata(m: &KeyMetadata) -> Value {
    let mut v = json!({
        "AWSAccountId": m.account_id,
        "KeyId": m.key_id,
        "Arn": m.arn,
        "CreationDate": seconds(m.created_at),
        "Enabled": m.enabled(),
        "Description": m.description,
        "KeyUsage": m.key_usage,
        "KeyState": m.key_state,
        "Origin": m.origin,
        "KeyManager": m.key_manager,
        "CustomerMasterKeySpec": m.key_spec,
        "KeySpec": m.key_spec,
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": false,
    });
    if let Some(d) = m.deletion_date {
        v["DeletionDate"] = json!(seconds(d));
    }
    if let Some(id) = &m.current_material_id {
        v["CurrentKeyMaterialId"] = json!(id);
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdInput {
    key_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyInput {
    policy: Option<String>,
    description: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    origin: Option<String>,
    custom_key_store_id: Option<String>,
    #[serde(default)]
    bypass_policy_lockout_safety_check: bool,
    #[serde(default)]
    tags: Vec<Tag>,
    multi_region: Option<bool>,
}

handler!(create_key, CreateKeyInput, |call, input| {
    if input.custom_key_store_id.is_some() {
        return Err(crate::aws_error::AwsError::client(
            "UnsupportedOperationException",
            super::members::CUSTOM_KEY_STORES,
        ));
    }
    let m = call
        .kms()
        .create_key(
            &call.caller,
            &call.region,
            NewKey {
                policy: input.policy,
                description: input.description,
                key_usage: input.key_usage,
                key_spec: input.key_spec.or(input.customer_master_key_spec),
                origin: input.origin,
                multi_region: input.multi_region.unwrap_or(false),
                bypass_policy_lockout_safety_check: input.bypass_policy_lockout_safety_check,
                tags: tag_pairs(input.tags),
            },
        )
        .await
        .map_err(kms)?;
    Ok(json!({ "KeyMetadata": metadata(&m) }))
});

handler!(describe_key, KeyIdInput, |call, input| {
    let m = call
        .kms()
        .describe_key(&call.caller, &call.region, &input.key_id)
        .await
        .map_err(kms)?;
    Ok(json!({ "KeyMetadata": metadata(&m) }))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PageInput {
    limit: Option<i64>,
    marker: Option<String>,
}

handler!(list_keys, PageInput, |call, input| {
    let page = call
        .kms()
        .list_keys(
            &call.caller,
            &call.region,
            input.limit,
            input.marker.as_deref(),
        )
        .await
        .map_err(kms)?;
    let keys: Vec<Value> = page
        .keys
        .iter()
        .map(|k| json!({ "KeyId": k.key_id, "KeyArn": k.arn }))
        .collect();
    let mut out = json!({ "Keys": keys, "Truncated": page.next.is_some() });
    if let Some(n) = page.next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
});

handler!(enable_key, KeyIdInput, |call, input| {
    call.kms()
        .set_enabled(&call.caller, &call.region, &input.key_id, true)
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

handler!(disable_key, KeyIdInput, |call, input| {
    call.kms()
        .set_enabled(&call.caller, &call.region, &input.key_id, false)
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleInput {
    key_id: String,
    pending_window_in_days: Option<i64>,
}

handler!(schedule_key_deletion, ScheduleInput, |call, input| {
    let (m, days) = call
        .kms()
        .schedule_deletion(
            &call.caller,
            &call.region,
            &input.key_id,
            input.pending_window_in_days,
        )
        .await
        .map_err(kms)?;
    Ok(json!({
        "KeyId": m.arn,
        "DeletionDate": m.deletion_date.map(seconds),
        "KeyState": m.key_state,
        "PendingWindowInDays": days,
    }))
});

handler!(cancel_key_deletion, KeyIdInput, |call, input| {
    let arn = call
        .kms()
        .cancel_deletion(&call.caller, &call.region, &input.key_id)
        .await
        .map_err(kms)?;
    Ok(json!({ "KeyId": arn }))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnableRotationInput {
    key_id: String,
    rotation_period_in_days: Option<i64>,
}

handler!(enable_key_rotation, EnableRotationInput, |call, input| {
    call.kms()
        .set_rotation(
            &call.caller,
            &call.region,
            &input.key_id,
            true,
            input.rotation_period_in_days,
        )
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

handler!(disable_key_rotation, KeyIdInput, |call, input| {
    call.kms()
        .set_rotation(&call.caller, &call.region, &input.key_id, false, None)
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

handler!(get_key_rotation_status, KeyIdInput, |call, input| {
    let (id, s) = call
        .kms()
        .rotation_status(&call.caller, &call.region, &input.key_id)
        .await
        .map_err(kms)?;
    let mut out = json!({ "KeyRotationEnabled": s.enabled, "KeyId": id });
    if let Some(p) = s.period_days {
        out["RotationPeriodInDays"] = json!(p);
    }
    if let Some(t) = s.next_rotation_at {
        out["NextRotationDate"] = json!(seconds(t));
    }
    if let Some(t) = s.on_demand_started_at {
        out["OnDemandRotationStartDate"] = json!(seconds(t));
    }
    Ok(out)
});

handler!(rotate_key_on_demand, KeyIdInput, |call, input| {
    let id = call
        .kms()
        .rotate_now(&call.caller, &call.region, &input.key_id)
        .await
        .map_err(kms)?;
    Ok(json!({ "KeyId": id }))
});

handler!(list_key_rotations, KeyIdInput, |call, input| {
    let (id, rotations) = call
        .kms()
        .list_rotations(&call.caller, &call.region, &input.key_id)
        .await
        .map_err(kms)?;
    let rotations: Vec<Value> = rotations
        .iter()
        .map(|r| {
            json!({
                "KeyId": id,
                "KeyMaterialId": r.material_id,
                "RotationDate": seconds(r.rotated_at),
                "RotationType": r.kind,
            })
        })
        .collect();
    Ok(json!({ "Rotations": rotations, "Truncated": false }))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPolicyInput {
    key_id: String,
    policy_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutPolicyInput {
    key_id: String,
    policy_name: Option<String>,
    policy: String,
    #[serde(default)]
    bypass_policy_lockout_safety_check: bool,
}

handler!(get_key_policy, GetPolicyInput, |call, input| {
    let policy = call
        .kms()
        .get_key_policy(
            &call.caller,
            &call.region,
            &input.key_id,
            input.policy_name.as_deref(),
        )
        .await
        .map_err(kms)?;
    Ok(json!({ "Policy": policy, "PolicyName": "default" }))
});

handler!(put_key_policy, PutPolicyInput, |call, input| {
    call.kms()
        .put_key_policy(
            &call.caller,
            &call.region,
            &input.key_id,
            input.policy_name.as_deref(),
            &input.policy,
            input.bypass_policy_lockout_safety_check,
        )
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

handler!(list_key_policies, KeyIdInput, |call, input| {
    let names = call
        .kms()
        .list_key_policies(&call.caller, &call.region, &input.key_id)
        .await
        .map_err(kms)?;
    Ok(json!({ "PolicyNames": names, "Truncated": false }))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescriptionInput {
    key_id: String,
    description: String,
}

handler!(update_key_description, DescriptionInput, |call, input| {
    call.kms()
        .update_description(
            &call.caller,
            &call.region,
            &input.key_id,
            &input.description,
        )
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    key_id: String,
    tags: Vec<Tag>,
}

handler!(tag_resource, TagInput, |call, input| {
    call.kms()
        .tag_key(
            &call.caller,
            &call.region,
            &input.key_id,
            &tag_pairs(input.tags),
        )
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagInput {
    key_id: String,
    tag_keys: Vec<String>,
}

handler!(untag_resource, UntagInput, |call, input| {
    call.kms()
        .untag_key(&call.caller, &call.region, &input.key_id, &input.tag_keys)
        .await
        .map_err(kms)?;
    Ok(json!({}))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
    key_id: String,
    limit: Option<i64>,
    marker: Option<String>,
}

handler!(list_resource_tags, ListTagsInput, |call, input| {
    let (tags, next) = call
        .kms()
        .list_tags(
            &call.caller,
            &call.region,
            &input.key_id,
            input.limit,
            input.marker.as_deref(),
        )
        .await
        .map_err(kms)?;
    let tags: Vec<Tag> = tags
        .into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect();
    let mut out = json!({ "Tags": tags, "Truncated": next.is_some() });
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(out)
});
