//! Hashing a body beside the network and the disk. A push moves every
//! byte three times: off the socket (the request's task), through SHA-256,
//! and into the upload file (the store's writer). Hashing is the costliest
//! of the three (about 0.7 s per GiB on one core with SHA-NI), so it runs
//! on the blocking pool beside the writer, fed through the store's
//! `Offload` (which never holds a thread while the client is silent); the
//! chunks are shared (`Bytes`), not copied.

use berth_oci::DigestHasher;
use berth_store::offload::{ChunkSink, Offload};
use bytes::Bytes;

/// Bytes queued for hashing; with the store's writer queue this bounds
/// what one upload holds in memory (the two share the chunks).
const QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// Hashing starts once this much is queued (or at the end).
const BATCH: usize = 64 * 1024;

struct HashSink(DigestHasher);

impl ChunkSink for HashSink {
    fn take(&mut self, chunk: Bytes) -> std::io::Result<()> {
        self.0.update(&chunk);
        Ok(())
    }
}

pub(crate) struct ParallelHasher {
    offload: Offload<HashSink>,
}

impl ParallelHasher {
    /// Continues `hasher` on the blocking pool.
    pub fn start(hasher: DigestHasher) -> Self {
        ParallelHasher {
            offload: Offload::new(HashSink(hasher), QUEUE_BYTES, BATCH),
        }
    }

    pub async fn update(&mut self, chunk: Bytes) {
        // Hashing cannot fail.
        let _ = self.offload.send(chunk).await;
    }

    /// The hash state after every chunk sent.
    pub async fn finish(self) -> DigestHasher {
        self.offload.finish().await.expect("hashing never fails").0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_oci::{Algorithm, Digest};

    #[tokio::test]
    async fn hashes_what_it_was_sent_in_order() {
        let mut h = ParallelHasher::start(DigestHasher::new(Algorithm::Sha256));
        let mut all = Vec::new();
        for i in 0..100u32 {
            let chunk = Bytes::from(vec![i as u8; 1000 + i as usize]);
            all.extend_from_slice(&chunk);
            h.update(chunk).await;
        }
        assert_eq!(
            h.finish().await.finish(),
            Digest::of_bytes(Algorithm::Sha256, &all)
        );
    }
}
