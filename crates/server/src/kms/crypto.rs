//! The cryptographic operations.

use super::members::{b64, blob, kms, Context};
use crate::aws_error::AwsError;
use serde::Deserialize;
use serde_json::json;

fn recipient_unsupported(r: &Option<serde_json::Value>) -> Result<(), AwsError> {
    match r {
        None => Ok(()),
        Some(_) => Err(AwsError::client(
            "UnsupportedOperationException",
            "Recipient (Nitro Enclaves attestation) is not supported by berth's KMS",
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptInput {
    key_id: String,
    plaintext: String,
    #[serde(default)]
    encryption_context: Context,
    encryption_algorithm: Option<String>,
    #[serde(default)]
    dry_run: Option<bool>,
}

handler!(encrypt, EncryptInput, |call, input| {
    let plain = blob("Plaintext", &input.plaintext)?;
    let out = call
        .kms()
        .encrypt(
            &call.caller,
            &call.region,
            &input.key_id,
            &plain,
            &input.encryption_context,
            input.encryption_algorithm.as_deref(),
            input.dry_run.unwrap_or(false),
        )
        .await
        .map_err(kms)?;
    Ok(json!({
        "CiphertextBlob": b64(&out.ciphertext),
        "KeyId": out.key_arn,
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptInput {
    ciphertext_blob: String,
    #[serde(default)]
    encryption_context: Context,
    key_id: Option<String>,
    encryption_algorithm: Option<String>,
    recipient: Option<serde_json::Value>,
    #[serde(default)]
    dry_run: Option<bool>,
}

handler!(decrypt, DecryptInput, |call, input| {
    recipient_unsupported(&input.recipient)?;
    let ciphertext = blob("CiphertextBlob", &input.ciphertext_blob)?;
    let out = call
        .kms()
        .decrypt(
            &call.caller,
            &call.region,
            &ciphertext,
            &input.encryption_context,
            input.key_id.as_deref(),
            input.encryption_algorithm.as_deref(),
            input.dry_run.unwrap_or(false),
        )
        .await
        .map_err(kms)?;
    Ok(json!({
        "KeyId": out.key_arn,
        "Plaintext": b64(&out.plaintext),
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "KeyMaterialId": out.material_id,
    }))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataKeyInput {
    key_id: String,
    #[serde(default)]
    encryption_context: Context,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
    recipient: Option<serde_json::Value>,
    #[serde(default)]
    dry_run: Option<bool>,
}

async fn data_key(
    call: &super::KmsCall<'_>,
    input: DataKeyInput,
    with_plaintext: bool,
) -> Result<serde_json::Value, AwsError> {
    recipient_unsupported(&input.recipient)?;
    let out = call
        .kms()
        .generate_data_key(
            &call.caller,
            &call.region,
            &input.key_id,
            input.key_spec.as_deref(),
            input.number_of_bytes,
            &input.encryption_context,
            with_plaintext,
            input.dry_run.unwrap_or(false),
        )
        .await
        .map_err(kms)?;
    let mut v = json!({
        "CiphertextBlob": b64(&out.ciphertext),
        "KeyId": out.key_arn,
        "KeyMaterialId": out.material_id,
    });
    if let Some(p) = out.plaintext {
        v["Plaintext"] = json!(b64(&p));
    }
    Ok(v)
}

handler!(generate_data_key, DataKeyInput, |call, input| {
    data_key(call, input, true).await
});

handler!(
    generate_data_key_without_plaintext,
    DataKeyInput,
    |call, input| { data_key(call, input, false).await }
);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptInput {
    ciphertext_blob: String,
    #[serde(default)]
    source_encryption_context: Context,
    source_key_id: Option<String>,
    destination_key_id: String,
    #[serde(default)]
    destination_encryption_context: Context,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    #[serde(default)]
    dry_run: Option<bool>,
}

handler!(re_encrypt, ReEncryptInput, |call, input| {
    let ciphertext = blob("CiphertextBlob", &input.ciphertext_blob)?;
    let out = call
        .kms()
        .re_encrypt(
            &call.caller,
            &call.region,
            &ciphertext,
            &input.source_encryption_context,
            input.source_key_id.as_deref(),
            &input.destination_key_id,
            &input.destination_encryption_context,
            [
                input.source_encryption_algorithm.as_deref(),
                input.destination_encryption_algorithm.as_deref(),
            ],
            input.dry_run.unwrap_or(false),
        )
        .await
        .map_err(kms)?;
    Ok(json!({
        "CiphertextBlob": b64(&out.ciphertext),
        "SourceKeyId": out.source_key_arn,
        "KeyId": out.key_arn,
        "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }))
});

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RandomInput {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
    recipient: Option<serde_json::Value>,
}

handler!(generate_random, RandomInput, |call, input| {
    recipient_unsupported(&input.recipient)?;
    if input.custom_key_store_id.is_some() {
        return Err(AwsError::client(
            "UnsupportedOperationException",
            super::members::CUSTOM_KEY_STORES,
        ));
    }
    let bytes = call
        .kms()
        .generate_random(&call.caller, input.number_of_bytes)
        .await
        .map_err(kms)?;
    Ok(json!({ "Plaintext": b64(&bytes) }))
});
