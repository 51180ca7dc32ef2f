//! Compact encodings of what the registry caches between scans: a layer's
//! [`Inventory`](crate::Inventory) (by layer, so a shared base layer is read
//! once) and an image's [`Detection`](crate::Detection) (re-matched when the
//! vulnerability database changes, without reading layers). JSON compressed
//! with zstd: file contents are mostly text (dpkg's status), so they shrink
//! well. Decoding is bounded by `MAX_DECODED_BYTES`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Read;

/// A cached value decodes to at most this many bytes of JSON.
pub const MAX_DECODED_BYTES: u64 = 512 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cached value: {0}")]
    Io(#[from] std::io::Error),
    #[error("cached value: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cached value is over {MAX_DECODED_BYTES} bytes decoded")]
    TooLarge,
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let json = serde_json::to_vec(value).expect("plain data serializes");
    zstd::encode_all(&json[..], 3).expect("compressing into memory cannot fail")
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CacheError> {
    let mut json = Vec::new();
    zstd::Decoder::new(bytes)?
        .take(MAX_DECODED_BYTES + 1)
        .read_to_end(&mut json)?;
    if json.len() as u64 > MAX_DECODED_BYTES {
        return Err(CacheError::TooLarge);
    }
    Ok(serde_json::from_slice(&json)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Entry, Inventory};

    #[test]
    fn an_inventory_survives_the_round_trip() {
        let mut inv = Inventory::default();
        inv.files.insert(
            "var/lib/dpkg/status".into(),
            Entry::File(b"Package: a\nVersion: 1\n".to_vec()),
        );
        inv.files.insert("x".into(), Entry::TooLarge(7));
        inv.whiteouts.push("gone".into());
        let bytes = encode(&inv);
        assert_eq!(decode::<Inventory>(&bytes).unwrap(), inv);
        assert!(decode::<Inventory>(b"not zstd").is_err());
    }
}
