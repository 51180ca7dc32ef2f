//! The crate's only unsafe code: three Linux facilities that no safe crate
//! wraps, each kept for a figure measured by `berth-bench` (see
//! ARCHITECTURE.md, "Unsafe code and why").
#![allow(unsafe_code)]

use bytes::Bytes;
use std::fs::File;
use std::os::fd::AsRawFd;

/// Starts writeback of `[offset, offset + len)` of `file` without waiting
/// for it (`sync_file_range(SYNC_FILE_RANGE_WRITE)`). The disk then writes
/// while the rest of an upload is still arriving, and the `fdatasync` that
/// makes the upload durable has little left to wait for. It promises no
/// durability by itself; only that `fdatasync` does.
pub fn start_writeback(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Ok(());
    };
    // SAFETY: a syscall on a descriptor that `file` keeps open for the whole
    // call, with integer arguments; it reads and writes no memory of ours.
    let r = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `len` bytes of a committed blob file from `offset`, mapped rather than
/// copied: the response is then written to the socket straight from the
/// page cache (one copy fewer per byte served). The pages are faulted in
/// here (`MADV_POPULATE_READ`), so a read error surfaces as an error from
/// this function, not as a fault while the bytes are sent.
///
/// Callers must only map files that nothing modifies or truncates while
/// mapped: committed blobs are written once, renamed into place and only
/// ever unlinked (which leaves existing mappings intact).
pub fn map_blob(file: &File, offset: u64, len: usize) -> std::io::Result<Bytes> {
    let file_len = file.metadata()?.len();
    if offset.saturating_add(len as u64) > file_len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "blob file is shorter than its recorded size",
        ));
    }
    // SAFETY: the range lies inside the file (checked above), and blob files
    // are immutable once committed (see above): the mapped bytes cannot
    // change or disappear under the `Bytes` that owns the mapping. The one
    // residual risk, a page reclaimed under memory pressure and then failing
    // to read back from a broken disk, is the same SIGBUS exposure that every
    // mmap-serving server (and the page cache itself) accepts.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(offset)
            .len(len)
            .map(file)?
    };
    map.advise(memmap2::Advice::PopulateRead)?;
    Ok(Bytes::from_owner(map))
}

/// Whether every page under `bytes` is in memory now (`mincore`). A window
/// mapped and faulted in ahead of the network (`map_blob`) may have been
/// reclaimed by the time a slow client asks for it; reading it then would
/// wait on the disk, which must not happen on the async runtime.
pub fn is_resident(bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return true;
    }
    // SAFETY: sysconf reads a process constant; it touches no memory of ours.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let start = bytes.as_ptr() as usize;
    let aligned = start - start % page;
    let len = start + bytes.len() - aligned;
    let mut pages = vec![0u8; len.div_ceil(page)];
    // SAFETY: `[aligned, aligned + len)` is the pages under `bytes`, a live
    // slice, so all of it is mapped; mincore only reports on those pages
    // (it reads none of their bytes) and writes one byte per page into
    // `pages`, which holds exactly that many.
    let r = unsafe {
        libc::mincore(
            aligned as *mut libc::c_void,
            len,
            pages.as_mut_ptr() as *mut libc::c_uchar,
        )
    };
    r == 0 && pages.iter().all(|p| p & 1 == 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_never_touched_are_not_resident_and_touched_ones_are() {
        let mut m = memmap2::MmapMut::map_anon(64 * 1024).unwrap();
        assert!(!super::is_resident(&m[..]));
        assert!(!super::is_resident(&m[5000..5001]));
        m.fill(1);
        assert!(super::is_resident(&m[..]));
        assert!(super::is_resident(&m[4095..4097]));
        assert!(super::is_resident(&[]));
        assert!(super::is_resident(&vec![7u8; 100_000]));
    }
}
