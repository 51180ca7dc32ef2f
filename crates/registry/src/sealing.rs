//! Sealing what a berth from before encryption at rest stored in
//! plaintext: every blob (in the blob store and the archive) and every
//! manifest body, in place, while the registry serves.
//!
//! One pass visits every blob shard and every manifest body; what is still
//! plaintext is sealed under the digest's lock (GC's protocol: no delete
//! or commit of that digest runs meanwhile) by `BlobStore::reseal`, which
//! replaces the plaintext atomically, and bodies by a compare-and-swap
//! (`replace_manifest_body`). A pass is idempotent, so an interrupted one
//! resumes by running again: what it sealed is skipped. Readers never
//! wait: a read begun on the plaintext finishes on it, a later one opens
//! the sealed copy. `serve` runs it as a background job, one node at a
//! time; the counters are in `/metrics` (`berth_sealing_*`). The pass also
//! copies the blobs of repositories put under a KMS key before key domains
//! existed into their key's domain (`domains.rs`, `settle_key_domains`),
//! with their manifests' bodies (`settle_manifest_bodies`), and, after a
//! root rotation, re-wraps what older root generations
//! wrapped (`rewrap.rs`).

use crate::{Registry, Result};
use berth_oci::{Algorithm, Digest};
use berth_store::BlobStore;
use std::sync::atomic::{AtomicU64, Ordering};

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealRun {
    pub blobs: u64,
    pub bytes: u64,
    pub bodies: u64,
    /// Blobs of repositories under KMS keys copied into their key's domain
    /// (`settle_key_domains`).
    pub moved: u64,
    /// Plaintext the pass found but could not seal (logged each).
    pub failed: u64,
}

/// Totals since the process started, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct SealCounters {
    blobs: AtomicU64,
    bytes: AtomicU64,
    bodies: AtomicU64,
    moved: AtomicU64,
    moved_bytes: AtomicU64,
    passes: AtomicU64,
    /// Plaintext left by the last finished pass.
    left: AtomicU64,
    /// Data keys re-wrapped under the current root generation
    /// (`rewrap.rs`).
    pub(crate) rewrapped: AtomicU64,
}

/// `SealCounters` read at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealTotals {
    pub blobs: u64,
    pub bytes: u64,
    pub bodies: u64,
    pub moved: u64,
    pub moved_bytes: u64,
    pub passes: u64,
    pub left: u64,
    pub rewrapped: u64,
    /// The root generation new data keys are wrapped under.
    pub root_generation: u32,
}

impl Registry {
    /// One pass sealing every plaintext blob and manifest body (nothing to
    /// do when this registry does not seal).
    pub async fn seal_plaintext(&self) -> Result<SealRun> {
        let mut run = SealRun::default();
        if !self.config.seal_at_rest {
            return Ok(run);
        }
        for (store, algorithm, shard) in self.aes256_shards() {
            for (digest, _) in store.blobs_in_shard(algorithm, shard).await? {
                self.seal_blob(&**store, &digest, &mut run).await?;
            }
        }
        self.seal_bodies(&mut run).await?;
        self.settle_key_domains(&mut run).await?;
        if self.rotating_root() {
            let rewrap = self
                .rewrap_to_current_root(false, !self.is_clustered())
                .await?;
            run.failed += rewrap.left;
        }
        let c = &self.sealing;
        c.passes.fetch_add(1, Ordering::Relaxed);
        c.left.store(run.failed, Ordering::Relaxed);
        if run.blobs + run.bodies + run.moved + run.failed > 0 {
            tracing::info!(
                blobs = run.blobs,
                bytes = run.bytes,
                bodies = run.bodies,
                moved_to_key_domains = run.moved,
                failed = run.failed,
                "sealed data stored before encryption at rest"
            );
        }
        Ok(run)
    }

    /// Every shard of the AES256 blob store and the archive: what the
    /// passes over every stored blob walk, one listing at a time.
    pub(crate) fn aes256_shards(
        &self,
    ) -> impl Iterator<Item = (&std::sync::Arc<dyn BlobStore>, Algorithm, u8)> {
        std::iter::once(&self.blobs)
            .chain(self.archive.as_ref())
            .flat_map(|store| {
                [Algorithm::Sha256, Algorithm::Sha512]
                    .into_iter()
                    .flat_map(move |a| (0..=255u8).map(move |shard| (store, a, shard)))
            })
    }

    async fn seal_blob(
        &self,
        store: &dyn BlobStore,
        digest: &Digest,
        run: &mut SealRun,
    ) -> Result<()> {
        if !store.is_plaintext(digest).await? {
            return Ok(());
        }
        let _lock = self.digest_locks.lock(digest.as_str()).await?;
        match store.reseal(digest).await {
            Ok(Some(bytes)) => {
                run.blobs += 1;
                run.bytes += bytes;
                self.sealing.blobs.fetch_add(1, Ordering::Relaxed);
                self.sealing.bytes.fetch_add(bytes, Ordering::Relaxed);
            }
            Ok(None) => {}
            Err(e) => {
                run.failed += 1;
                tracing::warn!(%digest, error = %e, "could not seal a plaintext blob; it stays readable as it is, and the next pass tries again");
            }
        }
        Ok(())
    }

    async fn seal_bodies(&self, run: &mut SealRun) -> Result<()> {
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.manifest_bodies(after.as_deref(), 500).await?;
            let Some(last) = page.last().map(|p| p.0.clone()) else {
                return Ok(());
            };
            for (text, body) in page {
                if !self.bodies.is_plaintext(&body) {
                    continue;
                }
                let Ok(digest) = text.parse::<Digest>() else {
                    run.failed += 1;
                    continue;
                };
                if Digest::of_bytes(digest.algorithm(), &body) != digest {
                    // Damaged: fsck's to report, not this job's to seal.
                    run.failed += 1;
                    continue;
                }
                let sealed = self.bodies.seal(&digest, &body);
                if self
                    .meta
                    .replace_manifest_body(&text, &body, &sealed)
                    .await?
                {
                    run.bodies += 1;
                    self.sealing.bodies.fetch_add(1, Ordering::Relaxed);
                }
            }
            after = Some(last);
        }
    }

    pub(crate) fn sealing_moved(&self, bytes: u64) {
        self.sealing.moved.fetch_add(1, Ordering::Relaxed);
        self.sealing.moved_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The sealing totals since this process started.
    pub fn sealing_totals(&self) -> SealTotals {
        let c = &self.sealing;
        SealTotals {
            blobs: c.blobs.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            bodies: c.bodies.load(Ordering::Relaxed),
            moved: c.moved.load(Ordering::Relaxed),
            moved_bytes: c.moved_bytes.load(Ordering::Relaxed),
            passes: c.passes.load(Ordering::Relaxed),
            left: c.left.load(Ordering::Relaxed),
            rewrapped: c.rewrapped.load(Ordering::Relaxed),
            root_generation: self.config.server_key.kek_roots().0,
        }
    }
}
