//! The filesystem blob store's sealed files (format in `sealed.rs`):
//! opening an upload to append to, committing it, reading a blob's
//! segments. Blocking file I/O; `fs_blob.rs` runs it on the blocking pool.
//!
//! An upload file is laid out as its blob will be, so committing appends a
//! 36-byte terminal, rewrites the 96-byte header (the data key re-wrapped
//! for the blob's domain and digest) and renames: no byte is sealed twice.
//! The one segment that is rewritten in place is an upload's partial tail,
//! when a later request continues it; its acknowledged bytes are first
//! kept, sealed, in `<id>.tail` beside it, so a crash mid-rewrite loses
//! nothing that a client was told was stored.

use crate::sealed::{
    self, Header, Keyring, Layout, Opener, SealError, Sealer, SegmentKey, State, HEADER_LEN,
    OVERHEAD, TERMINAL_LEN,
};
use crate::sys;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind};
use std::ops::Range;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Segments opened per read from a blob file (1 MiB of plaintext at the
/// default segment size): the stream's granularity.
const WINDOW_SEGMENTS: u64 = 16;

fn invalid(msg: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, msg)
}

/// The header of a file, or `None` for a plaintext file (written before
/// encryption, or by a store without keys).
pub(crate) fn read_header(file: &File) -> io::Result<Option<Header>> {
    let mut h = [0u8; HEADER_LEN as usize];
    let mut got = 0;
    while got < h.len() {
        match file.read_at(&mut h[got..], got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    if !sealed::is_sealed(&h[..got]) {
        return Ok(None);
    }
    Header::decode(&h[..got]).map(Some).map_err(Into::into)
}

/// Re-wraps the data key in the header of the sealed file at `path`
/// (wrapped for `name`) under the current root generation, when an older
/// one wrapped it: one write within the first sector, then fdatasync. The
/// data key is unchanged, so a reader that read the old header reads on.
/// Whether it did; absent and plaintext files are left alone.
pub(crate) fn rewrap_file(keys: &Keyring, path: &Path, name: &str) -> io::Result<bool> {
    let Some((file, header)) = open_sealed_rw(path)? else {
        return Ok(false);
    };
    rewrap_header(keys, &file, &header, name)
}

/// The file at `path` opened for reading and writing, with its header;
/// `None` when it is absent or plaintext.
fn open_sealed_rw(path: &Path) -> io::Result<Option<(File, Header)>> {
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(read_header(&file)?.map(|h| (file, h)))
}

/// Writes `header` re-wrapped for `name` under the current generation over
/// the file's, when an older one wrapped it.
fn rewrap_header(keys: &Keyring, file: &File, header: &Header, name: &str) -> io::Result<bool> {
    let Some(new) = keys.rewrapped(header, name)? else {
        return Ok(false);
    };
    file.write_all_at(&new.encode(), 0)?;
    file.sync_data()?;
    Ok(true)
}

/// What a root rotation's pass did with one upload file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UploadRewrap {
    /// Under the current generation already (or plaintext, or gone).
    Current,
    Rewrapped,
    /// Still under an older generation: left to its commit or expiry (a
    /// server is running), or a commit interrupted after its header was
    /// rewritten for the blob (wrapped for a digest this pass does not
    /// know), which its retried commit or the upload's expiry settles.
    Left,
}

/// One upload file in a rotation's pass: re-wrapped when `rewrite` and
/// it is an upload's header under an older generation, else counted.
pub(crate) fn rewrap_upload_file(
    keys: &Keyring,
    path: &Path,
    id: &str,
    rewrite: bool,
) -> io::Result<UploadRewrap> {
    let Some((file, header)) = open_sealed_rw(path)? else {
        return Ok(UploadRewrap::Current);
    };
    if header.kek_version == keys.current_generation() {
        return Ok(UploadRewrap::Current);
    }
    if header.state != State::Upload || !rewrite {
        return Ok(UploadRewrap::Left);
    }
    Ok(match rewrap_header(keys, &file, &header, id)? {
        true => UploadRewrap::Rewrapped,
        false => UploadRewrap::Current,
    })
}

fn read_exact(file: &File, at: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, at)?;
    Ok(buf)
}

fn stride(key: &SegmentKey) -> u64 {
    sealed::stride(key.segment())
}

pub(crate) fn sidecar(upload: &Path) -> PathBuf {
    let mut p = upload.as_os_str().to_owned();
    p.push(".tail");
    PathBuf::from(p)
}

/// Opens upload data segment `index` (at least `need` bytes of it: the
/// bytes a session has acknowledged) from the upload file, else from the
/// sidecar a continuing request left before rewriting it.
fn upload_segment(
    file: &File,
    path: &Path,
    key: &SegmentKey,
    index: u64,
    need: u64,
) -> io::Result<Vec<u8>> {
    let start = HEADER_LEN + index * stride(key);
    let file_len = file.metadata()?.len();
    let extent = stride(key).min(file_len.saturating_sub(start));
    if extent > OVERHEAD {
        let mut buf = read_exact(file, start, extent)?;
        if let Some(p) = key.open_data_segment(index, &mut buf) {
            if p.len() as u64 >= need {
                return Ok(p.to_vec());
            }
        }
    }
    if let Ok(mut buf) = fs::read(sidecar(path)) {
        if let Some(p) = key.open_data_segment(index, &mut buf) {
            if p.len() as u64 >= need {
                return Ok(p.to_vec());
            }
        }
    }
    Err(invalid(format!(
        "upload file {} lacks the {need} acknowledged bytes of its segment {index}",
        path.display()
    )))
}

/// Keeps `tail` (segment `index`'s acknowledged bytes) durably in the
/// sidecar before the upload file's copy of it is rewritten.
fn keep_tail(path: &Path, key: &SegmentKey, index: u64, tail: &[u8]) -> io::Result<()> {
    let mut sealed = Vec::with_capacity(tail.len() + OVERHEAD as usize);
    key.seal_tail(index, tail, &mut sealed);
    let side = sidecar(path);
    let mut tmp = side.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(crate::blob::PRIVATE_FILE)
        .open(&tmp)?;
    f.write_all_at(&sealed, 0)?;
    f.sync_data()?;
    fs::rename(&tmp, &side)?;
    File::open(path.parent().expect("upload paths have a parent"))?.sync_all()
}

/// An upload opened for appending: the file positioned where the next
/// sealed byte goes, and the sealer holding the partial tail.
pub(crate) struct OpenUpload {
    pub file: File,
    pub pos: u64,
    pub sealer: Option<Sealer>,
}

/// Opens upload `id` at `path` for appending at plaintext `offset` (see
/// `BlobStore::upload_writer`); `None` if it does not exist. Without keys,
/// or for a plaintext upload (begun before encryption), it goes on in
/// plaintext.
pub(crate) fn open_upload(
    keys: Option<&Keyring>,
    path: &Path,
    id: &str,
    offset: u64,
) -> io::Result<Option<OpenUpload>> {
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(offset == 0)
        .truncate(false)
        // Committed blobs are these files renamed: 0600 for both.
        .mode(crate::blob::PRIVATE_FILE)
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let file_len = file.metadata()?.len();
    let plain = |file: File| {
        if file_len < offset {
            return Err(short(path, offset));
        }
        file.set_len(offset)?;
        Ok(Some(OpenUpload {
            file,
            pos: offset,
            sealer: None,
        }))
    };
    let Some(keys) = keys else {
        return plain(file);
    };
    if offset == 0 {
        let (dek, header) = keys.new_upload(id);
        file.set_len(0)?;
        file.write_all_at(&header.encode(), 0)?;
        return Ok(Some(OpenUpload {
            file,
            pos: HEADER_LEN,
            sealer: Some(Sealer::new(SegmentKey::new(&dek, header.segment))),
        }));
    }
    let Some(header) = read_header(&file)? else {
        return plain(file);
    };
    if header.state != State::Upload {
        return Err(invalid(format!(
            "upload {id} is being committed; start a new upload"
        )));
    }
    let dek = keys.data_key(&header, id)?;
    let key = SegmentKey::new(&dek, header.segment);
    let s = header.segment as u64;
    let (index, rem) = (offset / s, offset % s);
    let start = HEADER_LEN + index * stride(&key);
    let tail = if rem == 0 {
        if file_len < start {
            return Err(short(path, offset));
        }
        Vec::new()
    } else {
        let mut t = upload_segment(&file, path, &key, index, rem)?;
        t.truncate(rem as usize);
        keep_tail(path, &key, index, &t)?;
        t
    };
    file.set_len(start)?;
    Ok(Some(OpenUpload {
        file,
        pos: start,
        sealer: Some(Sealer::resume(key, index, &tail)),
    }))
}

fn short(path: &Path, offset: u64) -> io::Error {
    io::Error::other(format!(
        "upload file {} is shorter than its recorded size {offset}",
        path.display()
    ))
}

/// The plaintext size of an upload file (for fsck); a torn last segment
/// counts for what its sidecar holds.
pub(crate) fn upload_len(keys: &Keyring, path: &Path, id: &str) -> io::Result<Option<u64>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let file_len = file.metadata()?.len();
    let Some(header) = read_header(&file)? else {
        return Ok(Some(file_len));
    };
    if header.state == State::Blob {
        return Ok(sealed::blob_plain_len(header.segment, file_len));
    }
    if let Some(n) = sealed::upload_plain_len(header.segment, file_len) {
        return Ok(Some(n));
    }
    let key = SegmentKey::new(&keys.data_key(&header, id)?, header.segment);
    let full = (file_len - HEADER_LEN) / stride(&key);
    let tail = upload_segment(&file, path, &key, full, 1).map_or(0, |t| t.len() as u64);
    Ok(Some(full * header.segment as u64 + tail))
}

/// Makes the upload file at `path` the sealed blob `digest` (before its
/// rename): appends the terminal unless an interrupted commit already did,
/// writes the blob's header, syncs. A plaintext upload stays as it is.
pub(crate) fn seal_for_commit(
    keys: &Keyring,
    path: &Path,
    id: &str,
    digest: &str,
) -> io::Result<()> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let Some(header) = read_header(&file)? else {
        return Ok(());
    };
    let name = match header.state {
        State::Upload => id,
        // An earlier commit of this upload wrote the header and stopped.
        State::Blob => digest,
    };
    let dek = keys.data_key(&header, name)?;
    let key = SegmentKey::new(&dek, header.segment);
    let file_len = file.metadata()?.len();
    let terminated = sealed::blob_plain_len(header.segment, file_len)
        .filter(|&len| {
            read_exact(&file, file_len - TERMINAL_LEN, TERMINAL_LEN)
                .is_ok_and(|mut t| key.is_terminal(len, &mut t))
        })
        .is_some();
    if !terminated {
        let len = sealed::upload_plain_len(header.segment, file_len).ok_or_else(|| {
            invalid(format!(
                "upload file {} ends in a torn segment ({file_len} bytes)",
                path.display()
            ))
        })?;
        let mut t = Vec::with_capacity(TERMINAL_LEN as usize);
        key.seal_terminal(len, &mut t);
        file.write_all_at(&t, file_len)?;
    }
    let blob = keys.blob_header(digest, &dek, header.segment);
    file.write_all_at(&blob.encode(), 0)?;
    file.sync_data()
}

/// A committed blob file opened for reading: `None` for a plaintext file.
/// The header, the data key and the terminal are checked here, so a read
/// that starts has a whole, authentic blob behind it.
pub(crate) fn open_blob(
    keys: Option<&Keyring>,
    file: &File,
    digest: &str,
) -> io::Result<Option<Opener>> {
    let Some(header) = read_header(file)? else {
        return Ok(None);
    };
    let Some(keys) = keys else {
        return Err(invalid(format!(
            "blob {digest} is sealed and this store was opened without keys"
        )));
    };
    if header.state != State::Blob {
        return Err(SealError::Header.into());
    }
    let dek = match keys.data_key(&header, digest) {
        Ok(dek) => dek,
        // A root rotation rewrites headers in place (`rewrap_file`): a read
        // racing that write may have seen part of each. Read it again.
        Err(_) => {
            let again = read_header(file)?.ok_or(SealError::Header)?;
            keys.data_key(&again, digest)?
        }
    };
    let opener = Opener::new(&dek, header.segment, file.metadata()?.len(), digest)?;
    let r = opener.layout().terminal_range();
    let mut t = read_exact(file, r.start, r.end - r.start)?;
    opener.check_terminal(&mut t)?;
    Ok(Some(opener))
}

/// A sealed blob's plaintext `[pos, end)`, `WINDOW_SEGMENTS` at a time,
/// in two halves that keep step: [`SealedWindows`] names each window's
/// sealed bytes, which the store maps and faults in (the blocking pool,
/// one ahead of the network, as plaintext blobs are read), and
/// [`WindowOpener`] decrypts them out of the mapping on the request's task.
///
/// Why the split: decrypting on the blocking pool as well made each window
/// a second thread's work, and on a machine whose cores the client shares
/// the hand-offs cost more CPU than AES-GCM itself (docs/benchmarks/
/// encryption.md, stop 42). Opening a window is ~0.1 ms of CPU per MiB.
pub(crate) fn sealed_windows(opener: Opener, pos: u64, end: u64) -> (SealedWindows, WindowOpener) {
    (
        SealedWindows {
            layout: opener.layout(),
            pos,
            end,
        },
        WindowOpener {
            opener: Arc::new(opener),
            pos,
            end,
        },
    )
}

/// The plaintext range of the window that starts at `pos`.
fn window_at(layout: Layout, pos: u64, end: u64) -> Range<u64> {
    let window = WINDOW_SEGMENTS * layout.segment as u64;
    pos..end.min((pos / window + 1) * window)
}

/// Where a sealed blob's windows lie in its file (see [`sealed_windows`]).
pub(crate) struct SealedWindows {
    layout: Layout,
    pos: u64,
    end: u64,
}

impl SealedWindows {
    pub(crate) fn done(&self) -> bool {
        self.pos >= self.end
    }

    /// The file bytes that hold the next window's segments.
    pub(crate) fn next_window(&mut self) -> Option<io::Result<Range<u64>>> {
        if self.done() {
            return None;
        }
        let range = window_at(self.layout, self.pos, self.end);
        self.pos = range.end;
        Some(
            self.layout
                .covering(&range)
                .map(|(_, bytes)| bytes)
                .map_err(io::Error::from),
        )
    }
}

/// Opens the windows [`SealedWindows`] names, in the same order.
pub(crate) struct WindowOpener {
    opener: Arc<Opener>,
    pos: u64,
    end: u64,
}

impl WindowOpener {
    /// The next window's plaintext range (kept in step with
    /// [`SealedWindows`], which advances before it reads too).
    fn advance(&mut self) -> Range<u64> {
        let range = window_at(self.opener.layout(), self.pos, self.end);
        self.pos = range.end;
        range
    }

    /// The next window's plaintext, out of its sealed bytes: AES-GCM reads
    /// the ciphertext where it lies (in the page cache), one pass. For the
    /// blocking pool: the first window is opened where it is mapped.
    pub(crate) fn open(&mut self, sealed: io::Result<Bytes>) -> io::Result<Bytes> {
        let range = self.advance();
        Ok(self.opener.open_range_from(&range, &sealed?)?)
    }

    /// The plaintext of every later window `sealed` yields, opened on the
    /// caller's task while its pages are in memory (`sys::is_resident`),
    /// else on the blocking pool: pages faulted in ahead of a slow client
    /// may have been reclaimed since. Nothing follows an error: a window
    /// after a damaged one is never served.
    pub(crate) fn opening(
        self,
        sealed: impl Stream<Item = io::Result<Bytes>> + Send + Unpin + 'static,
    ) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        futures_util::stream::unfold(Some((sealed, self)), |state| async move {
            let (mut sealed, mut me) = state?;
            let window = sealed.next().await?;
            let range = me.advance();
            let opened = match window {
                Err(e) => Err(e),
                Ok(w) if sys::is_resident(&w) => me
                    .opener
                    .open_range_from(&range, &w)
                    .map_err(io::Error::from),
                Ok(w) => {
                    let opener = me.opener.clone();
                    tokio::task::spawn_blocking(move || {
                        opener.open_range_from(&range, &w).map_err(io::Error::from)
                    })
                    .await
                    .unwrap_or_else(|e| Err(io::Error::other(e)))
                }
            };
            let next = opened.is_ok().then_some((sealed, me));
            Some((opened, next))
        })
    }
}

/// An upload's plaintext `[0, len)`, segment by segment (rebuilding a hash
/// state this process does not hold).
pub(crate) struct UploadReads {
    pub file: File,
    pub path: PathBuf,
    pub key: SegmentKey,
    pub pos: u64,
    pub end: u64,
}

impl UploadReads {
    pub(crate) fn open(
        keys: &Keyring,
        file: File,
        path: PathBuf,
        id: &str,
        len: u64,
    ) -> io::Result<Result<UploadReads, File>> {
        let Some(header) = read_header(&file)? else {
            return Ok(Err(file));
        };
        let key = SegmentKey::new(&keys.data_key(&header, id)?, header.segment);
        Ok(Ok(UploadReads {
            file,
            path,
            key,
            pos: 0,
            end: len,
        }))
    }

    pub(crate) fn next_segment(&mut self) -> Option<io::Result<Bytes>> {
        if self.pos >= self.end {
            return None;
        }
        let s = self.key.segment() as u64;
        let index = self.pos / s;
        let need = (self.end - index * s).min(s);
        let got = upload_segment(&self.file, &self.path, &self.key, index, need).map(|mut p| {
            p.truncate(need as usize);
            Bytes::from(p)
        });
        self.pos = index * s + need;
        Some(got)
    }
}

#[cfg(test)]
#[path = "fs_sealed_tests.rs"]
pub(crate) mod tests;
