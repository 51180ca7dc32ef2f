//! Blob uploads: monolithic, chunked, and cross-repository mounts.
//!
//! Order of a completed upload (the invariant "visible only once durable"):
//! bytes streamed to the session's temporary object while hashed → fsync →
//! digest compared with the client's → rename to the content address and
//! fsync the directory → one metadata transaction links the blob and ends
//! the session → only then the client hears 201. On a store whose commit
//! is a copy (S3), a push whose digest comes before its bytes (POST
//! `?digest=`, or a session's only PUT) streams straight to the blob's
//! address instead, where it becomes readable only when the store's writer
//! finishes, after the digest is verified (`BlobStore::blob_writer`).

use crate::blobs::BlobInfo;
use crate::hashing::ParallelHasher;
use crate::{ByteStream, Error, Principal, Registry, Repo, Result};
use berth_oci::{Algorithm, Digest, DigestHasher, RepositoryName};
use berth_store::{BlobLink, CreateUploadOutcome, RepoId, StoreError, UploadRecord};
use futures_util::StreamExt;

/// The byte range a chunk claims (`Content-Range`), inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRange {
    pub start: u64,
    pub end: u64,
}

impl ChunkRange {
    /// How many bytes the range claims; `None` for an inverted range and
    /// for one longer than a `u64` counts (`0-18446744073709551615`), which
    /// no chunk can fill.
    pub fn claimed_len(&self) -> Option<u64> {
        self.end.checked_sub(self.start)?.checked_add(1)
    }

    /// Whether a chunk with this claim may be appended to an upload that
    /// holds `size` bytes: it must start there and claim a countable span.
    fn fits(&self, size: u64) -> bool {
        self.start == size && self.claimed_len().is_some()
    }

    /// Refuses a chunk that did not bring the bytes its range claims.
    fn check_received(&self, received: u64, what: &str) -> Result<()> {
        match self.claimed_len() {
            Some(claimed) if claimed == received => Ok(()),
            claimed => Err(Error::BlobUploadInvalid(format!(
                "Content-Range {}-{} claims {} bytes but the chunk had {received}; {what}",
                self.start,
                self.end,
                claimed.map_or_else(|| "more".to_string(), |n| n.to_string()),
            ))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadState {
    pub id: String,
    /// Bytes received so far.
    pub size: u64,
}

impl Registry {
    /// Opens an upload session (`POST /blobs/uploads/`, InitiateLayerUpload)
    /// for `by` (`None`: anonymous), unless the repository or `by` already
    /// has as many open as `RegistryConfig::upload_sessions` allows.
    pub async fn start_upload(&self, repo: &Repo, by: Option<&Principal>) -> Result<UploadState> {
        let repo_id = self.repo_id_for_push(repo).await?;
        let now = self.now();
        let id = uuid::Uuid::new_v4().to_string();
        let outcome = self
            .meta
            .create_upload(
                &UploadRecord {
                    id: id.clone(),
                    repository: repo_id,
                    size: 0,
                    started_at: now,
                    updated_at: now,
                    started_by: by.map(|p| format!("{}:{}", p.account_id, p.user)),
                    hash_state: None,
                },
                self.config.upload_sessions,
            )
            .await?;
        let too_many = |by_principal, open| Error::TooManyUploads {
            by_principal,
            repository: repo.name.to_string(),
            open,
            expiry_hours: self.config.upload_expiry.as_secs() / 3600,
        };
        match outcome {
            CreateUploadOutcome::Created => Ok(UploadState { id, size: 0 }),
            CreateUploadOutcome::RepositoryFull(open) => Err(too_many(false, open)),
            CreateUploadOutcome::PrincipalFull(open) => Err(too_many(true, open)),
        }
    }

    /// A whole blob in one request (`POST /blobs/uploads/?digest=`).
    pub async fn upload_blob(
        &self,
        repo: &Repo,
        digest: &Digest,
        body: ByteStream,
    ) -> Result<BlobInfo> {
        let repo_id = self.repo_id_for_push(repo).await?;
        let store = self.repo_blobs(&repo.registry, repo.name.as_str()).await?;
        if let Some(writer) = store.blob_writer(digest).await? {
            let size = self
                .write_direct(writer, digest, body, None, None, repo_id)
                .await?;
            return Ok(BlobInfo {
                digest: digest.clone(),
                size,
            });
        }
        let id = uuid::Uuid::new_v4().to_string();
        let hasher = DigestHasher::new(digest.algorithm());
        let outcome = async {
            let (size, hasher) = self.write_body(&id, 0, hasher, body).await?;
            verify(hasher, digest)?;
            Ok(size)
        }
        .await;
        let size = match outcome {
            Ok(size) => size,
            Err(e) => {
                self.discard_temp(&id).await;
                return Err(e);
            }
        };
        let lock = match self.digest_locks.lock(digest.as_str()).await {
            Ok(lock) => lock,
            Err(e) => {
                self.discard_temp(&id).await;
                return Err(e.into());
            }
        };
        if let Err(e) = store.commit_upload(&id, digest).await {
            self.discard_temp(&id).await;
            return Err(e.into());
        }
        self.link_committed(repo_id, None, digest, size, lock)
            .await?;
        Ok(BlobInfo {
            digest: digest.clone(),
            size,
        })
    }

    /// Links a pushed blob whose bytes are in place, under the digest's
    /// lock, to the repository, ending `session` if it came through one.
    async fn link_committed(
        &self,
        repo_id: RepoId,
        session: Option<&str>,
        digest: &Digest,
        size: u64,
        mut lock: crate::locks::KeyedGuard<'_>,
    ) -> Result<()> {
        self.committed_over_archive(digest).await?;
        // Linking makes the bytes in place a blob the client relies on; if
        // the lock was lost meanwhile, GC on another node may be deleting
        // them: refuse (503), the client pushes again.
        lock.confirm().await?;
        let seen = self.cache.generation();
        let now = self.now();
        match session {
            Some(id) => {
                self.meta
                    .complete_upload(id, repo_id, digest, size, now)
                    .await?
            }
            None => self.meta.link_blob(repo_id, digest, size, now).await?,
        }
        // Pushed blobs are usually pulled soon (CI pushes, then deploys).
        self.cache.fill_blob(seen, repo_id, digest, link(size, now));
        Ok(())
    }

    /// Streams a push whose digest is known into the blob store's direct
    /// `writer` (S3: no upload to copy from at the end), hashing beside it;
    /// once the bytes match `range` (if claimed) and the digest, and the
    /// digest is locked, finishes it and links the blob, ending `session`
    /// if the push came through one. Otherwise the writer is dropped and
    /// nothing was stored. The blob's size.
    async fn write_direct(
        &self,
        mut writer: Box<dyn berth_store::UploadWriter>,
        digest: &Digest,
        body: ByteStream,
        range: Option<ChunkRange>,
        session: Option<&str>,
        repo_id: RepoId,
    ) -> Result<u64> {
        let mut hashing = ParallelHasher::start(DigestHasher::new(digest.algorithm()));
        let size = stream_into(body, writer.as_mut(), &mut hashing).await?;
        if let Some(r) = range {
            r.check_received(size, "the upload was not completed")?;
        }
        verify(hashing.finish().await, digest)?;
        let lock = self.digest_locks.lock(digest.as_str()).await?;
        writer.finish().await?;
        self.link_committed(repo_id, session, digest, size, lock)
            .await?;
        Ok(size)
    }

    /// Links a blob that repository `from` holds (`POST ?mount=&from=`).
    /// `None` when it cannot be mounted; the caller then opens a session.
    pub async fn mount_blob(
        &self,
        repo: &Repo,
        from: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<BlobInfo>> {
        if !self.settings.blob_mounting_enabled(&repo.registry).await? {
            return Ok(None);
        }
        let source = Repo {
            registry: repo.registry.clone(),
            name: from.clone(),
        };
        let Some(from_id) = self.find_repo_id(&source).await? else {
            return Ok(None);
        };
        self.link_blob_from(repo, &source, from_id, digest).await
    }

    /// Links into `repo` the blob `digest` that `source` (`from_id`, of any
    /// registry) links: what a mount and replication do. `None` when the
    /// source does not link it or its bytes are archived.
    pub(crate) async fn link_blob_from(
        &self,
        repo: &Repo,
        source: &Repo,
        from_id: RepoId,
        digest: &Digest,
    ) -> Result<Option<BlobInfo>> {
        // A mount links the bytes the source's key domain holds; across
        // domains they are copied (opened under the source's key, sealed
        // under the target's: the caller may use both, `/v2` asked).
        let source_key = self
            .identity
            .repository_kms_key(&source.registry, source.name.as_str())
            .await?;
        let target_key = self
            .identity
            .repository_kms_key(&repo.registry, repo.name.as_str())
            .await?;
        if source_key != target_key {
            return self
                .mount_across_domains(repo, source, from_id, digest)
                .await;
        }
        let repo_id = self.repo_id_for_push(repo).await?;
        let seen = self.cache.generation();
        let now = self.now();
        let size = self
            .meta
            .link_existing_blob(repo_id, from_id, digest, now)
            .await?;
        if let Some(size) = size {
            self.cache.fill_blob(seen, repo_id, digest, link(size, now));
        }
        Ok(size.map(|size| BlobInfo {
            digest: digest.clone(),
            size,
        }))
    }

    /// A mount from a repository of another key domain: the source's copy
    /// is copied into the target's domain (unless it holds the digest
    /// already), under the digest's lock, then linked as a pushed blob is.
    /// `None` (the client uploads) when the source does not link the blob or
    /// its bytes are archived.
    async fn mount_across_domains(
        &self,
        repo: &Repo,
        source: &Repo,
        from_id: RepoId,
        digest: &Digest,
    ) -> Result<Option<BlobInfo>> {
        let Some(linked) = self.meta.blob_link(from_id, digest).await? else {
            return Ok(None);
        };
        let repo_id = self.repo_id_for_push(repo).await?;
        let from = self
            .repo_blobs(&source.registry, source.name.as_str())
            .await?;
        let to = self.repo_blobs(&repo.registry, repo.name.as_str()).await?;
        let lock = self.digest_locks.lock(digest.as_str()).await?;
        if to.stat(digest).await?.is_none() {
            // The source's domain, or the AES256 store for a repository put
            // under a key before key domains existed.
            let src = if from.stat(digest).await?.is_some() {
                from
            } else if self.blobs.stat(digest).await?.is_some() {
                self.blobs.clone()
            } else {
                return Ok(None);
            };
            berth_store::copy_blob(&*src, &*to, digest, linked.size, false).await?;
        }
        self.link_committed(repo_id, None, digest, linked.size, lock)
            .await?;
        Ok(Some(BlobInfo {
            digest: digest.clone(),
            size: linked.size,
        }))
    }

    /// Appends a chunk (`PATCH`). A chunk that claims a range must start
    /// where the upload ends and be exactly as long as it claims.
    pub async fn append_upload(
        &self,
        repo: &Repo,
        id: &str,
        range: Option<ChunkRange>,
        body: ByteStream,
    ) -> Result<UploadState> {
        let repo_id = self.repo_id(repo).await?;
        let _guard = self.upload_locks.lock(id).await?;
        let up = self.upload(repo_id, id).await?;
        if let Some(r) = range {
            if !r.fits(up.size) {
                return Err(Error::RangeNotSatisfiable { size: up.size });
            }
        }
        let hasher = self.hasher_at(&up).await?;
        let (size, hasher) = self.write_body(id, up.size, hasher, body).await?;
        if let Some(r) = range {
            r.check_received(size - up.size, "the chunk was not stored")?;
        }
        // The state goes with the size, so the next request continues the
        // hash on whichever node it lands (each byte is hashed once).
        let state = hasher.state(size);
        if !self
            .meta
            .set_upload_size(id, up.size, size, &state, self.now())
            .await?
        {
            return Err(Error::BlobUploadUnknown(id.to_string()));
        }
        Ok(UploadState {
            id: id.to_string(),
            size,
        })
    }

    /// Where an upload stands (`GET` on the session).
    pub async fn upload_status(&self, repo: &Repo, id: &str) -> Result<UploadState> {
        let repo_id = self.repo_id(repo).await?;
        let up = self.upload(repo_id, id).await?;
        Ok(UploadState {
            id: up.id,
            size: up.size,
        })
    }

    /// Ends an upload (`PUT ?digest=`), with an optional last chunk, which
    /// may claim its range as a `PATCH` chunk does.
    pub async fn complete_upload(
        &self,
        repo: &Repo,
        id: &str,
        digest: &Digest,
        range: Option<ChunkRange>,
        last_chunk: Option<ByteStream>,
    ) -> Result<BlobInfo> {
        let repo_id = self.repo_id(repo).await?;
        let _guard = self.upload_locks.lock(id).await?;
        let up = self.upload(repo_id, id).await?;
        if let Some(r) = range {
            if !r.fits(up.size) {
                return Err(Error::RangeNotSatisfiable { size: up.size });
            }
        }
        let store = self.repo_blobs(&repo.registry, repo.name.as_str()).await?;
        let last_chunk = match last_chunk {
            // The session's first and only bytes (POST, then PUT with the
            // blob), whose digest is known: straight to the blob where the
            // store can.
            Some(body) if up.size == 0 => match store.blob_writer(digest).await? {
                Some(writer) => {
                    return self
                        .complete_direct(repo_id, &up, digest, range, writer, body)
                        .await
                }
                None => Some(body),
            },
            other => other,
        };
        let hasher = self.hasher_at(&up).await?;
        let outcome = async {
            // The temporary file exists only once something was written; an
            // empty blob still needs one to become the blob.
            let (size, hasher) = match last_chunk {
                Some(body) => self.write_body(id, up.size, hasher, body).await?,
                None if up.size == 0 => {
                    self.write_body(id, 0, hasher, futures_util::stream::empty().boxed())
                        .await?
                }
                None => (up.size, hasher),
            };
            // A claimed range must have come with its bytes, body or not.
            if let Some(r) = range {
                r.check_received(size - up.size, "the upload was not completed")?;
            }
            // Sessions hash in sha256 (the algorithm is unknown until now); a
            // sha512 digest is checked by reading the bytes once more, as
            // CNCF Distribution does.
            let hasher = if hasher.algorithm() == digest.algorithm() {
                hasher
            } else {
                self.hash_upload(id, size, digest.algorithm()).await?
            };
            verify(hasher, digest)?;
            Ok(size)
        }
        .await;
        let size = self.end_session_on_mismatch(id, outcome).await?;
        let lock = self.digest_locks.lock(digest.as_str()).await?;
        store.commit_upload(id, digest).await?;
        self.link_committed(repo_id, Some(id), digest, size, lock)
            .await?;
        Ok(BlobInfo {
            digest: digest.clone(),
            size,
        })
    }

    /// Completes session `up`, which holds no bytes, with the whole blob in
    /// `body`, through the store's direct writer (`complete_upload`).
    async fn complete_direct(
        &self,
        repo_id: RepoId,
        up: &UploadRecord,
        digest: &Digest,
        range: Option<ChunkRange>,
        writer: Box<dyn berth_store::UploadWriter>,
        body: ByteStream,
    ) -> Result<BlobInfo> {
        let written = self
            .write_direct(writer, digest, body, range, Some(&up.id), repo_id)
            .await;
        let size = self.end_session_on_mismatch(&up.id, written).await?;
        // An earlier request of the session may have left an empty object
        // (the sweep of abandoned uploads would remove it too).
        self.discard_temp(&up.id).await;
        Ok(BlobInfo {
            digest: digest.clone(),
            size,
        })
    }

    /// Passes `outcome` on; a digest the bytes do not match also ends
    /// session `id`: the client declared other content than it sent, so
    /// nothing of it is kept.
    async fn end_session_on_mismatch(&self, id: &str, outcome: Result<u64>) -> Result<u64> {
        if let Err(Error::DigestInvalid(_)) = &outcome {
            self.meta.delete_upload(id).await?;
            self.discard_temp(id).await;
        }
        outcome
    }

    /// Abandons an upload (`DELETE` on the session).
    pub async fn cancel_upload(&self, repo: &Repo, id: &str) -> Result<()> {
        let repo_id = self.repo_id(repo).await?;
        let _guard = self.upload_locks.lock(id).await?;
        self.upload(repo_id, id).await?;
        self.remove_upload(id).await
    }

    pub(crate) async fn remove_upload(&self, id: &str) -> Result<()> {
        self.meta.delete_upload(id).await?;
        self.blobs.delete_upload(id).await?;
        Ok(())
    }

    pub(crate) async fn lock_upload(&self, id: &str) -> Result<crate::locks::KeyedGuard<'_>> {
        Ok(self.upload_locks.lock(id).await?)
    }

    async fn upload(&self, repo_id: RepoId, id: &str) -> Result<UploadRecord> {
        match self.meta.get_upload(id).await? {
            Some(up) if up.repository == repo_id => Ok(up),
            _ => Err(Error::BlobUploadUnknown(id.to_string())),
        }
    }

    /// Streams `body` into upload `id` from `offset`, hashing as it goes
    /// (on its own thread: `hashing.rs`); returns the upload's new size once
    /// the bytes are durable, and the hash state.
    async fn write_body(
        &self,
        id: &str,
        offset: u64,
        hasher: DigestHasher,
        body: ByteStream,
    ) -> Result<(u64, DigestHasher)> {
        let mut writer = self
            .blobs
            .upload_writer(id, offset)
            .await
            .map_err(upload_error(id))?;
        let mut hashing = ParallelHasher::start(hasher);
        stream_into(body, writer.as_mut(), &mut hashing).await?;
        let (size, hasher) = tokio::join!(writer.finish(), hashing.finish());
        Ok((size?, hasher))
    }

    /// The SHA-256 state after the session's acknowledged bytes: the one its
    /// row carries, else (a session older than the column) re-read.
    async fn hasher_at(&self, up: &UploadRecord) -> Result<DigestHasher> {
        if let Some(h) = up
            .hash_state
            .as_deref()
            .and_then(|s| DigestHasher::from_state(s, up.size))
        {
            return Ok(h);
        }
        self.hash_upload(&up.id, up.size, Algorithm::Sha256).await
    }

    /// Hashes the first `size` bytes of upload `id` from the store.
    async fn hash_upload(&self, id: &str, size: u64, algorithm: Algorithm) -> Result<DigestHasher> {
        let mut h = DigestHasher::new(algorithm);
        if size > 0 {
            let mut r = self
                .blobs
                .read_upload(id, size)
                .await
                .map_err(upload_error(id))?;
            while let Some(chunk) = r.stream.next().await {
                h.update(&chunk.map_err(StoreError::Io)?);
            }
        }
        Ok(h)
    }

    async fn discard_temp(&self, id: &str) {
        if let Err(e) = self.blobs.delete_upload(id).await {
            tracing::warn!(upload = id, error = %e, "could not remove an upload's temporary data; the next start will");
        }
    }
}

/// Feeds `body` to `writer` and, beside it, to `hashing`: the bytes fed.
async fn stream_into(
    mut body: ByteStream,
    writer: &mut dyn berth_store::UploadWriter,
    hashing: &mut ParallelHasher,
) -> Result<u64> {
    let mut fed = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(Error::BodyRead)?;
        fed += chunk.len() as u64;
        hashing.update(chunk.clone()).await;
        writer.write(chunk).await?;
    }
    Ok(fed)
}

fn link(size: u64, linked_at: i64) -> BlobLink {
    BlobLink { size, linked_at }
}

fn verify(hasher: DigestHasher, declared: &Digest) -> Result<()> {
    let actual = hasher.finish();
    if &actual == declared {
        Ok(())
    } else {
        Err(Error::DigestInvalid(format!(
            "the uploaded content has digest {actual}, not the declared {declared}; nothing was stored"
        )))
    }
}

/// A session whose temporary object is gone is, to the client, an unknown upload.
fn upload_error(id: &str) -> impl FnOnce(StoreError) -> Error + '_ {
    move |e| match e {
        StoreError::UploadNotFound(_) => Error::BlobUploadUnknown(id.to_string()),
        other => other.into(),
    }
}
