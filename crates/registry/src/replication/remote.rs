//! Replication to another berth deployment (issue 22, item 4; beyond what
//! ECR offers): a region declared as served by another berth
//! (`--replication-remote REGION=URL`) is replicated to through that
//! deployment's own API, so it enforces its own policies on the identity
//! berth replicates as. The transport is a port (`RemoteRegistry`, made by
//! `crates/berth/src/remote.rs` over HTTP); the order of the copy is here:
//! the repository made if missing, blobs the destination lacks mounted
//! from another of its repositories that has them, else uploaded
//! (streamed from the source), an index's manifests before the index,
//! the tag last and only while the source's tag still names the image,
//! then the image's referrers.

use super::image::{ReplicaSink, SourceImage};
use super::{Outcome, ACCESS_DENIED, INVALID_IMAGE, UNAVAILABLE};
use crate::{ByteStream, Error, Registry, Result};
use berth_oci::{Digest, Reference};
use berth_store::NewReplicationTask;
use bytes::Bytes;

/// Why a call to a remote deployment failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteError {
    /// Unreachable, timed out, or a 5xx/429: try again later.
    Unavailable(String),
    /// Refused the replication identity (401/403): its policies decide.
    Denied(String),
    /// Refused what was sent (another 4xx): trying again will not help.
    Rejected(String),
}

/// How a manifest `DELETE` at a remote ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteDelete {
    Deleted,
    /// Nothing there by that reference (deleted already).
    NotFound,
    /// Refused: an index there still lists the manifest (its answer).
    ListedByIndex(String),
}

/// A registry of another berth deployment, addressed by account.
#[async_trait::async_trait]
pub trait RemoteRegistry: Send + Sync {
    /// Creates the repository unless it exists.
    async fn ensure_repository(&self, account: &str, repository: &str) -> Result<(), RemoteError>;
    /// Whether the repository holds the blob.
    async fn has_blob(
        &self,
        account: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<bool, RemoteError>;
    /// Makes the blob present in the repository by mounting it from
    /// another repository of the account there that holds it, when one is
    /// known; false when none is (then it is uploaded).
    async fn mount_blob(
        &self,
        account: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<bool, RemoteError>;
    /// Uploads a blob of `size` bytes, streamed.
    async fn upload_blob(
        &self,
        account: &str,
        repository: &str,
        digest: &Digest,
        size: u64,
        body: ByteStream,
    ) -> Result<(), RemoteError>;
    /// Stores a manifest under `reference` (a tag or its digest).
    async fn put_manifest(
        &self,
        account: &str,
        repository: &str,
        reference: &str,
        media_type: &str,
        body: Bytes,
    ) -> Result<(), RemoteError>;
    /// The digest `tag` names there (none: no such tag or repository).
    async fn tag_digest(
        &self,
        account: &str,
        repository: &str,
        tag: &str,
    ) -> Result<Option<Digest>, RemoteError>;
    /// Deletes a manifest as a replica (never carried on from there): by
    /// digest, the image and its tags; by tag, the tag (and the image with
    /// its last tag).
    async fn delete_manifest(
        &self,
        account: &str,
        repository: &str,
        reference: &str,
    ) -> Result<RemoteDelete, RemoteError>;
}

/// A failure of the copy: the source's (a registry error) or the remote's.
pub(super) enum CopyError {
    Source(Error),
    Remote(RemoteError),
}

impl From<Error> for CopyError {
    fn from(e: Error) -> Self {
        CopyError::Source(e)
    }
}

impl From<berth_store::StoreError> for CopyError {
    fn from(e: berth_store::StoreError) -> Self {
        CopyError::Source(Error::Store(e))
    }
}

impl From<RemoteError> for CopyError {
    fn from(e: RemoteError) -> Self {
        CopyError::Remote(e)
    }
}

impl Registry {
    pub(super) async fn replicate_remote(
        &self,
        t: &NewReplicationTask,
        remote: &dyn RemoteRegistry,
    ) -> Outcome {
        match self.try_replicate_remote(t, remote).await {
            Ok(outcome) => outcome,
            Err(e) => outcome_of(e),
        }
    }

    async fn try_replicate_remote(
        &self,
        t: &NewReplicationTask,
        remote: &dyn RemoteRegistry,
    ) -> Result<Outcome, CopyError> {
        // The remote sees one identity for every account of this
        // deployment: it may only carry an account's images into the same
        // account there, never into another one's.
        if t.destination.account_id != t.source.account_id {
            return Ok(Outcome::Failed {
                code: ACCESS_DENIED,
                why: other_account(t),
            });
        }
        let src = match self.source_image(t).await? {
            Ok(src) => src,
            Err(outcome) => return Ok(outcome),
        };
        let account = t.destination.account_id.as_str();
        remote.ensure_repository(account, &t.repository).await?;
        let sink = RemoteSink {
            registry: self,
            remote,
            src: &src,
            account,
        };
        self.copy_image(t, &src, &sink).await?;
        Ok(Outcome::Complete)
    }
}

/// How a failed attempt at a remote task ends.
pub(super) fn outcome_of(e: CopyError) -> Outcome {
    match e {
        CopyError::Source(e) => super::copy::classify(e),
        CopyError::Remote(RemoteError::Unavailable(why)) => Outcome::Retry {
            code: UNAVAILABLE,
            why,
        },
        CopyError::Remote(RemoteError::Denied(why)) => Outcome::Failed {
            code: ACCESS_DENIED,
            why,
        },
        CopyError::Remote(RemoteError::Rejected(why)) => Outcome::Failed {
            code: INVALID_IMAGE,
            why,
        },
    }
}

/// Why a task into another account of a remote fails.
pub(super) fn other_account(t: &NewReplicationTask) -> String {
    format!(
        "region {} is served by another deployment, to which account {} may replicate only into its own account, not {}",
        t.destination.region, t.source.account_id, t.destination.account_id
    )
}

/// A repository of another deployment as a replica's destination: blobs
/// it lacks uploaded (streamed from the source), manifests PUT.
struct RemoteSink<'a> {
    registry: &'a Registry,
    remote: &'a dyn RemoteRegistry,
    src: &'a SourceImage,
    account: &'a str,
}

#[async_trait::async_trait]
impl ReplicaSink for RemoteSink<'_> {
    type Error = CopyError;

    async fn blob(&self, digest: &Digest) -> Result<(), CopyError> {
        let repository = self.src.repo.name.as_str();
        if !self
            .remote
            .has_blob(self.account, repository, digest)
            .await?
            && !self
                .remote
                .mount_blob(self.account, repository, digest)
                .await?
        {
            let read = self
                .registry
                .read_blob(&self.src.repo, digest, None)
                .await?;
            self.remote
                .upload_blob(self.account, repository, digest, read.size, read.stream)
                .await?;
        }
        Ok(())
    }

    async fn put(
        &self,
        reference: &Reference,
        media_type: &str,
        body: Bytes,
    ) -> Result<(), CopyError> {
        self.remote
            .put_manifest(
                self.account,
                self.src.repo.name.as_str(),
                &reference.to_string(),
                media_type,
                body,
            )
            .await?;
        Ok(())
    }
}
