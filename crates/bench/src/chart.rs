//! The PNG chart of the table: one horizontal bar per workload with the
//! ratio berth / Distribution (direction-corrected, so right of 1× is berth
//! ahead), on a log scale.

use crate::report::{num, Results};
use plotters::prelude::*;
use std::path::Path;

const ROW_PX: u32 = 22;
const LABEL_PX: u32 = 520;

const WIDTH: u32 = 1300;

/// The rows the chart shows: each with both a berth and a Distribution
/// figure (the scale-out rows compare berth with itself), and its ratio.
pub fn bars(results: &Results) -> Vec<(&str, f64)> {
    results
        .rows
        .iter()
        .filter(|r| !r.name.starts_with(crate::report::SCALE_OUT))
        .filter(|r| !r.name.starts_with(crate::report::ENCRYPTION))
        .filter_map(|r| r.ratio().map(|x| (r.name.as_str(), x)))
        .collect()
}

/// `title` heads the chart; `subtitle` (the machine) goes under it.
pub fn draw(results: &Results, title: &str, subtitle: &str, path: &Path) -> anyhow::Result<()> {
    let rows = bars(results);
    if rows.is_empty() {
        anyhow::bail!("no row has both a berth and a Distribution figure");
    }
    let n = rows.len();
    let height = 140 + ROW_PX * n as u32;
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    root.draw(&Text::new(
        title.to_string(),
        (10, 8),
        ("sans-serif", 20).into_font(),
    ))?;
    root.draw(&Text::new(
        subtitle.to_string(),
        (10, 34),
        ("sans-serif", 13).into_font(),
    ))?;
    let root = root.margin(40, 0, 0, 0);
    let (lo, hi) = rows.iter().fold((1.0f64, 1.0f64), |(lo, hi), (_, x)| {
        (lo.min(*x), hi.max(*x))
    });
    let (lo, hi) = ((lo / 1.6).min(0.5), (hi * 1.6).max(2.0));
    let (labels, plot) = root.split_horizontally(LABEL_PX);
    let mut chart = ChartBuilder::on(&plot)
        .margin(10)
        .x_label_area_size(30)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("berth / Distribution (log scale; right of 1× = berth ahead)")
        .x_label_formatter(&|x| format!("{}×", num(*x)))
        .draw()?;
    // Row i is drawn top-down.
    let y_of = |i: usize| (n - 1 - i) as f64;
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, x))| {
        let color = if *x >= 1.0 {
            GREEN.mix(0.7)
        } else {
            RED.mix(0.7)
        };
        Rectangle::new(
            [(1.0, y_of(i) + 0.15), (*x, y_of(i) + 0.85)],
            color.filled(),
        )
    }))?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, 0.0), (1.0, n as f64)],
        BLACK.stroke_width(1),
    )))?;
    let text = ("sans-serif", 13).into_font();
    // `backend_coord` is in whole-image pixels; the areas draw relative to
    // their own top-left corner.
    let (plot_x, plot_y) = plot.get_base_pixel();
    let (_, labels_y) = labels.get_base_pixel();
    for (i, (name, x)) in rows.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(*x, y_of(i) + 0.5));
        let value_at = if *x >= 1.0 { px + 4 } else { px - 50 };
        plot.draw(&Text::new(
            format!("{}×", num(*x)),
            (value_at - plot_x, py - 7 - plot_y),
            text.clone(),
        ))?;
        labels.draw(&Text::new(
            name.to_string(),
            (8, py - 7 - labels_y),
            text.clone(),
        ))?;
    }
    root.present()?;
    Ok(())
}
