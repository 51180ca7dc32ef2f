//! Compact encodings of what the registry caches between scans: a layer's
//! [`Inventory`](crate::Inventory) (by layer, so a shared base layer is read
//! once) and an image's [`Detection`](crate::Detection) (re-matched when the
//! vulnerability database changes, without reading layers).
//!
//! CBOR (ciborium) compressed with zstd, both streamed: file contents are
//! CBOR byte strings (`serde_bytes` on [`Entry`](crate::layers::Entry)), so
//! the encoding is about as large as the bytes it holds before compression
//! (JSON wrote them as arrays of numbers, ~4×, and built the whole text in
//! memory first), and only the compressed form is ever whole in memory.
//! Decoding is bounded by [`MAX_DECODED_BYTES`].
//!
//! Values written before (zstd-compressed JSON) decompress to text starting
//! with `{`, which never starts a CBOR map (`0xa0`–`0xbf`): [`decode`]
//! refuses them as [`CacheError::Legacy`] without parsing them (a legacy
//! inventory is a cache miss: the layer is read again and its row
//! replaced), and [`decode_or_legacy`] reads them as JSON (a legacy
//! detection holds package names and versions, no file contents).

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};

/// A cached value decodes from at most this many bytes of CBOR (an
/// inventory keeps at most `Limits::max_kept_bytes`, 128 MiB by default).
pub const MAX_DECODED_BYTES: u64 = 256 << 20;

/// Legacy JSON is read up to this much (detections only: package lists).
const MAX_LEGACY_JSON_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cached value: {0}")]
    Io(#[from] std::io::Error),
    #[error("cached value: {0}")]
    Cbor(String),
    #[error("cached value: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cached value is in the JSON encoding of earlier versions")]
    Legacy,
}

/// zstd level: level 3 compresses dpkg's status about 8×, fast enough to
/// run on every layer read.
const LEVEL: i32 = 3;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let encoder = zstd::Encoder::new(Vec::new(), LEVEL).expect("a zstd encoder in memory");
    // ciborium writes field by field; the buffer hands zstd larger pieces.
    let mut out = BufWriter::with_capacity(64 << 10, encoder);
    ciborium::into_writer(value, &mut out).expect("plain data serializes");
    let encoder = out
        .into_inner()
        .map_err(|e| e.into_error())
        .expect("writing into memory cannot fail");
    encoder
        .finish()
        .expect("compressing into memory cannot fail")
}

fn decompressed(bytes: &[u8], cap: u64) -> Result<impl BufRead + '_, CacheError> {
    Ok(BufReader::with_capacity(
        64 << 10,
        zstd::Decoder::new(bytes)?.take(cap),
    ))
}

/// Decodes a value [`encode`] wrote.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CacheError> {
    let mut r = decompressed(bytes, MAX_DECODED_BYTES)?;
    if r.fill_buf()?.first() == Some(&b'{') {
        return Err(CacheError::Legacy);
    }
    ciborium::from_reader(r).map_err(|e| CacheError::Cbor(e.to_string()))
}

/// As [`decode`], and reads the JSON that earlier versions wrote too.
pub fn decode_or_legacy<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CacheError> {
    match decode(bytes) {
        Err(CacheError::Legacy) => Ok(serde_json::from_reader(decompressed(
            bytes,
            MAX_LEGACY_JSON_BYTES,
        )?)?),
        other => other,
    }
}

/// The encoded size of a value before compression (tests, measurements).
pub fn uncompressed_len<T: Serialize>(value: &T) -> u64 {
    struct Count(u64);
    impl Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    ciborium::into_writer(value, &mut c).expect("plain data serializes");
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Detection;
    use crate::layers::{Entry, Inventory};

    fn sample() -> Inventory {
        let mut inv = Inventory::default();
        inv.files.insert(
            "var/lib/dpkg/status".into(),
            Entry::File(b"Package: a\nVersion: 1\n".to_vec()),
        );
        inv.files.insert("x".into(), Entry::TooLarge(7));
        inv.files
            .insert("etc/os-release".into(), Entry::Symlink("../usr".into()));
        inv.whiteouts.push("gone".into());
        inv.dropped.push("a/node_modules/q/package.json".into());
        inv.dropped_total = 3;
        inv
    }

    #[test]
    fn an_inventory_survives_the_round_trip() {
        let inv = sample();
        let bytes = encode(&inv);
        assert_eq!(decode::<Inventory>(&bytes).unwrap(), inv);
        assert!(decode::<Inventory>(b"not zstd").is_err());
    }

    /// File contents are byte strings: 1 MiB of incompressible bytes in
    /// 256 files encodes to barely more than 1 MiB (JSON's number arrays
    /// took ~3.6 MiB), and compressed it stays about that size.
    #[test]
    fn file_bytes_encode_compactly() {
        let mut inv = Inventory::default();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut n = 0u64;
        for i in 0..256 {
            let data: Vec<u8> = (0..4096)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            n += data.len() as u64;
            inv.files.insert(
                format!("app/node_modules/p{i}/package.json"),
                Entry::File(data),
            );
        }
        let raw = uncompressed_len(&inv);
        assert!(
            raw < n * 3 / 2,
            "{raw} bytes of CBOR for {n} bytes of files"
        );
        let legacy_json = serde_json::to_vec(&inv).unwrap().len() as u64;
        assert!(legacy_json > n * 3, "JSON was {legacy_json}");
        let encoded = encode(&inv);
        assert!(
            (encoded.len() as u64) < n * 3 / 2,
            "{} compressed bytes for {n} bytes of files",
            encoded.len()
        );
        let decoded: Inventory = decode(&encoded).unwrap();
        assert_eq!(decoded, inv);
    }

    #[test]
    fn legacy_json_rows_are_refused_as_inventories_and_read_as_detections() {
        let inv = sample();
        let json = zstd::encode_all(&serde_json::to_vec(&inv).unwrap()[..], 3).unwrap();
        assert!(matches!(
            decode::<Inventory>(&json),
            Err(CacheError::Legacy)
        ));
        assert_eq!(decode_or_legacy::<Inventory>(&json).unwrap(), inv);
        let d = Detection {
            warnings: vec!["w".into()],
            ..Detection::default()
        };
        let json = zstd::encode_all(&serde_json::to_vec(&d).unwrap()[..], 3).unwrap();
        assert_eq!(decode_or_legacy::<Detection>(&json).unwrap(), d);
        assert_eq!(decode_or_legacy::<Detection>(&encode(&d)).unwrap(), d);
    }
}
