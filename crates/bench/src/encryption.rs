//! The encryption phase: berth as it runs (blobs and manifest bodies
//! sealed at rest) beside the same build with sealing off
//! (`BERTH_BENCH_UNSEALED_BLOBS=1`), both fresh each round, measured with
//! the same requests: pushes and pulls of the plan's larger blobs (64 MiB
//! and 1 GiB in the full plan), and manifest GET/HEAD at concurrency 64.
//!
//! Rows are named `encryption at rest: …`; the berth column is sealed, the
//! peer column unencrypted, so the ratio is what sealing costs.

use crate::blobs::{pull_all, push_all, REPO as BLOB_REPO};
use crate::client::push_image;
use crate::client::Conn;
use crate::content::{self, Blob};
use crate::load;
use crate::meta::{manifest_shapes, IMAGE_REPO};
use crate::plan::{size_label, Plan};
use crate::progress;
use crate::report::{Better, Results, Who, ENCRYPTION as PREFIX};
use crate::servers::{Binaries, Kind, Server};
use berth_testkit::image::oci_image;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Blobs at least this large are measured (the 64 MiB and 1 GiB;
/// the quick plan's 32 MiB).
const SMALLEST: u64 = 32 << 20;

fn who(kind: Kind) -> Who {
    if kind == Kind::Berth {
        Who::Berth
    } else {
        Who::Peer
    }
}

pub async fn round(
    plan: &Plan,
    bins: &Binaries,
    work: &Path,
    round: usize,
    results: &mut Results,
) -> anyhow::Result<()> {
    let dir = work.join(format!("encryption-round-{round}"));
    let mut kinds = [Kind::Berth, Kind::BerthUnsealed];
    if round % 2 == 1 {
        kinds.reverse();
    }
    let mut servers = Vec::new();
    for kind in kinds {
        let (s, _) = Server::start(kind, bins, &dir.join(kind.label().replace(' ', "-"))).await?;
        servers.push(s);
    }

    let base = content::base_chunk();
    let mut seed = 0xe2c0_0000_0000 + ((round as u64) << 32);
    for &(size, count) in plan.blob_sets.iter().filter(|(size, _)| *size >= SMALLEST) {
        let label = size_label(size);
        let blobs = Arc::new(Blob::many(&base, seed..seed + count as u64, size));
        seed += count as u64;
        let name = format!("{PREFIX}blob push, monolithic, {label} ×{count}, 1 stream");
        let mut line = format!("{name}:");
        for s in &servers {
            let t = Instant::now();
            push_all(s.addr, blobs.clone(), 1, None).await?;
            let mbs = (size * count as u64) as f64 / 1e6 / t.elapsed().as_secs_f64();
            results.add(&name, "MB/s", Better::Higher, who(s.kind), mbs);
            line.push_str(&format!(" {} {mbs:.0} MB/s;", s.kind.label()));
        }
        progress(&line);
        let paths: Arc<Vec<(String, u64)>> = Arc::new(
            blobs
                .iter()
                .map(|b| (format!("/v2/{BLOB_REPO}/blobs/{}", b.digest), b.size))
                .collect(),
        );
        let name = format!("{PREFIX}blob pull, {label} ×{count}, concurrency 1");
        // What a pull costs the server, beside how fast it goes: on a
        // machine whose cores the client shares, throughput alone mixes
        // the two.
        let cpu_name = format!("{PREFIX}server CPU per GB pulled, {label} ×{count}");
        let mut line = format!("{name}:");
        for s in &servers {
            let (t, cpu) = (Instant::now(), s.cpu_secs()?);
            let bytes = pull_all(s.addr, paths.clone(), 1).await?;
            let mbs = bytes as f64 / 1e6 / t.elapsed().as_secs_f64();
            let per_gb = (s.cpu_secs()? - cpu) / (bytes as f64 / 1e9);
            results.add(&name, "MB/s", Better::Higher, who(s.kind), mbs);
            results.add(&cpu_name, "s/GB", Better::Lower, who(s.kind), per_gb);
            line.push_str(&format!(
                " {} {mbs:.0} MB/s, {per_gb:.3} s of CPU per GB;",
                s.kind.label()
            ));
        }
        progress(&line);
    }

    let image = oci_image(3, 2, 1, 1024);
    for s in &servers {
        push_image(
            &mut Conn::connect(s.addr).await?,
            IMAGE_REPO,
            &image,
            "latest",
        )
        .await?;
    }
    for (label, shape) in manifest_shapes(&image) {
        let name = format!("{PREFIX}manifest {label}, concurrency 64");
        let mut line = format!("{name}:");
        for s in &servers {
            let r = load::run(s.addr, shape.clone(), 64, plan.warmup, plan.measure).await?;
            results.add(&name, "req/s", Better::Higher, who(s.kind), r.rate());
            line.push_str(&format!(" {} {:.0}/s;", s.kind.label(), r.rate()));
        }
        progress(&line);
    }
    for mut s in servers {
        s.stop()?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
