//! berth's own admin API (`/berth/admin/...`), which the `berth` CLI calls
//! on a running server. Until SigV4 authentication lands (the ECR API
//! issue), it answers only requests from loopback addresses: whoever can
//! reach it there can already read the data dir.

use crate::AppState;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_registry::{GcOptions, GcSnapshot};
use http::StatusCode;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

fn refuse_remote(peer: &SocketAddr) -> Option<Response> {
    (!peer.ip().is_loopback()).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "the admin API answers only loopback clients until it authenticates requests",
        )
    })
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (status, Json(json!({ "__type": kind, "message": message }))).into_response()
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcRequest {
    #[serde(default)]
    dry_run: bool,
    /// Overrides the server's grace period for this run.
    grace_seconds: Option<u64>,
}

/// `POST /berth/admin/gc`: starts a garbage-collection run (202), or
/// answers 409 with the run already in progress.
pub async fn start_gc(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Option<Json<GcRequest>>,
) -> Response {
    if let Some(r) = refuse_remote(&peer) {
        return r;
    }
    let req = body.map(|b| b.0).unwrap_or_default();
    let options = GcOptions {
        dry_run: req.dry_run,
        grace: req
            .grace_seconds
            .map(Duration::from_secs)
            .unwrap_or(app.registry.gc_grace()),
    };
    match app.registry.start_gc(options) {
        Ok(run) => (StatusCode::ACCEPTED, Json(render(&run.snapshot()))).into_response(),
        Err(running) => (StatusCode::CONFLICT, Json(render(&running.snapshot()))).into_response(),
    }
}

/// `GET /berth/admin/gc`: the current or last run.
pub async fn gc_status(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(r) = refuse_remote(&peer) {
        return r;
    }
    match app.registry.gc_status() {
        Some(run) => Json(render(&run.snapshot())).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "no garbage collection has run since the server started",
        ),
    }
}

fn render(s: &GcSnapshot) -> serde_json::Value {
    json!({
        "id": s.id,
        "dryRun": s.dry_run,
        "graceSeconds": s.grace_secs,
        "phase": s.phase.as_str(),
        "examined": s.examined,
        "total": s.total,
        "linksRemoved": s.links_removed,
        "blobsDeleted": s.blobs_deleted,
        "bytesFreed": s.bytes_freed,
        "orphanFiles": s.orphan_files,
        "startedAt": s.started_at,
        "finishedAt": s.finished_at,
        "error": s.error,
    })
}
