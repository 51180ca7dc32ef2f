//! Blob content for the push and pull workloads: deterministic, distinct per
//! blob, incompressible, and never materialised. A blob is a run of 1 MiB
//! chunks that share one random buffer and differ in a 16-byte header
//! (blob seed, chunk index), so a 1 GiB blob costs the harness no memory and
//! its frames are reference-counted slices of the same buffer.

use berth_oci::{Algorithm, DigestHasher};
use bytes::Bytes;
use rand::{RngCore, SeedableRng};

pub const CHUNK: u64 = 1 << 20;
const HEADER: u64 = 16;

#[derive(Clone)]
pub struct Blob {
    base: Bytes,
    seed: u64,
    pub size: u64,
    pub digest: String,
}

/// The shared random chunk.
pub fn base_chunk() -> Bytes {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xbe27_b0a7);
    let mut v = vec![0u8; CHUNK as usize];
    rng.fill_bytes(&mut v);
    Bytes::from(v)
}

impl Blob {
    /// Blob `seed` of `size` bytes, with its digest computed here (callers
    /// do this before timing starts).
    pub fn new(base: &Bytes, seed: u64, size: u64) -> Blob {
        let mut b = Blob {
            base: base.clone(),
            seed,
            size,
            digest: String::new(),
        };
        let mut h = DigestHasher::new(Algorithm::Sha256);
        for f in b.frames(0, size) {
            h.update(&f);
        }
        b.digest = h.finish().to_string();
        b
    }

    /// Several blobs, hashed on every core.
    pub fn many(base: &Bytes, seeds: impl Iterator<Item = u64>, size: u64) -> Vec<Blob> {
        let seeds: Vec<u64> = seeds.collect();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let per = seeds.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = seeds
                .chunks(per)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|&seed| Blob::new(base, seed, size))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("hashing thread"))
                .collect()
        })
    }

    /// The bytes `[offset, offset + len)` as frames.
    pub fn frames(&self, offset: u64, len: u64) -> Frames {
        Frames {
            base: self.base.clone(),
            seed: self.seed,
            pos: offset,
            end: (offset + len).min(self.size),
        }
    }
}

pub struct Frames {
    base: Bytes,
    seed: u64,
    pos: u64,
    end: u64,
}

impl Iterator for Frames {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.pos >= self.end {
            return None;
        }
        let chunk = self.pos / CHUNK;
        let within = self.pos % CHUNK;
        let chunk_end = ((chunk + 1) * CHUNK).min(self.end);
        let frame = if within < HEADER {
            let mut h = [0u8; HEADER as usize];
            h[..8].copy_from_slice(&self.seed.to_le_bytes());
            h[8..].copy_from_slice(&chunk.to_le_bytes());
            let upto = HEADER.min(chunk_end - chunk * CHUNK);
            Bytes::copy_from_slice(&h[within as usize..upto as usize])
        } else {
            self.base
                .slice(within as usize..(chunk_end - chunk * CHUNK) as usize)
        };
        self.pos += frame.len() as u64;
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(f: Frames) -> Vec<u8> {
        f.flat_map(|b| b.to_vec()).collect()
    }

    #[test]
    fn frames_of_any_range_match_the_whole() {
        let base = base_chunk();
        let b = Blob::new(&base, 7, 3 * CHUNK + 100);
        let whole = collect(b.frames(0, b.size));
        assert_eq!(whole.len() as u64, b.size);
        assert_eq!(
            berth_testkit::image::sha256(&whole),
            b.digest,
            "digest is of exactly these bytes"
        );
        for (off, len) in [
            (0, 5),
            (3, 40),
            (CHUNK - 3, 30),
            (2 * CHUNK + 10, 8 * CHUNK),
        ] {
            let part = collect(b.frames(off, len));
            let end = (off + len).min(b.size) as usize;
            assert_eq!(part, whole[off as usize..end]);
        }
    }

    #[test]
    fn blobs_with_different_seeds_differ() {
        let base = base_chunk();
        let a = Blob::new(&base, 1, 1000);
        let b = Blob::new(&base, 2, 1000);
        assert_ne!(a.digest, b.digest);
        assert_eq!(Blob::many(&base, 1..3, 1000)[1].digest, b.digest);
    }
}
