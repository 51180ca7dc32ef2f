//! Blocking work (file I/O, hashing) beside the network, without ever
//! parking a blocking thread to wait for the network.
//!
//! A thread that waits on a channel for a client's next chunk (or for a
//! slow reader to take the next one) is held for as long as the client
//! cares to stall: a few hundred stalled clients then take every thread of
//! tokio's blocking pool, and nothing that needs one (opening a blob,
//! SQLite) runs. So a blocking task here only ever works on what is
//! already in hand, and ends when there is nothing left:
//!
//! - [`Offload`] (uploads, hashing): chunks are queued from the async side;
//!   a task on the blocking pool is started when enough is queued (or at
//!   the end), takes chunks until the queue is empty, and returns its
//!   state. The queue is bounded in bytes, so memory per upload is too.
//! - [`Prefetch`] (downloads, re-reading an upload): each blocking task
//!   produces one piece; the next is started when the previous one is
//!   handed to the network, so one piece is ready ahead of the client and
//!   no task waits for the client to take it.

use bytes::Bytes;
use futures_util::Stream;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// What [`Offload`] feeds, on the blocking pool, in order.
pub trait ChunkSink: Send + 'static {
    fn take(&mut self, chunk: Bytes) -> io::Result<()>;
}

/// Feeds chunks to a [`ChunkSink`] on the blocking pool (see the module).
pub struct Offload<S: ChunkSink> {
    shared: Arc<Shared<S>>,
    room: Arc<Semaphore>,
    room_bytes: usize,
    /// A task starts once this much is queued (fewer hand-offs to the
    /// pool while the network is slower than the disk).
    batch: usize,
}

struct Shared<S> {
    inner: Mutex<Inner<S>>,
    idle: Notify,
}

struct Inner<S> {
    queue: VecDeque<(Bytes, OwnedSemaphorePermit)>,
    queued_bytes: usize,
    /// `None` while a task holds it.
    sink: Option<S>,
    running: bool,
    failed: Option<io::Error>,
}

fn copy(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

impl<S: ChunkSink> Offload<S> {
    /// At most `room_bytes` wait in the queue; a task starts once `batch`
    /// bytes are queued.
    pub fn new(sink: S, room_bytes: usize, batch: usize) -> Self {
        Offload {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    queue: VecDeque::new(),
                    queued_bytes: 0,
                    sink: Some(sink),
                    running: false,
                    failed: None,
                }),
                idle: Notify::new(),
            }),
            room: Arc::new(Semaphore::new(room_bytes)),
            room_bytes,
            batch: batch.min(room_bytes),
        }
    }

    /// Queues `chunk`, waiting (asynchronously) for room. An error is the
    /// sink's, from an earlier chunk.
    pub async fn send(&self, chunk: Bytes) -> io::Result<()> {
        let wanted = chunk.len().clamp(1, self.room_bytes) as u32;
        let permit = self
            .room
            .clone()
            .acquire_many_owned(wanted)
            .await
            .expect("the room semaphore is never closed");
        let mut inner = self.lock();
        if let Some(e) = &inner.failed {
            return Err(copy(e));
        }
        inner.queued_bytes += chunk.len();
        inner.queue.push_back((chunk, permit));
        if !inner.running && inner.queued_bytes >= self.batch {
            self.start(&mut inner);
        }
        Ok(())
    }

    /// Waits until the sink has taken every chunk sent; returns it.
    pub async fn finish(self) -> io::Result<S> {
        loop {
            let notified = self.shared.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = self.lock();
                if let Some(e) = inner.failed.take() {
                    return Err(e);
                }
                if !inner.running {
                    if inner.queue.is_empty() {
                        return Ok(inner.sink.take().expect("an idle sink is at home"));
                    }
                    self.start(&mut inner);
                }
            }
            notified.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<S>> {
        self.shared
            .inner
            .lock()
            .expect("the queue lock is never poisoned")
    }

    fn start(&self, inner: &mut Inner<S>) {
        inner.running = true;
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || drain(&shared));
    }
}

/// The blocking task: take chunks until none is queued.
fn drain<S: ChunkSink>(shared: &Shared<S>) {
    let lock = || {
        shared
            .inner
            .lock()
            .expect("the queue lock is never poisoned")
    };
    let mut sink = lock()
        .sink
        .take()
        .expect("a started task finds the sink at home");
    let failure = loop {
        let next = {
            let mut inner = lock();
            match inner.queue.pop_front() {
                Some(next) => next,
                None => {
                    inner.sink = Some(sink);
                    inner.running = false;
                    drop(inner);
                    shared.idle.notify_waiters();
                    return;
                }
            }
        };
        let (chunk, permit) = next;
        let len = chunk.len();
        let result = sink.take(chunk);
        drop(permit);
        lock().queued_bytes -= len;
        if let Err(e) = result {
            break e;
        }
    };
    let mut inner = lock();
    inner.failed = Some(failure);
    inner.queue.clear();
    inner.queued_bytes = 0;
    inner.sink = Some(sink);
    inner.running = false;
    drop(inner);
    shared.idle.notify_waiters();
}

/// What [`Prefetch`] asks, on the blocking pool, for each piece.
pub trait Produce: Send + 'static {
    /// The next piece; `None` at the end. After an error nothing more is
    /// asked.
    fn next(&mut self) -> Option<io::Result<Bytes>>;
}

type Step<P> = tokio::task::JoinHandle<(P, Option<io::Result<Bytes>>)>;

/// A stream of what a [`Produce`] makes, one piece ahead (see the module).
pub struct Prefetch<P: Produce> {
    step: Option<Step<P>>,
    done: bool,
}

impl<P: Produce> Prefetch<P> {
    /// Starts producing the first piece at once.
    pub fn new(producer: P) -> Self {
        Prefetch {
            step: Some(spawn_step(producer)),
            done: false,
        }
    }

    /// A stream that yields `first` (already produced by the caller, e.g.
    /// with the file opened in the same task) and then continues.
    pub fn after(first: Bytes, producer: P) -> impl Stream<Item = io::Result<Bytes>> + Send {
        futures_util::StreamExt::chain(
            futures_util::stream::once(std::future::ready(Ok(first))),
            Prefetch::new(producer),
        )
    }
}

fn spawn_step<P: Produce>(mut producer: P) -> Step<P> {
    tokio::task::spawn_blocking(move || {
        let piece = producer.next();
        (producer, piece)
    })
}

impl<P: Produce> Stream for Prefetch<P> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let Some(step) = self.step.as_mut() else {
            return Poll::Ready(None);
        };
        let (producer, piece) = match futures_util::ready!(Pin::new(step).poll(cx)) {
            Ok(done) => done,
            Err(e) => {
                self.done = true;
                self.step = None;
                return Poll::Ready(Some(Err(io::Error::other(e))));
            }
        };
        match piece {
            Some(Ok(bytes)) => {
                // The next piece is made while the network sends this one.
                self.step = Some(spawn_step(producer));
                Poll::Ready(Some(Ok(bytes)))
            }
            Some(Err(e)) => {
                self.done = true;
                self.step = None;
                Poll::Ready(Some(Err(e)))
            }
            None => {
                self.done = true;
                self.step = None;
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    struct Collect(Arc<Mutex<Vec<u8>>>, Option<usize>);
    impl ChunkSink for Collect {
        fn take(&mut self, chunk: Bytes) -> io::Result<()> {
            let mut all = self.0.lock().unwrap();
            all.extend_from_slice(&chunk);
            if self.1.is_some_and(|fail_at| all.len() >= fail_at) {
                return Err(io::Error::other("disk full"));
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn chunks_reach_the_sink_in_order_and_finish_waits_for_them() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let offload = Offload::new(Collect(seen.clone(), None), 64, 16);
        let mut sent = Vec::new();
        for i in 0..200u32 {
            let chunk = Bytes::from(vec![(i % 251) as u8; (i % 7 + 1) as usize]);
            sent.extend_from_slice(&chunk);
            offload.send(chunk).await.unwrap();
        }
        offload.finish().await.unwrap();
        assert_eq!(*seen.lock().unwrap(), sent);
    }

    #[tokio::test]
    async fn a_sink_error_reaches_the_sender() {
        let offload = Offload::new(Collect(Default::default(), Some(10)), 8, 1);
        let mut failed = false;
        for _ in 0..100 {
            if offload.send(Bytes::from_static(b"abcd")).await.is_err() {
                failed = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(failed || offload.finish().await.is_err());
    }

    /// While nothing is sent, no blocking thread is held: with a pool of 4
    /// threads and a hundred offloads waiting on their clients, other
    /// blocking work still runs at once.
    #[test]
    fn waiting_for_the_network_holds_no_thread() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(4)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut waiting = Vec::new();
            for _ in 0..100 {
                let offload = Offload::new(Collect(Default::default(), None), 1 << 20, 1);
                offload.send(Bytes::from_static(b"first")).await.unwrap();
                waiting.push(offload);
            }
            let other = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                tokio::task::spawn_blocking(|| 42),
            )
            .await;
            assert_eq!(other.expect("the blocking pool is free").unwrap(), 42);
            for o in waiting {
                o.finish().await.unwrap();
            }
        });
    }

    struct Count(u8, u8);
    impl Produce for Count {
        fn next(&mut self) -> Option<io::Result<Bytes>> {
            if self.0 == self.1 {
                return None;
            }
            self.0 += 1;
            if self.0 == 200 {
                return Some(Err(io::Error::other("bad sector")));
            }
            Some(Ok(Bytes::from(vec![self.0])))
        }
    }

    #[tokio::test]
    async fn prefetch_yields_every_piece_then_ends() {
        let got: Vec<_> = Prefetch::new(Count(0, 10)).collect().await;
        let bytes: Vec<u8> = got.into_iter().map(|r| r.unwrap()[0]).collect();
        assert_eq!(bytes, (1..=10).collect::<Vec<u8>>());
        let got: Vec<_> = Prefetch::after(Bytes::from_static(b"\x00"), Count(0, 3))
            .collect()
            .await;
        assert_eq!(got.len(), 4);
        // An error ends the stream.
        let got: Vec<_> = Prefetch::new(Count(195, 250)).collect().await;
        assert_eq!(got.len(), 5);
        assert!(got[4].is_err());
    }
}
