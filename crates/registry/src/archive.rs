//! The archive storage class: UpdateImageStorageClass, a lifecycle rule's
//! `transition`, restoring, and keeping the two blob stores consistent.
//!
//! An image's status (ACTIVE, ARCHIVED, ACTIVATING) lives on its manifest
//! row; only ACTIVE images are pulled and listed by default. The bytes of
//! blobs that only ARCHIVED images use move to the archive blob store. A
//! blob's `archived` flag says where its bytes are, and the moves keep one
//! rule: the flag is 0 only while the blob store holds the bytes. A blob
//! stored in several key domains (`domains.rs`) moves in each: a domain's
//! copy goes to the same domain of the archive and comes back from it.
//! - archiving a blob: flag 1 (in the same statement that checks no
//!   non-archived manifest uses it), copy into the archive, delete from the
//!   blob store;
//! - restoring a blob: copy back if the blob store lacks it, flag 0,
//!   delete the archive copy.
//!
//! Both run under the blob's digest lock, which uploads hold across "file
//! in place" and "link" and garbage collection across "record deleted" and
//! "file deleted", so none of them interleave on one blob. A crash between
//! steps leaves the bytes in one store or both, never neither;
//! [`Registry::resume_storage_moves`] finishes the moves at start.
//!
//! A push that needs an archived blob or manifest (a re-push of an archived
//! image) restores it first, synchronously; UpdateImageStorageClass to
//! STANDARD marks the image ACTIVATING and restores in the background.

use crate::domains::DomainPair;
use crate::{Error, Registry, Repo, Result};
use berth_oci::{Digest, Reference};
use berth_store::{
    ArchiveImage, ArchiveOutcome, BlobStore, ImageStatus, RepoId, RestoreOutcome, StoreError,
};
use std::sync::Arc;

/// Archived blobs examined per metadata read when finishing moves.
const PAGE: u32 = 1_000;

impl Registry {
    /// Gives the registry its archive blob store. Without one, archiving is
    /// refused as unsupported.
    pub fn with_archive_store(mut self, store: Arc<dyn BlobStore>) -> Self {
        self.archive = Some(store);
        self
    }

    fn archive_store(&self) -> Result<&Arc<dyn BlobStore>> {
        self.archive.as_ref().ok_or_else(|| {
            Error::StorageClassUpdateNotSupported(
                "this registry has no archive blob store configured".into(),
            )
        })
    }

    async fn image_digest(&self, repo_id: RepoId, reference: &Reference) -> Result<Digest> {
        match reference {
            Reference::Digest(d) => Ok(d.clone()),
            Reference::Tag(t) => self
                .resolve_tag(repo_id, t.as_str())
                .await?
                .ok_or_else(|| Error::ManifestUnknown(t.to_string())),
        }
    }

    /// UpdateImageStorageClass: moves an image to the archive storage
    /// class (`ARCHIVE`) or starts restoring it (`STANDARD`). Returns the
    /// image's digest and its status afterwards.
    pub async fn update_storage_class(
        self: &Arc<Self>,
        repo: &Repo,
        reference: &Reference,
        archive: bool,
    ) -> Result<(Digest, ImageStatus)> {
        self.archive_store()?;
        let repo_id = self.repo_id(repo).await?;
        let digest = self.image_digest(repo_id, reference).await?;
        if archive {
            let outcome = self
                .meta
                .archive_images(
                    repo_id,
                    &[ArchiveImage {
                        digest: digest.clone(),
                        expected: None,
                    }],
                    self.now(),
                )
                .await?
                .pop()
                .expect("one outcome per image");
            match outcome {
                ArchiveOutcome::Archived { manifests, tags } => {
                    self.archived(repo_id, &manifests, &tags).await?;
                    Ok((digest, ImageStatus::Archived))
                }
                ArchiveOutcome::AlreadyArchived => Ok((digest, ImageStatus::Archived)),
                ArchiveOutcome::Activating => Err(Error::StorageClassUpdateNotSupported(format!(
                    "image {digest} is being restored (ACTIVATING); archive it once it is ACTIVE"
                ))),
                ArchiveOutcome::ListedByIndex(index) => {
                    Err(Error::StorageClassUpdateNotSupported(format!(
                        "image {digest} is listed by the image index {index} in this repository; archive the index, which archives its images with it"
                    )))
                }
                ArchiveOutcome::NotFound | ArchiveOutcome::Changed => {
                    Err(Error::ManifestUnknown(reference.to_string()))
                }
            }
        } else {
            match self.meta.start_restore(repo_id, &digest).await? {
                RestoreOutcome::NotFound => Err(Error::ManifestUnknown(reference.to_string())),
                RestoreOutcome::AlreadyActive => Ok((digest, ImageStatus::Active)),
                RestoreOutcome::Activating(manifests) => {
                    let reg = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = reg.complete_restore(repo_id, &manifests).await {
                            tracing::error!(error = %e, digest = %manifests[0], "restoring an archived image failed; the next start tries again");
                        }
                    });
                    Ok((digest, ImageStatus::Activating))
                }
            }
        }
    }

    /// Whether a blob's bytes are in the archive storage class (its
    /// layer is ARCHIVED to the ECR API).
    pub async fn blob_is_archived(&self, digest: &Digest) -> Result<bool> {
        Ok(self.meta.blob_archived(digest).await? == Some(true))
    }

    /// After `archive_images` marked `manifests` ARCHIVED: drops them from
    /// the cache (they are no longer pullable) and moves the bytes only
    /// archived images use.
    pub(crate) async fn archived(
        &self,
        repo_id: RepoId,
        manifests: &[Digest],
        tags: &[String],
    ) -> Result<()> {
        let refs: Vec<&Digest> = manifests.iter().collect();
        self.cache.invalidate(repo_id, tags, &refs);
        self.archive_store()?;
        let domains = self.domain_pairs().await?;
        for blob in self.meta.blobs_only_archived(repo_id, manifests).await? {
            let mut lock = self.digest_locks.lock(blob.as_str()).await?;
            if !self.meta.mark_blob_archived(&blob).await? {
                continue; // an image outside the archive uses it (again)
            }
            // Each key domain's copy moves to the same domain of the archive.
            for (store, archive) in with_archive(&domains) {
                if store.stat(&blob).await?.is_none() {
                    continue;
                }
                if archive.stat(&blob).await?.is_none() {
                    copy_blob(store.as_ref(), archive.as_ref(), &blob).await?;
                }
                // An upload may put these bytes back once the lock is another
                // node's (lost with its connection): then leave them.
                lock.confirm().await?;
                store.delete(&blob).await?;
            }
        }
        Ok(())
    }

    /// Copies every key domain's archived copy of `blob` back where the
    /// blob store lacks it (the caller holds the digest's lock); whether
    /// any domain holds the bytes, in either store.
    async fn bring_back(&self, domains: &[DomainPair], blob: &Digest) -> Result<bool> {
        let mut found = false;
        for (store, archive) in with_archive(domains) {
            if store.stat(blob).await?.is_some() {
                found = true;
            } else if archive.stat(blob).await?.is_some() {
                copy_blob(archive.as_ref(), store.as_ref(), blob).await?;
                found = true;
            }
        }
        Ok(found)
    }

    /// Deletes every key domain's archived copy of `blob`; a failure is
    /// logged (garbage collection sweeps what is left).
    async fn drop_archived_copies(&self, domains: &[DomainPair], blob: &Digest) {
        for (_, archive) in with_archive(domains) {
            if let Err(e) = archive.delete(blob).await {
                tracing::warn!(%blob, error = %e, "could not delete an archive copy; garbage collection sweeps it");
            }
        }
    }

    /// An upload just committed `blob` into the blob store (under its
    /// digest lock, before linking it): if its bytes were archived (another
    /// repository's images archived them), the blob store holds them again,
    /// so the blob is marked standard and the archive copy deleted. The
    /// uploader's new link then reads the bytes it sent.
    pub(crate) async fn committed_over_archive(&self, blob: &Digest) -> Result<()> {
        if self.meta.blob_archived(blob).await? != Some(true) {
            return Ok(());
        }
        // Invariant 11: the blob store holds the bytes (the commit put the
        // upload's verified bytes in place in its key domain, or kept a copy
        // that a crash left there; the other domains' copies come back
        // here), so 0 may be set now.
        let domains = self.domain_pairs().await?;
        self.bring_back(&domains, blob).await?;
        self.meta.mark_blob_standard(blob).await?;
        self.drop_archived_copies(&domains, blob).await;
        tracing::info!(%blob, "an upload brought archived bytes back into the blob store");
        Ok(())
    }

    /// Brings an archived blob's bytes back into the blob store.
    async fn unarchive_blob(&self, blob: &Digest) -> Result<()> {
        self.archive_store()?;
        let mut lock = self.digest_locks.lock(blob.as_str()).await?;
        if self.meta.blob_archived(blob).await? != Some(true) {
            return Ok(());
        }
        let domains = self.domain_pairs().await?;
        if !self.bring_back(&domains, blob).await? {
            return Err(Error::Store(StoreError::Corrupt(format!(
                "blob {blob} is recorded as archived but neither blob store holds it; run `berth fsck`"
            ))));
        }
        self.meta.mark_blob_standard(blob).await?;
        lock.confirm().await?;
        for (_, archive) in with_archive(&domains) {
            archive.delete(blob).await?;
        }
        Ok(())
    }

    /// Restores `manifests` (ACTIVATING) of a repository: their blobs back
    /// into the blob store, then ACTIVE with `lastActivatedAt` now.
    pub(crate) async fn complete_restore(
        &self,
        repo_id: RepoId,
        manifests: &[Digest],
    ) -> Result<()> {
        for blob in self.meta.archived_blobs_of(repo_id, manifests).await? {
            self.unarchive_blob(&blob).await?;
        }
        let tags = self
            .meta
            .finish_restore(repo_id, manifests, self.now())
            .await?;
        let refs: Vec<&Digest> = manifests.iter().collect();
        self.cache.invalidate(repo_id, &tags, &refs);
        tracing::info!(digest = %manifests[0], "restored an image from the archive storage class");
        Ok(())
    }

    /// A push needs these archived references: restores them now.
    pub(crate) async fn restore_for_push(
        &self,
        repo_id: RepoId,
        blobs: &[Digest],
        manifests: &[Digest],
    ) -> Result<()> {
        for m in manifests {
            if let RestoreOutcome::Activating(ms) = self.meta.start_restore(repo_id, m).await? {
                self.complete_restore(repo_id, &ms).await?;
            }
        }
        for b in blobs {
            self.unarchive_blob(b).await?;
        }
        Ok(())
    }

    /// Finishes the moves a stop interrupted: archived blobs whose bytes
    /// are still (also) in the blob store, and images left ACTIVATING.
    /// Returns (blobs settled, images restored).
    pub async fn resume_storage_moves(&self) -> Result<(u64, u64)> {
        if self.archive.is_none() {
            return Ok((0, 0));
        }
        let domains = self.domain_pairs().await?;
        let mut settled = 0;
        let mut after: Option<Digest> = None;
        loop {
            let page = self.meta.archived_blobs(after.as_ref(), PAGE).await?;
            let Some(last) = page.last().cloned() else {
                break;
            };
            for blob in page {
                let mut lock = self.digest_locks.lock(blob.as_str()).await?;
                if self.meta.blob_archived(&blob).await? != Some(true) {
                    continue;
                }
                for (store, archive) in with_archive(&domains) {
                    if store.stat(&blob).await?.is_none() {
                        continue; // the usual state: nothing to finish
                    }
                    if archive.stat(&blob).await?.is_none() {
                        copy_blob(store.as_ref(), archive.as_ref(), &blob).await?;
                    }
                    lock.confirm().await?;
                    store.delete(&blob).await?;
                    settled += 1;
                }
            }
            after = Some(last);
        }
        let mut restored = 0;
        for (repo_id, digest) in self.meta.activating_images().await? {
            self.complete_restore(repo_id, std::slice::from_ref(&digest))
                .await?;
            restored += 1;
        }
        Ok((settled, restored))
    }

    /// Lifecycle `transition`: archives the images if they are still as
    /// the evaluation saw them. Returns, per image, whether it was archived.
    pub(crate) async fn transition_images(
        &self,
        repo_id: RepoId,
        images: &[ArchiveImage],
    ) -> Result<Vec<bool>> {
        let outcomes = self
            .meta
            .archive_images(repo_id, images, self.now())
            .await?;
        let mut out = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            match outcome {
                ArchiveOutcome::Archived { manifests, tags } => {
                    self.archived(repo_id, &manifests, &tags).await?;
                    out.push(true);
                }
                _ => out.push(false),
            }
        }
        Ok(out)
    }
}

/// Each key domain's (blob store, archive) pair.
fn with_archive(
    domains: &[DomainPair],
) -> impl Iterator<Item = (&Arc<dyn BlobStore>, &Arc<dyn BlobStore>)> {
    domains
        .iter()
        .filter_map(|d| d.archive.as_ref().map(|a| (&d.blobs, a)))
}

/// Copies a blob between the blob store and the archive store (any
/// backends; streamed, committed durably in the target).
async fn copy_blob(from: &dyn BlobStore, to: &dyn BlobStore, digest: &Digest) -> Result<()> {
    let size = from
        .stat(digest)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("blob {digest} vanished while being moved")))?;
    Ok(berth_store::copy_blob(from, to, digest, size, false).await?)
}
