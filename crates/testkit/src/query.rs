//! SigV4-signed calls of the AWS Query APIs (IAM, STS) from tests and the
//! benchmark: a form body, the answer's status and XML. The `aws` CLI and
//! boto3 are tested against berth separately; this is for harnesses that
//! must not depend on them.

use berth_iam::sigv4::{self, SigningKey};
use http::{HeaderMap, HeaderValue};
use sha2::Digest as _;

/// Calls `Action=<params…>` of `service` (`iam`: `2010-05-08`, `sts`:
/// `2011-06-15`) as (`key_id`, `secret`), with a session token when given.
pub fn call(
    client: &reqwest::blocking::Client,
    base_url: &str,
    (key_id, secret): (&str, &str),
    session_token: Option<&str>,
    service: &str,
    params: &[(&str, &str)],
) -> (u16, String) {
    let version = if service == "sts" {
        "2011-06-15"
    } else {
        "2010-05-08"
    };
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Version", version);
    for (k, v) in params {
        form.append_pair(k, v);
    }
    let body = form.finish();
    let host = base_url
        .split_once("://")
        .map(|(_, h)| h)
        .unwrap_or(base_url)
        .trim_end_matches('/')
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(&host).unwrap());
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
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
            region: "us-east-1",
            service,
        },
        now,
    );
    let mut rb = client
        .post(format!("{}/", base_url.trim_end_matches('/')))
        .header("x-amz-date", signed.amz_date)
        .header("authorization", signed.authorization)
        .body(body);
    for (k, v) in &headers {
        if k != "host" {
            rb = rb.header(k, v);
        }
    }
    let r = rb.send().expect("Query API request");
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// The text of the first `<name>` element of an answer.
pub fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// Temporary credentials of a new session of `role_arn`, assumed as `key`:
/// (access key id, secret, session token).
pub fn assume_role(
    client: &reqwest::blocking::Client,
    base_url: &str,
    key: (&str, &str),
    role_arn: &str,
    session: &str,
) -> (String, String, String) {
    let (status, xml) = call(
        client,
        base_url,
        key,
        None,
        "sts",
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", role_arn),
            ("RoleSessionName", session),
        ],
    );
    assert_eq!(status, 200, "AssumeRole: {xml}");
    let get = |n: &str| element(&xml, n).expect(n).to_string();
    (
        get("AccessKeyId"),
        get("SecretAccessKey"),
        get("SessionToken"),
    )
}
