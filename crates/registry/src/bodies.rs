//! Manifest bodies at rest: sealed whole (`berth_store::sealed`) before
//! they go to the metadata store, opened when they come back; bodies
//! stored before encryption read as they are. The hot manifest cache holds
//! them opened.
//!
//! A repository's key domain decides the keys: an AES256 repository's
//! body is the shared one (`manifest_bodies`, one per digest, under the
//! AES256 domain's keys); a repository under a KMS key keeps its own copy
//! with its manifest row, sealed under that key's storage KEK
//! (`DomainStores::keyring`), so that disabling or deleting the key leaves
//! no readable copy of it behind and never touches another repository's.
//! A KMS repository's manifests stored before this (stop 41) keep their
//! shared AES256 body and read from it.

use crate::domains::DomainStores;
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
    /// The keys of KMS keys' domains.
    domains: Arc<DomainStores>,
}

/// A body as `put_manifest` stores it.
#[derive(Debug)]
pub(crate) struct SealedBody<'a> {
    pub stored: Cow<'a, [u8]>,
    /// Sealed in the repository's key domain (its own copy).
    pub repository_body: bool,
}

impl Bodies {
    pub(crate) fn new(keys: Option<Arc<Keyring>>, domains: Arc<DomainStores>) -> Bodies {
        Bodies { keys, domains }
    }

    /// What the metadata store keeps for `body` (the shared, AES256 copy).
    pub(crate) fn seal<'a>(&self, digest: &Digest, body: &'a [u8]) -> Cow<'a, [u8]> {
        match &self.keys {
            Some(k) => Cow::Owned(k.seal_object(&digest.to_string(), body)),
            None => Cow::Borrowed(body),
        }
    }

    /// What the metadata store keeps for `body` in a repository under
    /// `kms_key` (its ARN; `None`: AES256).
    pub(crate) async fn seal_for<'a>(
        &self,
        kms_key: Option<&str>,
        digest: &Digest,
        body: &'a [u8],
    ) -> Result<SealedBody<'a>> {
        match (kms_key, &self.keys) {
            (Some(arn), Some(_)) => {
                let keys = self.domains.live_keyring(arn).await?;
                Ok(SealedBody {
                    stored: Cow::Owned(keys.seal_object(&digest.to_string(), body)),
                    repository_body: true,
                })
            }
            _ => Ok(SealedBody {
                stored: self.seal(digest, body),
                repository_body: false,
            }),
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

    /// A stored shared body opened, if it opens and hashes to `digest`
    /// (`verified`).
    pub(crate) fn open_verified<'a>(
        &self,
        digest: &str,
        stored: &'a [u8],
    ) -> Option<Cow<'a, [u8]>> {
        verified(digest, |d| self.open(d, stored).ok())
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

    /// A manifest from the metadata store, its body opened (with its
    /// repository's key domain's keys when it is the repository's own).
    pub(crate) async fn get(
        &self,
        meta: &dyn MetadataStore,
        repo: RepoId,
        digest: &Digest,
    ) -> Result<Option<StoredManifest>> {
        let Some(mut m) = meta.get_manifest(repo, digest).await? else {
            return Ok(None);
        };
        let plain = match &m.domain_key {
            Some(arn) => {
                let keys = self.domains.keyring(arn).await?;
                keys.open_object(&digest.to_string(), &m.body)
                    .map_err(|e| {
                        corrupt(
                            digest,
                            &format!(
                                "{e} (sealed under KMS key {arn}, which may have been deleted)"
                            ),
                        )
                    })?
                    .into_owned()
            }
            // An empty shared body is a placeholder (the body is some
            // KMS repository's own), never a manifest: no manifest is empty.
            None if m.body.is_empty() => {
                return Err(corrupt(
                    digest,
                    "this repository's manifest has no stored body (only a placeholder)",
                ))
            }
            None => match self.open(digest, &m.body)? {
                Cow::Owned(plain) => plain,
                Cow::Borrowed(_) => return Ok(Some(m)),
            },
        };
        m.body = plain.into();
        Ok(Some(m))
    }
}

/// The body `open` gives for the digest `digest` names, if the name is a
/// digest, the body opens and it hashes to that digest: what fsck and the
/// sealing pass ask of a stored body.
pub(crate) fn verified<'a>(
    digest: &str,
    open: impl FnOnce(&Digest) -> Option<Cow<'a, [u8]>>,
) -> Option<Cow<'a, [u8]>> {
    let d = digest.parse::<Digest>().ok()?;
    open(&d).filter(|plain| Digest::of_bytes(d.algorithm(), plain) == d)
}

fn corrupt(digest: &Digest, why: &str) -> Error {
    Error::Store(StoreError::Corrupt(format!(
        "manifest body {digest} does not open: {why}"
    )))
}
