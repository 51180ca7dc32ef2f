//! The performance targets of the benchmark issue, checked against one
//! run's medians. Printed with the table; never fails the run (CI runs the
//! quick plan on a loaded machine and asserts nothing about speed).

use crate::report::{median, Results, Row};

pub struct Check {
    pub target: String,
    pub met: bool,
    pub detail: String,
}

fn rows<'a>(
    r: &'a Results,
    pred: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = &'a Row> + 'a {
    r.rows.iter().filter(move |row| pred(&row.name))
}

fn m(v: &[f64]) -> f64 {
    median(v).unwrap_or(f64::NAN)
}

pub fn check(r: &Results) -> Vec<Check> {
    let mut out = Vec::new();
    let mut push = |target: String, met: bool, detail: String| {
        out.push(Check {
            target,
            met,
            detail,
        })
    };

    for row in rows(r, |n| {
        n.starts_with("manifest ") && n.ends_with("concurrency 64")
    }) {
        let (b, p, floor) = (m(&row.berth), m(&row.peer), m(&row.limit));
        push(
            format!("{}: ≥ 20× Distribution", row.name),
            b >= 20.0 * p,
            format!("{:.0} vs {:.0} req/s = {:.1}×", b, p, b / p),
        );
        push(
            format!("{}: ≥ ½ bare hyper", row.name),
            b >= 0.5 * floor,
            format!("{:.0} vs {:.0} req/s = {:.0}%", b, floor, 100.0 * b / floor),
        );
        if let Some(p99) = r.get(&format!("{}, p99", row.name)) {
            let v = m(&p99.berth);
            push(
                format!("{}: p99 < 5 ms", row.name),
                v < 5.0,
                format!("{v:.2} ms"),
            );
        }
    }

    for row in rows(r, |n| {
        n.starts_with("blob push") && !n.ends_with("(blobs/s)")
    }) {
        let (b, p, limit) = (m(&row.berth), m(&row.peer), m(&row.limit));
        // Small blobs are judged in blobs/s, below.
        if row.name.contains(" 1 MiB ") {
            continue;
        }
        push(
            format!("{}: ≥ 80% of min(SHA-256, disk)", row.name),
            b >= 0.8 * limit,
            format!("{b:.0} of {limit:.0} MB/s = {:.0}%", 100.0 * b / limit),
        );
        push(
            format!("{}: ahead of Distribution", row.name),
            b > p,
            format!("{b:.0} vs {p:.0} MB/s"),
        );
    }
    for row in rows(r, |n| {
        n.starts_with("blob push, monolithic, 1 MiB") && n.ends_with("(blobs/s)")
    }) {
        let (b, p) = (m(&row.berth), m(&row.peer));
        push(
            format!("{}: ahead of Distribution", row.name),
            b > p,
            format!("{b:.0} vs {p:.0} blobs/s"),
        );
    }
    for row in rows(r, |n| n.starts_with("blob pull")) {
        let (b, p, limit) = (m(&row.berth), m(&row.peer), m(&row.limit));
        push(
            format!("{}: ≥ Distribution and ≥ 85% of loopback", row.name),
            b >= p && b >= 0.85 * limit,
            format!(
                "{b:.0} vs {p:.0} MB/s; {:.0}% of {limit:.0}",
                100.0 * b / limit
            ),
        );
    }
    if let Some(row) = r.get("RSS idle (after start-up and one request)") {
        let v = m(&row.berth);
        push("RSS idle ≤ 15 MiB".into(), v <= 15.0, format!("{v:.1} MiB"));
    }
    if let Some(row) = rows(r, |n| n.starts_with("peak RSS, manifest")).next() {
        let v = m(&row.berth);
        push(
            "peak RSS under the manifest load ≤ 30 MiB".into(),
            v <= 30.0,
            format!("{v:.1} MiB"),
        );
    }
    // Flat: the largest blob's peak is within 8 MiB of the next size's
    // (below a few MiB a blob is smaller than the per-request buffers, so
    // the smallest size says nothing about growth).
    for kind in ["push", "pull"] {
        let peaks: Vec<(String, f64)> =
            rows(r, |n| n.starts_with(&format!("peak RSS, blob {kind} ")))
                .map(|row| (row.name.clone(), m(&row.berth)))
                .collect();
        if let [.., smaller, largest] = peaks.as_slice() {
            push(
                format!("peak RSS flat across blob sizes ({kind})"),
                largest.1 <= smaller.1 + 8.0,
                format!(
                    "{:.1} MiB ({}) vs {:.1} MiB ({})",
                    largest.1, largest.0, smaller.1, smaller.0
                ),
            );
        }
    }
    if let Some(row) = rows(r, |n| n.starts_with("ready to serve")).next() {
        let v = m(&row.berth);
        push(
            format!("{}: ≤ 100 ms", row.name),
            v <= 100.0,
            format!("{v:.1} ms"),
        );
    }
    out
}

pub fn markdown(checks: &[Check]) -> String {
    let mut s = String::from("| target | met | berth |\n| --- | --- | --- |\n");
    for c in checks {
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            c.target,
            if c.met { "yes" } else { "**no**" },
            c.detail
        ));
    }
    s
}
