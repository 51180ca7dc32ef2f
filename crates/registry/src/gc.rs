//! Online garbage collection: deletes blobs that nothing claims while the
//! registry keeps serving. The protocol (what counts as a claim, which
//! lock covers which step) is in ARCHITECTURE.md, "Garbage collection";
//! change the two together.

use crate::{Registry, Result};
use berth_oci::{Algorithm, Digest};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Blobs examined per metadata read.
const PAGE: u32 = 1_000;
/// Blobs collected per transaction: one commit (one WAL fsync) per batch.
/// Their digest locks are held for the batch, a few milliseconds.
const BATCH: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcOptions {
    /// Report what would be deleted; change nothing.
    pub dry_run: bool,
    /// Links and blobs younger than this are spared, whatever references
    /// them: a client may be about to push the manifest that uses them.
    pub grace: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcPhase {
    /// Walking the blob records.
    Blobs,
    /// Sweeping blob files that no record owns (left by a crash).
    Files,
    Done,
    Failed,
}

impl GcPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            GcPhase::Blobs => "blobs",
            GcPhase::Files => "files",
            GcPhase::Done => "done",
            GcPhase::Failed => "failed",
        }
    }
}

/// One garbage-collection run, observable while it runs.
pub struct GcRun {
    pub id: u64,
    pub options: GcOptions,
    pub started_at: i64,
    phase: AtomicU8,
    examined: AtomicU64,
    total: AtomicU64,
    links_removed: AtomicU64,
    blobs_deleted: AtomicU64,
    bytes_freed: AtomicU64,
    orphan_files: AtomicU64,
    end: Mutex<Option<(i64, Option<String>)>>,
}

/// A copy of a run's counters at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcSnapshot {
    pub id: u64,
    pub dry_run: bool,
    pub grace_secs: u64,
    pub phase: GcPhase,
    /// Blob records examined so far, of `total`.
    pub examined: u64,
    pub total: u64,
    /// Repository links to unreferenced blobs removed (or, dry, removable).
    pub links_removed: u64,
    pub blobs_deleted: u64,
    pub bytes_freed: u64,
    /// Blob files without a record, removed.
    pub orphan_files: u64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

impl GcRun {
    fn new(id: u64, options: GcOptions, started_at: i64) -> Self {
        GcRun {
            id,
            options,
            started_at,
            phase: AtomicU8::new(GcPhase::Blobs as u8),
            examined: AtomicU64::new(0),
            total: AtomicU64::new(0),
            links_removed: AtomicU64::new(0),
            blobs_deleted: AtomicU64::new(0),
            bytes_freed: AtomicU64::new(0),
            orphan_files: AtomicU64::new(0),
            end: Mutex::new(None),
        }
    }

    fn set_phase(&self, p: GcPhase) {
        self.phase.store(p as u8, Ordering::Release);
    }

    pub fn phase(&self) -> GcPhase {
        match self.phase.load(Ordering::Acquire) {
            0 => GcPhase::Blobs,
            1 => GcPhase::Files,
            2 => GcPhase::Done,
            _ => GcPhase::Failed,
        }
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.phase(), GcPhase::Done | GcPhase::Failed)
    }

    pub fn snapshot(&self) -> GcSnapshot {
        let end = self.end.lock().clone();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        GcSnapshot {
            id: self.id,
            dry_run: self.options.dry_run,
            grace_secs: self.options.grace.as_secs(),
            phase: self.phase(),
            examined: get(&self.examined),
            total: get(&self.total),
            links_removed: get(&self.links_removed),
            blobs_deleted: get(&self.blobs_deleted),
            bytes_freed: get(&self.bytes_freed),
            orphan_files: get(&self.orphan_files),
            started_at: self.started_at,
            finished_at: end.as_ref().map(|e| e.0),
            error: end.and_then(|e| e.1),
        }
    }
}

/// The current or last run; one runs at a time per node.
#[derive(Default)]
pub(crate) struct GcJobs {
    last: Mutex<Option<Arc<GcRun>>>,
    next_id: AtomicU64,
}

impl Registry {
    /// Starts a garbage-collection run in the background, or returns the
    /// run already in progress (`Err`), which the caller can watch instead.
    pub fn start_gc(
        self: &Arc<Self>,
        options: GcOptions,
    ) -> std::result::Result<Arc<GcRun>, Arc<GcRun>> {
        let run = {
            let mut last = self.gc.last.lock();
            if let Some(r) = last.as_ref().filter(|r| !r.is_finished()) {
                return Err(r.clone());
            }
            let id = self.gc.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            let run = Arc::new(GcRun::new(id, options, self.now()));
            *last = Some(run.clone());
            run
        };
        let (reg, r) = (self.clone(), run.clone());
        tokio::spawn(async move {
            let outcome = reg.collect_garbage(&r).await;
            let error = outcome.err().map(|e| e.to_string());
            match &error {
                None => tracing::info!(
                    run = r.id,
                    dry_run = r.options.dry_run,
                    blobs_deleted = r.blobs_deleted.load(Ordering::Relaxed),
                    bytes_freed = r.bytes_freed.load(Ordering::Relaxed),
                    links_removed = r.links_removed.load(Ordering::Relaxed),
                    orphan_files = r.orphan_files.load(Ordering::Relaxed),
                    "garbage collection finished"
                ),
                Some(e) => tracing::error!(run = r.id, error = %e, "garbage collection failed"),
            }
            *r.end.lock() = Some((reg.now(), error.clone()));
            r.set_phase(if error.is_some() {
                GcPhase::Failed
            } else {
                GcPhase::Done
            });
        });
        Ok(run)
    }

    /// The configured grace period (runs may override it).
    pub fn gc_grace(&self) -> Duration {
        self.config.gc_grace
    }

    /// The current or last garbage-collection run on this node.
    pub fn gc_status(&self) -> Option<Arc<GcRun>> {
        self.gc.last.lock().clone()
    }

    /// Runs garbage collection to the end, updating `run` as it goes.
    pub async fn collect_garbage(&self, run: &GcRun) -> Result<()> {
        let dry = run.options.dry_run;
        let cutoff = self.now() - run.options.grace.as_millis() as i64;
        run.total
            .store(self.meta.counts().await?.blobs, Ordering::Relaxed);
        // A collected blob's bytes go from every key domain (a domain made
        // during the run is swept at its end: its copies are then unlinked).
        let domains = self.domain_pairs().await?;

        run.set_phase(GcPhase::Blobs);
        let mut after: Option<Digest> = None;
        loop {
            let page = self.meta.blob_page(after.as_ref(), PAGE).await?;
            let Some(last) = page.last().cloned() else {
                break;
            };
            let candidates = self.meta.collectable(&page, cutoff).await?;
            for batch in candidates.chunks(BATCH) {
                // Held across the metadata delete and the file delete, as an
                // upload commit holds its digest's across "file in place" and
                // "link". Candidates come in digest order, and an upload
                // holds one lock at a time, so the order cannot deadlock.
                let keys: Vec<&str> = batch.iter().map(|d| d.as_str()).collect();
                let mut locks = self.digest_locks.lock_all(&keys).await?;
                let outcomes = match self.meta.collect_blobs(batch, cutoff, dry).await {
                    Ok(outcomes) => outcomes,
                    // PostgreSQL kept refusing the batch's transaction as not
                    // serializable beside a push storm (its predicate locks
                    // cover index pages the pushes write too): one digest
                    // per transaction, under the same locks.
                    Err(e) if e.is_conflict() && batch.len() > 1 => {
                        tracing::debug!(error = %e, "collecting one blob per transaction");
                        let mut outcomes = Vec::with_capacity(batch.len());
                        for digest in batch {
                            outcomes.extend(
                                self.meta
                                    .collect_blobs(std::slice::from_ref(digest), cutoff, dry)
                                    .await?,
                            );
                        }
                        outcomes
                    }
                    Err(e) => return Err(e.into()),
                };
                for (digest, out) in batch.iter().zip(outcomes) {
                    if !dry {
                        for repo in &out.unlinked {
                            self.cache.invalidate_blob(*repo, digest);
                        }
                    }
                    run.links_removed
                        .fetch_add(out.unlinked.len() as u64, Ordering::Relaxed);
                    if let Some(size) = out.deleted {
                        if !dry {
                            // A lock lost since (PostgreSQL restarted) may be
                            // another node's now: a push may be putting these
                            // bytes back. Stop; the next run sweeps the files.
                            locks.confirm().await?;
                            for domain in &domains {
                                domain.blobs.delete(digest).await?;
                                if let Some(archive) = &domain.archive {
                                    archive.delete(digest).await?;
                                }
                            }
                        }
                        run.blobs_deleted.fetch_add(1, Ordering::Relaxed);
                        run.bytes_freed.fetch_add(size, Ordering::Relaxed);
                    }
                }
                drop(locks);
            }
            run.examined.fetch_add(page.len() as u64, Ordering::Relaxed);
            after = Some(last);
        }

        run.set_phase(GcPhase::Files);
        for algorithm in Algorithm::ALL {
            for shard in 0..=255u8 {
                for (digest, modified) in self.blobs.blobs_in_shard(algorithm, shard).await? {
                    // A file is renamed into place before its record is
                    // written; young files may be mid-commit.
                    if modified >= cutoff || self.aes256_copy_needed(&digest).await? {
                        continue;
                    }
                    let mut lock = self.digest_locks.lock(digest.as_str()).await?;
                    if self.aes256_copy_needed(&digest).await? {
                        continue;
                    }
                    if !dry {
                        lock.confirm().await?;
                        self.blobs.delete(&digest).await?;
                    }
                    run.orphan_files.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        for domain in self.domain_pairs().await? {
            let Some(arn) = &domain.key_arn else {
                if let Some(archive) = &domain.archive {
                    self.sweep_archive(archive.as_ref(), None, run, cutoff)
                        .await?;
                }
                continue;
            };
            self.sweep_key_domain(domain.blobs.as_ref(), arn, run, cutoff)
                .await?;
            if let Some(archive) = &domain.archive {
                self.sweep_archive(archive.as_ref(), Some(arn), run, cutoff)
                    .await?;
            }
        }
        Ok(())
    }

    /// Whether the AES256 store's copy of a blob is needed: the blob is
    /// recorded, and an AES256 repository links it, or nothing does yet (a
    /// push about to, or a collection's candidate), or a KMS key that links
    /// it has no copy in its domain (a repository put under the key before
    /// key domains existed, which reads this one).
    async fn aes256_copy_needed(&self, digest: &Digest) -> Result<bool> {
        if !self.meta.blob_recorded(digest).await? {
            return Ok(false);
        }
        let keys = self.meta.blob_link_keys(digest).await?;
        if keys.is_empty() || keys.contains(&None) {
            return Ok(true);
        }
        for arn in keys.iter().flatten() {
            if self
                .key_domain(false, arn)
                .await?
                .stat(digest)
                .await?
                .is_none()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Copies in KMS key `arn`'s domain that no repository under the key
    /// links (unlinked, collected, or left by a crash mid-push).
    async fn sweep_key_domain(
        &self,
        store: &dyn berth_store::BlobStore,
        arn: &str,
        run: &GcRun,
        cutoff: i64,
    ) -> Result<()> {
        let dry = run.options.dry_run;
        let linked = |keys: Vec<Option<String>>| keys.iter().flatten().any(|k| k == arn);
        for algorithm in Algorithm::ALL {
            for shard in 0..=255u8 {
                for (digest, modified) in store.blobs_in_shard(algorithm, shard).await? {
                    // Renamed into place before it is linked: young copies
                    // may be mid-commit.
                    if modified >= cutoff || linked(self.meta.blob_link_keys(&digest).await?) {
                        continue;
                    }
                    let mut lock = self.digest_locks.lock(digest.as_str()).await?;
                    if linked(self.meta.blob_link_keys(&digest).await?) {
                        continue;
                    }
                    if !dry {
                        lock.confirm().await?;
                        store.delete(&digest).await?;
                    }
                    run.orphan_files.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }

    /// Archive copies that nothing needs: files without a record (a crash
    /// between "record deleted" and "file deleted"), and copies of blobs
    /// whose bytes are back in the blob store (a crash mid-restore).
    /// In a KMS key's domain of the archive (`key_arn`), copies that no
    /// repository under the key links go too.
    async fn sweep_archive(
        &self,
        archive: &dyn berth_store::BlobStore,
        key_arn: Option<&str>,
        run: &GcRun,
        cutoff: i64,
    ) -> Result<()> {
        let dry = run.options.dry_run;
        for algorithm in Algorithm::ALL {
            for shard in 0..=255u8 {
                for (digest, modified) in archive.blobs_in_shard(algorithm, shard).await? {
                    let needed = || async {
                        let by_flag = match self.meta.blob_archived(&digest).await? {
                            Some(true) => true,
                            Some(false) => false,
                            None => modified >= cutoff,
                        };
                        Ok::<_, crate::Error>(match key_arn {
                            Some(arn) if by_flag && modified < cutoff => self
                                .meta
                                .blob_link_keys(&digest)
                                .await?
                                .iter()
                                .flatten()
                                .any(|k| k == arn),
                            _ => by_flag,
                        })
                    };
                    if needed().await? {
                        continue;
                    }
                    let mut lock = self.digest_locks.lock(digest.as_str()).await?;
                    if needed().await? {
                        continue;
                    }
                    if !dry {
                        lock.confirm().await?;
                        archive.delete(&digest).await?;
                    }
                    run.orphan_files.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }
}
