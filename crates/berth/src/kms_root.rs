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
use berth_registry::roots::{Generation, RootRecord, RootSource};
use berth_store::MetadataStore;
use serde_json::{json, Value};

/// The encryption context the root is wrapped and unwrapped under.
const CONTEXT: (&str, &str) = ("berth", "kek-root");

pub struct RootKms {
    key: String,
    region: String,
    endpoint: String,
    credentials: crate::aws_call::Credentials,
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
            credentials: crate::aws_call::Credentials {
                access_key_id,
                secret_access_key,
                session_token,
            },
        }))
    }

    /// One KMS call, SigV4-signed; its output, or an error naming the KMS's
    /// exception and message.
    async fn call(&self, op: &str, input: &Value) -> anyhow::Result<Value> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let answer = crate::aws_call::call(
            &client,
            &self.endpoint,
            &self.region,
            "kms",
            &format!("TrentService.{op}"),
            &self.credentials,
            input,
            &[],
        )
        .await
        .context("cannot reach the KMS (BERTH_ROOT_KMS_ENDPOINT)")?;
        if !answer.status.is_success() {
            let (kind, message) = answer.error();
            bail!(
                "the KMS at {} refused {op} with key {}: {kind}: {message}",
                self.endpoint,
                self.key
            );
        }
        Ok(answer.body)
    }

    /// The same KMS (endpoint and credentials) for another of its keys: an
    /// older root generation's.
    fn for_key(&self, key: &str) -> RootKms {
        RootKms {
            key: key.to_string(),
            region: key.split(':').nth(3).unwrap_or(&self.region).to_string(),
            endpoint: self.endpoint.clone(),
            credentials: self.credentials.clone(),
        }
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

/// `key` with the deployment's root generations (`berth_registry::roots`):
/// the server key's own first root when nothing is recorded and no external
/// KMS is set; else every live generation of the record, those kept in a
/// KMS unwrapped by it (the same endpoint and credentials serve every
/// generation's key). The first start with `BERTH_ROOT_KMS_KEY` on a
/// deployment holding nothing makes and records the external root.
pub async fn with_root(
    meta: &dyn MetadataStore,
    key: ServerKey,
    kms: Option<&RootKms>,
) -> anyhow::Result<ServerKey> {
    let text = match (meta.kms_root().await?, kms) {
        (None, None) => return Ok(key),
        (None, Some(kms)) => match first_external_root(meta, kms).await? {
            First::Made(root) => {
                tracing::info!(key = %kms.key, "the key-encryption root is now kept in the external KMS");
                return Ok(key.with_kek_roots(1, [(1, root)].into()));
            }
            First::Recorded(text) => text, // another node recorded one first
        },
        (Some(text), _) => text,
    };
    let record = RootRecord::parse(Some(&text), &key)?;
    let current = record
        .current()
        .context("the recorded root generations have no current one")?;
    match (&current.source, kms) {
        (RootSource::Kms { key: arn, .. }, None) => bail!(
            "this deployment's data is sealed under a root kept in the external KMS key {arn}: set BERTH_ROOT_KMS_KEY (with its endpoint and credentials) as when it was moved there"
        ),
        (RootSource::Kms { key: arn, .. }, Some(kms)) if *arn != kms.key => bail!(
            "this deployment's root is kept under KMS key {arn}, not BERTH_ROOT_KMS_KEY {} (to move it there, run `berth rotate-root` with that setting)",
            kms.key
        ),
        (RootSource::ServerKey { .. }, Some(kms))
            if !record.live().any(|g| matches!(&g.source, RootSource::Kms { key, .. } if *key == kms.key)) =>
        {
            bail!(
                "this deployment already holds data sealed under the server key's root; to keep its root in the external KMS key {} instead, stop every node and run `berth rotate-root` with BERTH_ROOT_KMS_KEY set",
                kms.key
            )
        }
        _ => {}
    }
    let mut roots = std::collections::BTreeMap::new();
    for g in record.live() {
        roots.insert(g.generation, root_of_generation(&key, kms, g).await?);
    }
    if record.rotating() {
        tracing::warn!(
            current = current.generation,
            "a root rotation is unfinished: what older generations wrapped is re-wrapped in the background (or by `berth rotate-root`), then they are retired"
        );
    }
    Ok(key.with_kek_roots(current.generation, roots))
}

enum First {
    Made([u8; 32]),
    Recorded(String),
}

/// The first start with an external root: made and recorded when the
/// deployment holds nothing yet.
async fn first_external_root(meta: &dyn MetadataStore, kms: &RootKms) -> anyhow::Result<First> {
    let counts = meta.counts().await?;
    if counts.repositories > 0 || counts.blobs > 0 || meta.kms_key_count().await? > 0 {
        bail!(
            "this deployment already holds data sealed under the server key's root; to keep its root in the external KMS key {} instead, stop every node and run `berth rotate-root` with BERTH_ROOT_KMS_KEY set",
            kms.key
        );
    }
    let (blob, root) = kms.generate().await?;
    let ours = RootRecord::first(RootSource::Kms {
        key: kms.key.clone(),
        blob,
    })
    .to_text();
    let stored = meta.put_kms_root(&ours).await?;
    Ok(if stored == ours {
        First::Made(root)
    } else {
        First::Recorded(stored)
    })
}

/// The root of one live generation.
async fn root_of_generation(
    key: &ServerKey,
    kms: Option<&RootKms>,
    g: &Generation,
) -> anyhow::Result<[u8; 32]> {
    match &g.source {
        RootSource::ServerKey { fingerprint } => {
            if fingerprint != key.fingerprint() {
                bail!(
                    "root generation {} derives from another server key (fingerprint {fingerprint}, this one's is {}): start with that key",
                    g.generation,
                    key.fingerprint()
                );
            }
            Ok(key.server_kek_root(g.generation))
        }
        RootSource::Kms { key: arn, blob } => {
            let Some(kms) = kms else {
                bail!(
                    "root generation {} is kept in the external KMS key {arn}: set BERTH_ROOT_KMS_KEY (with its endpoint and credentials)",
                    g.generation
                );
            };
            kms.for_key(arn)
                .unwrap(blob)
                .await
                .context("berth cannot open its data without the root key")
        }
        RootSource::Retired => bail!(
            "root generation {} is recorded as live but its root was forgotten",
            g.generation
        ),
    }
}

/// Starts a root rotation (`berth rotate-root`; every node stopped): a new
/// generation from `kms` (a fresh data key of `BERTH_ROOT_KMS_KEY`), else
/// from the server key, recorded as current with the current one
/// retiring. An unfinished rotation is not started again: its generation
/// is returned to be finished. Returns the generation now current and
/// whether this call started it.
pub async fn start_rotation(
    meta: &dyn MetadataStore,
    key: &ServerKey,
    kms: Option<&RootKms>,
) -> anyhow::Result<(u32, bool)> {
    let text = meta.kms_root().await?;
    let record = RootRecord::parse(text.as_deref(), key)?;
    let current = record
        .current()
        .context("the recorded root generations have no current one")?;
    let target_matches = match (&current.source, kms) {
        (RootSource::Kms { key: arn, .. }, Some(kms)) => *arn == kms.key,
        (RootSource::ServerKey { .. }, None) => true,
        _ => false,
    };
    if record.rotating() {
        if !target_matches {
            bail!(
                "a rotation to root generation {} is unfinished and its root is kept elsewhere than this command's settings say: run `berth rotate-root` with the settings it was started with to finish it first",
                current.generation
            );
        }
        return Ok((current.generation, false));
    }
    if kms.is_none()
        && record
            .live()
            .any(|g| matches!(g.source, RootSource::Kms { .. }))
    {
        bail!(
            "this deployment's root is kept in an external KMS; set BERTH_ROOT_KMS_KEY (with its endpoint and credentials) to rotate it (moving it back to the server key is not supported)"
        );
    }
    let source = match kms {
        Some(kms) => {
            let (blob, _) = kms.generate().await?;
            RootSource::Kms {
                key: kms.key.clone(),
                blob,
            }
        }
        None => RootSource::ServerKey {
            fingerprint: key.fingerprint().to_string(),
        },
    };
    let next = record.rotated(source);
    let generation = next.current().expect("rotated has a current").generation;
    let recorded = match &text {
        None => meta.put_kms_root(&next.to_text()).await? == next.to_text(),
        Some(old) => meta.replace_kms_root(old, &next.to_text()).await?,
    };
    if !recorded {
        bail!("the root record changed while the rotation was being recorded: is a node of this deployment still running? Stop every node and try again");
    }
    Ok((generation, true))
}
