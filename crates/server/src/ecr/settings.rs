//! Registry and repository settings: GetAccountSetting, PutAccountSetting,
//! PutImageScanningConfiguration.

use super::ops::parse;
use super::Call;
use crate::aws_error::AwsError;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetAccountSettingInput {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutAccountSettingInput {
    name: String,
    value: String,
}

pub async fn get_account_setting(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: GetAccountSettingInput = parse(input)?;
    let value = call
        .app
        .registry
        .account_setting(&call.registry, &input.name)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({ "name": input.name, "value": value }))
}

pub async fn put_account_setting(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: PutAccountSettingInput = parse(input)?;
    call.app
        .registry
        .put_account_setting(&call.registry, &input.name, &input.value)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({ "name": input.name, "value": input.value }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutImageScanningConfigurationInput {
    registry_id: Option<String>,
    repository_name: String,
    image_scanning_configuration: super::ops::ScanningConfiguration,
}

/// Stored and reported; scanning itself comes with the scanner.
pub async fn put_image_scanning_configuration(
    call: &Call<'_>,
    input: Value,
) -> Result<Value, AwsError> {
    let input: PutImageScanningConfigurationInput = parse(input)?;
    call.check_registry_id(input.registry_id.as_deref())?;
    call.repository_name(&input.repository_name)?;
    let on = input.image_scanning_configuration.scan_on_push;
    call.app
        .registry
        .set_scan_on_push(&call.registry, &input.repository_name, on)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({
        "registryId": call.registry.account_id,
        "repositoryName": input.repository_name,
        "imageScanningConfiguration": { "scanOnPush": on },
    }))
}
