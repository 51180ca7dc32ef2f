//! Limits on connections, below HTTP: how many may be open, and how long
//! one may sit without doing anything useful.
//!
//! Each accepted connection gets a [`ConnState`], shared by its stream
//! ([`Guarded`], which sees bytes move) and its service ([`Tracked`],
//! which sees requests begin and end). From them:
//!
//! - a connection that has not begun a request within `first_request` of
//!   opening is closed (a client that connects and sends nothing, or only
//!   HTTP/2's preface, or a HEADERS frame it never ends);
//! - a connection with no request in flight for `idle` is closed (keep-
//!   alive connections, HTTP/2 ones kept busy with pings);
//! - a connection whose writes have been blocked for `idle` is closed (a
//!   client that asks for a blob and never reads it);
//! - at most `max` connections are open. When a new one would exceed it,
//!   the oldest connection that has not begun a request is closed to make
//!   room (those are either clients about to send, which reconnect, or
//!   sockets held open for nothing); when there is none, the new one is
//!   closed. Either is logged, at most every 10 s.
//!
//! A request in flight is not timed here: its body has its own time limit
//! (`berth_server::body`), and hyper's header timer covers HTTP/1 headers.

use axum_server::accept::Accept;
use futures_util::task::AtomicWaker;
use std::collections::HashMap;
use std::future::{Future, Ready};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max: usize,
    pub first_request: Duration,
    pub idle: Duration,
}

/// Every open connection, for the cap and for eviction.
pub struct Tracker {
    limits: ConnectionLimits,
    open: AtomicUsize,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Weak<ConnState>>>,
    /// When the cap was last logged, and what happened since.
    warned: Mutex<Option<Instant>>,
    evicted: AtomicU64,
    refused: AtomicU64,
}

/// What a connection's stream and service share.
pub struct ConnState {
    id: u64,
    opened: Instant,
    /// Requests begun and not yet answered in full.
    active: AtomicUsize,
    /// Requests begun so far.
    begun: AtomicU64,
    /// When the last request ended, in ms after `opened`.
    last_end: AtomicU64,
    evicted: AtomicBool,
    waker: AtomicWaker,
    tracker: Weak<Tracker>,
}

impl Tracker {
    pub fn new(limits: ConnectionLimits) -> Arc<Tracker> {
        Arc::new(Tracker {
            limits,
            open: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            warned: Mutex::new(None),
            evicted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// A state for a new connection, or `None` when it must be closed.
    fn admit(self: &Arc<Self>) -> Option<Arc<ConnState>> {
        if self.open.fetch_add(1, Ordering::SeqCst) >= self.limits.max {
            if self.evict_one_unused() {
                self.evicted.fetch_add(1, Ordering::Relaxed);
            } else {
                self.open.fetch_sub(1, Ordering::SeqCst);
                self.refused.fetch_add(1, Ordering::Relaxed);
                self.warn();
                return None;
            }
            self.warn();
        }
        let state = Arc::new(ConnState {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            opened: Instant::now(),
            active: AtomicUsize::new(0),
            begun: AtomicU64::new(0),
            last_end: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            tracker: Arc::downgrade(self),
        });
        self.conns
            .lock()
            .expect("the connection table lock is never poisoned")
            .insert(state.id, Arc::downgrade(&state));
        Some(state)
    }

    /// Closes the oldest connection that has not begun a request.
    fn evict_one_unused(&self) -> bool {
        let conns = self
            .conns
            .lock()
            .expect("the connection table lock is never poisoned");
        let victim = conns
            .values()
            .filter_map(Weak::upgrade)
            .filter(|c| c.begun.load(Ordering::Relaxed) == 0 && !c.evicted.load(Ordering::Relaxed))
            .min_by_key(|c| c.opened);
        match victim {
            Some(c) => {
                c.evicted.store(true, Ordering::SeqCst);
                c.waker.wake();
                true
            }
            None => false,
        }
    }

    fn warn(&self) {
        let mut warned = self
            .warned
            .lock()
            .expect("the warning lock is never poisoned");
        if warned.is_some_and(|at| at.elapsed() < Duration::from_secs(10)) {
            return;
        }
        *warned = Some(Instant::now());
        tracing::warn!(
            limit = self.limits.max,
            closed_unused = self.evicted.swap(0, Ordering::Relaxed),
            refused = self.refused.swap(0, Ordering::Relaxed),
            "connection limit reached: closing connections that sent no request, refusing new ones when there are none; raise --max-connections if these are real clients"
        );
    }

    fn closed(&self, id: u64) {
        self.open.fetch_sub(1, Ordering::SeqCst);
        self.conns
            .lock()
            .expect("the connection table lock is never poisoned")
            .remove(&id);
    }
}

impl ConnState {
    fn millis(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    /// When this connection is to be closed for doing nothing, if no
    /// request is in flight.
    fn idle_deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        if self.active.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(if self.begun.load(Ordering::SeqCst) == 0 {
            self.opened + limits.first_request
        } else {
            self.opened + Duration::from_millis(self.last_end.load(Ordering::SeqCst)) + limits.idle
        })
    }
}

/// The acceptor: admits or refuses the connection, sets `TCP_NODELAY`
/// (without it the last small segment of a large response waits for the
/// client's delayed ACK), and wraps stream and service.
#[derive(Clone)]
pub struct LimitAcceptor {
    pub tracker: Arc<Tracker>,
}

impl<S> Accept<TcpStream, S> for LimitAcceptor {
    type Stream = Guarded<TcpStream>;
    type Service = Tracked<S>;
    type Future = Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Some(state) = self.tracker.admit() else {
            return std::future::ready(Err(io::Error::other("connection limit reached")));
        };
        let result = stream.set_nodelay(true).map(|()| {
            (
                Guarded {
                    inner: stream,
                    state: state.clone(),
                    limits: self.tracker.limits,
                    timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
                    write_blocked_since: None,
                },
                Tracked {
                    inner: service,
                    state,
                },
            )
        });
        std::future::ready(result)
    }
}

/// The connection's stream, closing it by the rules above.
pub struct Guarded<I> {
    inner: I,
    state: Arc<ConnState>,
    limits: ConnectionLimits,
    /// Armed at the earliest deadline that applies.
    timer: Pin<Box<tokio::time::Sleep>>,
    write_blocked_since: Option<Instant>,
}

impl<I> Drop for Guarded<I> {
    fn drop(&mut self) {
        if let Some(t) = self.state.tracker.upgrade() {
            t.closed(self.state.id);
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string())
}

impl<I> Guarded<I> {
    /// Arms the timer for `deadline` and reports whether it has passed.
    fn passed(&mut self, deadline: Instant, cx: &mut Context<'_>) -> bool {
        if Instant::now() >= deadline {
            return true;
        }
        let at = tokio::time::Instant::from_std(deadline);
        if self.timer.deadline() != at {
            self.timer.as_mut().reset(at);
        }
        self.timer.as_mut().poll(cx).is_ready()
    }

    fn check_evicted(&self, cx: &mut Context<'_>) -> io::Result<()> {
        self.state.waker.register(cx.waker());
        if self.state.evicted.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed to make room under the connection limit",
            ));
        }
        Ok(())
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Guarded<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check_evicted(cx)?;
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Pending => {
                let limits = self.limits;
                if let Some(deadline) = self.state.idle_deadline(&limits) {
                    if self.passed(deadline, cx) {
                        return Poll::Ready(Err(timed_out(
                            "no request on this connection within the idle timeout",
                        )));
                    }
                }
                Poll::Pending
            }
            ready => ready,
        }
    }
}

impl<I> Guarded<I> {
    /// After a write: a write still blocked `idle` after it first blocked
    /// (the client reads nothing) ends the connection.
    fn after_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.write_blocked_since = None;
            return result;
        }
        let since = *self.write_blocked_since.get_or_insert_with(Instant::now);
        if self.passed(since + self.limits.idle, cx) {
            return Poll::Ready(Err(timed_out(
                "the client has read nothing within the idle timeout",
            )));
        }
        Poll::Pending
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Guarded<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check_evicted(cx)?;
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        self.after_write(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check_evicted(cx)?;
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The connection's service, counting requests in flight.
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    state: Arc<ConnState>,
}

/// Held from a request's start until its response body is done (or
/// dropped with the connection).
struct InFlight(Arc<ConnState>);

impl InFlight {
    fn begin(state: &Arc<ConnState>) -> InFlight {
        state.begun.fetch_add(1, Ordering::SeqCst);
        state.active.fetch_add(1, Ordering::SeqCst);
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.last_end.store(self.0.millis(), Ordering::SeqCst);
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        // The reader may be parked with no deadline armed while the
        // request ran: let it arm the idle one.
        self.0.waker.wake();
    }
}

impl<S, B, RB> tower_service::Service<http::Request<B>> for Tracked<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<RB>>,
{
    type Response = http::Response<TrackedBody<RB>>;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let in_flight = InFlight::begin(&self.state);
        TrackedFuture {
            inner: self.inner.call(req),
            in_flight: Some(in_flight),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct TrackedFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
    }
}

impl<F, RB, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<http::Response<RB>, E>>,
{
    type Output = Result<http::Response<TrackedBody<RB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                let in_flight = this.in_flight.take();
                Poll::Ready(result.map(|resp| {
                    resp.map(|body| TrackedBody {
                        inner: body,
                        _in_flight: in_flight,
                    })
                }))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that ends its request when it is done.
    pub struct TrackedBody<B> {
        #[pin]
        inner: B,
        _in_flight: Option<InFlight>,
    }
}

impl<B: http_body::Body> http_body::Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
