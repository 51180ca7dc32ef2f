use crate::sealed::Keyring;
use crate::{Result, StoreError};
use async_trait::async_trait;
use berth_oci::{Algorithm, Digest, DigestHasher};
use bytes::Bytes;
use futures_util::stream::BoxStream;

/// Modes of what the filesystem blob store creates: the owner only,
/// whatever the process's umask (an umask only removes bits, so these stay
/// as they are).
pub const PRIVATE_DIR: u32 = 0o700;
pub const PRIVATE_FILE: u32 = 0o600;

/// A readable blob: its length and a stream of its bytes.
pub struct BlobReader {
    pub len: u64,
    pub stream: BoxStream<'static, std::io::Result<Bytes>>,
}

/// Content-addressed bytes plus the temporary objects that upload sessions
/// write into. Implementations must make a committed blob durable before
/// `commit_upload` returns.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Opens upload `id` for appending at `offset`, discarding anything
    /// stored past `offset` (bytes from a request that was never acknowledged).
    /// Creates the temporary object when `offset` is 0.
    async fn upload_writer(&self, id: &str, offset: u64) -> Result<Box<dyn UploadWriter>>;

    /// Streams the first `len` bytes of an upload (to rebuild a hash state
    /// that this process does not hold, e.g. after a restart).
    async fn read_upload(&self, id: &str, len: u64) -> Result<BlobReader>;

    /// Makes upload `id` the blob `digest`: atomically and durably. If the
    /// blob is already stored, the stored copy stays and the upload's data is
    /// discarded (possibly in the background). Either way the upload's
    /// temporary object is no longer usable afterwards.
    async fn commit_upload(&self, id: &str, digest: &Digest) -> Result<()>;

    /// A writer straight to the blob `digest`, for a push whose digest is
    /// known before its bytes (a monolithic upload): nothing is readable at
    /// the blob's address until `finish`, which the caller calls only once
    /// it has verified the bytes and holds the digest's lock, and which
    /// makes the blob durable (replacing a stored copy with identical
    /// bytes, if there is one); dropped before `finish`, it leaves nothing.
    /// `None` where an upload and a commit cost no more (the filesystem's
    /// commit is a rename); S3's commit is a server-side copy of every byte.
    async fn blob_writer(&self, _digest: &Digest) -> Result<Option<Box<dyn UploadWriter>>> {
        Ok(None)
    }

    /// Whether blob `digest` is stored in plaintext although this store
    /// seals what it writes (a blob from before encryption at rest). A
    /// store without keys, or a blob that is absent, says `false`.
    async fn is_plaintext(&self, _digest: &Digest) -> Result<bool> {
        Ok(false)
    }

    /// Seals blob `digest` in place if it is stored in plaintext (from
    /// before encryption at rest): its bytes, checked against the digest,
    /// are written sealed and replace the plaintext atomically, so readers
    /// see one or the other, never a mix. Returns the bytes sealed, `None`
    /// when there was nothing to do (sealed already, absent, or a store
    /// without keys). The caller holds the digest's lock.
    async fn reseal(&self, _digest: &Digest) -> Result<Option<u64>> {
        Ok(None)
    }

    /// Re-wraps blob `digest`'s data key under the keyring's current root
    /// generation when an older one wrapped it (a root rotation,
    /// ARCHITECTURE.md "Root rotation"): the data key and every segment
    /// stay as they are, only the header is new (filesystem: rewritten in
    /// place and synced; S3: the object written again, its body streamed
    /// through unchanged, replacing the old one when complete). Plaintext,
    /// absent, current, or a KMS key's domain (whose KEK is no root's):
    /// nothing to do. The caller holds the digest's lock. Returns whether
    /// it re-wrapped.
    async fn rewrap(&self, _digest: &Digest) -> Result<bool> {
        Ok(false)
    }

    /// The uploads in progress whose data keys an older root generation
    /// wrapped: re-wrapped when `rewrite` (only with no server running: a
    /// live upload's header is its commit's to rewrite), else counted.
    /// Returns (re-wrapped, left).
    async fn rewrap_uploads(&self, _rewrite: bool) -> Result<(u64, u64)> {
        Ok((0, 0))
    }

    /// The same store's key domain `keys.domain_name()` (`kms/<key id>`):
    /// the same uploads, its blobs in a place of their own, sealed under
    /// `keys` (`Keyring::domain`), so a digest stored in two domains is two
    /// objects under two keys. A store that does not seal refuses (a domain
    /// exists to be sealed under its key).
    async fn domain(&self, keys: std::sync::Arc<Keyring>) -> Result<std::sync::Arc<dyn BlobStore>>;

    /// The KMS key domains this store holds a place for (their names, as
    /// `Keyring::domain` took them): garbage collection and fsck walk each.
    async fn domains(&self) -> Result<Vec<String>>;

    /// Removes an upload's temporary object (absent is fine).
    async fn delete_upload(&self, id: &str) -> Result<()>;

    /// Every upload present in the store: its id and when its data was last
    /// written (Unix ms; the newest of its objects). Orphans are swept by
    /// it: on a shared store, a monolithic upload in flight on another node
    /// owns no session row, so only its age tells it from one a dead node
    /// left.
    async fn upload_objects(&self) -> Result<Vec<(String, i64)>>;

    /// Size of a stored blob, or `None`.
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>>;

    /// Reads `len` bytes of a blob from `offset`; `None` if the blob is absent.
    async fn read(&self, digest: &Digest, offset: u64, len: u64) -> Result<Option<BlobReader>>;

    /// Stored blobs of `algorithm` whose hex starts with the two hex digits
    /// of `shard`, with their last-modified time (Unix ms). Garbage
    /// collection sweeps, one shard at a time, files no record owns.
    async fn blobs_in_shard(&self, algorithm: Algorithm, shard: u8) -> Result<Vec<(Digest, i64)>>;

    /// Size of an upload's temporary object, or `None` if it has none.
    async fn upload_size(&self, id: &str) -> Result<Option<u64>>;

    /// Where a blob is kept, for reports (a path, a URL): not an address
    /// anyone should parse.
    fn blob_location(&self, digest: &Digest) -> String;

    /// Where an upload's temporary object is kept, for reports.
    fn upload_location(&self, id: &str) -> String;

    /// Removes a blob's bytes. Only garbage collection and `berth fsck
    /// --repair` (files no record owns) call this.
    async fn delete(&self, digest: &Digest) -> Result<()>;

    /// Checks that the store is reachable and writable.
    async fn ping(&self) -> Result<()>;

    /// A URL that GETs the blob's bytes from the store itself, without
    /// credentials, for `expires`: `None` where the store cannot make one
    /// (the filesystem). Whether the blob exists is not checked.
    async fn download_url(
        &self,
        _digest: &Digest,
        _expires: std::time::Duration,
    ) -> Result<Option<String>> {
        Ok(None)
    }
}

/// Appends bytes to an upload. Dropping a writer without `finish` abandons
/// whatever was written (the session's recorded size does not move).
#[async_trait]
pub trait UploadWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> Result<()>;
    /// Makes everything written durable and returns the upload's new size.
    async fn finish(self: Box<Self>) -> Result<u64>;
}

/// An upload id as every blob store accepts it, else `UploadNotFound`. Ids
/// come from URLs: hex digits and dashes only, so one can never name
/// anything but its own file or prefix in the uploads area.
pub(crate) fn checked_upload_id(id: &str) -> Result<&str> {
    let safe =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if safe {
        Ok(id)
    } else {
        Err(StoreError::UploadNotFound(id.to_string()))
    }
}

/// Key domains are `kms/<account>.<region>.<key id>` (letters, digits,
/// dashes, and the two dots), the path or prefix their blobs live under:
/// nothing else is accepted, so a domain can never name a place outside
/// its own.
pub const DOMAIN_PREFIX: &str = "kms/";

pub(crate) fn checked_domain(name: &str) -> Result<&str> {
    let id = name.strip_prefix(DOMAIN_PREFIX).unwrap_or("");
    let parts: Vec<&str> = id.split('.').collect();
    let safe = id.len() <= 160
        && parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if safe {
        Ok(name)
    } else {
        Err(StoreError::Corrupt(format!("{name:?} is not a key domain")))
    }
}

/// A domain asked of a store that writes plaintext.
pub(crate) fn unsealed_domain(name: &str) -> StoreError {
    StoreError::Io(std::io::Error::other(format!(
        "key domain {name}: this blob store does not seal (encryption at rest is off)"
    )))
}

/// Copies blob `digest` from one store to another (any pair of backends;
/// the bytes stream, never whole), durably: through the target's direct
/// writer where it has one, else through an upload and its commit. Refuses
/// a copy whose length is not `size` and, with `verify_digest`, one whose
/// bytes do not hash to `digest` (a damaged source); a refused copy leaves
/// nothing behind.
pub async fn copy_blob(
    from: &dyn BlobStore,
    to: &dyn BlobStore,
    digest: &Digest,
    size: u64,
    verify_digest: bool,
) -> Result<()> {
    let mut reader = from
        .read(digest, 0, size)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("blob {digest} vanished while being copied")))?;
    // Straight to the blob where `to` can (S3: no copy at the end), else
    // through an upload and its commit; either way the bytes are checked
    // before they become the blob.
    let (mut writer, upload) = match to.blob_writer(digest).await? {
        Some(w) => (w, None),
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            (to.upload_writer(&id, 0).await?, Some(id))
        }
    };
    let copied = async {
        pump_checked(&mut reader, &mut *writer, digest, size, verify_digest).await?;
        writer.finish().await?;
        match &upload {
            Some(id) => to.commit_upload(id, digest).await,
            None => Ok(()),
        }
    }
    .await;
    if let (Err(_), Some(id)) = (&copied, &upload) {
        let _ = to.delete_upload(id).await;
    }
    copied
}

/// Streams `reader` into `writer`, refusing a length other than `size`
/// and, with `verify_digest`, bytes that do not hash to `digest` (a
/// damaged source). The writer is not finished.
pub(crate) async fn pump_checked(
    reader: &mut BlobReader,
    writer: &mut dyn UploadWriter,
    digest: &Digest,
    size: u64,
    verify_digest: bool,
) -> Result<()> {
    use futures_util::StreamExt;
    let mut hasher = verify_digest.then(|| DigestHasher::new(digest.algorithm()));
    let mut written = 0u64;
    while let Some(chunk) = reader.stream.next().await {
        let chunk = chunk.map_err(StoreError::Io)?;
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk);
        }
        written += chunk.len() as u64;
        writer.write(chunk).await?;
    }
    if written != size {
        return Err(StoreError::Corrupt(format!(
            "copying blob {digest}: read {written} of {size} bytes"
        )));
    }
    if let Some(got) = hasher.map(DigestHasher::finish) {
        if &got != digest {
            return Err(StoreError::Corrupt(format!(
                "copying blob {digest}: its bytes hash to {got}; the source is damaged"
            )));
        }
    }
    Ok(())
}
