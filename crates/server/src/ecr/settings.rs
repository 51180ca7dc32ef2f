//! Registry and repository settings: GetAccountSetting, PutAccountSetting,
//! PutImageScanningConfiguration.

use super::call::{Call, Failure};
use super::operation::EcrOperation;
use super::repositories::ScanningConfiguration;
use serde::{Deserialize, Serialize};

/// An account setting's name and value: GetAccountSetting's and
/// PutAccountSetting's output, and PutAccountSetting's input.
#[derive(Deserialize, Serialize)]
pub struct AccountSetting {
    name: String,
    value: String,
}

pub struct GetAccountSetting;

#[derive(Deserialize)]
pub struct GetAccountSettingInput {
    name: String,
}

impl EcrOperation for GetAccountSetting {
    const NAME: &'static str = "GetAccountSetting";
    type Input = GetAccountSettingInput;
    type Output = AccountSetting;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<AccountSetting, Failure> {
        let value = call
            .app
            .registry
            .account_setting(&call.registry, &input.name)
            .await?;
        Ok(AccountSetting {
            name: input.name,
            value,
        })
    }
}

pub struct PutAccountSetting;

impl EcrOperation for PutAccountSetting {
    const NAME: &'static str = "PutAccountSetting";
    type Input = AccountSetting;
    type Output = AccountSetting;

    async fn handle(call: &Call<'_>, input: AccountSetting) -> Result<AccountSetting, Failure> {
        call.app
            .registry
            .put_account_setting(&call.registry, &input.name, &input.value)
            .await?;
        Ok(input)
    }
}

/// Stored and reported; scan on push starts a scan after each push.
pub struct PutImageScanningConfiguration;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutImageScanningConfigurationInput {
    registry_id: Option<String>,
    repository_name: String,
    image_scanning_configuration: ScanningConfiguration,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutImageScanningConfigurationOutput {
    registry_id: String,
    repository_name: String,
    image_scanning_configuration: ScanningConfiguration,
}

impl EcrOperation for PutImageScanningConfiguration {
    const NAME: &'static str = "PutImageScanningConfiguration";
    type Input = PutImageScanningConfigurationInput;
    type Output = PutImageScanningConfigurationOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        call.check_registry_id(input.registry_id.as_deref())?;
        call.repository_name(&input.repository_name)?;
        let on = input.image_scanning_configuration.scan_on_push;
        call.app
            .registry
            .set_scan_on_push(&call.registry, &input.repository_name, on)
            .await?;
        Ok(PutImageScanningConfigurationOutput {
            registry_id: call.registry.account_id.clone(),
            repository_name: input.repository_name,
            image_scanning_configuration: ScanningConfiguration { scan_on_push: on },
        })
    }
}
