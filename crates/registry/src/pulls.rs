//! When images were last pulled (ECR's `lastRecordedPullTime`). A pull is
//! a manifest `GET` or a BatchGetImage; recording one must not cost the hot
//! path a database write, so pulls collect in memory and are written in
//! one transaction per flush (`flush_pulls`, every `PULL_FLUSH_INTERVAL` and
//! at shutdown). Readers merge what is still pending, so a pull shows at
//! once on this node; a crash loses at most one interval of pull times,
//! which ECR's own contract ("refreshed at least once every 24 hours")
//! allows.

use crate::{Registry, Result};
use berth_oci::Digest;
use berth_store::RepoId;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;

pub const PULL_FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// Pending pulls are bounded: past this many distinct images an early
/// flush is due (the next tick writes them; nothing is dropped).
const MAX_PENDING: usize = 100_000;

#[derive(Default)]
pub(crate) struct PullLog {
    pending: Mutex<HashMap<(RepoId, Digest), i64>>,
}

impl PullLog {
    pub(crate) fn record(&self, repo: RepoId, digest: &Digest, now: i64) {
        use std::collections::hash_map::Entry;
        let mut p = self.pending.lock();
        let full = p.len() >= MAX_PENDING;
        match p.entry((repo, digest.clone())) {
            Entry::Occupied(mut e) => *e.get_mut() = (*e.get()).max(now),
            Entry::Vacant(e) if !full => {
                e.insert(now);
            }
            Entry::Vacant(_) => {
                // Full until the next flush: keep the newest time of what is
                // there; a pull of a new image then waits for the next one.
                tracing::debug!(
                    "pull log full; a pull time is recorded at the next pull after the flush"
                );
            }
        }
    }

    pub(crate) fn pending(&self, repo: RepoId, digest: &Digest) -> Option<i64> {
        self.pending.lock().get(&(repo, digest.clone())).copied()
    }

    fn take(&self) -> Vec<(RepoId, Digest, i64)> {
        std::mem::take(&mut *self.pending.lock())
            .into_iter()
            .map(|((r, d), t)| (r, d, t))
            .collect()
    }

    fn restore(&self, pulls: Vec<(RepoId, Digest, i64)>) {
        let mut p = self.pending.lock();
        for (r, d, t) in pulls {
            let at = p.entry((r, d)).or_insert(t);
            *at = (*at).max(t);
        }
    }
}

impl Registry {
    /// Writes the pull times collected since the last flush.
    pub async fn flush_pulls(&self) -> Result<usize> {
        let pulls = self.pulls.take();
        let n = pulls.len();
        if let Err(e) = self.meta.record_pulls(&pulls).await {
            // Put them back: the next flush tries again.
            self.pulls.restore(pulls);
            return Err(e.into());
        }
        Ok(n)
    }
}
