//! The scale-out phase (`--shared`): a berth on its embedded stores beside
//! a berth on PostgreSQL + S3, both fresh each round, measured with the
//! same requests, with the S3 server's own speed (the same crate berth uses,
//! the same part size) as the limit of the large-blob rows.
//!
//! Rows are named `scale-out: …`. In them the berth column is berth on
//! PostgreSQL + S3 and the peer column is the embedded berth, so the ratio
//! is PostgreSQL + S3 relative to embedded; `report.rs` prints them as a
//! table of their own.

use crate::blobs::{pull_all, push_all, REPO as BLOB_REPO};
use crate::client::push_image;
use crate::client::Conn;
use crate::content::{self, Blob};
use crate::load;
use crate::meta::{manifest_shapes, IMAGE_REPO};
use crate::plan::{size_label, Plan};
use crate::progress;
use crate::report::{Better, Results, Who, SCALE_OUT as PREFIX};
use crate::servers::{Binaries, Kind, Server, SharedStores};
use anyhow::Context;
use berth_testkit::image::oci_image;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::MultipartStore;
use object_store::path::Path as S3Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// berth's S3 part size (`berth_store::s3_blob::PART_SIZE`), for the limit.
const PART: u64 = 8 << 20;

fn who(kind: Kind) -> Who {
    if kind == Kind::BerthShared {
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
    let stores = bins
        .shared
        .as_ref()
        .context("the scale-out phase needs --shared")?;
    let dir = work.join(format!("scale-out-round-{round}"));
    let mut kinds = [Kind::BerthShared, Kind::Berth];
    if round % 2 == 1 {
        kinds.reverse();
    }
    let mut servers = Vec::new();
    for kind in kinds {
        let (s, ready) =
            Server::start(kind, bins, &dir.join(kind.label().replace(' ', "-"))).await?;
        let name = format!("{PREFIX}start to first 200 on /v2/, empty stores");
        results.add(
            &name,
            "ms",
            Better::Lower,
            who(kind),
            ready.as_secs_f64() * 1e3,
        );
        let rss = s.rss_mib()?;
        let name = format!("{PREFIX}RSS idle after start and one request");
        results.add(&name, "MiB", Better::Lower, who(kind), rss);
        progress(&format!(
            "{}: ready in {ready:?}, {rss:.1} MiB",
            kind.label()
        ));
        servers.push(s);
    }

    manifests(plan, &servers, results).await?;
    let s3 = raw_store(stores)?;
    small_blobs(plan, round, &s3, &servers, results).await?;
    large_blob(plan, round, &s3, &servers, results).await?;

    for mut s in servers {
        s.stop()?;
        // What the round stored in S3 goes with it, as its data dir does.
        if let Some(prefix) = s.s3_prefix().filter(|p| !p.is_empty()) {
            let objects = s3
                .list(Some(&S3Path::from(prefix)))
                .map_ok(|o| o.location)
                .boxed();
            s3.delete_stream(objects).try_collect::<Vec<_>>().await?;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Manifest GET/HEAD at concurrency 64: the hot cache serves both kinds.
async fn manifests(plan: &Plan, servers: &[Server], results: &mut Results) -> anyhow::Result<()> {
    let image = oci_image(1, 2, 1, 1024);
    for s in servers {
        push_image(
            &mut Conn::connect(s.addr).await?,
            IMAGE_REPO,
            &image,
            "latest",
        )
        .await?;
        s.reset_peak()?;
    }
    for (label, shape) in manifest_shapes(&image) {
        let name = format!("{PREFIX}manifest {label}, concurrency 64");
        let mut line = format!("{name}:");
        for s in servers {
            let r = load::run(s.addr, shape.clone(), 64, plan.warmup, plan.measure).await?;
            results.add(&name, "req/s", Better::Higher, who(s.kind), r.rate());
            line.push_str(&format!(" {} {:.0}/s;", s.kind.label(), r.rate()));
        }
        progress(&line);
    }
    for s in servers {
        let name = format!("{PREFIX}peak RSS, manifest GET/HEAD load, concurrency 64");
        results.add(&name, "MiB", Better::Lower, who(s.kind), s.peak_mib()?);
    }
    Ok(())
}

/// Many small blobs over 1 and over 8 connections: what group commit buys;
/// beside the same number of PUTs of the same size straight to the S3
/// server, as many at once (its own rate on this machine is the limit).
async fn small_blobs(
    plan: &Plan,
    round: usize,
    s3: &AmazonS3,
    servers: &[Server],
    results: &mut Results,
) -> anyhow::Result<()> {
    let (size, count) = plan.scale_out_small;
    let base = content::base_chunk();
    for (i, streams) in [1, plan.parallel_streams].into_iter().enumerate() {
        let name = format!(
            "{PREFIX}blob push, monolithic, {} ×{count}, {streams} stream{} (blobs/s)",
            size_label(size),
            if streams == 1 { "" } else { "s" }
        );
        // Content of its own: none of berth's blobs.
        let first = (0xfeed << 40) | ((round * 4 + i) as u64) << 32;
        let blobs = Blob::many(&base, first..first + count as u64, size);
        let raw = raw_puts(
            s3,
            &format!("bench-raw-{}-{round}-{i}", std::process::id()),
            &blobs,
            streams,
        )
        .await?;
        results.add_limit(&name, "blobs/s", Better::Higher, "raw S3 PUTs", raw);
        let mut line = format!("{name}: raw S3 {raw:.0}/s;");
        for (j, s) in servers.iter().enumerate() {
            let first = ((round * 4 + i * 2 + j) as u64 + 1) << 40;
            let blobs = Arc::new(Blob::many(&base, first..first + count as u64, size));
            let t = Instant::now();
            push_all(s.addr, blobs, streams, None).await?;
            let rate = count as f64 / t.elapsed().as_secs_f64();
            results.add(&name, "blobs/s", Better::Higher, who(s.kind), rate);
            line.push_str(&format!(" {} {rate:.0}/s;", s.kind.label()));
        }
        progress(&line);
    }
    Ok(())
}

/// One large blob pushed and pulled, beside the same bytes written to and
/// read from the S3 server directly.
async fn large_blob(
    plan: &Plan,
    round: usize,
    s3: &AmazonS3,
    servers: &[Server],
    results: &mut Results,
) -> anyhow::Result<()> {
    let size = plan.scale_out_large;
    let label = size_label(size);
    let base = content::base_chunk();
    let blob = Arc::new(vec![Blob::new(&base, ((round as u64) << 40) | 0xb16, size)]);

    let key = S3Path::from(format!(
        "bench-raw-{}-{round}/{}",
        std::process::id(),
        blob[0].digest.replace(':', "-")
    ));
    let t = Instant::now();
    raw_multipart_put(s3, &key, &blob[0]).await?;
    let put = size as f64 / 1e6 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let got = raw_get(s3, &key).await?;
    let get = got as f64 / 1e6 / t.elapsed().as_secs_f64();
    anyhow::ensure!(got == size, "the raw GET read {got} of {size} bytes");
    s3.delete(&key).await?;
    progress(&format!(
        "limit: raw S3 {label} multipart put {put:.0} MB/s, GET {get:.0} MB/s"
    ));

    let push = format!("{PREFIX}blob push, monolithic, {label}, 1 stream");
    let pull = format!("{PREFIX}blob pull, {label}, 1 stream");
    let peak = format!("{PREFIX}peak RSS, blob push {label}");
    for s in servers {
        s.reset_peak()?;
        let t = Instant::now();
        push_all(s.addr, blob.clone(), 1, None).await?;
        let mbs = size as f64 / 1e6 / t.elapsed().as_secs_f64();
        results.add(&push, "MB/s", Better::Higher, who(s.kind), mbs);
        results.add(&peak, "MiB", Better::Lower, who(s.kind), s.peak_mib()?);
        let path = Arc::new(vec![(
            format!("/v2/{BLOB_REPO}/blobs/{}", blob[0].digest),
            size,
        )]);
        let t = Instant::now();
        let bytes = pull_all(s.addr, path, 1).await?;
        anyhow::ensure!(
            bytes == size,
            "{} served {bytes} of {size} bytes",
            s.kind.label()
        );
        let pulled = size as f64 / 1e6 / t.elapsed().as_secs_f64();
        results.add(&pull, "MB/s", Better::Higher, who(s.kind), pulled);
        progress(&format!(
            "{label}: {} push {mbs:.0} MB/s, pull {pulled:.0} MB/s",
            s.kind.label()
        ));
    }
    results.add_limit(
        &push,
        "MB/s",
        Better::Higher,
        "raw S3 multipart upload",
        put,
    );
    results.add_limit(&pull, "MB/s", Better::Higher, "raw S3 GET", get);
    Ok(())
}

fn raw_store(stores: &SharedStores) -> anyhow::Result<AmazonS3> {
    Ok(AmazonS3Builder::new()
        .with_bucket_name(&stores.s3_bucket)
        .with_endpoint(&stores.s3_endpoint)
        .with_region("us-east-1")
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_access_key_id(&stores.s3_access_key_id)
        .with_secret_access_key(&stores.s3_secret_access_key)
        .build()?)
}

/// A multipart upload as berth makes one: parts of 8 MiB, one at a time.
async fn raw_multipart_put(s3: &AmazonS3, key: &S3Path, blob: &Blob) -> anyhow::Result<()> {
    let id = s3.create_multipart(key).await?;
    let mut parts = Vec::new();
    let mut offset = 0;
    while offset < blob.size {
        let len = PART.min(blob.size - offset);
        let payload: PutPayload = blob.frames(offset, len).collect();
        parts.push(s3.put_part(key, &id, parts.len(), payload).await?);
        offset += len;
    }
    s3.complete_multipart(key, &id, parts).await?;
    Ok(())
}

/// PUTs `blobs` under `prefix`, `streams` at a time, then deletes them:
/// objects per second.
async fn raw_puts(
    s3: &AmazonS3,
    prefix: &str,
    blobs: &[Blob],
    streams: usize,
) -> anyhow::Result<f64> {
    let key = |b: &Blob| S3Path::from(format!("{prefix}/{}", b.digest.replace(':', "-")));
    let t = Instant::now();
    futures_util::stream::iter(blobs)
        .map(|b| async move {
            let payload: PutPayload = b.frames(0, b.size).collect();
            s3.put(&key(b), payload).await
        })
        .buffer_unordered(streams)
        .try_collect::<Vec<_>>()
        .await?;
    let rate = blobs.len() as f64 / t.elapsed().as_secs_f64();
    let keys: Vec<_> = blobs.iter().map(|b| Ok(key(b))).collect();
    let keys = futures_util::stream::iter(keys).boxed();
    s3.delete_stream(keys).try_collect::<Vec<_>>().await?;
    Ok(rate)
}

/// A streamed GET of the whole object; the bytes read.
async fn raw_get(s3: &AmazonS3, key: &S3Path) -> anyhow::Result<u64> {
    let mut stream = s3.get(key).await?.into_stream();
    let mut n = 0;
    while let Some(chunk) = stream.next().await {
        n += chunk?.len() as u64;
    }
    Ok(n)
}
