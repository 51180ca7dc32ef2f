//! SigV4 authentication of a request whose body has been read: the ECR API
//! (service `ecr`) and berth's admin API (service `berth`) both come here,
//! so that both check signatures, time and scope the same way.

use crate::aws_error::AwsError;
use crate::AppState;
use berth_iam::sigv4::{self, SigV4Error};
use berth_registry::{Principal, SignatureRefusal};

/// A verified signer.
pub struct Signer {
    pub principal: Principal,
    pub claim: sigv4::Claim,
    /// The signer's secret (presigning URLs for the signer needs it).
    pub secret: String,
}

/// Parses the signature, checks the scope (`service`, any valid region
/// name), looks the key up and verifies the signature against the registry
/// clock. Errors are the AWS exceptions the SDKs expect (status 400; the
/// admin API picks its own statuses).
pub async fn authenticate(
    app: &AppState,
    req: &sigv4::Request<'_>,
    service: &str,
) -> Result<Signer, AwsError> {
    let claim = sigv4::parse(req).map_err(signature_error)?;
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
    let (principal, secret) =
        app.registry
            .check_signature(req, &claim)
            .await
            .map_err(|e| match e {
                SignatureRefusal::UnknownKey => AwsError::client(
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                ),
                SignatureRefusal::Signature(e) => signature_error(e),
                SignatureRefusal::Registry(e) => AwsError::from_registry(e, ""),
            })?;
    Ok(Signer {
        principal,
        claim,
        secret,
    })
}

fn signature_error(e: SigV4Error) -> AwsError {
    let msg = e.to_string();
    match e {
        SigV4Error::Missing => AwsError::client("MissingAuthenticationTokenException", msg),
        SigV4Error::Incomplete(_) => AwsError::client("IncompleteSignatureException", msg),
        SigV4Error::Expired(_) | SigV4Error::Mismatch => {
            AwsError::client("InvalidSignatureException", msg)
        }
    }
}
