//! Who is calling `/v2`, and which registry that makes the request address.
//! Credentials are what `docker login` stores after
//! `aws ecr get-login-password`: Basic `AWS:<token>`; checking one costs an
//! HMAC (`berth_iam::token`) and a cached look at the user's existence.
//! What the caller may then do is `Registry::authorize`'s business.

use crate::oci_error::OciError;
use crate::AppState;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use berth_iam::token::TokenError;
use berth_registry::RegistryKey;
use berth_registry::{AnonymousAccess, Principal, SignatureRefusal, TokenRefusal};
use http::{header, HeaderMap, StatusCode, Uri};

/// Who calls `/v2` and which registry the request addresses.
pub struct Caller {
    pub registry: RegistryKey,
    /// The authenticated user, or the anonymous principal (only with
    /// `--allow-anonymous`); either way `Registry::authorize` decides.
    pub principal: Principal,
}

/// The caller of a `/v2` request, once its credentials check out.
/// `presigned_ok`: the request may instead carry a SigV4 query signature
/// (a GetDownloadUrlForLayer URL; only blob GETs and HEADs).
pub async fn caller(
    app: &AppState,
    method: &http::Method,
    version: http::Version,
    uri: &Uri,
    headers: &HeaderMap,
    presigned_ok: bool,
) -> Result<Caller, OciError> {
    if presigned_ok && uri.query().is_some_and(|q| q.contains("X-Amz-Signature=")) {
        return presigned(app, method, version, uri, headers).await;
    }
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        if app.registry.identity().anonymous_access() != AnonymousAccess::Off {
            // Anonymous callers belong to no account: they are pinned to
            // the default registry whatever the Host names, and the
            // anonymous grant and resource policies decide per request.
            return Ok(Caller {
                registry: app.hosts.default_registry(),
                principal: Principal::anonymous(),
            });
        }
        return Err(challenge(headers, "authentication required: docker login with the password from `aws ecr get-login-password`"));
    };
    let password = value
        .to_str()
        .ok()
        .and_then(basic_aws_password)
        .ok_or_else(|| {
            challenge(
                headers,
                "credentials must be Basic with user AWS and a token from GetAuthorizationToken",
            )
        })?;
    let principal = app
        .registry
        .identity()
        .verify_token(&password)
        .await
        .map_err(|e| match e {
            TokenRefusal::Token(e @ TokenError::Expired) => {
                OciError::new(StatusCode::FORBIDDEN, "DENIED", e.to_string())
            }
            TokenRefusal::Token(TokenError::Invalid) => challenge(
                headers,
                "the authorization token is not valid; log in again",
            ),
            TokenRefusal::Unavailable(e) => credentials_unavailable(&e),
        })?;
    // Another account's host name is a cross-account request: that
    // account's policies and the caller's decide, per request.
    let registry = app
        .hosts
        .account_registry(version, uri, headers)
        .unwrap_or_else(|| RegistryKey {
            account_id: principal.account_id.clone(),
            region: app.hosts.default_region.clone(),
        });
    Ok(Caller {
        registry,
        principal,
    })
}

/// The password of a `Basic` Authorization value for user `AWS`, as
/// `docker login` stores what GetAuthorizationToken gave.
pub(crate) fn basic_aws_password(value: &str) -> Option<String> {
    let decoded = B64.decode(basic_credentials(value)?.trim()).ok()?;
    String::from_utf8(decoded)
        .ok()?
        .strip_prefix("AWS:")
        .map(str::to_string)
}

/// 503 when a login token's access key cannot be checked (the store
/// fails): refused, since failing open would let a deleted user's token in.
pub(crate) fn credentials_unavailable(e: &dyn std::fmt::Display) -> OciError {
    tracing::warn!(error = %e, "could not check a login token's access key; refusing it");
    OciError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "UNAVAILABLE",
        "the registry cannot check credentials right now; retry shortly",
    )
}

/// The credentials of a `Basic` Authorization value; the scheme name is
/// case-insensitive (RFC 9110 §11.1), so `BASIC` and `basic` are `Basic`.
fn basic_credentials(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("basic").then_some(rest)
}

/// A presigned blob URL: signed by berth on behalf of an access key of the
/// account (GetDownloadUrlForLayer), for this path, unexpired. Whoever holds
/// the URL reads that one blob.
async fn presigned(
    app: &AppState,
    method: &http::Method,
    version: http::Version,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Caller, OciError> {
    use berth_iam::sigv4;
    let denied = |m: String| OciError::new(StatusCode::FORBIDDEN, "DENIED", m);
    // A HEAD checks the URL a GET would use.
    let signed_method = if method == http::Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let req = sigv4::Request {
        method: signed_method,
        path: uri.path(),
        query: uri.query(),
        headers,
        payload_sha256: sigv4::EMPTY_SHA256,
    };
    let claim = sigv4::parse(&req).map_err(|e| denied(e.to_string()))?;
    if claim.service != "ecr" {
        return Err(denied("the URL is not signed for ECR".into()));
    }
    let principal = app
        .registry
        .identity()
        .check_download_url(&req, &claim)
        .await
        .map_err(|e| match e {
            SignatureRefusal::UnknownKey => {
                denied("the URL's access key or security token is not valid".into())
            }
            SignatureRefusal::ExpiredToken => denied("the URL's security token is expired".into()),
            SignatureRefusal::Signature(e) => denied(e.to_string()),
            SignatureRefusal::Registry(e) => OciError::from(e),
        })?;
    // The URL's host names the registry (GetDownloadUrlForLayer signs one
    // for the registry the call addressed, which may be another account's).
    let registry = app
        .hosts
        .account_registry(version, uri, headers)
        .unwrap_or(RegistryKey {
            account_id: principal.account_id.clone(),
            region: claim.region,
        });
    Ok(Caller {
        registry,
        principal,
    })
}

/// 401 with the challenge ECR sends, so that docker retries with credentials.
fn challenge(headers: &HeaderMap, message: &str) -> OciError {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    OciError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message).header(
        "www-authenticate",
        format!("Basic realm=\"https://{host}/\",service=\"ecr.amazonaws.com\""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_basic_scheme_name_is_case_insensitive() {
        for v in [
            "Basic QVdTOng=",
            "basic QVdTOng=",
            "BASIC QVdTOng=",
            "bAsIc QVdTOng=",
        ] {
            assert_eq!(basic_credentials(v), Some("QVdTOng="), "{v}");
        }
        assert_eq!(basic_credentials("Bearer QVdTOng="), None);
        assert_eq!(basic_credentials("BasicQVdTOng="), None);
    }
}
