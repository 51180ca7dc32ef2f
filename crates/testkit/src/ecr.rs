//! SigV4-signed ECR API calls from tests and the fixture (the `aws` CLI and
//! boto3 are tested against berth separately; this is the fixture's own
//! way in, signed with the same rules as `berth_iam::sigv4` verifies).

use base64::Engine;

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
    key: (&str, &str),
    session_token: Option<&str>,
    region: &str,
    op: &str,
    input: &serde_json::Value,
) -> Result<serde_json::Value, (u16, serde_json::Value)> {
    crate::signed::json_call(
        client,
        base_url,
        &crate::signed::Signer {
            key,
            session_token,
            region,
            service: "ecr",
        },
        &format!("AmazonEC2ContainerRegistry_V20150921.{op}"),
        input,
    )
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
