//! The `berth` command.
#![deny(unsafe_code)]

mod config;
mod datadir;
mod serve;

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
    Serve(config::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    cap_malloc_arenas();
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
            let config = config::Config::resolve(args)?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve::run(config))
        }
    }
}

/// glibc gives each thread that contends for the heap an arena of its own,
/// up to eight per core, and memory freed into an arena stays there. With
/// tokio's workers, its blocking pool and sqlx's connection threads, that
/// spread raised berth's peak RSS under 256 connections of manifest GETs
/// from 27.7 MiB (arenas capped at the core count) to 31.8 MiB, at the same
/// request rate (berth-bench). A cap of one arena cost 20% of the rate.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn cap_malloc_arenas() {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2);
    // SAFETY: mallopt only sets an allocator tunable; this runs first thing
    // in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, cores as libc::c_int);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn cap_malloc_arenas() {}
