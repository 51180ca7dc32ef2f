//! Manifest bodies at rest: sealed whole (`berth_store::sealed`, the
//! AES256 domain's keys) before they go to the metadata store, opened when
//! they come back; bodies stored before encryption read as they are.
//! The hot manifest cache holds them opened.

use crate::{Error, Result};
use berth_oci::Digest;
use berth_store::sealed::Keyring;
use berth_store::{MetadataStore, RepoId, StoreError, StoredManifest};
use std::borrow::Cow;
use std::sync::Arc;

#[derive(Clone)]
pub(crate) struct Bodies {
    /// `None`: bodies are stored in plaintext (the benchmark's baseline).
    keys: Option<Arc<Keyring>>,
}

impl Bodies {
    pub(crate) fn new(keys: Option<Arc<Keyring>>) -> Bodies {
        Bodies { keys }
    }

    /// What the metadata store keeps for `body`.
    pub(crate) fn seal<'a>(&self, digest: &Digest, body: &'a [u8]) -> Cow<'a, [u8]> {
        match &self.keys {
            Some(k) => Cow::Owned(k.seal_object(&digest.to_string(), body)),
            None => Cow::Borrowed(body),
        }
    }

    /// The body of what the metadata store kept; a body that does not open
    /// (damaged, another deployment's key) is an error naming it.
    pub(crate) fn open<'a>(&self, digest: &Digest, stored: &'a [u8]) -> Result<Cow<'a, [u8]>> {
        let Some(keys) = &self.keys else {
            if berth_store::sealed::is_sealed(stored) {
                return Err(corrupt(digest, "it is sealed and berth runs without keys"));
            }
            return Ok(Cow::Borrowed(stored));
        };
        keys.open_object(&digest.to_string(), stored)
            .map_err(|e| corrupt(digest, &e.to_string()))
    }

    /// Whether a stored body is plaintext although bodies are sealed (one
    /// stored before encryption at rest).
    pub(crate) fn is_plaintext(&self, stored: &[u8]) -> bool {
        self.keys.is_some() && !berth_store::sealed::is_sealed(stored)
    }

    /// A stored body with its data key re-wrapped under the current root
    /// generation (a root rotation), when an older one wrapped it: the
    /// same segments behind a new header. `None`: nothing to do.
    pub(crate) fn rewrapped(&self, digest: &Digest, stored: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(keys) = &self.keys else {
            return Ok(None);
        };
        if !berth_store::sealed::is_sealed(stored) {
            return Ok(None);
        }
        let header = berth_store::sealed::Header::decode(stored)
            .map_err(|e| corrupt(digest, &e.to_string()))?;
        let Some(new) = keys
            .rewrapped(&header, &digest.to_string())
            .map_err(|e| corrupt(digest, &e.to_string()))?
        else {
            return Ok(None);
        };
        let mut out = stored.to_vec();
        out[..berth_store::sealed::HEADER_LEN as usize].copy_from_slice(&new.encode());
        Ok(Some(out))
    }

    /// A manifest from the metadata store, its body opened.
    pub(crate) async fn get(
        &self,
        meta: &dyn MetadataStore,
        repo: RepoId,
        digest: &Digest,
    ) -> Result<Option<StoredManifest>> {
        let Some(mut m) = meta.get_manifest(repo, digest).await? else {
            return Ok(None);
        };
        if let Cow::Owned(plain) = self.open(digest, &m.body)? {
            m.body = plain.into();
        }
        Ok(Some(m))
    }
}

fn corrupt(digest: &Digest, why: &str) -> Error {
    Error::Store(StoreError::Corrupt(format!(
        "manifest body {digest} does not open: {why}"
    )))
}
