//! AWS Signature Version 4, checked on the server side.
//!
//! The ECR API clients (AWS CLI, boto3, the other SDKs) authenticate every
//! request with SigV4, and registry features such as layer download URLs
//! use the query-string ("presigned") form. Verification is split in two
//! because the secret is not known until the access key id has been read
//! out of the request: [`parse`] says who claims to have signed, the caller
//! looks up that key, and [`verify`] recomputes the signature.
//!
//! Canonicalisation follows what botocore's `SigV4Auth` does for non-S3
//! services (ECR among them), since that is the signer berth must agree
//! with byte for byte; where botocore and the published rules differ in
//! corner cases that no SDK produces, the published rules win (see
//! [`canonical_query`]).

use hmac::{Hmac, KeyInit as _, Mac};
use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm accepted; SigV4a (ECDSA) is not supported.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Literal payload hash a client uses when it chose not to hash the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// SHA-256 of the empty string: the payload hash of a presigned GET.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Clock skew AWS tolerates between client and server, either way.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Longest lifetime AWS allows a presigned URL (seven days).
pub const MAX_PRESIGN_EXPIRES: u64 = 7 * 24 * 60 * 60;

/// RFC 3986 unreserved characters stay as they are; everything else is
/// `%XX` with upper-case hex, which is what every SDK emits and what the
/// canonical request therefore has to contain.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// botocore quotes the path with `safe='/~'`: like [`UNRESERVED`] but
/// keeping the segment separators.
const PATH_SAFE: &AsciiSet = &UNRESERVED.remove(b'/');

/// What a request to verify looks like, as received.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path exactly as received (still percent-encoded), e.g. "/".
    pub path: &'a str,
    /// The raw query string without '?', if any.
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    /// Lowercase hex SHA-256 of the body (for presigned GETs the caller passes the hash of an empty body; see below).
    pub payload_sha256: &'a str,
}

/// The parsed signature of a request: who claims to sign it, and how. Its
/// `Debug` leaves the session token out (it is a bearer credential).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Claim {
    pub access_key_id: String,
    /// yyyymmdd from the credential scope
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// X-Amz-Date (header or query), yyyymmddThhmmssZ
    pub amz_date: String,
    /// Seconds a presigned URL is valid (X-Amz-Expires); None for header auth.
    pub expires: Option<u64>,
    pub presigned: bool,
    /// X-Amz-Security-Token if present
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("access_key_id", &self.access_key_id)
            .field("date", &self.date)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signed_headers", &self.signed_headers)
            .field("amz_date", &self.amz_date)
            .field("expires", &self.expires)
            .field("presigned", &self.presigned)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigV4Error {
    /// No Authorization header and no X-Amz-Algorithm query: AWS's MissingAuthenticationTokenException.
    #[error("Missing Authentication Token")]
    Missing,
    /// Malformed Authorization header / credential scope / date / unsupported algorithm: AWS's IncompleteSignatureException. Message names what is wrong, like AWS's ("Authorization header requires 'Credential' parameter. ..." etc.).
    #[error("{0}")]
    Incomplete(String),
    /// Request time too far from now (header auth: more than 15 minutes either way) — AWS answers InvalidSignatureException "Signature expired: <amz date> is now earlier than <now - 15 min> (<now> - 15 min.)" (or "later than" for future). Presigned URL past X-Amz-Date + X-Amz-Expires: AccessDenied-ish "Request has expired".
    #[error("{0}")]
    Expired(String),
    /// Signature mismatch: InvalidSignatureException "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    Mismatch,
}

impl Claim {
    /// Each of `names` (lower-case header names) that the request carries
    /// must be among the signed headers. A header the signature does not
    /// cover can be changed in flight: `X-Amz-Target` would turn a request
    /// signed for one operation into another, and every AWS SDK signs it.
    /// Presigned URLs sign only `host`; their X-Amz-* parameters are in the
    /// signed query, so they pass.
    pub fn require_signed(
        &self,
        headers: &http::HeaderMap,
        names: &[&str],
    ) -> Result<(), SigV4Error> {
        if self.presigned {
            return Ok(());
        }
        for name in names {
            if headers.contains_key(*name) && !self.signed_headers.iter().any(|h| h == name) {
                return Err(SigV4Error::Incomplete(format!(
                    "'{}' must be a 'SignedHeader' in the AWS Authorization.",
                    header_display_name(name)
                )));
            }
        }
        Ok(())
    }

    /// The signing key is derived from region and service, so a signature
    /// made for another service or region is still a valid HMAC under the
    /// same secret; only this check stops a request signed for, say, S3
    /// from being replayed against ECR. [`verify`] cannot do it because it
    /// does not know which region and service the caller is serving.
    pub fn check_scope(&self, region: &str, service: &str) -> Result<(), SigV4Error> {
        if self.service != service {
            return Err(SigV4Error::Incomplete(format!(
                "Credential should be scoped to correct service: '{service}'. "
            )));
        }
        if self.region != region {
            return Err(SigV4Error::Incomplete(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                self.region
            )));
        }
        Ok(())
    }
}

/// Step 1: find and parse the signature (Authorization header, or presigned query parameters X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature, X-Amz-Security-Token). Checks the credential scope shape (5 parts, terminator aws4_request), that the scope date equals the first 8 chars of amz_date, that 'host' is among signed headers, and the algorithm AWS4-HMAC-SHA256.
///
/// Everything that can be rejected without the secret is rejected here, so
/// that a malformed request never costs a key lookup.
pub fn parse(req: &Request) -> Result<Claim, SigV4Error> {
    let auth = req.headers.get(http::header::AUTHORIZATION);
    let params = query_params(req.query);
    let presigned = params.iter().any(|(k, _)| k == "X-Amz-Algorithm");
    match (auth, presigned) {
        (None, false) => Err(SigV4Error::Missing),
        // Two signatures could disagree about who is asking; AWS refuses
        // to pick one, and so do we.
        (Some(_), true) => Err(SigV4Error::Incomplete(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.".into(),
        )),
        (Some(value), false) => parse_header_auth(req, value),
        (None, true) => parse_query_auth(&params),
    }
}

/// Step 2: with the secret of claim.access_key_id, recompute the signature and compare in constant time; also check time: `now_unix` seconds. Header auth: |now - amz_date| <= 900 s. Presigned: now <= amz_date + expires (expires 1..=604800), and not more than 900 s in the future.
///
/// Time is checked before the signature, as AWS does, so a client with a
/// wrong clock is told about its clock rather than about its key.
pub fn verify(
    req: &Request,
    claim: &Claim,
    secret_access_key: &str,
    now_unix: i64,
) -> Result<(), SigV4Error> {
    check_time(claim, now_unix)?;
    verify_signature(req, claim, secret_access_key)
}

/// The time half of [`verify`]: it needs no body, so a server checks it
/// from the headers before reading one.
pub fn check_time(claim: &Claim, now_unix: i64) -> Result<(), SigV4Error> {
    let signed_at = parse_amz_date(&claim.amz_date).ok_or_else(|| bad_amz_date(&claim.amz_date))?;
    if claim.presigned {
        let expires = check_expires(claim.expires)?;
        if now_unix > signed_at.saturating_add(expires as i64) {
            return Err(SigV4Error::Expired("Request has expired".into()));
        }
    } else if now_unix.saturating_sub(signed_at) > MAX_SKEW_SECS {
        return Err(SigV4Error::Expired(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            claim.amz_date,
            format_amz_date(now_unix.saturating_sub(MAX_SKEW_SECS)),
            format_amz_date(now_unix),
        )));
    }
    if signed_at.saturating_sub(now_unix) > MAX_SKEW_SECS {
        return Err(SigV4Error::Expired(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            claim.amz_date,
            format_amz_date(now_unix.saturating_add(MAX_SKEW_SECS)),
            format_amz_date(now_unix),
        )));
    }
    Ok(())
}

/// The signature half of [`verify`] (the time is not looked at).
pub fn verify_signature(
    req: &Request,
    claim: &Claim,
    secret_access_key: &str,
) -> Result<(), SigV4Error> {
    // verify_slice compares in constant time, so the response time does not
    // reveal how many leading bytes of a forged signature were right.
    let provided = hex::decode(&claim.signature).map_err(|_| SigV4Error::Mismatch)?;
    signing_mac(req, claim, secret_access_key)
        .verify_slice(&provided)
        .map_err(|_| SigV4Error::Mismatch)
}

/// Signs a request (the same canonicalisation), returning the hex signature; used by tests and by berth to produce presigned URLs (e.g. GetDownloadUrlForLayer later).
///
/// `claim.signature` is ignored. For a presigned claim any X-Amz-Signature
/// already in `req.query` is left out, so the result can be appended to the
/// query that is being signed.
pub fn signature(req: &Request, claim: &Claim, secret_access_key: &str) -> String {
    hex::encode(
        signing_mac(req, claim, secret_access_key)
            .finalize()
            .into_bytes(),
    )
}

/// Whether the client opted out of hashing the body
/// (`X-Amz-Content-SHA256: UNSIGNED-PAYLOAD`). A verified request of that
/// kind proves who sent it but not what body was sent; over plain HTTP a
/// caller may prefer to refuse it (botocore only opts out over HTTPS).
pub fn payload_is_unsigned(req: &Request) -> bool {
    payload_hash(req) == UNSIGNED_PAYLOAD
}

/// Everything a presigned URL commits to besides the request itself.
pub struct Presign<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    /// Signing time; the URL is valid from then for `expires` seconds.
    pub now_unix: i64,
    /// 1..=604800, as AWS allows.
    pub expires: u64,
    pub session_token: Option<&'a str>,
}

/// Builds the query string of a presigned URL for `method host path?query`
/// (the existing `query` kept first, then the X-Amz-* parameters, then
/// X-Amz-Signature), laid out exactly as botocore's `SigV4QueryAuth` lays
/// it out, so that [`parse`]/[`verify`] and AWS tooling both accept it.
/// Only `host` is signed, because whoever follows the URL (docker, curl,
/// a browser) sends no other header we could predict. The body is taken to
/// be empty.
pub fn presign_query(
    method: &str,
    host: &str,
    path: &str,
    query: Option<&str>,
    p: &Presign,
) -> String {
    let amz_date = format_amz_date(p.now_unix);
    let date = amz_date[..8].to_string();
    let credential = format!(
        "{}/{}/{}/{}/aws4_request",
        p.access_key_id, date, p.region, p.service
    );
    let mut q = String::new();
    if let Some(existing) = query.filter(|s| !s.is_empty()) {
        q.push_str(existing);
        q.push('&');
    }
    let mut auth = vec![
        ("X-Amz-Algorithm", ALGORITHM.to_string()),
        ("X-Amz-Credential", credential),
        ("X-Amz-Date", amz_date.clone()),
        ("X-Amz-Expires", p.expires.to_string()),
        ("X-Amz-SignedHeaders", "host".to_string()),
    ];
    if let Some(token) = p.session_token {
        auth.push(("X-Amz-Security-Token", token.to_string()));
    }
    let encoded: Vec<String> = auth
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v.as_bytes(), UNRESERVED)))
        .collect();
    q.push_str(&encoded.join("&"));

    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(host) {
        headers.insert(http::header::HOST, v);
    }
    let req = Request {
        method,
        path,
        query: Some(&q),
        headers: &headers,
        payload_sha256: EMPTY_SHA256,
    };
    let claim = Claim {
        access_key_id: p.access_key_id.to_string(),
        date,
        region: p.region.to_string(),
        service: p.service.to_string(),
        signed_headers: vec!["host".to_string()],
        signature: String::new(),
        amz_date,
        expires: Some(p.expires),
        presigned: true,
        session_token: p.session_token.map(str::to_string),
    };
    let sig = signature(&req, &claim, p.secret_access_key);
    format!("{q}&X-Amz-Signature={sig}")
}

/// The credentials and scope a client signs with.
pub struct SigningKey<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// The two headers a request signed with [`sign_headers`] must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `X-Amz-Date`: the signing time, `yyyymmddThhmmssZ`.
    pub amz_date: String,
    /// `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
    pub authorization: String,
}

/// Signs a request the way botocore's `SigV4Auth` does (header auth), for
/// berth's own clients: `berth admin`, `berth gc` and the test fixture.
/// Every header in `headers` is signed, plus `x-amz-date` (set here from
/// `now_unix`, replacing any given); `headers` must hold `host`, which the
/// verifier requires to be signed. `path` and `query` are what goes on the
/// wire (still percent-encoded), `payload_sha256` the body's lowercase hex
/// SHA-256. Sharing [`canonical_request`] with [`verify`] means the two
/// sides cannot drift apart.
pub fn sign_headers(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &http::HeaderMap,
    payload_sha256: &str,
    key: &SigningKey,
    now_unix: i64,
) -> SignedHeaders {
    debug_assert!(
        headers.contains_key(http::header::HOST),
        "the host header must be signed"
    );
    let amz_date = format_amz_date(now_unix);
    let mut signed = headers.clone();
    signed.remove(http::header::AUTHORIZATION);
    signed.insert(
        "x-amz-date",
        http::HeaderValue::from_str(&amz_date).expect("an amz date is ASCII"),
    );
    let mut names: Vec<String> = signed.keys().map(|k| k.as_str().to_string()).collect();
    names.sort();
    names.dedup();
    let claim = Claim {
        access_key_id: key.access_key_id.to_string(),
        date: amz_date[..8].to_string(),
        region: key.region.to_string(),
        service: key.service.to_string(),
        signed_headers: names,
        signature: String::new(),
        amz_date: amz_date.clone(),
        expires: None,
        presigned: false,
        session_token: None,
    };
    let req = Request {
        method,
        path,
        query,
        headers: &signed,
        payload_sha256,
    };
    let sig = signature(&req, &claim, key.secret_access_key);
    SignedHeaders {
        authorization: format!(
            "{ALGORITHM} Credential={}/{}/{}/{}/aws4_request, SignedHeaders={}, Signature={sig}",
            key.access_key_id,
            claim.date,
            key.region,
            key.service,
            claim.signed_headers.join(";")
        ),
        amz_date,
    }
}

use crate::dates::parse_http_date;
pub use crate::dates::{format_amz_date, parse_amz_date};

// ---------------------------------------------------------------------------
// Parsing

fn parse_header_auth(req: &Request, value: &http::HeaderValue) -> Result<Claim, SigV4Error> {
    let value = value.to_str().map_err(|_| {
        SigV4Error::Incomplete(
            "Authorization header contains characters that are not visible ASCII.".into(),
        )
    })?;
    let trimmed = value.trim();
    let (algorithm, rest) = trimmed
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((trimmed, ""));
    if algorithm != ALGORITHM {
        if !algorithm.starts_with("AWS4-") {
            return Err(SigV4Error::Incomplete(format!(
                "'{algorithm}' not a valid key=value pair (missing equal-sign) in Authorization header: '{value}'."
            )));
        }
        return Err(SigV4Error::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )));
    }

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(SigV4Error::Incomplete(format!(
                "'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{value}'."
            )));
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let amz_date = header_date(req.headers)?;

    // AWS lists every missing piece at once, so a client author fixes them
    // in one round trip rather than one per request.
    let mut missing = String::new();
    for (name, present) in [
        ("Credential", credential.is_some_and(|s| !s.is_empty())),
        ("Signature", signature.is_some_and(|s| !s.is_empty())),
        (
            "SignedHeaders",
            signed_headers.is_some_and(|s| !s.is_empty()),
        ),
    ] {
        if !present {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if amz_date.is_none() {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if !missing.is_empty() {
        return Err(SigV4Error::Incomplete(format!(
            "{missing}Authorization={value}"
        )));
    }
    let (credential, signed_headers, signature) = (
        credential.unwrap_or_default(),
        signed_headers.unwrap_or_default(),
        signature.unwrap_or_default(),
    );
    let amz_date = amz_date.unwrap_or_default();

    let session_token = req
        .headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    build_claim(
        credential,
        signed_headers,
        signature,
        amz_date,
        None,
        false,
        session_token,
    )
}

fn parse_query_auth(params: &[(String, String)]) -> Result<Claim, SigV4Error> {
    // The first occurrence wins; duplicates still take part in the
    // canonical query, so they cannot change what was signed.
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let algorithm = get("X-Amz-Algorithm").unwrap_or_default();
    if algorithm != ALGORITHM {
        return Err(SigV4Error::Incomplete(format!(
            "X-Amz-Algorithm only supports \"{ALGORITHM}\", not '{algorithm}'"
        )));
    }
    let required = [
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
        "X-Amz-Expires",
    ];
    let missing: Vec<String> = required
        .iter()
        .filter(|n| get(n).is_none_or(str::is_empty))
        .map(|n| format!("'{n}'"))
        .collect();
    if !missing.is_empty() {
        return Err(SigV4Error::Incomplete(format!(
            "AWS query-string parameters must include {}. Re-examine the query-string parameters.",
            missing.join(", ")
        )));
    }
    let expires_text = get("X-Amz-Expires").unwrap_or_default();
    let expires = expires_text.parse::<u64>().map_err(|_| {
        SigV4Error::Incomplete(format!(
            "X-Amz-Expires should be a number of seconds, not '{expires_text}'."
        ))
    })?;
    check_expires(Some(expires))?;
    build_claim(
        get("X-Amz-Credential").unwrap_or_default(),
        get("X-Amz-SignedHeaders").unwrap_or_default(),
        get("X-Amz-Signature").unwrap_or_default(),
        get("X-Amz-Date").unwrap_or_default().to_string(),
        Some(expires),
        true,
        get("X-Amz-Security-Token").map(str::to_string),
    )
}

/// The checks shared by both forms, once the pieces have been found.
fn build_claim(
    credential: &str,
    signed_headers: &str,
    signature: &str,
    amz_date: String,
    expires: Option<u64>,
    presigned: bool,
    session_token: Option<String>,
) -> Result<Claim, SigV4Error> {
    if parse_amz_date(&amz_date).is_none() {
        return Err(bad_amz_date(&amz_date));
    }
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(SigV4Error::Incomplete(format!(
            "Credential should be of the form '<access key id>/<yyyymmdd>/<region>/<service>/aws4_request', not '{credential}'."
        )));
    };
    if access_key_id.is_empty() {
        return Err(SigV4Error::Incomplete(
            "Credential should name an access key id.".into(),
        ));
    }
    if terminator != "aws4_request" {
        return Err(SigV4Error::Incomplete(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
        )));
    }
    // Region names are `[a-z0-9-]`: a scope outside that (such as the
    // public registries' `@public`) names no registry a request may reach.
    let region_ok = (1..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(SigV4Error::Incomplete(format!(
            "Credential should be scoped to a valid region, not '{region}'. "
        )));
    }
    if service.is_empty() {
        return Err(SigV4Error::Incomplete(
            "Credential should be scoped to a valid service, not ''. ".into(),
        ));
    }
    if date.len() != 8 || parse_amz_date(&format!("{date}T000000Z")).is_none() {
        return Err(SigV4Error::Incomplete(format!(
            "Invalid credential date '{date}'. This date is not the required format: yyyyMMdd."
        )));
    }
    if date != &amz_date[..8] {
        return Err(SigV4Error::Incomplete(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{}', from '{amz_date}'.",
            &amz_date[..8]
        )));
    }

    let mut names = Vec::new();
    for name in signed_headers.split(';') {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(SigV4Error::Incomplete(format!(
                "SignedHeaders should be a ';'-separated list of header names, not '{signed_headers}'."
            )));
        }
        names.push(name);
    }
    // Signers emit the list sorted and the canonical request needs it
    // sorted; normalising here makes a hand-ordered list harmless.
    names.sort();
    names.dedup();
    if !names.iter().any(|n| n == "host") {
        return Err(SigV4Error::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }

    Ok(Claim {
        access_key_id: access_key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers: names,
        signature: signature.to_string(),
        amz_date,
        expires,
        presigned,
        session_token,
    })
}

/// The request time of header auth. X-Amz-Date wins when both are sent;
/// botocore sends `Date` instead when the caller set one, formatted by
/// Python's `email.utils.formatdate` (`... -0000` rather than `... GMT`).
fn header_date(headers: &http::HeaderMap) -> Result<Option<String>, SigV4Error> {
    if let Some(v) = headers.get("x-amz-date") {
        let s = v.to_str().map_err(|_| bad_amz_date("<not ASCII>"))?;
        return Ok(Some(s.trim().to_string()));
    }
    let Some(v) = headers.get(http::header::DATE) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or_default();
    match parse_http_date(s) {
        Some(unix) => Ok(Some(format_amz_date(unix))),
        None => Err(SigV4Error::Incomplete(format!(
            "Date header should be an RFC 1123 date such as 'Sun, 06 Nov 1994 08:49:37 GMT', not '{s}'."
        ))),
    }
}

/// `x-amz-target` as AWS's messages write it: `X-Amz-Target`.
fn header_display_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn bad_amz_date(s: &str) -> SigV4Error {
    SigV4Error::Incomplete(format!(
        "Date must be in ISO-8601 'basic format'. Got '{s}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

fn check_expires(expires: Option<u64>) -> Result<u64, SigV4Error> {
    match expires {
        Some(0) | None => Err(SigV4Error::Incomplete(
            "X-Amz-Expires must be non-negative".into(),
        )),
        Some(e) if e > MAX_PRESIGN_EXPIRES => Err(SigV4Error::Incomplete(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES}"
        ))),
        Some(e) => Ok(e),
    }
}

/// Decoded name/value pairs, used only to find the X-Amz-* parameters;
/// signing works from the raw text (see [`canonical_query`]).
fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    query
        .unwrap_or_default()
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Canonical request

fn signing_mac(req: &Request, claim: &Claim, secret_access_key: &str) -> HmacSha256 {
    let canonical = canonical_request(req, claim);
    let scope = format!(
        "{}/{}/{}/aws4_request",
        claim.date, claim.region, claim.service
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        claim.amz_date,
        hex::encode(Sha256::digest(&canonical))
    );
    let k_date = hmac(
        format!("AWS4{secret_access_key}").as_bytes(),
        claim.date.as_bytes(),
    );
    let k_region = hmac(&k_date, claim.region.as_bytes());
    let k_service = hmac(&k_region, claim.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let mut mac = new_mac(&k_signing);
    mac.update(string_to_sign.as_bytes());
    mac
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of any length; this cannot fail.
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = new_mac(key);
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Built as bytes, not text: header values may carry obs-text and the path
/// may carry raw UTF-8, and the hash is over exactly those bytes.
fn canonical_request(req: &Request, claim: &Claim) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(req.method.to_ascii_uppercase().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(req.path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(req.query, claim.presigned).as_bytes());
    out.push(b'\n');
    for name in &claim.signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        // A signed header that is absent canonicalises to an empty value:
        // the signer had one, so the result is a plain mismatch.
        for (i, value) in req.headers.get_all(name.as_str()).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            trim_all(value.as_bytes(), &mut out);
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(claim.signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash(req).as_bytes());
    out
}

/// SigV4's Trimall: drop surrounding whitespace and squeeze inner runs to
/// one space (botocore: `' '.join(value.split())`).
fn trim_all(value: &[u8], out: &mut Vec<u8>) {
    let words = value
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty());
    for (i, word) in words.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
}

/// S3-style clients state the body hash in `X-Amz-Content-SHA256` and sign
/// with that value. It is honoured only when it cannot lie: when it says
/// the body is unsigned, or when it agrees with the body actually received.
/// Any other value is replaced by the real hash, so a false claim ends in a
/// mismatch instead of authenticating a body nobody signed.
fn payload_hash<'a>(req: &'a Request) -> &'a str {
    if let Some(v) = req
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        if v == UNSIGNED_PAYLOAD || v.eq_ignore_ascii_case(req.payload_sha256) {
            return v;
        }
    }
    req.payload_sha256
}

/// botocore (`_normalize_url_path`) removes dot segments and empty
/// segments from the path as it appears in the URL — still
/// percent-encoded — and then quotes it again, so `%` becomes `%25`: for
/// every service but S3 the canonical URI is the wire path encoded twice.
/// An empty path is `/`.
pub fn canonical_uri(path: &str) -> String {
    let normalised = remove_dot_segments(path);
    percent_encode(normalised.as_bytes(), PATH_SAFE).to_string()
}

/// Port of botocore's `remove_dot_segments`, which also drops empty
/// segments (`//` becomes `/`) because AWS services expect that.
fn remove_dot_segments(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let first = if path.starts_with('/') { "/" } else { "" };
    let last = if path.ends_with('/') && !out.is_empty() {
        "/"
    } else {
        ""
    };
    format!("{first}{}{last}", out.join("/"))
}

/// Each name and value is percent-decoded and encoded again with only the
/// unreserved characters left bare, then the pairs are sorted by encoded
/// name and value. botocore signs the raw pairs without re-encoding, but it
/// also built the query with that very encoding, so for its requests the
/// two agree; decoding first makes other clients' spellings (`%2f` vs
/// `%2F`, a bare `/` or `:`) canonical too. `+` is a literal plus, as in
/// RFC 3986, not a space. Empty `&&` segments are skipped. For presigned
/// requests X-Amz-Signature is left out, since it cannot sign itself.
pub fn canonical_query(query: Option<&str>, presigned: bool) -> String {
    let encode = |s: &str| -> String {
        let bytes: Vec<u8> = percent_decode_str(s).collect();
        percent_encode(&bytes, UNRESERVED).to_string()
    };
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or_default()
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (encode(k), encode(v))
        })
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

// ---------------------------------------------------------------------------
// Calendar arithmetic (no date crate in this one file's reach).

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    /// 20150830T123600Z, the time of the AWS test suite.
    const T2015: i64 = 1_440_938_160;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn sha_hex(body: &[u8]) -> String {
        hex::encode(Sha256::digest(body))
    }

    fn auth_value(scope: &str, signed: &str, sig: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={signed}, Signature={sig}"
        )
    }

    /// Parses, checks the recomputed signature and verifies at `now`.
    fn check(req: &Request, expected_sig: &str, now: i64) -> Claim {
        let claim = parse(req).expect("parse");
        assert_eq!(claim.signature, expected_sig);
        assert_eq!(signature(req, &claim, SECRET), expected_sig);
        verify(req, &claim, SECRET, now).expect("verify");
        claim
    }

    #[test]
    fn amz_dates() {
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(T2015));
        assert_eq!(format_amz_date(T2015), "20150830T123600Z");
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(format_amz_date(-1), "19691231T235959Z");
        assert_eq!(format_amz_date(951_782_400), "20000229T000000Z");
        for bad in [
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "20150230T000000Z",
            "20150830T243600Z",
            "2015083aT123600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        assert_eq!(
            parse_http_date("Sun, 30 Aug 2015 12:36:00 -0000"),
            Some(T2015)
        );
        assert_eq!(
            parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"),
            Some(T2015)
        );
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 +0200"), None);
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("//a/./b/../c//"), "/a/c/");
        assert_eq!(canonical_uri("/example/.."), "/");
        assert_eq!(canonical_uri("/a%20b/sha256:x"), "/a%2520b/sha256%3Ax");
        assert_eq!(canonical_uri("/ሴ"), "/%E1%88%B4");
        assert_eq!(canonical_query(None, false), "");
        assert_eq!(
            canonical_query(Some("b=2&a=%7e&a=1&c&&"), false),
            "a=1&a=~&b=2&c="
        );
        assert_eq!(
            canonical_query(Some("k=a+b&p=x/y:z&q=%2f"), false),
            "k=a%2Bb&p=x%2Fy%3Az&q=%2F"
        );
        assert_eq!(canonical_query(Some("X-Amz-Signature=ab&a=1"), true), "a=1");
        assert_eq!(
            canonical_query(Some("X-Amz-Signature=ab&a=1"), false),
            "X-Amz-Signature=ab&a=1"
        );
    }

    /// AWS General Reference's worked example (IAM ListUsers).
    #[test]
    fn aws_docs_iam_list_users() {
        let sig = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
        let h = headers(&[
            ("host", "iam.amazonaws.com"),
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("x-amz-date", "20150830T123600Z"),
            (
                "authorization",
                &auth_value(
                    "20150830/us-east-1/iam/aws4_request",
                    "content-type;host;x-amz-date",
                    sig,
                ),
            ),
        ]);
        let req = Request {
            method: "GET",
            path: "/",
            query: Some("Action=ListUsers&Version=2010-05-08"),
            headers: &h,
            payload_sha256: EMPTY_SHA256,
        };
        let claim = check(&req, sig, T2015);
        assert_eq!(
            claim,
            Claim {
                access_key_id: AKID.into(),
                date: "20150830".into(),
                region: "us-east-1".into(),
                service: "iam".into(),
                signed_headers: vec!["content-type".into(), "host".into(), "x-amz-date".into()],
                signature: sig.into(),
                amz_date: "20150830T123600Z".into(),
                expires: None,
                presigned: false,
                session_token: None,
            }
        );
        assert!(claim.check_scope("us-east-1", "iam").is_ok());
        assert!(matches!(
            claim.check_scope("us-east-1", "ecr"),
            Err(SigV4Error::Incomplete(_))
        ));
        assert!(matches!(
            claim.check_scope("eu-west-1", "iam"),
            Err(SigV4Error::Incomplete(_))
        ));
    }

    /// Vectors of the AWS SigV4 test suite (aws-sig-v4-test-suite), service
    /// `service`, region us-east-1; every expected value was also
    /// reproduced with botocore 1.43's SigV4Auth before being pasted here.
    #[test]
    fn aws_test_suite() {
        struct V {
            name: &'static str,
            method: &'static str,
            path: &'static str,
            query: Option<&'static str>,
            extra: &'static [(&'static str, &'static str)],
            body: &'static [u8],
            sig: &'static str,
        }
        let vectors = [
            V { name: "get-vanilla", method: "GET", path: "/", query: None, extra: &[], body: b"",
                sig: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },
            V { name: "get-relative", method: "GET", path: "/example/..", query: None, extra: &[], body: b"",
                sig: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },
            V { name: "get-vanilla-query-order-key-case", method: "GET", path: "/", query: Some("Param2=value2&Param1=value1"), extra: &[], body: b"",
                sig: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500" },
            V { name: "get-vanilla-empty-query-key", method: "GET", path: "/", query: Some("Param1=value1"), extra: &[], body: b"",
                sig: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb" },
            V { name: "get-vanilla-query-unreserved", method: "GET", path: "/",
                query: Some("-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
                extra: &[], body: b"",
                sig: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197" },
            V { name: "get-vanilla-utf8-query", method: "GET", path: "/", query: Some("%E1%88%B4=bar"), extra: &[], body: b"",
                sig: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04" },
            // The suite's request line is the raw `GET /ሴ`, canonical URI
            // /%E1%88%B4 (sent percent-encoded, it would be encoded twice).
            V { name: "get-utf8", method: "GET", path: "/ሴ", query: None, extra: &[], body: b"",
                sig: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85" },
            V { name: "get-header-value-trim", method: "GET", path: "/", query: None,
                extra: &[("my-header1", " value1"), ("my-header2", " \"a   b   c\"")], body: b"",
                sig: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736" },
            V { name: "post-vanilla", method: "POST", path: "/", query: None, extra: &[], body: b"",
                sig: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b" },
            V { name: "post-vanilla-query", method: "POST", path: "/", query: Some("Param1=value1"), extra: &[], body: b"",
                sig: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11" },
            V { name: "post-header-key-sort", method: "POST", path: "/", query: None, extra: &[("my-header1", "value1")], body: b"",
                sig: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c" },
            V { name: "post-x-www-form-urlencoded", method: "POST", path: "/", query: None,
                extra: &[("content-type", "application/x-www-form-urlencoded")], body: b"Param1=value1",
                sig: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a" },
        ];
        for v in vectors {
            let mut names: Vec<&str> = vec!["host", "x-amz-date"];
            names.extend(v.extra.iter().map(|(k, _)| *k));
            names.sort();
            let auth = auth_value(
                "20150830/us-east-1/service/aws4_request",
                &names.join(";"),
                v.sig,
            );
            let mut pairs = vec![
                ("host", "example.amazonaws.com"),
                ("x-amz-date", "20150830T123600Z"),
            ];
            pairs.extend_from_slice(v.extra);
            pairs.push(("authorization", &auth));
            let h = headers(&pairs);
            let payload = sha_hex(v.body);
            let req = Request {
                method: v.method,
                path: v.path,
                query: v.query,
                headers: &h,
                payload_sha256: &payload,
            };
            let claim = parse(&req).unwrap_or_else(|e| panic!("{}: {e}", v.name));
            assert_eq!(signature(&req, &claim, SECRET), v.sig, "{}", v.name);
            assert_eq!(verify(&req, &claim, SECRET, T2015), Ok(()), "{}", v.name);
        }
    }

    /// What berth's clients send is what the AWS test suite expects, and
    /// what [`parse`]/[`verify`] accept (the round trip `berth admin` makes).
    #[test]
    fn sign_headers_matches_the_suite_and_verifies() {
        let key = SigningKey {
            access_key_id: AKID,
            secret_access_key: SECRET,
            region: "us-east-1",
            service: "service",
        };
        let h = headers(&[("host", "example.amazonaws.com")]);
        let s = sign_headers("GET", "/", None, &h, &sha_hex(b""), &key, T2015);
        assert_eq!(s.amz_date, "20150830T123600Z");
        assert_eq!(
            s.authorization,
            auth_value(
                "20150830/us-east-1/service/aws4_request",
                "host;x-amz-date",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            )
        );

        let body = br#"{"userName":"ci"}"#;
        let payload = sha_hex(body);
        let path = "/berth/admin/accounts/111111111111/users";
        let mut h = headers(&[
            ("host", "127.0.0.1:5000"),
            ("content-type", "application/json"),
        ]);
        let s = sign_headers("POST", path, Some("a=1"), &h, &payload, &key, T2015);
        h.insert("x-amz-date", HeaderValue::from_str(&s.amz_date).unwrap());
        h.insert(
            "authorization",
            HeaderValue::from_str(&s.authorization).unwrap(),
        );
        let req = Request {
            method: "POST",
            path,
            query: Some("a=1"),
            headers: &h,
            payload_sha256: &payload,
        };
        let claim = parse(&req).unwrap();
        assert_eq!(claim.signed_headers, ["content-type", "host", "x-amz-date"]);
        assert_eq!(verify(&req, &claim, SECRET, T2015 + 60), Ok(()));
        assert_eq!(
            verify(&req, &claim, "another secret", T2015),
            Err(SigV4Error::Mismatch)
        );
        let other = sha_hex(b"{}");
        let tampered = Request {
            payload_sha256: &other,
            ..req
        };
        assert_eq!(
            verify(&tampered, &claim, SECRET, T2015),
            Err(SigV4Error::Mismatch)
        );
    }

    #[test]
    fn headers_that_change_the_meaning_must_be_signed() {
        let auth = auth_value(
            "20150830/us-east-1/ecr/aws4_request",
            "host;x-amz-date",
            "ab",
        );
        let h = headers(&[
            ("host", "localhost:5000"),
            ("x-amz-date", "20150830T123600Z"),
            (
                "x-amz-target",
                "AmazonEC2ContainerRegistry_V20150921.GetRegistryPolicy",
            ),
            ("authorization", &auth),
        ]);
        let req = Request {
            method: "POST",
            path: "/",
            query: None,
            headers: &h,
            payload_sha256: EMPTY_SHA256,
        };
        let claim = parse(&req).unwrap();
        assert_eq!(
            claim.require_signed(&h, &["x-amz-target", "x-amz-security-token"]),
            Err(SigV4Error::Incomplete(
                "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.".into()
            ))
        );
        // Absent headers need not be signed.
        assert_eq!(claim.require_signed(&h, &["x-amz-security-token"]), Ok(()));
    }

    #[test]
    fn time_is_checked_apart_from_the_signature() {
        let auth = auth_value(
            "20150830/us-east-1/ecr/aws4_request",
            "host;x-amz-date",
            "ab",
        );
        let h = headers(&[
            ("host", "h"),
            ("x-amz-date", "20150830T123600Z"),
            ("authorization", &auth),
        ]);
        let req = Request {
            method: "GET",
            path: "/",
            query: None,
            headers: &h,
            payload_sha256: EMPTY_SHA256,
        };
        let claim = parse(&req).unwrap();
        assert_eq!(check_time(&claim, T2015), Ok(()));
        assert!(matches!(
            check_time(&claim, T2015 + MAX_SKEW_SECS + 1),
            Err(SigV4Error::Expired(_))
        ));
        assert_eq!(
            verify_signature(&req, &claim, SECRET),
            Err(SigV4Error::Mismatch)
        );
    }

    /// Captured from botocore 1.43.11's real ECR client: `create_client('ecr',
    /// region_name='us-east-1', ...)` with credentials AKIDEXAMPLE/<SECRET>,
    /// `botocore.auth.get_current_datetime` pinned to 2024-05-17 10:30:00,
    /// and a `before-send` hook that recorded the request instead of sending
    /// it, for `describe_repositories(repositoryNames=['team/app'])`.
    /// Headers below are everything it sent (urllib3 adds Host from the URL);
    /// user-agent and amz-sdk-* are unsigned, as in botocore.
    #[test]
    fn botocore_ecr_describe_repositories() {
        let body = br#"{"repositoryNames": ["team/app"]}"#;
        let payload = sha_hex(body);
        assert_eq!(
            payload,
            "3fbc7d1b4fb3d0f5d03e7cc6255e291fdc17cc930279a2487447bea852e2c74e"
        );
        let now = parse_amz_date("20240517T103000Z").unwrap();
        let base = [
            ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"),
            ("content-type", "application/x-amz-json-1.1"),
            ("user-agent", "Botocore/1.43.11 ua/2.1 os/linux#6.18.44-fc-v657 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/Z,b,e,D cfg/retry-mode#legacy"),
            ("x-amz-date", "20240517T103000Z"),
            ("amz-sdk-invocation-id", "24a78105-d3ee-4cd3-b569-f3b5b0343ac2"),
            ("amz-sdk-request", "attempt=1"),
            ("content-length", "33"),
        ];

        // Default endpoint.
        let sig = "bda96e9b968090ec11d0a5205a6e25b8e96088d6b270598b8451e44b61dce0ce";
        let auth = auth_value(
            "20240517/us-east-1/ecr/aws4_request",
            "content-type;host;x-amz-date;x-amz-target",
            sig,
        );
        let mut pairs = base.to_vec();
        pairs.push(("host", "api.ecr.us-east-1.amazonaws.com"));
        pairs.push(("authorization", &auth));
        let h = headers(&pairs);
        let req = Request {
            method: "POST",
            path: "/",
            query: None,
            headers: &h,
            payload_sha256: &payload,
        };
        let claim = check(&req, sig, now);
        assert_eq!(claim.check_scope("us-east-1", "ecr"), Ok(()));
        assert!(!payload_is_unsigned(&req));

        // Same call with a session token (the token is a signed header).
        let sig = "bfe3864553a49f95d5b7a340d7d2619c3b152efef5c045937fdd82fde751b918";
        let auth = auth_value(
            "20240517/us-east-1/ecr/aws4_request",
            "content-type;host;x-amz-date;x-amz-security-token;x-amz-target",
            sig,
        );
        let mut pairs = base.to_vec();
        pairs.push(("host", "api.ecr.us-east-1.amazonaws.com"));
        pairs.push(("x-amz-security-token", "FQoGZXIvYXdzEXAMPLETOKEN"));
        pairs.push(("authorization", &auth));
        let h = headers(&pairs);
        let req = Request {
            method: "POST",
            path: "/",
            query: None,
            headers: &h,
            payload_sha256: &payload,
        };
        let claim = check(&req, sig, now);
        assert_eq!(
            claim.session_token.as_deref(),
            Some("FQoGZXIvYXdzEXAMPLETOKEN")
        );

        // `endpoint_url='http://localhost:5000'`, region eu-west-1: how the
        // CLI talks to berth. The port is part of the signed Host.
        let sig = "e4fedd767567b85f93588a8ac721fa1e5b2beb6b19468894b2db1ce467fed417";
        let auth = auth_value(
            "20240517/eu-west-1/ecr/aws4_request",
            "content-type;host;x-amz-date;x-amz-target",
            sig,
        );
        let mut pairs = base.to_vec();
        pairs.push(("host", "localhost:5000"));
        pairs.push(("authorization", &auth));
        let h = headers(&pairs);
        let req = Request {
            method: "POST",
            path: "/",
            query: None,
            headers: &h,
            payload_sha256: &payload,
        };
        check(&req, sig, now);
        // The same request seen through a proxy that rewrote Host fails.
        let mut h2 = h.clone();
        h2.insert("host", HeaderValue::from_static("localhost"));
        let req2 = Request {
            headers: &h2,
            ..req
        };
        assert_eq!(
            verify(&req2, &parse(&req2).unwrap(), SECRET, now),
            Err(SigV4Error::Mismatch)
        );
    }

    /// botocore 1.43.11 SigV4Auth(cred, 'ecr', 'us-west-2') on an AWSRequest
    /// that carried a `Date` header: botocore then signs `date` instead of
    /// `x-amz-date`, formatted by email.utils.formatdate. Time pinned to
    /// 2015-08-30 12:36:00; body `{}`.
    #[test]
    fn botocore_date_header() {
        let sig = "51c2e7c54067b712924a480ec438ca485a361fa3420687ed941e4dd601d6f1d8";
        let auth = auth_value(
            "20150830/us-west-2/ecr/aws4_request",
            "content-type;date;host;x-amz-target",
            sig,
        );
        let h = headers(&[
            ("content-type", "application/x-amz-json-1.1"),
            (
                "x-amz-target",
                "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
            ),
            ("date", "Sun, 30 Aug 2015 12:36:00 -0000"),
            ("host", "localhost:5000"),
            ("authorization", &auth),
        ]);
        let payload = sha_hex(b"{}");
        let req = Request {
            method: "POST",
            path: "/",
            query: None,
            headers: &h,
            payload_sha256: &payload,
        };
        let claim = check(&req, sig, T2015 + 60);
        assert_eq!(claim.amz_date, "20150830T123600Z");
    }

    /// botocore 1.43.11 SigV4Auth(cred, 'ecr', 'us-east-1') for
    /// `GET http://127.0.0.1:5000/v2/team%2Fapp/blobs/sha256:ab%20cd`, time
    /// pinned to 2015-08-30 12:36:00. Its canonical URI was
    /// `/v2/team%252Fapp/blobs/sha256%3Aab%2520cd`: the wire path encoded again.
    #[test]
    fn botocore_double_encoded_path() {
        let sig = "cabf108498ea280920d06af6ca60838d262f59a2e785a95e37870338dd7a53a2";
        let auth = auth_value(
            "20150830/us-east-1/ecr/aws4_request",
            "host;x-amz-date",
            sig,
        );
        let h = headers(&[
            ("host", "127.0.0.1:5000"),
            ("x-amz-date", "20150830T123600Z"),
            ("authorization", &auth),
        ]);
        let req = Request {
            method: "GET",
            path: "/v2/team%2Fapp/blobs/sha256:ab%20cd",
            query: None,
            headers: &h,
            payload_sha256: EMPTY_SHA256,
        };
        check(&req, sig, T2015);
        // The decoded path is a different request.
        let req2 = Request {
            path: "/v2/team/app/blobs/sha256:ab cd",
            ..req
        };
        assert_eq!(
            verify(&req2, &parse(&req2).unwrap(), SECRET, T2015),
            Err(SigV4Error::Mismatch)
        );
    }

    /// botocore 1.43.11 SigV4QueryAuth(cred, 'ecr', 'us-east-1', expires=3600)
    /// on `GET http://127.0.0.1:5000/v2/team/app/blobs/sha256%3Aabc?download=1&name=a%20b`,
    /// time pinned to 2015-08-30 12:36:00; the query is the URL it produced.
    #[test]
    fn botocore_presigned() {
        let query = "download=1&name=a%20b&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fecr%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=c35ca0bc76772a3c00ad89803005fd994977cf22143432ddfc4f73c7ab2a182c";
        let sig = "c35ca0bc76772a3c00ad89803005fd994977cf22143432ddfc4f73c7ab2a182c";
        let path = "/v2/team/app/blobs/sha256%3Aabc";
        let h = headers(&[("host", "127.0.0.1:5000"), ("user-agent", "curl/8")]);
        let req = Request {
            method: "GET",
            path,
            query: Some(query),
            headers: &h,
            payload_sha256: EMPTY_SHA256,
        };
        let claim = check(&req, sig, T2015);
        assert!(claim.presigned);
        assert_eq!(claim.expires, Some(3600));
        assert_eq!(claim.access_key_id, AKID);
        assert_eq!(verify(&req, &claim, SECRET, T2015 + 3600), Ok(()));
        assert_eq!(
            verify(&req, &claim, SECRET, T2015 + 3601),
            Err(SigV4Error::Expired("Request has expired".into()))
        );
        assert!(matches!(
            verify(&req, &claim, SECRET, T2015 - 901),
            Err(SigV4Error::Expired(_))
        ));
        assert_eq!(verify(&req, &claim, SECRET, T2015 - 900), Ok(()));

        // presign_query lays the URL out exactly as botocore did.
        let p = Presign {
            access_key_id: AKID,
            secret_access_key: SECRET,
            region: "us-east-1",
            service: "ecr",
            now_unix: T2015,
            expires: 3600,
            session_token: None,
        };
        assert_eq!(
            presign_query(
                "GET",
                "127.0.0.1:5000",
                path,
                Some("download=1&name=a%20b"),
                &p
            ),
            query
        );

        // Tampering with a signed parameter breaks it.
        let tampered = query.replace("download=1", "download=2");
        let req2 = Request {
            query: Some(&tampered),
            ..req
        };
        assert_eq!(
            verify(&req2, &parse(&req2).unwrap(), SECRET, T2015),
            Err(SigV4Error::Mismatch)
        );
        // So does stretching the lifetime.
        let stretched = query.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200");
        let req3 = Request {
            query: Some(&stretched),
            ..req
        };
        assert_eq!(
            verify(&req3, &parse(&req3).unwrap(), SECRET, T2015 + 4000),
            Err(SigV4Error::Mismatch)
        );
    }

    /// botocore 1.43.11 SigV4QueryAuth(Credentials('ASIAEXAMPLE', SECRET,
    /// 'tok/en+='), 'ecr', 'us-east-1', expires=900) on
    /// `GET https://api.ecr.us-east-1.amazonaws.com/`, time 2015-08-30 12:36:00.
    #[test]
    fn botocore_presigned_with_session_token() {
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20150830%2Fus-east-1%2Fecr%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-Signature=5a3d4273690b725ca2220851aaeea6459511d1d3c23b1de5adb7c28eefb887e4";
        let h = headers(&[("host", "api.ecr.us-east-1.amazonaws.com")]);
        let req = Request {
            method: "GET",
            path: "/",
            query: Some(query),
            headers: &h,
            payload_sha256: EMPTY_SHA256,
        };
        let claim = check(
            &req,
            "5a3d4273690b725ca2220851aaeea6459511d1d3c23b1de5adb7c28eefb887e4",
            T2015 + 900,
        );
        assert_eq!(claim.access_key_id, "ASIAEXAMPLE");
        assert_eq!(claim.session_token.as_deref(), Some("tok/en+="));
        let p = Presign {
            access_key_id: "ASIAEXAMPLE",
            secret_access_key: SECRET,
            region: "us-east-1",
            service: "ecr",
            now_unix: T2015,
            expires: 900,
            session_token: Some("tok/en+="),
        };
        assert_eq!(
            presign_query("GET", "api.ecr.us-east-1.amazonaws.com", "/", None, &p),
            query
        );
    }

    /// A signed ECR-shaped request built with [`signature`], for the
    /// negative cases.
    struct Signed {
        headers: HeaderMap,
        payload: String,
    }

    fn signed_request(body: &[u8], amz_date: &str) -> Signed {
        let payload = sha_hex(body);
        let mut h = headers(&[
            ("host", "localhost:5000"),
            ("content-type", "application/x-amz-json-1.1"),
            (
                "x-amz-target",
                "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
            ),
            ("x-amz-date", amz_date),
        ]);
        let scope = format!("{}/us-east-1/ecr/aws4_request", &amz_date[..8]);
        let signed = "content-type;host;x-amz-date;x-amz-target";
        let placeholder = auth_value(&scope, signed, "00");
        h.insert(
            "authorization",
            HeaderValue::from_str(&placeholder).unwrap(),
        );
        let claim = parse(&Request {
            method: "POST",
            path: "/",
            query: None,
            headers: &h,
            payload_sha256: &payload,
        })
        .unwrap();
        let sig = signature(
            &Request {
                method: "POST",
                path: "/",
                query: None,
                headers: &h,
                payload_sha256: &payload,
            },
            &claim,
            SECRET,
        );
        h.insert(
            "authorization",
            HeaderValue::from_str(&auth_value(&scope, signed, &sig)).unwrap(),
        );
        Signed {
            headers: h,
            payload,
        }
    }

    impl Signed {
        fn req(&self) -> Request<'_> {
            Request {
                method: "POST",
                path: "/",
                query: None,
                headers: &self.headers,
                payload_sha256: &self.payload,
            }
        }
        fn verify(&self, secret: &str, now: i64) -> Result<(), SigV4Error> {
            let req = self.req();
            verify(&req, &parse(&req)?, secret, now)
        }
    }

    #[test]
    fn round_trip_and_tampering() {
        let s = signed_request(b"{}", "20150830T123600Z");
        assert_eq!(s.verify(SECRET, T2015), Ok(()));

        // Body swapped after signing.
        let other = sha_hex(b"{\"registryIds\":[\"1\"]}");
        let req = Request {
            payload_sha256: &other,
            ..s.req()
        };
        assert_eq!(
            verify(&req, &parse(&req).unwrap(), SECRET, T2015),
            Err(SigV4Error::Mismatch)
        );

        // Signed header changed.
        let mut h = s.headers.clone();
        h.insert(
            "x-amz-target",
            HeaderValue::from_static("AmazonEC2ContainerRegistry_V20150921.DeleteRepository"),
        );
        let req = Request {
            headers: &h,
            ..s.req()
        };
        assert_eq!(
            verify(&req, &parse(&req).unwrap(), SECRET, T2015),
            Err(SigV4Error::Mismatch)
        );

        // Unsigned header added: still fine, it was never covered.
        let mut h = s.headers.clone();
        h.insert("user-agent", HeaderValue::from_static("aws-cli/2"));
        let req = Request {
            headers: &h,
            ..s.req()
        };
        assert_eq!(verify(&req, &parse(&req).unwrap(), SECRET, T2015), Ok(()));

        // Signed header removed.
        let mut h = s.headers.clone();
        h.remove("content-type");
        let req = Request {
            headers: &h,
            ..s.req()
        };
        assert_eq!(
            verify(&req, &parse(&req).unwrap(), SECRET, T2015),
            Err(SigV4Error::Mismatch)
        );

        // Method and path are covered too.
        let req = Request {
            method: "PUT",
            ..s.req()
        };
        assert_eq!(
            verify(&req, &parse(&req).unwrap(), SECRET, T2015),
            Err(SigV4Error::Mismatch)
        );
        let req = Request {
            path: "/x",
            ..s.req()
        };
        assert_eq!(
            verify(&req, &parse(&req).unwrap(), SECRET, T2015),
            Err(SigV4Error::Mismatch)
        );

        // Wrong secret; garbage signature.
        assert_eq!(s.verify("not-the-secret", T2015), Err(SigV4Error::Mismatch));
        let claim = Claim {
            signature: "zz".into(),
            ..parse(&s.req()).unwrap()
        };
        assert_eq!(
            verify(&s.req(), &claim, SECRET, T2015),
            Err(SigV4Error::Mismatch)
        );
    }

    #[test]
    fn clock_skew() {
        let s = signed_request(b"{}", "20150830T123600Z");
        assert_eq!(s.verify(SECRET, T2015 + 900), Ok(()));
        assert_eq!(s.verify(SECRET, T2015 - 900), Ok(()));
        assert_eq!(
            s.verify(SECRET, T2015 + 1200),
            Err(SigV4Error::Expired(
                "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T125600Z - 15 min.)".into()
            ))
        );
        assert_eq!(
            s.verify(SECRET, T2015 - 1200),
            Err(SigV4Error::Expired(
                "Signature not yet current: 20150830T123600Z is still later than 20150830T123100Z (20150830T121600Z + 15 min.)".into()
            ))
        );
        // The time is checked before the key: a stale request with a wrong
        // secret reports the clock.
        assert!(matches!(
            s.verify("wrong", T2015 + 1200),
            Err(SigV4Error::Expired(_))
        ));
    }

    #[test]
    fn content_sha256_header() {
        // Signed as UNSIGNED-PAYLOAD: any body verifies, and the caller can tell.
        let mut h = headers(&[
            ("host", "localhost:5000"),
            ("x-amz-date", "20150830T123600Z"),
            ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
            (
                "authorization",
                &auth_value(
                    "20150830/us-east-1/ecr/aws4_request",
                    "host;x-amz-content-sha256;x-amz-date",
                    "00",
                ),
            ),
        ]);
        let body = sha_hex(b"anything");
        let req = Request {
            method: "PUT",
            path: "/",
            query: None,
            headers: &h,
            payload_sha256: &body,
        };
        let claim = parse(&req).unwrap();
        let sig = signature(&req, &claim, SECRET);
        let claim = Claim {
            signature: sig.clone(),
            ..claim
        };
        assert!(payload_is_unsigned(&req));
        assert_eq!(verify(&req, &claim, SECRET, T2015), Ok(()));
        let other = sha_hex(b"else");
        assert_eq!(
            verify(
                &Request {
                    payload_sha256: &other,
                    ..req
                },
                &claim,
                SECRET,
                T2015
            ),
            Ok(())
        );

        // A header hash that matches the body is used as sent (upper case here).
        h.insert(
            "x-amz-content-sha256",
            HeaderValue::from_str(&body.to_ascii_uppercase()).unwrap(),
        );
        let req = Request {
            method: "PUT",
            path: "/",
            query: None,
            headers: &h,
            payload_sha256: &body,
        };
        let claim = parse(&req).unwrap();
        let claim = Claim {
            signature: signature(&req, &claim, SECRET),
            ..claim
        };
        assert!(!payload_is_unsigned(&req));
        assert_eq!(verify(&req, &claim, SECRET, T2015), Ok(()));
        // ...and a body that does not match it fails, whatever the header says.
        assert_eq!(
            verify(
                &Request {
                    payload_sha256: &other,
                    ..req
                },
                &claim,
                SECRET,
                T2015
            ),
            Err(SigV4Error::Mismatch)
        );
    }

    #[test]
    fn presign_round_trip_and_expiry() {
        let p = Presign {
            access_key_id: AKID,
            secret_access_key: SECRET,
            region: "eu-west-1",
            service: "ecr",
            now_unix: T2015,
            expires: 600,
            session_token: None,
        };
        let path = "/v2/team/app/blobs/sha256:0123";
        let q = presign_query("GET", "registry.example:8443", path, Some("x=1"), &p);
        let h = headers(&[("host", "registry.example:8443")]);
        let req = Request {
            method: "GET",
            path,
            query: Some(&q),
            headers: &h,
            payload_sha256: EMPTY_SHA256,
        };
        let claim = parse(&req).unwrap();
        assert_eq!(claim.signed_headers, vec!["host".to_string()]);
        assert_eq!(verify(&req, &claim, SECRET, T2015 + 600), Ok(()));
        assert_eq!(
            verify(&req, &claim, SECRET, T2015 + 601),
            Err(SigV4Error::Expired("Request has expired".into()))
        );
        assert_eq!(
            verify(&req, &claim, "wrong", T2015),
            Err(SigV4Error::Mismatch)
        );
        // Another host (a URL lifted to another registry) fails.
        let h2 = headers(&[("host", "evil.example")]);
        let req2 = Request {
            headers: &h2,
            ..req
        };
        assert_eq!(
            verify(&req2, &claim, SECRET, T2015),
            Err(SigV4Error::Mismatch)
        );
    }

    #[test]
    fn missing_and_incomplete() {
        let incomplete = |pairs: &[(&str, &str)], query: Option<&str>| -> String {
            let h = headers(pairs);
            match parse(&Request {
                method: "GET",
                path: "/",
                query,
                headers: &h,
                payload_sha256: EMPTY_SHA256,
            }) {
                Err(SigV4Error::Incomplete(m)) => m,
                other => panic!("expected Incomplete, got {other:?}"),
            }
        };
        let date = ("x-amz-date", "20150830T123600Z");
        let host = ("host", "h");

        // Nothing at all, or presigned-looking parameters without X-Amz-Algorithm.
        let h = headers(&[host, date]);
        let req = Request {
            method: "POST",
            path: "/",
            query: Some("X-Amz-Signature=ab"),
            headers: &h,
            payload_sha256: EMPTY_SHA256,
        };
        assert_eq!(parse(&req), Err(SigV4Error::Missing));
        assert_eq!(
            SigV4Error::Missing.to_string(),
            "Missing Authentication Token"
        );

        let m = incomplete(
            &[
                host,
                date,
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab",
                ),
            ],
            None,
        );
        assert!(m.starts_with("Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256"), "{m}");
        let m = incomplete(
            &[
                host,
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request",
                ),
            ],
            None,
        );
        assert!(m.contains("requires 'Signature' parameter"), "{m}");
        assert!(m.contains("requires 'SignedHeaders' parameter"), "{m}");
        assert!(
            m.contains("either a 'X-Amz-Date' or a 'Date' header"),
            "{m}"
        );

        let m = incomplete(
            &[
                host,
                date,
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=A/20150830/r/s, SignedHeaders=host, Signature=ab",
                ),
            ],
            None,
        );
        assert!(m.starts_with("Credential should be of the form"), "{m}");
        // A region no registry may be addressed by (the public registries' key).
        let m = incomplete(&[host, date, ("authorization", "AWS4-HMAC-SHA256 Credential=A/20150830/@public/s/aws4_request, SignedHeaders=host, Signature=ab")], None);
        assert!(m.contains("valid region, not '@public'"), "{m}");
        let m = incomplete(&[host, date, ("authorization", "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws5_request, SignedHeaders=host, Signature=ab")], None);
        assert!(
            m.contains("valid terminator: 'aws4_request', not 'aws5_request'"),
            "{m}"
        );
        let m = incomplete(&[host, date, ("authorization", "AWS4-HMAC-SHA256 Credential=A/20150831/r/s/aws4_request, SignedHeaders=host, Signature=ab")], None);
        assert_eq!(m, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'.");
        let m = incomplete(&[host, date, ("authorization", "AWS4-HMAC-SHA256 Credential=A/2015-8-3/r/s/aws4_request, SignedHeaders=host, Signature=ab")], None);
        assert!(m.starts_with("Invalid credential date"), "{m}");
        let m = incomplete(&[host, date, ("authorization", "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=x-amz-date, Signature=ab")], None);
        assert_eq!(
            m,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        );
        let m = incomplete(&[host, date, ("authorization", "AWS4-ECDSA-P256-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature=ab")], None);
        assert!(m.starts_with("Unsupported AWS 'algorithm'"), "{m}");
        let m = incomplete(&[host, date, ("authorization", "Basic dXNlcjpwYXNz")], None);
        assert!(m.contains("not a valid key=value pair"), "{m}");
        let m = incomplete(&[host, ("x-amz-date", "2015-08-30T12:36:00Z"), ("authorization", "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature=ab")], None);
        assert!(
            m.starts_with("Date must be in ISO-8601 'basic format'"),
            "{m}"
        );

        // Presigned: both mechanisms, missing parameters, bad lifetimes.
        let base = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20150830%2Fr%2Fs%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Signature=ab";
        let m = incomplete(
            &[host, ("authorization", "AWS4-HMAC-SHA256 x=y")],
            Some(base),
        );
        assert!(m.starts_with("Only one auth mechanism allowed"), "{m}");
        let m = incomplete(&[host], Some(base));
        assert!(m.contains("'X-Amz-Expires'"), "{m}");
        let m = incomplete(&[host], Some(&format!("{base}&X-Amz-Expires=604801")));
        assert!(m.contains("less than a week"), "{m}");
        let m = incomplete(&[host], Some(&format!("{base}&X-Amz-Expires=0")));
        assert!(m.contains("X-Amz-Expires"), "{m}");
        let m = incomplete(
            &[host],
            Some(&base.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1")),
        );
        assert!(m.contains("X-Amz-Algorithm only supports"), "{m}");
        let h = headers(&[host]);
        let ok = format!("{base}&X-Amz-Expires=604800");
        let claim = parse(&Request {
            method: "GET",
            path: "/",
            query: Some(&ok),
            headers: &h,
            payload_sha256: EMPTY_SHA256,
        })
        .unwrap();
        assert_eq!(
            (
                claim.access_key_id.as_str(),
                claim.region.as_str(),
                claim.service.as_str()
            ),
            ("A", "r", "s")
        );
        assert_eq!(claim.expires, Some(604_800));
    }
}
