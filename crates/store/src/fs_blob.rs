//! Blob store on a local filesystem.
//!
//! Layout under the root:
//! * `blobs/<algorithm>/<first two hex>/<hex>`: committed blobs;
//! * `uploads/<id>`: upload sessions' temporary files, on the same
//!   filesystem so that committing is a rename.
//!
//! File I/O runs on blocking threads that talk to the async side through
//! small bounded channels: network receive and hashing overlap with disk
//! writes, and memory per request stays at a few chunks.

use crate::blob::{BlobReader, BlobStore, UploadWriter};
use crate::sys;
use crate::{Result, StoreError};
use async_trait::async_trait;
use berth_oci::{Algorithm, Digest};
use bytes::{Bytes, BytesMut};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Size of each read from an upload file; also the granularity of the stream.
const READ_CHUNK: usize = 256 * 1024;
/// Chunks read ahead of the network per upload re-read.
const READ_AHEAD: usize = 4;
/// Bytes of a committed blob mapped at a time for a download.
const MAP_WINDOW: usize = 1024 * 1024;
/// Windows mapped ahead of the network per download.
const MAP_AHEAD: usize = 1;
/// Chunks queued between the network and the disk per upload (hyper hands
/// over up to ~400 KiB at a time, so this bounds an upload at ~3 MiB).
const WRITE_QUEUE: usize = 8;
/// Small chunks are gathered up to this; larger ones go to the file as they
/// are, without a copy into the buffer.
const WRITE_BUFFER: usize = 128 * 1024;
/// Written bytes handed to the disk's writeback at a time during an upload.
const WRITEBACK_STEP: u64 = 8 * 1024 * 1024;

/// Modes of what the blob store creates: the owner only, whatever the
/// process's umask (an umask only removes bits, so these stay as they are).
pub const PRIVATE_DIR: u32 = 0o700;
pub const PRIVATE_FILE: u32 = 0o600;

pub struct FsBlobStore {
    root: PathBuf,
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
            for algorithm in Algorithm::ALL {
                let dir = r.join("blobs").join(algorithm.as_str());
                for i in 0..=255u8 {
                    private().create(dir.join(format!("{i:02x}")))?;
                }
            }
            sync_dir(&r.join("blobs"))?;
            sync_dir(&r)?;
            Ok(())
        })
        .await?;
        Ok(FsBlobStore { root })
    }

    fn upload_path(&self, id: &str) -> Result<PathBuf> {
        // Ids come from URLs: never let one name anything but a file in uploads/.
        let safe = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if !safe {
            return Err(StoreError::UploadNotFound(id.to_string()));
        }
        Ok(self.root.join("uploads").join(id))
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
    }
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

/// Streams `len` bytes of `file` from `offset` through a read-ahead thread.
fn stream_file(mut file: File, offset: u64, len: u64) -> BlobReader {
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = file.seek(SeekFrom::Start(offset)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut left = len;
        while left > 0 {
            let want = left.min(READ_CHUNK as u64) as usize;
            let mut buf = BytesMut::zeroed(want);
            let mut filled = 0;
            while filled < want {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => {
                        let _ = tx.blocking_send(Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "blob file is shorter than its recorded size",
                        )));
                        return;
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
            left -= want as u64;
            if tx.blocking_send(Ok(buf.freeze())).is_err() {
                return; // the client went away
            }
        }
    });
    reader_from(rx, len)
}

fn reader_from(rx: mpsc::Receiver<std::io::Result<Bytes>>, len: u64) -> BlobReader {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    BlobReader {
        len,
        stream: Box::pin(stream),
    }
}

/// Sends `len` bytes of a committed blob from `offset` as windows of the
/// file, each mapped and faulted in here, ahead of the network (see
/// `sys::map_blob`). A window that cannot be mapped is read instead, so that
/// a failing disk gives the request an error.
fn send_windows(file: &File, offset: u64, len: u64, tx: &mpsc::Sender<std::io::Result<Bytes>>) {
    let end = offset + len;
    let mut pos = offset;
    while pos < end {
        // Windows after the first are aligned, so each maps whole pages.
        let to_boundary = MAP_WINDOW as u64 - pos % MAP_WINDOW as u64;
        let want = (end - pos).min(to_boundary) as usize;
        let window = sys::map_blob(file, pos, want).or_else(|_| read_at(file, pos, want));
        let failed = window.is_err();
        if tx.blocking_send(window).is_err() || failed {
            return;
        }
        pos += want as u64;
    }
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
        let file = blocking(move || {
            let file = match OpenOptions::new()
                .write(true)
                .create(offset == 0)
                .truncate(false)
                // Committed blobs are these files renamed: 0600 for both.
                .mode(PRIVATE_FILE)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            if file.metadata()?.len() < offset {
                return Err(std::io::Error::other(format!(
                    "upload file {} is shorter than its recorded size {offset}",
                    path.display()
                )));
            }
            file.set_len(offset)?;
            Ok(Some(file))
        })
        .await?
        .ok_or(StoreError::UploadNotFound(id_owned))?;

        let (tx, mut rx) = mpsc::channel::<WriteMsg>(WRITE_QUEUE);
        let handle = tokio::task::spawn_blocking(move || -> std::io::Result<Option<u64>> {
            let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
            out.seek(SeekFrom::Start(offset))?;
            let mut size = offset;
            // Bytes before this offset have been handed to writeback.
            let mut handed = offset;
            while let Some(msg) = rx.blocking_recv() {
                match msg {
                    WriteMsg::Data(chunk) => {
                        out.write_all(&chunk)?;
                        size += chunk.len() as u64;
                        let in_file = size - out.buffer().len() as u64;
                        if in_file - handed >= WRITEBACK_STEP {
                            // Advisory: if it fails, the final fdatasync still
                            // writes everything, only later.
                            let _ = sys::start_writeback(out.get_ref(), handed, in_file - handed);
                            handed = in_file;
                        }
                    }
                    WriteMsg::Finish => {
                        let file = out.into_inner().map_err(|e| e.into_error())?;
                        file.sync_data()?;
                        return Ok(Some(size));
                    }
                }
            }
            Ok(None) // abandoned: the caller dropped the writer
        });
        Ok(Box::new(FsUploadWriter { tx, handle }))
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
        .ok_or(StoreError::UploadNotFound(id_owned))?;
        Ok(stream_file(file, 0, len))
    }

    async fn commit_upload(&self, id: &str, digest: &Digest) -> Result<()> {
        let from = self.upload_path(id)?;
        let to = self.blob_path(digest);
        let replaced = blocking(move || {
            if to.exists() {
                // Same digest, same bytes: keep the stored copy. Freeing the
                // duplicate's extents can take a while for a large blob, so it
                // happens off the request path (a crash leaves an orphan that
                // the next start sweeps).
                return Ok(Some(from));
            }
            // The upload file was fsynced when its last bytes were written;
            // the rename and the directory fsync make the name durable.
            fs::rename(&from, &to)?;
            sync_dir(to.parent().expect("blob paths have a parent"))?;
            Ok(None)
        })
        .await?;
        if let Some(duplicate) = replaced {
            tokio::task::spawn_blocking(move || {
                if let Err(e) = fs::remove_file(&duplicate) {
                    tracing::warn!(path = %duplicate.display(), error = %e, "could not remove a duplicate upload");
                }
            });
        }
        Ok(())
    }

    async fn delete_upload(&self, id: &str) -> Result<()> {
        let path = self.upload_path(id)?;
        blocking(move || match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await
    }

    async fn upload_ids(&self) -> Result<Vec<String>> {
        let dir = self.root.join("uploads");
        blocking(move || {
            let mut ids = Vec::new();
            for entry in fs::read_dir(&dir)? {
                if let Some(name) = entry?.file_name().to_str() {
                    ids.push(name.to_string());
                }
            }
            Ok(ids)
        })
        .await
    }

    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        let path = self.blob_path(digest);
        blocking(move || match fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    async fn read(&self, digest: &Digest, offset: u64, len: u64) -> Result<Option<BlobReader>> {
        // One blocking task opens the file and goes on to map it, so that a
        // small blob costs one hand-off to the blocking pool, not two.
        let path = self.blob_path(digest);
        let (opened_tx, opened) = tokio::sync::oneshot::channel();
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(MAP_AHEAD);
        tokio::task::spawn_blocking(move || {
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                    return;
                }
            };
            if opened_tx.send(Ok(())).is_ok() {
                send_windows(&file, offset, len, &tx);
            }
        });
        match opened.await {
            Ok(Ok(())) => Ok(Some(reader_from(rx, len))),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Ok(Err(e)) => Err(StoreError::from_io(e)),
            Err(_) => Err(StoreError::Io(std::io::Error::other(
                "the blob reader thread stopped",
            ))),
        }
    }

    async fn blobs_in_shard(&self, algorithm: Algorithm, shard: u8) -> Result<Vec<(Digest, i64)>> {
        let dir = self
            .root
            .join("blobs")
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
                let modified = entry
                    .metadata()?
                    .modified()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                out.push((digest, modified));
            }
            Ok(out)
        })
        .await
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>> {
        let path = self.upload_path(id)?;
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

enum WriteMsg {
    Data(Bytes),
    Finish,
}

struct FsUploadWriter {
    tx: mpsc::Sender<WriteMsg>,
    handle: tokio::task::JoinHandle<std::io::Result<Option<u64>>>,
}

impl FsUploadWriter {
    /// The writer thread stopped early: surface its error.
    async fn thread_error(self: Box<Self>) -> StoreError {
        drop(self.tx);
        match self.handle.await {
            Ok(Err(e)) => StoreError::from_io(e),
            Ok(Ok(_)) => {
                StoreError::Io(std::io::Error::other("upload writer stopped unexpectedly"))
            }
            Err(e) => StoreError::Io(std::io::Error::other(e)),
        }
    }
}

#[async_trait]
impl UploadWriter for FsUploadWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        if self.tx.send(WriteMsg::Data(chunk)).await.is_err() {
            // The thread has exited with an error; take the writer's place to read it.
            let (tx, _) = mpsc::channel(1);
            let dead = FsUploadWriter {
                tx: std::mem::replace(&mut self.tx, tx),
                handle: std::mem::replace(
                    &mut self.handle,
                    tokio::task::spawn_blocking(|| Ok(None)),
                ),
            };
            return Err(Box::new(dead).thread_error().await);
        }
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<u64> {
        if self.tx.send(WriteMsg::Finish).await.is_err() {
            return Err(self.thread_error().await);
        }
        match self.handle.await {
            Ok(Ok(Some(size))) => Ok(size),
            Ok(Ok(None)) => Err(StoreError::Io(std::io::Error::other(
                "upload writer ended without finishing",
            ))),
            Ok(Err(e)) => Err(StoreError::from_io(e)),
            Err(e) => Err(StoreError::Io(std::io::Error::other(e))),
        }
    }
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
        let err = collect(store.read(&d, 0, 5000).await.unwrap().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("shorter"), "{err}");
    }
}
