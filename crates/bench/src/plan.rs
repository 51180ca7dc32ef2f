//! What a run measures: the full plan (the workloads and sizes) and
//! the quick one (every workload, small, for CI).

use std::time::Duration;

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

#[derive(Clone, Debug)]
pub struct Plan {
    pub rounds: usize,
    /// Monolithic pushes: (blob size, blob count).
    pub blob_sets: Vec<(u64, usize)>,
    /// Streams of the parallel variant of each push (capped by the count).
    pub parallel_streams: usize,
    /// Chunked push: blob size and PATCH size.
    pub chunked: (u64, u64),
    pub pull_concurrency: Vec<usize>,
    pub manifest_concurrency: Vec<usize>,
    pub warmup: Duration,
    pub measure: Duration,
    pub tags: usize,
    pub repositories: usize,
    /// skopeo image: layers, files per layer, bytes per file.
    pub skopeo_image: (usize, usize, usize),
    /// Restarts timed for "ready to serve".
    pub restarts: usize,
    pub sha256_bytes: u64,
    pub loopback_bytes: u64,
    pub disk_bytes: u64,
    /// The scale-out phase (`--shared`): small blobs (size, count) pushed
    /// over 1 and over `parallel_streams` connections, and the large blob.
    pub scale_out_small: (u64, usize),
    pub scale_out_large: u64,
    /// The replication phase: 10-layer images timed to their replica, the
    /// replications queued beside the manifest load, the remote image's size.
    pub replication_images: usize,
    pub replication_queue: usize,
    pub replication_remote_bytes: u64,
}

impl Plan {
    pub fn full() -> Plan {
        Plan {
            rounds: 3,
            blob_sets: vec![(MIB, 500), (64 * MIB, 20), (GIB, 3)],
            parallel_streams: 8,
            chunked: (GIB, 8 * MIB),
            pull_concurrency: vec![1, 16],
            manifest_concurrency: vec![1, 16, 64, 256],
            warmup: Duration::from_millis(500),
            measure: Duration::from_secs(3),
            tags: 10_000,
            repositories: 10_000,
            skopeo_image: (20, 4, 512 * 1024),
            restarts: 5,
            sha256_bytes: GIB,
            loopback_bytes: 4 * GIB,
            disk_bytes: GIB,
            scale_out_small: (MIB, 500),
            scale_out_large: GIB,
            replication_images: 20,
            replication_queue: 1000,
            replication_remote_bytes: 100 * MIB,
        }
    }

    pub fn quick() -> Plan {
        Plan {
            rounds: 1,
            blob_sets: vec![(MIB, 16), (8 * MIB, 4), (32 * MIB, 2)],
            parallel_streams: 8,
            chunked: (32 * MIB, 8 * MIB),
            pull_concurrency: vec![1, 16],
            manifest_concurrency: vec![1, 16, 64, 256],
            warmup: Duration::from_millis(50),
            measure: Duration::from_millis(150),
            tags: 200,
            repositories: 200,
            skopeo_image: (20, 1, 16 * 1024),
            restarts: 2,
            sha256_bytes: 64 * MIB,
            loopback_bytes: 256 * MIB,
            disk_bytes: 64 * MIB,
            scale_out_small: (MIB, 16),
            scale_out_large: 32 * MIB,
            replication_images: 3,
            replication_queue: 50,
            replication_remote_bytes: 8 * MIB,
        }
    }

    /// Disk the blob phase needs at its peak (both servers, one round).
    pub fn disk_needed(&self) -> u64 {
        let pushed: u64 = self
            .blob_sets
            .iter()
            .map(|(size, count)| size * *count as u64 * 2)
            .sum::<u64>()
            + self.chunked.0;
        2 * pushed + self.disk_bytes
    }
}

/// "1 MiB", "64 MiB", "1 GiB".
pub fn size_label(bytes: u64) -> String {
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// `64MiB:20` → (64 MiB, 20).
pub fn parse_blob_set(s: &str) -> Result<(u64, usize), String> {
    let (size, count) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not SIZE:COUNT"))?;
    let size = size.trim();
    let (digits, unit) = size.split_at(
        size.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(size.len()),
    );
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{size}' has no number"))?;
    let mult = match unit.trim() {
        "KiB" => 1024,
        "MiB" => MIB,
        "GiB" => GIB,
        other => return Err(format!("unit '{other}' is not KiB, MiB or GiB")),
    };
    let count: usize = count
        .trim()
        .parse()
        .map_err(|_| format!("'{count}' is not a count"))?;
    if n == 0 || count == 0 {
        return Err("sizes and counts must be positive".into());
    }
    Ok((n * mult, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_sets_parse() {
        assert_eq!(parse_blob_set("64MiB:20"), Ok((64 * MIB, 20)));
        assert_eq!(parse_blob_set("1GiB:3"), Ok((GIB, 3)));
        assert_eq!(parse_blob_set("512KiB:4"), Ok((512 * 1024, 4)));
        assert!(parse_blob_set("1GB:3").is_err());
        assert!(parse_blob_set("1GiB").is_err());
        assert_eq!(size_label(64 * MIB), "64 MiB");
    }
}
