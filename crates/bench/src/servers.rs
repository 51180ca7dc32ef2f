//! The processes under test: a release berth (on its embedded stores, or
//! on PostgreSQL + S3 for the scale-out phase), CNCF Distribution, and the
//! bare hyper "floor" server. Each runs on loopback with its own data dir on
//! the same disk; the harness times start-up to the first 200 on `/v2/` and
//! reads resident memory from `/proc`.

use anyhow::{bail, Context};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Berth,
    /// berth on PostgreSQL + S3: a fresh database and S3 prefix per start
    /// (see [`SharedStores`]).
    BerthShared,
    /// berth with sealing off (`BERTH_BENCH_UNSEALED_BLOBS=1`): the
    /// unencrypted baseline of the encryption phase.
    BerthUnsealed,
    Distribution,
    Floor,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Berth => "berth",
            Kind::BerthShared => "berth on PostgreSQL + S3",
            Kind::BerthUnsealed => "berth unencrypted",
            Kind::Distribution => "Distribution",
            Kind::Floor => "bare hyper",
        }
    }
}

/// How to start each kind.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub berth: PathBuf,
    pub distribution: PathBuf,
    /// This harness, whose hidden `floor` command is the bare server.
    pub harness: PathBuf,
    /// For `Kind::BerthShared` (`--shared`).
    pub shared: Option<SharedStores>,
}

pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    child: Option<Child>,
    bins: Binaries,
    log: PathBuf,
    /// `AWS:<token>` for berth (skopeo's `--creds`), once logged in.
    pub creds: Option<String>,
    shared: Option<SharedServer>,
    /// More `berth serve` arguments and environment (the replication phase's).
    extra: (Vec<String>, Vec<(String, String)>),
}

/// What a `Kind::BerthShared` server has of its own.
struct SharedServer {
    /// Dropped after the process (`Server`'s drop kills it first).
    database: berth_testkit::postgres::Database,
    /// Its blobs' prefix in the bucket.
    prefix: String,
    server_key: PathBuf,
}

/// Where the scale-out phase finds PostgreSQL and S3: the variables that
/// `scripts/postgres.sh` and `scripts/seaweedfs.sh` print.
#[derive(Clone, Debug)]
pub struct SharedStores {
    pub postgres: String,
    pub s3_endpoint: String,
    pub s3_bucket: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: String,
}

impl SharedStores {
    pub fn from_env() -> anyhow::Result<SharedStores> {
        let var = |name: &str| {
            std::env::var(name).with_context(|| {
                format!(
                    "{name} is not set: --shared needs a PostgreSQL server and an S3 server; \
                     eval \"$(scripts/postgres.sh start DIR)\" and \
                     eval \"$(scripts/seaweedfs.sh start DIR)\" first"
                )
            })
        };
        Ok(SharedStores {
            postgres: var("BERTH_TEST_POSTGRES")?,
            s3_endpoint: var("BERTH_TEST_S3_ENDPOINT")?,
            s3_bucket: var("BERTH_TEST_S3_BUCKET")?,
            s3_access_key_id: var("BERTH_TEST_S3_ACCESS_KEY_ID")?,
            s3_secret_access_key: var("BERTH_TEST_S3_SECRET_ACCESS_KEY")?,
        })
    }
}

impl Server {
    /// Starts a server of `kind` with its data in `dir/data` (created if
    /// needed, kept if present); returns it and the time from spawn to the
    /// first 200 on `/v2/`.
    pub async fn start(
        kind: Kind,
        bins: &Binaries,
        dir: &Path,
    ) -> anyhow::Result<(Server, Duration)> {
        Server::start_with(kind, bins, dir, Vec::new(), Vec::new()).await
    }

    /// As `start`, berth with more arguments and environment.
    pub async fn start_with(
        kind: Kind,
        bins: &Binaries,
        dir: &Path,
        args: Vec<String>,
        env: Vec<(String, String)>,
    ) -> anyhow::Result<(Server, Duration)> {
        std::fs::create_dir_all(dir)?;
        let shared = match kind {
            Kind::BerthShared => {
                let stores = bins
                    .shared
                    .as_ref()
                    .context("berth on PostgreSQL + S3 needs --shared")?;
                let admin = stores.postgres.clone();
                let db = tokio::task::spawn_blocking(move || {
                    berth_testkit::postgres::Database::create_on(admin)
                })
                .await?;
                let prefix = format!(
                    "bench-{}-{}",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)?
                        .as_millis()
                );
                let server_key = dir.join("server.key");
                std::fs::write(&server_key, rand::random::<[u8; 32]>())?;
                Some(SharedServer {
                    database: db,
                    prefix,
                    server_key,
                })
            }
            _ => None,
        };
        let mut s = Server {
            kind,
            addr: free_port()?,
            data_dir: dir.join("data"),
            child: None,
            bins: bins.clone(),
            log: dir.join(format!("{}.log", kind.label().replace(' ', "-"))),
            creds: None,
            shared,
            extra: (args, env),
        };
        let ready = s.spawn().await?;
        Ok((s, ready))
    }

    async fn spawn(&mut self) -> anyhow::Result<Duration> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut cmd = match self.kind {
            Kind::Berth | Kind::BerthShared | Kind::BerthUnsealed => {
                // Authentication stays on (the harness logs in, as a user
                // would); repositories are created by the first push, as
                // Distribution creates them, so that both get the same requests.
                let mut c = Command::new(&self.bins.berth);
                c.arg("serve")
                    .arg("--listen")
                    .arg(self.addr.to_string())
                    .arg("--data-dir")
                    .arg(&self.data_dir)
                    .args(["--create-on-push", "true"])
                    // The public pull row measures berth, not its quotas.
                    .args(["--public-anonymous-pull-rate", "0"])
                    .args(["--public-authenticated-pull-rate", "0"])
                    .env(
                        "BERTH_ROOT_ACCESS_KEY_ID",
                        berth_testkit::ROOT_ACCESS_KEY_ID,
                    )
                    .env(
                        "BERTH_ROOT_SECRET_ACCESS_KEY",
                        berth_testkit::ROOT_SECRET_ACCESS_KEY,
                    );
                c.args(&self.extra.0).envs(self.extra.1.iter().cloned());
                if self.kind == Kind::BerthUnsealed {
                    c.env("BERTH_BENCH_UNSEALED_BLOBS", "1");
                }
                if let (Some(own), Some(stores)) = (&self.shared, &self.bins.shared) {
                    let blobs = format!("s3://{}/{}", stores.s3_bucket, own.prefix);
                    c.args(["--metadata", &own.database.url, "--blobs", &blobs])
                        .args(["--s3-endpoint", &stores.s3_endpoint])
                        .arg("--server-key-file")
                        .arg(&own.server_key)
                        .env("BERTH_S3_ACCESS_KEY_ID", &stores.s3_access_key_id)
                        .env("BERTH_S3_SECRET_ACCESS_KEY", &stores.s3_secret_access_key);
                }
                c
            }
            Kind::Distribution => {
                let config = self.log.with_file_name("distribution.yml");
                std::fs::write(&config, distribution_config(self.addr, &self.data_dir))?;
                let mut c = Command::new(&self.bins.distribution);
                c.arg("serve").arg(config);
                c
            }
            Kind::Floor => {
                let mut c = Command::new(&self.bins.harness);
                c.arg("floor").arg("--listen").arg(self.addr.to_string());
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.kind.label()))?;
        let deadline = started + Duration::from_secs(30);
        loop {
            match answers(self.addr, crate::client::auth_for(self.addr)).await {
                Some(200) => {
                    let ready = started.elapsed();
                    self.child = Some(child);
                    return Ok(ready);
                }
                // berth's first start: it answers, but the harness has no
                // token yet. Log in, then time to the first 200.
                Some(401)
                    if matches!(
                        self.kind,
                        Kind::Berth | Kind::BerthShared | Kind::BerthUnsealed
                    ) =>
                {
                    let url = format!("http://{}", self.addr);
                    let password = tokio::task::spawn_blocking(move || {
                        berth_testkit::ecr::login_password(
                            &reqwest::blocking::Client::new(),
                            &url,
                            (
                                berth_testkit::ROOT_ACCESS_KEY_ID,
                                berth_testkit::ROOT_SECRET_ACCESS_KEY,
                            ),
                        )
                    })
                    .await?;
                    crate::client::set_auth(self.addr, &format!("AWS:{password}"));
                    self.creds = Some(format!("AWS:{password}"));
                    continue;
                }
                _ => {}
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited with {status} before serving; its log ({}):\n{}",
                    self.kind.label(),
                    self.log.display(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("{} did not answer within 30 s", self.kind.label());
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// `Kind::BerthShared`'s prefix in the S3 bucket.
    pub fn s3_prefix(&self) -> Option<&str> {
        self.shared.as_ref().map(|own| own.prefix.as_str())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Stops with SIGTERM (waiting for a clean exit), as an operator would.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(40);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("{} did not stop within 40 s of SIGTERM", self.kind.label());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Stops and starts again on the same data; the time to ready.
    pub async fn restart(&mut self) -> anyhow::Result<Duration> {
        self.stop()?;
        self.addr = free_port()?;
        self.spawn().await
    }

    /// Resident memory now, in MiB.
    pub fn rss_mib(&self) -> anyhow::Result<f64> {
        self.status_mib("VmRSS:")
    }

    /// A `/proc/<pid>/status` memory field (`RssAnon:`, `RssFile:`) now, in MiB.
    pub fn status_mib(&self, field: &str) -> anyhow::Result<f64> {
        proc_status_kib(self.pid(), field).map(|k| k as f64 / 1024.0)
    }

    /// Restarts the peak-RSS counter (`/proc/<pid>/clear_refs`).
    pub fn reset_peak(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .context("resetting the peak RSS counter (needs to own the process)")
    }

    /// CPU time the server has used so far (all threads, user and
    /// system), in seconds: `/proc/<pid>/stat` in USER_HZ, which Linux
    /// fixes at 100 for every architecture's userspace ABI.
    pub fn cpu_secs(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // Fields after the command name, which may hold spaces: state is
        // field 3, utime 14 and stime 15.
        let rest = &stat[stat.rfind(')').context("malformed stat")? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f.get(11).context("no utime")?.parse::<u64>()?
            + f.get(12).context("no stime")?.parse::<u64>()?;
        Ok(ticks as f64 / 100.0)
    }

    /// Peak resident memory since the last reset, in MiB.
    pub fn peak_mib(&self) -> anyhow::Result<f64> {
        proc_status_kib(self.pid(), "VmHWM:").map(|k| k as f64 / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn proc_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("malformed status line")?
        .parse()?)
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// One `GET /v2/` on a fresh connection (with `auth` if given): its status.
async fn answers(addr: SocketAddr, auth: Option<http::HeaderValue>) -> Option<u16> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let auth = auth
        .and_then(|a| a.to_str().ok().map(|a| format!("Authorization: {a}\r\n")))
        .unwrap_or_default();
    let req = format!("GET /v2/ HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).await.ok()?;
    std::str::from_utf8(&buf[9..12]).ok()?.parse().ok()
}

/// Distribution as its packagers ship it (filesystem storage, in-memory
/// blob descriptor cache, deletes enabled), without authentication, and
/// with request logging off so that logging does not hold it back.
fn distribution_config(addr: SocketAddr, root: &Path) -> String {
    format!(
        "version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {}
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
http:
  addr: {addr}
",
        root.display()
    )
}
