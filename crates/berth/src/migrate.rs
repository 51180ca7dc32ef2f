//! `berth migrate`: moves a stopped embedded deployment (a data dir:
//! SQLite and blob files) into PostgreSQL and an S3 store, so that it can
//! scale out with everything it holds.
//!
//! 1. Blobs (and the archive storage class's) are streamed into the S3
//!    store and re-hashed on the way; one already there with the right size
//!    is skipped, so an interrupted migration resumes where it stopped.
//! 2. The server key's fingerprint is recorded (a database set up with
//!    another key is refused before anything is copied into it): access-key
//!    secrets are sealed with it, so every node must use the data dir's
//!    `server.key`.
//! 3. The metadata (every table: accounts, users, keys, policies,
//!    repositories, images, tags, referrers, scans, lifecycle state) is
//!    copied into the empty database in one transaction
//!    (`PgMetadataStore::import_sqlite`); upload sessions in progress are
//!    not (their clients start again).
//! 4. Verified: rows per table equal on both sides, and every blob record
//!    has its bytes in the S3 store, with the recorded size.

use crate::datadir::DataDir;
use crate::stores::{Blobs, Metadata};
use anyhow::{bail, Context};
use berth_oci::{Algorithm, Digest};
use berth_store::prelude::*;
use berth_store::{
    Cluster, FsBlobStore, PgMetadataStore, PgSettings, S3BlobStore, SqliteMetadataStore,
};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The data dir to move (no server may hold it).
    #[arg(long, env = "BERTH_DATA_DIR")]
    data_dir: PathBuf,
    /// Its archive dir [default: <data-dir>/archive].
    #[arg(long, env = "BERTH_ARCHIVE_DIR")]
    archive_dir: Option<PathBuf>,
    /// The PostgreSQL database to move the metadata into (empty):
    /// `postgres://user[:password]@host[:port]/db`.
    #[arg(long)]
    to_metadata: String,
    /// The S3 store to move the blobs into: `s3://bucket/prefix`
    /// (credentials from BERTH_S3_ACCESS_KEY_ID and
    /// BERTH_S3_SECRET_ACCESS_KEY, else the standard AWS sources).
    #[arg(long)]
    to_blobs: String,
    /// As `berth serve --s3-endpoint`.
    #[arg(long, env = "BERTH_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// As `berth serve --s3-region`.
    #[arg(long, env = "BERTH_S3_REGION")]
    s3_region: Option<String>,
    /// As `berth serve --s3-path-style`.
    #[arg(long, env = "BERTH_S3_PATH_STYLE")]
    s3_path_style: Option<bool>,
}

#[derive(Default)]
struct Copied {
    copied: u64,
    present: u64,
    bytes: u64,
}

impl Copied {
    fn add(&mut self, more: Copied) {
        self.copied += more.copied;
        self.present += more.present;
        self.bytes += more.bytes;
    }
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let db_path = crate::datadir::metadata_db(&args.data_dir);
    if !db_path.is_file() {
        bail!(
            "{} is not a berth data dir (it has no metadata.db)",
            args.data_dir.display()
        );
    }
    let data = DataDir::open_locked(&args.data_dir)
        .context("berth migrate needs the data dir to itself: stop the server first")?;
    let Metadata::Postgres(url) = Metadata::parse(&args.to_metadata)? else {
        bail!("--to-metadata must be a PostgreSQL database, postgres://user@host:port/db");
    };
    let Blobs::S3(s3) = Blobs::resolve(
        Some(args.to_blobs.clone()),
        &data.root,
        args.s3_endpoint.clone(),
        args.s3_region.clone(),
        args.s3_path_style,
    )?
    else {
        bail!("--to-blobs must be an S3 store, s3://bucket/prefix");
    };
    let to = Metadata::Postgres(url.clone()).describe();
    let server_key = berth_iam::ServerKey::from_bytes(&data.server_key(None)?)
        .context("the data dir's server.key")?;

    // The source at the current schema (an older data dir is migrated in
    // place first, as `berth serve` would).
    let source_meta = SqliteMetadataStore::open(&db_path)
        .await
        .with_context(|| format!("opening {}", db_path.display()))?;
    // A root kept in an external KMS comes with the data (the table is
    // copied), and opens the source's blobs here.
    let server_key = crate::kms_root::with_root(
        &source_meta,
        server_key,
        crate::kms_root::RootKms::from_env()?.as_ref(),
    )
    .await?;
    // Sealed in the bucket under the same key as on disk (the key every
    // node will be started with).
    let roots = berth_registry::roots::roots_of(&server_key);
    let keys = std::sync::Arc::new(berth_store::sealed::Keyring::from_roots(&roots));
    // KMS keys' storage domains open with their keys' storage KEKs, which
    // the source's metadata holds.
    let source = FsBlobStore::open(&data.root).await?.sealing(keys.clone());
    let source_meta: std::sync::Arc<dyn berth_store::MetadataStore> =
        std::sync::Arc::new(source_meta);
    let mut domains = Vec::new();
    for name in source.domains().await? {
        match berth_registry::domain_keyring(
            source_meta.clone(),
            &keys,
            &roots,
            &name,
        )
        .await?
        {
            Some(ring) => domains.push(std::sync::Arc::new(ring)),
            None => eprintln!(
                "skipping the blobs of key domain {name}: its KMS key was deleted, so they open nowhere"
            ),
        }
    }
    source_meta.close().await;
    let pg = PgMetadataStore::connect(&url, &PgSettings::default())
        .await
        .with_context(|| format!("connecting to {to}"))?;
    let blobs = S3BlobStore::open(&s3)
        .await
        .with_context(|| format!("opening {}", Blobs::S3(s3.clone()).describe()))?
        .sealing(keys.clone());
    let archive = blobs.under("archive");
    let archive_dir = args
        .archive_dir
        .clone()
        .unwrap_or_else(|| crate::datadir::default_archive_dir(&data.root));

    // 1. Bytes first: resumable, and the metadata that points at them comes after.
    // Sealed blobs open with the data dir's key (plaintext ones as they are).
    let main = copy_store(&source, &blobs, &domains, "blobs").await?;
    let archived = if archive_dir.is_dir() {
        let source = FsBlobStore::open(&archive_dir).await?.sealing(keys);
        copy_store(&source, &archive, &domains, "archived blobs").await?
    } else {
        Copied::default()
    };

    // 2. The key every node must use, recorded before any sealed secret is
    // copied: a database set up with another key is refused untouched.
    if !pg.same_server_key(server_key.fingerprint()).await? {
        bail!("{to} was set up with another server key than this data dir's server.key");
    }

    // 3. Metadata, unless an earlier run copied it.
    if pg.is_empty().await? {
        pg.import_sqlite(&db_path)
            .await
            .with_context(|| format!("copying the metadata into {to}"))?;
        eprintln!("copied the metadata into {to}");
    } else if pg
        .compare_with_sqlite(&db_path)
        .await?
        .iter()
        .all(|t| t.source == t.target)
    {
        eprintln!("the metadata was already copied into {to} (an earlier run)");
    } else {
        bail!("{to} already holds other berth metadata; migrate into an empty database");
    }

    // 4. Verify.
    let tables = pg.compare_with_sqlite(&db_path).await?;
    let differing: Vec<_> = tables.iter().filter(|t| t.source != t.target).collect();
    if !differing.is_empty() {
        bail!("rows differ after the copy: {differing:?}");
    }
    let mut checked = 0u64;
    let mut after: Option<String> = None;
    loop {
        let page = pg.blob_records(after.as_deref(), 1000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.0.clone());
        for (digest, size, in_archive) in &page {
            let digest: Digest = digest.parse().context("a blob record's digest")?;
            let store: &dyn BlobStore = if *in_archive { &archive } else { &blobs };
            let found = store.stat(&digest).await?;
            // Bytes only repositories under KMS keys link are in their keys'
            // domains alone (copied and counted above).
            let keys = pg.blob_link_keys(&digest).await?;
            if found.is_none() && !keys.is_empty() && !keys.contains(&None) {
                checked += 1;
                continue;
            }
            match found {
                Some(s) if s == *size => checked += 1,
                found => bail!(
                    "blob {digest} is recorded with {size} bytes but the S3 store has {found:?}: \
                     run `berth fsck` on the data dir, then `berth migrate` again"
                ),
            }
        }
    }
    let rows: u64 = tables.iter().map(|t| t.target).sum();
    println!(
        "migrated {} into {to} and {}: {} blobs ({} copied, {} already there, {} bytes) and {} archived ({} copied); \
         {rows} rows in {} tables; all {checked} blob records verified",
        data.root.display(),
        Blobs::S3(s3.clone()).describe(),
        main.copied + main.present,
        main.copied,
        main.present,
        main.bytes,
        archived.copied + archived.present,
        archived.copied,
        tables.len(),
    );
    println!(
        "start every node with --metadata {to} --blobs {} --server-key-file {} (copy that file to each)",
        args.to_blobs,
        data.root.join("server.key").display()
    );
    Ok(())
}

/// Every blob of `from` into `to`, and of each KMS key's domain of `from`
/// into the same domain of `to` (sealed under the same keys).
async fn copy_store(
    from: &FsBlobStore,
    to: &S3BlobStore,
    domains: &[std::sync::Arc<berth_store::sealed::Keyring>],
    what: &str,
) -> anyhow::Result<Copied> {
    let mut done = copy_blobs(from, to, what).await?;
    for ring in domains {
        let (d_from, d_to) = (
            from.domain(ring.clone()).await?,
            to.domain(ring.clone()).await?,
        );
        done.add(copy_blobs(d_from.as_ref(), d_to.as_ref(), ring.domain_name()).await?);
    }
    Ok(done)
}

/// Every blob file of `from` into `to`, hashed on the way; those `to`
/// already holds with the same size are left.
async fn copy_blobs(
    from: &dyn BlobStore,
    to: &dyn BlobStore,
    what: &str,
) -> anyhow::Result<Copied> {
    let mut done = Copied::default();
    for algorithm in Algorithm::ALL {
        for shard in 0..=255u8 {
            for (digest, _) in from.blobs_in_shard(algorithm, shard).await? {
                let Some(size) = from.stat(&digest).await? else {
                    continue;
                };
                if to.stat(&digest).await? == Some(size) {
                    done.present += 1;
                    continue;
                }
                // Re-hashed on the way: a damaged file stops the migration
                // (run `berth fsck --deep` on the data dir) rather than
                // moving bad bytes under a good digest.
                berth_store::copy_blob(from, to, &digest, size, true)
                    .await
                    .with_context(|| format!("copying {what}: {digest}"))?;
                done.copied += 1;
                done.bytes += size;
            }
        }
    }
    Ok(done)
}
