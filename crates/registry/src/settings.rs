//! Registry settings (ECR's account settings, per account and region):
//! their names, allowed values and defaults. `BLOB_MOUNTING` decides
//! whether `POST ?mount=` may link a blob from another repository;
//! `REGISTRY_POLICY_SCOPE` whether the registry policy takes part in every
//! authorization (V2) or only in replication and pull-through cache (V1).

use crate::{Error, Result};
use berth_store::{MetadataStore, RegistryKey};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// (name, allowed values, default). Berth enables blob mounting by
/// default (ECR's default is DISABLED): every OCI client relies on it.
const SETTINGS: &[(&str, &[&str], &str)] = &[
    ("BLOB_MOUNTING", &["ENABLED", "DISABLED"], "ENABLED"),
    ("BASIC_SCAN_TYPE_VERSION", &["AWS_NATIVE"], "AWS_NATIVE"),
    ("REGISTRY_POLICY_SCOPE", &["V1", "V2"], "V2"),
];

/// The settings, read through a cache (the push path and every
/// authorization read them). A put writes the store first and then
/// overwrites the entry; a read fills only an empty entry, so a fill that
/// raced a put can never replace the put's value. Shared by the registry
/// and identity; the rules that span both (a V1 scope needs a V1 registry
/// policy) are `Registry::put_account_setting`'s.
pub(crate) struct AccountSettings {
    meta: Arc<dyn MetadataStore>,
    values: RwLock<HashMap<(RegistryKey, &'static str), String>>,
    /// Bumped by `forget`: a read that began before does not fill.
    generation: AtomicU64,
    /// False while this node cannot hear other nodes' changes.
    enabled: AtomicBool,
}

/// Every account setting: (name, allowed values, default), for forms.
pub fn account_setting_choices() -> &'static [(&'static str, &'static [&'static str], &'static str)]
{
    SETTINGS
}

pub(crate) fn known(
    name: &str,
) -> Result<&'static (&'static str, &'static [&'static str], &'static str)> {
    SETTINGS.iter().find(|(n, _, _)| *n == name).ok_or_else(|| {
        Error::InvalidParameter(format!(
            "'{name}' is not an account setting; the settings are {}",
            SETTINGS.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
        ))
    })
}

impl AccountSettings {
    pub(crate) fn new(meta: Arc<dyn MetadataStore>) -> Self {
        AccountSettings {
            meta,
            values: RwLock::default(),
            generation: AtomicU64::new(0),
            enabled: AtomicBool::new(true),
        }
    }

    /// A setting's value in `registry` (its default if never put).
    pub(crate) async fn get(&self, registry: &RegistryKey, name: &str) -> Result<String> {
        let (name, _, default) = known(name)?;
        let key = (registry.clone(), *name);
        if let Some(v) = self.values.read().get(&key) {
            return Ok(v.clone());
        }
        let seen = self.generation.load(Ordering::SeqCst);
        let v = self
            .meta
            .account_setting(registry, name)
            .await?
            .unwrap_or_else(|| default.to_string());
        let mut values = self.values.write();
        if self.enabled.load(Ordering::SeqCst) && self.generation.load(Ordering::SeqCst) == seen {
            values.entry(key).or_insert_with(|| v.clone());
        }
        Ok(v)
    }

    /// Forgets every cached value (another node put one).
    pub(crate) fn forget(&self) {
        let mut values = self.values.write();
        self.generation.fetch_add(1, Ordering::SeqCst);
        values.clear();
    }

    /// Empties the cache and stops or resumes filling it.
    pub(crate) fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::SeqCst);
        self.forget();
    }

    /// Stores a known setting's value (the caller checked it).
    pub(crate) async fn put(
        &self,
        registry: &RegistryKey,
        name: &'static str,
        value: &str,
    ) -> Result<()> {
        self.meta.put_account_setting(registry, name, value).await?;
        // Forgotten, not overwritten: another node's later put may already
        // have been applied here, and the next read fetches the winner.
        self.forget();
        Ok(())
    }

    /// Whether the registry policy is evaluated on every request (V2).
    pub(crate) async fn registry_policy_scope_v2(&self, registry: &RegistryKey) -> Result<bool> {
        Ok(self.get(registry, "REGISTRY_POLICY_SCOPE").await? == "V2")
    }

    pub(crate) async fn blob_mounting_enabled(&self, registry: &RegistryKey) -> Result<bool> {
        Ok(self.get(registry, "BLOB_MOUNTING").await? == "ENABLED")
    }
}
