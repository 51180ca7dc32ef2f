//! A set of string tuples read on every request and cleared on change:
//! a read lock and one hash, with lookups by borrowed parts (no allocation),
//! unlike a general cache that records every read for its eviction policy.
//! Bounded: an insert into a full set clears it first.

use hashbrown::{Equivalent, HashSet};
use parking_lot::RwLock;
use std::hash::{Hash, Hasher};

/// The parts joined with NUL (which no part holds): one allocation per
/// entry, so that a set of tens of thousands of decisions stays small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key(Box<str>);

/// The same key, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyRef<'a>(pub &'a [&'a str]);

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_usize(self.0.split('\0').count());
        for p in self.0.split('\0') {
            p.hash(h);
        }
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_usize(self.0.len());
        for p in self.0 {
            p.hash(h);
        }
    }
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        let mut stored = key.0.split('\0');
        self.0.iter().all(|p| stored.next() == Some(*p)) && stored.next().is_none()
    }
}

pub(crate) struct FastSet {
    inner: RwLock<HashSet<Key>>,
    max: usize,
}

impl FastSet {
    pub(crate) fn new(max: usize) -> Self {
        FastSet {
            inner: RwLock::new(HashSet::new()),
            max,
        }
    }

    pub(crate) fn contains(&self, key: KeyRef<'_>) -> bool {
        self.inner.read().contains(&key)
    }

    pub(crate) fn insert(&self, key: KeyRef<'_>) {
        let mut set = self.inner.write();
        if set.len() >= self.max {
            set.clear();
        }
        set.insert(Key(key.0.join("\0").into_boxed_str()));
    }

    pub(crate) fn remove(&self, key: KeyRef<'_>) {
        self.inner.write().remove(&key);
    }

    pub(crate) fn clear(&self) {
        self.inner.write().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_lookups_find_owned_keys_and_nothing_else() {
        let s = FastSet::new(2);
        s.insert(KeyRef(&["a", "b"]));
        assert!(s.contains(KeyRef(&["a", "b"])));
        assert!(!s.contains(KeyRef(&["ab", ""])));
        assert!(!s.contains(KeyRef(&["a", "b", ""])));
        assert!(!s.contains(KeyRef(&["a"])));
        s.insert(KeyRef(&["c"]));
        s.insert(KeyRef(&["d"]));
        assert!(!s.contains(KeyRef(&["a", "b"])), "a full set starts over");
        s.clear();
        assert!(!s.contains(KeyRef(&["d"])));
    }
}
