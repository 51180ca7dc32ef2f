//! SigV4-signed ECR API calls from tests and the fixture (the `aws` CLI and
//! boto3 are tested against berth separately; this is the fixture's own
//! way in, signed with the same rules as `berth_iam::sigv4` verifies).

use base64::Engine;
use berth_iam::sigv4::{self, SigningKey};
use http::{HeaderMap, HeaderValue};
use sha2::Digest as _;

/// Calls ECR operation `op` with `input` as (`key_id`, `secret`) in `region`.
pub fn call(
    client: &reqwest::blocking::Client,
    base_url: &str,
    key: (&str, &str),
    region: &str,
    op: &str,
    input: &serde_json::Value,
) -> Result<serde_json::Value, (u16, serde_json::Value)> {
    call_with_token(client, base_url, key, None, region, op, input)
}

/// As `call`, with temporary credentials' session token
/// (`X-Amz-Security-Token`, signed as the SDKs sign it).
pub fn call_with_token(
    client: &reqwest::blocking::Client,
    base_url: &str,
    (key_id, secret): (&str, &str),
    session_token: Option<&str>,
    region: &str,
    op: &str,
    input: &serde_json::Value,
) -> Result<serde_json::Value, (u16, serde_json::Value)> {
    let body = input.to_string();
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
    }
    .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(&host).unwrap());
    headers.insert(
        "x-amz-target",
        HeaderValue::from_str(&format!("AmazonEC2ContainerRegistry_V20150921.{op}")).unwrap(),
    );
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Some(t) = session_token {
        headers.insert("x-amz-security-token", HeaderValue::from_str(t).unwrap());
    }
    let payload = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    let signed = sigv4::sign_headers(
        "POST",
        "/",
        None,
        &headers,
        &payload,
        &SigningKey {
            access_key_id: key_id,
            secret_access_key: secret,
            region,
            service: "ecr",
        },
        now,
    );
    headers.insert(
        "x-amz-date",
        HeaderValue::from_str(&signed.amz_date).unwrap(),
    );
    let auth = signed.authorization;
    let mut rb = client.post(format!("{}/", base_url.trim_end_matches('/')));
    for (k, v) in &headers {
        if k != "host" {
            rb = rb.header(k, v);
        }
    }
    let resp = rb
        .header("authorization", auth)
        .body(body)
        .send()
        .expect("ECR API request");
    let status = resp.status().as_u16();
    let json: serde_json::Value = resp.json().unwrap_or(serde_json::Value::Null);
    if status == 200 {
        Ok(json)
    } else {
        Err((status, json))
    }
}

/// The `docker login` password from GetAuthorizationToken.
pub fn login_password(
    client: &reqwest::blocking::Client,
    base_url: &str,
    key: (&str, &str),
) -> String {
    login_password_with_token(client, base_url, key, None)
}

/// As `login_password`, under temporary credentials.
pub fn login_password_with_token(
    client: &reqwest::blocking::Client,
    base_url: &str,
    key: (&str, &str),
    session_token: Option<&str>,
) -> String {
    let out = call_with_token(
        client,
        base_url,
        key,
        session_token,
        "us-east-1",
        "GetAuthorizationToken",
        &serde_json::json!({}),
    )
    .unwrap_or_else(|e| panic!("GetAuthorizationToken failed: {e:?}"));
    let token = out["authorizationData"][0]["authorizationToken"]
        .as_str()
        .expect("a token");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .expect("base64");
    String::from_utf8(decoded)
        .unwrap()
        .strip_prefix("AWS:")
        .expect("user AWS")
        .to_string()
}
