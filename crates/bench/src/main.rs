//! `berth-bench`: berth side by side with CNCF Distribution and the
//! machine's own limits, in one run. See crates/bench/README.md.
#![forbid(unsafe_code)]

mod blobs;
mod chart;
mod client;
mod console;
mod content;
mod encryption;
mod floor;
mod load;
mod machine;
mod meta;
mod plan;
mod public;
mod replication;
mod report;
mod scale_out;
mod servers;
mod targets;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use plan::Plan;
use report::{Results, Who};
use servers::{Binaries, Kind};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "berth-bench",
    about = "Benchmarks berth beside CNCF Distribution and this machine's limits",
    long_about = "Benchmarks berth beside CNCF Distribution and this machine's limits.\n\n\
        Needs: docker-registry (CNCF Distribution, Debian package), skopeo, and fontconfig for \
        the chart; crates/bench/install.sh installs them. Builds the release berth unless --berth \
        is given. Writes results.json, results.md and chart.png to --out."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Every workload at small sizes, one round (CI keeps the harness working with this).
    #[arg(long)]
    quick: bool,
    /// Where results.json, results.md and chart.png go.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Rounds per workload (default: 3, or 1 with --quick).
    #[arg(long)]
    rounds: Option<usize>,
    /// The berth binary [default: build the workspace's release berth].
    #[arg(long)]
    berth: Option<PathBuf>,
    /// The CNCF Distribution binary.
    #[arg(long, default_value = "docker-registry")]
    distribution: PathBuf,
    /// Where servers keep their data (default: OUT/work); the same disk for both.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Also run the scale-out phase: berth on PostgreSQL + S3 beside the
    /// embedded berth, with the S3 server's own speed as the limit. Takes
    /// the servers from BERTH_TEST_POSTGRES and BERTH_TEST_S3_* (what
    /// `scripts/postgres.sh start` and `scripts/seaweedfs.sh start` print).
    #[arg(long)]
    shared: bool,
    /// Skip phases: `blobs`, `metadata`, `encryption`, `replication`, `scale-out` (for profiling one side).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// Blob sets for the push and pull workloads instead of the plan's,
    /// as SIZE:COUNT with sizes in KiB, MiB or GiB (e.g. `64MiB:20,1GiB:3`).
    #[arg(long, value_delimiter = ',', value_parser = plan::parse_blob_set)]
    blob_sets: Vec<(u64, usize)>,
    /// Manifest load concurrencies instead of the plan's (e.g. `64,256`).
    #[arg(long, value_delimiter = ',')]
    manifest_concurrency: Vec<usize>,
    /// Tags in the tag-list repository instead of the plan's.
    #[arg(long)]
    tags: Option<usize>,
    /// Repositories for the catalog instead of the plan's.
    #[arg(long)]
    repositories: Option<usize>,
    /// Seconds each manifest load is measured instead of the plan's.
    #[arg(long)]
    measure_secs: Option<f64>,
}

#[derive(Subcommand)]
enum Sub {
    /// The bare hyper server that gives the machine's HTTP floor (used by the harness).
    #[command(hide = true)]
    Floor {
        #[arg(long)]
        listen: SocketAddr,
    },
    /// Redraws chart.png from a run's results.json (its per-round figures).
    #[command(hide = true)]
    Chart {
        /// A results.json that the harness wrote.
        #[arg(long)]
        results: PathBuf,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        subtitle: String,
        #[arg(long)]
        out: PathBuf,
    },
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

pub fn progress(line: &str) {
    let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!("  [{t:6.1}s] {line}");
}

pub fn who(kind: Kind) -> Who {
    match kind {
        Kind::Berth | Kind::BerthShared | Kind::BerthUnsealed => Who::Berth,
        Kind::Distribution => Who::Peer,
        Kind::Floor => Who::Limit,
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Some(Sub::Floor { listen }) => return floor::serve(*listen),
        Some(Sub::Chart {
            results,
            title,
            subtitle,
            out,
        }) => {
            let json: serde_json::Value = serde_json::from_slice(&std::fs::read(results)?)?;
            return chart::draw(&Results::from_json(&json)?, title, subtitle, out);
        }
        None => {}
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let started = *START.get_or_init(Instant::now);
    let mut plan = if cli.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    if let Some(r) = cli.rounds {
        plan.rounds = r.max(1);
    }
    if !cli.blob_sets.is_empty() {
        plan.blob_sets = cli.blob_sets.clone();
    }
    if !cli.manifest_concurrency.is_empty() {
        plan.manifest_concurrency = cli.manifest_concurrency.clone();
    }
    plan.tags = cli.tags.unwrap_or(plan.tags);
    plan.repositories = cli.repositories.unwrap_or(plan.repositories);
    if let Some(s) = cli.measure_secs {
        plan.measure = Duration::from_secs_f64(s);
    }
    let bins = Binaries {
        berth: match cli.berth {
            Some(b) => b,
            None => build_berth()?,
        },
        distribution: which(&cli.distribution)?,
        harness: std::env::current_exe()?,
        shared: if cli.shared {
            Some(servers::SharedStores::from_env()?)
        } else {
            None
        },
    };
    which(Path::new("skopeo"))?;
    std::fs::create_dir_all(&cli.out)?;
    let work = cli.work_dir.clone().unwrap_or_else(|| cli.out.join("work"));
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    let free = free_bytes(&work)?;
    if !cli.skip.iter().any(|s| s == "blobs") && free < plan.disk_needed() {
        bail!(
            "the blob workloads need {:.1} GB free in {} and there are {:.1} GB; free space, pass --work-dir on a larger disk, or use --quick",
            plan.disk_needed() as f64 / 1e9,
            work.display(),
            free as f64 / 1e9
        );
    }

    let machine = machine::describe();
    let versions = format!(
        "berth {} ; {}",
        berth_version(&bins.berth),
        command_version(&bins.distribution, "--version")
    );
    eprintln!(
        "berth-bench: {machine}\n  {versions}\n  plan: {} round(s){}",
        plan.rounds,
        if cli.quick { ", quick" } else { "" }
    );

    let mut results = Results::default();
    let order = |round: usize| {
        if round.is_multiple_of(2) {
            [Kind::Berth, Kind::Distribution]
        } else {
            [Kind::Distribution, Kind::Berth]
        }
    };

    if !cli.skip.iter().any(|s| s == "blobs") {
        for round in 0..plan.rounds {
            progress(&format!(
                "blob workloads, round {}/{}",
                round + 1,
                plan.rounds
            ));
            blobs::round(&plan, &bins, &work, round, order(round), &mut results).await?;
        }
    }
    if !cli.skip.iter().any(|s| s == "metadata") {
        progress("metadata workloads: populating");
        let mut meta = meta::Meta::start(&plan, &bins, &work, &mut results).await?;
        for round in 0..plan.rounds {
            progress(&format!(
                "metadata workloads, round {}/{}",
                round + 1,
                plan.rounds
            ));
            meta.round(&plan, round, order(round), &mut results).await?;
        }
        progress("restarts");
        let idle = if cli.quick {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(2)
        };
        meta.restarts(&plan, idle, &mut results).await?;
        meta.stop()?;
    }
    if !cli.skip.iter().any(|s| s == "encryption") {
        for round in 0..plan.rounds {
            progress(&format!(
                "encryption workloads (sealed beside unencrypted), round {}/{}",
                round + 1,
                plan.rounds
            ));
            encryption::round(&plan, &bins, &work, round, &mut results).await?;
        }
    }
    if !cli.skip.iter().any(|s| s == "replication") {
        for round in 0..plan.rounds {
            progress(&format!(
                "replication workloads, round {}/{}",
                round + 1,
                plan.rounds
            ));
            replication::round(&plan, &bins, &work, round, &mut results).await?;
        }
    }
    if cli.shared && !cli.skip.iter().any(|s| s == "scale-out") {
        for round in 0..plan.rounds {
            progress(&format!(
                "scale-out workloads (PostgreSQL + S3 beside embedded), round {}/{}",
                round + 1,
                plan.rounds
            ));
            scale_out::round(&plan, &bins, &work, round, &mut results).await?;
        }
    }
    let _ = std::fs::remove_dir_all(&work);

    let checks = targets::check(&results);
    let elapsed = started.elapsed().as_secs_f64();
    let header = format!(
        "Machine: {machine}.\n{versions}.\n{} round(s){}, {} s; medians with ±half the range across rounds. \
         Ratio is berth relative to Distribution with higher = berth better (latency and memory rows: Distribution / berth). \
         MB/s = 10^6 bytes/s.\n",
        plan.rounds,
        if cli.quick { " (--quick: small sizes, not comparable with a full run)" } else { "" },
        elapsed.round()
    );
    let mut md = format!("{header}\n{}", results.markdown());
    if !results.notes.is_empty() {
        md.push('\n');
        for n in &results.notes {
            md.push_str(&format!("- {n}\n"));
        }
    }
    md.push_str(&format!("\nTargets:\n\n{}", targets::markdown(&checks)));
    println!("{md}");
    std::fs::write(cli.out.join("results.md"), &md)?;
    std::fs::write(
        cli.out.join("results.json"),
        serde_json::to_string_pretty(&results.json())?,
    )?;
    let png = cli.out.join("chart.png");
    let title = format!(
        "berth vs CNCF Distribution, {} round(s){}",
        plan.rounds,
        if cli.quick { ", --quick" } else { "" }
    );
    let mut wrote = vec![cli.out.join("results.md"), cli.out.join("results.json")];
    if !chart::bars(&results).is_empty() {
        chart::draw(&results, &title, &format!("{machine}; {versions}"), &png)
            .context("drawing the chart")?;
        wrote.push(png);
    } else {
        eprintln!("no row beside Distribution was measured: no chart");
    }
    eprintln!(
        "wrote {} in {elapsed:.0} s; {} of {} targets met",
        wrote
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        checks.iter().filter(|c| c.met).count(),
        checks.len()
    );
    Ok(())
}

/// Builds the workspace's release berth and returns its path.
fn build_berth() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building the release berth (cargo build --release -p berth)");
    let status = Command::new(cargo)
        .args(["build", "--release", "--locked", "-p", "berth"])
        .current_dir(&root)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("building berth failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("release").join("berth"))
}

fn which(bin: &Path) -> anyhow::Result<PathBuf> {
    if bin.components().count() > 1 {
        return Ok(bin.to_path_buf());
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {}", bin.display()))
        .output()?;
    if !out.status.success() {
        bail!(
            "{} is not installed; crates/bench/install.sh installs what the benchmark needs",
            bin.display()
        );
    }
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

fn command_version(bin: &Path, flag: &str) -> String {
    Command::new(bin)
        .arg(flag)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn berth_version(bin: &Path) -> String {
    let v = command_version(bin, "--version");
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match commit {
        Some(c) => format!("{} (commit {c})", v.trim_start_matches("berth ")),
        None => v.trim_start_matches("berth ").to_string(),
    }
}

fn free_bytes(dir: &Path) -> anyhow::Result<u64> {
    let s = rustix::fs::statvfs(dir)?;
    Ok(s.f_bavail * s.f_frsize)
}
