//! Prometheus metrics: requests by route, method and status; latency to the
//! response head; bytes in and out; what the registry stores.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry as PromRegistry;
use std::sync::Arc;
use std::time::Instant;

/// Set by handlers on their response so that metrics know the route without
/// parsing the path twice.
#[derive(Clone, Copy, Debug)]
pub struct RouteLabel(pub &'static str);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

/// A registry (usage figures are per registry; per repository would make
/// a label set as big as the registry).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegistryLabels {
    account_id: String,
    region: String,
}

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// Pulls from public repositories, anonymous or authenticated.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthLabels {
    auth: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

/// The method as a label without allocating per request; methods no
/// route serves share one label (they also bound the label set).
fn method_label(m: &http::Method) -> &'static str {
    use http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Bodies up to this size are counted when the response head goes out
/// (hyper sends them in one write) instead of frame by frame through a
/// wrapper; larger ones, which a client may abandon half-way, are counted
/// as they stream.
const COUNT_UPFRONT_MAX: u64 = 64 * 1024;

fn latency_histogram() -> Histogram {
    // 50 µs to ~26 s.
    Histogram::new(exponential_buckets(0.00005, 2.0, 20))
}

pub struct Metrics {
    registry: PromRegistry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    bytes_in: Counter,
    bytes_out: Counter,
    repositories: Gauge,
    blobs: Gauge,
    blob_bytes: Gauge,
    /// Sealing plaintext from before encryption (`Registry::sealing_totals`).
    sealing: [Gauge; 9],
    /// Replication's queue and outcomes (`Registry::replication_totals`).
    replication: [Gauge; 5],
    /// Usage per registry at the latest sample (`Registry::usage_report`):
    /// images, logical bytes, stored bytes, sample time.
    usage: [Family<RegistryLabels, Gauge>; 4],
    /// This month's GB-months so far and estimated cost.
    usage_cost: [Family<RegistryLabels, FloatGauge>; 2],
    /// Pulls from public repositories served, and refused by the quotas.
    public_pulls: Family<AuthLabels, Counter>,
    public_throttled: Family<AuthLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = PromRegistry::with_prefix("berth");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let (bytes_in, bytes_out) = (Counter::default(), Counter::default());
        let (repositories, blobs, blob_bytes) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response head, by route and method",
            latency.clone(),
        );
        registry.register(
            "http_request_body_bytes",
            "Request body bytes received",
            bytes_in.clone(),
        );
        registry.register(
            "http_response_body_bytes",
            "Response body bytes sent",
            bytes_out.clone(),
        );
        registry.register("repositories", "Repositories stored", repositories.clone());
        registry.register("blobs", "Distinct blobs stored", blobs.clone());
        registry.register(
            "blob_bytes",
            "Bytes of distinct blobs stored",
            blob_bytes.clone(),
        );
        let sealing: [Gauge; 9] = Default::default();
        for (g, (name, help)) in sealing.iter().zip([
            (
                "sealing_blobs_sealed",
                "Plaintext blobs from before encryption at rest sealed by this process",
            ),
            ("sealing_bytes_sealed", "Bytes of those blobs"),
            (
                "sealing_bodies_sealed",
                "Plaintext manifest bodies sealed by this process",
            ),
            (
                "sealing_blobs_moved_to_key_domains",
                "Blobs of repositories under KMS keys copied from the AES256 store into their key's domain by this process",
            ),
            ("sealing_bytes_moved_to_key_domains", "Bytes of those blobs"),
            ("sealing_passes", "Sealing passes this process finished"),
            (
                "sealing_plaintext_left",
                "Plaintext the last finished pass could not seal, or data keys it could not re-wrap (each is logged)",
            ),
            (
                "sealing_rewrapped_to_current_root",
                "Data keys and KMS keys re-wrapped under the current root generation by this process (after berth rotate-root)",
            ),
            (
                "root_generation",
                "The root generation new data keys are wrapped under",
            ),
        ]) {
            registry.register(name, help, g.clone());
        }
        let replication: [Gauge; 5] = Default::default();
        for (g, (name, help)) in replication.iter().zip([
            (
                "replication_queue_depth",
                "Replication tasks in progress (queued, running or waiting to be retried), in the whole deployment",
            ),
            (
                "replication_lag_seconds",
                "Age of the oldest replication task in progress",
            ),
            ("replications_complete", "Replications this process completed"),
            (
                "replications_failed",
                "Replications this process finished FAILED (each is logged with its cause)",
            ),
            (
                "replication_retries",
                "Replication attempts this process put back to be tried again later",
            ),
        ]) {
            registry.register(name, help, g.clone());
        }
        let usage: [Family<RegistryLabels, Gauge>; 4] = Default::default();
        for (g, (name, help)) in usage.iter().zip([
            ("usage_images", "Images in the registry at the latest usage sample"),
            (
                "usage_logical_bytes",
                "Sum of the registry's image sizes at the latest usage sample (a layer counted once per image)",
            ),
            (
                "usage_stored_bytes",
                "Bytes the registry's images keep stored at the latest usage sample (each blob once per key domain)",
            ),
            (
                "usage_sampled_timestamp_seconds",
                "When the registry's latest usage sample was taken",
            ),
        ]) {
            registry.register(name, help, g.clone());
        }
        let usage_cost: [Family<RegistryLabels, FloatGauge>; 2] = Default::default();
        for (g, (name, help)) in usage_cost.iter().zip([
            (
                "usage_gb_months",
                "GB-months (2^30 bytes kept a month) of stored bytes accrued this month (UTC) so far",
            ),
            (
                "usage_estimated_cost_dollars",
                "This month's storage cost if today's stored bytes stay until its end, at --storage-price",
            ),
        ]) {
            registry.register(name, help, g.clone());
        }
        let (public_pulls, public_throttled) = (Family::default(), Family::default());
        registry.register(
            "public_pulls",
            "Pulls (manifest GETs) from public repositories within the quotas, by auth (anonymous or authenticated)",
            public_pulls.clone(),
        );
        registry.register(
            "public_throttled",
            "Pulls from public repositories refused with 429 by the quotas, by auth",
            public_throttled.clone(),
        );
        Metrics {
            public_pulls,
            public_throttled,
            usage,
            usage_cost,
            sealing,
            replication,
            registry,
            requests,
            latency,
            bytes_in,
            bytes_out,
            repositories,
            blobs,
            blob_bytes,
        }
    }
}

impl Metrics {
    /// A pull from a public repository: allowed, or throttled.
    pub fn count_public_pull(&self, authenticated: bool, throttled: bool) {
        let labels = AuthLabels {
            auth: if authenticated {
                "authenticated"
            } else {
                "anonymous"
            },
        };
        let family = if throttled {
            &self.public_throttled
        } else {
            &self.public_pulls
        };
        family.get_or_create(&labels).inc();
    }

    pub fn set_counts(&self, c: berth_registry::Counts) {
        self.repositories.set(c.repositories as i64);
        self.blobs.set(c.blobs as i64);
        self.blob_bytes.set(c.blob_bytes as i64);
    }

    pub fn set_sealing(&self, t: berth_registry::SealTotals) {
        for (g, v) in self.sealing.iter().zip([
            t.blobs,
            t.bytes,
            t.bodies,
            t.moved,
            t.moved_bytes,
            t.passes,
            t.left,
            t.rewrapped,
            u64::from(t.root_generation),
        ]) {
            g.set(v as i64);
        }
    }

    pub fn set_replication(&self, t: berth_registry::ReplicationTotals) {
        for (g, v) in self.replication.iter().zip([
            t.queued,
            t.lag_ms / 1000,
            t.complete,
            t.failed,
            t.retried,
        ]) {
            g.set(v as i64);
        }
    }

    pub fn set_usage(&self, report: &berth_registry::UsageReport) {
        for family in &self.usage {
            family.clear();
        }
        for family in &self.usage_cost {
            family.clear();
        }
        for r in &report.registries {
            let labels = RegistryLabels {
                account_id: r.registry.account_id.clone(),
                region: r.registry.region.clone(),
            };
            if let Some(l) = &r.latest {
                for (g, v) in self.usage.iter().zip([
                    l.images,
                    l.logical_bytes,
                    l.stored_bytes,
                    (l.sampled_at / 1000) as u64,
                ]) {
                    g.get_or_create(&labels).set(v as i64);
                }
            }
            for (g, v) in self
                .usage_cost
                .iter()
                .zip([r.cost.gb_months, r.cost.estimated_cost])
            {
                g.get_or_create(&labels).set(v);
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Middleware: counts the request and the bytes of both bodies as they stream.
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    use http_body::Body as _;
    let start = Instant::now();
    let method = method_label(req.method());
    // Most requests (GET, HEAD) have no body to count.
    let req = if req.body().is_end_stream() {
        req
    } else {
        let counter = m.bytes_in.clone();
        req.map(|b| Body::new(count_frames(b, counter)))
    };
    let resp = next.run(req).await;
    let route = resp
        .extensions()
        .get::<RouteLabel>()
        .map(|r| r.0)
        .unwrap_or("other");
    m.requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: resp.status().as_u16(),
        })
        .inc();
    m.latency
        .get_or_create(&RouteLabels { route, method })
        .observe(start.elapsed().as_secs_f64());
    match resp.body().size_hint().exact() {
        Some(n) if n <= COUNT_UPFRONT_MAX => {
            m.bytes_out.inc_by(n);
            resp
        }
        _ => {
            let counter = m.bytes_out.clone();
            resp.map(|b| Body::new(count_frames(b, counter)))
        }
    }
}

/// A body that counts its data bytes and otherwise passes everything
/// through, size hint included (so Content-Length survives).
struct CountingBody {
    inner: Body,
    counter: Counter,
}

impl http_body::Body for CountingBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.counter.inc_by(data.len() as u64);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

fn count_frames(inner: Body, counter: Counter) -> CountingBody {
    CountingBody { inner, counter }
}

pub async fn metrics_endpoint(State(app): State<crate::AppState>) -> Response {
    match app.registry.counts().await {
        Ok(c) => app.metrics.set_counts(c),
        Err(e) => tracing::warn!(error = %e, "could not read store counts for /metrics"),
    }
    app.metrics.set_sealing(app.registry.sealing_totals());
    match app.registry.usage_report(None, None, false).await {
        Ok(r) => app.metrics.set_usage(&r),
        Err(e) => tracing::warn!(error = %e, "could not read usage for /metrics"),
    }
    match app.registry.replication_totals().await {
        Ok(t) => app.metrics.set_replication(t),
        Err(e) => tracing::warn!(error = %e, "could not read the replication queue for /metrics"),
    }
    let mut resp = (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response();
    resp.extensions_mut().insert(RouteLabel("metrics"));
    resp
}
