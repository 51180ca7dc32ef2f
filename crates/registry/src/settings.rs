//! Registry settings (ECR's account settings, per account and region):
//! their names, allowed values and defaults. `BLOB_MOUNTING` decides
//! whether `POST ?mount=` may link a blob from another repository;
//! `REGISTRY_POLICY_SCOPE` whether the registry policy takes part in every
//! authorization (V2) or only in replication and pull-through cache (V1).

use crate::{Error, Registry, Result};
use berth_store::RegistryKey;
use parking_lot::RwLock;
use std::collections::HashMap;

/// (name, allowed values, default). Berth enables blob mounting by
/// default (ECR's default is DISABLED): every OCI client relies on it.
const SETTINGS: &[(&str, &[&str], &str)] = &[
    ("BLOB_MOUNTING", &["ENABLED", "DISABLED"], "ENABLED"),
    ("BASIC_SCAN_TYPE_VERSION", &["AWS_NATIVE"], "AWS_NATIVE"),
    ("REGISTRY_POLICY_SCOPE", &["V1", "V2"], "V2"),
];

/// Settings read on the push path, cached. A put writes the store first and
/// then overwrites the entry; a read fills only an empty entry, so a fill
/// that raced a put can never replace the put's value.
#[derive(Default)]
pub(crate) struct SettingsCache {
    values: RwLock<HashMap<(RegistryKey, &'static str), String>>,
}

fn known(name: &str) -> Result<&'static (&'static str, &'static [&'static str], &'static str)> {
    SETTINGS.iter().find(|(n, _, _)| *n == name).ok_or_else(|| {
        Error::InvalidParameter(format!(
            "'{name}' is not an account setting; the settings are {}",
            SETTINGS.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
        ))
    })
}

impl Registry {
    /// A setting's value in `registry` (its default if never put).
    pub async fn account_setting(&self, registry: &RegistryKey, name: &str) -> Result<String> {
        let (name, _, default) = known(name)?;
        let key = (registry.clone(), *name);
        if let Some(v) = self.settings.values.read().get(&key) {
            return Ok(v.clone());
        }
        let v = self
            .meta
            .account_setting(registry, name)
            .await?
            .unwrap_or_else(|| default.to_string());
        self.settings
            .values
            .write()
            .entry(key)
            .or_insert_with(|| v.clone());
        Ok(v)
    }

    pub async fn put_account_setting(
        &self,
        registry: &RegistryKey,
        name: &str,
        value: &str,
    ) -> Result<()> {
        let (name, allowed, _) = known(name)?;
        if !allowed.contains(&value) {
            return Err(Error::InvalidParameter(format!(
                "'{value}' is not a value of {name}; allowed: {}",
                allowed.join(", ")
            )));
        }
        if *name == "REGISTRY_POLICY_SCOPE" && value == "V1" {
            // The stored policy must be one V1 accepts, or it would silently
            // stop granting what it says.
            if let Ok(text) = self.registry_policy(registry).await {
                let parsed =
                    crate::authz::parse_stored(&text, berth_iam::policy::PolicyKind::Resource)?;
                crate::policies::check_v1_actions(&parsed).map_err(|_| {
                    Error::InvalidParameter(format!(
                        "the registry policy names actions that REGISTRY_POLICY_SCOPE V1 does not allow (only {}); change or delete it first",
                        crate::policies::V1_REGISTRY_ACTIONS.join(", ")
                    ))
                })?;
            }
        }
        self.meta.put_account_setting(registry, name, value).await?;
        self.settings
            .values
            .write()
            .insert((registry.clone(), *name), value.to_string());
        if *name == "REGISTRY_POLICY_SCOPE" {
            self.authz.changed();
        }
        Ok(())
    }

    /// Whether the registry policy is evaluated on every request (V2).
    pub(crate) async fn registry_policy_scope_v2(&self, registry: &RegistryKey) -> Result<bool> {
        Ok(self
            .account_setting(registry, "REGISTRY_POLICY_SCOPE")
            .await?
            == "V2")
    }

    pub(crate) async fn blob_mounting_enabled(&self, registry: &RegistryKey) -> Result<bool> {
        Ok(self.account_setting(registry, "BLOB_MOUNTING").await? == "ENABLED")
    }
}
