//! Key management: CreateKey, DescribeKey, ListKeys, Enable/DisableKey,
//! Schedule/CancelKeyDeletion, the rotation operations, the key policy
//! operations, UpdateKeyDescription and the tag operations.

use super::crypto::{decode_materials, encode_materials, new_material, Material};
use super::rules::{self, kms_error, validation};
use super::{Found, KmsApi};
use crate::identity::Caller;
use crate::{Error, Result};
use berth_iam::policy::{Policy, PolicyKind};
use berth_store::KmsKeyRecord;

/// CreateKey's members (botocore's names in the server).
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub policy: Option<String>,
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub key_spec: Option<String>,
    pub origin: Option<String>,
    pub multi_region: bool,
    pub bypass_policy_lockout_safety_check: bool,
    pub tags: Vec<(String, String)>,
}

/// DescribeKey's `KeyMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadata {
    pub account_id: String,
    pub key_id: String,
    pub arn: String,
    pub created_at: i64,
    pub description: String,
    pub key_usage: String,
    pub key_state: String,
    pub deletion_date: Option<i64>,
    pub origin: String,
    pub key_manager: String,
    pub key_spec: String,
    pub current_material_id: Option<String>,
}

impl KeyMetadata {
    pub fn enabled(&self) -> bool {
        self.key_state == rules::ENABLED
    }

    pub(crate) fn of(found: &Found) -> KeyMetadata {
        let k = &found.key;
        KeyMetadata {
            account_id: k.account_id.clone(),
            key_id: k.key_id.clone(),
            arn: found.arn.clone(),
            created_at: k.created_at,
            description: k.description.clone(),
            key_usage: k.key_usage.clone(),
            key_state: k.state.clone(),
            deletion_date: k.deletion_date,
            origin: k.origin.clone(),
            key_manager: k.key_manager.clone(),
            key_spec: k.key_spec.clone(),
            current_material_id: decode_materials(&k.materials)
                .ok()
                .and_then(|m| m.last().map(|m| m.id.clone())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    pub key_id: String,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    pub keys: Vec<KeyEntry>,
    /// The marker of the next page, when there is one.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationStatus {
    pub enabled: bool,
    pub period_days: Option<i64>,
    pub next_rotation_at: Option<i64>,
    pub on_demand_started_at: Option<i64>,
}

/// A rotation as ListKeyRotations reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub material_id: String,
    pub rotated_at: i64,
    /// `AUTOMATIC` or `ON_DEMAND`.
    pub kind: String,
}

pub(crate) fn decode_tags(text: &str) -> Result<Vec<(String, String)>> {
    serde_json::from_str(text).map_err(|e| {
        Error::Store(berth_store::StoreError::Corrupt(format!(
            "a KMS key's tags do not decode: {e}"
        )))
    })
}

fn encode_tags(tags: &[(String, String)]) -> String {
    serde_json::to_string(tags).expect("tags serialize")
}

/// Refuses a key that is not enabled (`crypto`: as the cryptographic
/// operations are refused) or, for the rest, pending deletion.
pub(crate) fn require_state(key: &KmsKeyRecord, arn: &str, enabled: bool) -> Result<()> {
    let ok = if enabled {
        key.state == rules::ENABLED
    } else {
        key.state != rules::PENDING_DELETION
    };
    if ok {
        Ok(())
    } else {
        Err(rules::state_refusal(&key.state, arn, enabled))
    }
}

fn check_policy_text(text: &str) -> Result<Policy> {
    if text.len() > rules::MAX_POLICY_BYTES {
        return Err(validation(
            "policy",
            "(the policy)",
            "Member must have length less than or equal to 32768",
        ));
    }
    Policy::parse(text, PolicyKind::Resource).map_err(|e| {
        kms_error(
            "MalformedPolicyDocumentException",
            format!("The key policy is not valid: {e}"),
        )
    })
}

fn check_description(d: &str) -> Result<()> {
    if d.chars().count() > rules::MAX_DESCRIPTION {
        return Err(validation(
            "description",
            "(the description)",
            "Member must have length less than or equal to 8192",
        ));
    }
    Ok(())
}

fn customer_managed(key: &KmsKeyRecord, arn: &str) -> Result<()> {
    if key.key_manager == "AWS" {
        return Err(kms_error(
            "UnsupportedOperationException",
            format!("{arn} is an AWS managed key: this operation is not supported on it"),
        ));
    }
    Ok(())
}

impl KmsApi<'_> {
    /// The new policy must let the caller change it again, unless the
    /// caller bypasses the check (AWS's lockout safety check).
    async fn lockout_check(&self, caller: &Caller, found: &Found, bypass: bool) -> Result<()> {
        if bypass {
            return Ok(());
        }
        self.authorize_key(caller, found, "kms:PutKeyPolicy", &[])
            .await
            .map_err(|e| match e {
                Error::Kms {
                    code: "AccessDeniedException",
                    ..
                } => kms_error(
                    "MalformedPolicyDocumentException",
                    "The new key policy will not allow you to update the key policy in the future.",
                ),
                other => other,
            })
    }

    fn record(
        &self,
        account: &str,
        region: &str,
        manager: &str,
        policy: String,
    ) -> (KmsKeyRecord, String) {
        let key_id = uuid::Uuid::new_v4().to_string();
        let arn = rules::key_arn(region, account, &key_id);
        let now = self.now();
        let material: Material = new_material(&self.kms.kek, &arn, now, None);
        (
            KmsKeyRecord {
                account_id: account.to_string(),
                region: region.to_string(),
                key_id,
                description: String::new(),
                key_usage: rules::KEY_USAGE.into(),
                key_spec: rules::KEY_SPEC.into(),
                origin: rules::ORIGIN.into(),
                key_manager: manager.into(),
                state: rules::ENABLED.into(),
                created_at: now,
                deletion_date: None,
                pending_window_days: None,
                rotation_period_days: None,
                next_rotation_at: None,
                policy,
                materials: encode_materials(&[material]),
                tags: "[]".into(),
                revision: 1,
                storage_kek: None,
            },
            arn,
        )
    }

    pub async fn create_key(
        &self,
        caller: &Caller,
        region: &str,
        req: NewKey,
    ) -> Result<KeyMetadata> {
        self.authorize_identity(caller, "kms:CreateKey", "*")
            .await?;
        let only_symmetric = || {
            kms_error(
                "UnsupportedOperationException",
                "berth's KMS makes symmetric encryption keys only: KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT",
            )
        };
        if req
            .key_spec
            .as_deref()
            .is_some_and(|s| s != rules::KEY_SPEC)
            || req
                .key_usage
                .as_deref()
                .is_some_and(|u| u != rules::KEY_USAGE)
        {
            return Err(only_symmetric());
        }
        if req.origin.as_deref().is_some_and(|o| o != rules::ORIGIN) {
            return Err(kms_error(
                "UnsupportedOperationException",
                "berth's KMS makes its own key material: Origin AWS_KMS only (no imported or custom key store keys)",
            ));
        }
        if req.multi_region {
            return Err(kms_error(
                "UnsupportedOperationException",
                "berth's KMS does not make multi-Region keys",
            ));
        }
        if let Some(d) = &req.description {
            check_description(d)?;
        }
        rules::check_tags(&req.tags)?;
        if req.tags.len() > rules::MAX_TAGS {
            return Err(kms_error("TagException", "A key can have at most 50 tags"));
        }
        let account = caller.account_id.clone();
        let policy = match req.policy {
            Some(p) => {
                check_policy_text(&p)?;
                p
            }
            None => rules::default_key_policy(&account),
        };
        let (mut key, arn) = self.record(&account, region, "CUSTOMER", policy);
        key.description = req.description.unwrap_or_default();
        key.tags = encode_tags(&req.tags);
        let found = Found { key, arn };
        self.lockout_check(caller, &found, req.bypass_policy_lockout_safety_check)
            .await?;
        if !self.meta().create_kms_key(&found.key).await? {
            return Err(Error::NoSuchEntity(format!(
                "account {account} does not exist"
            )));
        }
        Ok(KeyMetadata::of(&found))
    }

    /// The ARN of the account's AWS-managed ECR key (`alias/aws/ecr`),
    /// made on first use.
    pub(crate) async fn managed_key_arn(&self, account: &str, region: &str) -> Result<String> {
        let id = match self
            .meta()
            .get_kms_alias(account, region, rules::ECR_MANAGED_ALIAS)
            .await?
        {
            Some(a) => a.target_key_id,
            None => self.ecr_managed_key(account, region).await?,
        };
        Ok(rules::key_arn(region, account, &id))
    }

    /// The account's AWS-managed ECR key, made with its alias on first use
    /// (two nodes making it at once: the alias decides, the loser's key is
    /// deleted).
    pub(crate) async fn ecr_managed_key(&self, account: &str, region: &str) -> Result<String> {
        let (key, _) = self.record(
            account,
            region,
            "AWS",
            rules::ecr_managed_key_policy(account, region),
        );
        let mut key = key;
        key.description =
            "Default key that protects my ECR data when no other key is defined".into();
        if !self.meta().create_kms_key(&key).await? {
            return Err(Error::NoSuchEntity(format!(
                "account {account} does not exist"
            )));
        }
        let alias = berth_store::KmsAliasRecord {
            account_id: account.to_string(),
            region: region.to_string(),
            name: rules::ECR_MANAGED_ALIAS.into(),
            target_key_id: key.key_id.clone(),
            created_at: key.created_at,
            updated_at: key.created_at,
        };
        match self
            .meta()
            .create_kms_alias(&alias, rules::MAX_ALIASES_PER_KEY)
            .await?
        {
            berth_store::KmsAliasOutcome::Done => Ok(key.key_id),
            _ => {
                self.meta()
                    .delete_kms_key(account, region, &key.key_id)
                    .await?;
                match self
                    .meta()
                    .get_kms_alias(account, region, rules::ECR_MANAGED_ALIAS)
                    .await?
                {
                    Some(a) => Ok(a.target_key_id),
                    None => Err(Error::Conflict(
                        "the AWS managed key alias/aws/ecr was being created and deleted at once; retry".into(),
                    )),
                }
            }
        }
    }

    pub async fn describe_key(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
    ) -> Result<KeyMetadata> {
        let found = self
            .key_for(caller, region, key_id, "kms:DescribeKey", true)
            .await?;
        Ok(KeyMetadata::of(&found))
    }

    pub async fn list_keys(
        &self,
        caller: &Caller,
        region: &str,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> Result<KeyPage> {
        self.authorize_identity(caller, "kms:ListKeys", "*").await?;
        let limit = page_limit(limit, 100, 1000)?;
        let mut keys = self
            .meta()
            .list_kms_keys(&caller.account_id, region, marker, limit + 1)
            .await?;
        let next = next_marker(&mut keys, limit, |k| k.key_id.clone());
        Ok(KeyPage {
            keys: keys
                .into_iter()
                .map(|k| KeyEntry {
                    arn: rules::key_arn(region, &k.account_id, &k.key_id),
                    key_id: k.key_id,
                })
                .collect(),
            next,
        })
    }

    pub async fn set_enabled(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        enabled: bool,
    ) -> Result<()> {
        let action = if enabled {
            "kms:EnableKey"
        } else {
            "kms:DisableKey"
        };
        self.modify(caller, region, key_id, action, |key, arn| {
            customer_managed(key, arn)?;
            require_state(key, arn, false)?;
            key.state = if enabled {
                rules::ENABLED
            } else {
                rules::DISABLED
            }
            .into();
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// ScheduleKeyDeletion: the key is disabled at once and deleted when
    /// the window (7–30 days) ends.
    pub async fn schedule_deletion(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        days: Option<i64>,
    ) -> Result<(KeyMetadata, i64)> {
        let days = days.unwrap_or(rules::DEFAULT_PENDING_WINDOW_DAYS);
        if !rules::PENDING_WINDOW_DAYS.contains(&days) {
            return Err(validation(
                "pendingWindowInDays",
                &days.to_string(),
                "Member must have value between 7 and 30",
            ));
        }
        let now = self.now();
        let found = self
            .modify(
                caller,
                region,
                key_id,
                "kms:ScheduleKeyDeletion",
                |key, arn| {
                    customer_managed(key, arn)?;
                    require_state(key, arn, false)?;
                    key.state = rules::PENDING_DELETION.into();
                    key.deletion_date = Some(now + days * rules::DAY_MS);
                    key.pending_window_days = Some(days);
                    Ok(())
                },
            )
            .await?;
        Ok((KeyMetadata::of(&found), days))
    }

    /// CancelKeyDeletion: the key comes back disabled; its ARN.
    pub async fn cancel_deletion(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
    ) -> Result<String> {
        let found = self
            .modify(
                caller,
                region,
                key_id,
                "kms:CancelKeyDeletion",
                |key, arn| {
                    if key.state != rules::PENDING_DELETION {
                        return Err(kms_error(
                            "KMSInvalidStateException",
                            format!("{arn} is not pending deletion."),
                        ));
                    }
                    key.state = rules::DISABLED.into();
                    key.deletion_date = None;
                    key.pending_window_days = None;
                    Ok(())
                },
            )
            .await?;
        Ok(found.arn)
    }

    pub async fn set_rotation(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        enable: bool,
        period_days: Option<i64>,
    ) -> Result<()> {
        if let Some(p) = period_days {
            if !enable || !rules::ROTATION_DAYS.contains(&p) {
                return Err(validation(
                    "rotationPeriodInDays",
                    &p.to_string(),
                    "Member must have value between 90 and 2560",
                ));
            }
        }
        let now = self.now();
        let action = if enable {
            "kms:EnableKeyRotation"
        } else {
            "kms:DisableKeyRotation"
        };
        self.modify(caller, region, key_id, action, |key, arn| {
            customer_managed(key, arn)?;
            require_state(key, arn, true)?;
            if enable {
                let days = period_days.unwrap_or(rules::DEFAULT_ROTATION_DAYS);
                key.rotation_period_days = Some(days);
                key.next_rotation_at = Some(now + days * rules::DAY_MS);
            } else {
                key.rotation_period_days = None;
                key.next_rotation_at = None;
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub async fn rotation_status(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
    ) -> Result<(String, RotationStatus)> {
        let found = self
            .key_for(caller, region, key_id, "kms:GetKeyRotationStatus", false)
            .await?;
        require_state(&found.key, &found.arn, false)?;
        let k = &found.key;
        Ok((
            k.key_id.clone(),
            RotationStatus {
                enabled: k.rotation_period_days.is_some(),
                period_days: k.rotation_period_days,
                next_rotation_at: k.next_rotation_at,
                on_demand_started_at: None,
            },
        ))
    }

    /// RotateKeyOnDemand: new material at once (at most 10 times a key).
    /// Rotation keeps the older materials: what they sealed still opens.
    pub async fn rotate_now(&self, caller: &Caller, region: &str, key_id: &str) -> Result<String> {
        let now = self.now();
        let kek = &self.kms.kek;
        let found = self
            .modify(caller, region, key_id, "kms:RotateKeyOnDemand", |key, arn| {
                customer_managed(key, arn)?;
                require_state(key, arn, true)?;
                let materials = decode_materials(&key.materials)?;
                let on_demand = materials
                    .iter()
                    .filter(|m| m.rotation.as_deref() == Some("ON_DEMAND"))
                    .count();
                if on_demand >= rules::MAX_ON_DEMAND_ROTATIONS {
                    return Err(kms_error(
                        "LimitExceededException",
                        format!("{arn} has been rotated on demand {on_demand} times, the most allowed"),
                    ));
                }
                add_material(kek, key, arn, materials, now, "ON_DEMAND")?;
                Ok(())
            })
            .await?;
        Ok(found.key.key_id)
    }

    /// The automatic rotation due on `found`, done now (lazily, by the
    /// first use of the key after its date: no job needed, and a key
    /// nobody uses has nothing new to seal).
    pub(crate) async fn rotate_if_due(&self, found: Found) -> Result<Found> {
        let now = self.now();
        let due = |k: &KmsKeyRecord| {
            k.state == rules::ENABLED && k.next_rotation_at.is_some_and(|t| t <= now)
        };
        let kek = &self.kms.kek;
        let mut found = found;
        for _ in 0..super::UPDATE_ATTEMPTS {
            if !due(&found.key) {
                return Ok(found);
            }
            let rotated = self
                .write_over(&found, |key, arn| {
                    let materials = decode_materials(&key.materials)?;
                    add_material(kek, key, arn, materials, now, "AUTOMATIC")?;
                    let period = key
                        .rotation_period_days
                        .unwrap_or(rules::DEFAULT_ROTATION_DAYS);
                    key.next_rotation_at = Some(now + period * rules::DAY_MS);
                    Ok(())
                })
                .await?;
            if let Some(rotated) = rotated {
                return Ok(rotated);
            }
            let k = &found.key;
            found.key = self
                .meta()
                .get_kms_key(&k.account_id, &k.region, &k.key_id)
                .await?
                .ok_or_else(|| rules::key_not_found(&found.arn))?;
        }
        Ok(found)
    }

    pub async fn list_rotations(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
    ) -> Result<(String, Vec<Rotation>)> {
        let found = self
            .key_for(caller, region, key_id, "kms:ListKeyRotations", false)
            .await?;
        let materials = decode_materials(&found.key.materials)?;
        Ok((
            found.key.key_id.clone(),
            materials
                .into_iter()
                .filter_map(|m| {
                    m.rotation.map(|kind| Rotation {
                        material_id: m.id,
                        rotated_at: m.created_at,
                        kind,
                    })
                })
                .collect(),
        ))
    }

    pub async fn get_key_policy(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        policy_name: Option<&str>,
    ) -> Result<String> {
        let found = self
            .key_for(caller, region, key_id, "kms:GetKeyPolicy", false)
            .await?;
        check_policy_name(policy_name)?;
        Ok(found.key.policy)
    }

    /// ListKeyPolicies: a key has one policy, `default`.
    pub async fn list_key_policies(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
    ) -> Result<Vec<String>> {
        self.key_for(caller, region, key_id, "kms:ListKeyPolicies", false)
            .await?;
        Ok(vec!["default".into()])
    }

    pub async fn put_key_policy(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        policy_name: Option<&str>,
        policy: &str,
        bypass: bool,
    ) -> Result<()> {
        check_policy_name(policy_name)?;
        check_policy_text(policy)?;
        // The proposed policy must pass the lockout check against the very
        // revision it replaces.
        for _ in 0..super::UPDATE_ATTEMPTS {
            let found = self
                .key_for(caller, region, key_id, "kms:PutKeyPolicy", false)
                .await?;
            customer_managed(&found.key, &found.arn)?;
            let mut proposed = found.clone();
            proposed.key.policy = policy.to_string();
            self.lockout_check(caller, &proposed, bypass).await?;
            let written = self
                .write_over(&found, |key, _| {
                    key.policy = policy.to_string();
                    Ok(())
                })
                .await?;
            if written.is_some() {
                return Ok(());
            }
        }
        Err(super::changing(key_id))
    }

    pub async fn update_description(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        description: &str,
    ) -> Result<()> {
        check_description(description)?;
        self.modify(
            caller,
            region,
            key_id,
            "kms:UpdateKeyDescription",
            |key, arn| {
                customer_managed(key, arn)?;
                require_state(key, arn, false)?;
                key.description = description.to_string();
                Ok(())
            },
        )
        .await?;
        Ok(())
    }

    pub async fn tag_key(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        tags: &[(String, String)],
    ) -> Result<()> {
        rules::check_tags(tags)?;
        self.modify(caller, region, key_id, "kms:TagResource", |key, arn| {
            customer_managed(key, arn)?;
            require_state(key, arn, false)?;
            let mut all = decode_tags(&key.tags)?;
            for (k, v) in tags {
                match all.iter_mut().find(|(ek, _)| ek == k) {
                    Some(e) => e.1 = v.clone(),
                    None => all.push((k.clone(), v.clone())),
                }
            }
            if all.len() > rules::MAX_TAGS {
                return Err(kms_error(
                    "LimitExceededException",
                    format!(
                        "{arn} would have {} tags; a key can have at most 50",
                        all.len()
                    ),
                ));
            }
            key.tags = encode_tags(&all);
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub async fn untag_key(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        keys: &[String],
    ) -> Result<()> {
        self.modify(caller, region, key_id, "kms:UntagResource", |key, arn| {
            customer_managed(key, arn)?;
            require_state(key, arn, false)?;
            let mut all = decode_tags(&key.tags)?;
            all.retain(|(k, _)| !keys.contains(k));
            key.tags = encode_tags(&all);
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// ListResourceTags: a page of the key's tags, by key.
    pub async fn list_tags(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> Result<(Vec<(String, String)>, Option<String>)> {
        let found = self
            .key_for(caller, region, key_id, "kms:ListResourceTags", false)
            .await?;
        let limit = page_limit(limit, 50, 50)? as usize;
        let mut tags = decode_tags(&found.key.tags)?;
        tags.sort();
        tags.retain(|(k, _)| marker.is_none_or(|m| k.as_str() > m));
        let next = (tags.len() > limit).then(|| {
            tags.truncate(limit);
            tags.last().map(|(k, _)| k.clone()).unwrap_or_default()
        });
        Ok((tags, next))
    }
}

/// `key` with a new material (rotated by `kind`: `AUTOMATIC`, `ON_DEMAND`)
/// after `materials`, its current ones: the newest seals from now on, its
/// storage KEK included (re-sealed, no blob rewritten).
fn add_material(
    kek: &berth_store::sealed::Keks,
    key: &mut KmsKeyRecord,
    arn: &str,
    mut materials: Vec<Material>,
    now: i64,
    kind: &str,
) -> crate::Result<()> {
    materials.push(new_material(kek, arn, now, Some(kind)));
    super::storage::reseal_for_rotation(kek, key, arn, &materials)?;
    key.materials = encode_materials(&materials);
    Ok(())
}

fn check_policy_name(name: Option<&str>) -> Result<()> {
    match name {
        None | Some("default") => Ok(()),
        Some(_) => Err(kms_error("NotFoundException", "No such policy exists")),
    }
}

/// A `Limit` member: 1..=`max`, `default` when absent.
/// A listing read with `limit + 1` rows cut to `limit`: the marker of the
/// next page (the last row's `marker`) when there is one.
pub(crate) fn next_marker<T>(
    rows: &mut Vec<T>,
    limit: u32,
    marker: impl Fn(&T) -> String,
) -> Option<String> {
    (rows.len() > limit as usize).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(marker).unwrap_or_default()
    })
}

pub(crate) fn page_limit(limit: Option<i64>, default: u32, max: u32) -> Result<u32> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=i64::from(max)).contains(&n) => Ok(n as u32),
        Some(n) => Err(validation(
            "limit",
            &n.to_string(),
            &format!("Member must have value between 1 and {max}"),
        )),
    }
}
