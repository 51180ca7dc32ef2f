//! HTTP for berth: the distribution API under `/v2`, berth's admin API
//! under `/berth/admin`, health and metrics.
//! Handlers are thin: parse, call the registry, render. Errors become
//! protocol errors in one place per protocol (`oci_error`).
#![forbid(unsafe_code)]

mod admin;
pub mod admin_api;
mod aws_error;
mod aws_json;
pub mod body;
pub mod byte_range;
pub mod console;
mod distribution;
pub mod ecr_public;
mod gallery;
mod op_table;
pub mod public_quota;
mod public_v2;
pub use distribution::REPLICA_HEADER;
pub mod ecr;
mod health;
pub mod host;
mod iam;
pub mod kms;
pub mod metrics;
mod oci_error;
pub mod route;
mod signed;
pub mod v2_access;
mod v2_auth;

use axum::routing::{any, get};
use axum::Router;
use berth_registry::{Registry, RequestFacts};
use std::sync::Arc;

pub use host::HostConfig;
pub use metrics::Metrics;

/// What every handler reads. axum clones it for each request and each
/// middleware layer, so it is one reference count (four, one per part,
/// were 3% of the CPU of a manifest GET, in clones and drops).
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

pub struct AppParts {
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    pub hosts: Arc<HostConfig>,
    /// Time limits on request bodies, and the budget of large ones.
    pub bodies: Arc<body::BodyLimits>,
    /// The quotas on pulls from public repositories (this node's buckets).
    pub public_pulls: Arc<public_quota::PullQuotas>,
}

impl AppState {
    pub fn new(parts: AppParts) -> Self {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// `POST /`: the ECR JSON API (`X-Amz-Target`), or the IAM and STS Query
/// APIs (a form body without a target). Requests that are neither go to the
/// ECR API, which names what is missing.
async fn aws_api(
    state: axum::extract::State<AppState>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let facts = connection_facts(&state, &parts.extensions, &parts.headers);
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let public_target = target.starts_with(ecr_public::TARGET_PREFIX);
    let kms_target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with(kms::TARGET_PREFIX));
    if iam::is_query_request(&parts.headers) {
        iam::api(state, parts.method, parts.uri, parts.headers, body, facts).await
    } else if kms_target {
        kms::api(state.0, parts.method, parts.uri, parts.headers, body, facts).await
    } else if public_target {
        ecr_public::api(state.0, parts.method, parts.uri, parts.headers, body, facts).await
    } else {
        ecr::api(
            &ecr::ECR,
            state.0,
            parts.method,
            parts.uri,
            parts.headers,
            body,
            facts,
        )
        .await
    }
}

/// What policy conditions know of the connection: the client's address
/// (the peer's, as `berth serve` records it, or, when the peer is a
/// trusted proxy, the address `X-Forwarded-For` names: `HostConfig::client_ip`;
/// absent when the router is served without it) and whether it is TLS (the
/// listener is all one or the other).
pub(crate) fn connection_facts(
    app: &AppState,
    extensions: &http::Extensions,
    headers: &http::HeaderMap,
) -> RequestFacts {
    RequestFacts {
        source_ip: extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .and_then(|c| app.hosts.client_ip(c.0.ip(), headers)),
        secure_transport: app.hosts.scheme == "https",
        ..RequestFacts::default()
    }
}

/// The complete HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", axum::routing::post(aws_api).get(gallery::index))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics_endpoint))
        .route(
            admin_api::GC,
            axum::routing::post(admin::start_gc).get(admin::gc_status),
        )
        .route(
            admin_api::LIFECYCLE,
            axum::routing::post(admin::run_lifecycle),
        )
        .route(
            admin_api::VULNDB_RECORDS,
            axum::routing::post(admin::import_vuln_records),
        )
        .route(
            admin_api::VULNDB_FINISH,
            axum::routing::post(admin::finish_vuln_import),
        )
        .route(
            admin_api::ACCOUNTS,
            axum::routing::post(admin::create_account).get(admin::list_accounts),
        )
        .route(
            admin_api::USERS,
            axum::routing::post(admin::create_user).get(admin::list_users),
        )
        .route(
            admin_api::USAGE,
            get(admin::usage).post(admin::sample_usage),
        )
        .route(admin_api::ROLES, get(admin::list_roles))
        .route(admin_api::GROUPS, get(admin::list_groups))
        .route(
            admin_api::USER_ACCESS_KEYS,
            axum::routing::post(admin::create_access_key).get(admin::list_user_access_keys),
        )
        .route(admin_api::ACCESS_KEYS, get(admin::list_access_keys))
        .route(
            admin_api::ACCESS_KEY,
            axum::routing::delete(admin::delete_access_key),
        )
        .route("/token", get(public_v2::token).post(public_v2::token))
        .merge(console::routes(state.clone()))
        .route("/v2", any(distribution::v2))
        .route("/v2/", any(distribution::v2))
        .route("/v2/{*rest}", any(distribution::v2))
        .fallback(gallery::fallback)
        .layer(axum::middleware::from_fn(host::authority_as_host))
        .layer(axum::middleware::from_fn_with_state(
            state.bodies.clone(),
            body::guard,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            oci_error::panic_response,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .with_state(state)
}
