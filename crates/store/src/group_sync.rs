//! Group commit: many writers that each need "everything I wrote is on
//! disk" share one `fsync`.
//!
//! A writer calls [`GroupSync::wait`] after its write is in the page cache.
//! It is answered by the first sync round that *starts* after the call, so
//! the round covers its write. One round runs at a time (on the blocking
//! pool); writers that arrive while it runs are all answered by the next
//! round. A lone writer pays one `fsync`, as before; `n` concurrent writers
//! pay about two between them instead of `n`, queued one behind another.
//!
//! A failed sync poisons the group for good: after a failed `fsync`, Linux
//! may have dropped the dirty pages, so a later successful one proves
//! nothing about them (PostgreSQL's "fsyncgate"). Every later `wait` fails
//! with the first error, and the operator restarts berth once the disk is
//! fixed; recovery then reads what really reached the disk.

use parking_lot::Mutex;
use std::io;
use std::sync::Arc;
use tokio::sync::watch;

type SyncFn = dyn Fn() -> io::Result<()> + Send + Sync;

#[derive(Clone)]
pub struct GroupSync {
    inner: Arc<Inner>,
}

struct Inner {
    what: &'static str,
    sync: Arc<SyncFn>,
    rounds: Mutex<Rounds>,
    done: watch::Sender<Done>,
}

struct Rounds {
    /// The number of the newest round started (rounds count from 1).
    started: u64,
    /// The highest round that a waiter needs.
    wanted: u64,
    running: bool,
}

#[derive(Clone)]
struct Done {
    /// The newest round finished.
    round: u64,
    /// The first failure, for good.
    poisoned: Option<(io::ErrorKind, String)>,
}

impl GroupSync {
    /// `sync` makes everything written so far durable (an `fdatasync` of
    /// the file the writers append to). `what` names it in errors.
    pub fn new(
        what: &'static str,
        sync: impl Fn() -> io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        let (done, _) = watch::channel(Done {
            round: 0,
            poisoned: None,
        });
        GroupSync {
            inner: Arc::new(Inner {
                what,
                sync: Arc::new(sync),
                rounds: Mutex::new(Rounds {
                    started: 0,
                    wanted: 0,
                    running: false,
                }),
                done,
            }),
        }
    }

    /// Returns once a sync that started after this call has succeeded.
    pub async fn wait(&self) -> io::Result<()> {
        // Subscribed before the round is chosen, so its end is never missed.
        let mut done = self.inner.done.subscribe();
        if let Some(e) = self.poisoned(&done.borrow_and_update()) {
            return Err(e);
        }
        let target = {
            let mut r = self.inner.rounds.lock();
            // The running round may have begun before the caller's write.
            let target = r.started + 1;
            r.wanted = r.wanted.max(target);
            if !r.running {
                r.running = true;
                r.started = target;
                Inner::run(self.inner.clone(), target);
            }
            target
        };
        loop {
            {
                let d = done.borrow_and_update();
                if let Some(e) = self.poisoned(&d) {
                    return Err(e);
                }
                if d.round >= target {
                    return Ok(());
                }
            }
            if done.changed().await.is_err() {
                return Err(io::Error::other(format!(
                    "{}: the sync task ended",
                    self.inner.what
                )));
            }
        }
    }

    fn poisoned(&self, d: &Done) -> Option<io::Error> {
        let (kind, message) = d.poisoned.as_ref()?;
        Some(io::Error::new(
            *kind,
            format!("{}: {message}", self.inner.what),
        ))
    }
}

impl Inner {
    /// Runs rounds from `first` for as long as waiters need more.
    fn run(inner: Arc<Inner>, first: u64) {
        tokio::spawn(async move {
            let mut round = first;
            loop {
                let sync = inner.sync.clone();
                let outcome = tokio::task::spawn_blocking(move || sync())
                    .await
                    .unwrap_or_else(|e| Err(io::Error::other(e)));
                let mut r = inner.rounds.lock();
                inner.done.send_modify(|d| {
                    d.round = round;
                    if let Err(e) = &outcome {
                        d.poisoned
                            .get_or_insert((e.kind(), format!("sync failed: {e}")));
                    }
                });
                if outcome.is_err() || r.wanted <= round {
                    r.running = false;
                    return;
                }
                round += 1;
                r.started = round;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_waiters_share_rounds_and_each_is_covered() {
        // `written` stands for the page cache, `durable` for the disk: a
        // round copies what was written when it began.
        let written = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let rounds = Arc::new(AtomicU64::new(0));
        let (w, d, n) = (written.clone(), durable.clone(), rounds.clone());
        let group = GroupSync::new("test log", move || {
            let seen = w.load(Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            d.fetch_max(seen, Ordering::SeqCst);
            n.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (group, written, durable) = (group.clone(), written.clone(), durable.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..5 {
                    let mine = written.fetch_add(1, Ordering::SeqCst) + 1;
                    group.wait().await.unwrap();
                    assert!(
                        durable.load(Ordering::SeqCst) >= mine,
                        "acknowledged before durable"
                    );
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let rounds = rounds.load(Ordering::SeqCst);
        assert!(
            rounds < 320 / 4,
            "{rounds} rounds for 320 writes: not grouped"
        );
        assert!(rounds >= 1);
    }

    #[tokio::test]
    async fn a_lone_writer_gets_one_round_per_wait() {
        let rounds = Arc::new(AtomicU64::new(0));
        let n = rounds.clone();
        let group = GroupSync::new("test log", move || {
            n.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        for _ in 0..3 {
            group.wait().await.unwrap();
        }
        assert_eq!(rounds.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_sync_fails_every_later_wait() {
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let group = GroupSync::new("the test log", move || {
            if c.fetch_add(1, Ordering::SeqCst) == 1 {
                Err(io::Error::other("EIO"))
            } else {
                Ok(())
            }
        });
        group.wait().await.unwrap();
        let e = group.wait().await.unwrap_err();
        assert!(
            e.to_string().contains("the test log: sync failed: EIO"),
            "{e}"
        );
        let e = group.wait().await.unwrap_err();
        assert!(e.to_string().contains("EIO"), "{e}");
    }
}
