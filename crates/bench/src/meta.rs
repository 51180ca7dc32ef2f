//! The metadata phase: one berth, one Distribution and the bare hyper floor
//! live through every round. Populated once (an image, a repository with
//! many tags, many repositories); then, per round, manifest GET/HEAD at
//! each concurrency, tag and catalog listings, and a skopeo push and pull;
//! at the end, restarts timed to the first 200 and idle memory.

use crate::client::{empty, push_image, Conn, ACCEPT_MANIFESTS};
use crate::load::{self, Shape};
use crate::plan::Plan;
use crate::report::{Better, Results};
use crate::servers::{Binaries, Kind, Server};
use crate::{progress, who};
use anyhow::{bail, ensure, Context};
use berth_testkit::image::{oci_image, write_oci_layout, Image, OCI_MANIFEST};
use http::{header, HeaderValue, Method, StatusCode};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const IMAGE_REPO: &str = "bench/manifest";
pub(crate) const SESSION_TOKEN_ROW: &str =
    "manifest GET by tag at 64 connections, a role session's login token";
const ASSUME_ROLE_ROW: &str = "STS AssumeRole, 8 connections";
const TAGS_REPO: &str = "bench/tags";

pub struct Meta {
    berth: Server,
    peer: Server,
    floor: Server,
    image: Image,
    work: std::path::PathBuf,
}

impl Meta {
    pub async fn start(
        plan: &Plan,
        bins: &Binaries,
        work: &Path,
        results: &mut Results,
    ) -> anyhow::Result<Meta> {
        let dir = work.join("metadata");
        let (berth, _) = Server::start(Kind::Berth, bins, &dir.join("berth")).await?;
        let (peer, _) = Server::start(Kind::Distribution, bins, &dir.join("distribution")).await?;
        let (floor, _) = Server::start(Kind::Floor, bins, &dir.join("floor")).await?;
        let image = oci_image(1, 2, 1, 1024);
        let m = Meta {
            berth,
            peer,
            floor,
            image,
            work: dir,
        };
        for s in [&m.berth, &m.peer] {
            let mut c = Conn::connect(s.addr).await?;
            push_image(&mut c, IMAGE_REPO, &m.image, "latest").await?;
            push_image(&mut c, TAGS_REPO, &m.image, "latest").await?;

            let t = Instant::now();
            let n = plan.tags;
            let manifest = Arc::new(m.image.manifest.clone());
            fan_out(s.addr, 8, n, move |mut c, i| {
                let manifest = manifest.clone();
                async move {
                    c.put_manifest(TAGS_REPO, &format!("t{i:05}"), OCI_MANIFEST, &manifest)
                        .await?;
                    Ok(c)
                }
            })
            .await?;
            let rate = n as f64 / t.elapsed().as_secs_f64();
            results.add(
                "tag pushes (manifest PUT by tag), 8 connections",
                "req/s",
                Better::Higher,
                who(s.kind),
                rate,
            );
            progress(&format!("{}: {n} tags at {rate:.0}/s", s.kind.label()));

            let t = Instant::now();
            let layer = Arc::new(m.image.layers[0].digest.clone());
            fan_out(s.addr, 8, plan.repositories, move |mut c, i| {
                let layer = layer.clone();
                async move {
                    c.mount(&format!("bench/catalog/r{i:05}"), IMAGE_REPO, &layer)
                        .await?;
                    Ok(c)
                }
            })
            .await?;
            let rate = plan.repositories as f64 / t.elapsed().as_secs_f64();
            results.add(
                "repository creation (cross-repository blob mount), 8 connections",
                "req/s",
                Better::Higher,
                who(s.kind),
                rate,
            );
            progress(&format!(
                "{}: {} repositories at {rate:.0}/s",
                s.kind.label(),
                plan.repositories
            ));
        }
        Ok(m)
    }

    fn servers(&self, order: [Kind; 2]) -> [&Server; 2] {
        order.map(|k| {
            if k == Kind::Berth {
                &self.berth
            } else {
                &self.peer
            }
        })
    }

    pub async fn round(
        &mut self,
        plan: &Plan,
        round: usize,
        order: [Kind; 2],
        results: &mut Results,
    ) -> anyhow::Result<()> {
        self.manifests(plan, order, results).await?;
        self.sessions(plan, results).await?;
        crate::public::pulls(&self.berth, &self.image, plan, results).await?;
        self.listings(plan, order, results).await?;
        crate::console::pages(self.berth.addr, plan, results).await?;
        self.skopeo(plan, round, order, results)?;
        Ok(())
    }

    async fn manifests(
        &self,
        plan: &Plan,
        order: [Kind; 2],
        results: &mut Results,
    ) -> anyhow::Result<()> {
        for s in self.servers(order) {
            s.reset_peak()?;
        }
        for (label, shape) in manifest_shapes(&self.image) {
            for &c in &plan.manifest_concurrency {
                let name = format!("manifest {label}, concurrency {c}");
                let mut line = format!("{name}:");
                for s in self.servers(order).into_iter().chain([&self.floor]) {
                    let r = load::run(s.addr, shape.clone(), c, plan.warmup, plan.measure).await?;
                    let rows = [
                        (name.clone(), "req/s", Better::Higher, r.rate()),
                        (format!("{name}, p50"), "ms", Better::Lower, r.ms(0.5)),
                        (format!("{name}, p99"), "ms", Better::Lower, r.ms(0.99)),
                        (format!("{name}, p99.9"), "ms", Better::Lower, r.ms(0.999)),
                    ];
                    for (row, unit, better, v) in rows {
                        match s.kind {
                            Kind::Floor => results.add_limit(&row, unit, better, "bare hyper", v),
                            k => results.add(&row, unit, better, who(k), v),
                        }
                    }
                    line.push_str(&format!(
                        " {} {:.0}/s p99 {:.2} ms;",
                        s.kind.label(),
                        r.rate(),
                        r.ms(0.99)
                    ));
                }
                progress(&line);
            }
        }
        for s in self.servers(order) {
            results.add(
                "peak RSS, manifest GET/HEAD load (up to 256 connections)",
                "MiB",
                Better::Lower,
                who(s.kind),
                s.peak_mib()?,
            );
            // Which half of berth's memory a change moved: the heap, or
            // the executable's pages the kernel mapped (ARCHITECTURE.md,
            // "Memory budget"). Berth only, so no ratio and no chart bar.
            if s.kind == Kind::Berth {
                for (what, field) in [("anonymous", "RssAnon:"), ("file-backed", "RssFile:")] {
                    results.add(
                        &format!("RSS right after the manifest load, {what}"),
                        "MiB",
                        Better::Lower,
                        who(s.kind),
                        s.status_mib(field)?,
                    );
                }
            }
        }
        Ok(())
    }

    /// What temporary credentials cost on the pull path (manifest GET by
    /// tag at 64 connections with a role session's login token, beside a
    /// user's, measured back to back), and AssumeRole's rate. berth only:
    /// Distribution has neither.
    async fn sessions(&self, plan: &Plan, results: &mut Results) -> anyhow::Result<()> {
        let addr = self.berth.addr;
        let measure = plan.measure;
        let (session_creds, assumed) = tokio::task::spawn_blocking(move || {
            assume_for_bench(&format!("http://{addr}"), measure)
        })
        .await??;
        results.add(
            ASSUME_ROLE_ROW,
            "req/s",
            Better::Higher,
            who(Kind::Berth),
            assumed,
        );
        let shape = manifest_shapes(&self.image)
            .into_iter()
            .find(|(label, _)| label == "GET by tag")
            .map(|(_, shape)| shape)
            .context("the GET by tag shape")?;
        let user_creds = self.berth.creds.clone().context("berth's login")?;
        let user = load::run(addr, shape.clone(), 64, plan.warmup, plan.measure).await?;
        crate::client::set_auth(addr, &session_creds);
        let session = load::run(addr, shape, 64, plan.warmup, plan.measure).await;
        crate::client::set_auth(addr, &user_creds);
        let session = session?;
        results.add_limit(
            SESSION_TOKEN_ROW,
            "req/s",
            Better::Higher,
            "a user's login token",
            user.rate(),
        );
        results.add(
            SESSION_TOKEN_ROW,
            "req/s",
            Better::Higher,
            who(Kind::Berth),
            session.rate(),
        );
        progress(&format!(
            "sessions: AssumeRole {assumed:.0}/s; manifest GET by tag at 64 with a role session's token {:.0}/s, a user's {:.0}/s",
            session.rate(),
            user.rate()
        ));
        Ok(())
    }

    async fn listings(
        &self,
        plan: &Plan,
        order: [Kind; 2],
        results: &mut Results,
    ) -> anyhow::Result<()> {
        for s in self.servers(order) {
            // The first page, as a UI or `crane ls` with paging asks for it.
            let first = Shape {
                method: Method::GET,
                path: format!("/v2/{TAGS_REPO}/tags/list?n=100"),
                accept: None,
            };
            let returned = count_tags(s.addr, &first.path).await?;
            if returned != 100 {
                results.note(format!(
                    "{} answered a tag list with n=100 with {returned} tags (it does not paginate tag lists).",
                    s.kind.label()
                ));
            }
            let r = load::run(s.addr, first, 1, plan.warmup, plan.measure).await?;
            let name = format!("tag list, first page of 100 (of {} tags)", plan.tags + 1);
            results.add(&name, "ms", Better::Lower, who(s.kind), r.ms(0.5));

            let all = Shape {
                method: Method::GET,
                path: format!("/v2/{TAGS_REPO}/tags/list"),
                accept: None,
            };
            let returned = count_tags(s.addr, &all.path).await?;
            ensure!(
                returned == plan.tags + 1,
                "{} listed {returned} tags, not {}",
                s.kind.label(),
                plan.tags + 1
            );
            let r = load::run(s.addr, all, 1, plan.warmup, plan.measure).await?;
            let name = format!("tag list, all {} tags in one response", plan.tags + 1);
            results.add(&name, "ms", Better::Lower, who(s.kind), r.ms(0.5));

            // The catalog, walked page by page through `Link` as clients do.
            let mut conn = Conn::connect(s.addr).await?;
            let mut times = Vec::new();
            let deadline = Instant::now() + plan.measure;
            while times.is_empty() || Instant::now() < deadline {
                let t = Instant::now();
                let n = walk_catalog(&mut conn).await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                ensure!(
                    n >= plan.repositories,
                    "{} listed {n} repositories, fewer than {}",
                    s.kind.label(),
                    plan.repositories
                );
            }
            let name = format!(
                "catalog, all {} repositories (pages of 1,000 via Link)",
                plan.repositories + 3
            );
            let ms = crate::report::median(&times).expect("at least one walk");
            results.add(&name, "ms", Better::Lower, who(s.kind), ms);
            progress(&format!(
                "listings: {} catalog walk {ms:.1} ms",
                s.kind.label()
            ));
        }
        Ok(())
    }

    fn skopeo(
        &self,
        plan: &Plan,
        round: usize,
        order: [Kind; 2],
        results: &mut Results,
    ) -> anyhow::Result<()> {
        let (layers, files, file_size) = plan.skopeo_image;
        let dir = self.work.join(format!("skopeo-{round}"));
        for s in self.servers(order) {
            // Distinct content per round and server, so that no blob is
            // already known to the registry or to skopeo's blob cache.
            let seed = 1000 + round as u64 * 10 + (s.kind == Kind::Berth) as u64;
            let image = oci_image(seed, layers, files, file_size);
            let layout = dir.join(format!("layout-{seed}"));
            write_oci_layout(&layout, &image, "v1");
            let reference = format!("docker://{}/bench/skopeo-{round}:v1", s.addr);
            let creds: Vec<String> = s
                .creds
                .iter()
                .flat_map(|c| ["--dest-creds".to_string(), c.clone()])
                .collect();
            let t = Instant::now();
            let mut args: Vec<&str> = vec!["copy", "--dest-tls-verify=false"];
            args.extend(creds.iter().map(String::as_str));
            let src = format!("oci:{}:v1", layout.display());
            args.extend([src.as_str(), reference.as_str()]);
            skopeo(&args)?;
            let push = t.elapsed().as_secs_f64();
            let out = dir.join(format!("pulled-{seed}"));
            let creds: Vec<String> = s
                .creds
                .iter()
                .flat_map(|c| ["--src-creds".to_string(), c.clone()])
                .collect();
            let t = Instant::now();
            let mut args: Vec<&str> = vec!["copy", "--src-tls-verify=false"];
            args.extend(creds.iter().map(String::as_str));
            let dst = format!("dir:{}", out.display());
            args.extend([reference.as_str(), dst.as_str()]);
            skopeo(&args)?;
            let pull = t.elapsed().as_secs_f64();
            let size: usize = image.layers.iter().map(|l| l.bytes.len()).sum();
            let label = format!("{layers}-layer image ({:.1} MB)", size as f64 / 1e6);
            results.add(
                &format!("skopeo copy push, {label}"),
                "s",
                Better::Lower,
                who(s.kind),
                push,
            );
            results.add(
                &format!("skopeo copy pull, {label}"),
                "s",
                Better::Lower,
                who(s.kind),
                pull,
            );
            progress(&format!(
                "skopeo: {} push {push:.2} s, pull {pull:.2} s",
                s.kind.label()
            ));
        }
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    /// Restarts each server on its populated data dir: time to the first
    /// 200 on `/v2/`, then resident memory once idle.
    pub async fn restarts(
        &mut self,
        plan: &Plan,
        idle_after: Duration,
        results: &mut Results,
    ) -> anyhow::Result<()> {
        let name = format!(
            "ready to serve: start to first 200 on /v2/, {} repositories",
            plan.repositories + 3
        );
        for i in 0..plan.restarts {
            let order = if i % 2 == 0 {
                [Kind::Berth, Kind::Distribution]
            } else {
                [Kind::Distribution, Kind::Berth]
            };
            for k in order {
                let s = if k == Kind::Berth {
                    &mut self.berth
                } else {
                    &mut self.peer
                };
                let ready = s.restart().await?;
                results.add(
                    &name,
                    "ms",
                    Better::Lower,
                    who(k),
                    ready.as_secs_f64() * 1000.0,
                );
                // One request, as a health check would, then quiet.
                Conn::connect(s.addr)
                    .await?
                    .call(s_request(s.addr, "/v2/"))
                    .await?;
                tokio::time::sleep(idle_after).await;
                results.add(
                    "RSS idle (after start-up and one request)",
                    "MiB",
                    Better::Lower,
                    who(k),
                    s.rss_mib()?,
                );
            }
        }
        Ok(())
    }

    pub fn stop(mut self) -> anyhow::Result<()> {
        self.berth.stop()?;
        self.peer.stop()?;
        self.floor.stop()?;
        std::fs::remove_dir_all(&self.work)?;
        Ok(())
    }
}

fn s_request(addr: SocketAddr, path: &str) -> http::Request<crate::client::ReqBody> {
    let mut b = http::Request::builder()
        .uri(path)
        .header(header::HOST, addr.to_string());
    if let Some(a) = crate::client::auth_for(addr) {
        b = b.header(header::AUTHORIZATION, a);
    }
    b.body(empty()).expect("valid request")
}

/// The manifest loads on `image` (pushed to `IMAGE_REPO` as `latest`): GET
/// and HEAD, by tag and by digest, each with its label ("GET by tag").
pub(crate) fn manifest_shapes(image: &Image) -> Vec<(String, Shape)> {
    let accept = HeaderValue::from_static(ACCEPT_MANIFESTS);
    let mut shapes = Vec::new();
    for method in [Method::GET, Method::HEAD] {
        for (by, reference) in [
            ("tag", "latest"),
            ("digest", image.manifest_digest.as_str()),
        ] {
            let shape = Shape {
                method: method.clone(),
                path: format!("/v2/{IMAGE_REPO}/manifests/{reference}"),
                accept: Some(accept.clone()),
            };
            shapes.push((format!("{method} by {by}"), shape));
        }
    }
    shapes
}

/// Runs `op(conn, i)` for i in 0..n on `conns` connections (the op hands
/// its connection back).
async fn fan_out<F, Fut>(addr: SocketAddr, conns: usize, n: usize, op: F) -> anyhow::Result<()>
where
    F: Fn(Conn, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Conn>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (next, op) = (next.clone(), op.clone());
        let mut conn = Conn::connect(addr).await?;
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(());
                }
                conn = op(conn, i).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

async fn count_tags(addr: SocketAddr, path: &str) -> anyhow::Result<usize> {
    let mut c = Conn::connect(addr).await?;
    let (status, _, body) = c.call(s_request(addr, path)).await?;
    ensure!(status == StatusCode::OK, "{path}: {status}");
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(v["tags"].as_array().map(Vec::len).unwrap_or(0))
}

/// Every repository, following `Link: <...>; rel="next"`; how many.
async fn walk_catalog(conn: &mut Conn) -> anyhow::Result<usize> {
    let mut path = "/v2/_catalog?n=1000".to_string();
    let mut total = 0;
    for _ in 0..100_000 {
        let req = conn.request(Method::GET, &path).body(empty())?;
        let (status, headers, body) = conn.call(req).await?;
        if status != StatusCode::OK {
            bail!("{path}: {status}: {}", String::from_utf8_lossy(&body));
        }
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        let page = v["repositories"].as_array().map(Vec::len).unwrap_or(0);
        total += page;
        match headers.get(header::LINK).map(|l| l.to_str()).transpose()? {
            Some(link) if page > 0 => {
                let url = link
                    .split_once('<')
                    .and_then(|(_, r)| r.split_once('>'))
                    .map(|(u, _)| u)
                    .context("Link header without <url>")?;
                path = crate::client::path_of(url).to_string();
            }
            _ => return Ok(total),
        }
    }
    bail!("the catalog never ended")
}

fn skopeo(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .context("running skopeo (crates/bench/install.sh installs it)")?;
    if !out.status.success() {
        bail!(
            "skopeo {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Makes (once per berth) a read-only role the root admin may assume, then
/// for `measure` assumes it from 8 threads: the rate, and a login token of
/// one of the sessions (`AWS:<password>`).
fn assume_for_bench(url: &str, measure: Duration) -> anyhow::Result<(String, f64)> {
    use berth_testkit::query;
    let client = reqwest::blocking::Client::new();
    let root = (
        berth_testkit::ROOT_ACCESS_KEY_ID,
        berth_testkit::ROOT_SECRET_ACCESS_KEY,
    );
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/admin"}, "Action": "sts:AssumeRole"}]})
    .to_string();
    let (status, xml) = query::call(
        &client,
        url,
        root,
        None,
        "iam",
        &[
            ("Action", "CreateRole"),
            ("RoleName", "bench-node"),
            ("AssumeRolePolicyDocument", &trust),
        ],
    );
    ensure!(
        status == 200 || xml.contains("EntityAlreadyExists"),
        "CreateRole: {xml}"
    );
    let (status, xml) = query::call(
        &client,
        url,
        root,
        None,
        "iam",
        &[
            ("Action", "AttachRolePolicy"),
            ("RoleName", "bench-node"),
            (
                "PolicyArn",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
            ),
        ],
    );
    ensure!(status == 200, "AttachRolePolicy: {xml}");
    let role = "arn:aws:iam::000000000000:role/bench-node";
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (url, done) = (url.to_string(), done.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                while start.elapsed() < measure {
                    query::assume_role(&client, &url, root, role, &format!("bench-{i}"));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("an AssumeRole thread panicked"))?;
    }
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    let (id, secret, token) = query::assume_role(&client, url, root, role, "bench-pull");
    let password =
        berth_testkit::ecr::login_password_with_token(&client, url, (&id, &secret), Some(&token));
    Ok((format!("AWS:{password}"), rate))
}
