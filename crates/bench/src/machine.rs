//! The limits of this machine, measured in the same run as the servers:
//! single-core SHA-256 with the hasher berth uses, a loopback TCP copy, and
//! the data disk's durable sequential write and cold sequential read.
//! Throughput is in MB/s (10^6 bytes per second), like every row.

use berth_oci::{Algorithm, DigestHasher};
use rand::RngCore;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

const BUF: usize = 1 << 20;

fn random_buf() -> Vec<u8> {
    let mut v = vec![0u8; BUF];
    rand::rng().fill_bytes(&mut v);
    v
}

fn mb_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

/// SHA-256 of `total` bytes on one core, through `berth_oci::DigestHasher`.
pub fn sha256(total: u64) -> f64 {
    let buf = random_buf();
    let mut h = DigestHasher::new(Algorithm::Sha256);
    let t = Instant::now();
    let mut done = 0;
    while done < total {
        h.update(&buf);
        done += BUF as u64;
    }
    std::hint::black_box(h.finish());
    mb_s(done, t.elapsed().as_secs_f64())
}

/// Sealing `total` bytes on one core with berth's sealed-blob format
/// (AES-256-GCM in 64 KiB segments, `berth_store::sealed`): the limit an
/// encrypted push meets beside SHA-256.
pub fn aes_gcm(total: u64) -> f64 {
    use berth_store::sealed::{DataKey, Sealer, SegmentKey, DEFAULT_SEGMENT};
    let buf = random_buf();
    let key = DataKey::generate();
    let mut out = Vec::with_capacity(BUF + 1024);
    let mut sealer = Sealer::new(SegmentKey::new(&key, DEFAULT_SEGMENT));
    let t = Instant::now();
    let mut done = 0u64;
    while done < total {
        let n = (total - done).min(BUF as u64) as usize;
        out.clear();
        sealer.push(&buf[..n], &mut out);
        std::hint::black_box(&out);
        done += n as u64;
    }
    out.clear();
    sealer.finish_blob(&mut out);
    mb_s(done, t.elapsed().as_secs_f64())
}

/// One TCP connection on loopback: a writer thread sends `total` bytes in
/// 1 MiB writes, this thread reads them into a 1 MiB buffer.
pub fn loopback(total: u64) -> anyhow::Result<f64> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let buf = random_buf();
        let mut s = std::net::TcpStream::connect(addr)?;
        let mut sent = 0;
        while sent < total {
            s.write_all(&buf)?;
            sent += BUF as u64;
        }
        Ok(())
    });
    let (mut s, _) = listener.accept()?;
    let mut buf = vec![0u8; BUF];
    let t = Instant::now();
    let mut got = 0u64;
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    writer.join().expect("writer thread")?;
    Ok(mb_s(got, secs))
}

pub struct Disk {
    /// Sequential 1 MiB writes to a new file, then `fdatasync`: the rate at
    /// which data becomes durable.
    pub write_fsync: f64,
    /// Sequential read of that file after dropping it from the page cache.
    pub read_cold: f64,
}

pub fn disk(dir: &Path, total: u64) -> anyhow::Result<Disk> {
    let path = dir.join("disk-probe.bin");
    let buf = random_buf();
    let t = Instant::now();
    let mut f = File::create(&path)?;
    let mut written = 0;
    while written < total {
        f.write_all(&buf)?;
        written += BUF as u64;
    }
    f.sync_data()?;
    let write_fsync = mb_s(written, t.elapsed().as_secs_f64());
    drop(f);

    let f = File::open(&path)?;
    rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed)?;
    let mut f = f;
    let mut rbuf = vec![0u8; BUF];
    let t = Instant::now();
    let mut read = 0u64;
    loop {
        let n = f.read(&mut rbuf)?;
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    let read_cold = mb_s(read, t.elapsed().as_secs_f64());
    std::fs::remove_file(&path)?;
    Ok(Disk {
        write_fsync,
        read_cold,
    })
}

/// A line describing the machine, for the report.
pub fn describe() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let sha_ni = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.contains(" sha_ni"))
        .unwrap_or(false);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|k| k / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!(
        "{cores} cores ({cpu}{}), {mem_gib:.0} GiB RAM, Linux {kernel}",
        if sha_ni { ", SHA-NI" } else { "" }
    )
}

/// `count` files of `size` bytes made durable the way berth's file store
/// commits a blob (write, `fdatasync`, rename into one of 256 shard
/// directories, `fsync` of that directory), `streams` threads at a time:
/// files per second. The limit of the small-blob rows, whose rate the
/// disk's flushes bound rather than its bandwidth.
pub fn durable_files(dir: &Path, size: usize, count: usize, streams: usize) -> anyhow::Result<f64> {
    let root = dir.join("durable-files-probe");
    for shard in 0..256 {
        std::fs::create_dir_all(root.join(format!("{shard:02x}")))?;
    }
    let buf = std::sync::Arc::new(random_buf().repeat(size.div_ceil(BUF))[..size].to_vec());
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = Instant::now();
    let workers: Vec<_> = (0..streams.max(1))
        .map(|_| {
            let (root, buf, next) = (root.clone(), buf.clone(), next.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= count {
                        return Ok(());
                    }
                    let tmp = root.join(format!("upload-{n}"));
                    let mut f = File::create(&tmp)?;
                    f.write_all(&buf)?;
                    f.sync_data()?;
                    let shard = root.join(format!("{:02x}", n % 256));
                    std::fs::rename(&tmp, shard.join(n.to_string()))?;
                    File::open(&shard)?.sync_all()?;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("probe thread")?;
    }
    let rate = count as f64 / t.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&root)?;
    Ok(rate)
}
