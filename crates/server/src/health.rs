use crate::metrics::RouteLabel;
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// Alive: the process answers.
pub async fn healthz() -> Response {
    labelled("healthz", (StatusCode::OK, "ok\n").into_response())
}

/// Ready: both stores answer. The body names each store's state (and, on
/// a node of several, whether it hears the others' changes), one per line.
pub async fn readyz(State(app): State<AppState>) -> Response {
    let r = app.registry.readiness().await;
    let line = |name: &str, state: &Result<(), String>| match state {
        Ok(()) => format!("{name}: ok\n"),
        Err(e) => format!("{name}: unavailable: {e}\n"),
    };
    let mut body = if r.ready() { "ready\n" } else { "not ready\n" }.to_string();
    body.push_str(&line("metadata", &r.metadata));
    body.push_str(&line("blobs", &r.blobs));
    match r.listening {
        Some(true) => body.push_str("cluster: listening for other nodes' changes\n"),
        Some(false) => {
            body.push_str("cluster: not hearing other nodes' changes; caches off until it does\n")
        }
        None => {}
    }
    let status = if r.ready() {
        StatusCode::OK
    } else {
        tracing::warn!(metadata = ?r.metadata, blobs = ?r.blobs, "readiness check failed");
        StatusCode::SERVICE_UNAVAILABLE
    };
    labelled("readyz", (status, body).into_response())
}

fn labelled(label: &'static str, mut resp: Response) -> Response {
    resp.extensions_mut().insert(RouteLabel(label));
    resp
}
