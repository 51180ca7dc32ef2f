//! KMS's rules that need no store: how keys and aliases are named, the
//! limits and their wording, key states, the default key policies, and the
//! errors as KMS names them.

use crate::Error;

pub const KEY_SPEC: &str = "SYMMETRIC_DEFAULT";
pub const KEY_USAGE: &str = "ENCRYPT_DECRYPT";
pub const ORIGIN: &str = "AWS_KMS";
pub const ENABLED: &str = "Enabled";
pub const DISABLED: &str = "Disabled";
pub const PENDING_DELETION: &str = "PendingDeletion";
/// The AWS-managed key ECR uses when KMS is asked without a key.
pub const ECR_MANAGED_ALIAS: &str = "alias/aws/ecr";

pub const MAX_DESCRIPTION: usize = 8192;
pub const MAX_POLICY_BYTES: usize = 32_768;
pub const MAX_PLAINTEXT: usize = 4096;
pub const MAX_DATA_KEY_BYTES: i64 = 1024;
pub const MAX_TAGS: usize = 50;
pub const MAX_ALIASES_PER_KEY: u32 = 50;
/// On-demand rotations per key (KMS's quota).
pub const MAX_ON_DEMAND_ROTATIONS: usize = 10;
pub const DEFAULT_ROTATION_DAYS: i64 = 365;
pub const ROTATION_DAYS: std::ops::RangeInclusive<i64> = 90..=2560;
pub const DEFAULT_PENDING_WINDOW_DAYS: i64 = 30;
pub const PENDING_WINDOW_DAYS: std::ops::RangeInclusive<i64> = 7..=30;
pub const DAY_MS: i64 = 86_400_000;

pub(crate) fn kms_error(code: &'static str, message: impl Into<String>) -> Error {
    Error::Kms {
        code,
        message: message.into(),
    }
}

/// KMS's answer for a key that does not exist (or that the caller's
/// account cannot name).
/// Whether a key pending deletion has reached its deletion date at `now`:
/// from then on it is gone, whoever looks (there is no deletion job).
pub(crate) fn deletion_due(key: &berth_store::KmsKeyRecord, now: i64) -> bool {
    key.state == PENDING_DELETION && key.deletion_date.is_some_and(|d| d <= now)
}

pub(crate) fn key_not_found(arn: &str) -> Error {
    kms_error("NotFoundException", format!("Key '{arn}' does not exist"))
}

/// The model's constraint wording (`ValidationException`).
pub(crate) fn validation(member: &str, value: &str, constraint: &str) -> Error {
    kms_error(
        "ValidationException",
        format!("1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"),
    )
}

pub fn key_arn(region: &str, account: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

/// (region, account, key id) of a key ARN (`arn:aws:kms:<region>:<account>:key/<id>`).
pub fn parse_key_arn(arn: &str) -> Option<(String, String, String)> {
    let rest = arn.strip_prefix("arn:aws:kms:")?;
    let (region, rest) = rest.split_once(':')?;
    let (account, id) = rest.split_once(":key/")?;
    let plain = |s: &str| !s.is_empty() && !s.contains([':', '/']);
    (plain(region) && plain(account) && plain(id))
        .then(|| (region.to_string(), account.to_string(), id.to_string()))
}

pub fn alias_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{name}")
}

/// What a `KeyId` member names: a key by id, or an alias (`alias/…`), in
/// the caller's account unless an ARN names another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Key {
        account: Option<String>,
        id: String,
    },
    Alias {
        account: Option<String>,
        name: String,
    },
}

/// Parses a `KeyId` (id, key ARN, alias name, alias ARN). An ARN of another
/// region names nothing here (`NotFoundException`).
pub fn parse_key_ref(s: &str, region: &str) -> crate::Result<KeyRef> {
    if s.is_empty() || s.len() > 2048 {
        return Err(validation(
            "keyId",
            s,
            "Member must have length between 1 and 2048",
        ));
    }
    if let Some(rest) = s.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, arn_region, account, resource] = parts[..] else {
            return Err(kms_error("InvalidArnException", format!("Invalid arn {s}")));
        };
        if !partition.starts_with("aws")
            || service != "kms"
            || !crate::identity::valid_account_id(account)
        {
            return Err(kms_error("InvalidArnException", format!("Invalid arn {s}")));
        }
        if arn_region != region {
            return Err(kms_error(
                "NotFoundException",
                format!("Invalid arn {arn_region}"),
            ));
        }
        let account = Some(account.to_string());
        return if let Some(id) = resource.strip_prefix("key/") {
            Ok(KeyRef::Key {
                account,
                id: id.to_string(),
            })
        } else if resource.starts_with("alias/") {
            Ok(KeyRef::Alias {
                account,
                name: resource.to_string(),
            })
        } else {
            Err(kms_error("InvalidArnException", format!("Invalid arn {s}")))
        };
    }
    if s.starts_with("alias/") {
        return Ok(KeyRef::Alias {
            account: None,
            name: s.to_string(),
        });
    }
    Ok(KeyRef::Key {
        account: None,
        id: s.to_string(),
    })
}

/// An alias name for CreateAlias/UpdateAlias/DeleteAlias.
pub fn check_alias_name(name: &str, creating: bool) -> crate::Result<()> {
    if name.is_empty() || name.len() > 256 {
        return Err(validation(
            "aliasName",
            name,
            "Member must have length between 1 and 256",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'))
    {
        return Err(validation(
            "aliasName",
            name,
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        ));
    }
    if !name.starts_with("alias/") || name.len() == "alias/".len() {
        return Err(kms_error(
            "InvalidAliasNameException",
            format!("Alias must start with the prefix \"alias/\" and have a name after it: {name}"),
        ));
    }
    if creating && name.starts_with("alias/aws/") {
        return Err(kms_error(
            "InvalidAliasNameException",
            "Alias names cannot begin with alias/aws/. That alias name prefix is reserved for AWS managed keys.",
        ));
    }
    Ok(())
}

/// Tags as KMS takes them: keys 1–128 characters, not `aws:`; values up to
/// 256; no more than 50 on a key.
pub fn check_tags(tags: &[(String, String)]) -> crate::Result<()> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(validation(
                "tags.member.tagKey",
                k,
                "Member must have length between 1 and 128",
            ));
        }
        if v.chars().count() > 256 {
            return Err(validation(
                "tags.member.tagValue",
                v,
                "Member must have length less than or equal to 256",
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(kms_error(
                "TagException",
                format!("Tag key '{k}' is reserved: keys beginning with aws: are for AWS use"),
            ));
        }
    }
    Ok(())
}

/// The refusal of a key in a state that does not allow `what` (a crypto
/// operation when `crypto`), in KMS's words.
pub fn state_refusal(state: &str, arn: &str, crypto: bool) -> Error {
    match state {
        DISABLED if crypto => kms_error("DisabledException", format!("{arn} is disabled.")),
        PENDING_DELETION => kms_error(
            "KMSInvalidStateException",
            format!("{arn} is pending deletion."),
        ),
        other => kms_error(
            "KMSInvalidStateException",
            format!(
                "{arn} is {} and cannot be used for this operation.",
                other.to_ascii_lowercase()
            ),
        ),
    }
}

/// The key policy CreateKey gives a key when none is sent: AWS's text,
/// giving the account (and through it, IAM policies) full access.
pub fn default_key_policy(account: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {{
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account}:root"
    }},
    "Action" : "kms:*",
    "Resource" : "*"
  }} ]
}}"#
    )
}

/// The policy of the AWS-managed ECR key (`alias/aws/ecr`), as AWS writes
/// it: use through ECR by anyone of the account, reads for the account.
pub fn ecr_managed_key_policy(account: &str, region: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "auto-ecr-1",
  "Statement" : [ {{
    "Sid" : "Allow access through Amazon ECR for all principals in the account that are authorized to use Amazon ECR",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "*"
    }},
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant" ],
    "Resource" : "*",
    "Condition" : {{
      "StringEquals" : {{
        "kms:CallerAccount" : "{account}",
        "kms:ViaService" : "ecr.{region}.amazonaws.com"
      }}
    }}
  }}, {{
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account}:root"
    }},
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ],
    "Resource" : "*"
  }} ]
}}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_refs_parse_as_kms_reads_them() {
        let r = "us-east-1";
        assert_eq!(
            parse_key_ref("1234abcd-12ab-34cd-56ef-1234567890ab", r).unwrap(),
            KeyRef::Key {
                account: None,
                id: "1234abcd-12ab-34cd-56ef-1234567890ab".into()
            }
        );
        assert_eq!(
            parse_key_ref("arn:aws:kms:us-east-1:111122223333:key/k1", r).unwrap(),
            KeyRef::Key {
                account: Some("111122223333".into()),
                id: "k1".into()
            }
        );
        assert_eq!(
            parse_key_ref("arn:aws:kms:us-east-1:111122223333:alias/app", r).unwrap(),
            KeyRef::Alias {
                account: Some("111122223333".into()),
                name: "alias/app".into()
            }
        );
        assert_eq!(
            parse_key_ref("alias/app", r).unwrap(),
            KeyRef::Alias {
                account: None,
                name: "alias/app".into()
            }
        );
        let code = |s: &str| match parse_key_ref(s, r) {
            Err(Error::Kms { code, .. }) => code,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(
            code("arn:aws:kms:us-west-2:111122223333:key/k1"),
            "NotFoundException"
        );
        assert_eq!(
            code("arn:aws:s3:us-east-1:111122223333:key/k1"),
            "InvalidArnException"
        );
        assert_eq!(
            code("arn:aws:kms:us-east-1:1111:key/k1"),
            "InvalidArnException"
        );
        assert_eq!(code(""), "ValidationException");
    }

    #[test]
    fn alias_names_follow_kms() {
        assert!(check_alias_name("alias/app-1/prod_x:y", true).is_ok());
        assert!(check_alias_name("alias/aws/ecr", false).is_ok());
        for bad in ["app", "alias/", "alias/aws/mine", "alias/sp ace", ""] {
            assert!(check_alias_name(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_policies_parse_as_resource_policies() {
        use berth_iam::policy::{Policy, PolicyKind};
        Policy::parse(&default_key_policy("111122223333"), PolicyKind::Resource).unwrap();
        Policy::parse(
            &ecr_managed_key_policy("111122223333", "us-east-1"),
            PolicyKind::Resource,
        )
        .unwrap();
    }
}
