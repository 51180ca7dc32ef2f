//! Blob store on any S3-compatible object store (`--blobs s3://bucket/prefix`),
//! through `object_store`.
//!
//! Layout under the prefix:
//!
//! ```text
//! blobs/<algorithm>/<2 hex>/<hex>     committed blobs, content-addressed
//! kms/<key id>/blobs/...              a KMS key domain's blobs (`domain`)
//! uploads/<id>/<offset, 20 digits>    an upload session's segments
//! ```
//!
//! An upload is a run of *segments*, one object per acknowledged request,
//! named by the offset it starts at: any node can append the next one, read
//! them back in order, or commit them (the session's recorded size, in the
//! metadata store, says which bytes count). A writer opened at `offset`
//! deletes the segments that start at or past it (what an unacknowledged
//! request left). A segment is written with one PUT, or as a multipart
//! upload in 8 MiB parts when it is larger, so memory per upload is one
//! part whatever the size.
//!
//! Commit: a blob that already exists keeps the stored copy; one segment is
//! copied server-side to its content address; several are streamed into
//! one multipart upload there. Either way the segments are then deleted.
//! Nothing here relies on S3 preconditions: what must hold across nodes is
//! decided in the metadata store's transactions (ARCHITECTURE.md).
//!
//! With keys (`sealing`), segments are `<offset>.s`, each a sealed object,
//! and blobs are sealed objects (`sealed_io.rs`); a commit then streams the
//! segments' plaintext into the blob's sealed object instead of copying,
//! and downloads are never redirected to the store (it holds ciphertext).

use crate::blob::{BlobReader, BlobStore, UploadWriter};
use crate::sealed::{self, Header, Keyring, SegmentKey, HEADER_LEN};
use crate::{Result, StoreError};
use async_trait::async_trait;
use berth_oci::{Algorithm, Digest};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig,
};
use std::sync::Arc;
use std::time::Duration;

mod sealed_io;
use sealed_io::{OpenedStream, SealingWriter};

/// Parts of a multipart upload: S3 wants at least 5 MiB for all but the
/// last; 8 MiB keeps the number of parts of a 10 GiB layer under 1,300
/// (S3 allows 10,000) and is the memory one upload holds.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// How long `ping` (start-up and `/readyz`) waits for the store.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest object one CopyObject may produce (S3's limit); larger
/// single segments are streamed into a multipart upload instead.
const MAX_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// Where and how to reach the object store.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Key prefix under which berth keeps everything (no leading or
    /// trailing slash; empty for the bucket's root).
    pub prefix: String,
    /// `http(s)://host:port` of an S3-compatible server; AWS's when `None`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most
    /// S3-compatible servers need; virtual-hosted style otherwise.
    pub path_style: bool,
    /// Static credentials; `None` uses the standard AWS sources of the
    /// process (environment, web identity, container or instance role).
    pub credentials: Option<(String, String)>,
}

/// Shows everything but the secret key.
impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("access_key_id", &self.credentials.as_ref().map(|c| &c.0))
            .finish()
    }
}

#[derive(Clone)]
pub struct S3BlobStore {
    /// Every request but blob reads: each must finish within 5 minutes (a
    /// server-side copy of a 5 GiB segment included).
    s3: Arc<AmazonS3>,
    /// Blob and segment reads, whose bodies stream to clients at their
    /// pace: 30 minutes a response.
    reader: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    /// Where committed blobs live under the prefix: `blobs`, or a KMS key
    /// domain's `kms/<key id>/blobs` (`domain`).
    blobs: String,
    keys: Option<Arc<Keyring>>,
}

/// One object of an upload: where its plaintext starts, how much it
/// holds, where it is, whether it is sealed.
#[derive(Clone)]
struct Segment {
    start: u64,
    len: u64,
    path: Path,
    sealed: bool,
}

impl S3BlobStore {
    /// Connects (lazily: the first request opens connections) and checks
    /// that the bucket is reachable and writable.
    pub async fn open(settings: &S3Settings) -> Result<Self> {
        // A store that refuses connections fails a request within about 20
        // s (503 to the client, which retries) instead of object_store's 3
        // minutes of retries. A timeout bounds each whole response
        // (object_store's default, 30 s, would cut a large layer streamed to
        // a slow client): reads get 30 minutes, everything else 5.
        let s3 = Arc::new(Self::client(settings, Duration::from_secs(5 * 60))?);
        let reader = Arc::new(Self::client(settings, Duration::from_secs(30 * 60))?);
        let store = S3BlobStore {
            s3,
            reader,
            bucket: settings.bucket.clone(),
            prefix: settings.prefix.trim_matches('/').to_string(),
            blobs: "blobs".to_string(),
            keys: None,
        };
        store.ping().await?;
        Ok(store)
    }

    /// Seals everything written from now on under `keys` (and reads what
    /// they sealed; plaintext objects are read as they are).
    pub fn sealing(mut self, keys: Arc<Keyring>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// A client of the store whose responses must end within `timeout`.
    fn client(settings: &S3Settings, timeout: Duration) -> Result<AmazonS3> {
        let client = ClientOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(timeout);
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
        };
        let mut b = AmazonS3Builder::from_env()
            .with_client_options(client)
            .with_retry(retry)
            .with_bucket_name(&settings.bucket)
            .with_virtual_hosted_style_request(!settings.path_style);
        if let Some(e) = &settings.endpoint {
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        }
        if let Some(r) = &settings.region {
            b = b.with_region(r);
        }
        if let Some((id, secret)) = &settings.credentials {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
        }
        b.build().map_err(object_error)
    }

    /// This store with everything under `more` (the archive storage class
    /// lives beside the blobs, under `archive/`).
    pub fn under(&self, more: &str) -> S3BlobStore {
        S3BlobStore {
            prefix: self.key(more),
            ..self.clone()
        }
    }

    fn key(&self, rest: &str) -> String {
        if self.prefix.is_empty() {
            rest.to_string()
        } else {
            format!("{}/{rest}", self.prefix)
        }
    }

    fn blob_path(&self, digest: &Digest) -> Path {
        let hex = digest.hex();
        Path::from(self.key(&format!(
            "{}/{}/{}/{hex}",
            self.blobs,
            digest.algorithm().as_str(),
            &hex[..2]
        )))
    }

    fn upload_dir(&self, id: &str) -> Result<Path> {
        let id = crate::blob::checked_upload_id(id)?;
        Ok(Path::from(self.key(&format!("uploads/{id}"))))
    }

    /// An upload's segments in offset order.
    async fn segments(&self, id: &str) -> Result<Vec<Segment>> {
        let dir = self.upload_dir(id)?;
        let mut out: Vec<Segment> = self
            .s3
            .list(Some(&dir))
            .map_err(object_error)
            .try_filter_map(|meta| async move {
                let Some(name) = meta.location.filename() else {
                    return Ok(None);
                };
                let (digits, sealed) = match name.strip_suffix(".s") {
                    Some(d) => (d, true),
                    None => (name, false),
                };
                let Ok(start) = digits.parse::<u64>() else {
                    return Ok(None);
                };
                let len = if sealed {
                    sealed::upload_plain_len(sealed::DEFAULT_SEGMENT, meta.size).ok_or_else(
                        || {
                            StoreError::Corrupt(format!(
                                "upload segment {} has a size no upload seals to",
                                meta.location
                            ))
                        },
                    )?
                } else {
                    meta.size
                };
                Ok(Some(Segment {
                    start,
                    len,
                    path: meta.location,
                    sealed,
                }))
            })
            .try_collect()
            .await?;
        out.sort_by_key(|s| s.start);
        Ok(out)
    }

    /// The header of the object at `path`, its size and its ETag: `None`
    /// if there is no such object, a `None` header for a plaintext one.
    async fn header_of(
        &self,
        path: &Path,
    ) -> Result<Option<(Option<Header>, u64, Option<String>)>> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(0..HEADER_LEN)),
            ..GetOptions::default()
        };
        match self.s3.get_opts(path, options).await {
            Ok(got) => {
                let (size, etag) = (got.meta.size, got.meta.e_tag.clone());
                let first = got.bytes().await.map_err(object_error)?;
                if !sealed::is_sealed(&first) {
                    return Ok(Some((None, size, etag)));
                }
                let header = Header::decode(&first)?;
                Ok(Some((Some(header), size, etag)))
            }
            Err(e) if not_found(&e) => Ok(None),
            // An empty object has no range to get: ask its size.
            Err(_) => match self.s3.head(path).await {
                Ok(meta) if meta.size < HEADER_LEN => Ok(Some((None, meta.size, meta.e_tag))),
                Ok(_) => Err(StoreError::Unavailable(format!(
                    "object store: the first bytes of {path} could not be read"
                ))),
                Err(e) if not_found(&e) => Ok(None),
                Err(e) => Err(object_error(e)),
            },
        }
    }

    /// Writes the sealed object at `path` (its data key wrapped for
    /// `name`) again with its data key re-wrapped under the current root
    /// generation, when an older one wrapped it. Objects are immutable, so
    /// the body streams through berth unchanged (no segment is opened or
    /// sealed again: the data key stays) into a multipart upload that
    /// replaces the object only when complete; the read is pinned to the
    /// object whose header was re-wrapped (If-Match). Readers pin the
    /// object they started on too, and read again when it changed.
    async fn rewrap_object(&self, keys: &Keyring, path: &Path, name: &str) -> Result<bool> {
        let Some((Some(header), size, etag)) = self.header_of(path).await? else {
            return Ok(false);
        };
        let Some(new) = keys.rewrapped(&header, name)? else {
            return Ok(false);
        };
        let body = read_range(&self.reader, path, HEADER_LEN, size - HEADER_LEN, etag)
            .await
            .map_err(object_error)?;
        let head = Bytes::copy_from_slice(&new.encode());
        let stream = stream::once(async move { Ok(head) }).chain(body).boxed();
        compose(&self.s3, path, BlobReader { len: size, stream }).await?;
        Ok(true)
    }

    /// The plaintext `range` of a sealed object at `path`, whose data key
    /// is wrapped for `name`; `blob`: a committed blob, whose terminal is
    /// checked when the range reaches its end. The bytes are fetched only
    /// if the object is still the one whose header was read (`etag`): a
    /// blob's object can be written again (a digest-first push replaces
    /// it, under a new data key), and then `None` says to read again.
    #[allow(clippy::too_many_arguments)]
    async fn open_sealed(
        &self,
        keys: &Keyring,
        path: &Path,
        header: &Header,
        size: u64,
        etag: Option<String>,
        name: &str,
        range: std::ops::Range<u64>,
        blob: bool,
        last_attempt: bool,
    ) -> Result<Option<BlobReader>> {
        let len = range.end - range.start;
        let plain_total = if blob {
            sealed::blob_plain_len(header.segment, size)
        } else {
            sealed::upload_plain_len(header.segment, size)
        }
        .ok_or_else(|| sealed::SealError::Size {
            what: name.to_string(),
            size,
        })?;
        if range.end > plain_total {
            return Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{name} holds {plain_total} bytes, {} asked for", range.end),
            )));
        }
        if len == 0 {
            return Ok(Some(BlobReader {
                len,
                stream: Box::pin(stream::empty()),
            }));
        }
        let key = SegmentKey::new(&keys.data_key(header, name)?, header.segment);
        let layout = sealed::Layout {
            segment: header.segment,
            len: plain_total,
        };
        let (segs, bytes, terminal) = sealed_io::covering(&layout, &range, blob)?;
        let options = GetOptions {
            range: Some(GetRange::Bounded(bytes.clone())),
            if_match: etag,
            ..GetOptions::default()
        };
        let inner = match self.reader.get_opts(path, options).await {
            Ok(got) => got.into_stream().map_err(std::io::Error::other).boxed(),
            Err(e) if not_found(&e) || matches!(e, object_store::Error::Precondition { .. }) => {
                return Ok(None)
            }
            Err(e) => return Err(object_error(e)),
        };
        let mut opened = OpenedStream {
            inner,
            key,
            layout,
            segs,
            range,
            terminal,
            what: name.to_string(),
            buf: BytesMut::new(),
            done: false,
        };
        // The first segment is opened before anything is answered: bytes
        // from another version of the object (a store that ignores
        // If-Match) fail here, and are read again, rather than cutting a
        // response short.
        let first = match opened.next().await {
            Some(Ok(b)) => b,
            Some(Err(_)) if !last_attempt => return Ok(None),
            Some(Err(e)) => return Err(StoreError::Io(e)),
            None => Bytes::new(),
        };
        Ok(Some(BlobReader {
            len,
            stream: Box::pin(stream::once(std::future::ready(Ok(first))).chain(opened)),
        }))
    }

    /// A writer of a sealed object at `path`, for `name` (an upload
    /// segment's `<id>/<offset>`, or a blob's digest).
    async fn sealing_writer(
        &self,
        keys: &Keyring,
        path: Path,
        name: &str,
        offset: u64,
        blob: bool,
    ) -> Result<Box<dyn UploadWriter>> {
        let (dek, header) = if blob {
            keys.new_blob(name)
        } else {
            keys.new_upload(name)
        };
        let key = SegmentKey::new(&dek, header.segment);
        let inner = Box::new(SegmentWriter::new(&self.s3, path, offset, true));
        Ok(Box::new(
            SealingWriter::new(inner, &header, key, offset, blob).await?,
        ))
    }

    /// Deletes every object of an upload (segments and any leftover of an
    /// interrupted truncation).
    async fn delete_all_of(&self, id: &str) -> Result<()> {
        let dir = self.upload_dir(id)?;
        let paths: Vec<Path> = self
            .s3
            .list(Some(&dir))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(object_error)?;
        for path in paths {
            self.s3.delete(&path).await.or_else(ignore_missing)?;
        }
        Ok(())
    }

    /// Streams the first `len` plaintext bytes of upload `id`'s segments.
    fn stream_segments(&self, id: &str, segments: Vec<Segment>, len: u64) -> BlobReader {
        let store = Arc::new(self.clone());
        let id = id.to_string();
        let stream = stream::iter(segments)
            .take_while(move |seg| std::future::ready(seg.start < len))
            .then(move |seg| {
                let (store, id) = (store.clone(), id.clone());
                async move {
                    let take = seg.len.min(len - seg.start);
                    store
                        .segment_plaintext(&id, &seg, take)
                        .await
                        .map(|r| r.stream)
                        .map_err(|e| std::io::Error::other(e.to_string()))
                }
            })
            .try_flatten();
        BlobReader {
            len,
            stream: Box::pin(stream),
        }
    }

    /// The first `take` plaintext bytes of one upload segment.
    async fn segment_plaintext(&self, id: &str, seg: &Segment, take: u64) -> Result<BlobReader> {
        if !seg.sealed {
            let stream = read_range(&self.reader, &seg.path, 0, take, None)
                .await
                .map_err(object_error)?;
            return Ok(BlobReader { len: take, stream });
        }
        let keys = self.keys.as_deref().ok_or_else(|| {
            StoreError::Corrupt(format!(
                "upload segment {} is sealed and this store has no keys",
                seg.path
            ))
        })?;
        let (Some(header), size, etag) = self
            .header_of(&seg.path)
            .await?
            .ok_or_else(|| StoreError::UploadNotFound(id.to_string()))?
        else {
            return Err(StoreError::Corrupt(format!(
                "upload segment {} is named sealed but is not",
                seg.path
            )));
        };
        let name = format!("{id}/{}", seg.start);
        self.open_sealed(
            keys,
            &seg.path,
            &header,
            size,
            etag,
            &name,
            0..take,
            false,
            true,
        )
        .await?
        .ok_or_else(|| StoreError::UploadNotFound(id.to_string()))
    }
}

/// Streams `reader` into `writer` and finishes it.
async fn pump(mut reader: BlobReader, mut writer: Box<dyn UploadWriter>) -> Result<u64> {
    while let Some(chunk) = reader.stream.next().await {
        writer.write(chunk.map_err(StoreError::Io)?).await?;
    }
    writer.finish().await
}

/// `len` bytes of the object at `path` from `offset`, streamed; nothing
/// is fetched for none (S3 has no empty range).
/// `len` bytes of the object at `path` from `offset`; with `if_match`,
/// only from the object with that ETag (`Precondition` if it was replaced).
async fn read_range(
    s3: &AmazonS3,
    path: &Path,
    offset: u64,
    len: u64,
    if_match: Option<String>,
) -> object_store::Result<futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>> {
    if len == 0 {
        return Ok(Box::pin(stream::empty()));
    }
    let options = GetOptions {
        range: Some(GetRange::Bounded(offset..offset + len)),
        if_match,
        ..GetOptions::default()
    };
    let got = s3.get_opts(path, options).await?;
    Ok(Box::pin(got.into_stream().map_err(std::io::Error::other)))
}

fn object_error(e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => {
            StoreError::Io(std::io::Error::new(std::io::ErrorKind::NotFound, e))
        }
        // Everything else is the store refusing or not answering: the
        // client may retry (a bad configuration shows at start, in ping).
        other => StoreError::Unavailable(format!("object store: {other}")),
    }
}

fn not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn upload_writer(&self, id: &str, offset: u64) -> Result<Box<dyn UploadWriter>> {
        let dir = self.upload_dir(id)?;
        let segments = self.segments(id).await?;
        let mut end = 0;
        for seg in segments {
            if seg.start >= offset {
                // Left by a request that was never acknowledged.
                self.s3.delete(&seg.path).await.or_else(ignore_missing)?;
            } else if seg.start + seg.len > offset {
                // Keep what lies before `offset`: rewritten beside it, then
                // copied over it, so the segment is whole at every moment.
                let keep = offset - seg.start;
                let kept = self.segment_plaintext(id, &seg, keep).await?;
                let suffix = if seg.sealed { ".s" } else { "" };
                let tmp = dir
                    .clone()
                    .join(format!("{:020}{suffix}.truncating", seg.start));
                match (&self.keys, seg.sealed) {
                    (Some(keys), true) => {
                        // Sealed again under a fresh data key for the
                        // segment's own name (what it unwraps for).
                        let name = format!("{id}/{}", seg.start);
                        let w = self
                            .sealing_writer(keys, tmp.clone(), &name, 0, false)
                            .await?;
                        pump(kept, w).await?;
                    }
                    _ => compose(&self.s3, &tmp, kept).await?,
                }
                self.s3.copy(&tmp, &seg.path).await.map_err(object_error)?;
                self.s3.delete(&tmp).await.or_else(ignore_missing)?;
                end = end.max(offset);
            } else {
                end = end.max(seg.start + seg.len);
            }
        }
        if end != offset {
            return Err(StoreError::UploadNotFound(id.to_string()));
        }
        if let Some(keys) = &self.keys {
            let path = dir.join(format!("{offset:020}.s"));
            let name = format!("{id}/{offset}");
            if offset == 0 {
                // The session's object exists from its start, as a file
                // would: a sealed segment holding nothing.
                let (_, header) = keys.new_upload(&name);
                self.s3
                    .put(&path, Bytes::copy_from_slice(&header.encode()).into())
                    .await
                    .map_err(object_error)?;
            }
            return self.sealing_writer(keys, path, &name, offset, false).await;
        }
        let path = dir.join(format!("{offset:020}"));
        if offset == 0 {
            // The session's object exists from its start (an empty first
            // segment, which the first bytes replace), as a file would.
            self.s3
                .put(&path, PutPayload::default())
                .await
                .map_err(object_error)?;
        }
        // The first segment exists already (above).
        Ok(Box::new(SegmentWriter::new(&self.s3, path, offset, false)))
    }

    async fn read_upload(&self, id: &str, len: u64) -> Result<BlobReader> {
        let segments = self.segments(id).await?;
        let have: u64 = segments.iter().map(|s| s.len).sum();
        if segments.is_empty() && len > 0 || have < len {
            return Err(StoreError::UploadNotFound(id.to_string()));
        }
        Ok(self.stream_segments(id, segments, len))
    }

    async fn commit_upload(&self, id: &str, digest: &Digest) -> Result<()> {
        let segments = self.segments(id).await?;
        if segments.is_empty() {
            // Even an empty upload has its first (empty) segment: none
            // means the session is gone (expired, cancelled), and its
            // digest must not be stored as an empty object.
            return Err(StoreError::UploadNotFound(id.to_string()));
        }
        let target = self.blob_path(digest);
        if self.stat(digest).await?.is_none() {
            let total: u64 = segments.iter().map(|s| s.len).sum();
            match (&self.keys, segments.as_slice()) {
                (Some(keys), _) => {
                    // The segments' plaintext, sealed once more as the blob.
                    let reader = self.stream_segments(id, segments.clone(), total);
                    let w = self
                        .sealing_writer(keys, target, &digest.to_string(), 0, true)
                        .await?;
                    pump(reader, w).await?;
                }
                (None, [seg]) if seg.len <= MAX_COPY && !seg.sealed => {
                    self.s3
                        .copy(&seg.path, &target)
                        .await
                        .map_err(object_error)?;
                }
                (None, _) => {
                    let reader = self.stream_segments(id, segments.clone(), total);
                    compose(&self.s3, &target, reader).await?;
                }
            }
        }
        self.delete_all_of(id).await
    }

    /// The blob's object is written as an upload's segment is (one PUT up
    /// to a part, else a multipart upload, which S3 shows only once it is
    /// completed), so the commit's copy and the segment's delete are saved.
    async fn blob_writer(&self, digest: &Digest) -> Result<Option<Box<dyn UploadWriter>>> {
        if let Some(keys) = &self.keys {
            let path = self.blob_path(digest);
            return Ok(Some(
                self.sealing_writer(keys, path, &digest.to_string(), 0, true)
                    .await?,
            ));
        }
        Ok(Some(Box::new(SegmentWriter::new(
            &self.s3,
            self.blob_path(digest),
            0,
            true,
        ))))
    }

    async fn domain(&self, keys: Arc<Keyring>) -> Result<Arc<dyn BlobStore>> {
        let name = crate::blob::checked_domain(keys.domain_name())?.to_string();
        if self.keys.is_none() {
            return Err(crate::blob::unsealed_domain(&name));
        }
        Ok(Arc::new(S3BlobStore {
            blobs: format!("{name}/blobs"),
            keys: Some(keys),
            ..self.clone()
        }))
    }

    async fn domains(&self) -> Result<Vec<String>> {
        let dir = Path::from(self.key(crate::blob::DOMAIN_PREFIX.trim_end_matches('/')));
        let listed = self
            .s3
            .list_with_delimiter(Some(&dir))
            .await
            .map_err(object_error)?;
        let mut out: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename())
            .map(|id| format!("{}{id}", crate::blob::DOMAIN_PREFIX))
            .filter(|name| crate::blob::checked_domain(name).is_ok())
            .collect();
        out.sort();
        Ok(out)
    }

    async fn delete_upload(&self, id: &str) -> Result<()> {
        self.delete_all_of(id).await
    }

    async fn upload_objects(&self) -> Result<Vec<(String, i64)>> {
        // Objects, not common prefixes: some stores (SeaweedFS) keep an
        // emptied "directory" listed as a prefix.
        let dir = Path::from(self.key("uploads"));
        let depth = dir.parts().count();
        let mut newest = std::collections::BTreeMap::<String, i64>::new();
        let mut objects = self.s3.list(Some(&dir));
        while let Some(meta) = objects.try_next().await.map_err(object_error)? {
            if let Some(id) = meta.location.parts().nth(depth) {
                let at = meta.last_modified.timestamp_millis();
                let t = newest.entry(id.as_ref().to_string()).or_insert(at);
                *t = (*t).max(at);
            }
        }
        Ok(newest.into_iter().collect())
    }

    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        if self.keys.is_some() {
            // A sealed object's size is not the blob's: its header says
            // how to count (a size no blob seals to is reported raw, never
            // the recorded one).
            return Ok(self
                .header_of(&self.blob_path(digest))
                .await?
                .map(|(header, size, _)| match header {
                    None => size,
                    Some(h) => sealed::blob_plain_len(h.segment, size).unwrap_or(size),
                }));
        }
        match self.s3.head(&self.blob_path(digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(object_error(e)),
        }
    }

    async fn read(&self, digest: &Digest, offset: u64, len: u64) -> Result<Option<BlobReader>> {
        if let Some(keys) = &self.keys {
            let path = self.blob_path(digest);
            let name = digest.to_string();
            // A blob's object rewritten between the header and the bytes
            // (same bytes, another data key) is read again.
            let mut attempts = 0;
            loop {
                let Some((header, size, etag)) = self.header_of(&path).await? else {
                    return Ok(None);
                };
                attempts += 1;
                let Some(header) = header else {
                    // Plaintext, from before encryption, read from this very
                    // object: the background sealing may replace it.
                    if len == 0 {
                        return Ok(Some(BlobReader {
                            len: 0,
                            stream: Box::pin(stream::empty()),
                        }));
                    }
                    match read_range(&self.reader, &path, offset, len, etag).await {
                        Ok(stream) => return Ok(Some(BlobReader { len, stream })),
                        Err(e) if not_found(&e) => return Ok(None),
                        Err(object_store::Error::Precondition { .. }) if attempts < 3 => continue,
                        Err(e) => return Err(object_error(e)),
                    }
                };
                if header.state != sealed::State::Blob {
                    return Err(sealed::SealError::Header.into());
                }
                let range = offset..offset + len;
                if let Some(r) = self
                    .open_sealed(
                        keys,
                        &path,
                        &header,
                        size,
                        etag,
                        &name,
                        range,
                        true,
                        attempts == 3,
                    )
                    .await?
                {
                    return Ok(Some(r));
                }
                if attempts == 3 {
                    // Gone, or replaced under every read: as a blob that is not there.
                    return Ok(None);
                }
            }
        }
        if len == 0 {
            // Nothing to fetch, but the answer still says whether it exists.
            return Ok(self.stat(digest).await?.map(|_| BlobReader {
                len: 0,
                stream: Box::pin(stream::empty()),
            }));
        }
        match read_range(&self.reader, &self.blob_path(digest), offset, len, None).await {
            Ok(stream) => Ok(Some(BlobReader { len, stream })),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(object_error(e)),
        }
    }

    async fn is_plaintext(&self, digest: &Digest) -> Result<bool> {
        if self.keys.is_none() {
            return Ok(false);
        }
        Ok(matches!(
            self.header_of(&self.blob_path(digest)).await,
            Ok(Some((None, _, _)))
        ))
    }

    async fn reseal(&self, digest: &Digest) -> Result<Option<u64>> {
        if self.keys.is_none() {
            return Ok(None);
        }
        let Some((None, size, _)) = self.header_of(&self.blob_path(digest)).await? else {
            return Ok(None);
        };
        // Through the direct writer (a sealing one): the sealed object
        // replaces the plaintext one only when finished, after the bytes
        // were checked; plaintext reads pin the object they started on
        // (If-Match), so none streams the new one as if it were the old.
        crate::blob::copy_blob(self, self, digest, size, true).await?;
        Ok(Some(size))
    }

    async fn rewrap(&self, digest: &Digest) -> Result<bool> {
        let Some(keys) = self.keys.clone() else {
            return Ok(false);
        };
        let path = self.blob_path(digest);
        self.rewrap_object(&keys, &path, digest.as_str()).await
    }

    async fn rewrap_uploads(&self, rewrite: bool) -> Result<(u64, u64)> {
        let Some(keys) = self.keys.clone() else {
            return Ok((0, 0));
        };
        let mut done = (0, 0);
        for (id, _) in self.upload_objects().await? {
            for seg in self.segments(&id).await? {
                if !seg.sealed {
                    continue;
                }
                let name = format!("{id}/{}", seg.start);
                if rewrite {
                    match self.rewrap_object(&keys, &seg.path, &name).await {
                        Ok(true) => done.0 += 1,
                        Ok(false) => {}
                        Err(e) => {
                            // One damaged segment does not stop the pass.
                            tracing::warn!(segment = %seg.path, error = %e, "could not re-wrap an upload segment's data key");
                            done.1 += 1;
                        }
                    }
                } else if let Ok(Some((Some(h), _, _))) = self.header_of(&seg.path).await {
                    if h.kek_version != keys.current_generation() {
                        done.1 += 1;
                    }
                }
            }
        }
        Ok(done)
    }

    async fn blobs_in_shard(&self, algorithm: Algorithm, shard: u8) -> Result<Vec<(Digest, i64)>> {
        let dir = Path::from(self.key(&format!(
            "{}/{}/{shard:02x}",
            self.blobs,
            algorithm.as_str()
        )));
        self.s3
            .list(Some(&dir))
            .map_err(object_error)
            .try_filter_map(|meta| async move {
                let digest = meta.location.filename().and_then(|hex| {
                    format!("{}:{hex}", algorithm.as_str())
                        .parse::<Digest>()
                        .ok()
                });
                Ok(digest.map(|d| (d, meta.last_modified.timestamp_millis())))
            })
            .try_collect()
            .await
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>> {
        let segments = self.segments(id).await?;
        Ok((!segments.is_empty()).then(|| segments.iter().map(|s| s.len).sum()))
    }

    fn blob_location(&self, digest: &Digest) -> String {
        format!("s3://{}/{}", self.bucket, self.blob_path(digest))
    }

    async fn download_url(
        &self,
        digest: &Digest,
        expires: std::time::Duration,
    ) -> Result<Option<String>> {
        use object_store::signer::Signer;
        if self.keys.is_some() {
            // The store holds ciphertext: berth streams the plaintext.
            return Ok(None);
        }
        let url = self
            .s3
            .signed_url(http::Method::GET, &self.blob_path(digest), expires)
            .await
            .map_err(object_error)?;
        Ok(Some(url.to_string()))
    }

    fn upload_location(&self, id: &str) -> String {
        match self.upload_dir(id) {
            Ok(p) => format!("s3://{}/{p}/", self.bucket),
            Err(_) => format!("s3://{}/(invalid upload id)", self.bucket),
        }
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        self.s3
            .delete(&self.blob_path(digest))
            .await
            .or_else(ignore_missing)
    }

    async fn ping(&self) -> Result<()> {
        let probe = Path::from(self.key(".berth-ping"));
        let check = async {
            self.s3
                .put(&probe, PutPayload::from_static(b"ok"))
                .await
                .map_err(object_error)?;
            self.s3.delete(&probe).await.or_else(ignore_missing)
        };
        // A readiness probe answers within seconds, whatever the store does.
        tokio::time::timeout(PING_TIMEOUT, check)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "object store: no answer within {PING_TIMEOUT:?}"
                )))
            })
    }
}

fn ignore_missing(e: object_store::Error) -> Result<()> {
    if not_found(&e) {
        Ok(())
    } else {
        Err(object_error(e))
    }
}

/// Streams `reader` into a new object at `target`, in parts.
async fn compose(s3: &AmazonS3, target: &Path, mut reader: BlobReader) -> Result<()> {
    let id = s3.create_multipart(target).await.map_err(object_error)?;
    let mut parts: Vec<PartId> = Vec::new();
    let mut buffer = BytesMut::new();
    let result: Result<()> = async {
        let mut total = 0u64;
        while let Some(chunk) = reader.stream.next().await {
            let chunk = chunk.map_err(StoreError::Io)?;
            total += chunk.len() as u64;
            buffer.extend_from_slice(&chunk);
            while buffer.len() >= PART_SIZE {
                let part = buffer.split_to(PART_SIZE).freeze();
                parts.push(
                    s3.put_part(target, &id, parts.len(), part.into())
                        .await
                        .map_err(object_error)?,
                );
            }
        }
        // A source that ended early must not replace a whole object with a
        // short one: nothing is completed unless every byte arrived.
        if total != reader.len {
            return Err(StoreError::Corrupt(format!(
                "{target}: {total} bytes arrived of {}; nothing was replaced",
                reader.len
            )));
        }
        if !buffer.is_empty() || parts.is_empty() {
            let last = std::mem::take(&mut buffer).freeze();
            parts.push(
                s3.put_part(target, &id, parts.len(), last.into())
                    .await
                    .map_err(object_error)?,
            );
        }
        s3.complete_multipart(target, &id, parts)
            .await
            .map_err(object_error)?;
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = s3.abort_multipart(target, &id).await;
    }
    result
}

/// Writes one segment: one PUT when it stays under a part, else a
/// multipart upload started at the first full part.
struct SegmentWriter {
    s3: Arc<AmazonS3>,
    path: Path,
    offset: u64,
    buffer: BytesMut,
    multipart: Option<(String, Vec<PartId>)>,
    written: u64,
    /// Whether `finish` writes the object even with no bytes (a blob's
    /// writer; an empty blob is an object too).
    empty_object: bool,
}

impl SegmentWriter {
    fn new(s3: &Arc<AmazonS3>, path: Path, offset: u64, empty_object: bool) -> Self {
        SegmentWriter {
            s3: s3.clone(),
            path,
            offset,
            buffer: BytesMut::new(),
            multipart: None,
            written: 0,
            empty_object,
        }
    }
}

#[async_trait]
impl UploadWriter for SegmentWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.written += chunk.len() as u64;
        self.buffer.extend_from_slice(&chunk);
        while self.buffer.len() >= PART_SIZE {
            if self.multipart.is_none() {
                let id = self
                    .s3
                    .create_multipart(&self.path)
                    .await
                    .map_err(object_error)?;
                self.multipart = Some((id, Vec::new()));
            }
            let part = self.buffer.split_to(PART_SIZE).freeze();
            let (id, parts) = self.multipart.as_mut().expect("started above");
            let p = self
                .s3
                .put_part(&self.path, id, parts.len(), part.into())
                .await
                .map_err(object_error)?;
            parts.push(p);
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<u64> {
        let rest = std::mem::take(&mut self.buffer).freeze();
        match self.multipart.take() {
            None if rest.is_empty() && !self.empty_object => {}
            None => {
                self.s3
                    .put(&self.path, rest.into())
                    .await
                    .map_err(object_error)?;
            }
            Some((id, mut parts)) => {
                if !rest.is_empty() {
                    parts.push(
                        self.s3
                            .put_part(&self.path, &id, parts.len(), rest.into())
                            .await
                            .map_err(object_error)?,
                    );
                }
                self.s3
                    .complete_multipart(&self.path, &id, parts)
                    .await
                    .map_err(object_error)?;
            }
        }
        Ok(self.offset + self.written)
    }
}

impl Drop for SegmentWriter {
    /// A writer dropped before `finish` leaves no segment: an unfinished
    /// multipart upload is aborted in the background (a bucket lifecycle
    /// rule that aborts incomplete multipart uploads is the backstop for a
    /// process that dies first).
    fn drop(&mut self) {
        if let Some((id, _)) = self.multipart.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let (s3, path) = (self.s3.clone(), self.path.clone());
                rt.spawn(async move {
                    let _ = s3.abort_multipart(&path, &id).await;
                });
            }
        }
    }
}

/// An S3 store for tests: the server `BERTH_TEST_S3_ENDPOINT` names
/// (`scripts/seaweedfs.sh`, started once per run by `scripts/test.sh`),
/// under a prefix of its own. There is no fallback: SeaweedFS listens on
/// fixed ports, so tests cannot each start one; without it a test fails.
#[cfg(any(test, feature = "conformance"))]
pub mod testing {
    use super::{S3BlobStore, S3Settings};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Settings for the test server, with a fresh prefix.
    pub fn settings() -> S3Settings {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set: the S3 tests need an S3 server \
                     (`eval \"$(scripts/seaweedfs.sh start DIR)\"`, as scripts/test.sh does)"
                )
            })
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        S3Settings {
            bucket: var("BERTH_TEST_S3_BUCKET"),
            prefix: format!(
                "test-{}-{}-{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
            endpoint: Some(var("BERTH_TEST_S3_ENDPOINT")),
            region: Some("us-east-1".into()),
            path_style: true,
            credentials: Some((
                var("BERTH_TEST_S3_ACCESS_KEY_ID"),
                var("BERTH_TEST_S3_SECRET_ACCESS_KEY"),
            )),
        }
    }

    pub async fn store() -> S3BlobStore {
        let s = settings();
        S3BlobStore::open(&s)
            .await
            .unwrap_or_else(|e| panic!("opening the test S3 store at {:?}: {e}", s.endpoint))
    }
}

#[cfg(test)]
mod tests {
    use crate::{BlobStore, S3BlobStore};
    use berth_oci::{Algorithm, Digest};
    use bytes::Bytes;
    use futures_util::StreamExt;

    async fn read_all(store: &S3BlobStore, d: &Digest, offset: u64, len: u64) -> Vec<u8> {
        let mut r = store.read(d, offset, len).await.unwrap().expect("stored");
        let mut out = Vec::new();
        while let Some(c) = r.stream.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    async fn append(store: &S3BlobStore, id: &str, offset: u64, data: &[u8]) -> u64 {
        let mut w = store.upload_writer(id, offset).await.unwrap();
        // Odd chunk sizes, as a client's body arrives.
        for c in data.chunks(700_001) {
            w.write(Bytes::copy_from_slice(c)).await.unwrap();
        }
        w.finish().await.unwrap()
    }

    /// Segments larger than a part go up as multipart uploads; several
    /// segments are composed into one object at commit, one is copied.
    #[tokio::test]
    async fn large_uploads_go_up_in_parts_and_compose_on_commit() {
        let store = super::testing::store().await;
        let data: Vec<u8> = (0..(2 * super::PART_SIZE + 12_345))
            .map(|i| (i * 7 % 253) as u8)
            .collect();
        let digest = Digest::of_bytes(Algorithm::Sha256, &data);

        // Two segments (the first over one part), composed at commit.
        let id = "5e9a0000-0000-4000-8000-000000000001";
        let split = super::PART_SIZE as u64 + 3;
        assert_eq!(append(&store, id, 0, &data[..split as usize]).await, split);
        let total = append(&store, id, split, &data[split as usize..]).await;
        assert_eq!(total, data.len() as u64);
        assert_eq!(store.upload_size(id).await.unwrap(), Some(total));
        store.commit_upload(id, &digest).await.unwrap();
        assert_eq!(store.stat(&digest).await.unwrap(), Some(total));
        assert_eq!(read_all(&store, &digest, 0, total).await, data);
        let (o, l) = (super::PART_SIZE as u64 - 10, 20);
        assert_eq!(
            read_all(&store, &digest, o, l).await,
            &data[o as usize..(o + l) as usize]
        );
        store.delete(&digest).await.unwrap();

        // One segment, copied to its address.
        let id = "5e9a0000-0000-4000-8000-000000000002";
        append(&store, id, 0, &data).await;
        store.commit_upload(id, &digest).await.unwrap();
        assert_eq!(read_all(&store, &digest, 0, total).await, data);
        assert!(store.upload_objects().await.unwrap().is_empty());

        // A writer dropped in the middle of a multipart segment leaves the
        // upload as it was.
        let id = "5e9a0000-0000-4000-8000-000000000003";
        append(&store, id, 0, b"kept").await;
        {
            let mut w = store.upload_writer(id, 4).await.unwrap();
            w.write(Bytes::copy_from_slice(&data)).await.unwrap();
        }
        assert_eq!(store.upload_size(id).await.unwrap(), Some(4));
        assert_eq!(append(&store, id, 4, b"+more").await, 9);
        store.delete_upload(id).await.unwrap();
        assert_eq!(store.upload_size(id).await.unwrap(), None);

        // A session that is gone commits nothing, not an empty object.
        let ghost = Digest::of_bytes(Algorithm::Sha256, b"never uploaded");
        assert!(matches!(
            store.commit_upload(id, &ghost).await,
            Err(crate::StoreError::UploadNotFound(_))
        ));
        assert_eq!(store.stat(&ghost).await.unwrap(), None);
    }
}

#[cfg(test)]
#[path = "s3_blob/sealed_tests.rs"]
mod sealed_tests;
