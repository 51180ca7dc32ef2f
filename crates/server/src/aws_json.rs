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

/// A table-driven JSON 1.1 API (KMS's `TrentService`, ECR Public's
/// `SpencerFrontendService`): what its requests share before the
/// operation's own handler runs.
pub struct TargetApi<H: 'static> {
    /// `X-Amz-Target`'s prefix, with its dot.
    pub prefix: &'static str,
    /// The API as messages name it.
    pub name: &'static str,
    /// The SigV4 service the signature must be scoped to.
    pub service: &'static str,
    pub max_body: usize,
    /// The error a too-large body gets, and the one an operation of the
    /// model that berth does not answer gets.
    pub too_large: &'static str,
    pub unsupported: &'static str,
    pub table: &'static [crate::op_table::Entry<H>],
}

/// A request of a `TargetApi` that passed every shared check.
pub struct TargetCall<H> {
    pub handler: H,
    pub caller: berth_registry::Caller,
    pub claim: berth_iam::sigv4::Claim,
    pub input: serde_json::Value,
}

impl<H: Copy> TargetApi<H> {
    /// The operation's handler, the signer as the caller (with the request's
    /// facts and signing key), and the input: the operation is found from
    /// the target, the caller is refused from the headers before any of the
    /// body is read, and the body is bounded.
    pub async fn accept(
        &self,
        app: &crate::AppState,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        body: axum::body::Body,
        facts: berth_registry::RequestFacts,
    ) -> Result<TargetCall<H>, AwsError> {
        use sha2::Digest as _;
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let op = target.strip_prefix(self.prefix).unwrap_or("");
        let Some(entry) = crate::op_table::find(self.table, op) else {
            return Err(AwsError::client(
                "UnknownOperationException",
                format!("'{target}' is not an operation of the {} API", self.name),
            ));
        };
        let Some(handler) = entry.handler else {
            return Err(AwsError::client(
                self.unsupported,
                format!(
                    "berth's {} does not answer {op}: {}",
                    self.name, entry.why_not
                ),
            ));
        };
        let identified = crate::signed::identify(app, method, uri, headers, self.service).await?;
        let bytes = read_body(body, self.max_body, self.too_large).await?;
        let payload = hex::encode(sha2::Sha256::digest(&bytes));
        let signer = identified.verify(method, uri, headers, &payload)?;
        let input = input(&bytes)?;
        Ok(TargetCall {
            handler,
            caller: berth_registry::Caller {
                principal: signer.principal,
                facts: berth_registry::RequestFacts {
                    signing_key: Some(signer.claim.access_key_id.clone()),
                    ..facts
                },
            },
            claim: signer.claim,
            input,
        })
    }
}
