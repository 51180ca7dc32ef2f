//! `berth serve`: open the stores, start the HTTP server, drain on SIGTERM.

use crate::config::Config;
use crate::connections::{ConnectionLimits, LimitAcceptor, Tracker};
use crate::datadir::DataDir;
use crate::memory::StartupWork;
use anyhow::Context;
use berth_registry::{Registry, RegistryConfig};
use berth_server::{AppParts, AppState, HostConfig, Metrics};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often stale upload sessions are looked for.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(600);
/// Bytes of large request bodies (UploadLayerPart, vulnerability batches)
/// held in memory at once, across all requests.
const LARGE_BODY_BUDGET: usize = 256 << 20;
/// Connections the kernel queues before berth accepts them.
const LISTEN_BACKLOG: u32 = 4096;
/// File descriptors kept free of connections (blob files, SQLite, logs).
const RESERVED_FDS: u64 = 256;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let data = DataDir::open_locked(&config.data_dir)?;
    if let Some(old) = data.tighten_root()? {
        tracing::warn!(
            "the data dir {} was mode {old:o}, readable by other local users; made it 0700 (`berth fsck --repair` tightens the files inside)",
            data.root.display()
        );
    }
    let server_key_name = match &config.server_key_file {
        Some(f) => f.display().to_string(),
        None => data.root.join("server.key").display().to_string(),
    };
    let server_key =
        berth_iam::ServerKey::from_bytes(&data.server_key(config.server_key_file.as_deref())?)
            .with_context(|| format!("the server key {server_key_name}"))?;
    let remotes = crate::remote::remotes(
        &config.replication_remotes,
        &config.replication_remote_domain,
    )?;
    let registry = Arc::new(
        crate::datadir::open_registry(
            &config.metadata,
            &config.blobs,
            &config.archive_dir,
            RegistryConfig {
                upload_expiry: config.upload_expiry,
                upload_sessions: config.upload_sessions,
                gc_grace: config.gc_grace,
                create_on_push: config.create_on_push,
                server_key,
                default_account: config.default_account.clone(),
                scan_workers: config.scan_workers,
                anonymous: config.allow_anonymous,
                after_scan: Some(crate::memory::trim_now),
                redirect_downloads: config.redirect_downloads,
                scan_claim: config.scan_claim,
                storage_price: config.storage_price,
                ..Default::default()
            },
        )
        .await?
        .with_replication_remotes(remotes),
    );
    // Only a local archive dir has modes (on S3 the archive is a prefix).
    let local_archive = matches!(config.blobs, crate::stores::Blobs::File(_));
    if local_archive {
        if let Some(old) = crate::datadir::tighten(&config.archive_dir, true)? {
            tracing::warn!(
                "the archive dir {} was mode {old:o}, readable by other local users; made it 0700",
                config.archive_dir.display()
            );
        }
    }
    if !registry.server_key_matches().await? {
        anyhow::bail!(
            "the server key {server_key_name} is not the one the other nodes of this deployment use \
             (the metadata store {} recorded another key's fingerprint); every node needs the same \
             --server-key-file",
            config.metadata.describe()
        );
    }
    if registry.is_clustered() {
        tokio::spawn(registry.clone().follow_cluster());
    }
    bootstrap_admin(&registry, &config, &data).await?;
    // On a shared store another node's upload in flight looks the same as
    // a crashed one's: only a node on its own sweeps at start.
    if !registry.is_clustered() {
        let swept = registry.sweep_orphan_uploads().await?;
        if swept > 0 {
            tracing::info!(
                count = swept,
                "removed temporary upload data left by an earlier crash"
            );
        }
    }

    // Moves to and from the archive storage class that a stop interrupted.
    let startup = StartupWork::page_out_when_done();
    let resuming = registry.clone();
    let resuming_startup = startup.clone();
    tokio::spawn(async move {
        let _startup = resuming_startup;
        match resuming.resume_storage_moves().await {
            Ok((0, 0)) => {}
            Ok((blobs, images)) => tracing::info!(
                blobs,
                images,
                "finished archive storage class moves an earlier stop interrupted"
            ),
            Err(e) => tracing::error!(error = %e, "finishing interrupted archive moves failed"),
        }
    });
    // Scans a stopped server left IN_PROGRESS run again. On a cluster
    // another node may be running some: only those whose claim lapsed, at
    // start and then on one node every half claim; and every node
    // renews the claims of its own.
    let clustered = registry.is_clustered();
    let resumed = registry.resume_scans(!clustered).await?;
    if clustered {
        tokio::spawn(renew_scan_claims_periodically(registry.clone()));
        tokio::spawn(crate::jobs::run_as_job(
            registry.clone(),
            "scan-resume",
            registry.scan_claim_timers().1,
            startup.clone(),
            move |registry| async move {
                match registry.resume_scans(false).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(count = n, "queued again scans a node left in progress")
                    }
                    Err(e) => tracing::warn!(error = %e, "looking for abandoned scans failed"),
                }
            },
        ));
    }
    if resumed > 0 {
        tracing::info!(
            count = resumed,
            "queued again the image scans left in progress"
        );
    }
    let vulndb = config.vuln_db.clone().map(|source| {
        tokio::spawn(crate::vulndb::import_periodically(
            registry.clone(),
            source,
            config.vuln_db_refresh,
            startup.clone(),
        ))
    });

    let state = AppState::new(AppParts {
        registry: registry.clone(),
        metrics: Arc::new(Metrics::default()),
        hosts: Arc::new(HostConfig {
            public_host: config.public_host.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            ..HostConfig::new(
                config.default_account.clone(),
                config.default_region.clone(),
                config.domain.clone(),
                if config.tls.is_some() {
                    "https"
                } else {
                    "http"
                },
            )
        }),
        public_pulls: Arc::new(berth_server::public_quota::PullQuotas::new(
            config.public_anonymous_pulls,
            config.public_authenticated_pulls,
        )),
        bodies: Arc::new(berth_server::body::BodyLimits::new(
            config.body_read_timeout,
            LARGE_BODY_BUDGET,
        )),
    });
    let app = berth_server::router(state).into_make_service_with_connect_info::<SocketAddr>();

    let tracker = Tracker::new(ConnectionLimits {
        max: connection_cap(config.max_connections),
        first_request: config.header_read_timeout,
        idle: config.idle_timeout,
    });
    let acceptor = LimitAcceptor {
        tracker: tracker.clone(),
    };
    let listener =
        listen(config.listen).with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    let expiry = tokio::spawn(expire_uploads_periodically(
        registry.clone(),
        startup.clone(),
    ));
    let pulls = tokio::spawn(flush_pulls_periodically(registry.clone()));
    let gc = config.gc_interval.map(|every| {
        tokio::spawn(collect_garbage_periodically(
            registry.clone(),
            every,
            startup.clone(),
        ))
    });
    let lifecycle = config.lifecycle_interval.map(|every| {
        tokio::spawn(run_lifecycle_periodically(
            registry.clone(),
            every,
            startup.clone(),
        ))
    });
    let usage = config.usage_sample_interval.map(|every| {
        tokio::spawn(sample_usage_periodically(
            registry.clone(),
            every,
            startup.clone(),
        ))
    });
    let sealing = config.seal_interval.map(|every| {
        tokio::spawn(seal_plaintext_periodically(
            registry.clone(),
            every,
            startup.clone(),
        ))
    });
    registry.release_replication_leases().await?;
    for worker in 0..REPLICATION_WORKERS {
        tokio::spawn(replicate_continuously(registry.clone(), worker == 0));
    }
    crate::memory::trim_periodically();
    tokio::spawn(shutdown_on_signal(handle.clone()));
    // The rest of start-up's work holds its own clones.
    drop(startup);

    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(
        "berth listening on {scheme}://{addr} with data in {}, metadata in {} and blobs in {} (ready in {} ms)",
        data.root.display(),
        config.metadata.describe(),
        config.blobs.describe(),
        started.elapsed().as_millis()
    );
    let served = match &config.tls {
        Some(tls) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .with_context(|| {
                    format!(
                        "loading TLS certificate {} and key {}",
                        tls.cert.display(),
                        tls.key.display()
                    )
                })?;
            let mut server = axum_server::from_tcp_rustls(listener, rustls)
                .map(|tls| tls.acceptor(acceptor))
                .handle(handle);
            limit_protocol_time(server.http_builder(), &config);
            server.serve(app).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .acceptor(acceptor)
                .handle(handle);
            limit_protocol_time(server.http_builder(), &config);
            server.serve(app).await
        }
    };
    expiry.abort();
    pulls.abort();
    if let Some(gc) = gc {
        gc.abort();
    }
    if let Some(sealing) = sealing {
        sealing.abort();
    }
    if let Some(usage) = usage {
        usage.abort();
    }
    if let Some(lifecycle) = lifecycle {
        lifecycle.abort();
    }
    if let Some(vulndb) = vulndb {
        vulndb.abort();
    }
    registry.close().await;
    served.context("serving HTTP")?;
    tracing::info!("berth stopped cleanly");
    drop(data);
    Ok(())
}

/// A listener with a deep accept queue: `std`'s 128 overflows when
/// clients connect in bursts (a CI farm starting, a load balancer's pool),
/// and the kernel then leaves connections half-open until its SYN-ACK
/// retries, seconds later. The kernel caps it at `net.core.somaxconn`.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)?.into_std()
}

/// hyper's own timers: HTTP/1 request headers must arrive within
/// `--header-read-timeout` (slowloris; without a timer hyper silently
/// leaves it off), and HTTP/2 connections are pinged every half
/// `--idle-timeout` and closed when a ping goes unanswered for 20 s (a
/// peer that vanished). Idle and request-less connections are closed by
/// `connections.rs`.
fn limit_protocol_time(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    config: &Config,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(config.idle_timeout / 2)
        .keep_alive_timeout(Duration::from_secs(20))
        .max_concurrent_streams(256);
}

/// The connection cap: the setting, but never so many that connections
/// alone exhaust the file descriptors (the soft limit is raised to the
/// hard one first, as Go's runtime does).
fn connection_cap(wanted: usize) -> usize {
    let fds = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let room = fds.saturating_sub(RESERVED_FDS).max(16) as usize;
    if wanted > room {
        tracing::warn!(
            max_connections = wanted,
            open_files_limit = fds,
            "max_connections is above what the open-files limit allows; using {room}"
        );
    }
    wanted.min(room)
}

/// The default account's admin user and its access key: from
/// `BERTH_ROOT_ACCESS_KEY_ID`/`BERTH_ROOT_SECRET_ACCESS_KEY` when set, else
/// generated once, written to `root-credentials` (0600, in the AWS
/// credentials-file format) and printed.
async fn bootstrap_admin(
    registry: &Registry,
    config: &Config,
    data: &DataDir,
) -> anyhow::Result<()> {
    let given = match (
        std::env::var("BERTH_ROOT_ACCESS_KEY_ID").ok(),
        std::env::var("BERTH_ROOT_SECRET_ACCESS_KEY").ok(),
    ) {
        (Some(id), Some(secret)) => Some(berth_registry::NewAccessKey { id, secret }),
        (None, None) => None,
        _ => anyhow::bail!(
            "set both BERTH_ROOT_ACCESS_KEY_ID and BERTH_ROOT_SECRET_ACCESS_KEY, or neither"
        ),
    };
    let created = registry
        .identity()
        .bootstrap_admin(&config.default_account, given)
        .await
        .context("creating the default account's admin user")?;
    if let Some(k) = created {
        let path = data.root.join("root-credentials");
        let text = format!(
            "[berth]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            k.id, k.secret
        );
        crate::datadir::write_private(&path, text.as_bytes())?;
        // Shown once; the file keeps it.
        eprintln!(
            "created the admin user of account {} with access key {} (secret in {}):\n  export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
            config.default_account,
            k.id,
            path.display(),
            k.id,
            k.secret
        );
    }
    Ok(())
}

async fn shutdown_on_signal(handle: axum_server::Handle) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received: draining in-flight requests"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received: draining in-flight requests"),
    }
    handle.graceful_shutdown(Some(DRAIN_TIMEOUT));
}

/// Garbage collection every `every`, on one node of the deployment.
async fn collect_garbage_periodically(
    registry: Arc<Registry>,
    every: Duration,
    startup: StartupWork,
) {
    crate::jobs::run_as_job(registry, "gc", every, startup, |registry| async move {
        let options = berth_registry::GcOptions {
            dry_run: false,
            grace: registry.gc_grace(),
        };
        match registry.start_gc(options) {
            // Held under the lease until it ends.
            Ok(run) => {
                while !run.is_finished() {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
            Err(_) => tracing::info!("skipping a scheduled garbage collection: one is running"),
        }
    })
    .await
}

/// A pass sealing plaintext from before encryption at rest every `every`,
/// on one node of the deployment (`Registry::seal_plaintext`).
async fn seal_plaintext_periodically(
    registry: Arc<Registry>,
    every: Duration,
    startup: StartupWork,
) {
    crate::jobs::run_as_job(
        registry,
        "seal-plaintext",
        every,
        startup,
        |registry| async move {
            if let Err(e) = registry.seal_plaintext().await {
                tracing::warn!(error = %e, "sealing plaintext failed; the next pass resumes");
            }
        },
    )
    .await
}

/// Usage samples, one per period of `every` (`Registry::sample_usage_if_due`),
/// on one node of the deployment: the job ticks often so that a fresh
/// deployment has its first sample within a minute, not an hour.
async fn sample_usage_periodically(registry: Arc<Registry>, every: Duration, startup: StartupWork) {
    let tick = every.min(Duration::from_secs(60));
    crate::jobs::run_as_job(
        registry,
        "usage-sample",
        tick,
        startup,
        move |registry| async move {
            match registry.sample_usage_if_due(every).await {
                Ok(Some(s)) => tracing::debug!(
                    repositories = s.repositories,
                    registries = s.registries,
                    "usage sampled"
                ),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "sampling usage failed; the next tick tries again")
                }
            }
        },
    )
    .await
}

/// Replication tasks one node runs at once.
const REPLICATION_WORKERS: usize = 4;

/// One replication worker: runs what is due, then waits for a push on this
/// node to queue more, or a second (another node's pushes, retries coming
/// due). Every node runs workers: tasks are claimed under leases
/// (`ReplicationStore::claim_replication`), so each runs on one node at a
/// time and a dead node's are taken over when their leases end. The
/// `backfills` worker also advances the running backfills.
async fn replicate_continuously(registry: Arc<Registry>, backfills: bool) {
    loop {
        if backfills {
            if let Err(e) = registry.advance_backfills().await {
                tracing::warn!(error = %e, "replication backfills could not be advanced; trying again");
            }
        }
        if let Err(e) = registry.replicate_due().await {
            tracing::warn!(error = %e, "the replication queue could not be read; trying again");
        }
        registry.replication_queued(Duration::from_secs(1)).await;
    }
}

/// Evaluates every repository's lifecycle policy every `every`, on one node
/// of the deployment, and expires what the policies select; each expiry is
/// logged by the registry.
async fn run_lifecycle_periodically(
    registry: Arc<Registry>,
    every: Duration,
    startup: StartupWork,
) {
    crate::jobs::run_as_job(registry, "lifecycle", every, startup, |registry| async move {
        match registry.run_lifecycle().await {
            Ok(run) if run.repositories > 0 => tracing::info!(
                repositories = run.repositories,
                expired = run.expired,
                transitioned = run.transitioned,
                skipped_changed = run.skipped_changed,
                skipped_transitions = run.skipped_transitions,
                failed = run.failed,
                "lifecycle policies applied"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "lifecycle run failed; retrying at the next interval")
            }
        }
    })
    .await
}

/// Writes the pull times recorded in memory (`lastRecordedPullTime`); the
/// last ones are written by `Registry::close` at shutdown.
async fn flush_pulls_periodically(registry: Arc<Registry>) {
    let every = berth_registry::PULL_FLUSH_INTERVAL;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        if let Err(e) = registry.flush_pulls().await {
            tracing::warn!(error = %e, "recording pull times failed; retrying at the next flush");
        }
    }
}

/// Upload sessions untouched for the expiry, on one node of the deployment.
/// Every node of a cluster, for the scans it has queued or running: the
/// claims that keep other nodes from taking them over.
async fn renew_scan_claims_periodically(registry: Arc<Registry>) {
    let mut tick = tokio::time::interval(registry.scan_claim_timers().0);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = registry.renew_scan_claims().await {
            tracing::warn!(error = %e, "renewing this node's scan claims failed; trying again");
        }
    }
}

async fn expire_uploads_periodically(registry: Arc<Registry>, startup: StartupWork) {
    crate::jobs::run_as_job(
        registry,
        "upload-expiry",
        EXPIRY_INTERVAL,
        startup,
        |registry| async move {
            match registry.expire_uploads().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "expired stale upload sessions"),
                Err(e) => tracing::warn!(error = %e, "expiring upload sessions failed"),
            }
            match registry.sweep_abandoned_uploads().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    count = n,
                    "removed upload data no session owns, idle for the upload expiry"
                ),
                Err(e) => tracing::warn!(error = %e, "sweeping abandoned upload data failed"),
            }
        },
    )
    .await
}
