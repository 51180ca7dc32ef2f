//! SigV4-signed calls to berth's admin API (`/berth/admin/...`), as
//! `berth admin` and `berth gc` make them, for tests that check answers
//! the CLI does not show.

use berth_iam::sigv4::{self, SigningKey};
use http::{HeaderMap, HeaderValue};
use sha2::Digest as _;

/// Calls `method path` on the admin API signed as (`key_id`, `secret`);
/// returns the status and the JSON body (`Null` when empty).
pub fn call(
    client: &reqwest::blocking::Client,
    base_url: &str,
    key: (&str, &str),
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    call_signed_for(client, base_url, key, "berth", method, path, body)
}

/// As [`call`], with the signature scoped to `service` (tests of the scope check).
pub fn call_signed_for(
    client: &reqwest::blocking::Client,
    base_url: &str,
    (key_id, secret): (&str, &str),
    service: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let base = base_url.trim_end_matches('/');
    let url = reqwest::Url::parse(&format!("{base}{path}")).expect("a URL");
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap()),
        None => url.host_str().unwrap().to_string(),
    };
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(&host).unwrap());
    if body.is_some() {
        headers.insert("content-type", HeaderValue::from_static("application/json"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signed = sigv4::sign_headers(
        method,
        url.path(),
        url.query(),
        &headers,
        &hex::encode(sha2::Sha256::digest(bytes.as_bytes())),
        &SigningKey {
            access_key_id: key_id,
            secret_access_key: secret,
            region: "us-east-1",
            service,
        },
        now,
    );
    headers.insert(
        "x-amz-date",
        HeaderValue::from_str(&signed.amz_date).unwrap(),
    );
    headers.insert(
        "authorization",
        HeaderValue::from_str(&signed.authorization).unwrap(),
    );
    let resp = client
        .request(method.parse().expect("an HTTP method"), url)
        .headers(headers)
        .body(bytes)
        .send()
        .expect("admin API request");
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    let json = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    };
    (status, json)
}
