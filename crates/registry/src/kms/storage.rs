//! A KMS key's storage domain: where the blobs of repositories under the
//! key are stored (`kms/<account>.<region>.<key id>`, `BlobStore::domain`),
//! sealed under a KEK of the key's own.
//!
//! The storage KEK is 256 random bits made at the key's first storage use
//! and kept in the key row (`storage_kek`) as a KMS ciphertext under the
//! key's newest material (context `berth=storage-kek`). Rotating the key
//! re-seals it under the new material (`reseal_for_rotation`, in the same
//! row write that adds the material): the blobs' data keys stay wrapped by
//! the storage KEK, so no blob is rewritten. A deleted key's row, and so
//! its materials and storage KEK, are gone: its domain's blobs never open
//! again, by design. State and permissions are not decided here: the
//! registry authorizes every push and pull before it asks for the store.

use super::crypto::{self, decode_materials, Material};
use super::rules;
use crate::Result;
use berth_store::sealed::{Kek, Keks};
use berth_store::KmsKeyRecord;
use rand::RngCore as _;
use std::collections::BTreeMap;

fn context() -> BTreeMap<String, String> {
    BTreeMap::from([("berth".to_string(), "storage-kek".to_string())])
}

/// The storage domain of key `arn` (`kms/<account>.<region>.<key id>`), as
/// blob stores name it.
pub fn domain_name(arn: &str) -> Option<String> {
    rules::parse_key_arn(arn).map(|(region, account, id)| format!("kms/{account}.{region}.{id}"))
}

/// The key ARN of storage domain `name` (`domain_name`'s inverse).
pub fn domain_key_arn(name: &str) -> Option<String> {
    let mut parts = name.strip_prefix("kms/")?.splitn(3, '.');
    let (account, region, id) = (parts.next()?, parts.next()?, parts.next()?);
    Some(rules::key_arn(region, account, id))
}

fn corrupt(arn: &str, why: impl std::fmt::Display) -> crate::Error {
    crate::Error::Store(berth_store::StoreError::Corrupt(format!(
        "KMS key {arn}: its storage KEK does not open: {why}"
    )))
}

fn seal(kek: &Keks, arn: &str, newest: &Material, storage: &[u8; 32]) -> Result<String> {
    Ok(hex::encode(crypto::encrypt(
        kek,
        arn,
        newest,
        storage,
        &context(),
    )?))
}

fn open(kek: &Keks, arn: &str, materials: &[Material], sealed: &str) -> Result<[u8; 32]> {
    let blob = hex::decode(sealed).map_err(|e| corrupt(arn, e))?;
    let envelope = crypto::envelope(&blob).map_err(|e| corrupt(arn, e))?;
    if envelope.key_arn != arn {
        return Err(corrupt(arn, "it names another key"));
    }
    let m = materials
        .iter()
        .find(|m| m.id == envelope.material_id)
        .ok_or_else(|| corrupt(arn, "its material is gone"))?;
    envelope
        .open(kek, m, &context())
        .map_err(|e| corrupt(arn, e))?
        .try_into()
        .map_err(|_| corrupt(arn, "it is not 32 bytes"))
}

/// Re-seals `key`'s storage KEK, if it has one, under `materials`' newest
/// (the one a rotation just added): called in the write that adds it.
pub(crate) fn reseal_for_rotation(
    kek: &Keks,
    key: &mut KmsKeyRecord,
    arn: &str,
    materials: &[Material],
) -> Result<()> {
    let Some(sealed) = &key.storage_kek else {
        return Ok(());
    };
    let storage = open(kek, arn, materials, sealed)?;
    let newest = materials
        .last()
        .ok_or_else(|| corrupt(arn, "no material"))?;
    key.storage_kek = Some(seal(kek, arn, newest, &storage)?);
    Ok(())
}

impl super::Kms {
    /// Whether key `arn` still exists (its storage domain opens), asked
    /// once per key of `seen` (a pass over many repositories or blobs).
    pub(crate) async fn key_exists_in(
        &self,
        seen: &mut std::collections::HashMap<String, bool>,
        arn: &str,
    ) -> Result<bool> {
        if let Some(&exists) = seen.get(arn) {
            return Ok(exists);
        }
        let exists = self.storage_kek(arn).await?.is_some();
        seen.insert(arn.to_string(), exists);
        Ok(exists)
    }

    /// The storage KEK of key `arn`, made and recorded at its first use;
    /// `None` when the key no longer exists (its blobs are unreadable).
    pub(crate) async fn storage_kek(&self, arn: &str) -> Result<Option<Kek>> {
        let Some((region, account, id)) = rules::parse_key_arn(arn) else {
            return Ok(None);
        };
        for _ in 0..super::UPDATE_ATTEMPTS {
            let Some(mut key) = self.meta.get_kms_key(&account, &region, &id).await? else {
                return Ok(None);
            };
            let materials = decode_materials(&key.materials)?;
            if let Some(sealed) = &key.storage_kek {
                return Ok(Some(Kek::from_bytes(open(
                    &self.kek, arn, &materials, sealed,
                )?)));
            }
            let mut storage = [0u8; 32];
            rand::rng().fill_bytes(&mut storage);
            let newest = materials
                .last()
                .ok_or_else(|| corrupt(arn, "no material"))?;
            key.storage_kek = Some(seal(&self.kek, arn, newest, &storage)?);
            key.revision += 1;
            if self.meta.update_kms_key(&key).await? {
                return Ok(Some(Kek::from_bytes(storage)));
            }
            // Another writer came first (maybe another node making the KEK
            // too): read the row again and use what it recorded.
        }
        Err(super::changing(arn))
    }
}
