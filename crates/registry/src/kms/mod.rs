//! KMS: customer keys that users manage through `aws kms` (the
//! `TrentService` API), and the keys ECR repositories will seal under.
//!
//! - `rules`: names, limits, states, default key policies, errors;
//! - `crypto`: key materials and the ciphertext format (no store);
//! - `keys`: key management (create, describe, states, deletion,
//!   rotation, policies, tags);
//! - `aliases`: aliases;
//! - `cryptographic`: Encrypt, Decrypt, ReEncrypt, the data keys;
//! - `storage`: a key's storage domain KEK (blobs of repositories under it);
//! - `grants`: grants, and what they allow besides the key's policy;
//! - `ecr`: repositories under keys (ECR's grant, each push's and pull's use).
//!
//! Every operation on a key resolves it (`NotFoundException`), then asks
//! the key's policy and the caller's identity policies with one
//! evaluation (`Identity::decide_with_own_policy`: the key policy must name
//! the caller or delegate to its account, as on AWS), then applies the
//! key state's rules. A change is a read, the rule, and a write over the
//! revision read (`KmsStore::update_kms_key`), retried when another node
//! changed the key in between. Nothing is cached: every node reads the
//! key row, so a key disabled anywhere is disabled everywhere at once.

mod aliases;
pub mod crypto;
pub(crate) mod cryptographic;
mod ecr;
mod grants;
mod keys;
#[cfg(test)]
mod kms_tests;
pub mod rules;
mod storage;

pub use aliases::{AliasEntry, AliasPage};
pub use cryptographic::{DataKey, Decrypted, Encrypted, ReEncrypted};
pub use ecr::key_use;
pub use grants::{
    CreatedGrant, GrantConstraints, GrantEntry, GrantPage, GrantQuery, NewGrant, RetireBy,
    GRANT_OPERATIONS,
};
pub use keys::{KeyEntry, KeyMetadata, KeyPage, NewKey, Rotation, RotationStatus};
pub use storage::{domain_key_arn, domain_name};

use crate::clock::Clock;
use crate::identity::{Caller, Identity};
use crate::{Error, Result};
use berth_iam::policy::{Decision, Policy, PolicyKind};
use berth_store::prelude::*;
use berth_store::sealed::{Keks, Roots};
use berth_store::KmsKeyRecord;
use rules::{kms_error, KeyRef};
use std::sync::Arc;

/// The KMS keys of every account, with the KEK that seals their materials.
pub(crate) struct Kms {
    meta: Arc<dyn MetadataStore>,
    clock: Arc<dyn Clock>,
    /// Derived from the roots of the key hierarchy (`kms`), one per root
    /// generation: every node with the roots opens every key's materials.
    kek: Keks,
}

impl Kms {
    pub(crate) fn new(meta: Arc<dyn MetadataStore>, clock: Arc<dyn Clock>, roots: &Roots) -> Kms {
        Kms {
            meta,
            clock,
            kek: roots.keks("kms"),
        }
    }
}

impl Kms {
    /// Re-wraps every key's materials that an older root generation
    /// wrapped under the current one (a root rotation's pass): the same
    /// material bytes, so every ciphertext and storage KEK still opens.
    /// Each key is written over the revision it was read at, and read
    /// again when another writer came first. Returns (keys re-wrapped,
    /// keys left: changed too often meanwhile, for the next pass).
    pub(crate) async fn rewrap_materials(&self) -> Result<(u64, u64)> {
        let (mut done, mut left) = (0, 0);
        let mut after: Option<(String, String, String)> = None;
        loop {
            let page = self
                .meta
                .all_kms_keys(
                    after
                        .as_ref()
                        .map(|a| (a.0.as_str(), a.1.as_str(), a.2.as_str())),
                    200,
                )
                .await?;
            let Some(last) = page.last() else {
                return Ok((done, left));
            };
            after = Some((
                last.account_id.clone(),
                last.region.clone(),
                last.key_id.clone(),
            ));
            for key in page {
                match self.rewrap_key(key).await? {
                    Some(true) => done += 1,
                    Some(false) => {}
                    None => left += 1,
                }
            }
        }
    }

    /// One key's materials re-wrapped: whether anything was, `None` when
    /// the key kept changing.
    async fn rewrap_key(&self, mut key: KmsKeyRecord) -> Result<Option<bool>> {
        for _ in 0..UPDATE_ATTEMPTS {
            let arn = rules::key_arn(&key.region, &key.account_id, &key.key_id);
            let mut materials = crypto::decode_materials(&key.materials)?;
            let mut changed = false;
            for m in &mut materials {
                if let Some(new) = crypto::rewrapped_material(&self.kek, &arn, m)? {
                    *m = new;
                    changed = true;
                }
            }
            if !changed {
                return Ok(Some(false));
            }
            key.materials = crypto::encode_materials(&materials);
            key.revision += 1;
            if self.meta.update_kms_key(&key).await? {
                return Ok(Some(true));
            }
            match self
                .meta
                .get_kms_key(&key.account_id, &key.region, &key.key_id)
                .await?
            {
                Some(again) => key = again,
                None => return Ok(Some(false)), // deleted meanwhile
            }
        }
        Ok(None)
    }
}

/// The KMS API's operations, for one call's region.
pub struct KmsApi<'a> {
    pub(crate) kms: &'a Kms,
    pub(crate) identity: &'a Identity,
}

/// What allowed a use of a key.
pub(crate) enum Via {
    /// The key's policy (with the caller's identity policies).
    Policy,
    /// Only these grants (the policies did not deny it either).
    Grants(Vec<berth_store::KmsGrantRecord>),
}

/// A key as an operation found it: its row and ARN.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub key: KmsKeyRecord,
    pub arn: String,
}

/// How many times a change is tried again when the key changed meanwhile.
const UPDATE_ATTEMPTS: usize = 8;

impl KmsApi<'_> {
    fn now(&self) -> i64 {
        self.kms.clock.now_millis()
    }

    fn meta(&self) -> &dyn MetadataStore {
        &*self.kms.meta
    }

    /// The key `key_id` names (an alias only when `aliases`), in `region`;
    /// `NotFoundException` in KMS's words otherwise. A key whose deletion
    /// date has passed is deleted here (there is no deletion job: a key is
    /// gone from the moment its window ends, whichever node looks first).
    pub(crate) async fn resolve(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        aliases: bool,
    ) -> Result<Found> {
        let (account, id) = match rules::parse_key_ref(key_id, region)? {
            KeyRef::Key { account, id } => {
                (account.unwrap_or_else(|| caller.account_id.clone()), id)
            }
            KeyRef::Alias { account, name } => {
                if !aliases {
                    return Err(kms_error(
                        "NotFoundException",
                        format!("Invalid keyId '{key_id}': specify the key ID or key ARN"),
                    ));
                }
                let own = account.is_none();
                let account = account.unwrap_or_else(|| caller.account_id.clone());
                match self.meta().get_kms_alias(&account, region, &name).await? {
                    Some(a) => (account, a.target_key_id),
                    None if own && name == rules::ECR_MANAGED_ALIAS => (
                        account.clone(),
                        self.ecr_managed_key(&account, region).await?,
                    ),
                    None => {
                        return Err(kms_error(
                            "NotFoundException",
                            format!(
                                "Alias {} is not found.",
                                rules::alias_arn(region, &account, &name)
                            ),
                        ))
                    }
                }
            }
        };
        let arn = rules::key_arn(region, &account, &id);
        let Some(key) = self.meta().get_kms_key(&account, region, &id).await? else {
            return Err(rules::key_not_found(&arn));
        };
        if rules::deletion_due(&key, self.now()) {
            self.meta().delete_kms_key(&account, region, &id).await?;
            tracing::info!(key = %arn, "KMS key deleted at the end of its waiting period");
            return Err(rules::key_not_found(&arn));
        }
        Ok(Found { key, arn })
    }

    /// `Ok` if the key's policy and the caller's identity policies allow
    /// `action` on the key, or (when neither denies) one of the caller's
    /// grants on it does; `AccessDeniedException` in AWS's words if not.
    pub(crate) async fn authorize_key(
        &self,
        caller: &Caller,
        found: &Found,
        action: &str,
        context: &[(String, Vec<String>)],
    ) -> Result<()> {
        self.authorize_key_via(caller, found, action, context)
            .await
            .map(|_| ())
    }

    /// `authorize_key`, saying what allowed it.
    pub(crate) async fn authorize_key_via(
        &self,
        caller: &Caller,
        found: &Found,
        action: &str,
        context: &[(String, Vec<String>)],
    ) -> Result<Via> {
        let policy = Policy::parse(&found.key.policy, PolicyKind::Resource).map_err(|e| {
            Error::Store(berth_store::StoreError::Corrupt(format!(
                "the key policy of {} no longer parses: {e}",
                found.arn
            )))
        })?;
        let mut ctx = vec![(
            "kms:CallerAccount".to_string(),
            vec![caller.account_id.clone()],
        )];
        ctx.extend_from_slice(context);
        let (decision, request) = self
            .identity
            .decide_with_own_policy(
                &caller.principal,
                action,
                &found.arn,
                &found.key.account_id,
                &policy,
                &caller.facts,
                &ctx,
            )
            .await?;
        if matches!(decision, Decision::ImplicitDeny { .. }) {
            let grants = self.grants_allowing(caller, found, action, context).await?;
            if !grants.is_empty() {
                return Ok(Via::Grants(grants));
            }
        }
        deny_unless_allowed(decision, &request).map(|()| Via::Policy)
    }

    /// `Ok` if the caller's identity policies allow `action` on `resource`
    /// (operations on no key: CreateKey, ListKeys, ListAliases,
    /// GenerateRandom; and the alias half of alias operations).
    pub(crate) async fn authorize_identity(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
    ) -> Result<()> {
        match self
            .identity
            .identity_denial(caller, action, resource)
            .await?
        {
            None => Ok(()),
            Some(m) => Err(kms_error("AccessDeniedException", m)),
        }
    }

    /// Resolves and authorizes.
    pub(crate) async fn key_for(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        action: &str,
        aliases: bool,
    ) -> Result<Found> {
        let found = self.resolve(caller, region, key_id, aliases).await?;
        self.authorize_key(caller, &found, action, &[]).await?;
        Ok(found)
    }

    /// A change to one key: resolved, authorized, `change` applied (it
    /// refuses by the key's state), written over the revision read; read
    /// again and re-judged when another writer came first.
    pub(crate) async fn modify<F>(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        action: &str,
        mut change: F,
    ) -> Result<Found>
    where
        F: FnMut(&mut KmsKeyRecord, &str) -> Result<()>,
    {
        for _ in 0..UPDATE_ATTEMPTS {
            let found = self.key_for(caller, region, key_id, action, false).await?;
            if let Some(changed) = self.write_over(&found, &mut change).await? {
                return Ok(changed);
            }
        }
        Err(changing(key_id))
    }

    /// One attempt at a change: `found` with `change` applied, written only
    /// over the revision it was read at; `None` when another writer came
    /// first (the caller reads again).
    pub(crate) async fn write_over<F>(&self, found: &Found, change: F) -> Result<Option<Found>>
    where
        F: FnOnce(&mut KmsKeyRecord, &str) -> Result<()>,
    {
        let mut next = found.key.clone();
        change(&mut next, &found.arn)?;
        next.revision += 1;
        Ok(self.meta().update_kms_key(&next).await?.then(|| Found {
            key: next,
            arn: found.arn.clone(),
        }))
    }
}

/// A change that kept losing to other writers.
pub(crate) fn changing(key_id: &str) -> Error {
    Error::Conflict(format!(
        "KMS key {key_id} kept changing while this request tried to change it; retry"
    ))
}

fn deny_unless_allowed(decision: Decision, request: &berth_iam::policy::Request) -> Result<()> {
    match decision.denial_message(request) {
        None => Ok(()),
        Some(m) => Err(kms_error("AccessDeniedException", m)),
    }
}
