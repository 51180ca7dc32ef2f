//! The ECR Public API (`SpencerFrontendService`, issue 24): `POST /` with
//! `X-Amz-Target: SpencerFrontendService.<Operation>`, AWS JSON 1.1, SigV4
//! service `ecr-public`. As the KMS API: this module authenticates and
//! reads the request and finds its operation in the table (`table`);
//! `registries` answers the public registry's operations. Public
//! repositories are the next step (ARCHITECTURE.md, "Public repositories").

/// An operation's handler: its input parsed by `parse`
/// (`op_table::json_handler!`).
macro_rules! handler {
    ($($operation:tt)*) => {
        crate::op_table::json_handler!(PublicCall, super::parse; $($operation)*);
    };
}

mod images;
mod registries;
mod repositories;
mod table;

pub use table::{IMPLEMENTED_OPERATIONS, OPERATIONS};

use crate::aws_error::AwsError;
use crate::AppState;
use axum::body::Body;
use axum::response::Response;
use berth_registry::{Caller, RequestFacts};
use http::{HeaderMap, Method, Uri};

pub const TARGET_PREFIX: &str = crate::ecr::PUBLIC_TARGET_PREFIX;
/// The largest ECR Public request: a layer part of up to 10 MiB in base64
/// once layer uploads land; catalog data with a 512,000-byte logo until then.
const MAX_BODY: usize = 1024 * 1024;

/// What an operation knows of its call.
pub struct PublicCall<'a> {
    pub app: &'a AppState,
    pub caller: Caller,
    /// The Host the request came to (answers name the public host with its port).
    pub host: String,
}

/// The members of an input, as ECR Public's validation words a mismatch.
fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, AwsError> {
    serde_json::from_value(v).map_err(|e| {
        AwsError::client(
            "InvalidParameterException",
            format!("the request's members are not what this operation takes: {e}"),
        )
    })
}

pub async fn api(
    app: AppState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    facts: RequestFacts,
) -> Response {
    let op = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or("");
    if table::answered_by_ecr(op) {
        return crate::ecr::api(
            &crate::ecr::ECR_PUBLIC,
            app,
            method,
            uri,
            headers,
            body,
            facts,
        )
        .await;
    }
    crate::aws_json::respond(
        handle(&app, &method, &uri, &headers, body, facts).await,
        "ECR Public",
    )
}

/// What every ECR Public request shares before its operation's handler.
const API: crate::aws_json::TargetApi<table::Handler> = crate::aws_json::TargetApi {
    prefix: TARGET_PREFIX,
    name: "ECR Public",
    service: "ecr-public",
    max_body: MAX_BODY,
    too_large: "InvalidParameterException",
    unsupported: "UnsupportedCommandException",
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
    let call = PublicCall {
        app,
        caller: accepted.caller,
        host: headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    };
    let table::Handler::Own(handler) = accepted.handler else {
        // `api` sent ECR's operations to ECR.
        return Err(AwsError::client(
            "ServerException",
            "this operation is answered by ECR's handler",
        ));
    };
    let output = handler(&call, accepted.input).await?;
    Ok(crate::aws_json::ok(
        serde_json::to_vec(&output).expect("output serializes"),
    ))
}
