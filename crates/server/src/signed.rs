//! SigV4 authentication for the ECR API (service `ecr`), the IAM and STS
//! Query APIs (`iam`, `sts`) and berth's admin API (`berth`), in two steps
//! so that no body is read for a caller who could be refused without it:
//!
//! 1. [`identify`], from the headers alone: the signature's form and scope,
//!    the headers that must be signed, no unsigned payload, the clock, and
//!    an active access key or a live session (temporary credentials: the
//!    session token is opened and its key id must be the signature's).
//! 2. [`Identified::verify`], once the body has been read within the
//!    limits the caller's step 1 earned: the signature over it.

use crate::aws_error::AwsError;
use crate::AppState;
use berth_iam::sigv4::{self, SigV4Error};
use berth_registry::{Principal, SignatureRefusal};
use http::{HeaderMap, Method, Uri};

/// Headers that change what a request means: a signature must cover them
/// when they are sent (every AWS SDK signs them). An unsigned
/// `X-Amz-Target` would let a request signed for DescribeRepositories be
/// replayed as GetRegistryPolicy.
const MUST_BE_SIGNED: &[&str] = &[
    "x-amz-target",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// A caller whose signature's form, scope, clock and key check out, before
/// its body is read.
pub struct Identified {
    pub principal: Principal,
    pub claim: sigv4::Claim,
    /// The signer's secret, to verify the body with; it goes no further.
    secret: String,
}

/// A verified signer.
pub struct Signer {
    pub principal: Principal,
    pub claim: sigv4::Claim,
}

/// Step 1. Errors are the AWS exceptions the SDKs expect (status 400; the
/// admin API picks its own statuses).
pub async fn identify(
    app: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    service: &str,
) -> Result<Identified, AwsError> {
    let req = request(method, uri, headers, "");
    let claim = sigv4::parse(&req).map_err(signature_error)?;
    // Any valid region name addresses that region's registry; the service
    // must be ours (a key's signature for another service is no use here).
    let region_ok = (2..=25).contains(&claim.region.len())
        && claim
            .region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(AwsError::client(
            "IncompleteSignatureException",
            format!("'{}' is not a region name", claim.region),
        ));
    }
    claim
        .check_scope(&claim.region, service)
        .map_err(signature_error)?;
    claim
        .require_signed(headers, MUST_BE_SIGNED)
        .map_err(signature_error)?;
    // The body must be what was signed: a signature over UNSIGNED-PAYLOAD
    // would let anyone on the path change it.
    if sigv4::payload_is_unsigned(&req) {
        return Err(AwsError::client(
            "InvalidSignatureException",
            "X-Amz-Content-SHA256 UNSIGNED-PAYLOAD is not accepted by this API: sign the SHA-256 of the request body",
        ));
    }
    sigv4::check_time(&claim, app.registry.now_secs()).map_err(signature_error)?;
    let (principal, secret) =
        app.registry
            .identity()
            .signing_key(&claim)
            .await
            .map_err(|e| match e {
                SignatureRefusal::UnknownKey => unrecognized(),
                SignatureRefusal::ExpiredToken => expired(),
                SignatureRefusal::Signature(e) => signature_error(e),
                SignatureRefusal::Registry(e) => AwsError::from_registry(e, ""),
            })?;
    Ok(Identified {
        principal,
        claim,
        secret,
    })
}

impl Identified {
    /// Step 2: the signature over the body whose SHA-256 is `payload_sha256`.
    pub fn verify(
        self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        payload_sha256: &str,
    ) -> Result<Signer, AwsError> {
        let req = request(method, uri, headers, payload_sha256);
        sigv4::verify_signature(&req, &self.claim, &self.secret).map_err(signature_error)?;
        Ok(Signer {
            principal: self.principal,
            claim: self.claim,
        })
    }
}

fn request<'a>(
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    payload_sha256: &'a str,
) -> sigv4::Request<'a> {
    sigv4::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        headers,
        payload_sha256,
    }
}

/// AWS's answer to an unknown access key or session token (the Query
/// APIs call it `InvalidClientTokenId`: `AwsError::into_query`).
fn unrecognized() -> AwsError {
    AwsError::client(
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
}

/// AWS's answer to expired temporary credentials (`ExpiredToken` on the
/// Query APIs).
fn expired() -> AwsError {
    AwsError::new(
        http::StatusCode::FORBIDDEN,
        "ExpiredTokenException",
        "The security token included in the request is expired",
    )
}

pub fn signature_error(e: SigV4Error) -> AwsError {
    let msg = e.to_string();
    match e {
        SigV4Error::Missing => AwsError::client("MissingAuthenticationTokenException", msg),
        SigV4Error::Incomplete(_) => AwsError::client("IncompleteSignatureException", msg),
        SigV4Error::Expired(_) | SigV4Error::Mismatch => {
            AwsError::client("InvalidSignatureException", msg)
        }
    }
}
