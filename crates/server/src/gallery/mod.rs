//! The public gallery (issue 24): server-rendered pages on the public host,
//! without signing in. `/` searches public repositories by alias, name and
//! catalog text; `/<alias>/<name>` shows one with its catalog data (about
//! and usage text through `markdown`, which leaves nothing active), its
//! tagged images and the exact `docker pull` line; `/-/logo/<alias>/<name>`
//! is its logo; `/-/static/console.css` the console's stylesheet, which it
//! shares with the console's page headers (CSP without scripts). On other
//! hosts these paths are not found, and the console is not on this one.

mod markdown;

use crate::console::{human_size, human_time, render_with};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::{header, Method, StatusCode};
use std::collections::HashMap;

/// Search results per page.
const PAGE: u32 = 30;
/// The deepest result a page starts at.
const OFFSET_MAX: u32 = 3_000;
/// The longest search text taken.
const QUERY_MAX: usize = 200;

struct Row {
    alias: String,
    name: String,
    description: Option<String>,
}

#[derive(Template)]
#[template(path = "gallery/search.html")]
struct Search {
    query: String,
    rows: Vec<Row>,
    next: Option<String>,
}

struct ImageRow {
    tags: Vec<String>,
    size: String,
    pushed: String,
    digest: String,
}

#[derive(Template)]
#[template(path = "gallery/repository.html")]
struct Repository {
    query: String,
    alias: String,
    name: String,
    has_logo: bool,
    description: Option<String>,
    architectures: Vec<String>,
    operating_systems: Vec<String>,
    about: Option<String>,
    usage: Option<String>,
    pull: String,
    images: Vec<ImageRow>,
}

#[derive(Template)]
#[template(path = "gallery/not_found.html")]
struct NotFound {
    query: String,
    what: String,
}

fn not_found(what: String) -> Response {
    render_with(
        &NotFound {
            query: String::new(),
            what,
        },
        StatusCode::NOT_FOUND,
    )
}

fn unavailable(e: berth_registry::Error) -> Response {
    tracing::warn!(error = %e, "a gallery page failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the gallery cannot read the registry right now; retry shortly",
    )
        .into_response()
}

/// Whether the request is a page read on the public host.
fn on_public_host(app: &AppState, request: &Request) -> bool {
    (request.method() == Method::GET || request.method() == Method::HEAD)
        && app
            .hosts
            .is_public(request.version(), request.uri(), request.headers())
}

/// `GET /`: the search page (on the public host only).
pub async fn index(State(app): State<AppState>, request: Request) -> Response {
    if !on_public_host(&app, &request) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let params = Query::<HashMap<String, String>>::try_from_uri(request.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    let query: String = params
        .get("q")
        .map(|q| q.trim().chars().take(QUERY_MAX).collect())
        .unwrap_or_default();
    // Deep pages cost a scan each: people search instead.
    let offset: u32 = params
        .get("offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0)
        .min(OFFSET_MAX);
    let (found, more) = match app.registry.public_gallery(&query, offset, PAGE).await {
        Ok(r) => r,
        Err(e) => return unavailable(e),
    };
    let next = more.then(|| {
        let q: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
        format!("/?q={q}&offset={}", offset + PAGE)
    });
    let rows = found
        .into_iter()
        .map(|e| Row {
            alias: e.alias,
            name: e.name,
            description: e.description,
        })
        .collect();
    render_with(&Search { query, rows, next }, StatusCode::OK)
}

/// Every other path: on the public host, a repository's page or logo.
pub async fn fallback(State(app): State<AppState>, request: Request) -> Response {
    if !on_public_host(&app, &request) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = request.uri().path().trim_matches('/').to_string();
    if path == "-/static/console.css" {
        return crate::console::stylesheet().await;
    }
    if let Some(rest) = path.strip_prefix("-/logo/") {
        return logo(&app, rest).await;
    }
    let Some((alias, name)) = path.split_once('/') else {
        return not_found(format!("No public repository is at /{path}."));
    };
    let repository = match app.registry.public_gallery_repository(alias, name).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(format!("There is no public repository {alias}/{name}.")),
        Err(e) => return unavailable(e),
    };
    let host = app.hosts.public_host(
        request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default(),
    );
    let tag = repository
        .images
        .iter()
        .flat_map(|i| &i.tags)
        .find(|t| *t == "latest")
        .or_else(|| repository.images.first().and_then(|i| i.tags.first()))
        .map(String::as_str)
        .unwrap_or("latest");
    let catalog = repository.catalog;
    let page = Repository {
        query: String::new(),
        pull: format!("docker pull {host}/{alias}/{name}:{tag}"),
        alias: repository.alias,
        name: repository.name,
        has_logo: repository.has_logo,
        description: catalog.description,
        architectures: catalog.architectures,
        operating_systems: catalog.operating_systems,
        about: catalog.about_text.as_deref().map(markdown::render),
        usage: catalog.usage_text.as_deref().map(markdown::render),
        images: repository
            .images
            .into_iter()
            .map(|i| ImageRow {
                tags: i.tags,
                size: human_size(i.size),
                pushed: human_time(Some(i.pushed_at as f64 / 1000.0)),
                digest: i.digest.to_string(),
            })
            .collect(),
    };
    render_with(&page, StatusCode::OK)
}

/// A repository's logo, as the image type its bytes are (catalog data
/// admits only PNG and JPEG).
async fn logo(app: &AppState, rest: &str) -> Response {
    let Some((alias, name)) = rest.split_once('/') else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match app.registry.public_logo(alias, name).await {
        Ok(Some(bytes)) => {
            let content_type = if bytes.starts_with(b"\x89PNG") {
                "image/png"
            } else {
                "image/jpeg"
            };
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "public, max-age=300"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => unavailable(e),
    }
}
