//! How CLI commands reach a running server: its admin API over HTTP on the
//! server's own listener, every request SigV4-signed (service `berth`) with
//! the credentials the `aws` CLI would use, so that no separate secret or
//! login step exists for berth's own commands.

use anyhow::{anyhow, bail, Context};
use berth_iam::sigv4::{self, SigningKey};
use http::{HeaderMap, HeaderValue, Method};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sha2::Digest as _;
use std::path::PathBuf;

/// The admin API's SigV4 service name (`crates/server/src/admin.rs`).
use berth_server::admin_api::SERVICE;

/// The server to call: `--endpoint`, else `BERTH_LISTEN`'s address (a
/// server started in the same environment), else berth's default address.
pub fn endpoint(given: Option<&str>) -> String {
    match given {
        Some(e) => e.trim_end_matches('/').to_string(),
        None => format!(
            "http://{}",
            std::env::var("BERTH_LISTEN").unwrap_or_else(|_| "127.0.0.1:5000".into())
        ),
    }
}

/// The region to sign for: any valid name works on the admin API.
pub fn region(given: Option<&str>) -> String {
    given
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
        .or_else(|| {
            std::env::var("AWS_DEFAULT_REGION")
                .ok()
                .filter(|r| !r.is_empty())
        })
        .unwrap_or_else(|| "us-east-1".into())
}

/// An access key, and where it was found (for error messages).
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Temporary credentials' session token (`AWS_SESSION_TOKEN`, or
    /// `aws_session_token` in the profile).
    pub session_token: Option<String>,
    pub source: String,
}

/// The `aws` CLI's lookup, in its order: `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY`; else the profile `AWS_PROFILE` (default
/// `default`) of the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`,
/// default `~/.aws/credentials`), then of the config file (`AWS_CONFIG_FILE`,
/// default `~/.aws/config`, where it is `[profile NAME]`).
pub fn credentials() -> anyhow::Result<Credentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => {
            return Ok(Credentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: var("AWS_SESSION_TOKEN"),
                source: "the environment (AWS_ACCESS_KEY_ID)".into(),
            })
        }
        (None, None) => {}
        _ => bail!("set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither"),
    }
    let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let home = var("HOME").map(PathBuf::from);
    let aws_file = |env: &str, name: &str| {
        var(env)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let credentials_file = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config_file = aws_file("AWS_CONFIG_FILE", "config");
    let mut tried = vec!["AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (not set)".to_string()];
    for (file, section) in [
        (&credentials_file, profile.clone()),
        (
            &config_file,
            if profile == "default" {
                profile.clone()
            } else {
                format!("profile {profile}")
            },
        ),
    ] {
        let Some(file) = file else { continue };
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let keys = ini_section(&text, &section);
                let get = |k: &str| {
                    keys.iter()
                        .find(|(name, _)| name == k)
                        .map(|(_, v)| v.clone())
                };
                match (get("aws_access_key_id"), get("aws_secret_access_key")) {
                    (Some(id), Some(secret)) => {
                        return Ok(Credentials {
                            access_key_id: id,
                            secret_access_key: secret,
                            session_token: get("aws_session_token"),
                            source: format!("[{section}] in {}", file.display()),
                        })
                    }
                    _ => tried.push(format!("[{section}] in {} (no key there)", file.display())),
                }
            }
            Err(e) => tried.push(format!("{} ({e})", file.display())),
        }
    }
    bail!(
        "no AWS credentials to sign the request with; tried {}.\n\
         berth wrote the default account's admin key to root-credentials in its data dir on first start; use it with\n  \
         export AWS_SHARED_CREDENTIALS_FILE=./berth-data/root-credentials AWS_PROFILE=berth\n\
         or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        tried.join(", ")
    )
}

/// The `key = value` lines of `[section]` in an INI file as the AWS CLI
/// writes them (`#` and `;` comments, keys case-insensitive).
fn ini_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            continue;
        }
        if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
    }
    out
}

/// For requests without a body.
pub const NO_BODY: Option<&()> = None;

/// A client of one server's admin API.
pub struct AdminClient {
    http: reqwest::Client,
    pub endpoint: String,
    region: String,
    creds: Credentials,
}

/// An answer of the admin API: its status and JSON body.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl AdminClient {
    pub fn new(endpoint: String, region: String) -> anyhow::Result<AdminClient> {
        Ok(AdminClient {
            http: reqwest::Client::new(),
            endpoint,
            region,
            creds: credentials()?,
        })
    }

    /// Sends a signed request; any status is returned as it is.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&impl Serialize>,
    ) -> anyhow::Result<Answer> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.endpoint))
            .with_context(|| format!("'{}' is not a URL", self.endpoint))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => bail!("'{}' names no host", self.endpoint),
        };
        let bytes = match body {
            Some(b) => serde_json::to_string(b)?,
            None => String::new(),
        };
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_str(&host)?);
        if body.is_some() {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Some(token) = &self.creds.session_token {
            headers.insert("x-amz-security-token", HeaderValue::from_str(token)?);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the system clock is before 1970")?
            .as_secs() as i64;
        // Signed as it goes on the wire: the URL's own path and query text.
        let signed = sigv4::sign_headers(
            method.as_str(),
            url.path(),
            url.query(),
            &headers,
            &hex::encode(sha2::Sha256::digest(bytes.as_bytes())),
            &SigningKey {
                access_key_id: &self.creds.access_key_id,
                secret_access_key: &self.creds.secret_access_key,
                region: &self.region,
                service: SERVICE,
            },
            now,
        );
        headers.insert("x-amz-date", HeaderValue::from_str(&signed.amz_date)?);
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&signed.authorization)?,
        );
        let resp = self
            .http
            .request(method, url)
            .headers(headers)
            .body(bytes)
            .send()
            .await
            .with_context(|| {
                format!(
                    "no berth server answers at {}; give its address with --endpoint (or BERTH_ENDPOINT)",
                    self.endpoint
                )
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer { status, body })
    }

    /// Sends a signed request; the answer is read as `T` (the admin API's
    /// types, `berth_server::admin_api`), and a refusal becomes an error
    /// that says why.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&impl Serialize>,
    ) -> anyhow::Result<T> {
        let answer = self.send(method, path, query, body).await?;
        if !(200..300).contains(&answer.status) {
            return Err(self.refusal(&answer));
        }
        serde_json::from_value(answer.body).with_context(|| {
            format!(
                "{} answered {path} with JSON this client does not understand (is it the same berth version?)",
                self.endpoint
            )
        })
    }

    /// What a refusal means, with what the caller can do about it.
    pub fn refusal(&self, answer: &Answer) -> anyhow::Error {
        let kind = answer.body["__type"].as_str().unwrap_or("");
        let message = answer.body["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| answer.body.to_string());
        let hint = match kind {
            "UnrecognizedClientException" | "InvalidSignatureException" => format!(
                "\nsigned with access key {} from {}; is it a key of this server ({})?",
                self.creds.access_key_id, self.creds.source, self.endpoint
            ),
            "AccessDeniedException" => format!(
                "\nsigned with access key {} from {}",
                self.creds.access_key_id, self.creds.source
            ),
            _ => String::new(),
        };
        anyhow!(
            "{} answered {} {kind}: {message}{hint}",
            self.endpoint,
            answer.status
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_are_read_as_the_aws_cli_writes_them() {
        let text = "# comment\n[default]\naws_access_key_id = AKIADEFAULT\n\n[berth]\nAWS_ACCESS_KEY_ID=AKIABERTH\n; note\naws_secret_access_key = a/b+c=\n[other]\naws_access_key_id = X\n";
        assert_eq!(
            ini_section(text, "berth"),
            [
                ("aws_access_key_id".to_string(), "AKIABERTH".to_string()),
                ("aws_secret_access_key".to_string(), "a/b+c=".to_string())
            ]
        );
        assert_eq!(ini_section(text, "default").len(), 1);
        assert!(ini_section(text, "missing").is_empty());
    }

    #[test]
    fn endpoints_lose_their_trailing_slash() {
        assert_eq!(endpoint(Some("http://h:1/")), "http://h:1");
    }
}
