//! The console's page timings (issue 23): rows named `console: …`, berth
//! alone. On the metadata phase's berth, which holds `plan.repositories`
//! repositories: signed in as a browser is (the sign-in form's token, then
//! the session cookie), the repository list is loaded page after page
//! (50 a page, walking `after`) and by prefix searches, one request at a
//! time, and the p50 and p95 of the page times reported; then one usage
//! sample of every repository is timed.

use crate::client::{empty, full, Conn};
use crate::plan::Plan;
use crate::progress;
use crate::report::{Better, Results, Who};
use anyhow::{bail, ensure, Context};
use http::{header, Method, StatusCode};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub const PREFIX: &str = "console: ";
/// The row the 50 ms target reads.
pub fn list_row(plan: &Plan) -> String {
    format!(
        "{PREFIX}repository list of {} repositories, 50 a page, p95",
        plan.repositories + 3
    )
}

fn cookie(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|c| c.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Signs in as the bench's admin: the session cookie.
async fn sign_in(c: &mut Conn, addr: SocketAddr) -> anyhow::Result<String> {
    let req = http::Request::get("/console/sign-in")
        .header(header::HOST, addr.to_string())
        .body(empty())?;
    let (_, headers, _) = c.call(req).await?;
    let token = cookie(&headers, "berth_sign_in").context("no sign-in token")?;
    let form = format!(
        "csrf={token}&access_key_id={}&secret_access_key={}",
        berth_testkit::ROOT_ACCESS_KEY_ID,
        berth_testkit::ROOT_SECRET_ACCESS_KEY
    );
    let req = http::Request::builder()
        .method(Method::POST)
        .uri("/console/sign-in")
        .header(header::HOST, addr.to_string())
        .header(header::COOKIE, format!("berth_sign_in={token}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(full(form))?;
    let (status, headers, body) = c.call(req).await?;
    ensure!(
        status == StatusCode::SEE_OTHER,
        "sign-in answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    cookie(&headers, "berth_session").context("no session cookie")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub async fn pages(addr: SocketAddr, plan: &Plan, results: &mut Results) -> anyhow::Result<()> {
    let mut c = Conn::connect(addr).await?;
    let session = sign_in(&mut c, addr).await?;
    let mut times = Vec::new();
    let mut after: Option<String> = None;
    let deadline = Instant::now() + plan.measure.max(Duration::from_secs(1));
    let mut prefixes = [
        "bench/catalog/r0",
        "bench/catalog/r5",
        "bench/catalog/r99",
        "bench/",
        "zzz",
    ]
    .iter()
    .cycle();
    let mut i = 0usize;
    while times.len() < 50 || Instant::now() < deadline {
        // Every fourth load is a prefix search; the rest walk the pages.
        let path = if i % 4 == 3 {
            format!(
                "/console/repositories?prefix={}",
                prefixes.next().expect("cycles")
            )
        } else {
            match &after {
                Some(a) => format!("/console/repositories?after={a}"),
                None => "/console/repositories".to_string(),
            }
        };
        i += 1;
        let req = http::Request::get(path.as_str())
            .header(header::HOST, addr.to_string())
            .header(header::COOKIE, format!("berth_session={session}"))
            .body(empty())?;
        let t = Instant::now();
        let (status, _, body) = c.call(req).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if status != StatusCode::OK {
            bail!("{path}: {status}");
        }
        if !path.contains("prefix=") {
            let text = String::from_utf8_lossy(&body);
            after = text
                .split("after=")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(|a| a.replace("%2F", "/"));
        }
    }
    times.sort_by(f64::total_cmp);
    let (p50, p95) = (percentile(&times, 0.5), percentile(&times, 0.95));
    let row = list_row(plan);
    results.add(&row, "ms", Better::Lower, Who::Berth, p95);
    results.add(
        &row.replace(", p95", ", p50"),
        "ms",
        Better::Lower,
        Who::Berth,
        p50,
    );
    progress(&format!(
        "console: {} page loads, p50 {p50:.2} ms, p95 {p95:.2} ms",
        times.len()
    ));
    usage_sample(addr, plan, results).await
}

/// One usage sample of every repository (`POST /berth/admin/usage`, as
/// `berth admin usage --sample-now`), timed: what the hourly job costs.
async fn usage_sample(addr: SocketAddr, plan: &Plan, results: &mut Results) -> anyhow::Result<()> {
    let url = format!("http://{addr}");
    let (took, status, body) = tokio::task::spawn_blocking(move || {
        let client = reqwest::blocking::Client::new();
        let key = (
            berth_testkit::ROOT_ACCESS_KEY_ID,
            berth_testkit::ROOT_SECRET_ACCESS_KEY,
        );
        let t = Instant::now();
        let (status, body) =
            berth_testkit::admin::call(&client, &url, key, "POST", "/berth/admin/usage", None);
        (t.elapsed(), status, body)
    })
    .await?;
    ensure!(status == 200, "usage sample: {status} {body}");
    let repositories = body["repositories"].as_u64().unwrap_or(0);
    results.add(
        &format!(
            "{PREFIX}usage sample of {} repositories",
            plan.repositories + 3
        ),
        "ms",
        Better::Lower,
        Who::Berth,
        took.as_secs_f64() * 1000.0,
    );
    progress(&format!(
        "console: usage sample of {repositories} repositories in {:.0} ms",
        took.as_secs_f64() * 1000.0
    ));
    Ok(())
}
