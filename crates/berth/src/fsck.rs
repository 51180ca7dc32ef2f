//! `berth fsck`: checks a data dir that no server holds (the checks
//! themselves are `Registry::fsck`, `crates/registry/src/fsck.rs`), prints
//! the report, and exits 0 when nothing is damaged (harmless garbage is
//! listed but does not fail), 2 when damage remains, 1 when it could not
//! check at all (e.g. a server holds the data dir).

use crate::offline::OfflineStores;
use crate::stores::{Blobs, Metadata};
use anyhow::Context;
use berth_registry::{Fix, FsckOptions, FsckProblem, FsckReport, RegistryConfig, Severity};
use clap::Args;
use serde_json::json;
use std::path::Path;

/// Exit status when damage remains.
pub const EXIT_DAMAGE: i32 = 2;

#[derive(Args, Debug)]
pub struct FsckArgs {
    /// The stores. A scaled-out deployment's nodes may keep running without
    /// `--repair` (uploads in flight then show as garbage); stop them
    /// before repairing.
    #[command(flatten)]
    stores: OfflineStores,
    /// Also re-hash every stored blob and manifest body (reads every byte).
    #[arg(long)]
    deep: bool,
    /// Fix what can be fixed without losing data: remove orphaned and
    /// temporary files, rows that point at nothing when nothing depends on
    /// them, stale upload sessions; re-link and re-record blobs whose bytes
    /// are intact; rebuild the indexes.
    #[arg(long)]
    repair: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the check; the process's exit status is the caller's to set from
/// the returned report (`EXIT_DAMAGE` when `damage() > 0`).
pub async fn run(args: FsckArgs) -> anyhow::Result<FsckReport> {
    let opened = args.stores.open("berth fsck")?;
    // Modes first (a data dir's only): opening the stores creates what is
    // missing (privately).
    let mut modes = Vec::new();
    if let Some(data) = &opened.data {
        for (what, dir) in [
            ("data dir", &data.root),
            ("archive dir", &opened.archive_dir),
        ] {
            if what == "archive dir" && (!dir.exists() || dir.starts_with(&data.root)) {
                continue; // inside the data dir: walked with it
            }
            modes.push(mode_problem(what, dir, args.repair)?);
        }
    }
    let report = check(
        &args,
        &opened.metadata,
        &opened.blobs,
        &opened.archive_dir,
        Some(opened.server_key.clone()),
    )
    .await;
    let mut report = report.with_context(|| format!("checking {}", opened.describe()))?;
    drop(opened);
    report.problems.extend(modes.into_iter().flatten());
    print_report(&args, &report)?;
    Ok(report)
}

/// Opens the stores, runs the checks (and repairs), closes them.
async fn check(
    args: &FsckArgs,
    metadata: &Metadata,
    blobs: &Blobs,
    archive_dir: &Path,
    server_key: Option<berth_iam::ServerKey>,
) -> anyhow::Result<FsckReport> {
    let mut config = RegistryConfig::default();
    if let Some(key) = server_key {
        config.server_key = key;
    }
    let registry = crate::datadir::open_registry(metadata, blobs, archive_dir, config).await?;
    let report = registry
        .fsck(FsckOptions {
            deep: args.deep,
            repair: args.repair,
        })
        .await;
    registry.close().await;
    Ok(report?)
}

fn print_report(args: &FsckArgs, report: &FsckReport) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(&to_json(report))?);
    } else {
        print!("{}", to_text(report));
    }
    Ok(())
}

/// Files and directories under `dir` that group or others may read or
/// enter (a data dir written by an earlier version, or under a loose
/// umask): one `insecure-mode` problem for the tree, garbage-level (no
/// data is wrong; `--repair` makes directories 0700 and files 0600).
fn mode_problem(what: &str, dir: &Path, repair: bool) -> anyhow::Result<Option<FsckProblem>> {
    let loose = crate::datadir::loose_modes(dir)?;
    if loose.paths.is_empty() {
        return Ok(None);
    }
    let examples: Vec<String> = loose
        .examples
        .iter()
        .map(|(p, m)| format!("{} ({m:o})", p.display()))
        .collect();
    let message = format!(
        "{} directories and {} files of the {what} grant group or others access (e.g. {}); other local users may read tenants' images and policies",
        loose.dirs,
        loose.files,
        examples.join(", ")
    );
    let fix = if repair {
        let mut failed = None;
        // Files first, then directories deepest first, so the walk of a
        // later run sees what this one did.
        for (p, is_dir) in loose.paths.iter().rev() {
            if let Err(e) = crate::datadir::tighten(p, *is_dir) {
                failed.get_or_insert(format!("{e:#}"));
            }
        }
        match failed {
            None => Fix::Done("made the directories 0700 and the files 0600".into()),
            Some(e) => Fix::Failed(e),
        }
    } else {
        Fix::Available("make the directories 0700 and the files 0600".into())
    };
    Ok(Some(FsckProblem {
        severity: Severity::Garbage,
        kind: "insecure-mode",
        message,
        location: dir.display().to_string(),
        fix,
    }))
}

fn to_json(r: &FsckReport) -> serde_json::Value {
    let c = &r.checked;
    json!({
        "deep": r.options.deep,
        "repair": r.options.repair,
        "checked": {
            "repositories": c.repositories,
            "blobRecords": c.blob_records,
            "blobFiles": c.blob_files,
            "bytesHashed": c.bytes_hashed,
            "manifestBodiesHashed": c.manifest_bodies_hashed,
            "uploadSessions": c.upload_sessions,
            "uploadFiles": c.upload_files,
        },
        "damage": r.damage(),
        "garbage": r.garbage(),
        "repaired": r.repaired(),
        "problems": r.problems.iter().map(|p| json!({
            "severity": p.severity.as_str(),
            "kind": p.kind,
            "message": p.message,
            "location": p.location,
            "fix": p.fix.kind(),
            "fixDetail": p.fix.text(),
        })).collect::<Vec<_>>(),
    })
}

fn to_text(r: &FsckReport) -> String {
    let c = &r.checked;
    let mut out = format!(
        "checked {} repositories, {} blob records, {} blob files, {} upload sessions, {} upload files{}\n",
        c.repositories,
        c.blob_records,
        c.blob_files,
        c.upload_sessions,
        c.upload_files,
        if r.options.deep {
            format!(
                "; re-hashed {:.1} MiB of blobs and {} manifest bodies",
                c.bytes_hashed as f64 / (1024.0 * 1024.0),
                c.manifest_bodies_hashed
            )
        } else {
            String::new()
        }
    );
    for p in &r.problems {
        out.push_str(&format!(
            "{:<7} {}: {}\n        at {}\n        {}: {}\n",
            p.severity.as_str(),
            p.kind,
            p.message,
            p.location,
            p.fix.kind(),
            p.fix.text()
        ));
    }
    let verdict = if r.damage() > 0 {
        "DAMAGED: stored data is lost or cannot be served"
    } else if r.garbage() > 0 {
        "no damage; harmless garbage remains (`berth fsck --repair` removes it)"
    } else {
        "clean"
    };
    out.push_str(&format!(
        "{} damaged, {} garbage{}: {verdict}\n",
        r.damage(),
        r.garbage(),
        if r.options.repair {
            format!(", {} repaired", r.repaired())
        } else {
            String::new()
        }
    ));
    out
}
