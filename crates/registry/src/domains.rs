//! Key domains (ARCHITECTURE.md, "Deduplication within a key domain"):
//! which blob store holds a repository's blobs. AES256 repositories share
//! the registry's store; a repository under a KMS key has its key's storage
//! domain (`BlobStore::domain`: the same uploads, its own blobs, sealed
//! under the key's storage KEK, `kms/storage.rs`), in the blob store and in
//! the archive alike. A layer pushed to repositories under two keys is so
//! stored once per key, and one key never opens another's copy.
//!
//! Blob records and links stay per digest: a linked digest has its bytes
//! in the domain of each repository that links it. Repositories put under
//! a key before domains existed have theirs in the AES256 store, which
//! their reads fall back to (`read_blob`).

use crate::{kms, Error, Registry, RegistryKey, Result};
use berth_store::sealed::{Kek, Keyring};
use berth_store::{BlobStore, StoreError};
use rand::RngCore as _;
use std::collections::HashMap;
use std::sync::Arc;

/// The domain stores made so far, by (in the archive, domain name), and
/// what makes them. A key's storage KEK never changes (rotation re-seals
/// it, its value stays), so a store stays right for the life of the
/// process. Shared by the registry and the scanner.
pub(crate) struct DomainStores {
    /// The registry's blob store (the AES256 domain's).
    blobs: Arc<dyn BlobStore>,
    /// What the stores seal with (`None`: encryption at rest is off); a
    /// domain takes its uploads' KEK.
    keyring: Option<Arc<Keyring>>,
    kms: Arc<kms::Kms>,
    made: parking_lot::Mutex<HashMap<(bool, String), Arc<dyn BlobStore>>>,
    /// Each domain's keys, by domain name (its stores' and its manifest
    /// bodies').
    keyrings: parking_lot::Mutex<HashMap<String, Arc<Keyring>>>,
}

impl DomainStores {
    pub(crate) fn new(
        blobs: Arc<dyn BlobStore>,
        keyring: Option<Arc<Keyring>>,
        kms: Arc<kms::Kms>,
    ) -> DomainStores {
        DomainStores {
            blobs,
            keyring,
            kms,
            made: Default::default(),
            keyrings: Default::default(),
        }
    }

    /// The keys of key `arn`'s domain (a key that is gone: keys that open
    /// nothing, made afresh each time).
    pub(crate) async fn keyring(&self, arn: &str) -> Result<Arc<Keyring>> {
        Ok(self.keyring_if_live(arn).await?.0)
    }

    /// The keys of key `arn`'s domain, to seal with: KMS's NotFoundException
    /// when the key is gone (nothing sealed under throwaway keys).
    pub(crate) async fn live_keyring(&self, arn: &str) -> Result<Arc<Keyring>> {
        match self.keyring_if_live(arn).await? {
            (keys, true) => Ok(keys),
            (_, false) => Err(kms::rules::key_not_found(arn)),
        }
    }

    /// The keys of key `arn`'s domain, and whether the key still exists.
    /// Only a live key's are cached: a lost key's never come back, and a
    /// read of a gone key's data needs no speed.
    async fn keyring_if_live(&self, arn: &str) -> Result<(Arc<Keyring>, bool)> {
        let name = kms::domain_name(arn).ok_or_else(|| {
            Error::Store(StoreError::Corrupt(format!(
                "{arn:?} is recorded as a repository's KMS key but is not a key ARN"
            )))
        })?;
        if let Some(keys) = self.keyrings.lock().get(&name) {
            return Ok((keys.clone(), true));
        }
        let keyring = self.keyring.as_ref().ok_or_else(|| {
            Error::Store(StoreError::Io(std::io::Error::other(
                "repositories under KMS keys need encryption at rest, which is off",
            )))
        })?;
        let Some(kek) = self.kms.storage_kek(arn).await? else {
            // The key is gone, and with it what opened the domain's data:
            // keys that open nothing (collection still lists and deletes).
            let mut lost = [0u8; 32];
            rand::rng().fill_bytes(&mut lost);
            return Ok((
                Arc::new(keyring.domain(&name, Kek::from_bytes(lost))),
                false,
            ));
        };
        let keys = Arc::new(keyring.domain(&name, kek));
        Ok((
            self.keyrings.lock().entry(name).or_insert(keys).clone(),
            true,
        ))
    }

    /// The blob store of the domain of a repository under `key` (its ARN;
    /// `None`: AES256, the registry's store).
    pub(crate) async fn for_key(&self, key: Option<&str>) -> Result<Arc<dyn BlobStore>> {
        match key {
            None => Ok(self.blobs.clone()),
            Some(arn) => self.key_domain(&self.blobs, false, arn).await,
        }
    }

    /// `Ok` if key `arn` is enabled and ECR's grant for repository
    /// `repository_arn` still in place (KMS's refusal else): background
    /// reads of a repository's bytes ask it, as pulls do.
    pub(crate) async fn require_ecr_decrypt(&self, arn: &str, repository_arn: &str) -> Result<()> {
        self.kms.require_ecr_decrypt(arn, repository_arn).await
    }

    /// Key `arn`'s domain of `base`: the blob store, or the archive
    /// (`archive`, which only names the cache slot).
    pub(crate) async fn key_domain(
        &self,
        base: &Arc<dyn BlobStore>,
        archive: bool,
        arn: &str,
    ) -> Result<Arc<dyn BlobStore>> {
        let name = kms::domain_name(arn).ok_or_else(|| {
            Error::Store(StoreError::Corrupt(format!(
                "{arn:?} is recorded as a repository's KMS key but is not a key ARN"
            )))
        })?;
        let slot = (archive, name);
        if let Some(store) = self.made.lock().get(&slot) {
            return Ok(store.clone());
        }
        let store = base.domain(self.keyring(arn).await?).await?;
        Ok(self.made.lock().entry(slot).or_insert(store).clone())
    }
}

/// One key domain's blob store and, when the registry has one, its archive.
pub(crate) struct DomainPair {
    /// `None` for the AES256 domain (the registry's own stores).
    pub key_arn: Option<String>,
    pub blobs: Arc<dyn BlobStore>,
    pub archive: Option<Arc<dyn BlobStore>>,
}

impl Registry {
    /// Where repository `name`'s blobs are: the registry's store (AES256),
    /// or its key's domain.
    pub(crate) async fn repo_blobs(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Arc<dyn BlobStore>> {
        let key = self.identity.repository_kms_key(registry, name).await?;
        self.domains.for_key(key.as_deref()).await
    }

    /// Key `arn`'s domain of the blob store, or of the archive (`archive`).
    pub(crate) async fn key_domain(&self, archive: bool, arn: &str) -> Result<Arc<dyn BlobStore>> {
        let base = if archive {
            self.archive.clone().ok_or_else(|| {
                Error::Store(StoreError::Corrupt(
                    "no archive blob store is configured".into(),
                ))
            })?
        } else {
            self.blobs.clone()
        };
        self.domains.key_domain(&base, archive, arn).await
    }

    /// Every key domain: AES256's first, then each KMS key's that the blob
    /// store or the archive has a place for (background work walks them).
    pub(crate) async fn domain_pairs(&self) -> Result<Vec<DomainPair>> {
        let mut out = vec![DomainPair {
            key_arn: None,
            blobs: self.blobs.clone(),
            archive: self.archive.clone(),
        }];
        let mut names = self.blobs.domains().await?;
        if let Some(archive) = &self.archive {
            names.extend(archive.domains().await?);
        }
        names.sort();
        names.dedup();
        for name in names {
            let Some(arn) = kms::domain_key_arn(&name) else {
                continue;
            };
            let archive = match &self.archive {
                Some(_) => Some(self.key_domain(true, &arn).await?),
                None => None,
            };
            out.push(DomainPair {
                blobs: self.key_domain(false, &arn).await?,
                archive,
                key_arn: Some(arn),
            });
        }
        Ok(out)
    }
}

impl Registry {
    /// Copies what repositories put under a KMS key before key domains
    /// existed (stop 35) link from the AES256 store into their key's
    /// domain, checked against its digest, under the digest's lock (GC's
    /// protocol). Part of the sealing pass: idempotent, resumable by
    /// running again; reads fall back to the AES256 copy until then, and
    /// garbage collection removes that copy once no domain needs it. Each
    /// repository's manifest bodies follow (`settle_manifest_bodies`).
    pub(crate) async fn settle_key_domains(&self, run: &mut crate::SealRun) -> Result<()> {
        let mut live_keys: HashMap<String, bool> = HashMap::new();
        let mut after = 0;
        loop {
            let page = self.meta.kms_repositories(after, 500).await?;
            let Some(last) = page.last().map(|r| r.0) else {
                return Ok(());
            };
            for (id, _, name, arn) in page {
                // The key is gone: its repositories read nothing. Asked
                // once per key and pass, not per repository.
                if !self.kms.key_exists_in(&mut live_keys, &arn).await? {
                    continue;
                }
                let domain = self.domains.key_domain(&self.blobs, false, &arn).await?;
                let mut from: Option<berth_oci::Digest> = None;
                loop {
                    let digests = self
                        .meta
                        .repository_blob_page(berth_store::RepoId(id), from.as_ref(), 1000)
                        .await?;
                    let Some(next) = digests.last().cloned() else {
                        break;
                    };
                    for digest in digests {
                        if domain.stat(&digest).await?.is_some() {
                            continue;
                        }
                        let _lock = self.digest_locks.lock(digest.as_str()).await?;
                        let Some(size) = self.blobs.stat(&digest).await? else {
                            continue; // archived, or collected meanwhile
                        };
                        if domain.stat(&digest).await?.is_some() {
                            continue;
                        }
                        match berth_store::copy_blob(&*self.blobs, &*domain, &digest, size, true)
                            .await
                        {
                            Ok(()) => {
                                run.moved += 1;
                                self.sealing_moved(size);
                            }
                            Err(e) => {
                                run.failed += 1;
                                tracing::warn!(%digest, repository = %name, key = %arn, error = %e, "could not copy a blob into its KMS key's domain; it stays readable from the AES256 store, and the next pass tries again");
                            }
                        }
                    }
                    from = Some(next);
                }
                self.settle_manifest_bodies(berth_store::RepoId(id), &arn, run)
                    .await?;
            }
            after = last;
        }
    }
}

/// The keyring of storage domain `name` (`kms/<account>.<region>.<key id>`)
/// for offline tools (`berth migrate`), from the metadata that holds its
/// key, `base` (the stores' keyring) and the roots of the key hierarchy;
/// `None` when the key no longer exists (its blobs open nowhere).
pub async fn domain_keyring(
    meta: Arc<dyn berth_store::MetadataStore>,
    base: &Keyring,
    roots: &berth_store::sealed::Roots,
    name: &str,
) -> Result<Option<Keyring>> {
    let Some(arn) = kms::domain_key_arn(name) else {
        return Ok(None);
    };
    let kms = kms::Kms::new(meta, Arc::new(crate::SystemClock), roots);
    Ok(kms
        .storage_kek(&arn)
        .await?
        .map(|kek| base.domain(name, kek)))
}

impl Registry {
    /// Gives the manifests of repository `repo` (under key `arn`, which
    /// exists) that still read the shared (AES256) body, stored before
    /// manifest bodies followed their key (stop 41), a body of their own
    /// sealed under the key; a shared body no manifest reads any more is
    /// emptied in the same transaction (`set_domain_body`). Part of the
    /// sealing pass (`settle_key_domains`): idempotent, resumable by
    /// running again; readers see the shared body until the switch, then
    /// their own, the same bytes.
    async fn settle_manifest_bodies(
        &self,
        repo: berth_store::RepoId,
        arn: &str,
        run: &mut crate::SealRun,
    ) -> Result<()> {
        let keys = self.domains.live_keyring(arn).await?;
        let mut from: Option<String> = None;
        loop {
            let bodies = self
                .meta
                .manifests_reading_shared_bodies(repo, from.as_deref(), 200)
                .await?;
            let Some(next) = bodies.last().map(|b| b.0.clone()) else {
                return Ok(());
            };
            for (text, shared) in bodies {
                let Some(plain) = self.bodies.open_verified(&text, &shared) else {
                    // Damaged: fsck's to report.
                    run.failed += 1;
                    continue;
                };
                let own = keys.seal_object(&text, &plain);
                if self.meta.set_domain_body(repo, &text, &own).await? {
                    run.bodies += 1;
                }
            }
            from = Some(next);
        }
    }
}
