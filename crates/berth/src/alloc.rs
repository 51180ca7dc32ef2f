//! Tuning glibc's allocator, the binary's only unsafe code. Each setting is
//! kept for a figure `berth-bench` measured (2-core machine, 10,000
//! repositories and tags, manifest GETs on 256 connections).
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
