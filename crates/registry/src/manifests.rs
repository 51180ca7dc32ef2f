//! Pushing, pulling and deleting manifests.

use crate::cache::CachedManifest;
use crate::{Error, Registry, Repo, Result};
use berth_oci::manifest::{Manifest, ManifestError, Reference as Needs, MAX_MANIFEST_BYTES};
use berth_oci::{media_type, Algorithm, Digest, Reference};
use berth_store::{
    DeleteManifestOutcome, ImageStatus, NewManifest, PutManifestOutcome, RepoId, UntagOutcome,
};
use bytes::Bytes;
use std::sync::Arc;

/// Who stores a manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A `/v2` PUT: an image already stored is stored again (a no-op).
    Push,
    /// ECR's PutImage: an image already stored is `ImageAlreadyExists`.
    PutImage,
    /// Replication into a destination: as a push, but never replicated on.
    Replication,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutManifest {
    pub digest: Digest,
    /// The manifest's media type (its `mediaType`, else the Content-Type).
    pub media_type: String,
    pub subject: Option<Digest>,
}

#[derive(Clone, Debug)]
pub struct ManifestRead {
    pub digest: Digest,
    pub body: Bytes,
    /// Where it was read from, for `record_pull`.
    repo: RepoId,
    entry: Arc<CachedManifest>,
}

impl ManifestRead {
    pub fn media_type(&self) -> &str {
        &self.entry.stored.media_type
    }

    /// The cached manifest's memo (`CachedManifest::memo`).
    pub fn memo(&self) -> &std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>> {
        &self.entry.memo
    }
}

impl Registry {
    /// Stores a manifest byte for byte under its digest and, when pushed by
    /// tag, points the tag at it; all in one transaction that first checks
    /// that everything the manifest references is in the repository.
    pub async fn put_manifest(
        &self,
        repo: &Repo,
        reference: &Reference,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<PutManifest> {
        self.store_manifest(repo, reference, content_type, body, Origin::Push)
            .await
    }

    /// A `/v2` PUT that another deployment's replication sends (marked
    /// `X-Berth-Replica`): stored as a push is, never replicated on (no
    /// chains, as on ECR), so two deployments that replicate to each other
    /// do not bounce an image between them forever. The caller is
    /// authorized as for any push.
    pub async fn put_replica_manifest(
        &self,
        repo: &Repo,
        reference: &Reference,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<PutManifest> {
        self.store_manifest(repo, reference, content_type, body, Origin::Replication)
            .await
    }

    /// ECR's PutImage: as [`put_manifest`](Self::put_manifest), but an
    /// image already there under the tag (or, pushed without one, at all)
    /// is `ImageAlreadyExists`, decided inside the write's transaction so
    /// that of two identical PutImage calls at once exactly one stores.
    pub async fn put_image(
        &self,
        repo: &Repo,
        reference: &Reference,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<PutManifest> {
        self.store_manifest(repo, reference, content_type, body, Origin::PutImage)
            .await
    }

    pub(crate) async fn store_manifest(
        &self,
        repo: &Repo,
        reference: &Reference,
        content_type: Option<&str>,
        body: Bytes,
        origin: Origin,
    ) -> Result<PutManifest> {
        let refuse_existing = origin == Origin::PutImage;
        if body.len() > MAX_MANIFEST_BYTES {
            return Err(Error::ManifestTooLarge {
                size: body.len(),
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let manifest = Manifest::parse(&body, content_type).map_err(|e| match e {
            ManifestError::Json(_)
            | ManifestError::Invalid(_)
            | ManifestError::Schema1
            | ManifestError::UnsupportedMediaType(_) => Error::ManifestInvalid(e.to_string()),
        })?;
        let algorithm = match reference {
            Reference::Digest(d) => d.algorithm(),
            Reference::Tag(_) => Algorithm::Sha256,
        };
        let digest = Digest::of_bytes(algorithm, &body);
        if let Reference::Digest(claimed) = reference {
            if claimed != &digest {
                return Err(Error::DigestInvalid(format!(
                    "the manifest's content has digest {digest}, not {claimed} as the URL says"
                )));
            }
        }
        let (mut blob_refs, mut manifest_refs) = (Vec::new(), Vec::new());
        for r in manifest.references() {
            match r {
                Needs::Blob(d, size) => blob_refs.push((d, size)),
                Needs::Manifest(d, size) => manifest_refs.push((d, size)),
            }
        }
        let tag = match reference {
            Reference::Tag(t) => Some(t.as_str()),
            Reference::Digest(_) => None,
        };
        let subject = manifest.subject.as_ref().map(|s| s.digest.clone());
        let repo_id = self.repo_id_for_push(repo).await?;
        // Read once for tag immutability and scan on push.
        let record = self
            .meta
            .get_repository(&repo.registry, repo.name.as_str())
            .await?;
        let tag_immutable = match (tag, &record) {
            (Some(t), Some(r)) => crate::repositories::tag_is_immutable(r, t),
            _ => false,
        };
        let kms_key = record.as_ref().and_then(|r| r.kms_key.as_deref());
        let sealed = self.bodies.seal_for(kms_key, &digest, &body).await?;
        let new_manifest = || NewManifest {
            digest: &digest,
            media_type: &manifest.media_type,
            body: &sealed.stored,
            repository_body: sealed.repository_body,
            size: body.len() as u64,
            artifact_type: manifest.artifact_type.as_deref(),
            annotations: manifest.annotations.as_deref(),
            subject: subject.as_ref(),
            blob_refs: &blob_refs,
            manifest_refs: &manifest_refs,
            tag,
            tag_immutable,
            refuse_existing,
            now: self.now(),
        };
        let mut outcome = self.meta.put_manifest(repo_id, new_manifest()).await?;
        // A push that needs archived blobs or manifests (a re-push of an
        // archived image) restores them, then stores. An archive run may
        // take them again in between; a few rounds settle it.
        for _ in 0..3 {
            let PutManifestOutcome::Archived { blobs, manifests } = &outcome else {
                break;
            };
            self.restore_for_push(repo_id, blobs, manifests).await?;
            outcome = self.meta.put_manifest(repo_id, new_manifest()).await?;
        }
        match outcome {
            PutManifestOutcome::MissingReferences(missing) => {
                Err(Error::ManifestBlobUnknown(missing))
            }
            // A descriptor's size is the size of the content it names
            // (OCI image spec, "Descriptors"): a client that declares
            // another one would be handed a size that its pull then
            // contradicts.
            PutManifestOutcome::WrongSizes(wrong) => Err(Error::ManifestInvalid(format!(
                "the manifest's descriptors declare sizes that the content they name does not have: {}",
                wrong
                    .iter()
                    .map(|(d, declared, stored)| format!(
                        "{d} is declared as {declared} bytes but has {stored}"
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))),
            PutManifestOutcome::Archived { .. } => Err(Error::Conflict(format!(
                "the manifest's references kept moving to the archive storage class while {digest} was pushed; push it again"
            ))),
            PutManifestOutcome::TagImmutable => Err(Error::TagImmutable {
                tag: tag.unwrap_or_default().to_string(),
                repository: repo.name.to_string(),
            }),
            PutManifestOutcome::AlreadyExists => Err(Error::ImageAlreadyExists {
                digest,
                tag: tag.map(str::to_string),
                repository: repo.name.to_string(),
            }),
            PutManifestOutcome::Stored { .. } => {
                // The digest too: a re-push may have restored an archived image.
                let tags: Vec<String> = tag.iter().map(|t| t.to_string()).collect();
                self.cache.invalidate(repo_id, &tags, &[&digest]);
                let scan_on_push = record.as_ref().is_some_and(|r| r.scan_on_push);
                self.scan_after_push(
                    repo,
                    repo_id,
                    scan_on_push,
                    &digest,
                    &manifest.media_type,
                    &body,
                )
                .await;
                // What replication stores does not replicate again (no
                // chains, as on ECR).
                if origin != Origin::Replication {
                    self.enqueue_replication(repo, &digest, tag).await?;
                }
                Ok(PutManifest {
                    digest,
                    media_type: manifest.media_type,
                    subject,
                })
            }
        }
    }

    /// Reads a manifest by tag or digest. `accept` holds the request's
    /// `Accept` values; a client that lists manifest types but not the
    /// stored one is told the manifest is unknown to it.
    pub async fn get_manifest(
        &self,
        repo: &Repo,
        reference: &Reference,
        accept: &[&str],
    ) -> Result<ManifestRead> {
        let repo_id = self.repo_id(repo).await?;
        let digest = match reference {
            Reference::Digest(d) => d.clone(),
            Reference::Tag(t) => self
                .resolve_tag(repo_id, t.as_str())
                .await?
                .ok_or_else(|| Error::ManifestUnknown(t.to_string()))?,
        };
        let m = self
            .load_manifest(repo_id, &digest)
            .await?
            .ok_or_else(|| Error::ManifestUnknown(reference.to_string()))?;
        if m.stored.status != ImageStatus::Active {
            return Err(Error::ImageArchived {
                reference: reference.to_string(),
                status: m.stored.status,
            });
        }
        if !media_type::accepts(accept.iter().copied(), &m.stored.media_type) {
            return Err(Error::ManifestUnknown(format!(
                "{reference} is a {} manifest, which the request's Accept header does not allow",
                m.stored.media_type
            )));
        }
        Ok(ManifestRead {
            digest,
            body: m.stored.body.clone(),
            repo: repo_id,
            entry: m,
        })
    }

    /// Notes that a manifest read was a pull (a `GET`, not a `HEAD`). Pull
    /// times are kept to the second: only the first pull of an image in a
    /// second reaches the pull log.
    pub fn record_pull(&self, m: &ManifestRead) {
        let now = self.now();
        if m.entry.first_pull_in(now.div_euclid(1000)) {
            self.pulls.record(m.repo, &m.digest, now);
        }
    }

    /// `DELETE` of a manifest. By digest: the image and every tag that
    /// points at it. By tag: the tag, and the image too when that was its
    /// last tag (as ECR's BatchDeleteImage does), unless an index in the
    /// repository still lists it. Replication rules with
    /// `deleteReplication` carry it to their destinations.
    pub async fn delete_manifest(&self, repo: &Repo, reference: &Reference) -> Result<()> {
        self.remove_manifest(repo, reference, Origin::Push).await
    }

    /// A `DELETE` that another deployment's replication sends (marked
    /// `X-Berth-Replica`): as [`delete_manifest`](Self::delete_manifest),
    /// never carried on.
    pub async fn delete_replica_manifest(&self, repo: &Repo, reference: &Reference) -> Result<()> {
        self.remove_manifest(repo, reference, Origin::Replication)
            .await
    }

    pub(crate) async fn remove_manifest(
        &self,
        repo: &Repo,
        reference: &Reference,
        origin: Origin,
    ) -> Result<()> {
        let repo_id = self.repo_id(repo).await?;
        let digest = match reference {
            Reference::Digest(d) => d,
            Reference::Tag(t) => {
                return match self.meta.untag(repo_id, t.as_str()).await? {
                    UntagOutcome::NotFound => Err(Error::ManifestUnknown(t.to_string())),
                    UntagOutcome::Untagged {
                        digest,
                        image_deleted,
                    } => {
                        let gone = if image_deleted { vec![&digest] } else { vec![] };
                        self.cache.invalidate(repo_id, &[t.to_string()], &gone);
                        if origin != Origin::Replication {
                            let untagged = (!image_deleted).then_some(t.as_str());
                            self.enqueue_deletion(
                                &repo.registry,
                                repo.name.as_str(),
                                &[&digest],
                                untagged,
                            )
                            .await?;
                        }
                        Ok(())
                    }
                };
            }
        };
        match self.meta.delete_manifest(repo_id, digest).await? {
            DeleteManifestOutcome::NotFound => Err(Error::ManifestUnknown(digest.to_string())),
            DeleteManifestOutcome::ReferencedBy(index) => Err(Error::Conflict(format!(
                "manifest {digest} is listed by index {index} in this repository; delete the index first"
            ))),
            DeleteManifestOutcome::Deleted { tags } => {
                self.cache.invalidate(repo_id, &tags, &[digest]);
                if origin != Origin::Replication {
                    self.enqueue_deletion(&repo.registry, repo.name.as_str(), &[digest], None)
                        .await?;
                }
                Ok(())
            }
        }
    }

    pub(crate) async fn resolve_tag(&self, repo_id: RepoId, tag: &str) -> Result<Option<Digest>> {
        if let Some(d) = self.cache.tag(repo_id, tag) {
            return Ok(Some(d));
        }
        let seen = self.cache.generation();
        let d = self.meta.resolve_tag(repo_id, tag).await?;
        if let Some(d) = &d {
            self.cache.fill_tag(seen, repo_id, tag, d.clone());
        }
        Ok(d)
    }

    pub(crate) async fn load_manifest(
        &self,
        repo_id: RepoId,
        digest: &Digest,
    ) -> Result<Option<Arc<CachedManifest>>> {
        if let Some(m) = self.cache.manifest(repo_id, digest) {
            return Ok(Some(m));
        }
        let seen = self.cache.generation();
        let m = self
            .bodies
            .get(&*self.meta, repo_id, digest)
            .await?
            .map(|m| Arc::new(CachedManifest::new(m)));
        if let Some(m) = &m {
            self.cache.fill_manifest(seen, repo_id, digest, m.clone());
        }
        Ok(m)
    }
}
