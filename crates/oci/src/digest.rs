//! Content digests (`<algorithm>:<hex>`) and the hasher that produces them.

use sha2::digest::common::hazmat::SerializableState as _;
use sha2::Digest as _;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    /// Every algorithm berth accepts (the OCI image spec's registered ones).
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Sha512];

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("digest '{0}' is not of the form <algorithm>:<hex>")]
    Malformed(String),
    #[error("digest algorithm '{0}' is not supported (berth accepts sha256 and sha512)")]
    UnsupportedAlgorithm(String),
    #[error("digest '{0}' has an encoded part of the wrong length or with characters other than lowercase hex")]
    BadEncoding(String),
}

/// A validated digest. The string form is canonical (lowercase hex), so two
/// equal digests always compare and hash equal as strings too.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    /// The full `algorithm:hex` text, kept so that `as_str` costs nothing.
    text: String,
}

impl Digest {
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The encoded (hex) part after the colon.
    pub fn hex(&self) -> &str {
        &self.text[self.algorithm.as_str().len() + 1..]
    }

    /// Digest of a byte slice that is already fully in memory (manifests).
    pub fn of_bytes(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let mut h = DigestHasher::new(algorithm);
        h.update(bytes);
        h.finish()
    }

    /// Whether `s` has the general digest grammar of the OCI spec
    /// (`algorithm ":" encoded`) even if berth does not support its algorithm.
    /// Used to tell a tag from a digest in a reference.
    pub fn looks_like_digest(s: &str) -> bool {
        s.contains(':')
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, enc) = s
            .split_once(':')
            .ok_or_else(|| DigestError::Malformed(s.to_string()))?;
        let alg_ok = !alg.is_empty()
            && alg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
        if !alg_ok || enc.is_empty() {
            return Err(DigestError::Malformed(s.to_string()));
        }
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => return Err(DigestError::UnsupportedAlgorithm(other.to_string())),
        };
        let hex_ok = enc.len() == algorithm.hex_len()
            && enc
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_ok {
            return Err(DigestError::BadEncoding(s.to_string()));
        }
        Ok(Digest {
            algorithm,
            text: s.to_string(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.text)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental hasher for one algorithm. Blobs are hashed exactly once, as
/// their bytes stream through on the way to disk.
#[derive(Clone)]
pub enum DigestHasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl DigestHasher {
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => DigestHasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => DigestHasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            DigestHasher::Sha256(_) => Algorithm::Sha256,
            DigestHasher::Sha512(_) => Algorithm::Sha512,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            DigestHasher::Sha256(h) => h.update(bytes),
            DigestHasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The state after the first `hashed` bytes, so that another process
    /// can continue the hash (`from_state`): an upload's PATCH on one node
    /// and its PUT on another hash each byte once. Layout: the algorithm
    /// (1 sha256, 2 sha512), `hashed` (u64, little-endian), sha2's
    /// serialized state (104 or 208 bytes).
    pub fn state(&self, hashed: u64) -> Vec<u8> {
        let (tag, inner) = match self {
            DigestHasher::Sha256(h) => (1u8, h.serialize().to_vec()),
            DigestHasher::Sha512(h) => (2u8, h.serialize().to_vec()),
        };
        let mut out = Vec::with_capacity(9 + inner.len());
        out.push(tag);
        out.extend_from_slice(&hashed.to_le_bytes());
        out.extend_from_slice(&inner);
        out
    }

    /// The hasher `state` saved, if it was saved after exactly `hashed`
    /// bytes and parses; `None` otherwise (the caller re-reads the bytes).
    pub fn from_state(state: &[u8], hashed: u64) -> Option<DigestHasher> {
        let (&tag, rest) = state.split_first()?;
        let (count, inner) = rest.split_first_chunk::<8>()?;
        if u64::from_le_bytes(*count) != hashed {
            return None;
        }
        match tag {
            1 => sha2::Sha256::deserialize(inner.try_into().ok()?)
                .ok()
                .map(DigestHasher::Sha256),
            2 => sha2::Sha512::deserialize(inner.try_into().ok()?)
                .ok()
                .map(DigestHasher::Sha512),
            _ => None,
        }
    }

    pub fn finish(self) -> Digest {
        let algorithm = self.algorithm();
        let hex = match self {
            DigestHasher::Sha256(h) => hex::encode(h.finalize()),
            DigestHasher::Sha512(h) => hex::encode(h.finalize()),
        };
        Digest {
            algorithm,
            text: format!("{}:{hex}", algorithm.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn a_saved_state_continues_the_hash_elsewhere() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        for algorithm in Algorithm::ALL {
            // Splits inside a block and on a block boundary.
            for split in [0, 1, 63, 64, 65, 128, 999, 1000] {
                let mut first = DigestHasher::new(algorithm);
                first.update(&bytes[..split]);
                let state = first.state(split as u64);
                let mut rest = DigestHasher::from_state(&state, split as u64).unwrap();
                rest.update(&bytes[split..]);
                assert_eq!(
                    rest.finish(),
                    Digest::of_bytes(algorithm, &bytes),
                    "{algorithm:?} split at {split}"
                );
                // A state for another length, or a damaged one, is refused.
                assert!(DigestHasher::from_state(&state, split as u64 + 1).is_none());
                assert!(
                    DigestHasher::from_state(&state[..state.len() - 1], split as u64).is_none()
                );
                let mut other = state.clone();
                other[0] = 9;
                assert!(DigestHasher::from_state(&other, split as u64).is_none());
            }
        }
    }

    #[test]
    fn hashes_empty_input_to_the_well_known_digest() {
        assert_eq!(Digest::of_bytes(Algorithm::Sha256, b"").as_str(), EMPTY);
    }

    #[test]
    fn parses_and_exposes_parts() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d.algorithm(), Algorithm::Sha256);
        assert_eq!(d.hex().len(), 64);
        assert_eq!(d.to_string(), EMPTY);
    }

    #[test]
    fn rejects_bad_digests_with_distinct_reasons() {
        assert!(matches!(
            "sha256".parse::<Digest>(),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            "sha256:".parse::<Digest>(),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            "SHA256:abc".parse::<Digest>(),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            "md5:abcd".parse::<Digest>(),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            "sha256:abcd".parse::<Digest>(),
            Err(DigestError::BadEncoding(_))
        ));
        let upper = EMPTY.to_uppercase().replace("SHA256", "sha256");
        assert!(matches!(
            upper.parse::<Digest>(),
            Err(DigestError::BadEncoding(_))
        ));
    }

    #[test]
    fn sha512_is_supported_end_to_end() {
        const EMPTY512: &str = "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
        assert_eq!(Digest::of_bytes(Algorithm::Sha512, b"").as_str(), EMPTY512);
        let d: Digest = EMPTY512.parse().unwrap();
        assert_eq!(d.algorithm(), Algorithm::Sha512);
        assert_eq!(d.hex().len(), 128);
        // A sha256-length encoding under sha512 is not a digest.
        assert!(matches!(
            EMPTY.replace("sha256", "sha512").parse::<Digest>(),
            Err(DigestError::BadEncoding(_))
        ));
    }

    #[test]
    fn incremental_hash_equals_one_shot() {
        let mut h = DigestHasher::new(Algorithm::Sha256);
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(
            h.finish(),
            Digest::of_bytes(Algorithm::Sha256, b"hello world")
        );
    }
}
