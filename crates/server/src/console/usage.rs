//! The usage and cost page: the signed-in user's registry at the latest
//! hourly sample, this month's GB-months and estimate
//! (`Registry::usage_report`), a chart of stored bytes over the last 30
//! days, and the largest repositories. Sizes are what DescribeImages
//! already shows, so the page asks what the repository list asks:
//! `ecr:DescribeRepositories` on every repository.

use super::session::{signed_in, Ctx};
use super::view::{self, Chart, UsageRow};
use crate::AppState;
use axum::extract::{Query, Request, State};
use axum::response::Response;
use std::collections::HashMap;

/// Repositories listed, largest first.
const ROWS: usize = 100;
/// The chart's reach.
const CHART_DAYS: i64 = 30;
const CHART_WIDTH: u32 = 720;
const CHART_HEIGHT: u32 = 160;

fn dollars(v: f64) -> String {
    if v > 0.0 && v < 0.01 {
        "< $0.01".into()
    } else {
        format!("${v:.2}")
    }
}

/// A price as written on price lists: cents at least, more digits only
/// when the price has them ($0.10, $0.023).
fn price(v: f64) -> String {
    let text = format!("{v:.6}");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = fraction.trim_end_matches('0');
    format!("${whole}.{fraction:0<2}")
}

fn gb_months(v: f64) -> String {
    format!("{v:.4}")
}

pub async fn usage(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let ctx = signed_in!(app, request);
    let registry = ctx.registry();
    let mut page = view::Usage {
        frame: Some(ctx.frame("usage")),
        registry: ctx.registry_label(),
        month: String::new(),
        price: String::new(),
        elapsed: String::new(),
        sampled: None,
        images: 0,
        logical: "—".into(),
        stored: "—".into(),
        gb_months: gb_months(0.0),
        accrued: dollars(0.0),
        estimate: dollars(0.0),
        chart: None,
        rows: vec![],
        more: 0,
        error: None,
    };
    if let Err(e) = ctx.authorize("ecr:DescribeRepositories", Some("*")).await {
        page.error = Some(e.message().to_string());
        return view::render(&page);
    }
    let month = q.get("month").map(String::as_str).filter(|m| !m.is_empty());
    let report = match ctx
        .app
        .registry
        .usage_report(Some(&registry), month, true)
        .await
    {
        Ok(r) => r,
        Err(berth_registry::Error::InvalidParameter(why)) => {
            return view::error_page(
                page.frame.take(),
                http::StatusCode::BAD_REQUEST,
                "Not a month",
                &why,
            )
        }
        Err(e) => return view::failure(page.frame.take(), &e.to_string()),
    };
    page.month = report.month.clone();
    page.price = price(report.price_per_gb_month);
    page.elapsed = format!(
        "{:.0} of {:.0} hours",
        report.elapsed_hours, report.month_hours
    );
    if let Some(r) = report.registries.first() {
        if let Some(l) = &r.latest {
            page.sampled = Some(view::time(Some((l.sampled_at / 1000) as f64)));
            page.images = l.images;
            page.logical = view::size(l.logical_bytes);
            page.stored = view::size(l.stored_bytes);
        }
        page.gb_months = gb_months(r.cost.gb_months);
        page.accrued = dollars(r.cost.accrued_cost);
        page.estimate = dollars(r.cost.estimated_cost);
        page.more = r.repositories.len().saturating_sub(ROWS);
        page.rows = r
            .repositories
            .iter()
            .take(ROWS)
            .map(|u| UsageRow {
                name: u.name.clone(),
                exists: u.latest.is_some(),
                images: u.latest.as_ref().map_or(0, |l| l.images),
                logical: u
                    .latest
                    .as_ref()
                    .map_or_else(|| "—".into(), |l| view::size(l.logical_bytes)),
                stored: u
                    .latest
                    .as_ref()
                    .map_or_else(|| "—".into(), |l| view::size(l.stored_bytes)),
                gb_months: gb_months(u.cost.gb_months),
                estimate: dollars(u.cost.estimated_cost),
            })
            .collect();
    }
    let since = ctx.app.registry.now_secs() * 1000 - CHART_DAYS * 24 * 3600 * 1000;
    match ctx.app.registry.usage_history(&registry, since).await {
        Ok(points) => page.chart = chart(&points),
        Err(e) => return view::failure(page.frame.take(), &e.to_string()),
    }
    view::render(&page)
}

/// Stored bytes over time as an SVG polyline (no script: the page's CSP
/// allows none, and a line says enough); `None` below two samples.
fn chart(points: &[berth_registry::UsagePoint]) -> Option<Chart> {
    let (first, last) = (points.first()?, points.last()?);
    if points.len() < 2 || last.at <= first.at {
        return None;
    }
    let top = points.iter().map(|p| p.stored_bytes).max()?.max(1);
    let span = (last.at - first.at) as f64;
    let (w, h) = (f64::from(CHART_WIDTH), f64::from(CHART_HEIGHT));
    let xy: Vec<String> = points
        .iter()
        .map(|p| {
            let x = (p.at - first.at) as f64 / span * w;
            let y = h - p.stored_bytes as f64 / top as f64 * (h - 8.0);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    Some(Chart {
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        points: xy.join(" "),
        top: view::size(top),
        from: view::time(Some((first.at / 1000) as f64)),
        to: view::time(Some((last.at / 1000) as f64)),
    })
}

#[cfg(test)]
mod tests {
    use berth_registry::UsagePoint;

    #[test]
    fn prices_show_cents_and_the_digits_they_have() {
        assert_eq!(super::price(0.1), "$0.10");
        assert_eq!(super::price(0.023), "$0.023");
        assert_eq!(super::price(2.0), "$2.00");
    }

    #[test]
    fn the_chart_spans_its_box_and_needs_two_samples() {
        let p = |at, stored_bytes| UsagePoint {
            at,
            logical_bytes: 0,
            stored_bytes,
        };
        assert!(super::chart(&[p(0, 5)]).is_none());
        let c = super::chart(&[p(0, 0), p(1_800_000, 500), p(3_600_000, 1000)]).unwrap();
        assert_eq!(c.points, "0.0,160.0 360.0,84.0 720.0,8.0");
        assert_eq!(c.top, "1.0 kB");
    }
}
