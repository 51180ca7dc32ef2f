//! Node-local cache of the pull hot path: repository name → id,
//! tag → digest, digest → manifest bytes, and (repository, blob) → size
//! (the link check of every blob `HEAD` and `GET`).
//!
//! Correctness when a tag moves or a manifest is deleted rests on one
//! protocol (see ARCHITECTURE.md, "Caching"):
//! * a reader notes the generation *before* reading the store, and fills the
//!   cache only if the generation is unchanged, under the fill lock;
//! * a writer commits to the store *first*, then, under the same lock, bumps
//!   the generation and removes the keys it changed.
//!
//! A fill racing a write therefore either happens before the removal (and is
//! removed) or sees the new generation (and is skipped); a stale value can
//! never stay behind. Entries are exact, never time-based.

use berth_oci::Digest;
use berth_store::{BlobLink, RegistryKey, RepoId, StoredManifest};
use parking_lot::Mutex;
use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{DefaultHashBuilder, Equivalent, OptionsBuilder, Weighter};
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Generation(u64);

/// A manifest as the cache holds it, with the second in which a pull of it
/// was last handed to the pull log: further pulls in that second skip the
/// log's lock (the hot path's only shared write).
#[derive(Debug)]
pub struct CachedManifest {
    pub stored: StoredManifest,
    pull_noted: AtomicI64,
    /// What a protocol layer derives from the manifest once and reuses for
    /// as long as the entry is cached (the server's response headers), so
    /// the hot path does not render them per request.
    pub memo: std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>,
}

impl CachedManifest {
    pub fn new(stored: StoredManifest) -> Self {
        CachedManifest {
            stored,
            pull_noted: AtomicI64::new(i64::MIN),
            memo: std::sync::OnceLock::new(),
        }
    }

    /// True for the first pull in second `secs` (and whenever the clock
    /// moved), false for the rest of that second.
    pub fn first_pull_in(&self, secs: i64) -> bool {
        self.pull_noted.swap(secs, Ordering::Relaxed) != secs
    }
}

/// A borrowed view of a two-part key, so that a lookup builds no owned
/// key (the hot path's gets allocate nothing). Hashes exactly as the
/// tuple `(A, B)` of the owned parts does: fields in order, and `Borrow`
/// promises that a borrowed form hashes as its owner.
pub(crate) struct KeyPair<'a, A: ?Sized, B: ?Sized>(pub &'a A, pub &'a B);

impl<A: Hash + ?Sized, B: Hash + ?Sized> Hash for KeyPair<'_, A, B> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
        self.1.hash(state);
    }
}

impl<A, B, OA, OB> Equivalent<(OA, OB)> for KeyPair<'_, A, B>
where
    A: PartialEq + ?Sized,
    B: PartialEq + ?Sized,
    OA: Borrow<A>,
    OB: Borrow<B>,
{
    fn equivalent(&self, key: &(OA, OB)) -> bool {
        self.0 == key.0.borrow() && self.1 == key.1.borrow()
    }
}

/// Manifest bodies weigh their size, so the cache is bounded in bytes.
#[derive(Clone)]
struct BodyBytes;

impl Weighter<(RepoId, Digest), Arc<CachedManifest>> for BodyBytes {
    fn weight(&self, _: &(RepoId, Digest), m: &Arc<CachedManifest>) -> u64 {
        m.stored.body.len().max(1) as u64
    }
}

/// A typical manifest body, for sizing the manifest cache's index.
const TYPICAL_MANIFEST_BYTES: u64 = 2048;

/// Options for a cache bounded by `bytes` of weight whose shards can each
/// hold an entry weighing `largest`: quick_cache splits the bound evenly
/// between its shards (4 per core by default) and refuses an entry heavier
/// than 97% of one shard's share (its hot allocation), so with 64 MiB on 64
/// cores a 4 MiB manifest or a 300 KiB vulnerability record would never be
/// cached. Fewer shards only when the bound is small or the cores many.
pub(crate) fn sharded_for(bytes: u64, largest: u64, typical: u64) -> quick_cache::Options {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    // A shard's share with 1/16 to spare covers the 3% held back.
    let per_shard = (largest * 17 / 16).max(1);
    let fit = (bytes / per_shard).clamp(1, 4 * cores);
    // quick_cache rounds the count up to a power of two: round down here.
    let shards = 1u64 << (63 - fit.leading_zeros());
    OptionsBuilder::new()
        .estimated_items_capacity((bytes / typical.max(1)).max(16) as usize)
        .weight_capacity(bytes)
        .shards(shards as usize)
        .build()
        .expect("valid cache options")
}

/// The manifest cache, sharded so that every shard can hold the largest
/// manifest (`sharded_for`).
fn manifest_cache(bytes: u64) -> Cache<(RepoId, Digest), Arc<CachedManifest>, BodyBytes> {
    Cache::with_options(
        sharded_for(
            bytes,
            berth_oci::MAX_MANIFEST_BYTES as u64,
            TYPICAL_MANIFEST_BYTES,
        ),
        BodyBytes,
        DefaultHashBuilder::default(),
        DefaultLifecycle::default(),
    )
}

// quick_cache, not moka: ~100 bytes an entry instead of ~360 (moka keeps
// a deque node, an access-order entry and a frequency sketch per entry:
// 7 of the 20 MiB of heap after 10,000 repositories and tags were moka's),
// and a get is a shard read lock and a probe, not a channel send.
pub struct HotCache {
    repos: Cache<(RegistryKey, String), RepoId>,
    tags: Cache<(RepoId, String), Digest>,
    manifests: Cache<(RepoId, Digest), Arc<CachedManifest>, BodyBytes>,
    blobs: Cache<(RepoId, Digest), BlobLink>,
    generation: AtomicU64,
    /// False while this node cannot hear other nodes' changes: nothing is
    /// filled, so every read goes to the store.
    enabled: AtomicBool,
    fill_lock: Mutex<()>,
}

impl HotCache {
    /// `manifest_bytes` bounds the memory that cached manifest bodies use.
    pub fn new(manifest_bytes: u64) -> Self {
        HotCache {
            repos: Cache::new(100_000),
            tags: Cache::new(200_000),
            manifests: manifest_cache(manifest_bytes),
            blobs: Cache::new(50_000),
            generation: AtomicU64::new(0),
            enabled: AtomicBool::new(true),
            fill_lock: Mutex::new(()),
        }
    }

    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    pub fn repo(&self, registry: &RegistryKey, name: &str) -> Option<RepoId> {
        self.repos.get(&KeyPair(registry, name))
    }

    pub fn fill_repo(&self, seen: Generation, registry: &RegistryKey, name: &str, id: RepoId) {
        self.fill(seen, || {
            self.repos.insert((registry.clone(), name.to_string()), id)
        });
    }

    pub fn tag(&self, repo: RepoId, tag: &str) -> Option<Digest> {
        self.tags.get(&KeyPair(&repo, tag))
    }

    pub fn fill_tag(&self, seen: Generation, repo: RepoId, tag: &str, digest: Digest) {
        self.fill(seen, || self.tags.insert((repo, tag.to_string()), digest));
    }

    pub fn manifest(&self, repo: RepoId, digest: &Digest) -> Option<Arc<CachedManifest>> {
        self.manifests.get(&KeyPair(&repo, digest))
    }

    pub fn fill_manifest(
        &self,
        seen: Generation,
        repo: RepoId,
        digest: &Digest,
        m: Arc<CachedManifest>,
    ) {
        self.fill(seen, || self.manifests.insert((repo, digest.clone()), m));
    }

    /// The repository's link to a blob, if cached.
    pub fn blob(&self, repo: RepoId, digest: &Digest) -> Option<BlobLink> {
        self.blobs.get(&KeyPair(&repo, digest))
    }

    pub fn fill_blob(&self, seen: Generation, repo: RepoId, digest: &Digest, link: BlobLink) {
        self.fill(seen, || self.blobs.insert((repo, digest.clone()), link));
    }

    /// Call after a committed repository delete. SQLite may give the next
    /// repository the same row id, so nothing keyed by the old id may stay.
    pub fn invalidate_repository(&self, registry: &RegistryKey, name: &str) {
        let _g = self.fill_lock.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.repos.remove(&KeyPair(registry, name));
        self.tags.clear();
        self.manifests.clear();
        self.blobs.clear();
    }

    /// Call after a committed write that removed the repository's link to a blob.
    pub fn invalidate_blob(&self, repo: RepoId, digest: &Digest) {
        let _g = self.fill_lock.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.blobs.remove(&KeyPair(&repo, digest));
    }

    /// Call after a committed write that changed these tags and manifests.
    pub fn invalidate(&self, repo: RepoId, tags: &[String], manifests: &[&Digest]) {
        let _g = self.fill_lock.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        for t in tags {
            self.tags.remove(&KeyPair(&repo, t.as_str()));
        }
        for d in manifests {
            self.manifests.remove(&KeyPair(&repo, *d));
        }
    }

    /// Whether the cache is filled (see `set_enabled`).
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Empties the cache and stops (`false`) or resumes (`true`) filling
    /// it. Fills that began before are dropped either way.
    pub fn set_enabled(&self, enabled: bool) {
        let _g = self.fill_lock.lock();
        self.enabled.store(enabled, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.repos.clear();
        self.tags.clear();
        self.manifests.clear();
        self.blobs.clear();
    }

    fn fill(&self, seen: Generation, insert: impl FnOnce()) {
        let _g = self.fill_lock.lock();
        if self.enabled.load(Ordering::Acquire) && self.generation.load(Ordering::Acquire) == seen.0
        {
            insert();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_oci::Algorithm;

    #[test]
    fn a_fill_that_raced_a_write_is_dropped() {
        let c = HotCache::new(1 << 20);
        let repo = RepoId(1);
        let old = Digest::of_bytes(Algorithm::Sha256, b"old");
        let seen = c.generation(); // reader starts, reads "old" from the store...
        c.invalidate(repo, &["latest".into()], &[]); // ...a writer moves the tag...
        c.fill_tag(seen, repo, "latest", old); // ...and the reader's late fill must not land.
        assert_eq!(c.tag(repo, "latest"), None);

        let new = Digest::of_bytes(Algorithm::Sha256, b"new");
        c.fill_tag(c.generation(), repo, "latest", new.clone());
        assert_eq!(c.tag(repo, "latest"), Some(new));
        c.invalidate(repo, &["latest".into()], &[]);
        assert_eq!(c.tag(repo, "latest"), None);
    }

    #[test]
    fn a_blob_size_fill_that_raced_an_unlink_is_dropped() {
        let c = HotCache::new(1 << 20);
        let repo = RepoId(1);
        let d = Digest::of_bytes(Algorithm::Sha256, b"layer");
        let seen = c.generation();
        c.invalidate_blob(repo, &d);
        let link = BlobLink {
            size: 5,
            linked_at: 7,
        };
        c.fill_blob(seen, repo, &d, link);
        assert_eq!(c.blob(repo, &d), None);
        c.fill_blob(c.generation(), repo, &d, link);
        assert_eq!(c.blob(repo, &d), Some(link));
        c.invalidate_blob(repo, &d);
        assert_eq!(c.blob(repo, &d), None);
    }

    #[test]
    fn the_largest_manifest_is_cached_whatever_the_core_count() {
        // 16 MiB over the default 4 shards per core would leave each shard
        // less than a 4 MiB manifest on any machine with more than one core.
        let c = HotCache::new(16 << 20);
        let repo = RepoId(1);
        let body = bytes::Bytes::from(vec![b' '; berth_oci::MAX_MANIFEST_BYTES]);
        let d = Digest::of_bytes(Algorithm::Sha256, &body);
        let m = Arc::new(CachedManifest::new(StoredManifest {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            body,
            status: berth_store::ImageStatus::Active,
            domain_key: None,
        }));
        c.fill_manifest(c.generation(), repo, &d, m);
        assert!(c.manifest(repo, &d).is_some());
    }

    #[test]
    fn an_entry_as_heavy_as_the_largest_fits_whatever_the_core_count() {
        // 8 MiB over the default 4 shards per core leaves a shard less
        // than 1 MiB on any machine with more than one core.
        #[derive(Clone)]
        struct Len;
        impl Weighter<u32, Vec<u8>> for Len {
            fn weight(&self, _: &u32, v: &Vec<u8>) -> u64 {
                v.len() as u64
            }
        }
        let c: Cache<u32, Vec<u8>, Len> = Cache::with_options(
            sharded_for(8 << 20, 1 << 20, 2048),
            Len,
            DefaultHashBuilder::default(),
            DefaultLifecycle::default(),
        );
        c.insert(1, vec![0; 1 << 20]);
        assert!(c.get(&1).is_some());
    }

    #[test]
    fn a_disabled_cache_holds_nothing() {
        let c = HotCache::new(1 << 20);
        let repo = RepoId(1);
        let d = Digest::of_bytes(Algorithm::Sha256, b"m");
        c.fill_tag(c.generation(), repo, "latest", d.clone());
        c.set_enabled(false);
        assert_eq!(c.tag(repo, "latest"), None, "emptied");
        c.fill_tag(c.generation(), repo, "latest", d.clone());
        assert_eq!(c.tag(repo, "latest"), None, "not filled while off");
        let seen = c.generation();
        c.set_enabled(true);
        c.fill_tag(seen, repo, "latest", d.clone());
        assert_eq!(
            c.tag(repo, "latest"),
            None,
            "a fill begun while off is dropped"
        );
        c.fill_tag(c.generation(), repo, "latest", d.clone());
        assert_eq!(c.tag(repo, "latest"), Some(d));
    }
}
