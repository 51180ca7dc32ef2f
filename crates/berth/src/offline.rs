//! The stores of a stopped deployment, for the commands that work on them
//! without a server (`berth fsck`, `berth rotate-root`): a data dir held
//! with its lock, or a scaled-out deployment's PostgreSQL and blob store
//! with the server key its nodes are started with.

use crate::datadir::DataDir;
use crate::stores::{Blobs, Metadata};
use anyhow::{bail, Context};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct OfflineStores {
    /// The data dir (no server may hold it); not needed with
    /// `--metadata postgres://...`.
    #[arg(long, env = "BERTH_DATA_DIR", required_unless_present = "metadata")]
    pub data_dir: Option<PathBuf>,
    /// A scaled-out deployment's metadata store instead of a data dir's:
    /// `postgres://...` (with `--blobs`).
    #[arg(long, env = "BERTH_METADATA", requires = "blobs")]
    pub metadata: Option<String>,
    /// That deployment's blob store: `s3://bucket/prefix` or `file:PATH`.
    #[arg(long, env = "BERTH_BLOBS")]
    pub blobs: Option<String>,
    /// As `berth serve --s3-endpoint`.
    #[arg(long, env = "BERTH_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// As `berth serve --s3-region`.
    #[arg(long, env = "BERTH_S3_REGION")]
    pub s3_region: Option<String>,
    /// As `berth serve --s3-path-style`.
    #[arg(long, env = "BERTH_S3_PATH_STYLE")]
    pub s3_path_style: Option<bool>,
    /// The archive blob store, as `berth serve --archive-dir` has it
    /// [default: <data-dir>/archive].
    #[arg(long, env = "BERTH_ARCHIVE_DIR")]
    pub archive_dir: Option<PathBuf>,
    /// With `--metadata`: the deployment's server key, as its nodes have it
    /// (`berth serve --server-key-file`); its blobs and manifests are
    /// sealed under it. A data dir's own `server.key` is used otherwise.
    #[arg(long, env = "BERTH_SERVER_KEY_FILE")]
    pub server_key_file: Option<PathBuf>,
}

/// Where a stopped deployment's stores are, and what holds them meanwhile.
pub struct Opened {
    pub metadata: Metadata,
    pub blobs: Blobs,
    pub archive_dir: PathBuf,
    pub server_key: berth_iam::ServerKey,
    /// The data dir, held (its lock) until this is dropped.
    pub data: Option<DataDir>,
    /// A scratch directory standing in for a data dir (a scaled-out
    /// deployment has none).
    _scratch: Option<tempfile::TempDir>,
}

impl OfflineStores {
    /// The stores these settings name; `command` says who needs them
    /// (for the message when a server holds the data dir).
    pub fn open(&self, command: &str) -> anyhow::Result<Opened> {
        if let Some(metadata) = &self.metadata {
            return self.open_shared(Metadata::parse(metadata)?);
        }
        let data_dir = self
            .data_dir
            .clone()
            .expect("clap requires it without --metadata");
        if !data_dir.join("metadata.db").is_file() {
            bail!(
                "{} is not a berth data dir (it has no metadata.db)",
                data_dir.display()
            );
        }
        let data = DataDir::open_locked(&data_dir).with_context(|| {
            format!("{command} needs the data dir to itself: stop the server first")
        })?;
        let archive_dir = self
            .archive_dir
            .clone()
            .unwrap_or_else(|| crate::datadir::default_archive_dir(&data.root));
        // The data dir's own key: its sealed blobs open only with it.
        let server_key = berth_iam::ServerKey::from_bytes(&data.server_key(None)?)
            .context("the data dir's server.key")?;
        Ok(Opened {
            metadata: Metadata::Sqlite(data.metadata_db()),
            blobs: Blobs::File(data.root.clone()),
            archive_dir,
            server_key,
            data: Some(data),
            _scratch: None,
        })
    }

    fn open_shared(&self, metadata: Metadata) -> anyhow::Result<Opened> {
        let Metadata::Postgres(_) = &metadata else {
            bail!("--metadata is for a PostgreSQL deployment; give a data dir's SQLite with --data-dir");
        };
        let scratch = tempfile::tempdir()?;
        let blobs = Blobs::resolve(
            self.blobs.clone(),
            scratch.path(),
            self.s3_endpoint.clone(),
            self.s3_region.clone(),
            self.s3_path_style,
        )?;
        let archive_dir = self
            .archive_dir
            .clone()
            .unwrap_or_else(|| scratch.path().join("archive"));
        let Some(key_file) = &self.server_key_file else {
            bail!(
                "--metadata needs --server-key-file: the deployment's blobs and manifests are sealed under \
                 the server key its nodes are started with"
            );
        };
        let bytes = std::fs::read(key_file)
            .with_context(|| format!("reading the server key file {}", key_file.display()))?;
        let server_key = berth_iam::ServerKey::from_bytes(&bytes)
            .with_context(|| format!("the server key {}", key_file.display()))?;
        Ok(Opened {
            metadata,
            blobs,
            archive_dir,
            server_key,
            data: None,
            _scratch: Some(scratch),
        })
    }
}

impl Opened {
    /// Names the stores, for messages.
    pub fn describe(&self) -> String {
        match &self.data {
            Some(data) => format!("the data dir {}", data.root.display()),
            None => format!("{} and {}", self.metadata.describe(), self.blobs.describe()),
        }
    }
}
