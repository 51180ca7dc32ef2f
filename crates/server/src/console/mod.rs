//! The console (issue 23; ARCHITECTURE.md, "Console"): server-rendered
//! pages at `/console` on the API's own listener. A page reads and acts
//! only through the ECR operations the API runs (`ecr::invoke`) or through
//! the registry's calls after the same authorization, as the signed-in
//! user, so it can show or do nothing that user could not with the aws
//! CLI. Sessions: `session.rs`; pages: `pages.rs` (repositories),
//! `images.rs` (an image), `policies.rs` (lifecycle and repository
//! policies), `iam.rs` (IAM users and their keys), `registry.rs` (the
//! registry's settings, scanning configuration and policy), `usage.rs`
//! (usage and cost); what they render: `view.rs` and `templates/console/`.

mod iam;
mod images;
mod pages;
mod policies;
mod registry;
mod session;
mod usage;
mod view;

pub use session::valid_region;
pub use view::size as human_size;
pub(crate) use view::{render_with, time as human_time};

use crate::AppState;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;

/// A route of the console: its path, methods, and whether it needs a
/// session. The router is built from [`ROUTES`], and the tenant tests walk
/// it (`crates/berth/tests/it/console.rs`), so a new page is tested as
/// soon as it is routed.
pub struct Route {
    pub path: &'static str,
    pub methods: &'static [&'static str],
    /// Answers only a signed-in user (else: to the sign-in page).
    pub signed_in: bool,
    handler: fn() -> MethodRouter<AppState>,
}

pub const ROUTES: &[Route] = &[
    Route {
        path: "/console",
        methods: &["GET"],
        signed_in: false,
        handler: || get(|| async { see_other("/console/repositories") }),
    },
    Route {
        path: "/console/",
        methods: &["GET"],
        signed_in: false,
        handler: || get(|| async { see_other("/console/repositories") }),
    },
    Route {
        path: "/console/static/console.css",
        methods: &["GET"],
        signed_in: false,
        handler: || get(stylesheet),
    },
    Route {
        path: "/console/sign-in",
        methods: &["GET", "POST"],
        signed_in: false,
        handler: || get(session::sign_in_page).post(session::sign_in),
    },
    Route {
        path: "/console/sign-out",
        methods: &["POST"],
        signed_in: true,
        handler: || post(session::sign_out),
    },
    Route {
        path: "/console/region",
        methods: &["POST"],
        signed_in: true,
        handler: || post(session::switch_region),
    },
    Route {
        path: "/console/repositories",
        methods: &["GET"],
        signed_in: true,
        handler: || get(pages::repositories),
    },
    Route {
        path: "/console/repositories/new",
        methods: &["GET", "POST"],
        signed_in: true,
        handler: || get(pages::new_repository).post(pages::create_repository),
    },
    Route {
        path: "/console/repository/{*name}",
        methods: &["GET"],
        signed_in: true,
        handler: || get(pages::repository),
    },
    Route {
        path: "/console/settings/{*name}",
        methods: &["POST"],
        signed_in: true,
        handler: || post(pages::settings),
    },
    Route {
        path: "/console/image/{*name}",
        methods: &["GET"],
        signed_in: true,
        handler: || get(images::image),
    },
    Route {
        path: "/console/findings/{*name}",
        methods: &["GET"],
        signed_in: true,
        handler: || get(images::findings),
    },
    Route {
        path: "/console/scan/{*name}",
        methods: &["POST"],
        signed_in: true,
        handler: || post(images::scan),
    },
    Route {
        path: "/console/iam",
        methods: &["GET", "POST"],
        signed_in: true,
        handler: || get(iam::users).post(iam::act),
    },
    Route {
        path: "/console/usage",
        methods: &["GET"],
        signed_in: true,
        handler: || get(usage::usage),
    },
    Route {
        path: "/console/registry",
        methods: &["GET", "POST"],
        signed_in: true,
        handler: || get(registry::settings).post(registry::save),
    },
    Route {
        path: "/console/lifecycle/{*name}",
        methods: &["GET", "POST"],
        signed_in: true,
        handler: || get(policies::lifecycle).post(policies::lifecycle_post),
    },
    Route {
        path: "/console/policy/{*name}",
        methods: &["GET", "POST"],
        signed_in: true,
        handler: || get(policies::policy).post(policies::policy_post),
    },
];

/// The console's routes, under `/console`; not on the public host, so
/// that publishers' content (the gallery's catalog text and logos) never
/// shares an origin with console sessions.
pub fn routes(state: AppState) -> Router<AppState> {
    ROUTES
        .iter()
        .fold(Router::new(), |r, route| {
            r.route(route.path, (route.handler)())
        })
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            not_on_public_host,
        ))
}

async fn not_on_public_host(
    axum::extract::State(app): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if app
        .hosts
        .is_public(request.version(), request.uri(), request.headers())
    {
        return http::StatusCode::NOT_FOUND.into_response();
    }
    next.run(request).await
}

/// A redirect after a form (303: the browser GETs the new page).
pub(crate) fn see_other(to: &str) -> Response {
    (
        http::StatusCode::SEE_OTHER,
        [(http::header::LOCATION, to.to_string())],
    )
        .into_response()
}

pub(crate) async fn stylesheet() -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/console/console.css"),
    )
        .into_response()
}
