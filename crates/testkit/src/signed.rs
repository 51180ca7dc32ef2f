//! One SigV4-signed `POST /` as the AWS SDKs send it: what the ECR JSON
//! calls (`ecr.rs`) and the Query calls (`query.rs`) share.

use berth_iam::sigv4::{self, SigningKey};
use http::{HeaderMap, HeaderValue};
use sha2::Digest as _;

/// Who signs: a key, its session token when it is temporary, the region
/// and the service the signature is scoped to.
pub struct Signer<'a> {
    pub key: (&'a str, &'a str),
    pub session_token: Option<&'a str>,
    pub region: &'a str,
    pub service: &'a str,
}

/// Sends `body` to `<base_url>/` with `headers` (`content-type`, and
/// `x-amz-target` for JSON APIs), signed by `signer`.
pub fn post(
    client: &reqwest::blocking::Client,
    base_url: &str,
    signer: &Signer<'_>,
    headers: &[(&'static str, String)],
    body: String,
) -> reqwest::blocking::Response {
    let host = base_url
        .split_once("://")
        .map(|(_, h)| h)
        .unwrap_or(base_url)
        .trim_end_matches('/');
    // A scheme's default port is not part of the host clients send.
    let host = match base_url.split_once("://") {
        Some(("https", _)) => host.strip_suffix(":443").unwrap_or(host),
        Some(("http", _)) => host.strip_suffix(":80").unwrap_or(host),
        _ => host,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut signed_headers = HeaderMap::new();
    signed_headers.insert("host", HeaderValue::from_str(host).unwrap());
    for (k, v) in headers {
        signed_headers.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    if let Some(t) = signer.session_token {
        signed_headers.insert("x-amz-security-token", HeaderValue::from_str(t).unwrap());
    }
    let payload = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    let signed = sigv4::sign_headers(
        "POST",
        "/",
        None,
        &signed_headers,
        &payload,
        &SigningKey {
            access_key_id: signer.key.0,
            secret_access_key: signer.key.1,
            region: signer.region,
            service: signer.service,
        },
        now,
    );
    let mut rb = client
        .post(format!("{}/", base_url.trim_end_matches('/')))
        .header("x-amz-date", signed.amz_date)
        .header("authorization", signed.authorization)
        .body(body);
    for (k, v) in &signed_headers {
        if k != "host" {
            rb = rb.header(k, v);
        }
    }
    rb.send().expect("signed request")
}

/// One AWS JSON 1.1 call (`X-Amz-Target: <target>`): the output's JSON, or
/// the status and the error's JSON.
pub fn json_call(
    client: &reqwest::blocking::Client,
    base_url: &str,
    signer: &Signer<'_>,
    target: &str,
    input: &serde_json::Value,
) -> Result<serde_json::Value, (u16, serde_json::Value)> {
    let resp = post(
        client,
        base_url,
        signer,
        &[
            ("x-amz-target", target.to_string()),
            ("content-type", "application/x-amz-json-1.1".into()),
        ],
        input.to_string(),
    );
    let status = resp.status().as_u16();
    let json: serde_json::Value = resp.json().unwrap_or(serde_json::Value::Null);
    if status == 200 {
        Ok(json)
    } else {
        Err((status, json))
    }
}
