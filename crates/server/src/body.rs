//! Request bodies: every read has a size limit (the handler's) and a time
//! limit (here), never parks a thread on the network, and a body a handler
//! leaves unread does not break the connection for the client's next
//! request.
//!
//! - **Time.** [`guard`] wraps every request body: while the server waits
//!   for the client, each `min_bytes` must arrive within `window` (time the
//!   server spends elsewhere, say writing to disk, is not counted). A body
//!   slower than that fails the read, and the request is answered 408 with
//!   `Connection: close` (as Distribution's read timeout and nginx's
//!   `client_body_timeout` end slow senders).
//! - **Early answers.** A handler may answer before reading the body (401
//!   before the credentials are looked at, 400 on a bad header). HTTP/1
//!   then needs the rest of the body off the connection before the next
//!   request can be read; clients that send a request without credentials
//!   and repeat it on the same connection (Go's net/http) see EOF
//!   otherwise. So up to [`DRAIN_LIMIT`] of what is left is read and
//!   dropped (Go's server does the same with 256 KiB) for up to 5 s;
//!   beyond that the answer carries `Connection: close`.
//! - **Large bodies** (UploadLayerPart, vulnerability batches) are read
//!   into memory whole; [`BodyBudget`] caps how many bytes of them are
//!   held at once, across every request.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode, Version};
use http_body::{Body as _, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What of an unread body is read and dropped to keep the connection,
/// and how long that may take (a client that sends its body with the
/// request, as Go's does, has sent it by then).
pub const DRAIN_LIMIT: u64 = 256 * 1024;
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

/// How slow a body may be, and how many large bodies are held at once.
#[derive(Debug)]
pub struct BodyLimits {
    /// Each `min_bytes` of a body must arrive within this much waiting.
    pub window: Duration,
    pub min_bytes: u64,
    pub budget: BodyBudget,
}

impl BodyLimits {
    pub fn new(window: Duration, large_body_bytes: usize) -> Self {
        BodyLimits {
            window,
            min_bytes: 64 * 1024,
            budget: BodyBudget::new(large_body_bytes),
        }
    }
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits::new(Duration::from_secs(60), 256 << 20)
    }
}

/// Bytes of large request bodies that may be in memory at once, and how
/// many one access key may have in flight (so that one caller with slow
/// bodies cannot hold the whole budget).
#[derive(Debug)]
pub struct BodyBudget {
    bytes: Arc<tokio::sync::Semaphore>,
    total: usize,
    per_key: Arc<Mutex<std::collections::HashMap<String, usize>>>,
}

/// How long a large body waits for room before the request is refused.
const BUDGET_WAIT: Duration = Duration::from_secs(30);
/// Large bodies one access key may have in flight at once.
pub const LARGE_BODIES_PER_KEY: usize = 8;

/// Room held for one large body; given back when dropped.
#[derive(Debug)]
pub struct LargeBody {
    _bytes: tokio::sync::OwnedSemaphorePermit,
    _count: KeyCount,
}

/// Why no room was given.
#[derive(Debug, PartialEq, Eq)]
pub enum NoRoom {
    /// The key already has [`LARGE_BODIES_PER_KEY`] in flight.
    KeyBusy,
    /// None came free within 30 s: the server is reading as many large
    /// bodies as it holds memory for.
    Full,
}

impl BodyBudget {
    pub fn new(total: usize) -> Self {
        BodyBudget {
            bytes: Arc::new(tokio::sync::Semaphore::new(total)),
            total,
            per_key: Default::default(),
        }
    }

    /// Room for a body of up to `limit` bytes (its `Content-Length` when
    /// the request states one) sent with access key `key`.
    pub async fn reserve(
        &self,
        headers: &HeaderMap,
        limit: usize,
        key: &str,
    ) -> Result<LargeBody, NoRoom> {
        {
            let mut per_key = self
                .per_key
                .lock()
                .expect("the budget lock is never poisoned");
            let n = per_key.entry(key.to_string()).or_default();
            if *n >= LARGE_BODIES_PER_KEY {
                return Err(NoRoom::KeyBusy);
            }
            *n += 1;
        }
        // From here the count is given back when `counted` is dropped.
        let counted = KeyCount {
            key: key.to_string(),
            per_key: self.per_key.clone(),
        };
        let wanted = content_length(headers)
            .map_or(limit, |n| (n as usize).min(limit))
            .clamp(1, self.total);
        let wanted = u32::try_from(wanted).unwrap_or(u32::MAX);
        let permit =
            tokio::time::timeout(BUDGET_WAIT, self.bytes.clone().acquire_many_owned(wanted))
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or(NoRoom::Full)?;
        Ok(LargeBody {
            _bytes: permit,
            _count: counted,
        })
    }
}

/// One of a key's large bodies in flight.
#[derive(Debug)]
struct KeyCount {
    key: String,
    per_key: Arc<Mutex<std::collections::HashMap<String, usize>>>,
}

impl Drop for KeyCount {
    fn drop(&mut self) {
        let mut per_key = self
            .per_key
            .lock()
            .expect("the budget lock is never poisoned");
        if let Some(n) = per_key.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                per_key.remove(&self.key);
            }
        }
    }
}

pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// It is longer than the limit (the bytes seen so far).
    TooLarge(usize),
    /// The connection failed, or the body arrived too slowly.
    Unreadable(String),
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ReadError> {
    use futures_util::StreamExt;
    // A declared length over the limit is refused before any of it is
    // waited for (the caller answers at once and the connection closes).
    let declared = http_body::Body::size_hint(&body).lower();
    if declared > limit as u64 {
        return Err(ReadError::TooLarge(declared as usize));
    }
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ReadError::Unreadable(e.to_string()))?;
        if buf.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge(buf.len() + chunk.len()));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The middleware: wraps the body, then after the handler answers, turns a
/// body that was too slow into 408 and drains (or gives up on) what the
/// handler left unread.
pub async fn guard(State(limits): State<Arc<BodyLimits>>, req: Request, next: Next) -> Response {
    let version = req.version();
    let expects_continue = req
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let length = content_length(req.headers());
    let is_v2 = req.uri().path().starts_with("/v2");
    let (parts, body) = req.into_parts();
    let shared = Arc::new(Shared::new(body, limits.clone()));
    let req = Request::from_parts(parts, Body::new(Guarded(shared.clone())));
    let mut resp = next.run(req).await;
    if shared.timed_out.load(Ordering::Relaxed) {
        return too_slow(&limits, is_v2, version);
    }
    if version <= Version::HTTP_11 && !shared.finish(length, expects_continue).await {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

fn too_slow(limits: &BodyLimits, is_v2: bool, version: Version) -> Response {
    let message = format!(
        "the request body arrived too slowly (less than {} KiB in {} s); the connection is closed",
        limits.min_bytes / 1024,
        limits.window.as_secs()
    );
    let mut resp = if is_v2 {
        crate::oci_error::OciError::new(StatusCode::REQUEST_TIMEOUT, "UNKNOWN", message)
            .into_response()
    } else {
        crate::aws_error::AwsError::new(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeoutException",
            message,
        )
        .into_response()
    };
    if version <= Version::HTTP_11 {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// The body, shared between the handler (which reads it) and [`guard`]
/// (which finishes it).
struct Shared {
    limits: Arc<BodyLimits>,
    state: Mutex<BodyState>,
    timed_out: AtomicBool,
}

struct BodyState {
    body: Option<Body>,
    ended: bool,
    consumed: u64,
    /// Bytes since the current window began.
    window_bytes: u64,
    /// Time spent waiting on the client in the current window.
    waited: Duration,
    waiting_since: Option<Instant>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Shared {
    fn new(body: Body, limits: Arc<BodyLimits>) -> Self {
        let ended = body.is_end_stream();
        Shared {
            limits,
            state: Mutex::new(BodyState {
                body: Some(body),
                ended,
                consumed: 0,
                window_bytes: 0,
                waited: Duration::ZERO,
                waiting_since: None,
                timer: None,
            }),
            timed_out: AtomicBool::new(false),
        }
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut guard = self.state.lock().expect("the body lock is never poisoned");
        let st = &mut *guard;
        let Some(body) = st.body.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(since) = st.waiting_since.take() {
                    st.waited += since.elapsed();
                }
                if let Some(data) = frame.data_ref() {
                    st.consumed += data.len() as u64;
                    st.window_bytes += data.len() as u64;
                    if st.window_bytes >= self.limits.min_bytes {
                        st.window_bytes = 0;
                        st.waited = Duration::ZERO;
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                st.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Pending => {
                let now = Instant::now();
                let since = *st.waiting_since.get_or_insert(now);
                let deadline = since + self.limits.window.saturating_sub(st.waited);
                if now >= deadline {
                    return self.expire(st);
                }
                let timer = st
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
                if timer.deadline() != deadline.into() {
                    timer.as_mut().reset(deadline.into());
                }
                if timer.as_mut().poll(cx).is_ready() {
                    return self.expire(st);
                }
                Poll::Pending
            }
        }
    }

    fn expire(&self, st: &mut BodyState) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.timed_out.store(true, Ordering::Relaxed);
        st.body = None;
        Poll::Ready(Some(Err(axum::Error::new(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the request body arrived too slowly",
        )))))
    }

    /// Reads what the handler left of the body, if that is little; `true`
    /// when the body is now wholly read (the connection can serve the next
    /// request).
    async fn finish(self: &Arc<Self>, length: Option<u64>, expects_continue: bool) -> bool {
        let (consumed, ended) = {
            let st = self.state.lock().expect("the body lock is never poisoned");
            (
                st.consumed,
                st.ended || st.body.as_ref().is_none_or(|b| b.is_end_stream()),
            )
        };
        if ended {
            return !self.timed_out.load(Ordering::Relaxed);
        }
        // The client waits for 100 Continue before it sends: asking for the
        // body now would only make it send what nobody reads.
        if expects_continue && consumed == 0 {
            return false;
        }
        if length.is_some_and(|n| n.saturating_sub(consumed) > DRAIN_LIMIT) {
            return false;
        }
        let mut left = Guarded(self.clone());
        let drain = async {
            let mut drained = 0u64;
            loop {
                match std::future::poll_fn(|cx| Pin::new(&mut left).poll_frame(cx)).await {
                    None => return !self.timed_out.load(Ordering::Relaxed),
                    Some(Ok(frame)) => {
                        drained += frame.data_ref().map_or(0, |d| d.len() as u64);
                        if drained > DRAIN_LIMIT {
                            return false;
                        }
                    }
                    Some(Err(_)) => return false,
                }
            }
        };
        tokio::time::timeout(DRAIN_TIME.min(self.limits.window), drain)
            .await
            .unwrap_or(false)
    }
}

/// The handler's view of the body.
struct Guarded(Arc<Shared>);

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.0.poll(cx)
    }

    fn is_end_stream(&self) -> bool {
        let st = self
            .0
            .state
            .lock()
            .expect("the body lock is never poisoned");
        st.ended || st.body.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let st = self
            .0
            .state
            .lock()
            .expect("the body lock is never poisoned");
        st.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn limits(window_ms: u64) -> Arc<BodyLimits> {
        Arc::new(BodyLimits {
            window: Duration::from_millis(window_ms),
            min_bytes: 10,
            budget: BodyBudget::new(1 << 20),
        })
    }

    /// A body that sends `chunks` with `gap` between them.
    fn trickle(chunks: usize, size: usize, gap: Duration) -> Body {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        tokio::spawn(async move {
            for _ in 0..chunks {
                tokio::time::sleep(gap).await;
                if tx.send(Ok(Bytes::from(vec![b'x'; size]))).await.is_err() {
                    return;
                }
            }
        });
        Body::from_stream(tokio_stream_from(rx))
    }

    fn tokio_stream_from(
        mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }

    #[tokio::test]
    async fn a_body_that_keeps_up_is_read_whole() {
        let shared = Arc::new(Shared::new(
            trickle(5, 10, Duration::from_millis(20)),
            limits(200),
        ));
        let got = Guarded(shared.clone()).collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), 50);
        assert!(!shared.timed_out.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn a_stalled_or_dribbling_body_fails_the_read() {
        // Nothing for longer than the window.
        let shared = Arc::new(Shared::new(
            trickle(2, 10, Duration::from_millis(300)),
            limits(100),
        ));
        assert!(Guarded(shared.clone()).collect().await.is_err());
        assert!(shared.timed_out.load(Ordering::Relaxed));
        // A byte at a time, each within the window but too few in total.
        let shared = Arc::new(Shared::new(
            trickle(100, 1, Duration::from_millis(30)),
            limits(100),
        ));
        assert!(Guarded(shared.clone()).collect().await.is_err());
        assert!(shared.timed_out.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn time_the_server_spends_elsewhere_is_not_counted() {
        let shared = Arc::new(Shared::new(
            trickle(3, 10, Duration::from_millis(1)),
            limits(100),
        ));
        let mut body = Guarded(shared.clone());
        let mut got = 0;
        while let Some(frame) = body.frame().await {
            got += frame.unwrap().into_data().unwrap().len();
            // The handler is busy (a slow disk) far longer than the window.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(got, 30);
        assert!(!shared.timed_out.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn one_key_may_hold_only_a_few_large_bodies() {
        let budget = BodyBudget::new(1 << 20);
        let headers = HeaderMap::new();
        let mut held = Vec::new();
        for _ in 0..LARGE_BODIES_PER_KEY {
            held.push(budget.reserve(&headers, 1000, "AKIAONE").await.unwrap());
        }
        assert_eq!(
            budget.reserve(&headers, 1000, "AKIAONE").await.unwrap_err(),
            NoRoom::KeyBusy
        );
        // Another key still gets room, and the first gets it back.
        budget.reserve(&headers, 1000, "AKIATWO").await.unwrap();
        held.pop();
        budget.reserve(&headers, 1000, "AKIAONE").await.unwrap();
        assert!(budget.per_key.lock().unwrap().get("AKIATWO").is_none());
    }

    #[tokio::test]
    async fn unread_bodies_are_drained_when_small_and_given_up_when_large() {
        let shared = Arc::new(Shared::new(Body::from(vec![0u8; 1000]), limits(1000)));
        assert!(shared.finish(Some(1000), false).await);
        let shared = Arc::new(Shared::new(
            Body::from(vec![0u8; DRAIN_LIMIT as usize + 1]),
            limits(1000),
        ));
        assert!(!shared.finish(Some(DRAIN_LIMIT + 1), false).await);
        // Without a length, draining stops at the limit.
        let shared = Arc::new(Shared::new(
            trickle(40, 10_000, Duration::from_millis(0)),
            limits(1000),
        ));
        assert!(!shared.finish(None, false).await);
        // A client waiting for 100 Continue has sent nothing to drain.
        let shared = Arc::new(Shared::new(
            trickle(1, 10, Duration::from_millis(0)),
            limits(1000),
        ));
        assert!(!shared.finish(Some(10), true).await);
    }
}
