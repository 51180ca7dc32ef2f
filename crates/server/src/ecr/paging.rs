//! ECR's list conventions, shared by every operation that pages or takes a
//! batch: `maxResults` 1–1000 (default 100), an opaque `nextToken` absent on
//! the last page, batches of 1–100 ids.

use super::call::constraint;
use crate::aws_error::AwsError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

pub fn page_size(max_results: Option<i64>) -> Result<u32, AwsError> {
    match max_results {
        None => Ok(100),
        Some(n @ 1..=1000) => Ok(n as u32),
        Some(_) => Err(constraint(
            "maxResults",
            "Member must have value between 1 and 1000",
        )),
    }
}

/// The position a `nextToken` carries (what `encode_token` was given).
pub fn decode_token(t: &Option<String>) -> Result<Option<String>, AwsError> {
    t.as_ref()
        .map(|t| {
            B64.decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| AwsError::invalid_parameter("Invalid parameter at 'nextToken'"))
        })
        .transpose()
}

pub fn encode_token(position: &str) -> String {
    B64.encode(position)
}

/// Trims a page read with `limit + 1` rows to `limit`; true when the extra
/// row shows that another page follows.
pub fn split_page<T>(mut rows: Vec<T>, limit: u32) -> (Vec<T>, bool) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    (rows, more)
}

/// A batch member (`imageIds`, `layerDigests`, `repositoryNames`) holds 1 to 100 items.
pub fn batch_len<T>(items: &[T], member: &str) -> Result<(), AwsError> {
    if items.is_empty() || items.len() > 100 {
        return Err(constraint(
            member,
            "Member must have length between 1 and 100",
        ));
    }
    Ok(())
}
