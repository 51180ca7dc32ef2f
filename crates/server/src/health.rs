use crate::metrics::RouteLabel;
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// Alive: the process answers.
pub async fn healthz() -> Response {
    labelled("healthz", (StatusCode::OK, "ok\n").into_response())
}

/// Ready: both stores answer.
pub async fn readyz(State(app): State<AppState>) -> Response {
    let resp = match app.registry.check_ready().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response()
        }
    };
    labelled("readyz", resp)
}

fn labelled(label: &'static str, mut resp: Response) -> Response {
    resp.extensions_mut().insert(RouteLabel(label));
    resp
}
