//! After a root rotation (`berth rotate-root`; ARCHITECTURE.md, "Root
//! rotation"): moving everything an older root generation wrapped to the
//! current one, then retiring the older generations.
//!
//! What a root's KEKs wrap: the data keys in the headers of AES256 blobs
//! (blob store and archive), of uploads, and of manifest bodies, and the
//! KMS keys' materials. Each is re-wrapped without touching the bytes it
//! protects (the data key stays; `Keyring::rewrapped`). A KMS key's domain
//! is wrapped by that key's storage KEK, which its materials seal: moving
//! the materials moves it. The pass is idempotent (what is current is
//! skipped), so it resumes by running again; blobs are re-wrapped under
//! their digest's lock (GC's protocol), bodies and materials by
//! compare-and-swap. When a pass leaves nothing behind, the older
//! generations are retired in the root record, and from the next start no
//! node holds their roots.
//!
//! `serve` runs it inside the sealing job (one node at a time), leaving
//! uploads in progress to their commits (which re-wrap their headers) or
//! their expiry; `berth rotate-root` runs it offline, uploads included.

use crate::{Registry, Result};
use berth_oci::Digest;
use std::sync::atomic::Ordering;

/// What one re-wrap pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewrapRun {
    /// The generation everything is re-wrapped under.
    pub current: u32,
    pub blobs: u64,
    pub uploads: u64,
    pub bodies: u64,
    /// KMS keys whose materials were re-wrapped.
    pub keys: u64,
    /// What could not be re-wrapped (logged each) or is left for later
    /// (uploads in progress, keys that kept changing).
    pub left: u64,
    /// The generations retired at the end (none while anything is left).
    pub retired: Vec<u32>,
}

impl RewrapRun {
    pub fn rewrapped(&self) -> u64 {
        self.blobs + self.uploads + self.bodies + self.keys
    }
}

impl Registry {
    /// Whether this node holds root generations being retired.
    pub fn rotating_root(&self) -> bool {
        !crate::roots::roots_of(&self.config.server_key)
            .retiring()
            .is_empty()
    }

    /// One pass re-wrapping what older root generations wrapped; uploads
    /// in progress too when `uploads` (no server may be running). Retires
    /// the older generations when nothing is left and `retire`: only where
    /// no node can still be writing under them — offline (every node
    /// stopped), or a node that shares its stores with no other (it
    /// started after the rotation was recorded). A cluster's nodes re-wrap
    /// but leave retiring to `berth rotate-root`, since a node started
    /// before the rotation may still wrap under the old generation.
    pub async fn rewrap_to_current_root(&self, uploads: bool, retire: bool) -> Result<RewrapRun> {
        let roots = crate::roots::roots_of(&self.config.server_key);
        let mut run = RewrapRun {
            current: roots.current(),
            ..RewrapRun::default()
        };
        if roots.retiring().is_empty() {
            return Ok(run);
        }
        if self.config.seal_at_rest {
            for (store, algorithm, shard) in self.aes256_shards() {
                for (digest, _) in store.blobs_in_shard(algorithm, shard).await? {
                    self.rewrap_blob(&**store, &digest, &mut run).await?;
                }
            }
            let (done, left) = self.blobs.rewrap_uploads(uploads).await?;
            run.uploads += done;
            run.left += left;
            self.rewrap_bodies(&mut run).await?;
        }
        let (keys, left) = self.kms.rewrap_materials().await?;
        run.keys += keys;
        run.left += left;
        self.sealing
            .rewrapped
            .fetch_add(run.rewrapped(), Ordering::Relaxed);
        if run.left == 0 && retire {
            run.retired = self.retire_root_generations().await?;
        } else if run.left == 0 && run.rewrapped() > 0 {
            tracing::info!("everything is re-wrapped under the current root generation; with every node stopped, `berth rotate-root` retires the older ones");
        }
        if run.rewrapped() + run.left > 0 || !run.retired.is_empty() {
            tracing::info!(
                generation = run.current,
                blobs = run.blobs,
                uploads = run.uploads,
                bodies = run.bodies,
                kms_keys = run.keys,
                left = run.left,
                retired = ?run.retired,
                "re-wrapped data keys under the current root generation"
            );
        }
        Ok(run)
    }

    async fn rewrap_blob(
        &self,
        store: &dyn berth_store::BlobStore,
        digest: &Digest,
        run: &mut RewrapRun,
    ) -> Result<()> {
        let _lock = self.digest_locks.lock(digest.as_str()).await?;
        match store.rewrap(digest).await {
            Ok(true) => run.blobs += 1,
            Ok(false) => {}
            Err(e) => {
                run.left += 1;
                tracing::warn!(%digest, error = %e, "could not re-wrap a blob's data key; it stays under its older root generation, and the next pass tries again");
            }
        }
        Ok(())
    }

    async fn rewrap_bodies(&self, run: &mut RewrapRun) -> Result<()> {
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.manifest_bodies(after.as_deref(), 500).await?;
            let Some(last) = page.last().map(|p| p.0.clone()) else {
                return Ok(());
            };
            for (text, body) in page {
                let Ok(digest) = text.parse::<Digest>() else {
                    continue; // fsck's to report
                };
                match self.bodies.rewrapped(&digest, &body) {
                    Ok(None) => {}
                    Ok(Some(new)) => {
                        // Lost to a concurrent change (the body deleted):
                        // nothing of it is left to re-wrap.
                        if self.meta.replace_manifest_body(&text, &body, &new).await? {
                            run.bodies += 1;
                        }
                    }
                    Err(e) => {
                        run.left += 1;
                        tracing::warn!(%digest, error = %e, "could not re-wrap a manifest body's data key");
                    }
                }
            }
            after = Some(last);
        }
    }
}
