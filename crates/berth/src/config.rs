//! Settings, from (highest first) flags, environment variables, the TOML
//! file given by `--config`, and built-in defaults.

use crate::stores::{Blobs, Metadata};
use anyhow::{bail, Context};
use berth_registry::AnonymousAccess;
use clap::Args;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The settings, as flags (with their environment variables) and, the same
/// struct, as the keys of the TOML file.
#[derive(Args, Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (keys as in `listen = "..."`).
    #[arg(long, env = "BERTH_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:5000]; port 0 picks a free port.
    #[arg(long, env = "BERTH_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Where metadata and blobs live [default: ./berth-data].
    #[arg(long, env = "BERTH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the metadata lives: `sqlite:PATH`, or a PostgreSQL database
    /// `postgres://user[:password]@host[:port]/db` [default: the data dir's
    /// metadata.db]. Any number of berth nodes may share a PostgreSQL
    /// database (and a blob store, and a server key).
    #[arg(long, env = "BERTH_METADATA")]
    pub metadata: Option<String>,
    /// Where blobs live: `file:PATH`, or `s3://bucket[/prefix]` on any
    /// S3-compatible object store (credentials from BERTH_S3_ACCESS_KEY_ID
    /// and BERTH_S3_SECRET_ACCESS_KEY, else the standard AWS sources)
    /// [default: the data dir].
    #[arg(long, env = "BERTH_BLOBS")]
    pub blobs: Option<String>,
    /// The S3 endpoint, `http(s)://host:port`, for object stores other than
    /// AWS's [default: AWS's, from the region].
    #[arg(long, env = "BERTH_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The S3 region [default: AWS_REGION, else us-east-1].
    #[arg(long, env = "BERTH_S3_REGION")]
    pub s3_region: Option<String>,
    /// Path-style S3 requests (`endpoint/bucket/key`), which most
    /// S3-compatible servers need [default: true with --s3-endpoint].
    #[arg(long, env = "BERTH_S3_PATH_STYLE")]
    pub s3_path_style: Option<bool>,
    /// Where the bytes of archived images go (the archive storage class)
    /// [default: <data-dir>/archive].
    #[arg(long, env = "BERTH_ARCHIVE_DIR")]
    pub archive_dir: Option<PathBuf>,
    /// Answer blob downloads (`/v2` blob GETs, GetDownloadUrlForLayer) with
    /// presigned URLs of the S3 blob store, which clients then fetch
    /// directly, instead of streaming the bytes through berth [default:
    /// false]. Needs `--blobs s3://...` that clients can reach.
    #[arg(long, env = "BERTH_REDIRECT_DOWNLOADS")]
    pub redirect_downloads: Option<bool>,
    /// The server key: 32 random bytes that seal stored secrets and sign
    /// login tokens; every node of a deployment needs the same one
    /// [default: <data-dir>/server.key, made on first start].
    #[arg(long, env = "BERTH_SERVER_KEY_FILE")]
    pub server_key_file: Option<PathBuf>,
    /// PEM certificate chain; with --tls-key, serves HTTPS.
    #[arg(long, env = "BERTH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "BERTH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Account that anonymous requests and plain host names address [default: 000000000000].
    #[arg(long, env = "BERTH_DEFAULT_ACCOUNT")]
    pub default_account: Option<String>,
    /// Region that plain host names address [default: us-east-1].
    #[arg(long, env = "BERTH_DEFAULT_REGION")]
    pub default_region: Option<String>,
    /// Domain of account host names `<account>.dkr.ecr.<region>.<domain>` [default: localhost].
    #[arg(long, env = "BERTH_DOMAIN")]
    pub domain: Option<String>,
    /// The host name of public repositories and their gallery, served on
    /// the same listener: `docker pull <public host>/<alias>/<repository>`
    /// [default: public.<domain>].
    #[arg(long, env = "BERTH_PUBLIC_HOST")]
    pub public_host: Option<String>,
    /// Addresses or networks of load balancers in front of berth, e.g.
    /// `10.0.0.0/8` (repeatable; the environment takes a comma-separated
    /// list): a request from one of them is taken to come from the
    /// address its `X-Forwarded-For` names, for policies' aws:SourceIp
    /// and the anonymous pull quota [default: none].
    #[arg(long, env = "BERTH_TRUSTED_PROXIES", value_delimiter = ',')]
    #[serde(default)]
    pub trusted_proxy: Vec<String>,
    /// Anonymous pulls (manifest GETs) from public repositories allowed
    /// per second per source IP, on each node; past it (and its burst)
    /// 429 TOOMANYREQUESTS with Retry-After; 0 for no limit [default: 1,
    /// ECR Public's].
    #[arg(long, env = "BERTH_PUBLIC_ANONYMOUS_PULL_RATE")]
    pub public_anonymous_pull_rate: Option<f64>,
    /// Anonymous pulls allowed at once before the rate applies [default: 10].
    #[arg(long, env = "BERTH_PUBLIC_ANONYMOUS_PULL_BURST")]
    pub public_anonymous_pull_burst: Option<f64>,
    /// Authenticated pulls from public repositories allowed per second per
    /// account, on each node; 0 for no limit [default: 10, ECR Public's].
    #[arg(long, env = "BERTH_PUBLIC_AUTHENTICATED_PULL_RATE")]
    pub public_authenticated_pull_rate: Option<f64>,
    /// Authenticated pulls allowed at once before the rate applies [default: 100].
    #[arg(long, env = "BERTH_PUBLIC_AUTHENTICATED_PULL_BURST")]
    pub public_authenticated_pull_burst: Option<f64>,
    /// Hours after which an untouched upload session is removed [default: 24].
    #[arg(long, env = "BERTH_UPLOAD_EXPIRY_HOURS")]
    pub upload_expiry_hours: Option<u64>,
    /// The most upload sessions that may be open at once in one
    /// repository; more are refused (429 TOOMANYREQUESTS,
    /// LimitExceededException) until some complete, are cancelled or
    /// expire [default: 2000].
    #[arg(long, env = "BERTH_UPLOAD_SESSIONS_PER_REPOSITORY")]
    pub upload_sessions_per_repository: Option<u64>,
    /// The most upload sessions one user may have open at once, in all
    /// repositories [default: 2000].
    #[arg(long, env = "BERTH_UPLOAD_SESSIONS_PER_PRINCIPAL")]
    pub upload_sessions_per_principal: Option<u64>,
    /// Hours between background garbage collections; 0 turns them off [default: 24].
    #[arg(long, env = "BERTH_GC_INTERVAL_HOURS")]
    pub gc_interval_hours: Option<u64>,
    /// Hours for which garbage collection spares blobs uploaded, mounted or
    /// checked by a client, referenced or not [default: 24].
    #[arg(long, env = "BERTH_GC_GRACE_HOURS")]
    pub gc_grace_hours: Option<u64>,
    /// How often every repository's lifecycle policy is evaluated and
    /// applied, e.g. `30s`, `6h`; `0s` turns the scheduled runs off
    /// (`berth admin lifecycle run` still works) [default: 24h].
    #[arg(long, env = "BERTH_LIFECYCLE_INTERVAL")]
    pub lifecycle_interval: Option<String>,
    /// How often a pass seals what a berth from before encryption at rest
    /// stored in plaintext (blobs and manifest bodies, in place, while
    /// serving), e.g. `10m`; `0s` turns it off [default: 1h].
    #[arg(long, env = "BERTH_SEAL_INTERVAL")]
    pub seal_interval: Option<String>,
    /// How often usage is sampled (every repository's images, logical and
    /// stored bytes; GB-months accrue between samples), e.g. `1h`; `0s`
    /// turns sampling off [default: 1h].
    #[arg(long, env = "BERTH_USAGE_SAMPLE_INTERVAL")]
    pub usage_sample_interval: Option<String>,
    /// The price of a GB-month of stored bytes, in dollars, for the
    /// month's estimate in usage reports, the console and `/metrics`
    /// [default: 0.10, ECR's].
    #[arg(long, env = "BERTH_STORAGE_PRICE")]
    pub storage_price: Option<f64>,
    /// How long a client may take to send a request's headers before its
    /// connection is closed (slow clients cannot hold connections open),
    /// e.g. `30s` [default: 30s].
    #[arg(long, env = "BERTH_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<String>,
    /// What `/v2` requests without credentials may do, always in the
    /// default account's registry: `false` (nothing: credentials are
    /// required, as on ECR), `pull` (or `true`: pulls, tag lists, the
    /// catalog) or `push` (pulls, pushes and deletes: a throwaway registry
    /// for a CI job). Repository and registry policies still apply to them
    /// [default: false].
    #[arg(long, env = "BERTH_ALLOW_ANONYMOUS")]
    pub allow_anonymous: Option<AnonymousSetting>,
    /// How long a request body may go without bringing 64 KiB (or its end)
    /// while the server waits for it; slower bodies are answered 408 and
    /// their connection closed, e.g. `60s` [default: 60s].
    #[arg(long, env = "BERTH_BODY_READ_TIMEOUT")]
    pub body_read_timeout: Option<String>,
    /// How long a connection may stay open with no request in flight
    /// (keep-alive, HTTP/2 pings), or with the client reading nothing of
    /// a response, e.g. `2m` [default: 120s].
    #[arg(long, env = "BERTH_IDLE_TIMEOUT")]
    pub idle_timeout: Option<String>,
    /// Connections open at once; beyond it the oldest connection that has
    /// not sent a request is closed, or the new one is [default: 8192,
    /// and at most the open-files limit less 256].
    #[arg(long, env = "BERTH_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Create a repository when something is pushed to a name that does
    /// not exist, as CNCF Distribution does [default: false: as on ECR,
    /// repositories are created with CreateRepository].
    #[arg(long, env = "BERTH_CREATE_ON_PUSH")]
    pub create_on_push: Option<bool>,
    /// A region served by another berth deployment, `REGION=URL`
    /// (repeatable; the environment takes a comma-separated list):
    /// replication to that region goes through that deployment's API, as
    /// the identity in BERTH_REPLICATION_ACCESS_KEY_ID /
    /// BERTH_REPLICATION_SECRET_ACCESS_KEY [default: none].
    #[arg(long, env = "BERTH_REPLICATION_REMOTES", value_delimiter = ',')]
    #[serde(default)]
    pub replication_remote: Vec<String>,
    /// The domain of the remote deployments' account host names
    /// (`<account>.dkr.ecr.<region>.<domain>`) [default: localhost].
    #[arg(long, env = "BERTH_REPLICATION_REMOTE_DOMAIN")]
    pub replication_remote_domain: Option<String>,
    /// OSV records to import into the vulnerability database at start and
    /// every --vuln-db-refresh: a directory of JSON files, an osv.dev
    /// all.zip, or an http(s) URL of one [default: none; `berth vulndb
    /// import` fills the database].
    #[arg(long, env = "BERTH_VULN_DB")]
    pub vuln_db: Option<String>,
    /// How often --vuln-db is imported again, e.g. `6h`; `0s` imports only
    /// at start [default: 24h].
    #[arg(long, env = "BERTH_VULN_DB_REFRESH")]
    pub vuln_db_refresh: Option<String>,
    /// How far ahead an image scan's claim reaches on a cluster: a dead
    /// node's scans are taken over within one and a half of it [default:
    /// 2m]. Shorter only to test the takeover.
    #[arg(long, env = "BERTH_SCAN_CLAIM", hide = true)]
    pub scan_claim: Option<String>,
    /// Image scans that may run at once [default: 1].
    #[arg(long, env = "BERTH_SCAN_WORKERS")]
    pub scan_workers: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The metadata store: the data dir's SQLite file unless `--metadata`.
    pub metadata: Metadata,
    /// The blob store: the data dir unless `--blobs`.
    pub blobs: Blobs,
    /// The archive blob store's root.
    pub archive_dir: PathBuf,
    /// `None`: the data dir's `server.key`, made if missing.
    pub server_key_file: Option<PathBuf>,
    /// Blob downloads redirected to the S3 store's presigned URLs.
    pub redirect_downloads: bool,
    pub tls: Option<Tls>,
    pub default_account: String,
    pub default_region: String,
    pub domain: String,
    /// Lowercase, without a port.
    pub public_host: String,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Quotas on pulls from public repositories.
    pub public_anonymous_pulls: berth_server::public_quota::Limit,
    pub public_authenticated_pulls: berth_server::public_quota::Limit,
    pub upload_expiry: Duration,
    pub upload_sessions: berth_store::UploadLimits,
    /// `None`: no background garbage collection.
    pub gc_interval: Option<Duration>,
    pub gc_grace: Duration,
    /// `None`: no scheduled lifecycle runs.
    pub lifecycle_interval: Option<Duration>,
    /// `None`: plaintext from before encryption is not sealed.
    pub seal_interval: Option<Duration>,
    /// `None`: usage is not sampled.
    pub usage_sample_interval: Option<Duration>,
    /// Dollars per GB-month.
    pub storage_price: f64,
    pub allow_anonymous: AnonymousAccess,
    pub create_on_push: bool,
    /// `REGION=URL` of the regions other deployments serve.
    pub replication_remotes: Vec<String>,
    pub replication_remote_domain: String,
    pub vuln_db: Option<String>,
    /// `None`: import only at start.
    pub vuln_db_refresh: Option<Duration>,
    pub scan_workers: usize,
    /// `RegistryConfig::scan_claim`.
    pub scan_claim: Duration,
    /// Connections whose request headers take longer are closed, as are
    /// connections that begin no request within it.
    pub header_read_timeout: Duration,
    /// Each 64 KiB of a request body must arrive within this.
    pub body_read_timeout: Duration,
    /// Connections with no request in flight for this long are closed.
    pub idle_timeout: Duration,
    /// Connections open at once (before clamping to the open-files limit).
    pub max_connections: usize,
}

/// `--allow-anonymous`: `true`/`false` (as before), `pull` or `push`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum AnonymousSetting {
    Bool(bool),
    Level(String),
}

impl std::str::FromStr for AnonymousSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "true" => Ok(AnonymousSetting::Bool(true)),
            "false" => Ok(AnonymousSetting::Bool(false)),
            other => Ok(AnonymousSetting::Level(other.to_string())),
        }
    }
}

impl AnonymousSetting {
    fn resolve(&self) -> anyhow::Result<AnonymousAccess> {
        Ok(match self {
            AnonymousSetting::Bool(false) => AnonymousAccess::Off,
            AnonymousSetting::Bool(true) => AnonymousAccess::Pull,
            AnonymousSetting::Level(l) => match l.as_str() {
                "off" | "none" => AnonymousAccess::Off,
                "pull" | "read" => AnonymousAccess::Pull,
                "push" | "write" => AnonymousAccess::Push,
                other => {
                    bail!("allow_anonymous must be false, pull (or true) or push, not '{other}'")
                }
            },
        })
    }
}

/// A duration setting (`30s`, `6h`, `1d`), or `default` when unset.
fn duration_setting(
    name: &str,
    text: Option<String>,
    default: Duration,
) -> anyhow::Result<Duration> {
    match text {
        None => Ok(default),
        Some(text) => humantime::parse_duration(&text)
            .with_context(|| format!("{name} '{text}' is not a duration such as 30s, 6h or 1d")),
    }
}

impl Config {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => ServeArgs::default(),
        };
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(Tls { cert, key }),
            (None, None) => None,
            _ => bail!("TLS needs both a certificate (tls_cert) and a key (tls_key)"),
        };
        let default_account = args
            .default_account
            .or(file.default_account)
            .unwrap_or_else(|| "000000000000".into());
        if default_account.len() != 12 || !default_account.bytes().all(|b| b.is_ascii_digit()) {
            bail!("default_account must be 12 digits, not '{default_account}'");
        }
        const DAY: Duration = Duration::from_secs(24 * 3600);
        // `0s` turns the job off.
        let lifecycle_interval = Some(duration_setting(
            "lifecycle_interval",
            args.lifecycle_interval.or(file.lifecycle_interval),
            DAY,
        )?)
        .filter(|d| !d.is_zero());
        let seal_interval = Some(duration_setting(
            "seal_interval",
            args.seal_interval.or(file.seal_interval),
            Duration::from_secs(3600),
        )?)
        .filter(|d| !d.is_zero());
        let usage_sample_interval = Some(duration_setting(
            "usage_sample_interval",
            args.usage_sample_interval.or(file.usage_sample_interval),
            Duration::from_secs(3600),
        )?)
        .filter(|d| !d.is_zero());
        let storage_price = args.storage_price.or(file.storage_price).unwrap_or(0.10);
        if !storage_price.is_finite() || storage_price < 0.0 {
            bail!("storage_price must be a price in dollars per GB-month, not {storage_price}");
        }
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./berth-data"));
        let vuln_db_refresh = Some(duration_setting(
            "vuln_db_refresh",
            args.vuln_db_refresh.or(file.vuln_db_refresh),
            DAY,
        )?)
        .filter(|d| !d.is_zero());
        let scan_workers = args.scan_workers.or(file.scan_workers).unwrap_or(1);
        if scan_workers == 0 {
            bail!("scan_workers must be at least 1");
        }
        let scan_claim =
            duration_setting("scan_claim", args.scan_claim, berth_registry::SCAN_CLAIM)?;
        if scan_claim < Duration::from_secs(1) {
            bail!("scan_claim must be at least 1s");
        }
        let header_read_timeout = duration_setting(
            "header_read_timeout",
            args.header_read_timeout.or(file.header_read_timeout),
            Duration::from_secs(30),
        )?;
        if header_read_timeout.is_zero() {
            bail!("header_read_timeout must be more than 0s");
        }
        let body_read_timeout = duration_setting(
            "body_read_timeout",
            args.body_read_timeout.or(file.body_read_timeout),
            Duration::from_secs(60),
        )?;
        let idle_timeout = duration_setting(
            "idle_timeout",
            args.idle_timeout.or(file.idle_timeout),
            Duration::from_secs(120),
        )?;
        if body_read_timeout.is_zero() || idle_timeout.is_zero() {
            bail!("body_read_timeout and idle_timeout must be more than 0s");
        }
        let max_connections = args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(8192);
        if max_connections == 0 {
            bail!("max_connections must be at least 1");
        }
        let defaults = berth_registry::DEFAULT_UPLOAD_SESSIONS;
        let upload_sessions = berth_store::UploadLimits {
            per_repository: args
                .upload_sessions_per_repository
                .or(file.upload_sessions_per_repository)
                .unwrap_or(defaults.per_repository),
            per_principal: args
                .upload_sessions_per_principal
                .or(file.upload_sessions_per_principal)
                .unwrap_or(defaults.per_principal),
        };
        if upload_sessions.per_repository == 0 || upload_sessions.per_principal == 0 {
            bail!("upload_sessions_per_repository and upload_sessions_per_principal must be at least 1");
        }
        let domain = args
            .domain
            .or(file.domain)
            .unwrap_or_else(|| "localhost".into());
        let public_host = args
            .public_host
            .or(file.public_host)
            .unwrap_or_else(|| format!("public.{domain}"))
            .to_ascii_lowercase();
        if public_host.is_empty()
            || public_host.contains(':')
            || !public_host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            bail!("public_host must be a host name without a port, not '{public_host}'");
        }
        let quota = |name: &str,
                     rate: Option<f64>,
                     burst: Option<f64>,
                     default: berth_server::public_quota::Limit| {
            let limit = berth_server::public_quota::Limit {
                per_second: rate.unwrap_or(default.per_second),
                burst: burst.unwrap_or(default.burst),
            };
            if !(limit.per_second.is_finite()
                && limit.per_second >= 0.0
                && limit.burst.is_finite()
                && limit.burst >= 0.0)
            {
                bail!("{name} pull rate and burst must be numbers of pulls, 0 or more");
            }
            Ok(limit)
        };
        let public_anonymous_pulls = quota(
            "public_anonymous",
            args.public_anonymous_pull_rate
                .or(file.public_anonymous_pull_rate),
            args.public_anonymous_pull_burst
                .or(file.public_anonymous_pull_burst),
            berth_server::public_quota::DEFAULT_ANONYMOUS,
        )?;
        let public_authenticated_pulls = quota(
            "public_authenticated",
            args.public_authenticated_pull_rate
                .or(file.public_authenticated_pull_rate),
            args.public_authenticated_pull_burst
                .or(file.public_authenticated_pull_burst),
            berth_server::public_quota::DEFAULT_AUTHENTICATED,
        )?;
        let proxies = if args.trusted_proxy.is_empty() {
            file.trusted_proxy
        } else {
            args.trusted_proxy
        };
        let trusted_proxies = proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| {
                        format!(
                            "trusted_proxy '{p}' is not an address or a network such as 10.0.0.0/8"
                        )
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let metadata = match args.metadata.or(file.metadata) {
            Some(text) => Metadata::parse(&text)?,
            None => Metadata::Sqlite(crate::datadir::metadata_db(&data_dir)),
        };
        let blobs = Blobs::resolve(
            args.blobs.or(file.blobs),
            &data_dir,
            args.s3_endpoint.or(file.s3_endpoint),
            args.s3_region.or(file.s3_region),
            args.s3_path_style.or(file.s3_path_style),
        )?;
        let redirect_downloads = args
            .redirect_downloads
            .or(file.redirect_downloads)
            .unwrap_or(false);
        if redirect_downloads && !matches!(blobs, Blobs::S3(_)) {
            bail!("redirect_downloads needs blobs in an S3 store (--blobs s3://bucket/prefix): a filesystem blob store has no URLs to redirect to");
        }
        Ok(Config {
            redirect_downloads,
            metadata,
            blobs,
            upload_sessions,
            header_read_timeout,
            body_read_timeout,
            idle_timeout,
            max_connections,
            vuln_db: args.vuln_db.or(file.vuln_db),
            vuln_db_refresh,
            scan_workers,
            scan_claim,
            lifecycle_interval,
            seal_interval,
            usage_sample_interval,
            storage_price,
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:5000".parse().expect("valid literal")),
            server_key_file: args.server_key_file.or(file.server_key_file),
            archive_dir: args
                .archive_dir
                .or(file.archive_dir)
                .unwrap_or_else(|| crate::datadir::default_archive_dir(&data_dir)),
            data_dir,
            tls,
            default_account,
            default_region: args
                .default_region
                .or(file.default_region)
                .unwrap_or_else(|| "us-east-1".into()),
            domain,
            public_host,
            trusted_proxies,
            public_anonymous_pulls,
            public_authenticated_pulls,
            upload_expiry: Duration::from_secs(
                3600 * args
                    .upload_expiry_hours
                    .or(file.upload_expiry_hours)
                    .unwrap_or(24),
            ),
            gc_interval: match args
                .gc_interval_hours
                .or(file.gc_interval_hours)
                .unwrap_or(24)
            {
                0 => None,
                h => Some(Duration::from_secs(3600 * h)),
            },
            gc_grace: Duration::from_secs(
                3600 * args.gc_grace_hours.or(file.gc_grace_hours).unwrap_or(24),
            ),
            allow_anonymous: args
                .allow_anonymous
                .or(file.allow_anonymous)
                .map_or(Ok(AnonymousAccess::Off), |a| a.resolve())?,
            create_on_push: args.create_on_push.or(file.create_on_push).unwrap_or(false),
            replication_remotes: if args.replication_remote.is_empty() {
                file.replication_remote
            } else {
                args.replication_remote
            },
            replication_remote_domain: args
                .replication_remote_domain
                .or(file.replication_remote_domain)
                .unwrap_or_else(|| "localhost".into()),
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<ServeArgs> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::{redact_url, Metadata};

    #[test]
    fn metadata_is_sqlite_in_the_data_dir_unless_given() {
        let args = ServeArgs {
            data_dir: Some("/srv/berth".into()),
            ..ServeArgs::default()
        };
        assert_eq!(
            Config::resolve(args).unwrap().metadata,
            Metadata::Sqlite("/srv/berth/metadata.db".into())
        );
        assert_eq!(
            Metadata::parse("sqlite:/x/m.db").unwrap(),
            Metadata::Sqlite("/x/m.db".into())
        );
        let url = "postgres://berth:s3cret@db:5432/berth?sslmode=require";
        assert_eq!(
            Metadata::parse(url).unwrap(),
            Metadata::Postgres(url.into())
        );
        let e = Metadata::parse("sqlite:").unwrap_err().to_string();
        assert!(e.contains("needs a path"), "{e}");
        for bad in ["mysql://u:pw@h/db", "metadata.db"] {
            let e = Metadata::parse(bad).unwrap_err().to_string();
            assert!(e.contains("sqlite:PATH or postgres://"), "{bad}: {e}");
            assert!(!e.contains("pw@"), "the password is not repeated: {e}");
        }
    }

    #[test]
    fn passwords_never_show_in_what_berth_prints_of_a_url() {
        let m = Metadata::parse("postgres://berth:s3cret@db:5432/berth").unwrap();
        assert_eq!(m.describe(), "postgres://berth:***@db:5432/berth");
        assert_eq!(format!("{m:?}"), m.describe());
        assert_eq!(
            redact_url("postgresql://db/berth?user=b&password=s3cret&sslmode=require"),
            "postgresql://db/berth?user=b&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://berth@db/berth"),
            "postgres://berth@db/berth"
        );
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("berth.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:6000\"\ndata_dir = \"/from/file\"\ndomain = \"example.test\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..Default::default()
        };
        let c = Config::resolve(args).unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert_eq!(c.domain, "example.test");
        assert_eq!(c.default_region, "us-east-1");
        assert_eq!(c.upload_expiry, Duration::from_secs(24 * 3600));
        assert_eq!(c.lifecycle_interval, Some(Duration::from_secs(24 * 3600)));
        assert_eq!(c.upload_sessions, berth_registry::DEFAULT_UPLOAD_SESSIONS);
    }

    #[test]
    fn upload_session_caps_are_settings_of_at_least_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("berth.toml");
        std::fs::write(&file, "upload_sessions_per_principal = 50\n").unwrap();
        let c = Config::resolve(ServeArgs {
            config: Some(file),
            upload_sessions_per_repository: Some(7),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            c.upload_sessions,
            berth_store::UploadLimits {
                per_repository: 7,
                per_principal: 50
            }
        );
        assert!(Config::resolve(ServeArgs {
            upload_sessions_per_principal: Some(0),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn vulnerability_database_settings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("berth.toml");
        std::fs::write(&file, "vuln_db = \"/srv/osv\"\nscan_workers = 2\n").unwrap();
        let with = |refresh: Option<&str>| {
            Config::resolve(ServeArgs {
                config: Some(file.clone()),
                vuln_db_refresh: refresh.map(str::to_string),
                ..Default::default()
            })
        };
        let c = with(None).unwrap();
        assert_eq!(c.vuln_db.as_deref(), Some("/srv/osv"));
        assert_eq!(c.scan_workers, 2);
        assert_eq!(c.vuln_db_refresh, Some(Duration::from_secs(24 * 3600)));
        assert_eq!(with(Some("0s")).unwrap().vuln_db_refresh, None);
        assert!(format!("{:#}", with(Some("daily")).unwrap_err()).contains("vuln_db_refresh"));
        let none = Config::resolve(ServeArgs::default()).unwrap();
        assert_eq!((none.vuln_db, none.scan_workers), (None, 1));
        assert!(Config::resolve(ServeArgs {
            scan_workers: Some(0),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn lifecycle_intervals_are_durations_and_zero_turns_them_off() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("berth.toml");
        std::fs::write(&file, "lifecycle_interval = \"6h\"\n").unwrap();
        let with = |flag: Option<&str>| {
            Config::resolve(ServeArgs {
                config: Some(file.clone()),
                lifecycle_interval: flag.map(str::to_string),
                ..Default::default()
            })
        };
        assert_eq!(
            with(None).unwrap().lifecycle_interval,
            Some(Duration::from_secs(6 * 3600))
        );
        assert_eq!(
            with(Some("30s")).unwrap().lifecycle_interval,
            Some(Duration::from_secs(30))
        );
        assert_eq!(with(Some("0s")).unwrap().lifecycle_interval, None);
        let err = with(Some("soon")).unwrap_err();
        assert!(
            format!("{err:#}").contains("lifecycle_interval 'soon'"),
            "{err:#}"
        );
    }

    #[test]
    fn unknown_keys_and_half_tls_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("berth.toml");
        std::fs::write(&file, "listn = \"x\"\n").unwrap();
        let err = Config::resolve(ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("listn"), "{err:#}");
        // The file cannot point at another file.
        std::fs::write(&file, "config = \"/other.toml\"\n").unwrap();
        let err = Config::resolve(ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("config"), "{err:#}");
        std::fs::write(&file, "tls_cert = \"/c.pem\"\n").unwrap();
        let err = Config::resolve(ServeArgs {
            config: Some(file),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("both"));
    }
}
