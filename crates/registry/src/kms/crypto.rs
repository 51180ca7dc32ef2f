//! KMS's cryptography, no store and no policy: a key's materials (random
//! 256-bit AES keys, sealed at rest under the root's `kms` KEK) and the
//! ciphertext format of Encrypt and the data-key operations.
//!
//! Ciphertext (opaque to clients, as KMS's is):
//! `BKM\x01 ‖ u16 len ‖ key ARN ‖ material id (32) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)`.
//! It names its key, so Decrypt needs no `KeyId`, and its material, so a
//! rotated key still decrypts what older material sealed. The AAD is
//! everything before the nonce and the encryption context in a canonical
//! form (pairs sorted by key, each length-prefixed): a ciphertext opens
//! only under its own key and material with exactly its context.

use super::rules::kms_error;
use crate::Result;
use berth_store::sealed::{DataKey, Keks};
use rand::RngCore as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const MAGIC: &[u8; 4] = b"BKM\x01";
const MATERIAL_DOMAIN: &str = "kms-material";
const AAD_LABEL: &[u8] = b"berth kms ciphertext v1\0";

/// One key material as stored (in the key row's `materials`, JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Material {
    /// 64 hex digits (KMS's `KeyMaterialId` form).
    pub id: String,
    /// The AES key wrapped under the root's `kms` KEK for (key ARN, id).
    pub sealed: String,
    pub created_at: i64,
    /// How it came: `None` at creation, `AUTOMATIC` or `ON_DEMAND`.
    pub rotation: Option<String>,
}

pub fn decode_materials(text: &str) -> Result<Vec<Material>> {
    serde_json::from_str(text).map_err(|e| {
        crate::Error::Store(berth_store::StoreError::Corrupt(format!(
            "a KMS key's materials do not decode: {e}"
        )))
    })
}

pub fn encode_materials(m: &[Material]) -> String {
    serde_json::to_string(m).expect("materials serialize")
}

/// A fresh material for the key `arn`, sealed under `kek`.
pub fn new_material(kek: &Keks, arn: &str, now: i64, rotation: Option<&str>) -> Material {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let id = hex::encode(raw);
    let key = DataKey::generate();
    Material {
        sealed: kek.wrap_text(MATERIAL_DOMAIN, &format!("{arn}#{id}"), &key),
        id,
        created_at: now,
        rotation: rotation.map(str::to_string),
    }
}

fn open_material(kek: &Keks, arn: &str, m: &Material) -> Result<DataKey> {
    let corrupt = |why: String| {
        crate::Error::Store(berth_store::StoreError::Corrupt(format!(
            "KMS key {arn}, material {}: {why}",
            m.id
        )))
    };
    kek.unwrap_text(MATERIAL_DOMAIN, &format!("{arn}#{}", m.id), &m.sealed)
        .map_err(|e| corrupt(format!("{e} (was the server key changed?)")))
}

/// `m` wrapped under the current root generation, when an older one
/// wrapped it (a root rotation's re-wrap pass): the same key material, so
/// every ciphertext it made still opens.
pub fn rewrapped_material(kek: &Keks, arn: &str, m: &Material) -> Result<Option<Material>> {
    if !kek.is_stale_text(&m.sealed) {
        return Ok(None);
    }
    let key = open_material(kek, arn, m)?;
    Ok(Some(Material {
        sealed: kek.wrap_text(MATERIAL_DOMAIN, &format!("{arn}#{}", m.id), &key),
        ..m.clone()
    }))
}

fn aead(key: &DataKey) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key.as_bytes()).expect("a 32-byte key"))
}

fn aad(header: &[u8], context: &BTreeMap<String, String>) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_LABEL.len() + header.len() + 64);
    a.extend_from_slice(AAD_LABEL);
    a.extend_from_slice(header);
    for (k, v) in context {
        a.extend_from_slice(&(k.len() as u32).to_be_bytes());
        a.extend_from_slice(k.as_bytes());
        a.extend_from_slice(&(v.len() as u32).to_be_bytes());
        a.extend_from_slice(v.as_bytes());
    }
    a
}

/// `plain` sealed under material `m` of key `arn` with `context`.
pub fn encrypt(
    kek: &Keks,
    arn: &str,
    m: &Material,
    plain: &[u8],
    context: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let key = open_material(kek, arn, m)?;
    let material_id: [u8; 32] = hex::decode(&m.id)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| {
            crate::Error::Store(berth_store::StoreError::Corrupt(format!(
                "KMS key {arn}: material id {} is not 64 hex digits",
                m.id
            )))
        })?;
    let mut out = Vec::with_capacity(4 + 2 + arn.len() + 32 + 12 + plain.len() + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(arn.len() as u16).to_be_bytes());
    out.extend_from_slice(arn.as_bytes());
    out.extend_from_slice(&material_id);
    let header_len = out.len();
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let mut body = plain.to_vec();
    let tag = aead(&key)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&out[..header_len], context)),
            &mut body,
        )
        .expect("sealing up to 4 KiB does not fail");
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// What a ciphertext says of itself, before any key is used.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub key_arn: &'a str,
    pub material_id: String,
    header_len: usize,
    blob: &'a [u8],
}

fn invalid() -> crate::Error {
    kms_error(
        "InvalidCiphertextException",
        "The ciphertext is not one this KMS produced, or it was changed.",
    )
}

pub fn envelope(blob: &[u8]) -> Result<Envelope<'_>> {
    if blob.len() < 6 || &blob[..4] != MAGIC {
        return Err(invalid());
    }
    let arn_len = u16::from_be_bytes([blob[4], blob[5]]) as usize;
    let header_len = 6 + arn_len + 32;
    if blob.len() < header_len + 12 + 16 {
        return Err(invalid());
    }
    let key_arn = std::str::from_utf8(&blob[6..6 + arn_len]).map_err(|_| invalid())?;
    Ok(Envelope {
        key_arn,
        material_id: hex::encode(&blob[6 + arn_len..header_len]),
        header_len,
        blob,
    })
}

impl Envelope<'_> {
    /// The plaintext, if `m` is the material named and `context` the one
    /// the ciphertext was made with (`InvalidCiphertextException` else).
    pub fn open(
        &self,
        kek: &Keks,
        m: &Material,
        context: &BTreeMap<String, String>,
    ) -> Result<Vec<u8>> {
        let key = open_material(kek, self.key_arn, m)?;
        let nonce: [u8; 12] = self.blob[self.header_len..self.header_len + 12]
            .try_into()
            .expect("12 bytes");
        let mut body = self.blob[self.header_len + 12..].to_vec();
        let plain = aead(&key)
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(&self.blob[..self.header_len], context)),
                &mut body,
            )
            .map_err(|_| invalid())?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_ciphertext_opens_only_under_its_material_and_context() {
        let kek = berth_store::sealed::Roots::single(&[7; 32]).keks("kms");
        let arn = "arn:aws:kms:us-east-1:111122223333:key/k1";
        let m1 = new_material(&kek, arn, 1, None);
        let m2 = new_material(&kek, arn, 2, Some("ON_DEMAND"));
        let c = ctx(&[("repo", "app"), ("a", "b")]);
        let blob = encrypt(&kek, arn, &m1, b"secret", &c).unwrap();
        let env = envelope(&blob).unwrap();
        assert_eq!(env.key_arn, arn);
        assert_eq!(env.material_id, m1.id);
        assert_eq!(env.open(&kek, &m1, &c).unwrap(), b"secret");
        assert!(env.open(&kek, &m2, &c).is_err(), "another material");
        assert!(
            env.open(&kek, &m1, &ctx(&[("repo", "app")])).is_err(),
            "another context"
        );
        // A material moved to another key does not unwrap there.
        let other = "arn:aws:kms:us-east-1:111122223333:key/k2";
        assert!(encrypt(&kek, other, &m1, b"x", &c).is_err());
        // Any flipped byte is refused.
        for i in [0, 5, 10, blob.len() - 20, blob.len() - 1] {
            let mut bad = blob.clone();
            bad[i] ^= 1;
            let refused = match envelope(&bad) {
                Err(_) => true,
                Ok(e) => e.key_arn != arn || e.open(&kek, &m1, &c).is_err(),
            };
            assert!(refused, "byte {i}");
        }
        assert!(envelope(b"short").is_err());
    }

    #[test]
    fn materials_round_trip_through_their_encoding() {
        let kek = berth_store::sealed::Roots::single(&[1; 32]).keks("kms");
        let m = vec![new_material(&kek, "arn", 5, None)];
        assert_eq!(decode_materials(&encode_materials(&m)).unwrap(), m);
        assert_eq!(m[0].id.len(), 64);
    }
}
