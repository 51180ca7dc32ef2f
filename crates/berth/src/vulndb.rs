//! `berth vulndb import PATH|URL`: loads OSV records (a directory of JSON
//! files at any depth, one JSON file, or an osv.dev `all.zip`) into the
//! vulnerability database, as `berth gc` works: through the running
//! server's admin API by default (the CLI reads the records and sends them
//! in signed batches, so the server never reads the CLI's files), or with
//! `--offline --data-dir DIR` straight into a data dir no server holds.
//! `berth serve --vuln-db` imports with the same reader ([`import_into`]).
//!
//! Records are read one at a time and sent in batches; neither side ever
//! holds the whole database.

use crate::client::{self, AdminClient, NO_BODY};
use crate::datadir::DataDir;
use crate::stores::{Blobs, Metadata};
use anyhow::{bail, Context};
use berth_registry::{ImportStats, Registry, RegistryConfig, VULNDB_JOB};
use berth_server::admin_api;
use clap::{Args, Subcommand};
use http::Method;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct VulnDbArgs {
    #[command(subcommand)]
    command: VulnDbCommand,
}

#[derive(Subcommand, Debug)]
enum VulnDbCommand {
    /// Import OSV records: a directory of JSON files, one JSON file, an
    /// osv.dev all.zip, or an http(s) URL of one.
    Import {
        /// Path or URL of the records.
        source: String,
        /// The running server [default: http://127.0.0.1:5000, or BERTH_LISTEN's address].
        #[arg(long, env = "BERTH_ENDPOINT")]
        endpoint: Option<String>,
        /// Region to sign the requests for (any region works).
        #[arg(long)]
        region: Option<String>,
        /// Import into the data dir directly, with the server stopped.
        #[arg(long, requires = "data_dir")]
        offline: bool,
        /// The data dir, for --offline.
        #[arg(long, env = "BERTH_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

/// A batch holds at most this many records or bytes of JSON.
const BATCH_RECORDS: usize = 500;
const BATCH_BYTES: usize = 4 << 20;

type Batch = Vec<(String, Vec<u8>)>;

/// Reads the records on a blocking thread and hands them over in batches.
fn read_batches(source: PathBuf) -> tokio::sync::mpsc::Receiver<anyhow::Result<Batch>> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    std::thread::spawn(move || {
        let mut batch: Batch = Vec::new();
        let mut bytes = 0;
        let push = |origin: &str, json: &[u8], batch: &mut Batch, bytes: &mut usize| {
            batch.push((origin.to_string(), json.to_vec()));
            *bytes += json.len();
            if batch.len() >= BATCH_RECORDS || *bytes >= BATCH_BYTES {
                *bytes = 0;
                return tx.blocking_send(Ok(std::mem::take(batch))).is_ok();
            }
            true
        };
        let result: anyhow::Result<()> = (|| {
            let meta = std::fs::metadata(&source)
                .with_context(|| format!("reading {}", source.display()))?;
            let mut open = true;
            if meta.is_dir() {
                berth_scan::visit_dir(&source, &mut |origin, json| {
                    if open {
                        open = push(origin, json, &mut batch, &mut bytes);
                    }
                })?;
            } else {
                let mut file = std::fs::File::open(&source)
                    .with_context(|| format!("opening {}", source.display()))?;
                let mut magic = [0u8; 2];
                let n = file.read(&mut magic)?;
                drop(file);
                if n == 2 && &magic == b"PK" {
                    let file = std::io::BufReader::new(std::fs::File::open(&source)?);
                    berth_scan::visit_zip(
                        file,
                        berth_scan::MAX_RECORD_BYTES,
                        &mut |origin, json| {
                            if !open {
                                return;
                            }
                            match json {
                                Ok(json) => open = push(origin, json, &mut batch, &mut bytes),
                                // Counted as invalid by the importer.
                                Err(_) => open = push(origin, b"", &mut batch, &mut bytes),
                            }
                        },
                    )?;
                } else {
                    let json = std::fs::read(&source)?;
                    push(&source.display().to_string(), &json, &mut batch, &mut bytes);
                }
            }
            Ok(())
        })();
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

/// A local path for the source: itself, or a download of a URL into a
/// temporary file (removed when the guard drops).
async fn local(source: &str) -> anyhow::Result<(PathBuf, Option<TempFile>)> {
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        return Ok((PathBuf::from(source), None));
    }
    let path = std::env::temp_dir().join(format!(
        "berth-vulndb-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let guard = TempFile(path.clone());
    let mut resp = reqwest::get(source)
        .await
        .with_context(|| format!("downloading {source}"))?;
    if !resp.status().is_success() {
        bail!("downloading {source}: {}", resp.status());
    }
    let mut out = std::fs::File::create(&path)?;
    while let Some(chunk) = resp.chunk().await? {
        std::io::Write::write_all(&mut out, &chunk)?;
    }
    Ok((path, Some(guard)))
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Imports `source` into a registry this process holds (`berth serve
/// --vuln-db`, `--offline`); `progress` sees the running totals.
pub async fn import_into(
    registry: &Arc<Registry>,
    source: &str,
    progress: &(dyn Fn(&ImportStats) + Sync),
) -> anyhow::Result<ImportStats> {
    let (path, _guard) = local(source).await?;
    let mut total = ImportStats::default();
    let mut batches = read_batches(path);
    while let Some(batch) = batches.recv().await {
        let stats = registry.import_vuln_records(batch?).await?;
        total.add(&stats);
        progress(&total);
    }
    Ok(total)
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
    bar
}

fn show(bar: &ProgressBar, s: &ImportStats) {
    bar.set_message(format!(
        "{} records read: {} stored, {} unchanged, {} withdrawn, {} for no known ecosystem, {} invalid",
        s.read, s.stored, s.unchanged, s.withdrawn, s.unmatchable, s.invalid
    ));
    bar.tick();
}

pub async fn run(args: VulnDbArgs) -> anyhow::Result<()> {
    let VulnDbCommand::Import {
        source,
        endpoint,
        region,
        offline,
        data_dir,
    } = args.command;
    let bar = progress_bar();
    let (total, records) = if offline {
        let dir = data_dir.expect("clap requires it");
        let data = DataDir::open_locked(&dir)?;
        let registry = Arc::new(
            crate::datadir::open_registry(
                &Metadata::Sqlite(data.metadata_db()),
                &Blobs::File(data.root.clone()),
                &crate::datadir::default_archive_dir(&data.root),
                RegistryConfig {
                    // Rescans read sealed layers: the data dir's own key.
                    server_key: berth_iam::ServerKey::from_bytes(&data.server_key(None)?)
                        .context("the data dir's server.key")?,
                    ..RegistryConfig::default()
                },
            )
            .await?,
        );
        let total = import_into(&registry, &source, &|s| show(&bar, s)).await?;
        registry.mark_vuln_import_finished().await?;
        // Nothing else runs here: re-match continuous repositories now.
        registry.rescan_continuous().await?;
        let records = registry.vuln_record_count().await?;
        registry.close().await;
        drop(data);
        (total, records)
    } else {
        let api = AdminClient::new(
            client::endpoint(endpoint.as_deref()),
            client::region(region.as_deref()),
        )?;
        let (path, _guard) = local(&source).await?;
        let mut total = ImportStats::default();
        let mut batches = read_batches(path);
        while let Some(batch) = batches.recv().await {
            let records: Vec<(String, String)> = batch?
                .into_iter()
                .map(|(o, j)| (o, String::from_utf8_lossy(&j).into_owned()))
                .collect();
            let out: ImportStats = api
                .call(
                    Method::POST,
                    admin_api::VULNDB_RECORDS,
                    &[],
                    Some(&admin_api::VulnBatch { records }),
                )
                .await
                .with_context(|| {
                    format!("importing into {} (with the server stopped, `berth vulndb import --offline --data-dir DIR` imports instead)", api.endpoint)
                })?;
            total.add(&out);
            show(&bar, &total);
        }
        let done: admin_api::VulnImportFinished = api
            .call(Method::POST, admin_api::VULNDB_FINISH, &[], NO_BODY)
            .await?;
        (total, done.records)
    };
    bar.finish_and_clear();
    println!(
        "imported {}: {} records read, {} stored, {} unchanged, {} withdrawn, {} naming no known ecosystem, {} invalid; the database holds {records} records",
        source, total.read, total.stored, total.unchanged, total.withdrawn, total.unmatchable, total.invalid
    );
    for e in &total.errors {
        println!("  invalid: {e}");
    }
    Ok(())
}

/// `berth serve --vuln-db`: imports at start and every `every` (`None`:
/// only at start). Runs beside the server; failures are logged.
pub async fn import_periodically(
    registry: Arc<Registry>,
    source: String,
    every: Option<std::time::Duration>,
    startup: crate::memory::StartupWork,
) {
    import_at_start(&registry, &source, every.unwrap_or(START_IMPORT_FRESH)).await;
    if let Some(every) = every {
        // One node of the deployment refreshes it for all.
        crate::jobs::run_as_job(registry, VULNDB_JOB, every, startup, |registry| {
            let source = source.clone();
            async move { import_logged(&registry, &source).await }
        })
        .await
    }
}

/// Without a refresh interval, nodes of a cluster that start within this
/// long of an import leave the database as that import left it (README,
/// "Scaling out").
const START_IMPORT_FRESH: std::time::Duration = std::time::Duration::from_secs(600);

/// The import at a node's start, unless another node of the deployment
/// imported less than `fresh_for` ago (its refresh interval).
async fn import_at_start(registry: &Arc<Registry>, source: &str, fresh_for: std::time::Duration) {
    match registry.start_vuln_import(fresh_for).await {
        Ok(Some(_lease)) => import_logged(registry, source).await,
        Ok(None) => tracing::info!(
            source,
            "not importing the vulnerability database at start: another node did less than {} s ago",
            fresh_for.as_secs()
        ),
        Err(e) => tracing::warn!(source, error = %e, "cannot take the vulnerability database's lease; not importing it at start"),
    }
}

async fn import_logged(registry: &Arc<Registry>, source: &str) {
    let started = std::time::Instant::now();
    match import_into(registry, source, &|_| {}).await {
        Ok(stats) => {
            if let Err(e) = registry.finish_vuln_import().await {
                tracing::warn!(error = %e, "could not record the vulnerability database import");
            }
            tracing::info!(
                source,
                read = stats.read,
                stored = stats.stored,
                unchanged = stats.unchanged,
                withdrawn = stats.withdrawn,
                invalid = stats.invalid,
                ms = started.elapsed().as_millis() as u64,
                "vulnerability database imported"
            );
        }
        Err(e) => {
            tracing::warn!(source, error = %format!("{e:#}"), "vulnerability database import failed; the stored database stays as it was")
        }
    }
}
