//! ECR's account-setting operations (GetAccountSetting, PutAccountSetting):
//! the settings themselves are `settings.rs`'s; the rules that span
//! settings and identity (a V1 policy scope needs a registry policy V1
//! accepts, and changes what authorization reads) are here.

use crate::settings::known;
use crate::{Error, Registry, Result};
use berth_store::RegistryKey;

impl Registry {
    /// A setting's value in `registry` (its default if never put).
    pub async fn account_setting(&self, registry: &RegistryKey, name: &str) -> Result<String> {
        self.settings.get(registry, name).await
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
            if let Ok(text) = self.identity.registry_policy(registry).await {
                let parsed =
                    crate::identity::parse_stored(&text, berth_iam::policy::PolicyKind::Resource)?;
                crate::identity::check_v1_actions(&parsed).map_err(|_| {
                    Error::InvalidParameter(format!(
                        "the registry policy names actions that REGISTRY_POLICY_SCOPE V1 does not allow (only {}); change or delete it first",
                        crate::identity::V1_REGISTRY_ACTIONS.join(", ")
                    ))
                })?;
            }
        }
        self.settings.put(registry, name, value).await?;
        if *name == "REGISTRY_POLICY_SCOPE" {
            self.identity.policies_changed();
        }
        Ok(())
    }
}
