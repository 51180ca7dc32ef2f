//! The KMS API (`TrentService`): `POST /` with `X-Amz-Target:
//! TrentService.<Operation>`, AWS JSON 1.1, SigV4 service `kms`. This
//! module authenticates and reads the request and finds its operation in
//! the table (`table`); the operations (`keys`, `aliases`, `crypto`, `grants`) parse
//! their members and call the registry's `kms()`, which authorizes each
//! against the key's policy and the caller's identity policies.

/// An operation's handler: its input parsed by `members::parse`
/// (`op_table::json_handler!`).
macro_rules! handler {
    ($($operation:tt)*) => {
        crate::op_table::json_handler!(KmsCall, super::members::parse; $($operation)*);
    };
}

mod aliases;
mod crypto;
mod grants;
mod keys;
mod members;
mod table;

pub use table::{IMPLEMENTED_OPERATIONS, OPERATIONS};

use crate::aws_error::AwsError;
use crate::AppState;
use axum::body::Body;
use axum::response::Response;
use berth_registry::{Caller, RequestFacts};
use http::{HeaderMap, Method, Uri};

pub const TARGET_PREFIX: &str = "TrentService.";
/// The largest KMS request: a 32 KB key policy, or 4 KB of plaintext and
/// 6 KB of ciphertext in base64, with room to spare.
const MAX_BODY: usize = 128 * 1024;

/// What an operation knows of its call.
pub struct KmsCall<'a> {
    pub app: &'a AppState,
    pub caller: Caller,
    /// The region the request was signed for: keys are regional.
    pub region: String,
}

impl KmsCall<'_> {
    pub fn kms(&self) -> berth_registry::kms::KmsApi<'_> {
        self.app.registry.kms()
    }
}

pub async fn api(
    app: AppState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    facts: RequestFacts,
) -> Response {
    crate::aws_json::respond(
        handle(&app, &method, &uri, &headers, body, facts).await,
        "KMS",
    )
}

/// What every KMS request shares before its operation's handler.
const API: crate::aws_json::TargetApi<table::Handler> = crate::aws_json::TargetApi {
    prefix: TARGET_PREFIX,
    name: "KMS",
    service: "kms",
    max_body: MAX_BODY,
    too_large: "ValidationException",
    unsupported: "UnsupportedOperationException",
    table: table::OPERATIONS,
};

async fn handle(
    app: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    facts: RequestFacts,
) -> Result<Response, AwsError> {
    let accepted = API.accept(app, method, uri, headers, body, facts).await?;
    let call = KmsCall {
        app,
        caller: accepted.caller,
        region: accepted.claim.region.clone(),
    };
    let output = (accepted.handler)(&call, accepted.input).await?;
    Ok(crate::aws_json::ok(
        serde_json::to_vec(&output).expect("output serializes"),
    ))
}
