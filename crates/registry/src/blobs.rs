//! Reading and unlinking blobs.

use crate::{ByteStream, Error, Registry, Repo, Result};
use berth_oci::manifest::{Manifest, ManifestKind};
use berth_oci::Digest;
use berth_store::{BlobLink, RepoId, StoreError, UnlinkBlobOutcome};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    pub digest: Digest,
    pub size: u64,
}

pub struct BlobRead {
    /// The whole blob's size.
    pub size: u64,
    /// The inclusive byte span streamed, when the read asked for a range.
    pub range: Option<(u64, u64)>,
    pub stream: ByteStream,
}

/// A byte range of a blob as a request asks for it (bounds inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `first-last` (a `last` past the end means "to the end").
    Bounded(u64, u64),
    /// `first-`
    From(u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The inclusive span this range selects in a blob of `size` bytes, or
    /// `None` when it selects nothing (RFC 9110 §14.1.1).
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        if size == 0 {
            return None;
        }
        match self {
            ByteRange::Bounded(a, b) => (a <= b && a < size).then(|| (a, b.min(size - 1))),
            ByteRange::From(a) => (a < size).then(|| (a, size - 1)),
            ByteRange::Suffix(n) => (n > 0).then(|| (size - n.min(size), size - 1)),
        }
    }
}

impl Registry {
    /// Size of a blob that the repository may read (`HEAD`). A client that
    /// finds a blob this way will reference it in a manifest next, so the
    /// check renews the link's claim against garbage collection when it is
    /// older than half the grace period (one write per link per half grace).
    pub async fn stat_blob(&self, repo: &Repo, digest: &Digest) -> Result<BlobInfo> {
        let repo_id = self.repo_id(repo).await?;
        let mut link = self.blob_link(repo_id, digest).await?;
        let now = self.now();
        if link.linked_at < now - self.config.gc_grace.as_millis() as i64 / 2 {
            let seen = self.cache.generation();
            if !self.meta.touch_blob_link(repo_id, digest, now).await? {
                // Collected since it was cached.
                self.cache.invalidate_blob(repo_id, digest);
                return Err(Error::BlobUnknown(digest.clone()));
            }
            link.linked_at = now;
            self.cache.fill_blob(seen, repo_id, digest, link);
        }
        Ok(BlobInfo {
            digest: digest.clone(),
            size: link.size,
        })
    }

    /// Where the client may fetch a blob the repository may read straight
    /// from the blob store, valid for `expires`, when `redirect_downloads`
    /// is on and the store can presign (S3); `None`: stream it.
    pub async fn blob_download_url(
        &self,
        repo: &Repo,
        digest: &Digest,
        expires: std::time::Duration,
    ) -> Result<Option<String>> {
        if !self.config.redirect_downloads {
            return Ok(None);
        }
        let repo_id = self.repo_id(repo).await?;
        self.blob_link(repo_id, digest).await?;
        if self.meta.blob_archived(digest).await? == Some(true) {
            return Err(Error::BlobArchived(digest.clone()));
        }
        let store = self.repo_blobs(&repo.registry, repo.name.as_str()).await?;
        Ok(store.download_url(digest, expires).await?)
    }

    /// The repository's link to a blob, through the cache.
    async fn blob_link(&self, repo_id: RepoId, digest: &Digest) -> Result<BlobLink> {
        if let Some(link) = self.cache.blob(repo_id, digest) {
            return Ok(link);
        }
        let seen = self.cache.generation();
        let link = self
            .meta
            .blob_link(repo_id, digest)
            .await?
            .ok_or_else(|| Error::BlobUnknown(digest.clone()))?;
        self.cache.fill_blob(seen, repo_id, digest, link);
        Ok(link)
    }

    /// Streams a blob that the repository may read (`GET`), or one byte
    /// range of it.
    pub async fn read_blob(
        &self,
        repo: &Repo,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<BlobRead> {
        let repo_id = self.repo_id(repo).await?;
        let size = self.blob_link(repo_id, digest).await?.size;
        let span = match range {
            None => None,
            Some(r) => Some(
                r.resolve(size)
                    .ok_or(Error::BlobRangeNotSatisfiable { size })?,
            ),
        };
        let (offset, len) = match span {
            Some((a, b)) => (a, b - a + 1),
            None => (0, size),
        };
        let Some(reader) = self.read_in_domain(repo, digest, offset, len).await? else {
            // Garbage collection may have removed an unreferenced blob after
            // this node cached its link: the store, not the cache, decides.
            if self.meta.blob_link(repo_id, digest).await?.is_none() {
                self.cache.invalidate_blob(repo_id, digest);
                return Err(Error::BlobUnknown(digest.clone()));
            }
            if self.meta.blob_archived(digest).await? == Some(true) {
                return Err(Error::BlobArchived(digest.clone()));
            }
            return Err(Error::Store(StoreError::Corrupt(format!(
                "blob {digest} is recorded as stored but its bytes are missing; run `berth fsck`"
            ))));
        };
        Ok(BlobRead {
            size,
            range: span,
            stream: reader.stream,
        })
    }

    /// Reads from the repository's key domain; a repository put under a key
    /// before key domains existed has its bytes in the AES256 store.
    async fn read_in_domain(
        &self,
        repo: &Repo,
        digest: &Digest,
        offset: u64,
        len: u64,
    ) -> Result<Option<berth_store::BlobReader>> {
        let store = self.repo_blobs(&repo.registry, repo.name.as_str()).await?;
        if let Some(reader) = store.read(digest, offset, len).await? {
            return Ok(Some(reader));
        }
        if Arc::ptr_eq(&store, &self.blobs) {
            return Ok(None);
        }
        Ok(self.blobs.read(digest, offset, len).await?)
    }

    /// The media type of each blob as a manifest of the repository
    /// references it (that descriptor's `mediaType`, what ECR's
    /// BatchCheckLayerAvailability reports); `None` for a blob no manifest
    /// of the repository uses yet. One indexed read per blob; each manifest
    /// is read (through the cache) and parsed once.
    pub async fn blob_media_types(
        &self,
        repo: &Repo,
        digests: &[Digest],
    ) -> Result<Vec<Option<String>>> {
        let repo_id = self.repo_id(repo).await?;
        let mut parsed: HashMap<Digest, Option<Manifest>> = HashMap::new();
        let mut out = Vec::with_capacity(digests.len());
        for d in digests {
            let Some(user) = self.meta.manifest_using_blob(repo_id, d).await? else {
                out.push(None);
                continue;
            };
            if !parsed.contains_key(&user) {
                let m = self
                    .load_manifest(repo_id, &user)
                    .await?
                    .and_then(|m| Manifest::parse(&m.stored.body, Some(&m.stored.media_type)).ok());
                parsed.insert(user.clone(), m);
            }
            out.push(parsed[&user].as_ref().and_then(|m| {
                match &m.kind {
                    ManifestKind::Image { config, layers } => std::iter::once(config)
                        .chain(layers)
                        .find(|l| &l.digest == d && !l.media_type.is_empty())
                        .map(|l| l.media_type.clone()),
                    ManifestKind::Index { .. } => None,
                }
            }));
        }
        Ok(out)
    }

    /// Removes the repository's link to a blob (`DELETE`). The bytes stay
    /// until garbage collection finds no repository using them.
    pub async fn delete_blob(&self, repo: &Repo, digest: &Digest) -> Result<()> {
        let repo_id = self.repo_id(repo).await?;
        match self.meta.unlink_blob(repo_id, digest).await? {
            UnlinkBlobOutcome::Unlinked => {
                self.cache.invalidate_blob(repo_id, digest);
                Ok(())
            }
            UnlinkBlobOutcome::NotLinked => Err(Error::BlobUnknown(digest.clone())),
            UnlinkBlobOutcome::ReferencedBy(m) => Err(Error::Conflict(format!(
                "blob {digest} is used by manifest {m} in this repository; delete the manifest first"
            ))),
        }
    }
}
