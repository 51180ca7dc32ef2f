//! Layer uploads through the ECR API: InitiateLayerUpload, UploadLayerPart,
//! CompleteLayerUpload. They are the `/v2` upload sessions under another
//! name: the same session rows, files, hashing and commit (invariant 1), so
//! a layer uploaded either way is the same blob.

use super::call::{constraint, Call, Failure};
use super::operation::EcrOperation;
use crate::aws_error::AwsError;
use berth_oci::Digest;
use berth_registry::{ChunkRange, Error};
use serde::{Deserialize, Serialize};

/// The part size berth asks for (ECR's documented quota); parts up to the
/// model's 20 MiB are accepted, and smaller ones too (ECR refuses parts
/// under 5 MiB but the last with LayerPartTooSmallException; berth has no
/// reason to).
const PART_SIZE: u64 = 10 * 1024 * 1024;

pub struct InitiateLayerUpload;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitiateLayerUploadInput {
    registry_id: Option<String>,
    repository_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitiateLayerUploadOutput {
    upload_id: String,
    part_size: u64,
}

impl EcrOperation for InitiateLayerUpload {
    const NAME: &'static str = "InitiateLayerUpload";
    type Input = InitiateLayerUploadInput;
    type Output = InitiateLayerUploadOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let repo = call
            .existing_repo(input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let up = call
            .app
            .registry
            .start_upload(&repo, Some(&call.principal))
            .await?;
        Ok(InitiateLayerUploadOutput {
            upload_id: up.id,
            part_size: PART_SIZE,
        })
    }
}

pub struct UploadLayerPart;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadLayerPartInput {
    registry_id: Option<String>,
    repository_name: String,
    upload_id: String,
    part_first_byte: u64,
    part_last_byte: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadLayerPartOutput {
    registry_id: String,
    repository_name: String,
    upload_id: String,
    last_byte_received: u64,
}

impl EcrOperation for UploadLayerPart {
    const NAME: &'static str = "UploadLayerPart";
    /// The members besides `layerPartBlob`, which the request's reader
    /// decodes as it arrives (`Call::layer_part`).
    type Input = UploadLayerPartInput;
    type Output = UploadLayerPartOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
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
                .await?;
            return Err(invalid_part(
                status.size,
                format!(
                    "the part has {} bytes but partFirstByte {first} and partLastByte {last} describe {}",
                    part.len(),
                    claimed.map_or_else(|| "no countable range".to_string(), |n| format!("{n}")),
                ),
            )
            .into());
        }
        let body = futures_util::stream::once(async move { Ok(part) });
        let state = call
            .app
            .registry
            .append_upload(&repo, &input.upload_id, Some(range), Box::pin(body))
            .await
            .map_err(|e| match e {
                Error::RangeNotSatisfiable { size } => Failure::from(invalid_part(
                    size,
                    format!("the upload has {size} bytes; the next part must start at byte {size}, not {first}"),
                )),
                e => e.into(),
            })?;
        Ok(UploadLayerPartOutput {
            registry_id: call.registry.account_id.clone(),
            repository_name: input.repository_name,
            upload_id: input.upload_id,
            last_byte_received: state.size - 1,
        })
    }
}

pub struct CompleteLayerUpload;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteLayerUploadInput {
    registry_id: Option<String>,
    repository_name: String,
    upload_id: String,
    layer_digests: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteLayerUploadOutput {
    registry_id: String,
    repository_name: String,
    upload_id: String,
    layer_digest: Digest,
}

impl EcrOperation for CompleteLayerUpload {
    const NAME: &'static str = "CompleteLayerUpload";
    type Input = CompleteLayerUploadInput;
    type Output = CompleteLayerUploadOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let repo = call
            .existing_repo(input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let [digest] = input.layer_digests.as_slice() else {
            return Err(constraint(
                "layerDigests",
                "berth completes an upload with exactly one digest (the layer's)",
            )
            .into());
        };
        let digest: Digest = digest.parse().map_err(|e| {
            AwsError::client(
                "InvalidLayerException",
                format!("'{digest}' is not a layer digest: {e}"),
            )
        })?;
        let reg = &call.app.registry;
        let status = reg.upload_status(&repo, &input.upload_id).await?;
        if status.size == 0 {
            return Err(AwsError::client(
                "EmptyUploadException",
                format!(
                    "The upload with id '{}' in the repository with name '{}' in registry with id '{}' cannot be completed because it does not have any parts",
                    input.upload_id, input.repository_name, call.registry.account_id
                ),
            )
            .into());
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
            )
            .into());
        }
        reg.complete_upload(&repo, &input.upload_id, &digest, None, None)
            .await
            .map_err(|e| match e {
                Error::DigestInvalid(m) => Failure::from(AwsError::client(
                    "InvalidLayerException",
                    format!(
                        "the uploaded bytes do not match {digest}; the upload was discarded: {m}"
                    ),
                )),
                e => e.into(),
            })?;
        Ok(CompleteLayerUploadOutput {
            registry_id: call.registry.account_id.clone(),
            repository_name: input.repository_name,
            upload_id: input.upload_id,
            layer_digest: digest,
        })
    }
}
