//! What the AWS APIs share on the wire: a bounded request body read with
//! their wording (ECR, KMS, IAM, the admin API), and for the JSON 1.1 ones
//! (ECR, KMS) the request's JSON and the answer with its content type and
//! request id.

use crate::aws_error::AwsError;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;

/// A whole request body of at most `limit` bytes, its refusals worded for
/// the AWS APIs: too large as `too_large` (ECR's and the admin API's
/// `InvalidParameterException`, KMS's `ValidationException`), unreadable as
/// `SerializationException`.
pub async fn read_body(
    body: axum::body::Body,
    limit: usize,
    too_large: &'static str,
) -> Result<bytes::Bytes, AwsError> {
    crate::body::read_limited(body, limit)
        .await
        .map_err(|e| match e {
            crate::body::ReadError::TooLarge(_) => {
                AwsError::client(too_large, format!("the request body exceeds {limit} bytes"))
            }
            crate::body::ReadError::Unreadable(e) => AwsError::client(
                "SerializationException",
                format!("reading the request body failed: {e}"),
            ),
        })
}

/// A request body's JSON (an empty body is `{}`, as the SDKs send for
/// operations without members).
pub fn input(bytes: &[u8]) -> Result<serde_json::Value, AwsError> {
    if bytes.is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        AwsError::client(
            "SerializationException",
            format!("the request body is not valid JSON: {e}"),
        )
    })
}

/// An operation's output, as JSON 1.1.
pub fn ok(body: Vec<u8>) -> Response {
    let mut resp = (http::StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    resp
}

/// A JSON API's answer (ECR, KMS): the response, or the error as AWS
/// JSON; either way with a fresh `x-amzn-requestid`, as the SDKs log it.
pub fn respond(result: Result<Response, AwsError>, api: &'static str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = e.kind(), api, "AWS API request refused");
            e.into_response()
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}
