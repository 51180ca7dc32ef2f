//! What the console renders: the askama templates' data
//! (`templates/console/`), and the small formats pages share (sizes,
//! times). Templates escape every value; nothing here builds HTML by hand.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;

/// What the header of every signed-in page shows.
pub struct Frame {
    pub section: &'static str,
    pub csrf: String,
    pub region: String,
    pub account: String,
    pub name: String,
    pub arn: String,
}

fn page(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (
            status,
            [
                (http::header::CACHE_CONTROL, "no-store"),
                (http::header::X_FRAME_OPTIONS, "DENY"),
                (
                    http::header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
                ),
            ],
            Html(html),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page failed to render").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignIn<'a> {
    frame: Option<Frame>,
    error: Option<String>,
    csrf: &'a str,
}

pub fn sign_in(error: Option<String>, csrf: &str, status: StatusCode) -> Response {
    page(
        &SignIn {
            frame: None,
            error,
            csrf,
        },
        status,
    )
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    frame: Option<Frame>,
    title: &'a str,
    message: &'a str,
}

pub fn error_page(
    frame: Option<Frame>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    page(
        &ErrorPage {
            frame,
            title,
            message,
        },
        status,
    )
}

/// A failure of berth itself (a store down), said as such.
pub fn failure(frame: Option<Frame>, why: &str) -> Response {
    tracing::warn!(error = %why, "a console page failed");
    error_page(
        frame,
        StatusCode::SERVICE_UNAVAILABLE,
        "berth could not answer",
        &format!("{why}. Try again in a moment; if it persists, the server's log says more."),
    )
}

pub struct RepoRow {
    pub name: String,
    pub uri: String,
    pub created: String,
    pub images: u64,
    /// Stored bytes at the latest usage sample ("—" before the first).
    pub size: String,
    pub last_push: String,
    pub mutability: String,
    pub scan_on_push: bool,
    pub encryption: String,
}

#[derive(Template)]
#[template(path = "console/repositories.html")]
pub struct Repositories {
    pub frame: Option<Frame>,
    pub registry: String,
    pub endpoint: String,
    pub prefix: String,
    /// `name`, `size`, `images` or `pushed`.
    pub sort: String,
    pub rows: Vec<RepoRow>,
    /// The next page's link.
    pub next: Option<String>,
    pub can_create: bool,
    pub error: Option<String>,
    /// When the sizes were sampled.
    pub sampled: Option<String>,
}

/// A repository's line on the usage page.
pub struct UsageRow {
    pub name: String,
    /// Still in the registry (a deleted one keeps its month's GB-months).
    pub exists: bool,
    pub images: u64,
    pub logical: String,
    pub stored: String,
    pub gb_months: String,
    pub estimate: String,
}

/// The stored-bytes chart: an SVG polyline in a `width`×`height` box.
pub struct Chart {
    pub width: u32,
    pub height: u32,
    pub points: String,
    /// The top of the axis, and the first and last sample's dates.
    pub top: String,
    pub from: String,
    pub to: String,
}

#[derive(Template)]
#[template(path = "console/usage.html")]
pub struct Usage {
    pub frame: Option<Frame>,
    pub registry: String,
    pub month: String,
    pub price: String,
    pub elapsed: String,
    pub sampled: Option<String>,
    pub images: u64,
    pub logical: String,
    pub stored: String,
    pub gb_months: String,
    pub accrued: String,
    pub estimate: String,
    pub chart: Option<Chart>,
    pub rows: Vec<UsageRow>,
    /// Rows not shown (the page lists the largest).
    pub more: usize,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/create_repository.html")]
pub struct CreateRepository {
    pub frame: Option<Frame>,
    pub csrf: String,
    pub registry: String,
    pub error: Option<String>,
    pub name: String,
    pub mutability: String,
    /// Exclusion filters, one per line.
    pub exclusions: String,
    pub scan_on_push: bool,
    pub encryption: String,
    pub kms_key: String,
}

pub struct ImageRow {
    pub tags: Vec<String>,
    pub digest: String,
    pub short_digest: String,
    pub kind: String,
    pub size: String,
    pub pushed: String,
    pub pulled: String,
    pub scan: String,
}

#[derive(Template)]
#[template(path = "console/repository.html")]
pub struct Repository {
    pub frame: Option<Frame>,
    pub csrf: String,
    pub can_configure: bool,
    pub name: String,
    pub uri: String,
    pub host: String,
    pub endpoint: String,
    pub mutability: String,
    /// Exclusion filters, comma-separated.
    pub exclusions: String,
    pub scan_on_push: bool,
    pub encryption: String,
    pub images: Vec<ImageRow>,
    pub next: Option<String>,
    pub error: Option<String>,
}

/// A row of an image's layers, platforms or referrers.
pub struct Part {
    pub name: String,
    pub digest: String,
    pub media_type: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "console/image.html")]
pub struct Image {
    pub frame: Option<Frame>,
    pub csrf: String,
    pub can_scan: bool,
    pub name: String,
    pub uri: String,
    pub endpoint: String,
    pub digest: String,
    pub short_digest: String,
    pub tags: Vec<String>,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub config: Option<String>,
    pub size: String,
    pub pushed: String,
    pub layers: Vec<Part>,
    pub platforms: Vec<Part>,
    pub referrers: Vec<Part>,
}

pub struct Finding {
    pub severity: String,
    pub id: String,
    pub uri: String,
    pub package: String,
    pub installed: String,
    pub fixed: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "console/findings.html")]
pub struct Findings {
    pub frame: Option<Frame>,
    pub name: String,
    pub digest: String,
    pub short_digest: String,
    pub status: String,
    pub description: String,
    pub completed: String,
    pub counts: String,
    pub findings: Vec<Finding>,
    pub truncated: bool,
}

pub struct KeyRow {
    pub id: String,
    pub status: String,
    pub created: String,
}

pub struct UserRow {
    pub name: String,
    pub arn: String,
    pub created: String,
    pub keys: Vec<KeyRow>,
    pub can_update: bool,
    pub can_delete_key: bool,
    pub can_create_key: bool,
    pub can_delete: bool,
}

/// A key just made: the only page that shows its secret.
pub struct NewKey {
    pub user: String,
    pub id: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "console/iam.html")]
pub struct Iam {
    pub frame: Option<Frame>,
    pub csrf: String,
    pub account: String,
    pub users: Vec<UserRow>,
    pub can_create: bool,
    pub new_key: Option<NewKey>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

pub struct Setting {
    pub name: String,
    pub allowed: Vec<String>,
    pub value: String,
}

#[derive(Template)]
#[template(path = "console/registry.html")]
pub struct RegistrySettings {
    pub frame: Option<Frame>,
    pub csrf: String,
    pub registry: String,
    pub settings: Vec<Setting>,
    pub scanning: String,
    pub policy: String,
    pub can_put_setting: bool,
    pub can_put_scanning: bool,
    pub can_put_policy: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
}

pub struct PreviewRow {
    pub tags: Vec<String>,
    pub digest: String,
    pub pushed: String,
    pub action: String,
    pub rule: i64,
}

#[derive(Template)]
#[template(path = "console/lifecycle.html")]
pub struct Lifecycle {
    pub frame: Option<Frame>,
    pub csrf: String,
    pub name: String,
    pub policy: String,
    pub can_save: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub preview: Option<Vec<PreviewRow>>,
}

#[derive(Template)]
#[template(path = "console/policy.html")]
pub struct Policy {
    pub frame: Option<Frame>,
    pub csrf: String,
    pub name: String,
    pub policy: String,
    pub can_save: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
}

pub fn render(t: &impl Template) -> Response {
    page(t, StatusCode::OK)
}

pub fn render_with(t: &impl Template, status: StatusCode) -> Response {
    page(t, status)
}

/// Bytes as people read them (decimal units, as ECR's console).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// An AWS JSON timestamp (epoch seconds) as `YYYY-MM-DD HH:MM UTC`.
pub fn time(epoch_seconds: Option<f64>) -> String {
    let Some(s) = epoch_seconds else {
        return "—".into();
    };
    match time::OffsetDateTime::from_unix_timestamp(s as i64) {
        Ok(t) => t
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .unwrap_or_default(),
        Err(_) => "—".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_and_times_read_as_people_write_them() {
        assert_eq!(super::size(512), "512 B");
        assert_eq!(super::size(1_500), "1.5 kB");
        assert_eq!(super::size(104_857_600), "104.9 MB");
        assert_eq!(super::time(Some(0.0)), "1970-01-01 00:00 UTC");
        assert_eq!(super::time(None), "—");
    }
}
