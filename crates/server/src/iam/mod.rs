//! The AWS Query protocol on `POST /`: the IAM API (users, access keys,
//! inline and managed policies) and STS's GetCallerIdentity, as
//! `aws iam --endpoint-url` and the SDKs call them. A request without
//! `X-Amz-Target` and with a form-encoded body comes here; the SigV4
//! credential scope's service (`iam` or `sts`) picks the API. `query` parses
//! the body, `table` finds the action (implemented in `users`, `policies`,
//! `sts`, sharing `action`), `xml` writes the answer; failures become Query
//! errors in `aws_error` (the one place).

mod action;
mod groups;
mod holder_policies;
mod policies;
mod query;
mod roles;
mod sts;
mod table;
mod users;
mod xml;

use action::Service;

use crate::aws_error::{AwsError, QueryError};
use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use berth_iam::sigv4;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use sha2::Digest as _;

/// Query bodies are small: the largest member is a policy document (6,144
/// characters, URL-encoded up to three times that).
const MAX_BODY: usize = 64 * 1024;

/// Whether a `POST /` is a Query-protocol request (no `X-Amz-Target`, a
/// form body) rather than one for the ECR JSON API.
pub fn is_query_request(headers: &HeaderMap) -> bool {
    !headers.contains_key("x-amz-target")
        && headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

pub async fn api(
    State(app): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    facts: berth_registry::RequestFacts,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    // Until the signature names the service, errors speak IAM's namespace.
    let mut service = Service::Iam;
    let (status, body) =
        match handle(&app, &method, &uri, &headers, body, facts, &mut service).await {
            Ok((action, render)) => (
                StatusCode::OK,
                xml::response(service.namespace(), &action, &request_id, render),
            ),
            Err(e) => {
                tracing::debug!(
                    code = e.code,
                    service = service.name(),
                    "IAM/STS request refused"
                );
                (e.status, xml::error(service.namespace(), &e, &request_id))
            }
        };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml"),
    );
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

async fn handle(
    app: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    facts: berth_registry::RequestFacts,
    service: &mut Service,
) -> Result<(String, xml::Render), QueryError> {
    // The scope's service picks the API; an unparsable signature is
    // reported by `identify` below (as IAM would report it).
    let claimed = sigv4::parse(&sigv4::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        headers,
        payload_sha256: "",
    })
    .map(|c| c.service);
    *service = match claimed {
        Ok(s) if s == "sts" => Service::Sts,
        Ok(s) if s != "iam" => {
            return Err(QueryError::new(
                StatusCode::BAD_REQUEST,
                "IncompleteSignature",
                format!("a request without X-Amz-Target is for the IAM or STS API; sign it for the service 'iam' or 'sts', not '{s}'"),
            ))
        }
        _ => Service::Iam,
    };
    // IAM is global: any region name in the scope is accepted (boto3 signs
    // IAM requests for us-east-1); the key, clock and signature are checked
    // as for the ECR API, and the body is read only for a known key.
    let identified = crate::signed::identify(app, method, uri, headers, service.name())
        .await
        .map_err(AwsError::into_query)?;
    let bytes = crate::aws_json::read_body(body, MAX_BODY, "InvalidParameterException")
        .await
        .map_err(AwsError::into_query)?;
    let payload_sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    let signer = identified
        .verify(method, uri, headers, &payload_sha256)
        .map_err(AwsError::into_query)?;
    let q = query::Query::parse(&bytes)?;
    if q.version != service.version() {
        return Err(action::invalid_action(&q.action, &q.version));
    }
    let mut facts = facts;
    facts.signing_key = Some(signer.claim.access_key_id.clone());
    let caller = berth_registry::Caller {
        principal: signer.principal,
        facts,
    };
    let Some(run) = table::find(*service, &q.action) else {
        return Err(action::invalid_action(&q.action, &q.version));
    };
    let render = run(app, &caller, &q).await?;
    Ok((q.action, render))
}
