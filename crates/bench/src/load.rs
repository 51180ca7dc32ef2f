//! Closed-loop request load: N connections, each sending its next request
//! as soon as the previous answer is read, for a fixed time after a warm-up.
//! Requests/s count what completed inside the measured window, and so do
//! the latencies (an HDR histogram, µs, 3 significant digits).

use crate::client::{empty, Conn};
use anyhow::bail;
use hdrhistogram::Histogram;
use http::{header, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request shape, repeated.
#[derive(Clone)]
pub struct Shape {
    pub method: Method,
    pub path: String,
    pub accept: Option<HeaderValue>,
}

pub struct LoadResult {
    pub requests: u64,
    pub elapsed: Duration,
    pub latency_us: Histogram<u64>,
}

impl LoadResult {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Latency quantile in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// Runs `shape` on `concurrency` connections: `warmup`, then `measure`.
/// Every answer must be 200.
pub async fn run(
    addr: SocketAddr,
    shape: Shape,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
) -> anyhow::Result<LoadResult> {
    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        conns.push(Conn::connect(addr).await?);
    }
    let shape = Arc::new(shape);
    let start = Instant::now() + Duration::from_millis(5);
    let window_start = start + warmup;
    let end = window_start + measure;
    let mut tasks = Vec::with_capacity(concurrency);
    for mut conn in conns {
        let shape = shape.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = histogram();
            let mut done = 0u64;
            tokio::time::sleep_until(start.into()).await;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let mut req = conn.request(shape.method.clone(), &shape.path);
                if let Some(a) = &shape.accept {
                    req = req.header(header::ACCEPT, a.clone());
                }
                let resp = conn.send(req.body(empty())?).await?;
                let status = resp.status();
                // Read the whole body: the request is done when the client has it.
                resp.into_body().collect().await?;
                if status != StatusCode::OK {
                    bail!("{} {} answered {status}", shape.method, shape.path);
                }
                let t1 = Instant::now();
                // Completions inside the window count, whenever they started,
                // so that a slow server's long requests are not dropped.
                if t1 >= window_start && t1 <= end {
                    done += 1;
                    hist.saturating_record(t1.duration_since(t0).as_micros() as u64);
                }
            }
            Ok::<_, anyhow::Error>((done, hist))
        }));
    }
    let mut total = 0;
    let mut hist = histogram();
    for t in tasks {
        let (n, h) = t.await??;
        total += n;
        hist.add(h).expect("same bounds");
    }
    Ok(LoadResult {
        requests: total,
        elapsed: measure,
        latency_us: hist,
    })
}
