//! The replication phase (issue 22): rows named `replication: …`.
//! - Same deployment: a 10-layer image pushed to a repository that
//!   replicates to us-west-2 of the same account; the time from the
//!   manifest PUT's answer to the tag answering on the us-west-2 host name
//!   (polled every millisecond).
//! - Another deployment: a 100 MiB image replicated to a second berth
//!   (`--replication-remote`) beside `skopeo copy` of the same image
//!   between the same two servers (the peer column).
//! - 1,000 replications: manifest GET by tag at concurrency 64 on the
//!   source while 1,000 pushes each queue one and the workers drain them,
//!   beside the same load while 1,000 pushes that replicate nowhere go on
//!   (the peer column).

use crate::client::push_image;
use crate::client::{empty, Conn};
use crate::content::{self, Blob};
use crate::load;
use crate::meta::{manifest_shapes, IMAGE_REPO};
use crate::plan::Plan;
use crate::progress;
use crate::report::{Better, Results, Who, REPLICATION as PREFIX};
use crate::servers::{Binaries, Kind, Server};
use berth_testkit::image::{image_of, oci_image, stored_layer};
use http::{header, HeaderValue, Method};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

const ACCOUNT: &str = "000000000000";

/// PutReplicationConfiguration on `addr`: repositories named `prefix…`
/// replicate to `region` of the same account.
async fn configure(addr: SocketAddr, prefix: &str, region: &str) -> anyhow::Result<()> {
    let url = format!("http://{addr}");
    let input = serde_json::json!({"replicationConfiguration": {"rules": [{
        "destinations": [{"region": region, "registryId": ACCOUNT}],
        "repositoryFilters": [{"filter": prefix, "filterType": "PREFIX_MATCH"}]}]}});
    tokio::task::spawn_blocking(move || {
        berth_testkit::ecr::call(
            &reqwest::blocking::Client::new(),
            &url,
            (
                berth_testkit::ROOT_ACCESS_KEY_ID,
                berth_testkit::ROOT_SECRET_ACCESS_KEY,
            ),
            "us-east-1",
            "PutReplicationConfiguration",
            &input,
        )
        .map_err(|e| anyhow::anyhow!("PutReplicationConfiguration: {e:?}"))
    })
    .await??;
    Ok(())
}

/// Polls `repo:tag` on `region`'s host name at `addr` until it answers 200.
async fn appears(
    addr: SocketAddr,
    region: &str,
    repo: &str,
    tag: &str,
    limit: Duration,
) -> anyhow::Result<Instant> {
    let host = HeaderValue::from_str(&format!(
        "{ACCOUNT}.dkr.ecr.{region}.localhost:{}",
        addr.port()
    ))?;
    let mut c = Conn::connect(addr).await?;
    let deadline = Instant::now() + limit;
    loop {
        let mut req = c
            .request(Method::HEAD, &format!("/v2/{repo}/manifests/{tag}"))
            .header(header::ACCEPT, berth_testkit::image::OCI_MANIFEST)
            .body(empty())?;
        req.headers_mut().insert(header::HOST, host.clone());
        if c.send(req).await?.status() == 200 {
            return Ok(Instant::now());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{repo}:{tag} never reached {region}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub async fn round(
    plan: &Plan,
    bins: &Binaries,
    work: &Path,
    round: usize,
    results: &mut Results,
) -> anyhow::Result<()> {
    let dir = work.join(format!("replication-round-{round}"));
    let seed = 0x4e70_0000 + ((round as u64) << 24);

    // Same deployment: a 10-layer image.
    let (mut s, _) = Server::start(Kind::Berth, bins, &dir.join("same")).await?;
    configure(s.addr, "repl-", "us-west-2").await?;
    let name = format!("{PREFIX}same deployment, 10-layer image, push to replica");
    let mut samples = Vec::new();
    for i in 0..plan.replication_images {
        let image = oci_image(seed + i as u64, 10, 1, 16 << 10);
        let mut c = Conn::connect(s.addr).await?;
        let tag = format!("v{i}");
        push_image(&mut c, "repl-app", &image, &tag).await?;
        let pushed = Instant::now();
        let at = appears(
            s.addr,
            "us-west-2",
            "repl-app",
            &tag,
            Duration::from_secs(30),
        )
        .await?;
        samples.push(at.duration_since(pushed).as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    let median = samples[samples.len() / 2];
    results.add(&name, "ms", Better::Lower, Who::Berth, median);
    progress(&format!(
        "{name}: median {median:.1} ms of {}",
        samples.len()
    ));

    // Manifest GETs while 1,000 pushes each queue a replication that the
    // workers drain, beside the same GETs while 1,000 pushes that
    // replicate nowhere go on (the peer): the difference is what draining
    // the queue costs the source.
    let image = oci_image(seed + 999, 2, 1, 1024);
    push_image(
        &mut Conn::connect(s.addr).await?,
        IMAGE_REPO,
        &image,
        "latest",
    )
    .await?;
    let (label, shape) = manifest_shapes(&image).remove(0);
    let queued = plan.replication_queue;
    let name = format!("{PREFIX}manifest {label}, concurrency 64, while {queued} pushes replicate (peer: while they do not)");
    let small = oci_image(seed + 1000, 1, 1, 512);
    for (repo, who) in [("plain-many", Who::Peer), ("repl-many", Who::Berth)] {
        let mut c = Conn::connect(s.addr).await?;
        push_image(&mut c, repo, &small, "base").await?;
        let manifest = small.manifest.clone();
        let pushes = tokio::spawn(async move {
            for i in 0..queued {
                // The same blobs under a new manifest each (an annotation).
                let mut m: serde_json::Value = serde_json::from_slice(&manifest)?;
                m["annotations"] = serde_json::json!({"n": i.to_string()});
                let body = serde_json::to_vec(&m)?;
                c.put_manifest(
                    repo,
                    &format!("t{i}"),
                    berth_testkit::image::OCI_MANIFEST,
                    &body,
                )
                .await?;
            }
            anyhow::Ok(Instant::now())
        });
        let r = load::run(s.addr, shape.clone(), 64, Duration::ZERO, plan.measure).await?;
        let measured = Instant::now();
        let pushed = pushes.await??;
        results.add(&name, "req/s", Better::Higher, who, r.rate());
        progress(&format!(
            "{name}: {repo} {:.0}/s{}",
            r.rate(),
            if pushed < measured {
                " (the pushes ended before the measurement did)"
            } else {
                ""
            }
        ));
    }
    let drained = Instant::now();
    appears(
        s.addr,
        "us-west-2",
        "repl-many",
        &format!("t{}", queued - 1),
        Duration::from_secs(120),
    )
    .await?;
    progress(&format!(
        "{queued} replications drained {:.1} s after the last push",
        drained.elapsed().as_secs_f64()
    ));
    s.stop()?;

    // Another deployment: a 100 MiB image, beside skopeo copy.
    let (mut dest, _) = Server::start(Kind::Berth, bins, &dir.join("dest")).await?;
    let (mut src, _) = Server::start_with(
        Kind::Berth,
        bins,
        &dir.join("src"),
        vec![
            "--replication-remote".into(),
            format!("us-west-2=http://{}", dest.addr),
        ],
        vec![
            (
                "BERTH_REPLICATION_ACCESS_KEY_ID".into(),
                berth_testkit::ROOT_ACCESS_KEY_ID.into(),
            ),
            (
                "BERTH_REPLICATION_SECRET_ACCESS_KEY".into(),
                berth_testkit::ROOT_SECRET_ACCESS_KEY.into(),
            ),
        ],
    )
    .await?;
    configure(src.addr, "repl-", "us-west-2").await?;
    let size = plan.replication_remote_bytes;
    let base = content::base_chunk();
    let blob = Blob::new(&base, seed + 2000, size);
    let mut bytes = Vec::with_capacity(size as usize);
    for f in blob.frames(0, size) {
        bytes.extend_from_slice(&f);
    }
    let image = image_of(seed + 2001, vec![stored_layer(&bytes)]);
    drop(bytes);
    let mut c = Conn::connect(src.addr).await?;
    push_image(&mut c, "repl-big", &image, "v1").await?;
    let pushed = Instant::now();
    let at = appears(
        dest.addr,
        "us-west-2",
        "repl-big",
        "v1",
        Duration::from_secs(600),
    )
    .await?;
    let lag = at.duration_since(pushed).as_secs_f64();
    let name = format!(
        "{PREFIX}another deployment, {} MiB image, push to replica (peer: skopeo copy)",
        size >> 20
    );
    results.add(&name, "s", Better::Lower, Who::Berth, lag);
    let t = Instant::now();
    let (from, to) = (src.creds.clone(), dest.creds.clone());
    let (sa, da) = (src.addr, dest.addr);
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut cmd = std::process::Command::new("skopeo");
        cmd.args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"]);
        if let Some(c) = &from {
            cmd.args(["--src-creds", c]);
        }
        if let Some(c) = &to {
            cmd.args(["--dest-creds", c]);
        }
        let out = cmd
            .arg(format!("docker://{sa}/repl-big:v1"))
            .arg(format!("docker://{da}/skopeo-big:v1"))
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "skopeo copy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    })
    .await??;
    let skopeo = t.elapsed().as_secs_f64();
    results.add(&name, "s", Better::Lower, Who::Peer, skopeo);
    progress(&format!(
        "{name}: {lag:.2} s beside skopeo copy {skopeo:.2} s"
    ));
    src.stop()?;
    dest.stop()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
