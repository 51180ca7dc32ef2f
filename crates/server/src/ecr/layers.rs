//! Layer uploads through the ECR API: InitiateLayerUpload, UploadLayerPart,
//! CompleteLayerUpload. They are the `/v2` upload sessions under another
//! name: the same session rows, files, hashing and commit (invariant 1), so
//! a layer uploaded either way is the same blob.

use super::ops::{constraint, parse};
use super::Call;
use crate::aws_error::AwsError;
use berth_oci::Digest;
use berth_registry::{ChunkRange, Error};
use serde::Deserialize;
use serde_json::{json, Value};

/// The part size berth asks for (ECR's documented quota); parts up to the
/// model's 20 MiB are accepted, and smaller ones too (ECR refuses parts
/// under 5 MiB but the last with LayerPartTooSmallException; berth has no
/// reason to).
const PART_SIZE: u64 = 10 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitiateLayerUploadInput {
    registry_id: Option<String>,
    repository_name: String,
}

pub async fn initiate_layer_upload(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: InitiateLayerUploadInput = parse(input)?;
    let repo = call
        .existing_repo(input.registry_id.as_deref(), &input.repository_name)
        .await?;
    let up = call
        .app
        .registry
        .start_upload(&repo, Some(&call.principal))
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({ "uploadId": up.id, "partSize": PART_SIZE }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadLayerPartInput {
    registry_id: Option<String>,
    repository_name: String,
    upload_id: String,
    part_first_byte: u64,
    part_last_byte: u64,
}

pub async fn upload_layer_part(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: UploadLayerPartInput = parse(input)?;
    let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
    let part = call.layer_part.clone().unwrap_or_default();
    let invalid_part = |received: u64, message: String| {
        AwsError::client("InvalidLayerPartException", message)
            .with_field("registryId", call.registry.account_id.as_str())
            .with_field("repositoryName", input.repository_name.as_str())
            .with_field("uploadId", input.upload_id.as_str())
            .with_field("lastValidByteReceived", received.saturating_sub(1))
    };
    let (first, last) = (input.part_first_byte, input.part_last_byte);
    let range = ChunkRange {
        start: first,
        end: last,
    };
    // Checked arithmetic: `0`–`18446744073709551615` claims more than a u64 counts.
    let claimed = range.claimed_len();
    if part.is_empty() || claimed != Some(part.len() as u64) {
        let status = call
            .app
            .registry
            .upload_status(&repo, &input.upload_id)
            .await
            .map_err(|e| call.registry_error(e))?;
        return Err(invalid_part(
            status.size,
            format!(
                "the part has {} bytes but partFirstByte {first} and partLastByte {last} describe {}",
                part.len(),
                claimed.map_or_else(|| "no countable range".to_string(), |n| format!("{n}")),
            ),
        ));
    }
    let body = futures_util::stream::once(async move { Ok(part) });
    let state = call
        .app
        .registry
        .append_upload(
            &repo,
            &input.upload_id,
            Some(range),
            Box::pin(body),
        )
        .await
        .map_err(|e| match e {
            Error::RangeNotSatisfiable { size } => invalid_part(
                size,
                format!("the upload has {size} bytes; the next part must start at byte {size}, not {first}"),
            ),
            e => call.registry_error(e),
        })?;
    Ok(json!({
        "registryId": call.registry.account_id,
        "repositoryName": input.repository_name,
        "uploadId": input.upload_id,
        "lastByteReceived": state.size - 1,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompleteLayerUploadInput {
    registry_id: Option<String>,
    repository_name: String,
    upload_id: String,
    layer_digests: Vec<String>,
}

pub async fn complete_layer_upload(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: CompleteLayerUploadInput = parse(input)?;
    let repo = call
        .existing_repo(input.registry_id.as_deref(), &input.repository_name)
        .await?;
    let [digest] = input.layer_digests.as_slice() else {
        return Err(constraint(
            "layerDigests",
            "berth completes an upload with exactly one digest (the layer's)",
        ));
    };
    let digest: Digest = digest.parse().map_err(|e| {
        AwsError::client(
            "InvalidLayerException",
            format!("'{digest}' is not a layer digest: {e}"),
        )
    })?;
    let reg = &call.app.registry;
    let status = reg
        .upload_status(&repo, &input.upload_id)
        .await
        .map_err(|e| call.registry_error(e))?;
    if status.size == 0 {
        return Err(AwsError::client(
            "EmptyUploadException",
            format!(
                "The upload with id '{}' in the repository with name '{}' in registry with id '{}' cannot be completed because it does not have any parts",
                input.upload_id, input.repository_name, call.registry.account_id
            ),
        ));
    }
    if reg.stat_blob(&repo, &digest).await.is_ok() {
        // ECR refuses to complete an upload of a layer the repository has;
        // the session is of no further use.
        let _ = reg.cancel_upload(&repo, &input.upload_id).await;
        return Err(AwsError::client(
            "LayerAlreadyExistsException",
            format!(
                "The layer '{digest}' already exists in the repository with name '{}' in registry with id '{}'",
                input.repository_name, call.registry.account_id
            ),
        ));
    }
    reg.complete_upload(&repo, &input.upload_id, &digest, None, None)
        .await
        .map_err(|e| match e {
            Error::DigestInvalid(m) => AwsError::client(
                "InvalidLayerException",
                format!("the uploaded bytes do not match {digest}; the upload was discarded: {m}"),
            ),
            e => call.registry_error(e),
        })?;
    Ok(json!({
        "registryId": call.registry.account_id,
        "repositoryName": input.repository_name,
        "uploadId": input.upload_id,
        "layerDigest": digest,
    }))
}
