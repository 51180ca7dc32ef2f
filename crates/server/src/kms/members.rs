//! What the KMS operations share: typed inputs from the JSON (with KMS's
//! wording for a missing or malformed member), blobs in base64, times in
//! seconds, tags, and registry failures as KMS exceptions.

use crate::aws_error::AwsError;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The operation's input, or the exception botocore's model implies.
pub fn parse<T: DeserializeOwned>(input: Value) -> Result<T, AwsError> {
    serde_json::from_value(input).map_err(|e| {
        let text = e.to_string();
        match text
            .strip_prefix("missing field `")
            .and_then(|r| r.split_once('`'))
        {
            Some((member, _)) => AwsError::client(
                "ValidationException",
                format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    lower_first(member)
                ),
            ),
            None => AwsError::client("SerializationException", text),
        }
    })
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A blob member (`Plaintext`, `CiphertextBlob`): base64 on the wire.
pub fn blob(member: &str, text: &str) -> Result<Vec<u8>, AwsError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| {
            AwsError::client(
                "SerializationException",
                format!("{member} is not valid base64: {e}"),
            )
        })
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Times as KMS gives them: Unix seconds.
pub fn seconds(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

pub type Context = BTreeMap<String, String>;

/// Why custom key stores are refused (the table's rows and the members
/// that name one).
pub const CUSTOM_KEY_STORES: &str = "berth keeps key material itself: no custom key stores";

#[derive(Debug, Deserialize, Serialize)]
pub struct Tag {
    #[serde(rename = "TagKey")]
    pub key: String,
    #[serde(rename = "TagValue")]
    pub value: String,
}

pub fn tag_pairs(tags: Vec<Tag>) -> Vec<(String, String)> {
    tags.into_iter().map(|t| (t.key, t.value)).collect()
}

pub fn kms(e: berth_registry::Error) -> AwsError {
    AwsError::from_kms(e)
}
