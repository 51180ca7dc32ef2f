//! The root of encryption at rest kept in an external KMS (issue 21, item
//! 6): with `BERTH_ROOT_KMS_KEY` set, a deployment's key-encryption root is
//! a data key of that KMS key (AWS KMS, or another berth: anything that
//! speaks the KMS API), recorded wrapped in the metadata store
//! (`KmsStore::kms_root`) and unwrapped by the KMS at every start. Then the
//! data dir, the bucket and `server.key` together still open nothing: the
//! operator can cut a deployment off by disabling the key.
//!
//! Settings (every command that opens the stores reads them, so offline
//! fsck, gc and migrate need the KMS too):
//! - `BERTH_ROOT_KMS_KEY`: the key's ARN (its region is the KMS's);
//! - `BERTH_ROOT_KMS_ENDPOINT`: default `https://kms.<region>.amazonaws.com`;
//! - `BERTH_ROOT_KMS_ACCESS_KEY_ID` / `BERTH_ROOT_KMS_SECRET_ACCESS_KEY`
//!   (and `BERTH_ROOT_KMS_SESSION_TOKEN`), else `AWS_ACCESS_KEY_ID` /
//!   `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`.

use anyhow::{bail, Context};
use base64::Engine as _;
use berth_iam::ServerKey;
use berth_store::MetadataStore;
use serde_json::{json, Value};
use sha2::Digest as _;

/// The encryption context the root is wrapped and unwrapped under.
const CONTEXT: (&str, &str) = ("berth", "kek-root");

pub struct RootKms {
    key: String,
    region: String,
    endpoint: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl RootKms {
    /// The settings, if `BERTH_ROOT_KMS_KEY` is set.
    pub fn from_env() -> anyhow::Result<Option<RootKms>> {
        let Some(key) = env("BERTH_ROOT_KMS_KEY") else {
            return Ok(None);
        };
        let region = key
            .strip_prefix("arn:")
            .and_then(|r| r.split(':').nth(2))
            .filter(|r| !r.is_empty())
            .with_context(|| {
                format!("BERTH_ROOT_KMS_KEY must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not {key:?}")
            })?
            .to_string();
        let endpoint = env("BERTH_ROOT_KMS_ENDPOINT")
            .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"));
        let (access_key_id, secret_access_key, session_token) =
            match env("BERTH_ROOT_KMS_ACCESS_KEY_ID") {
                Some(id) => (
                    id,
                    env("BERTH_ROOT_KMS_SECRET_ACCESS_KEY")
                        .context("BERTH_ROOT_KMS_ACCESS_KEY_ID is set without BERTH_ROOT_KMS_SECRET_ACCESS_KEY")?,
                    env("BERTH_ROOT_KMS_SESSION_TOKEN"),
                ),
                None => (
                    env("AWS_ACCESS_KEY_ID").context(
                        "BERTH_ROOT_KMS_KEY needs credentials for the KMS: BERTH_ROOT_KMS_ACCESS_KEY_ID and BERTH_ROOT_KMS_SECRET_ACCESS_KEY, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                    )?,
                    env("AWS_SECRET_ACCESS_KEY")
                        .context("AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY")?,
                    env("AWS_SESSION_TOKEN"),
                ),
            };
        Ok(Some(RootKms {
            key,
            region,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            access_key_id,
            secret_access_key,
            session_token,
        }))
    }

    /// One KMS call, SigV4-signed; its output, or an error naming the KMS's
    /// exception and message.
    async fn call(&self, op: &str, input: &Value) -> anyhow::Result<Value> {
        let body = input.to_string();
        let url: reqwest::Url = format!("{}/", self.endpoint)
            .parse()
            .with_context(|| format!("BERTH_ROOT_KMS_ENDPOINT {:?} is not a URL", self.endpoint))?;
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::HOST, host.parse()?);
        headers.insert("content-type", "application/x-amz-json-1.1".parse()?);
        headers.insert("x-amz-target", format!("TrentService.{op}").parse()?);
        if let Some(t) = &self.session_token {
            headers.insert("x-amz-security-token", t.parse()?);
        }
        let signed = berth_iam::sigv4::sign_headers(
            "POST",
            "/",
            None,
            &headers,
            &hex::encode(sha2::Sha256::digest(body.as_bytes())),
            &berth_iam::sigv4::SigningKey {
                access_key_id: &self.access_key_id,
                secret_access_key: &self.secret_access_key,
                region: &self.region,
                service: "kms",
            },
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs() as i64,
        );
        let mut req = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?
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
            .with_context(|| format!("cannot reach the KMS at {}", self.endpoint))?;
        let status = resp.status();
        let out: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let kind = out["__type"].as_str().unwrap_or("error");
            let kind = kind.rsplit('#').next().unwrap_or(kind);
            let message = out["message"]
                .as_str()
                .or(out["Message"].as_str())
                .unwrap_or("");
            bail!(
                "the KMS at {} refused {op} with key {}: {kind}: {message}",
                self.endpoint,
                self.key
            );
        }
        Ok(out)
    }

    async fn generate(&self) -> anyhow::Result<(String, [u8; 32])> {
        let out = self
            .call(
                "GenerateDataKey",
                &json!({"KeyId": self.key, "KeySpec": "AES_256",
                        "EncryptionContext": {CONTEXT.0: CONTEXT.1}}),
            )
            .await?;
        let blob = out["CiphertextBlob"]
            .as_str()
            .context("the KMS answered GenerateDataKey without a CiphertextBlob")?
            .to_string();
        Ok((blob, root_of(&out)?))
    }

    async fn unwrap(&self, blob: &str) -> anyhow::Result<[u8; 32]> {
        let out = self
            .call(
                "Decrypt",
                &json!({"CiphertextBlob": blob, "KeyId": self.key,
                        "EncryptionContext": {CONTEXT.0: CONTEXT.1}}),
            )
            .await?;
        root_of(&out)
    }
}

fn root_of(out: &Value) -> anyhow::Result<[u8; 32]> {
    let plain = base64::engine::general_purpose::STANDARD
        .decode(out["Plaintext"].as_str().unwrap_or_default())
        .context("the KMS's Plaintext is not base64")?;
    plain
        .try_into()
        .map_err(|p: Vec<u8>| anyhow::anyhow!("the KMS gave a {}-byte root, not 32", p.len()))
}

/// `key` with the deployment's root: its own when no external KMS holds
/// it; else the root the KMS unwraps (made and recorded by the first start,
/// which must be a deployment with nothing sealed yet).
pub async fn with_root(
    meta: &dyn MetadataStore,
    key: ServerKey,
    kms: Option<&RootKms>,
) -> anyhow::Result<ServerKey> {
    let recorded = meta.kms_root().await?;
    let Some(kms) = kms else {
        if let Some(r) = recorded {
            let named: Value = serde_json::from_str(&r).unwrap_or(Value::Null);
            bail!(
                "this deployment's data is sealed under a root kept in the external KMS key {}: set BERTH_ROOT_KMS_KEY (with its endpoint and credentials) as when it was first started",
                named["key"].as_str().unwrap_or("(unnamed)")
            );
        }
        return Ok(key);
    };
    let record = match recorded {
        Some(r) => r,
        None => {
            let counts = meta.counts().await?;
            if counts.repositories > 0 || counts.blobs > 0 || meta.kms_key_count().await? > 0 {
                bail!(
                    "this deployment already holds data sealed under the server key's root; an external root (BERTH_ROOT_KMS_KEY) can be chosen only when a deployment is first started (moving an existing one to it is not built yet)"
                );
            }
            let (blob, root) = kms.generate().await?;
            let ours = json!({"key": kms.key, "blob": blob}).to_string();
            let stored = meta.put_kms_root(&ours).await?;
            if stored == ours {
                tracing::info!(key = %kms.key, "the key-encryption root is now kept in the external KMS");
                return Ok(key.with_kek_root(root));
            }
            stored // another node recorded one first: use that
        }
    };
    let r: Value = serde_json::from_str(&record).context("the recorded root does not parse")?;
    if r["key"].as_str() != Some(kms.key.as_str()) {
        bail!(
            "this deployment's root is kept under KMS key {}, not BERTH_ROOT_KMS_KEY {}",
            r["key"].as_str().unwrap_or("(unnamed)"),
            kms.key
        );
    }
    let root = kms
        .unwrap(r["blob"].as_str().unwrap_or_default())
        .await
        .context("berth cannot open its data without the root key")?;
    Ok(key.with_kek_root(root))
}
