//! Where the stores are: the metadata store (`--metadata`) and the blob
//! store (`--blobs`), parsed from their settings, and how berth prints them
//! (never a password). `config` resolves them; `datadir` opens them.

use anyhow::bail;
use std::path::{Path, PathBuf};

/// Where blobs are (`--blobs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blobs {
    /// A directory holding `blobs/` and `uploads/` (the data dir by default).
    File(PathBuf),
    /// An S3 bucket and key prefix; the archive storage class lives under
    /// `<prefix>/archive/` of the same bucket.
    S3(berth_store::S3Settings),
}

impl Blobs {
    pub fn resolve(
        text: Option<String>,
        data_dir: &Path,
        endpoint: Option<String>,
        region: Option<String>,
        path_style: Option<bool>,
    ) -> anyhow::Result<Blobs> {
        let Some(text) = text else {
            return Ok(Blobs::File(data_dir.to_path_buf()));
        };
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                bail!("blobs 'file:' needs a path, e.g. file:/var/lib/berth");
            }
            return Ok(Blobs::File(PathBuf::from(path)));
        }
        let Some(rest) = text.strip_prefix("s3://") else {
            bail!("blobs must be file:PATH or s3://bucket/prefix, not '{text}'");
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("blobs '{text}' names no bucket: s3://bucket/prefix");
        }
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let credentials = match (
            var("BERTH_S3_ACCESS_KEY_ID"),
            var("BERTH_S3_SECRET_ACCESS_KEY"),
        ) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            _ => bail!("BERTH_S3_ACCESS_KEY_ID and BERTH_S3_SECRET_ACCESS_KEY go together"),
        };
        Ok(Blobs::S3(berth_store::S3Settings {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            path_style: path_style.unwrap_or(endpoint.is_some()),
            endpoint,
            region: region.or_else(|| var("AWS_REGION")),
            credentials,
        }))
    }

    /// For logs: where the bytes go (never credentials).
    pub fn describe(&self) -> String {
        match self {
            Blobs::File(p) => format!("file:{}", p.display()),
            Blobs::S3(s) => match &s.endpoint {
                Some(e) => format!("s3://{}/{} at {}", s.bucket, s.prefix, redact_url(e)),
                None => format!("s3://{}/{}", s.bucket, s.prefix),
            },
        }
    }
}

/// Where the metadata store is (`--metadata`).
#[derive(Clone, PartialEq, Eq)]
pub enum Metadata {
    Sqlite(PathBuf),
    /// A libpq URL, which may hold a password: shown only through
    /// [`Metadata::describe`].
    Postgres(String),
}

impl Metadata {
    pub fn parse(text: &str) -> anyhow::Result<Metadata> {
        if let Some(path) = text.strip_prefix("sqlite:") {
            if path.is_empty() {
                bail!("metadata 'sqlite:' needs a path, e.g. sqlite:/var/lib/berth/metadata.db");
            }
            Ok(Metadata::Sqlite(PathBuf::from(path)))
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(Metadata::Postgres(text.to_string()))
        } else {
            bail!(
                "metadata must be sqlite:PATH or postgres://user@host:port/database, not '{}'",
                redact_url(text)
            )
        }
    }

    /// For logs and errors: a PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Metadata::Sqlite(p) => format!("sqlite:{}", p.display()),
            Metadata::Postgres(url) => redact_url(url),
        }
    }
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// `scheme://user:secret@host/...` as `scheme://user:***@host/...`; a
/// password given as `?password=` is masked too.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let authority_end = out[start..].find('/').map_or(out.len(), |j| start + j);
        if let Some(at) = out[start..authority_end].rfind('@').map(|j| start + j) {
            if let Some(colon) = out[start..at].find(':').map(|j| start + j) {
                out.replace_range(colon + 1..at, "***");
            }
        }
    }
    if let Some(q) = out.find("password=") {
        let end = out[q..].find('&').map_or(out.len(), |j| q + j);
        out.replace_range(q + "password=".len()..end, "***");
    }
    out
}
