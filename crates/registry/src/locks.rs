//! Per-key async locks that remove themselves when nobody holds or waits,
//! and that span the cluster when the deployment is one: a waiter first
//! takes the in-process lock for its key, then the cluster's, so at most
//! one connection per key per node waits in the database.

use berth_store::{Cluster, ClusterGuard, StoreError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub struct KeyedLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The cluster and this kind's key prefix (`d:`, `u:`), if shared.
    cluster: Option<(Arc<dyn Cluster>, &'static str)>,
}

pub struct KeyedGuard<'a> {
    // Declared first, so dropped (released) first. `ClusterGuard::local`
    // on one node.
    cluster: ClusterGuard,
    locks: &'a KeyedLocks,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    /// Locks that also take `cluster`'s lock on `prefix` + key when it is
    /// shared.
    pub fn spanning(cluster: &Arc<dyn Cluster>, prefix: &'static str) -> Self {
        KeyedLocks {
            map: Mutex::default(),
            cluster: cluster.is_shared().then(|| (cluster.clone(), prefix)),
        }
    }

    /// Fails only when the cluster's lock cannot be taken (its store is
    /// unavailable): fail closed.
    pub async fn lock(&self, key: &str) -> Result<KeyedGuard<'_>, StoreError> {
        let m = self.map.lock().entry(key.to_string()).or_default().clone();
        let guard = m.lock_owned().await;
        let mut held = KeyedGuard {
            cluster: ClusterGuard::local(),
            locks: self,
            key: key.to_string(),
            guard: Some(guard),
        };
        if let Some((cluster, prefix)) = &self.cluster {
            held.cluster = cluster.lock(&format!("{prefix}{key}")).await?;
        }
        Ok(held)
    }

    /// The locks on every key of `keys`, in their order (sort them: two
    /// callers taking overlapping sets in one order cannot deadlock), with
    /// one cluster lock request for them all.
    pub async fn lock_all(&self, keys: &[&str]) -> Result<KeyedGuards<'_>, StoreError> {
        let mut held = KeyedGuards {
            cluster: ClusterGuard::local(),
            _local: Vec::new(),
        };
        let mut prefixed = Vec::new();
        for &key in keys {
            let m = self.map.lock().entry(key.to_string()).or_default().clone();
            let guard = m.lock_owned().await;
            held._local.push(KeyedGuard {
                cluster: ClusterGuard::local(),
                locks: self,
                key: key.to_string(),
                guard: Some(guard),
            });
            if let Some((_, prefix)) = &self.cluster {
                prefixed.push(format!("{prefix}{key}"));
            }
        }
        if let Some((cluster, _)) = &self.cluster {
            let keys: Vec<&str> = prefixed.iter().map(String::as_str).collect();
            held.cluster = cluster.lock_all(&keys).await?;
        }
        Ok(held)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().len()
    }
}

impl KeyedGuard<'_> {
    /// Ok while the lock is still held: always on one node; on a cluster,
    /// while the connection holding it lives (`ClusterGuard::confirm`).
    pub async fn confirm(&mut self) -> Result<(), StoreError> {
        self.cluster.confirm().await
    }
}

impl KeyedGuards<'_> {
    /// As `KeyedGuard::confirm`, for all of them.
    pub async fn confirm(&mut self) -> Result<(), StoreError> {
        self.cluster.confirm().await
    }
}

/// Several keys' locks, released together.
pub struct KeyedGuards<'a> {
    // Declared first, so released first.
    cluster: ClusterGuard,
    _local: Vec<KeyedGuard<'a>>,
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.map.lock();
        // Only the map's own reference left: nobody holds or waits for it.
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serialises_holders_and_cleans_up() {
        let locks = Arc::new(KeyedLocks::default());
        let counter = Arc::new(parking_lot::Mutex::new((0u32, 0u32))); // (inside, max inside)
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (locks, counter) = (locks.clone(), counter.clone());
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock("k").await.unwrap();
                {
                    let mut c = counter.lock();
                    c.0 += 1;
                    c.1 = c.1.max(c.0);
                }
                tokio::task::yield_now().await;
                counter.lock().0 -= 1;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(counter.lock().1, 1, "never two holders at once");
        assert_eq!(locks.len(), 0, "entries are removed when released");
    }
}
