//! Replication to another berth deployment (issue 22, item 4; beyond what
//! ECR offers): a region declared as served by another berth
//! (`--replication-remote REGION=URL`) is replicated to through that
//! deployment's own API, so it enforces its own policies on the identity
//! berth replicates as. The transport is a port (`RemoteRegistry`, made by
//! `crates/berth/src/remote.rs` over HTTP); the order of the copy is here:
//! the repository made if missing, blobs the destination lacks uploaded
//! (streamed from the source), an index's manifests before the index,
//! the tag last and only while the source's tag still names the image,
//! then the image's referrers.

use super::{Outcome, ACCESS_DENIED, IMAGE_NOT_FOUND, INVALID_IMAGE, UNAVAILABLE};
use crate::{ByteStream, Error, Registry, Repo, Result};
use berth_oci::manifest::{Manifest, Reference as Needs};
use berth_oci::{Digest, RepositoryName};
use berth_store::{NewReplicationTask, RepoId};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;

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
}

/// A failure of the copy: the source's (a registry error) or the remote's.
enum CopyError {
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
            Err(CopyError::Source(e)) => super::copy::classify(e),
            Err(CopyError::Remote(RemoteError::Unavailable(why))) => Outcome::Retry {
                code: UNAVAILABLE,
                why,
            },
            Err(CopyError::Remote(RemoteError::Denied(why))) => Outcome::Failed {
                code: ACCESS_DENIED,
                why,
            },
            Err(CopyError::Remote(RemoteError::Rejected(why))) => Outcome::Failed {
                code: INVALID_IMAGE,
                why,
            },
        }
    }

    async fn try_replicate_remote(
        &self,
        t: &NewReplicationTask,
        remote: &dyn RemoteRegistry,
    ) -> Result<Outcome, CopyError> {
        let (Ok(name), Ok(digest)) = (
            RepositoryName::parse(&t.repository),
            t.digest.parse::<Digest>(),
        ) else {
            return Ok(Outcome::Failed {
                code: INVALID_IMAGE,
                why: "the task's repository or digest does not parse".into(),
            });
        };
        let source = Repo {
            registry: t.source.clone(),
            name,
        };
        // The remote sees one identity for every account of this
        // deployment: it may only carry an account's images into the same
        // account there, never into another one's.
        if t.destination.account_id != t.source.account_id {
            return Ok(Outcome::Failed {
                code: ACCESS_DENIED,
                why: format!(
                    "region {} is served by another deployment, to which account {} may replicate only into its own account, not {}",
                    t.destination.region, t.source.account_id, t.destination.account_id
                ),
            });
        }
        let Some(source_id) = self.find_repo_id(&source).await? else {
            return Ok(not_found("the source repository was deleted"));
        };
        if self.meta.get_manifest(source_id, &digest).await?.is_none() {
            return Ok(not_found("the image was deleted from the source"));
        }
        let account = t.destination.account_id.as_str();
        let repository = t.repository.as_str();
        remote.ensure_repository(account, repository).await?;
        let copy = RemoteCopy {
            registry: self,
            remote,
            source: &source,
            source_id,
            account,
        };
        copy.manifest(&digest, None, 0).await?;
        if let Some(tag) = &t.tag {
            if self.meta.resolve_tag(source_id, tag).await?.as_ref() == Some(&digest) {
                copy.manifest(&digest, Some(tag), 0).await?;
                self.requeue_if_moved(t, source_id).await?;
            }
        }
        for r in self
            .meta
            .list_referrers(source_id, &digest, None, super::copy::MAX_REFERRERS)
            .await?
        {
            copy.manifest(&r.digest, None, 0).await?;
        }
        Ok(Outcome::Complete)
    }
}

fn not_found(why: &str) -> Outcome {
    Outcome::Failed {
        code: IMAGE_NOT_FOUND,
        why: why.into(),
    }
}

/// One image's copy to a remote repository.
struct RemoteCopy<'a> {
    registry: &'a Registry,
    remote: &'a dyn RemoteRegistry,
    source: &'a Repo,
    source_id: RepoId,
    account: &'a str,
}

impl RemoteCopy<'_> {
    /// Copies manifest `digest` (its blobs and nested manifests first)
    /// under `tag`, else under its digest.
    fn manifest<'b>(
        &'b self,
        digest: &'b Digest,
        tag: Option<&'b str>,
        depth: usize,
    ) -> Pin<Box<dyn Future<Output = Result<(), CopyError>> + Send + 'b>> {
        Box::pin(async move {
            if depth > super::copy::MAX_DEPTH {
                return Err(Error::ManifestInvalid(format!(
                    "manifests nest too deep under {digest}"
                ))
                .into());
            }
            let r = self.registry;
            let stored = r
                .bodies
                .get(&*r.meta, self.source_id, digest)
                .await?
                .ok_or_else(|| Error::ManifestUnknown(digest.to_string()))?;
            let repository = self.source.name.as_str();
            if tag.is_none() {
                let manifest = Manifest::parse(&stored.body, Some(&stored.media_type))
                    .map_err(|e| Error::ManifestInvalid(e.to_string()))?;
                for needs in manifest.references() {
                    match needs {
                        Needs::Blob(d, _) => {
                            if !self.remote.has_blob(self.account, repository, &d).await? {
                                let read = r.read_blob(self.source, &d, None).await?;
                                self.remote
                                    .upload_blob(
                                        self.account,
                                        repository,
                                        &d,
                                        read.size,
                                        read.stream,
                                    )
                                    .await?;
                            }
                        }
                        Needs::Manifest(d, _) => self.manifest(&d, None, depth + 1).await?,
                    }
                }
            }
            let reference = tag.map_or_else(|| digest.to_string(), str::to_string);
            self.remote
                .put_manifest(
                    self.account,
                    repository,
                    &reference,
                    &stored.media_type,
                    stored.body,
                )
                .await?;
            Ok(())
        })
    }
}
