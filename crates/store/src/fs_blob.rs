//! Blob store on a local filesystem.
//!
//! Layout under the root:
//! * `blobs/<algorithm>/<first two hex>/<hex>`: committed blobs;
//! * `kms/<key id>/blobs/...`: a KMS key domain's blobs (`domain`), sealed
//!   under that key's storage KEK;
//! * `uploads/<id>`: upload sessions' temporary files, on the same
//!   filesystem so that committing is a rename.
//!
//! With keys (`sealing`), every file is sealed (`fs_sealed.rs`); plaintext
//! files written before encryption are still read.
//!
//! File I/O runs on the blocking pool through `offload`: network receive
//! and hashing overlap with disk writes, memory per request stays at a few
//! MiB, and no blocking thread ever waits for a client.

use crate::blob::{BlobReader, BlobStore, UploadWriter, PRIVATE_DIR};
use crate::fs_sealed::{self, OpenUpload, SealedWindows, UploadReads};
use crate::offload::{ChunkSink, Offload, Prefetch, Produce};
use crate::sealed::{Keyring, Sealer};
use crate::sys;
use crate::{Result, StoreError};
use async_trait::async_trait;
use berth_oci::{Algorithm, Digest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Size of each read from an upload file; also the granularity of the
/// stream (one read is made ahead of the network).
const READ_CHUNK: usize = 1024 * 1024;
/// Bytes of a committed blob mapped at a time for a download (one window
/// is mapped ahead of the network).
const MAP_WINDOW: usize = 1024 * 1024;
/// Bytes queued between the network and the disk per upload.
const WRITE_QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// A write task starts once this much is queued (or at the end).
const WRITE_BATCH: usize = 64 * 1024;
/// Small chunks are gathered up to this; larger ones go to the file as they
/// are, without a copy into the buffer.
const WRITE_BUFFER: usize = 128 * 1024;
/// Written bytes handed to the disk's writeback at a time during an upload.
const WRITEBACK_STEP: u64 = 8 * 1024 * 1024;

pub struct FsBlobStore {
    root: PathBuf,
    /// Where committed blobs live: `<root>/blobs`, or a KMS key's domain's
    /// `<root>/kms/<key id>/blobs` (`domain`).
    blobs: PathBuf,
    keys: Option<Arc<Keyring>>,
}

impl FsBlobStore {
    /// Opens (creating if needed) a blob store rooted at `root`. All shard
    /// directories are created up front so that a commit never has to
    /// create, and fsync, a new directory.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let r = root.clone();
        blocking(move || {
            // Tenants' bytes: directories 0700 and files 0600 whatever the
            // umask (directories created here; files in `upload_writer`).
            let private = || {
                let mut b = fs::DirBuilder::new();
                b.recursive(true).mode(PRIVATE_DIR);
                b
            };
            private().create(r.join("uploads"))?;
            create_shards(&r.join("blobs"))?;
            sync_dir(&r)?;
            Ok(())
        })
        .await?;
        Ok(FsBlobStore {
            blobs: root.join("blobs"),
            root,
            keys: None,
        })
    }

    /// Seals everything written from now on under `keys` (and reads what
    /// they sealed). Without it the store writes plaintext: tests, and the
    /// benchmark's unencrypted baseline.
    pub fn sealing(mut self, keys: Arc<Keyring>) -> Self {
        self.keys = Some(keys);
        self
    }

    pub(crate) fn upload_path(&self, id: &str) -> Result<PathBuf> {
        let id = crate::blob::checked_upload_id(id)?;
        Ok(self.root.join("uploads").join(id))
    }

    pub(crate) fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.blobs
            .join(digest.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
    }
}

/// Every shard directory of a blob directory, made up front so that a
/// commit never has to create, and fsync, a new directory.
fn create_shards(blobs: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true).mode(PRIVATE_DIR);
    for algorithm in Algorithm::ALL {
        let dir = blobs.join(algorithm.as_str());
        for i in 0..=255u8 {
            b.create(dir.join(format!("{i:02x}")))?;
        }
    }
    sync_dir(blobs)?;
    if let Some(parent) = blobs.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
        .map_err(StoreError::from_io)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Streams `len` bytes of `file` from `offset`, one read ahead of the
/// network.
fn stream_file(file: File, offset: u64, len: u64) -> BlobReader {
    BlobReader {
        len,
        stream: Box::pin(Prefetch::new(FileReads {
            file,
            pos: offset,
            end: offset + len,
        })),
    }
}

/// Reads of an upload file, `READ_CHUNK` at a time.
struct FileReads {
    file: File,
    pos: u64,
    end: u64,
}

impl Produce for FileReads {
    fn next(&mut self) -> Option<std::io::Result<Bytes>> {
        if self.pos >= self.end {
            return None;
        }
        let want = (self.end - self.pos).min(READ_CHUNK as u64) as usize;
        let piece = read_at(&self.file, self.pos, want);
        self.pos += want as u64;
        Some(piece)
    }
}

/// A committed blob's reads: mapped plaintext, or mapped ciphertext that
/// a [`fs_sealed::WindowOpener`] opens. One per download, moved to the
/// blocking pool and back per window.
enum BlobReads {
    Plain(Windows),
    Sealed { file: File, windows: SealedWindows },
}

impl BlobReads {
    fn done(&self) -> bool {
        match self {
            BlobReads::Plain(w) => w.pos >= w.end,
            BlobReads::Sealed { windows, .. } => windows.done(),
        }
    }
}

impl Produce for BlobReads {
    fn next(&mut self) -> Option<std::io::Result<Bytes>> {
        match self {
            BlobReads::Plain(w) => w.next(),
            BlobReads::Sealed { file, windows } => windows
                .next_window()
                .map(|r| r.and_then(|b| map_or_read(file, b.start, (b.end - b.start) as usize))),
        }
    }
}

/// An upload's reads: plaintext chunks, or sealed segments opened.
#[allow(clippy::large_enum_variant)]
enum UploadReadsOf {
    Plain(FileReads),
    Sealed(UploadReads),
}

impl Produce for UploadReadsOf {
    fn next(&mut self) -> Option<std::io::Result<Bytes>> {
        match self {
            UploadReadsOf::Plain(r) => r.next(),
            UploadReadsOf::Sealed(r) => r.next_segment(),
        }
    }
}

/// Windows of a committed blob, each mapped and faulted in on the blocking
/// pool (`map_or_read`), one ahead of the network.
struct Windows {
    file: File,
    pos: u64,
    end: u64,
}

impl Produce for Windows {
    fn next(&mut self) -> Option<std::io::Result<Bytes>> {
        if self.pos >= self.end {
            return None;
        }
        // Windows after the first are aligned, so each maps whole pages.
        let to_boundary = MAP_WINDOW as u64 - self.pos % MAP_WINDOW as u64;
        let want = (self.end - self.pos).min(to_boundary) as usize;
        let window = map_or_read(&self.file, self.pos, want);
        self.pos += want as u64;
        Some(window)
    }
}

/// `len` bytes of a committed blob file from `pos`, mapped and faulted in
/// (`sys::map_blob`); read instead where they cannot be mapped, so that a
/// failing disk gives the request an error.
fn map_or_read(file: &File, pos: u64, len: usize) -> std::io::Result<Bytes> {
    sys::map_blob(file, pos, len).or_else(|_| read_at(file, pos, len))
}

fn read_at(file: &File, pos: u64, len: usize) -> std::io::Result<Bytes> {
    let mut buf = BytesMut::zeroed(len);
    file.read_exact_at(&mut buf, pos).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            std::io::Error::new(e.kind(), "blob file is shorter than its recorded size")
        } else {
            e
        }
    })?;
    Ok(buf.freeze())
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn upload_writer(&self, id: &str, offset: u64) -> Result<Box<dyn UploadWriter>> {
        let path = self.upload_path(id)?;
        let id_owned = id.to_string();
        let keys = self.keys.clone();
        let opened =
            blocking(move || fs_sealed::open_upload(keys.as_deref(), &path, &id_owned, offset))
                .await?
                .ok_or_else(|| StoreError::UploadNotFound(id.to_string()))?;

        let OpenUpload { file, pos, sealer } = opened;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        out.seek(SeekFrom::Start(pos))
            .map_err(StoreError::from_io)?;
        Ok(Box::new(FsUploadWriter {
            offload: Offload::new(
                FileSink {
                    out,
                    size: offset,
                    pos,
                    handed: pos,
                    sealer,
                    scratch: Vec::new(),
                },
                WRITE_QUEUE_BYTES,
                WRITE_BATCH,
            ),
        }))
    }

    async fn read_upload(&self, id: &str, len: u64) -> Result<BlobReader> {
        let path = self.upload_path(id)?;
        let id_owned = id.to_string();
        let file = blocking(move || match File::open(&path) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await?
        .ok_or(StoreError::UploadNotFound(id_owned.clone()))?;
        let Some(keys) = self.keys.clone() else {
            return Ok(stream_file(file, 0, len));
        };
        let path = self.upload_path(id)?;
        let reads = blocking(move || UploadReads::open(&keys, file, path, &id_owned, len)).await?;
        let reads = match reads {
            Ok(sealed) => UploadReadsOf::Sealed(sealed),
            Err(plain) => UploadReadsOf::Plain(FileReads {
                file: plain,
                pos: 0,
                end: len,
            }),
        };
        Ok(BlobReader {
            len,
            stream: Box::pin(Prefetch::new(reads)),
        })
    }

    async fn commit_upload(&self, id: &str, digest: &Digest) -> Result<()> {
        let from = self.upload_path(id)?;
        let to = self.blob_path(digest);
        let keys = self.keys.clone();
        let (id, name) = (id.to_string(), digest.to_string());
        let replaced = blocking(move || {
            if to.exists() {
                // Same digest, same bytes: keep the stored copy. Freeing the
                // duplicate's extents can take a while for a large blob, so it
                // happens off the request path (a crash leaves an orphan that
                // the next start sweeps).
                return Ok(Some(from));
            }
            install(keys.as_deref(), &from, &to, &id, &name)?;
            Ok(None)
        })
        .await?;
        if let Some(duplicate) = replaced {
            tokio::task::spawn_blocking(move || {
                remove_sidecar(&duplicate);
                if let Err(e) = fs::remove_file(&duplicate) {
                    tracing::warn!(path = %duplicate.display(), error = %e, "could not remove a duplicate upload");
                }
            });
        }
        Ok(())
    }

    async fn domain(&self, keys: Arc<Keyring>) -> Result<Arc<dyn BlobStore>> {
        let name = crate::blob::checked_domain(keys.domain_name())?.to_string();
        if self.keys.is_none() {
            return Err(crate::blob::unsealed_domain(&name));
        }
        let blobs = self.root.join(&name).join("blobs");
        let dir = blobs.clone();
        blocking(move || create_shards(&dir)).await?;
        Ok(Arc::new(FsBlobStore {
            root: self.root.clone(),
            blobs,
            keys: Some(keys),
        }))
    }

    async fn domains(&self) -> Result<Vec<String>> {
        let dir = self
            .root
            .join(crate::blob::DOMAIN_PREFIX.trim_end_matches('/'));
        blocking(move || {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut out = Vec::new();
            for entry in entries {
                let name = format!(
                    "{}{}",
                    crate::blob::DOMAIN_PREFIX,
                    entry?.file_name().to_string_lossy()
                );
                if crate::blob::checked_domain(&name).is_ok() {
                    out.push(name);
                }
            }
            out.sort();
            Ok(out)
        })
        .await
    }

    async fn delete_upload(&self, id: &str) -> Result<()> {
        let path = self.upload_path(id)?;
        blocking(move || {
            remove_sidecar(&path);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn upload_objects(&self) -> Result<Vec<(String, i64)>> {
        let dir = self.root.join("uploads");
        blocking(move || {
            // An upload's sidecars (`<id>.tail`, `<id>.tail.tmp`) count as
            // the upload: a sweep of the id removes them with it.
            let mut ids: std::collections::HashMap<String, i64> = Default::default();
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                if let Some(name) = entry.file_name().to_str() {
                    let id = name.split('.').next().unwrap_or(name).to_string();
                    // An upload finished (or a duplicate's data discarded)
                    // between the listing and this look is gone, not an
                    // error: the listing must not fail under a busy server.
                    let metadata = match entry.metadata() {
                        Ok(m) => m,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(e),
                    };
                    let at = modified_millis(&metadata)?;
                    let newest = ids.entry(id).or_insert(at);
                    *newest = (*newest).max(at);
                }
            }
            Ok(ids.into_iter().collect())
        })
        .await
    }

    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        let path = self.blob_path(digest);
        blocking(move || {
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let len = file.metadata()?.len();
            // A sealed file whose size no blob seals to (grown, cut) says
            // its raw size: never the recorded one, so fsck reports it.
            Ok(Some(match fs_sealed::read_header(&file) {
                Ok(None) => len,
                Ok(Some(h)) => crate::sealed::blob_plain_len(h.segment, len).unwrap_or(len),
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => len,
                Err(e) => return Err(e),
            }))
        })
        .await
    }

    async fn read(&self, digest: &Digest, offset: u64, len: u64) -> Result<Option<BlobReader>> {
        // One blocking task opens the file and maps the first window, so
        // that a small blob costs one hand-off to the blocking pool.
        let path = self.blob_path(digest);
        let keys = self.keys.clone();
        let name = digest.to_string();
        let opened = blocking(move || {
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let (mut windows, mut opener) =
                match fs_sealed::open_blob(keys.as_deref(), &file, &name)? {
                    None => (
                        BlobReads::Plain(Windows {
                            file,
                            pos: offset,
                            end: offset + len,
                        }),
                        None,
                    ),
                    Some(opener) => {
                        if offset + len > opener.len() {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                format!(
                                    "blob {name} holds {} bytes, {} asked for",
                                    opener.len(),
                                    offset + len
                                ),
                            ));
                        }
                        let (windows, o) = fs_sealed::sealed_windows(opener, offset, offset + len);
                        (BlobReads::Sealed { file, windows }, Some(o))
                    }
                };
            // The first window is opened here, on the blocking pool.
            let first = match (windows.next(), &mut opener) {
                (Some(sealed), Some(o)) => Some(o.open(sealed)?),
                (first, _) => first.transpose()?,
            };
            Ok(Some((first, windows, opener)))
        })
        .await?;
        let Some((first, windows, opener)) = opened else {
            return Ok(None);
        };
        let stream: futures_util::stream::BoxStream<'static, std::io::Result<Bytes>> = match first {
            None => Box::pin(futures_util::stream::empty()),
            // A blob of one window (most layers are small) is done in
            // that one hand-off to the blocking pool.
            Some(first) if windows.done() => {
                Box::pin(futures_util::stream::once(std::future::ready(Ok(first))))
            }
            Some(first) => match opener {
                None => Box::pin(Prefetch::after(first, windows)),
                Some(o) => Box::pin(
                    futures_util::stream::once(std::future::ready(Ok(first)))
                        .chain(o.opening(Prefetch::new(windows))),
                ),
            },
        };
        Ok(Some(BlobReader { len, stream }))
    }

    async fn is_plaintext(&self, digest: &Digest) -> Result<bool> {
        if self.keys.is_none() {
            return Ok(false);
        }
        let path = self.blob_path(digest);
        blocking(move || match File::open(&path) {
            Ok(f) => Ok(matches!(fs_sealed::read_header(&f), Ok(None))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        })
        .await
    }

    async fn reseal(&self, digest: &Digest) -> Result<Option<u64>> {
        let Some(keys) = self.keys.clone() else {
            return Ok(None);
        };
        if !self.is_plaintext(digest).await? {
            return Ok(None);
        }
        let Some(size) = self.stat(digest).await? else {
            return Ok(None);
        };
        // Written as an upload is (sealed as it goes), checked, then put
        // in the plaintext's place by one rename: a reader holding the old
        // file keeps reading it, a new one opens the sealed file.
        let id = uuid::Uuid::new_v4().to_string();
        let written = async {
            let mut reader = self.read(digest, 0, size).await?.ok_or_else(|| {
                StoreError::Corrupt(format!("blob {digest} vanished while being sealed"))
            })?;
            let mut writer = self.upload_writer(&id, 0).await?;
            crate::blob::pump_checked(&mut reader, &mut *writer, digest, size, true).await?;
            writer.finish().await?;
            let from = self.upload_path(&id)?;
            let to = self.blob_path(digest);
            let (id, name) = (id.clone(), digest.to_string());
            blocking(move || install(Some(&keys), &from, &to, &id, &name)).await
        }
        .await;
        if written.is_err() {
            let _ = self.delete_upload(&id).await;
        }
        written.map(|()| Some(size))
    }

    async fn rewrap(&self, digest: &Digest) -> Result<bool> {
        let Some(keys) = self.keys.clone() else {
            return Ok(false);
        };
        let path = self.blob_path(digest);
        let name = digest.to_string();
        Ok(blocking(move || fs_sealed::rewrap_file(&keys, &path, &name)).await?)
    }

    async fn rewrap_uploads(&self, rewrite: bool) -> Result<(u64, u64)> {
        let Some(keys) = self.keys.clone() else {
            return Ok((0, 0));
        };
        let mut done = (0, 0);
        for (id, _) in self.upload_objects().await? {
            let Ok(path) = self.upload_path(&id) else {
                continue;
            };
            let keys = keys.clone();
            let what = id.clone();
            match blocking(move || fs_sealed::rewrap_upload_file(&keys, &path, &id, rewrite)).await
            {
                Ok(fs_sealed::UploadRewrap::Rewrapped) => done.0 += 1,
                Ok(fs_sealed::UploadRewrap::Current) => {}
                Ok(fs_sealed::UploadRewrap::Left) => done.1 += 1,
                Err(e) => {
                    // One damaged upload does not stop the pass; it is left.
                    tracing::warn!(upload = %what, error = %e, "could not re-wrap an upload's data key");
                    done.1 += 1;
                }
            }
        }
        Ok(done)
    }

    async fn blobs_in_shard(&self, algorithm: Algorithm, shard: u8) -> Result<Vec<(Digest, i64)>> {
        let dir = self
            .blobs
            .join(algorithm.as_str())
            .join(format!("{shard:02x}"));
        blocking(move || {
            let mut out = Vec::new();
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                // Anything that is not a digest's file is not ours to judge.
                let Ok(digest) = format!("{}:{name}", algorithm.as_str()).parse::<Digest>() else {
                    continue;
                };
                out.push((digest, modified_millis(&entry.metadata()?)?));
            }
            Ok(out)
        })
        .await
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>> {
        let path = self.upload_path(id)?;
        if let Some(keys) = self.keys.clone() {
            let id = id.to_string();
            return blocking(move || fs_sealed::upload_len(&keys, &path, &id)).await;
        }
        blocking(move || match fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    fn blob_location(&self, digest: &Digest) -> String {
        self.blob_path(digest).display().to_string()
    }

    fn upload_location(&self, id: &str) -> String {
        match self.upload_path(id) {
            Ok(p) => p.display().to_string(),
            Err(_) => format!("upload {id:?} (not a valid upload id)"),
        }
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        // No directory fsync: a deletion that a crash undoes leaves a file
        // without a record, which the next collection sweeps.
        let path = self.blob_path(digest);
        blocking(move || match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        let uploads = self.root.join("uploads");
        blocking(move || {
            let meta = fs::metadata(&uploads)?;
            if meta.permissions().readonly() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "uploads directory is read-only",
                ));
            }
            Ok(())
        })
        .await
    }
}

/// Removes an upload's sidecar, if it has one (nothing reads it after a
/// commit or a deletion; a leftover is swept with its id).
/// Upload file `from` (upload `id`) made the blob `name` at `to`, in place
/// of whatever is there: sealed for the blob when `keys` (the terminal and
/// the blob's header), then renamed. The upload file was fsynced when its
/// last bytes were written (and `seal_for_commit` syncs what it adds); the
/// rename and the directory fsync make the name durable.
fn install(
    keys: Option<&Keyring>,
    from: &Path,
    to: &Path,
    id: &str,
    name: &str,
) -> std::io::Result<()> {
    if let Some(keys) = keys {
        fs_sealed::seal_for_commit(keys, from, id, name)?;
    }
    fs::rename(from, to)?;
    sync_dir(to.parent().expect("blob paths have a parent"))?;
    remove_sidecar(from);
    Ok(())
}

fn remove_sidecar(upload: &Path) {
    let _ = fs::remove_file(fs_sealed::sidecar(upload));
}

/// An upload file being appended to, on the blocking pool.
struct FileSink {
    out: BufWriter<File>,
    /// Plaintext bytes of the upload so far.
    size: u64,
    /// Bytes of the file so far (with what `out` buffers).
    pos: u64,
    /// Bytes before this offset have been handed to writeback.
    handed: u64,
    /// Seals what is written, when the store has keys.
    sealer: Option<Sealer>,
    scratch: Vec<u8>,
}

impl FileSink {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }
}

impl ChunkSink for FileSink {
    fn take(&mut self, chunk: Bytes) -> std::io::Result<()> {
        self.size += chunk.len() as u64;
        match self.sealer.as_mut() {
            None => self.put(&chunk)?,
            Some(sealer) => {
                let mut sealed = std::mem::take(&mut self.scratch);
                sealed.clear();
                sealer.push(&chunk, &mut sealed);
                self.put(&sealed)?;
                self.scratch = sealed;
            }
        }
        let in_file = self.pos - self.out.buffer().len() as u64;
        if in_file - self.handed >= WRITEBACK_STEP {
            // Advisory: if it fails, the final fdatasync still writes
            // everything, only later.
            let _ = sys::start_writeback(self.out.get_ref(), self.handed, in_file - self.handed);
            self.handed = in_file;
        }
        Ok(())
    }
}

struct FsUploadWriter {
    offload: Offload<FileSink>,
}

#[async_trait]
impl UploadWriter for FsUploadWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.offload.send(chunk).await.map_err(StoreError::from_io)
    }

    async fn finish(self: Box<Self>) -> Result<u64> {
        let mut sink = self.offload.finish().await.map_err(StoreError::from_io)?;
        blocking(move || {
            if let Some(sealer) = sink.sealer.take() {
                let mut tail = std::mem::take(&mut sink.scratch);
                tail.clear();
                sealer.finish_upload(&mut tail);
                sink.put(&tail)?;
            }
            let size = sink.size;
            let file = sink.out.into_inner().map_err(|e| e.into_error())?;
            file.sync_data()?;
            Ok(size)
        })
        .await
    }
}

/// A file's last-modified time in Unix ms (0 before the epoch).
fn modified_millis(meta: &fs::Metadata) -> std::io::Result<i64> {
    Ok(meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0))
}
#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    async fn collect(r: BlobReader) -> std::io::Result<Vec<u8>> {
        let mut s = r.stream;
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    /// A store holding `bytes` as a committed blob (placed directly: these
    /// tests are about reading, so the digest need not match).
    async fn store_with(bytes: &[u8]) -> (tempfile::TempDir, FsBlobStore, Digest) {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).await.unwrap();
        let digest: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        fs::write(store.blob_path(&digest), bytes).unwrap();
        (dir, store, digest)
    }

    #[tokio::test]
    async fn mapped_windows_serve_any_range_exactly() {
        let bytes: Vec<u8> = (0..(2 * MAP_WINDOW + 12_345))
            .map(|i| (i * 31 + i / 4096) as u8)
            .collect();
        let (_dir, store, d) = store_with(&bytes).await;
        let n = bytes.len() as u64;
        let w = MAP_WINDOW as u64;
        for (offset, len) in [
            (0, n),
            (1, n - 1),
            (w - 1, 2),
            (w, w),
            (4095, w + 3),
            (n - 1, 1),
            (7, 0),
        ] {
            let got = collect(store.read(&d, offset, len).await.unwrap().unwrap())
                .await
                .unwrap();
            assert_eq!(
                got,
                bytes[offset as usize..(offset + len) as usize],
                "{offset}+{len}"
            );
        }
    }

    #[tokio::test]
    async fn a_file_shorter_than_its_record_is_an_error_not_a_crash() {
        let (_dir, store, d) = store_with(&[7u8; 1000]).await;
        // The first window is read before the answer starts: its failure
        // is the read's, so the client gets an error status, not a short
        // body.
        let Err(StoreError::Io(err)) = store.read(&d, 0, 5000).await else {
            panic!("a short file read as whole");
        };
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("shorter"), "{err}");
        // Past the first window, the stream fails.
        let (_dir, store, d) = store_with(&vec![7u8; 3 * MAP_WINDOW]).await;
        let err = collect(
            store
                .read(&d, 0, 5 * MAP_WINDOW as u64)
                .await
                .unwrap()
                .unwrap(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
