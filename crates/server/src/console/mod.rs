//! The console (issue 23; ARCHITECTURE.md, "Console"): server-rendered
//! pages at `/console` on the API's own listener. A page reads and acts
//! only through the ECR operations the API runs (`ecr::invoke`) or through
//! the registry's calls after the same authorization, as the signed-in
//! user, so it can show or do nothing that user could not with the aws
//! CLI. Sessions: `session.rs`; pages: `pages.rs` (repositories),
//! `images.rs` (an image), `policies.rs` (lifecycle and repository
//! policies); what they render: `view.rs` and `templates/console/`.

mod images;
mod pages;
mod policies;
mod session;
mod view;

use crate::AppState;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// The console's routes, under `/console`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { see_other("/console/repositories") }),
        )
        .route(
            "/console/",
            get(|| async { see_other("/console/repositories") }),
        )
        .route("/console/static/console.css", get(stylesheet))
        .route(
            "/console/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/region", post(session::switch_region))
        .route("/console/repositories", get(pages::repositories))
        .route(
            "/console/repositories/new",
            get(pages::new_repository).post(pages::create_repository),
        )
        .route("/console/repository/{*name}", get(pages::repository))
        .route("/console/image/{*name}", get(images::image))
        .route("/console/findings/{*name}", get(images::findings))
        .route("/console/scan/{*name}", post(images::scan))
        .route("/console/settings/{*name}", post(pages::settings))
        .route(
            "/console/lifecycle/{*name}",
            get(policies::lifecycle).post(policies::lifecycle_post),
        )
        .route(
            "/console/policy/{*name}",
            get(policies::policy).post(policies::policy_post),
        )
}

/// A redirect after a form (303: the browser GETs the new page).
pub(crate) fn see_other(to: &str) -> Response {
    (
        http::StatusCode::SEE_OTHER,
        [(http::header::LOCATION, to.to_string())],
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/console/console.css"),
    )
        .into_response()
}
