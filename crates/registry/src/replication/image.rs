//! One image's copy, whatever its destination: the task's image found at
//! its source, then its manifests (an index's children first, each after
//! its blobs), the tag while the source's tag still names the image, and
//! its referrers, handed to a `ReplicaSink` — this deployment's
//! repository (`copy.rs`) or another deployment's (`remote.rs`).

use super::{Outcome, IMAGE_NOT_FOUND, INVALID_IMAGE};
use crate::{Error, Registry, Repo, Result};
use berth_oci::manifest::{Manifest, Reference as Needs};
use berth_oci::{Digest, Reference, RepositoryName};
use berth_store::{NewReplicationTask, RepoId, StoreError};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;

/// How deep an image's manifests may nest (an index of manifests is 1).
const MAX_DEPTH: usize = 4;
/// Referrers of one image copied with it.
const MAX_REFERRERS: u32 = 1000;

/// Where an image's content goes.
#[async_trait::async_trait]
pub(super) trait ReplicaSink: Send + Sync {
    type Error: From<Error> + From<StoreError> + Send;
    /// Makes the source's blob `digest` present at the destination.
    async fn blob(&self, digest: &Digest) -> std::result::Result<(), Self::Error>;
    /// Stores a manifest at the destination under `reference`.
    async fn put(
        &self,
        reference: &Reference,
        media_type: &str,
        body: Bytes,
    ) -> std::result::Result<(), Self::Error>;
}

/// A task's image at its source.
pub(super) struct SourceImage {
    pub repo: Repo,
    pub id: RepoId,
    pub digest: Digest,
}

fn failed(code: &'static str, why: &str) -> Outcome {
    Outcome::Failed {
        code,
        why: why.to_string(),
    }
}

impl Registry {
    /// The task's image at its source, or how the task ends when it is
    /// not there (deleted since, or a task that does not parse).
    pub(super) async fn source_image(
        &self,
        t: &NewReplicationTask,
    ) -> Result<std::result::Result<SourceImage, Outcome>> {
        let (Ok(name), Ok(digest)) = (
            RepositoryName::parse(&t.repository),
            t.digest.parse::<Digest>(),
        ) else {
            return Ok(Err(failed(
                INVALID_IMAGE,
                "the task's repository or digest does not parse",
            )));
        };
        let repo = Repo {
            registry: t.source.clone(),
            name,
        };
        let Some(id) = self.find_repo_id(&repo).await? else {
            return Ok(Err(failed(
                IMAGE_NOT_FOUND,
                "the source repository was deleted",
            )));
        };
        if self.meta.get_manifest(id, &digest).await?.is_none() {
            return Ok(Err(failed(
                IMAGE_NOT_FOUND,
                "the image was deleted from the source",
            )));
        }
        Ok(Ok(SourceImage { repo, id, digest }))
    }

    /// Copies the task's image into `sink`, stored under its tag (one
    /// put) while the source's tag still names this image, else by digest.
    /// A newer push of the tag has a task of its own, queued after this
    /// one, and if the tag moved between the check and the put, the newer
    /// image is queued again (`requeue_if_moved`), so the newest push wins
    /// in any order.
    pub(super) async fn copy_image<S: ReplicaSink>(
        &self,
        t: &NewReplicationTask,
        src: &SourceImage,
        sink: &S,
    ) -> std::result::Result<(), S::Error> {
        let tag = match &t.tag {
            Some(tag)
                if self.meta.resolve_tag(src.id, tag).await?.as_ref() == Some(&src.digest) =>
            {
                Some(Reference::Tag(berth_oci::Tag::parse(tag).map_err(
                    |_| Error::InvalidTag(format!("tag {tag:?} does not parse")),
                )?))
            }
            _ => None,
        };
        let tagged = tag.is_some();
        self.copy_manifest(src, sink, &src.digest, 0, tag).await?;
        if tagged {
            self.requeue_if_moved(t, src.id).await?;
        }
        for r in self
            .meta
            .list_referrers(src.id, &src.digest, None, MAX_REFERRERS)
            .await?
        {
            self.copy_manifest(src, sink, &r.digest, 0, None).await?;
        }
        Ok(())
    }

    async fn source_manifest(
        &self,
        src: &SourceImage,
        digest: &Digest,
    ) -> Result<berth_store::StoredManifest> {
        self.bodies
            .get(&*self.meta, src.id, digest)
            .await?
            .ok_or_else(|| Error::ManifestUnknown(digest.to_string()))
    }

    /// Copies manifest `digest`, after what it references (its blobs, an
    /// index's manifests), stored under `tag` (which stores it too) or
    /// else by its digest.
    #[allow(clippy::type_complexity)]
    fn copy_manifest<'a, S: ReplicaSink>(
        &'a self,
        src: &'a SourceImage,
        sink: &'a S,
        digest: &'a Digest,
        depth: usize,
        tag: Option<Reference>,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<(), S::Error>> + Send + 'a>> {
        Box::pin(async move {
            if depth > MAX_DEPTH {
                return Err(Error::ManifestInvalid(format!(
                    "manifests nest more than {MAX_DEPTH} deep under {digest}"
                ))
                .into());
            }
            let stored = self.source_manifest(src, digest).await?;
            let manifest = Manifest::parse(&stored.body, Some(&stored.media_type))
                .map_err(|e| Error::ManifestInvalid(e.to_string()))?;
            for needs in manifest.references() {
                match needs {
                    Needs::Blob(d, _) => sink.blob(&d).await?,
                    Needs::Manifest(d, _) => {
                        self.copy_manifest(src, sink, &d, depth + 1, None).await?
                    }
                }
            }
            let reference = tag.unwrap_or_else(|| Reference::Digest(digest.clone()));
            sink.put(&reference, &stored.media_type, stored.body).await
        })
    }
}
