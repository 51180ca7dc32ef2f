//! Hashing a body on its own thread. A push moves every byte three times:
//! off the socket (the request's task), through SHA-256, and into the
//! upload file (the store's writer thread). Hashing is the costliest of the
//! three (about 0.7 s per GiB on one core with SHA-NI), so it gets a thread
//! of its own and the three run side by side; the chunks are shared
//! (`Bytes`), not copied.

use berth_oci::DigestHasher;
use bytes::Bytes;
use tokio::sync::mpsc;

/// Chunks queued for the hashing thread; with the store's writer queue this
/// bounds what one upload holds in memory.
const QUEUE: usize = 8;

pub(crate) struct ParallelHasher {
    tx: mpsc::Sender<Bytes>,
    handle: tokio::task::JoinHandle<DigestHasher>,
}

impl ParallelHasher {
    /// Continues `hasher` on a blocking thread.
    pub fn start(mut hasher: DigestHasher) -> Self {
        let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUE);
        let handle = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
            }
            hasher
        });
        ParallelHasher { tx, handle }
    }

    pub async fn update(&mut self, chunk: Bytes) {
        // The thread only stops when the sender is dropped (or it panicked,
        // which `finish` reports).
        let _ = self.tx.send(chunk).await;
    }

    /// The hash state after every chunk sent.
    pub async fn finish(self) -> DigestHasher {
        drop(self.tx);
        self.handle.await.expect("the hashing thread panicked")
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
