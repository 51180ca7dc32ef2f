//! `berth rotate-root`: a new generation of the key hierarchy's root for a
//! stopped deployment (ARCHITECTURE.md, "Root rotation"), and every data
//! key and KMS key material re-wrapped under it without rewriting a blob's
//! segments; then the older generation is retired and forgotten.
//!
//! The new root comes from the settings the deployment will be started
//! with: a fresh data key of the external KMS key `BERTH_ROOT_KMS_KEY`
//! when it is set (`kms_root.rs`), else the server key. So moving a
//! deployment that holds data to an external root is: stop every node,
//! set `BERTH_ROOT_KMS_*`, run this, start the nodes with the same
//! settings. Once it is done, the data dir or bucket with `server.key`
//! opens nothing without the KMS.
//!
//! Every node must be stopped while the rotation is recorded (a node
//! still running would go on wrapping under the old generation). With
//! `--background` only that is done here, and the nodes' sealing job
//! re-wraps while they serve (uploads in progress re-wrap at their commit
//! or expire), retiring the old generation when nothing is left: the
//! downtime is a restart whatever the deployment's size.

use crate::offline::OfflineStores;
use anyhow::bail;
use berth_registry::RegistryConfig;
use clap::Args;

#[derive(Args, Debug)]
pub struct RotateRootArgs {
    #[command(flatten)]
    stores: OfflineStores,
    /// Only record the new generation; the servers re-wrap in the
    /// background once started (see `berth_root_generation` and
    /// `berth_sealing_rewrapped_to_current_root` in /metrics).
    #[arg(long)]
    background: bool,
}

pub async fn run(args: RotateRootArgs) -> anyhow::Result<()> {
    let opened = args.stores.open("berth rotate-root")?;
    let kms = crate::kms_root::RootKms::from_env()?;
    let (meta, cluster) = crate::datadir::open_metadata(&opened.metadata).await?;
    let serving = cluster.serving_nodes().await?;
    if serving > 0 {
        meta.close().await;
        bail!(
            "{serving} berth node(s) still serve this deployment (each holds a LISTEN connection to its PostgreSQL database): stop every node, then run berth rotate-root again"
        );
    }
    let started = crate::kms_root::start_rotation(&*meta, &opened.server_key, kms.as_ref()).await;
    meta.close().await;
    let (generation, new) = started?;
    if new {
        eprintln!("root generation {generation} recorded as current");
    } else {
        eprintln!("finishing the unfinished rotation to root generation {generation}");
    }
    if args.background {
        eprintln!(
            "start the nodes: they re-wrap what older generations wrapped in the background and retire them when nothing is left"
        );
        return Ok(());
    }
    let config = RegistryConfig {
        server_key: opened.server_key.clone(),
        ..RegistryConfig::default()
    };
    let registry =
        crate::datadir::open_registry(&opened.metadata, &opened.blobs, &opened.archive_dir, config)
            .await?;
    let run = registry.rewrap_to_current_root(true, true).await;
    registry.close().await;
    let run = run?;
    println!(
        "re-wrapped under root generation {}: {} blobs, {} uploads, {} manifest bodies, {} KMS keys",
        run.current, run.blobs, run.uploads, run.bodies, run.keys
    );
    if run.left > 0 {
        bail!(
            "{} objects could not be re-wrapped (each is in the log above); the older generation stays until they are: run `berth rotate-root` again, or `berth fsck --deep` to see what is damaged",
            run.left
        );
    }
    if !run.retired.is_empty() {
        println!(
            "retired root generations {:?}: nothing is wrapped under them any more",
            run.retired
        );
    }
    Ok(())
}
