//! Housekeeping: expiring stale upload sessions, removing orphaned
//! temporary data, health and counts.

use crate::{Registry, Result};
use berth_store::Counts;

impl Registry {
    /// Removes upload temporary objects that no session owns (left by a
    /// crash mid-request). Call only while no request is running, i.e. at
    /// start-up with the data dir locked.
    pub async fn sweep_orphan_uploads(&self) -> Result<usize> {
        self.sweep_uploads_without_session(i64::MAX).await
    }

    /// Removes upload data that no session owns and that nothing has
    /// written to for the upload expiry: what a node killed in the middle
    /// of a monolithic upload left (such an upload has no session row while
    /// it runs, so a younger one may be in flight on another node). Safe
    /// while requests run, on every node; the upload-expiry job calls it.
    pub async fn sweep_abandoned_uploads(&self) -> Result<usize> {
        let before = self.now() - self.config.upload_expiry.as_millis() as i64;
        self.sweep_uploads_without_session(before).await
    }

    async fn sweep_uploads_without_session(&self, written_before: i64) -> Result<usize> {
        let mut removed = 0;
        for (id, written) in self.blobs.upload_objects().await? {
            if written < written_before && !self.meta.upload_exists(&id).await? {
                self.blobs.delete_upload(&id).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes upload sessions untouched for longer than the configured
    /// expiry, with their data. Returns how many were removed.
    pub async fn expire_uploads(&self) -> Result<usize> {
        let before = self.now() - self.config.upload_expiry.as_millis() as i64;
        let mut removed = 0;
        loop {
            let stale = self.meta.stale_uploads(before, 500).await?;
            if stale.is_empty() {
                return Ok(removed);
            }
            for up in stale {
                let _guard = self.lock_upload(&up.id).await?;
                // Re-check under the lock: a chunk may have arrived meanwhile.
                match self.meta.get_upload(&up.id).await? {
                    Some(now) if now.updated_at < before => {
                        self.remove_upload(&up.id).await?;
                        removed += 1;
                    }
                    _ => {}
                }
            }
        }
    }

    /// Whether each store answers, and on a cluster whether this node
    /// hears the others' changes (its caches are off while it does not).
    pub async fn readiness(&self) -> Readiness {
        let (metadata, blobs) = tokio::join!(self.meta.ping(), self.blobs.ping());
        Readiness {
            metadata: metadata.map_err(|e| e.to_string()),
            blobs: blobs.map_err(|e| e.to_string()),
            listening: self.is_clustered().then(|| self.cache.is_enabled()),
        }
    }

    pub async fn counts(&self) -> Result<Counts> {
        Ok(self.meta.counts().await?)
    }

    /// Closes the stores; call once, after the last request.
    pub async fn close(&self) {
        if let Err(e) = self.flush_pulls().await {
            tracing::warn!(error = %e, "could not record the last pull times at shutdown");
        }
        self.meta.close().await;
    }
}

/// What `/readyz` reports.
#[derive(Debug)]
pub struct Readiness {
    pub metadata: std::result::Result<(), String>,
    pub blobs: std::result::Result<(), String>,
    /// `None` for a node on its own; else whether it hears the other
    /// nodes' changes (not a failure: it serves with its caches off).
    pub listening: Option<bool>,
}

impl Readiness {
    /// Ready to serve: both stores answer.
    pub fn ready(&self) -> bool {
        self.metadata.is_ok() && self.blobs.is_ok()
    }
}
