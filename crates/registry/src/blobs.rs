//! Reading and unlinking blobs.

use crate::{ByteStream, Error, Registry, Repo, Result};
use berth_oci::Digest;
use berth_store::{StoreError, UnlinkBlobOutcome};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    pub digest: Digest,
    pub size: u64,
}

pub struct BlobRead {
    pub size: u64,
    pub stream: ByteStream,
}

impl Registry {
    /// Size of a blob that the repository may read (`HEAD`).
    pub async fn stat_blob(&self, repo: &Repo, digest: &Digest) -> Result<BlobInfo> {
        let repo_id = self.repo_id(repo).await?;
        let size = match self.cache.blob(repo_id, digest) {
            Some(size) => size,
            None => {
                let seen = self.cache.generation();
                let size = self
                    .meta
                    .blob_size(repo_id, digest)
                    .await?
                    .ok_or_else(|| Error::BlobUnknown(digest.clone()))?;
                self.cache.fill_blob(seen, repo_id, digest, size);
                size
            }
        };
        Ok(BlobInfo {
            digest: digest.clone(),
            size,
        })
    }

    /// Streams a blob that the repository may read (`GET`).
    pub async fn read_blob(&self, repo: &Repo, digest: &Digest) -> Result<BlobRead> {
        let info = self.stat_blob(repo, digest).await?;
        let reader = self
            .blobs
            .read(digest, 0, info.size)
            .await?
            .ok_or_else(|| {
                Error::Store(StoreError::Corrupt(format!(
                "blob {digest} is recorded as stored but its bytes are missing; run `berth fsck`"
            )))
            })?;
        Ok(BlobRead {
            size: info.size,
            stream: reader.stream,
        })
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
