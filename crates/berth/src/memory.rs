//! Keeping resident memory small: glibc's allocator tuning, and handing back
//! the pages of code only start-up ran. The binary's only unsafe code. Each
//! setting is kept for a figure `berth-bench` measured (2-core machine,
//! 10,000 repositories and tags, manifest GETs on 256 connections).
#![allow(unsafe_code)]

use std::time::Duration;

/// How often memory freed inside the heap is handed back to the OS.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// glibc gives each thread that contends for the heap an arena of its own,
/// up to eight per core, and memory freed into an arena stays there. With
/// tokio's workers, its blocking pool and sqlx's connection threads, that
/// spread raised peak RSS under the manifest load from 27.7 MiB (arenas
/// capped at the core count) to 31.8 MiB at the same request rate; a cap of
/// one arena cost 20% of the rate. Must run before any other thread starts.
pub fn cap_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2);
        // SAFETY: mallopt only sets an allocator tunable; main calls this
        // first, before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cores as libc::c_int);
        }
    }
}

/// glibc returns freed memory to the OS only from the top of a heap, so
/// buffers freed in the middle (upload chunks, listings of thousands of
/// names) stay resident: after a few rounds of the benchmark, 9 of berth's
/// 21 MiB of anonymous memory was free memory that `malloc_trim` released.
/// Trimming every few seconds costs a walk of the free lists.
pub fn trim_periodically() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::spawn(async {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // SAFETY: malloc_trim only releases free pages of the heap; it
            // takes the allocator's own locks.
            let _ = tokio::task::spawn_blocking(|| unsafe { libc::malloc_trim(0) }).await;
        }
    });
}

/// Hands freed memory back at once (after an image scan, which may have
/// held its 128 MiB kept-bytes budget): the same call as the periodic trim.
pub fn trim_now() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: as in `trim_periodically`.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Held by each piece of start-up's one-time work that goes on after the
/// listener is up (the first pass of every background job, the resumption
/// of interrupted archive moves). When the last holder drops it, start-up
/// is over and its code is paged out (`page_out_startup_code`): paging out
/// as the listener came up left the code those first passes ran resident,
/// 8.1 of the 11.4 MiB of file-backed memory at idle on 10,000 repositories.
#[derive(Clone)]
pub struct StartupWork(#[allow(dead_code)] tokio::sync::mpsc::Sender<()>);

impl StartupWork {
    /// The first holder; clone it into each piece of start-up work.
    pub fn page_out_when_done() -> StartupWork {
        let (holder, mut done) = tokio::sync::mpsc::channel::<()>(1);
        tokio::spawn(async move {
            // Nothing is ever sent: this ends when every holder is gone.
            while done.recv().await.is_some() {}
            page_out_startup_code();
        });
        StartupWork(holder)
    }
}

/// Start-up runs code that serving never runs again (argument parsing,
/// migrations, the first checks of the stores), and the kernel maps an
/// executable's code around every page touched (fault-around, large page
/// cache folios): of 18.1 MiB resident after start and one request, 13.9
/// were the executable's own clean pages and 2.2 anonymous memory. Paging
/// the code out once start-up is done leaves resident only what serving
/// touches again (10.2 MiB in all after one request). `MADV_PAGEOUT`
/// reclaims clean file pages that only this process maps, which are read
/// back from the file if used again; it never changes contents. Only the
/// code and the read-only data at the file's start are paged out: the
/// RELRO pages after the code were relocated at load, and their copies are
/// anonymous.
fn page_out_startup_code() {
    #[cfg(target_os = "linux")]
    {
        let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
            return;
        };
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return;
        };
        for (start, end) in maps.lines().filter_map(|l| code_mapping(l, &exe)) {
            // SAFETY: the range is a whole mapping of this process's own
            // executable, read-only and unmodified; paging it out drops
            // clean copies of file contents, which a later access reads
            // back. A kernel without MADV_PAGEOUT (before 5.4) answers
            // EINVAL and nothing happens.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT);
            }
        }
    }
}

/// The address range of a `/proc/self/maps` line if it maps `exe`'s code
/// (`r-xp`) or the read-only data at its start (`r--p` at offset 0).
#[cfg(target_os = "linux")]
fn code_mapping(line: &str, exe: &std::path::Path) -> Option<(usize, usize)> {
    let mut fields = line.split_whitespace();
    let (range, perms, offset) = (fields.next()?, fields.next()?, fields.next()?);
    let path = fields.nth(2)?;
    let wanted = perms == "r-xp" || (perms == "r--p" && offset.trim_start_matches('0').is_empty());
    if !wanted || std::path::Path::new(path) != exe {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    Some((
        usize::from_str_radix(start, 16).ok()?,
        usize::from_str_radix(end, 16).ok()?,
    ))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::code_mapping;
    use std::path::Path;

    #[test]
    fn only_the_executables_code_and_leading_read_only_data_are_picked() {
        let exe = Path::new("/usr/bin/berth");
        let line = |perms: &str, offset: &str, path: &str| {
            format!("55dfdf182000-55dfdf708000 {perms} {offset} fe:00 5632028    {path}")
        };
        let range = Some((0x55dfdf182000, 0x55dfdf708000));
        assert_eq!(
            code_mapping(&line("r-xp", "00585000", "/usr/bin/berth"), exe),
            range
        );
        assert_eq!(
            code_mapping(&line("r--p", "00000000", "/usr/bin/berth"), exe),
            range
        );
        // RELRO (relocated at load), data, another file, anonymous memory.
        assert_eq!(
            code_mapping(&line("r--p", "017da000", "/usr/bin/berth"), exe),
            None
        );
        assert_eq!(
            code_mapping(&line("rw-p", "01885000", "/usr/bin/berth"), exe),
            None
        );
        assert_eq!(
            code_mapping(&line("r-xp", "00000000", "/usr/lib/libc.so.6"), exe),
            None
        );
        assert_eq!(code_mapping("7f00-7f10 rw-p 00000000 00:00 0", exe), None);
    }
}
