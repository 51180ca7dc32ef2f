//! `berth gc`: garbage collection, on a running server through its admin
//! API (the default; signed with the aws CLI's credentials, as `berth
//! admin` is) or, with `--offline`, on a data dir no server holds.

use crate::client::{self, AdminClient, NO_BODY};
use crate::datadir::DataDir;
use crate::stores::{Blobs, Metadata};
use anyhow::{bail, Context};
use berth_registry::{GcOptions, GcRun, RegistryConfig};
use berth_server::admin_api as api;
use clap::Args;
use http::Method;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Report what would be deleted; delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Spare blobs uploaded, mounted or checked more recently than this
    /// (e.g. `30m`, `0s`) [default: the server's, 24h].
    #[arg(long, value_parser = humantime::parse_duration)]
    grace: Option<Duration>,
    /// The running server [default: http://127.0.0.1:5000, or BERTH_LISTEN's address].
    #[arg(long, env = "BERTH_ENDPOINT")]
    endpoint: Option<String>,
    /// Region to sign the request for (any region works) [default: AWS_REGION, AWS_DEFAULT_REGION or us-east-1].
    #[arg(long)]
    region: Option<String>,
    /// Collect in the data dir directly, with the server stopped.
    #[arg(long, requires = "data_dir")]
    offline: bool,
    /// The data dir, for --offline.
    #[arg(long, env = "BERTH_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

/// The admin API's view of a run, which the offline run reports too.
type Status = api::GcStatus;

pub async fn run(args: GcArgs) -> anyhow::Result<()> {
    let bar = progress_bar();
    let status = if args.offline {
        offline(&args, &bar).await?
    } else {
        online(&args, &bar).await?
    };
    bar.finish_and_clear();
    if let Some(e) = &status.error {
        bail!("garbage collection failed: {e}");
    }
    println!("{}", summary(&status));
    Ok(())
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} blobs examined")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

fn show(bar: &ProgressBar, s: &Status) {
    bar.set_length(s.total.max(s.examined));
    bar.set_position(s.examined);
    bar.set_message(format!(
        "{}: {} blobs {}deleted",
        s.phase,
        s.blobs_deleted,
        if s.dry_run { "to be " } else { "" }
    ));
}

fn summary(s: &Status) -> String {
    let verb = if s.dry_run { "would delete" } else { "deleted" };
    format!(
        "garbage collection {verb} {} blobs ({:.1} MiB), {} repository links to unreferenced blobs and {} blob files without a record; {} blobs examined{}",
        s.blobs_deleted,
        s.bytes_freed as f64 / (1024.0 * 1024.0),
        s.links_removed,
        s.orphan_files,
        s.examined,
        if s.dry_run { " (dry run: nothing was changed)" } else { "" }
    )
}

async fn online(args: &GcArgs, bar: &ProgressBar) -> anyhow::Result<Status> {
    let api = AdminClient::new(
        client::endpoint(args.endpoint.as_deref()),
        client::region(args.region.as_deref()),
    )?;
    let endpoint = &api.endpoint;
    let path = api::GC;
    let body = api::StartGc {
        dry_run: args.dry_run,
        grace_seconds: args.grace.map(|g| g.as_secs()),
    };
    let started = api
        .send(Method::POST, path, &[], Some(&body))
        .await
        .with_context(|| {
            format!("starting garbage collection on {endpoint} (with the server stopped, `berth gc --offline --data-dir DIR` collects instead)")
        })?;
    match started.status {
        202 => {}
        409 => bail!("a garbage collection is already running on {endpoint}; `berth gc` again once it is done"),
        _ => return Err(api.refusal(&started).context("the server refused to start garbage collection")),
    }
    loop {
        let status: Status = api
            .call(Method::GET, path, &[], NO_BODY)
            .await
            .with_context(|| format!("asking {endpoint} how the collection goes"))?;
        show(bar, &status);
        if status.phase == "done" || status.phase == "failed" {
            return Ok(status);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn offline(args: &GcArgs, bar: &ProgressBar) -> anyhow::Result<Status> {
    let dir = args.data_dir.as_ref().expect("clap requires it");
    let data = DataDir::open_locked(dir)?;
    let config = RegistryConfig {
        // Sealed blobs open only with the data dir's own key.
        server_key: berth_iam::ServerKey::from_bytes(&data.server_key(None)?)
            .context("the data dir's server.key")?,
        ..RegistryConfig::default()
    };
    let grace = args.grace.unwrap_or(config.gc_grace);
    // The default archive location; a server run with --archive-dir
    // elsewhere is collected through the server (`berth gc` without
    // --data-dir), whose store is configured.
    let registry = Arc::new(
        crate::datadir::open_registry(
            &Metadata::Sqlite(data.metadata_db()),
            &Blobs::File(data.root.clone()),
            &crate::datadir::default_archive_dir(&data.root),
            config,
        )
        .await?,
    );
    let run = registry
        .start_gc(GcOptions {
            dry_run: args.dry_run,
            grace,
        })
        .map_err(|_| anyhow::anyhow!("a collection is already running"))?;
    let status = loop {
        let status = status_of(&run);
        show(bar, &status);
        if run.is_finished() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    registry.close().await;
    drop(data);
    Ok(status)
}

fn status_of(run: &GcRun) -> Status {
    Status::from(&run.snapshot())
}
