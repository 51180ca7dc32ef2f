//! Results: every workload's per-round samples for berth, the peer
//! (Distribution) and the machine limit it is judged against; medians,
//! spreads and ratios; the markdown table and `results.json`.

use serde::Serialize;

/// The name prefix of the scale-out phase's rows (`scale_out.rs`), which
/// are tabled apart: their peer is the embedded berth, not Distribution.
pub const SCALE_OUT: &str = "scale-out: ";
/// Rows of the encryption phase: berth column sealed, peer column the
/// unencrypted baseline.
pub const ENCRYPTION: &str = "encryption at rest: ";
/// Rows of the replication phase: each names its peer column.
pub const REPLICATION: &str = "replication: ";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Berth,
    Peer,
    Limit,
}

#[derive(Debug, Default)]
pub struct Row {
    pub name: String,
    pub unit: &'static str,
    pub better: Option<Better>,
    pub berth: Vec<f64>,
    pub peer: Vec<f64>,
    pub limit: Vec<f64>,
    /// What the limit column is (for the reader of the table).
    pub limit_is: &'static str,
}

#[derive(Debug, Default)]
pub struct Results {
    pub rows: Vec<Row>,
    /// Observations printed under the table (each once).
    pub notes: Vec<String>,
}

pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// Half the range as a fraction of the median (`±x%` in the table).
pub fn spread(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let m = median(v)?;
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    (m != 0.0).then(|| (hi - lo) / 2.0 / m.abs())
}

impl Row {
    /// berth relative to the peer, so that > 1 always means berth is better.
    pub fn ratio(&self) -> Option<f64> {
        let (b, p) = (median(&self.berth)?, median(&self.peer)?);
        relative(self.better?, b, p)
    }

    /// berth relative to the machine limit (> 1 would beat the limit).
    pub fn of_limit(&self) -> Option<f64> {
        let (b, l) = (median(&self.berth)?, median(&self.limit)?);
        relative(self.better?, b, l)
    }
}

fn relative(better: Better, berth: f64, other: f64) -> Option<f64> {
    let r = match better {
        Better::Higher => berth / other,
        Better::Lower => other / berth,
    };
    r.is_finite().then_some(r)
}

impl Results {
    fn row(&mut self, name: &str, unit: &'static str, better: Better) -> &mut Row {
        if let Some(i) = self.rows.iter().position(|r| r.name == name) {
            return &mut self.rows[i];
        }
        self.rows.push(Row {
            name: name.to_string(),
            unit,
            better: Some(better),
            ..Default::default()
        });
        self.rows.last_mut().expect("just pushed")
    }

    pub fn add(&mut self, name: &str, unit: &'static str, better: Better, who: Who, value: f64) {
        let row = self.row(name, unit, better);
        match who {
            Who::Berth => row.berth.push(value),
            Who::Peer => row.peer.push(value),
            Who::Limit => row.limit.push(value),
        }
    }

    /// Records a limit and says what it is.
    pub fn add_limit(
        &mut self,
        name: &str,
        unit: &'static str,
        better: Better,
        what: &'static str,
        value: f64,
    ) {
        let row = self.row(name, unit, better);
        row.limit.push(value);
        row.limit_is = what;
    }

    /// A row that only the machine has (the limits themselves).
    pub fn add_machine(&mut self, name: &str, unit: &'static str, value: f64) {
        let row = self.row(name, unit, Better::Higher);
        row.better = None;
        row.limit.push(value);
    }

    pub fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    pub fn get(&self, name: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.name == name)
    }

    /// The table beside Distribution, then (after a `--shared` run) the
    /// scale-out rows in a table of their own, where the berth column is
    /// PostgreSQL + S3 and the peer column the embedded berth.
    pub fn markdown(&self) -> String {
        let (scale_out, main): (Vec<&Row>, Vec<&Row>) = self
            .rows
            .iter()
            .partition(|r| r.name.starts_with(SCALE_OUT));
        let (encryption, main): (Vec<&Row>, Vec<&Row>) = main
            .into_iter()
            .partition(|r| r.name.starts_with(ENCRYPTION));
        let (replication, main): (Vec<&Row>, Vec<&Row>) = main
            .into_iter()
            .partition(|r| r.name.starts_with(REPLICATION));
        let mut out = table(
            "| workload | unit | berth | Distribution | ratio | limit | berth/limit |",
            &main,
        );
        if !replication.is_empty() {
            out.push_str(
                "\nReplication: each row's peer column is named in it (skopeo copy between the same two servers; the same load \
                 with the queue empty); ratio = berth relative to the peer (higher = berth better).\n\n",
            );
            out.push_str(&table(
                "| workload | unit | berth | peer | ratio | limit | berth/limit |",
                &replication,
            ));
        }
        if !encryption.is_empty() {
            out.push_str(
                "\nEncryption at rest: berth as it runs (blobs and manifests sealed) beside the same build with sealing off \
                 (`BERTH_BENCH_UNSEALED_BLOBS=1`), same requests; ratio = sealed relative to unencrypted.\n\n",
            );
            out.push_str(&table(
                "| workload | unit | sealed | unencrypted | ratio | limit | sealed/limit |",
                &encryption,
            ));
        }
        if !scale_out.is_empty() {
            out.push_str(
                "\nScale-out (`--shared`): berth on PostgreSQL + S3 beside berth on its embedded stores, same requests; \
                 ratio = PostgreSQL + S3 relative to embedded (higher = PostgreSQL + S3 better).\n\n",
            );
            out.push_str(&table(
                "| workload | unit | PostgreSQL + S3 | embedded | ratio | limit | PostgreSQL + S3/limit |",
                &scale_out,
            ));
        }
        out
    }
}

fn table(header: &str, rows: &[&Row]) -> String {
    let mut out = format!("{header}\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for r in rows {
        let limit = match median(&r.limit) {
            Some(l) if r.limit_is.is_empty() => num(l),
            Some(l) => format!("{} ({})", num(l), r.limit_is),
            None => String::new(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.unit,
            cell(&r.berth),
            cell(&r.peer),
            r.ratio().map(|x| format!("{x:.2}×")).unwrap_or_default(),
            limit,
            r.of_limit()
                .map(|x| format!("{:.0}%", x * 100.0))
                .unwrap_or_default(),
        ));
    }
    out
}

impl Results {
    /// The rows of a `results.json` (per-round figures), for redrawing.
    pub fn from_json(json: &serde_json::Value) -> anyhow::Result<Results> {
        let rounds = |r: &serde_json::Value, key: &str| -> Vec<f64> {
            r[key]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
                .unwrap_or_default()
        };
        let rows = json
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("results.json is not an array of rows"))?
            .iter()
            .map(|r| Row {
                name: r["name"].as_str().unwrap_or_default().to_string(),
                unit: "",
                better: match r["better"].as_str() {
                    Some("higher") => Some(Better::Higher),
                    Some("lower") => Some(Better::Lower),
                    _ => None,
                },
                berth: rounds(r, "berth_rounds"),
                peer: rounds(r, "peer_rounds"),
                limit: rounds(r, "limit_rounds"),
                limit_is: "",
            })
            .collect();
        Ok(Results {
            rows,
            notes: Vec::new(),
        })
    }

    pub fn json(&self) -> serde_json::Value {
        let rows: Vec<_> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name,
                    "unit": r.unit,
                    "better": r.better,
                    "berth": median(&r.berth),
                    "peer": median(&r.peer),
                    "ratio": r.ratio(),
                    "limit": median(&r.limit),
                    "limit_is": (!r.limit_is.is_empty()).then_some(r.limit_is),
                    "berth_of_limit": r.of_limit(),
                    "berth_rounds": r.berth,
                    "peer_rounds": r.peer,
                    "limit_rounds": r.limit,
                })
            })
            .collect();
        serde_json::Value::Array(rows)
    }
}

fn cell(v: &[f64]) -> String {
    match (median(v), spread(v)) {
        (None, _) => String::new(),
        (Some(m), Some(s)) => format!("{} ±{:.0}%", num(m), s * 100.0),
        (Some(m), None) => num(m),
    }
}

/// Three significant digits, thousands separated.
pub fn num(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        (2 - a.log10().floor() as i32).max(0) as usize
    };
    let s = format!("{x:.decimals$}");
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s, None),
    };
    let (sign, digits) = match int.strip_prefix('-') {
        Some(d) => ("-", d.to_string()),
        None => ("", int),
    };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_spreads_and_ratios() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(spread(&[90.0, 100.0, 110.0]), Some(0.1));
        let mut r = Results::default();
        r.add("rate", "req/s", Better::Higher, Who::Berth, 200.0);
        r.add("rate", "req/s", Better::Higher, Who::Peer, 100.0);
        r.add_limit("rate", "req/s", Better::Higher, "floor", 400.0);
        r.add("p99", "ms", Better::Lower, Who::Berth, 1.0);
        r.add("p99", "ms", Better::Lower, Who::Peer, 4.0);
        assert_eq!(r.get("rate").unwrap().ratio(), Some(2.0));
        assert_eq!(r.get("rate").unwrap().of_limit(), Some(0.5));
        assert_eq!(
            r.get("p99").unwrap().ratio(),
            Some(4.0),
            "lower is better: peer / berth"
        );
        let md = r.markdown();
        assert!(
            md.contains("| rate | req/s | 200 | 100 | 2.00× | 400 (floor) | 50% |"),
            "{md}"
        );
        let j = r.json();
        assert_eq!(j[0]["ratio"], 2.0);
        assert_eq!(j[1]["limit"], serde_json::Value::Null);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(45123.4), "45,123");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(0.0123), "0.0123");
        assert_eq!(num(1.5), "1.50");
        assert_eq!(num(-1234.0), "-1,234");
    }
}
