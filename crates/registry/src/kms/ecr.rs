//! ECR repositories under KMS keys (`encryptionType` KMS, KMS_DSSE): the key
//! chosen at CreateRepository, and the key's say on every push and pull.
//!
//! As ECR does through KMS (a forward access session: ECR asks KMS as the
//! caller, `kms:ViaService` = `ecr.<region>.amazonaws.com`): creating the
//! repository needs `kms:DescribeKey` and `kms:CreateGrant` on the key, a
//! push `kms:GenerateDataKey`, a pull `kms:Decrypt`, each judged by the
//! key's policy with the caller's identity policies; a key that is not
//! enabled refuses with KMS's error, which ECR answers as `KmsException`
//! (`kmsError`) and `/v2` as `DENIED`.
//!
//! ECR's grant: creating a repository under a key makes a grant to the
//! region's ECR service principal named by the repository's ARN (one where
//! AWS makes two; `grants::ecr_grant`), and deleting the repository retires
//! it. Every push and pull needs it: a key owner who revokes it cuts the
//! repository off from the key, as on AWS.

use super::grants::{self, ecr_principal};
use super::keys::require_state;
use super::rules::kms_error;
use super::{rules, Found, KmsApi};
use crate::identity::Caller;
use crate::{Error, Registry, RegistryKey, RequestFacts, Result};
use berth_store::KmsGrantRecord;

/// What a repository's key must allow for an ECR action: `None` when the
/// action reads or writes no image bytes.
pub fn key_use(ecr_action: &str) -> Option<&'static str> {
    match ecr_action {
        "ecr:InitiateLayerUpload"
        | "ecr:UploadLayerPart"
        | "ecr:CompleteLayerUpload"
        | "ecr:PutImage" => Some("kms:GenerateDataKey"),
        "ecr:BatchGetImage" | "ecr:GetDownloadUrlForLayer" => Some("kms:Decrypt"),
        _ => None,
    }
}

fn via_ecr(region: &str) -> Vec<(String, Vec<String>)> {
    vec![("kms:ViaService".to_string(), vec![ecr_principal(region)])]
}

/// The condition facts of the CreateGrant that makes ECR's grant, so that
/// a key policy can allow exactly that (`kms:GrantIsForAWSResource`).
fn ecr_grant_facts(region: &str) -> Vec<(String, Vec<String>)> {
    let mut facts = via_ecr(region);
    facts.extend([
        (
            "kms:GrantIsForAWSResource".to_string(),
            vec!["true".to_string()],
        ),
        (
            "kms:GranteePrincipal".to_string(),
            vec![ecr_principal(region)],
        ),
        (
            "kms:GrantOperations".to_string(),
            grants::ECR_GRANT_OPERATIONS.map(str::to_string).to_vec(),
        ),
    ]);
    facts
}

impl KmsApi<'_> {
    /// CreateRepository's key: `kms_key` (id, ARN, alias or alias ARN; the
    /// AWS-managed `alias/aws/ecr` when absent), enabled, and the caller
    /// may describe it and grant ECR its use. Its ARN.
    pub async fn key_for_new_repository(
        &self,
        caller: &Caller,
        region: &str,
        kms_key: Option<&str>,
    ) -> Result<String> {
        let key_ref = kms_key.unwrap_or(rules::ECR_MANAGED_ALIAS);
        let found = self.resolve(caller, region, key_ref, true).await?;
        self.authorize_key(caller, &found, "kms:DescribeKey", &via_ecr(region))
            .await?;
        self.authorize_ecr_grant(caller, &found).await?;
        require_state(&found.key, &found.arn, true)?;
        Ok(found.arn)
    }

    /// `Ok` if `caller` may have ECR's grant made on `found`: the key's
    /// policies must allow it `kms:CreateGrant` (a grant of the caller's
    /// own cannot pass on more than it holds, so it is not enough).
    async fn authorize_ecr_grant(&self, caller: &Caller, found: &Found) -> Result<()> {
        let facts = ecr_grant_facts(&found.key.region);
        match self
            .authorize_key_via(caller, found, "kms:CreateGrant", &facts)
            .await?
        {
            super::Via::Policy => Ok(()),
            super::Via::Grants(_) => Err(kms_error(
                "AccessDeniedException",
                format!(
                    "User: {} is not authorized to perform: kms:CreateGrant on resource: {} because no key policy or IAM policy allows it (a grant does not let ECR's grant be made)",
                    caller.principal.arn(),
                    found.arn
                ),
            )),
        }
    }

    /// The key `arn` used through ECR for `action`, for `repository` (its
    /// ARN) when it exists: ECR's grant for it must still be there.
    pub(crate) async fn use_through_ecr(
        &self,
        caller: &Caller,
        region: &str,
        arn: &str,
        action: &str,
        repository: Option<&str>,
    ) -> Result<()> {
        let found = self.resolve(caller, region, arn, false).await?;
        self.authorize_key(caller, &found, action, &via_ecr(region))
            .await?;
        require_state(&found.key, &found.arn, true)?;
        match repository {
            Some(repository) => self.kms.require_ecr_grant(&found, repository, action).await,
            None => Ok(()),
        }
    }

    /// The key `key_arn` as stored (no caller: ECR itself acts).
    async fn found_by_arn(&self, key_arn: &str) -> Result<Found> {
        Ok(Found {
            key: self.kms.key_at(key_arn).await?,
            arn: key_arn.to_string(),
        })
    }

    /// Makes ECR's grant for a new repository (`repository_arn`, of
    /// `account`) on `key_arn`, which the creator was allowed to grant
    /// (`key_for_new_repository`): its id. Always a new grant, never one
    /// of a repository of the same name that still exists. The key's
    /// policies must let the repository's account make it (checked as
    /// that account's `admin`): a template or a replication naming another
    /// account's key cannot write grants onto it.
    pub(crate) async fn grant_to_ecr(
        &self,
        key_arn: &str,
        account: &str,
        repository_arn: &str,
    ) -> Result<String> {
        let found = self.found_by_arn(key_arn).await?;
        let owner = Caller {
            principal: crate::Principal::user(account, crate::identity::ADMIN_USER),
            facts: crate::RequestFacts::default(),
        };
        self.authorize_ecr_grant(&owner, &found).await?;
        let grant = grants::ecr_grant(&found.key.region, repository_arn);
        let made = self
            .insert_grant(&found, grant, format!("arn:aws:iam::{account}:root"), false)
            .await?;
        Ok(made.grant_id)
    }

    /// Takes back a grant `grant_to_ecr` made for a repository that was
    /// then not created.
    pub(crate) async fn drop_ecr_grant(&self, grant_id: &str) -> Result<()> {
        self.meta().delete_kms_grant(grant_id).await?;
        Ok(())
    }

    /// Retires ECR's grants for a deleted repository (ECR is their
    /// retiring principal) made no later than `created_at`, the deleted
    /// repository's creation: a repository of the same name created
    /// meanwhile keeps its own. A key already deleted took them with it.
    pub(crate) async fn retire_ecr_grants(
        &self,
        key_arn: &str,
        repository_arn: &str,
        created_at: i64,
    ) -> Result<()> {
        let found = match self.found_by_arn(key_arn).await {
            Ok(found) => found,
            Err(_) => return Ok(()),
        };
        for g in self.kms.ecr_grants(&found, repository_arn).await? {
            if g.created_at <= created_at {
                self.meta().delete_kms_grant(&g.grant_id).await?;
            }
        }
        Ok(())
    }
}

impl Registry {
    /// `Ok` if `caller` may perform `action` (`ecr:BatchGetImage`) on
    /// `repository` of `registry`: the ECR policies allow it
    /// (`Identity::authorize`), and a repository under a KMS key lets the
    /// caller make the use of the key the action makes. What the ECR API
    /// and `/v2` both ask for every repository they touch.
    pub async fn authorize(
        &self,
        caller: &crate::Principal,
        action: &str,
        registry: &RegistryKey,
        repository: Option<&str>,
        facts: &RequestFacts,
    ) -> Result<()> {
        self.identity
            .authorize(caller, action, registry, repository, facts)
            .await?;
        match repository {
            Some(name) if name != "*" => {
                self.authorize_key_use(caller, facts, registry, name, action)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// `Ok` unless repository `name` is under a KMS key that refuses the
    /// use `ecr_action` makes of it (`key_use`). AES256 repositories answer
    /// from a cache, without a read.
    pub(crate) async fn authorize_key_use(
        &self,
        principal: &crate::Principal,
        facts: &RequestFacts,
        registry: &RegistryKey,
        name: &str,
        ecr_action: &str,
    ) -> Result<()> {
        let Some(action) = key_use(ecr_action) else {
            return Ok(());
        };
        let Some(arn) = self.identity.repository_kms_key(registry, name).await? else {
            return Ok(());
        };
        let caller = Caller {
            principal: principal.clone(),
            facts: facts.clone(),
        };
        let repository = crate::identity::resource_arn(registry, Some(name));
        self.kms()
            .use_through_ecr(&caller, &registry.region, &arn, action, Some(&repository))
            .await
    }

    /// `Ok` if a repository (or a creation template) may have this
    /// encryption configuration: a known type, a key only with KMS or
    /// KMS_DSSE, and KMS only where this server seals at all.
    pub fn check_encryption(&self, encryption_type: &str, kms_key: Option<&str>) -> Result<()> {
        match encryption_type {
            "AES256" if kms_key.is_some() => Err(Error::InvalidParameter(
                "Invalid parameter at 'encryptionConfiguration': a kmsKey can only be given with encryptionType KMS or KMS_DSSE".into(),
            )),
            "AES256" => Ok(()),
            "KMS" | "KMS_DSSE" if !self.seals_at_rest() => Err(Error::InvalidParameter(
                "this server runs with encryption at rest turned off (a benchmark baseline): it cannot keep a repository under a KMS key".into(),
            )),
            "KMS" | "KMS_DSSE" => Ok(()),
            _ => Err(Error::InvalidParameter(
                "Invalid parameter at 'encryptionConfiguration.encryptionType' failed to satisfy constraint: 'Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]'".into(),
            )),
        }
    }

    /// The encryption of a repository about to be created (checked by
    /// `check_encryption`): the key's ARN. AES256 needs no key; KMS and
    /// KMS_DSSE resolve theirs as the caller
    /// (`KmsApi::key_for_new_repository`).
    pub async fn repository_encryption(
        &self,
        caller: &Caller,
        registry: &RegistryKey,
        encryption_type: &str,
        kms_key: Option<&str>,
    ) -> Result<Option<String>> {
        self.check_encryption(encryption_type, kms_key)?;
        if encryption_type == "AES256" {
            return Ok(None);
        }
        Ok(Some(
            self.kms()
                .key_for_new_repository(caller, &registry.region, kms_key)
                .await?,
        ))
    }
}

impl super::Kms {
    /// `Ok` if key `arn` exists and is enabled, else KMS's refusal (a
    /// creation template's key, before a repository is made under it).
    pub(crate) async fn require_enabled(&self, arn: &str) -> Result<()> {
        self.enabled_key(arn).await.map(drop)
    }

    /// Key `arn`'s row if it exists and is enabled, else KMS's refusal.
    async fn enabled_key(&self, arn: &str) -> Result<berth_store::KmsKeyRecord> {
        let key = self.key_at(arn).await?;
        if rules::deletion_due(&key, self.clock.now_millis()) {
            return Err(rules::key_not_found(arn));
        }
        require_state(&key, arn, true)?;
        Ok(key)
    }

    /// `Ok` if ECR may still decrypt with key `arn` for repository
    /// `repository_arn`: the key enabled and ECR's grant for the repository
    /// in place. What background work that reads a repository's bytes (a
    /// scan) asks, as a pull does, without a caller's permissions (berth
    /// itself reads, as ECR's scanning does through ECR's grant).
    pub(crate) async fn require_ecr_decrypt(&self, arn: &str, repository_arn: &str) -> Result<()> {
        let found = Found {
            key: self.enabled_key(arn).await?,
            arn: arn.to_string(),
        };
        self.require_ecr_grant(&found, repository_arn, "kms:Decrypt")
            .await
    }

    /// ECR's grants for repository `repository_arn` on `found` (only berth
    /// makes grants to ECR's principal: `grants::is_service_principal`).
    pub(crate) async fn ecr_grants(
        &self,
        found: &Found,
        repository_arn: &str,
    ) -> Result<Vec<KmsGrantRecord>> {
        let key = &found.key;
        Ok(self
            .meta
            .kms_grants_named(
                &key.account_id,
                &key.region,
                &key.key_id,
                repository_arn,
                &ecr_principal(&key.region),
            )
            .await?)
    }

    /// `Ok` while ECR's grant lets it make `action`'s use of the key for
    /// the repository; once retired or revoked, AccessDeniedException (the
    /// key's owner cut ECR off, as on AWS).
    pub(crate) async fn require_ecr_grant(
        &self,
        found: &Found,
        repository_arn: &str,
        action: &str,
    ) -> Result<()> {
        let op = action.trim_start_matches("kms:");
        for g in self.ecr_grants(found, repository_arn).await? {
            if grants::operations_of(&g)?.iter().any(|o| o == op) {
                return Ok(());
            }
        }
        Err(kms_error(
            "AccessDeniedException",
            format!(
                "ECR's grant on {} for {repository_arn} was retired or revoked: the repository cannot use the key",
                found.arn
            ),
        ))
    }

    /// Key `arn`'s row, or KMS's NotFoundException.
    pub(crate) async fn key_at(&self, arn: &str) -> Result<berth_store::KmsKeyRecord> {
        let gone = || rules::key_not_found(arn);
        let (region, account, id) = rules::parse_key_arn(arn).ok_or_else(gone)?;
        self.meta
            .get_kms_key(&account, &region, &id)
            .await?
            .ok_or_else(gone)
    }
}
