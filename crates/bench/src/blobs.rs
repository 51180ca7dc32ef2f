//! The blob phase of a round: monolithic and chunked pushes, then pulls of
//! what was pushed, on a fresh berth and a fresh Distribution that are
//! removed afterwards (so a full run needs one round's worth of disk).
//! The machine's limits are measured in the same round.

use crate::client::Conn;
use crate::content::{self, Blob};
use crate::machine;
use crate::plan::{size_label, Plan};
use crate::report::{Better, Results};
use crate::servers::{Binaries, Kind, Server};
use crate::{progress, who};
use anyhow::{bail, ensure};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub(crate) const REPO: &str = "bench/blobs";

pub async fn round(
    plan: &Plan,
    bins: &Binaries,
    work: &Path,
    round: usize,
    order: [Kind; 2],
    results: &mut Results,
) -> anyhow::Result<()> {
    let dir = work.join(format!("blobs-round-{round}"));
    let mut servers = Vec::new();
    for kind in order {
        let (s, _) = Server::start(kind, bins, &dir.join(kind.label())).await?;
        servers.push(s);
    }
    let (floor, _) = Server::start(Kind::Floor, bins, &dir.join("floor")).await?;

    let sha = machine::sha256(plan.sha256_bytes);
    let aes = machine::aes_gcm(plan.sha256_bytes);
    let loopback = machine::loopback(plan.loopback_bytes)?;
    let disk = machine::disk(&dir, plan.disk_bytes)?;
    results.add_machine("limit: SHA-256 on one core (sha2, as berth)", "MB/s", sha);
    results.add_machine(
        "limit: AES-256-GCM sealing on one core (aws-lc-rs, 64 KiB segments)",
        "MB/s",
        aes,
    );
    results.add_machine("limit: loopback TCP copy, one connection", "MB/s", loopback);
    results.add_machine("limit: disk sequential read, cold", "MB/s", disk.read_cold);
    progress(&format!(
        "limits: SHA-256 {sha:.0} MB/s, AES-256-GCM {aes:.0} MB/s, loopback {loopback:.0} MB/s, disk cold read {:.0} MB/s",
        disk.read_cold
    ));
    // This machine's disk speed drifts with what was written before (here:
    // ~1.4 GB/s for the first few GB of a round, then ~0.3 GB/s), so the
    // durable-write limit is probed again right before each push workload.
    let push_limit = |results: &mut Results| -> anyhow::Result<(f64, &'static str)> {
        let write = machine::disk(&dir, plan.disk_bytes)?.write_fsync;
        results.add_machine("limit: disk sequential write + fdatasync", "MB/s", write);
        progress(&format!("limit: disk write+fsync {write:.0} MB/s"));
        Ok(if sha < write {
            (sha, "SHA-256")
        } else {
            (write, "disk write+fsync")
        })
    };

    let base = content::base_chunk();
    let mut seed = (round as u64 + 1) << 32;
    let mut seeds = |n: usize| {
        let s = seed;
        seed += n as u64;
        s..s + n as u64
    };
    let mut pulled_sets = Vec::new();

    for &(size, count) in &plan.blob_sets {
        let label = size_label(size);
        for s in &servers {
            s.reset_peak()?;
        }
        for streams in [1, plan.parallel_streams.min(count)] {
            let (limit, limit_is) = push_limit(results)?;
            let blobs = Arc::new(Blob::many(&base, seeds(count), size));
            let name = if streams == 1 {
                format!("blob push, monolithic, {label} ×{count}, 1 stream")
            } else {
                format!("blob push, monolithic, {label} ×{count}, {streams} streams")
            };
            for s in &servers {
                let t = Instant::now();
                push_all(s.addr, blobs.clone(), streams, None).await?;
                let secs = t.elapsed().as_secs_f64();
                let mbs = (size * count as u64) as f64 / 1e6 / secs;
                results.add(&name, "MB/s", Better::Higher, who(s.kind), mbs);
                if size <= 4 << 20 {
                    results.add(
                        &format!("{name} (blobs/s)"),
                        "blobs/s",
                        Better::Higher,
                        who(s.kind),
                        count as f64 / secs,
                    );
                }
                progress(&format!("{name}: {} {mbs:.0} MB/s", s.kind.label()));
            }
            results.add_limit(&name, "MB/s", Better::Higher, limit_is, limit);
            if size <= 4 << 20 {
                // Small blobs wait on the disk's flushes, not its bandwidth.
                let files = machine::durable_files(&dir, size as usize, count, streams)?;
                results.add_limit(
                    &format!("{name} (blobs/s)"),
                    "blobs/s",
                    Better::Higher,
                    "durable file writes",
                    files,
                );
                progress(&format!(
                    "limit: {streams} stream(s) of durable {label} files {files:.0}/s"
                ));
            }
            if streams == 1 {
                pulled_sets.push(blobs);
            }
        }
        for s in &servers {
            results.add(
                &format!("peak RSS, blob push {label}"),
                "MiB",
                Better::Lower,
                who(s.kind),
                s.peak_mib()?,
            );
        }
    }

    let (size, chunk) = plan.chunked;
    let blobs = Arc::new(Blob::many(&base, seeds(1), size));
    let (limit, limit_is) = push_limit(results)?;
    let name = format!(
        "blob push, chunked ({} PATCHes), {}",
        size_label(chunk),
        size_label(size)
    );
    for s in &servers {
        s.reset_peak()?;
        let t = Instant::now();
        push_all(s.addr, blobs.clone(), 1, Some(chunk)).await?;
        let mbs = size as f64 / 1e6 / t.elapsed().as_secs_f64();
        results.add(&name, "MB/s", Better::Higher, who(s.kind), mbs);
        results.add(
            &format!("peak RSS, {name}"),
            "MiB",
            Better::Lower,
            who(s.kind),
            s.peak_mib()?,
        );
        progress(&format!("{name}: {} {mbs:.0} MB/s", s.kind.label()));
    }
    results.add_limit(&name, "MB/s", Better::Higher, limit_is, limit);

    for blobs in &pulled_sets {
        let (size, count) = (blobs[0].size, blobs.len());
        let label = size_label(size);
        for s in &servers {
            s.reset_peak()?;
        }
        let blob_paths: Arc<Vec<(String, u64)>> = Arc::new(
            blobs
                .iter()
                .map(|b| (format!("/v2/{REPO}/blobs/{}", b.digest), b.size))
                .collect(),
        );
        let bulk_paths = Arc::new(vec![(format!("/bulk/{size}"), size); count]);
        for &c in &plan.pull_concurrency {
            let name = format!("blob pull, {label} ×{count}, concurrency {c}");
            for s in servers.iter().chain([&floor]) {
                let paths = if s.kind == Kind::Floor {
                    &bulk_paths
                } else {
                    &blob_paths
                };
                let t = Instant::now();
                let bytes = pull_all(s.addr, paths.clone(), c).await?;
                let mbs = bytes as f64 / 1e6 / t.elapsed().as_secs_f64();
                match s.kind {
                    Kind::Floor => results.add_machine(
                        &format!(
                            "limit: bare hyper streaming {label} from memory, concurrency {c}"
                        ),
                        "MB/s",
                        mbs,
                    ),
                    k => results.add(&name, "MB/s", Better::Higher, who(k), mbs),
                }
                progress(&format!("{name}: {} {mbs:.0} MB/s", s.kind.label()));
            }
            results.add_limit(&name, "MB/s", Better::Higher, "loopback copy", loopback);
        }
        for s in &servers {
            results.add(
                &format!("peak RSS, blob pull {label}"),
                "MiB",
                Better::Lower,
                who(s.kind),
                s.peak_mib()?,
            );
        }
    }

    // What was timed must also have been right: one blob of each set, whole.
    for s in &servers {
        let mut conn = Conn::connect(s.addr).await?;
        for blobs in &pulled_sets {
            let b = &blobs[blobs.len() - 1];
            if b.size <= 64 << 20 {
                let bytes = conn.pull_bytes(REPO, &b.digest).await?;
                ensure!(
                    berth_testkit::image::sha256(&bytes) == b.digest,
                    "{} served wrong bytes for {}",
                    s.kind.label(),
                    b.digest
                );
            }
        }
    }

    for mut s in servers.into_iter().chain([floor]) {
        s.stop()?;
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Pushes every blob, `streams` at a time (each stream one connection);
/// monolithic unless `chunk` is given.
pub(crate) async fn push_all(
    addr: SocketAddr,
    blobs: Arc<Vec<Blob>>,
    streams: usize,
    chunk: Option<u64>,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let (blobs, next) = (blobs.clone(), next.clone());
        let mut conn = Conn::connect(addr).await?;
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(b) = blobs.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                match chunk {
                    None => conn.push_monolithic(REPO, b).await?,
                    Some(c) => conn.push_chunked(REPO, b, c).await?,
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// GETs `max(count, concurrency)` of the (path, size) pairs, round-robin,
/// on `concurrency` connections; the bytes received.
pub(crate) async fn pull_all(
    addr: SocketAddr,
    blobs: Arc<Vec<(String, u64)>>,
    concurrency: usize,
) -> anyhow::Result<u64> {
    let total = blobs.len().max(concurrency);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (blobs, next) = (blobs.clone(), next.clone());
        let mut conn = Conn::connect(addr).await?;
        tasks.push(tokio::spawn(async move {
            let mut bytes = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(bytes);
                }
                let (path, size) = &blobs[i % blobs.len()];
                let n = conn.get_counting(path).await?;
                if n != *size {
                    bail!("GET {path} gave {n} bytes, not {size}");
                }
                bytes += n;
            }
        }));
    }
    let mut bytes = 0;
    for t in tasks {
        bytes += t.await??;
    }
    Ok(bytes)
}
