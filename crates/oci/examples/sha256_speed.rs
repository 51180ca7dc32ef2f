//! Single-core SHA-256 throughput of the hasher berth uses for every blob:
//! the ceiling on how fast one upload stream can be verified.
//! `cargo run --release -p berth-oci --example sha256_speed`

use berth_oci::{Algorithm, DigestHasher};
use std::time::Instant;

fn main() {
    let buf = vec![0xa5u8; 1 << 20];
    let total_mib = 2048;
    let mut h = DigestHasher::new(Algorithm::Sha256);
    let start = Instant::now();
    for _ in 0..total_mib {
        h.update(&buf);
    }
    let digest = h.finish();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "sha256: {:.0} MB/s ({total_mib} MiB in {secs:.2} s; {digest})",
        total_mib as f64 * 1.048576 / secs
    );
}
