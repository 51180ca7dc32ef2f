//! Reading an UploadLayerPart request body without holding its base64 text:
//! `{"layerPartBlob": "<up to ~28 MB of base64>", ...}` is parsed as a
//! stream (struson); the blob's characters are decoded as they arrive, so
//! the request holds at most the decoded part (≤ 20 MiB, the model's
//! limit) plus small buffers. Every byte passes through SHA-256 on the way,
//! for the SigV4 payload hash, which is checked before the part is used.

use crate::aws_error::AwsError;
use axum::body::Body;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Buf;
use bytes::Bytes;
use http_body_util::BodyExt;
use sha2::Digest as _;
use std::io::Read;
use struson::reader::{JsonReader, JsonStreamReader, ValueType};

/// The model's `LayerPartBlob` maximum, decoded.
pub const MAX_PART: usize = 20 * 1024 * 1024;
/// The base64 of a maximal part plus room for the other members.
pub const MAX_BODY: u64 = (MAX_PART as u64).div_ceil(3) * 4 + 64 * 1024;

/// What the body held: the other members as JSON, and the decoded part.
pub struct LayerPartBody {
    pub payload_sha256: String,
    pub input: serde_json::Value,
    pub part: Bytes,
}

/// The body is read into memory first (async: a client that stalls holds
/// no thread), then parsed on the blocking pool from memory. The caller
/// holds room in the large-body budget for it.
pub async fn read(body: Body) -> Result<LayerPartBody, AwsError> {
    let collected = http_body_util::Limited::new(body, MAX_BODY as usize)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                AwsError::invalid_parameter(format!("the request body exceeds {MAX_BODY} bytes"))
            } else {
                AwsError::client(
                    "SerializationException",
                    format!("reading the request body failed: {e}"),
                )
            }
        })?;
    // `aggregate` keeps the chunks as they came and drops each once read.
    let reader = collected.aggregate().reader();
    tokio::task::spawn_blocking(move || parse(reader))
        .await
        .map_err(|e| AwsError::invalid_parameter(format!("reading the request body failed: {e}")))?
}

struct Hashing<R> {
    inner: R,
    sha: sha2::Sha256,
    read: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.read += n as u64;
        if self.read > MAX_BODY {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the request body exceeds {MAX_BODY} bytes"),
            ));
        }
        Ok(n)
    }
}

fn serialization(e: impl std::fmt::Display) -> AwsError {
    AwsError::client(
        "SerializationException",
        format!("the request body is not valid JSON: {e}"),
    )
}

pub(crate) fn parse(reader: impl Read) -> Result<LayerPartBody, AwsError> {
    let mut hashing = Hashing {
        inner: reader,
        sha: sha2::Sha256::new(),
        read: 0,
    };
    let mut input = serde_json::Map::new();
    let mut part = None;
    {
        let mut json = JsonStreamReader::new(&mut hashing);
        json.begin_object().map_err(serialization)?;
        while json.has_next().map_err(serialization)? {
            let name = json.next_name_owned().map_err(serialization)?;
            if name == "layerPartBlob" {
                let text = json.next_string_reader().map_err(serialization)?;
                // botocore sends partFirstByte and partLastByte first: then the
                // part's size is known and its buffer is allocated once
                // (growing it by doubling would peak at 32 MiB for 20).
                // Counted without wrapping (`0`-`18446744073709551615`).
                let expected = match (
                    input.get("partFirstByte").and_then(|v| v.as_u64()),
                    input.get("partLastByte").and_then(|v| v.as_u64()),
                ) {
                    (Some(start), Some(end)) => berth_registry::ChunkRange { start, end }
                        .claimed_len()
                        .map_or(0, |n| n.min(MAX_PART as u64) as usize),
                    _ => 0,
                };
                let mut decoded = Vec::with_capacity(expected);
                base64::read::DecoderReader::new(text, &B64)
                    .take(MAX_PART as u64 + 1)
                    .read_to_end(&mut decoded)
                    .map_err(|e| {
                        AwsError::invalid_parameter(format!(
                            "layerPartBlob is not valid base64 (or the body is too large): {e}"
                        ))
                    })?;
                if decoded.len() > MAX_PART {
                    return Err(super::call::constraint(
                        "layerPartBlob",
                        "Member must have length less than or equal to 20971520",
                    ));
                }
                part = Some(Bytes::from(decoded));
                continue;
            }
            let value = match json.peek().map_err(serialization)? {
                ValueType::String => json.next_string().map(serde_json::Value::String),
                ValueType::Number => json
                    .next_number_as_string()
                    .map(|n| serde_json::from_str(&n).unwrap_or(serde_json::Value::String(n))),
                ValueType::Boolean => json.next_bool().map(serde_json::Value::Bool),
                ValueType::Null => json.next_null().map(|_| serde_json::Value::Null),
                // No member of the input is an array or object.
                _ => json.skip_value().map(|_| serde_json::Value::Null),
            }
            .map_err(serialization)?;
            input.insert(name, value);
        }
        json.end_object().map_err(serialization)?;
        json.consume_trailing_whitespace().map_err(serialization)?;
    }
    let part = part.ok_or_else(|| {
        AwsError::invalid_parameter("UploadLayerPart needs layerPartBlob (the part, base64)")
    })?;
    Ok(LayerPartBody {
        payload_sha256: hex::encode(hashing.sha.finalize()),
        input: serde_json::Value::Object(input),
        part,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn decodes_the_part_and_hashes_every_byte() {
        let part: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let body = format!(
            r#"{{"repositoryName": "a/b", "uploadId": "u", "partFirstByte": 0, "partLastByte": 99999, "layerPartBlob": "{}"}}"#,
            B64.encode(&part)
        );
        let got = parse(body.as_bytes()).unwrap_or_else(|e| panic!("{}", e.kind()));
        assert_eq!(got.part, part);
        assert_eq!(got.input["repositoryName"], "a/b");
        assert_eq!(got.input["partLastByte"], 99999);
        assert_eq!(
            got.payload_sha256,
            hex::encode(sha2::Sha256::digest(body.as_bytes()))
        );
    }

    /// botocore sends partFirstByte and partLastByte before the part; a
    /// range no u64 counts must not wrap (issue 17) and the part is still
    /// read, for UploadLayerPart to refuse.
    #[test]
    fn a_range_longer_than_a_u64_counts_does_not_wrap() {
        let body = format!(
            r#"{{"partFirstByte": 0, "partLastByte": {}, "layerPartBlob": "AAAA"}}"#,
            u64::MAX
        );
        let got = parse(body.as_bytes()).unwrap_or_else(|e| panic!("{}", e.kind()));
        assert_eq!(got.part.len(), 3);
        assert_eq!(got.input["partLastByte"], u64::MAX);
    }

    #[test]
    fn refuses_bad_base64_missing_parts_and_bad_json() {
        for body in [
            r#"{"layerPartBlob": "not base64!"}"#,
            r#"{"uploadId": "u"}"#,
            r#"{"layerPartBlob": "AAAA""#,
            r#"{"layerPartBlob": "AAAA"} trailing"#,
        ] {
            assert!(parse(body.as_bytes()).is_err(), "{body}");
        }
    }
}
