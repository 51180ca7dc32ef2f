//! One SigV4-signed call to an AWS JSON 1.1 API (`X-Amz-Target`) of an
//! endpoint berth talks to as a client: an external KMS holding the root
//! (`kms_root.rs`), another berth's ECR API for replication
//! (`remote.rs`).

use anyhow::Context;
use serde_json::Value;
use sha2::Digest as _;

/// Credentials berth signs with.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ..)", self.access_key_id)
    }
}

/// The answer of a call that was made: its status and JSON body (`Null`
/// when the body is not JSON).
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub body: Value,
}

impl Answer {
    /// The AWS error's name (`__type` without its namespace) and message.
    pub fn error(&self) -> (&str, &str) {
        let kind = self.body["__type"].as_str().unwrap_or("error");
        let kind = kind.rsplit('#').next().unwrap_or(kind);
        let message = self.body["message"]
            .as_str()
            .or(self.body["Message"].as_str())
            .unwrap_or("");
        (kind, message)
    }
}

/// Calls `target` (`TrentService.Decrypt`, `AmazonEC2ContainerRegistry_V20150921.CreateRepository`)
/// of `service` at `endpoint` in `region`. An error only when the call
/// could not be made (unreachable, not a URL).
// One AWS JSON request is these eight things; a struct for them would
// only be built at the call and taken apart here.
#[allow(clippy::too_many_arguments)]
pub async fn call(
    client: &reqwest::Client,
    endpoint: &str,
    region: &str,
    service: &str,
    target: &str,
    credentials: &Credentials,
    input: &Value,
    marks: &[(&'static str, &str)],
) -> anyhow::Result<Answer> {
    let body = input.to_string();
    let url: reqwest::Url = format!("{}/", endpoint.trim_end_matches('/'))
        .parse()
        .with_context(|| format!("{endpoint:?} is not a URL"))?;
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::HOST, host.parse()?);
    headers.insert("content-type", "application/x-amz-json-1.1".parse()?);
    headers.insert("x-amz-target", target.parse()?);
    // Signed with the rest: berth's own marks (`X-Berth-Replica`).
    for (name, value) in marks {
        headers.insert(*name, value.parse()?);
    }
    if let Some(t) = &credentials.session_token {
        headers.insert("x-amz-security-token", t.parse()?);
    }
    let signed = berth_iam::sigv4::sign_headers(
        "POST",
        "/",
        None,
        &headers,
        &hex::encode(sha2::Sha256::digest(body.as_bytes())),
        &berth_iam::sigv4::SigningKey {
            access_key_id: &credentials.access_key_id,
            secret_access_key: &credentials.secret_access_key,
            region,
            service,
        },
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64,
    );
    let mut req = client
        .post(url)
        .header("x-amz-date", signed.amz_date)
        .header("authorization", signed.authorization)
        .body(body);
    for (k, v) in &headers {
        if k != http::header::HOST {
            req = req.header(k, v);
        }
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach {endpoint}"))?;
    let status = resp.status();
    let body = resp.json().await.unwrap_or(Value::Null);
    Ok(Answer { status, body })
}
