//! The `berth` command.
#![deny(unsafe_code)]

mod admin;
mod aws_call;
mod client;
mod config;
mod connections;
mod datadir;
mod fsck;
mod gc;
mod jobs;
mod kms_root;
mod memory;
mod migrate;
mod offline;
mod remote;
mod rotate_root;
mod serve;
mod stores;
mod vulndb;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "A container image registry that speaks OCI distribution and Amazon ECR"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry server.
    Serve(Box<config::ServeArgs>),
    /// Delete blobs that no manifest references (on the running server).
    Gc(gc::GcArgs),
    /// Manage accounts, users and access keys on the running server.
    Admin(admin::AdminArgs),
    /// The vulnerability database image scans match against (OSV records).
    Vulndb(vulndb::VulnDbArgs),
    /// Check a stopped server's data dir (blob files against the metadata,
    /// dangling rows, SQLite's own checks); exits 2 on damage.
    Fsck(fsck::FsckArgs),
    /// Move a stopped embedded data dir into PostgreSQL and an S3 store
    /// (resumable, verified at the end), to scale out with everything it holds.
    Migrate(migrate::MigrateArgs),
    /// Give a stopped deployment's encryption at rest a new root (moving it
    /// to an external KMS with BERTH_ROOT_KMS_KEY set) and re-wrap every
    /// data key under it.
    RotateRoot(rotate_root::RotateRootArgs),
}

fn main() -> anyhow::Result<()> {
    memory::cap_arenas();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Command::Serve(args) => {
            let config = config::Config::resolve(*args)?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve::run(config))
        }
        Command::Gc(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(gc::run(args)),
        Command::Vulndb(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(vulndb::run(args)),
        Command::Migrate(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(migrate::run(args)),
        Command::RotateRoot(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(rotate_root::run(args)),
        Command::Admin(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(admin::run(args)),
        Command::Fsck(args) => {
            let report = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(fsck::run(args))?;
            if report.damage() > 0 {
                std::process::exit(fsck::EXIT_DAMAGE);
            }
            Ok(())
        }
    }
}
