//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
//! RevokeGrant, and what a grant allows.
//!
//! A grant lets its grantee principal make the listed uses of one key,
//! besides what the key's policy allows (`KmsApi::authorize_key` looks at
//! the caller's grants when the policies do not allow; an explicit Deny
//! still refuses). Constraints narrow it to requests whose encryption
//! context holds (`EncryptionContextSubset`) or is (`...Equals`) the
//! grant's. Grants are read from the store on every use, so a retired or
//! revoked grant stops working on every node at once; grant tokens are
//! accepted and not needed (nothing here is eventually consistent).
//!
//! A token is `bgt1.<grant id>.<secret>`: it names its grant and proves
//! it was handed out by CreateGrant (the secret is kept in the grant's
//! row), so RetireGrant by token alone retires only that grant.

use super::keys::{next_marker, page_limit, require_state};
use super::rules::{self, kms_error};
use super::{Found, KmsApi};
use crate::identity::Caller;
use crate::Result;
use berth_store::{KmsGrantOutcome, KmsGrantRecord};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// botocore's `GrantOperation` values.
pub const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// AWS's quota of grants per key.
pub const MAX_GRANTS_PER_KEY: u32 = 50_000;

/// A grant's constraints, in KMS's wire shape (also how they are stored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantConstraints {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
}

impl GrantConstraints {
    /// Whether a request with encryption context `context` is within them.
    fn admit(&self, context: &BTreeMap<String, String>) -> bool {
        let subset = self
            .encryption_context_subset
            .as_ref()
            .is_none_or(|want| want.iter().all(|(k, v)| context.get(k) == Some(v)));
        let equals = self
            .encryption_context_equals
            .as_ref()
            .is_none_or(|want| want == context);
        subset && equals
    }
}

/// CreateGrant's members.
#[derive(Debug, Clone, Default)]
pub struct NewGrant {
    pub key_id: String,
    pub grantee_principal: String,
    pub operations: Vec<String>,
    pub retiring_principal: Option<String>,
    pub constraints: Option<GrantConstraints>,
    pub name: Option<String>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedGrant {
    pub grant_id: String,
    pub grant_token: String,
}

/// A grant as ListGrants shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantEntry {
    pub key_arn: String,
    pub grant_id: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    pub issuing_account: String,
    pub operations: Vec<String>,
    pub constraints: Option<GrantConstraints>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantPage {
    pub grants: Vec<GrantEntry>,
    pub next: Option<String>,
}

/// ListGrants' members.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantQuery<'a> {
    pub key_id: &'a str,
    pub grant_id: Option<&'a str>,
    pub grantee: Option<&'a str>,
    pub limit: Option<i64>,
    pub marker: Option<&'a str>,
}

/// How RetireGrant names its grant.
#[derive(Debug, Clone, Default)]
pub struct RetireBy {
    pub grant_token: Option<String>,
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub dry_run: bool,
}

fn corrupt(grant_id: &str, what: &str) -> crate::Error {
    crate::Error::Store(berth_store::StoreError::Corrupt(format!(
        "the {what} of KMS grant {grant_id} no longer parse"
    )))
}

pub(crate) fn operations_of(g: &KmsGrantRecord) -> Result<Vec<String>> {
    serde_json::from_str(&g.operations).map_err(|_| corrupt(&g.grant_id, "operations"))
}

fn constraints_of(g: &KmsGrantRecord) -> Result<Option<GrantConstraints>> {
    g.constraints
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|_| corrupt(&g.grant_id, "constraints"))
}

fn entry(g: KmsGrantRecord) -> Result<GrantEntry> {
    Ok(GrantEntry {
        key_arn: rules::key_arn(&g.region, &g.account_id, &g.key_id),
        operations: operations_of(&g)?,
        constraints: constraints_of(&g)?,
        name: (!g.name.is_empty()).then(|| g.name.clone()),
        grant_id: g.grant_id,
        created_at: g.created_at,
        grantee_principal: g.grantee_principal,
        retiring_principal: g.retiring_principal,
        issuing_account: g.issuing_account,
    })
}

fn token_of(g: &KmsGrantRecord) -> String {
    format!("bgt1.{}.{}", g.grant_id, g.token_secret)
}

fn random_hex() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// The grant a token names and the secret it carries.
fn parse_token(token: &str) -> Result<(&str, &str)> {
    let invalid = || kms_error("InvalidGrantTokenException", "The grant token is invalid.");
    let rest = token.strip_prefix("bgt1.").ok_or_else(invalid)?;
    let (id, secret) = rest.split_once('.').ok_or_else(invalid)?;
    if id.len() != 64 || secret.len() != 64 {
        return Err(invalid());
    }
    Ok((id, secret))
}

/// Compares digests of the two, so the time taken says nothing about how
/// much of a guessed secret was right.
fn same_secret(stored: &str, given: &str) -> bool {
    let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    digest(stored).as_ref() == digest(given).as_ref()
}

fn grant_not_found(grant_id: &str) -> crate::Error {
    kms_error(
        "NotFoundException",
        format!("Grant ID {grant_id} not found"),
    )
}

/// A principal member's syntax (botocore's pattern and length).
fn check_principal(member: &str, value: &str) -> Result<()> {
    let ok = (1..=256).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || "+=,.@:/-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(rules::validation(
            member,
            value,
            "Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$",
        ))
    }
}

fn check_new_grant(g: &NewGrant) -> Result<()> {
    check_principal("granteePrincipal", &g.grantee_principal)?;
    if is_service_principal(&g.grantee_principal) {
        // ECR's grants are made by berth alone: a grant to the service
        // could otherwise reconnect a repository its key's owner cut off.
        return Err(kms_error(
            "UnsupportedOperationException",
            format!(
                "{} is an AWS service principal: berth's services make their own grants (ECR at CreateRepository)",
                g.grantee_principal
            ),
        ));
    }
    if let Some(r) = &g.retiring_principal {
        check_principal("retiringPrincipal", r)?;
    }
    if g.operations.is_empty() {
        return Err(rules::validation(
            "operations",
            "[]",
            "Member must have length greater than or equal to 1",
        ));
    }
    for op in &g.operations {
        if !GRANT_OPERATIONS.contains(&op.as_str()) {
            return Err(rules::validation(
                "operations",
                op,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    GRANT_OPERATIONS.join(", ")
                ),
            ));
        }
    }
    if let Some(n) = &g.name {
        let ok = (1..=256).contains(&n.len())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c));
        if !ok {
            return Err(rules::validation(
                "name",
                n,
                "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
            ));
        }
    }
    Ok(())
}

/// The account of a principal ARN (`arn:<partition>:iam::<account>:<what>`,
/// or STS's); `None` for a service principal or anything else.
fn principal_account(principal: &str) -> Option<&str> {
    let mut parts = principal.splitn(6, ':');
    let (arn, partition, service, region, account, what) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let ok = arn == "arn"
        && partition.starts_with("aws")
        && matches!(service, "iam" | "sts")
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !what.is_empty();
    ok.then_some(account)
}

/// `ecr.us-east-1.amazonaws.com` and the like.
fn is_service_principal(principal: &str) -> bool {
    principal.ends_with(".amazonaws.com") && !principal.starts_with("arn:")
}

/// The principals a caller is, as a grant can name it: its own ARN and,
/// for a role session, its role's.
fn caller_principals(caller: &Caller) -> Vec<String> {
    let p = &caller.principal;
    let mut out = vec![p.arn()];
    if let Some(role) = p.role() {
        out.push(berth_iam::policy::iam_arn(
            &p.account_id,
            "role",
            &p.path,
            &role.name,
        ));
    }
    out
}

/// The encryption context a request's condition facts carry.
fn context_of(facts: &[(String, Vec<String>)]) -> BTreeMap<String, String> {
    facts
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("kms:EncryptionContext:")?;
            Some((key.to_string(), v.first()?.clone()))
        })
        .collect()
}

/// The grant operation that allows KMS action `action` (`kms:Decrypt`)
/// on the key. `RetireGrant` in a grant lets its grantee retire that grant
/// alone (`retire_grant`), never the key's other grants.
fn grant_operation(action: &str) -> Option<&str> {
    let op = action.strip_prefix("kms:")?;
    (op != "RetireGrant" && GRANT_OPERATIONS.contains(&op)).then_some(op)
}

impl KmsApi<'_> {
    /// The grants on `found` that let `caller` make `action` with the
    /// request's condition facts `context` (none: no grant allows it).
    /// Constraints do not apply to `DescribeKey`, as on AWS.
    pub(crate) async fn grants_allowing(
        &self,
        caller: &Caller,
        found: &Found,
        action: &str,
        context: &[(String, Vec<String>)],
    ) -> Result<Vec<KmsGrantRecord>> {
        let Some(op) = grant_operation(action) else {
            return Ok(Vec::new());
        };
        if caller.principal.anonymous {
            return Ok(Vec::new());
        }
        let request_context = context_of(context);
        let mut allowing = Vec::new();
        for grantee in caller_principals(caller) {
            let grants = self
                .meta()
                .kms_grants_to(
                    &found.key.account_id,
                    &found.key.region,
                    &found.key.key_id,
                    &grantee,
                )
                .await?;
            for g in grants {
                if operations_of(&g)?.iter().any(|o| o == op)
                    && (op == "DescribeKey"
                        || constraints_of(&g)?.is_none_or(|c| c.admit(&request_context)))
                {
                    allowing.push(g);
                }
            }
        }
        Ok(allowing)
    }

    pub async fn create_grant(
        &self,
        caller: &Caller,
        region: &str,
        new: NewGrant,
    ) -> Result<CreatedGrant> {
        check_new_grant(&new)?;
        let found = self.resolve(caller, region, &new.key_id, false).await?;
        let mut facts = vec![
            (
                "kms:GranteePrincipal".to_string(),
                vec![new.grantee_principal.clone()],
            ),
            ("kms:GrantOperations".to_string(), new.operations.clone()),
            (
                "kms:GrantIsForAWSResource".to_string(),
                vec!["false".to_string()],
            ),
        ];
        if let Some(r) = &new.retiring_principal {
            facts.push(("kms:RetiringPrincipal".to_string(), vec![r.clone()]));
        }
        let via = self
            .authorize_key_via(caller, &found, "kms:CreateGrant", &facts)
            .await?;
        if let super::Via::Grants(parents) = via {
            // A grant passes on at most what it holds, as on AWS.
            let within = |p: &KmsGrantRecord| -> Result<bool> {
                let ops = operations_of(p)?;
                let constraints = constraints_of(p)?;
                Ok(new.operations.iter().all(|o| ops.contains(o))
                    && (constraints.is_none() || constraints == new.constraints))
            };
            let mut allowed = false;
            for p in &parents {
                allowed |= within(p)?;
            }
            if !allowed {
                return Err(kms_error(
                    "AccessDeniedException",
                    format!(
                        "User: {} may create grants on {} only through a grant, and a grant passes on only the operations and constraints it holds",
                        caller.principal.arn(),
                        found.arn
                    ),
                ));
            }
        }
        require_state(&found.key, &found.arn, true)?;
        if new.dry_run {
            return Err(super::cryptographic::dry_run());
        }
        let issuing_account = format!("arn:aws:iam::{}:root", caller.account_id);
        self.insert_grant(&found, new, issuing_account, true).await
    }

    /// A grant on `found` as asked; with a name and `reuse`, the grant
    /// already made with the same name and members, as AWS answers a
    /// retried CreateGrant.
    pub(crate) async fn insert_grant(
        &self,
        found: &Found,
        new: NewGrant,
        issuing_account: String,
        reuse: bool,
    ) -> Result<CreatedGrant> {
        let constraints = new
            .constraints
            .as_ref()
            .map(|c| serde_json::to_string(c).expect("constraints serialize"));
        let operations = serde_json::to_string(&new.operations).expect("operations serialize");
        let name = new.name.unwrap_or_default();
        let key = &found.key;
        if reuse && !name.is_empty() {
            let same = self
                .meta()
                .kms_grants_named(
                    &key.account_id,
                    &key.region,
                    &key.key_id,
                    &name,
                    &new.grantee_principal,
                )
                .await?
                .into_iter()
                .find(|g| {
                    g.retiring_principal == new.retiring_principal
                        && g.operations == operations
                        && g.constraints == constraints
                });
            if let Some(g) = same {
                return Ok(CreatedGrant {
                    grant_token: token_of(&g),
                    grant_id: g.grant_id,
                });
            }
        }
        let record = KmsGrantRecord {
            grant_id: random_hex(),
            account_id: key.account_id.clone(),
            region: key.region.clone(),
            key_id: key.key_id.clone(),
            name,
            grantee_principal: new.grantee_principal,
            retiring_principal: new.retiring_principal,
            issuing_account,
            operations,
            constraints,
            token_secret: random_hex(),
            created_at: self.now(),
        };
        match self
            .meta()
            .create_kms_grant(&record, MAX_GRANTS_PER_KEY)
            .await?
        {
            KmsGrantOutcome::Done => Ok(CreatedGrant {
                grant_token: token_of(&record),
                grant_id: record.grant_id,
            }),
            KmsGrantOutcome::KeyNotFound => Err(rules::key_not_found(&found.arn)),
            KmsGrantOutcome::TooMany => Err(kms_error(
                "LimitExceededException",
                format!(
                    "{} has {MAX_GRANTS_PER_KEY} grants, the most a key may have",
                    found.arn
                ),
            )),
        }
    }

    /// ListGrants: a key's grants (all, one by id, or one grantee's).
    pub async fn list_grants(
        &self,
        caller: &Caller,
        region: &str,
        query: GrantQuery<'_>,
    ) -> Result<GrantPage> {
        let GrantQuery {
            key_id,
            grant_id,
            grantee,
            limit,
            marker,
        } = query;
        let limit = page_limit(limit, 50, 1000)?;
        let found = self
            .key_for(caller, region, key_id, "kms:ListGrants", false)
            .await?;
        let key = &found.key;
        let mut rows = match (grant_id, grantee) {
            (Some(id), _) => self.meta().get_kms_grant(id).await?.into_iter().collect(),
            (None, Some(who)) => {
                self.meta()
                    .kms_grants_to(&key.account_id, &key.region, &key.key_id, who)
                    .await?
            }
            (None, None) => {
                self.meta()
                    .list_kms_grants(&key.account_id, &key.region, &key.key_id, marker, limit + 1)
                    .await?
            }
        };
        rows.retain(|g| {
            is_on(g, key)
                && grantee.is_none_or(|w| g.grantee_principal == w)
                && marker.is_none_or(|m| g.grant_id.as_str() > m)
        });
        page(rows, limit)
    }

    /// ListRetirableGrants: the grants in the region that a principal of
    /// the caller's account may retire (identity policies:
    /// `kms:ListRetirableGrants`), on keys of any account, as on AWS: a
    /// key's owner who names another account's principal as retiring
    /// principal shows that account the grant. A principal of another
    /// account is refused.
    pub async fn list_retirable_grants(
        &self,
        caller: &Caller,
        region: &str,
        retiring_principal: &str,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> Result<GrantPage> {
        check_principal("retiringPrincipal", retiring_principal)?;
        let limit = page_limit(limit, 50, 1000)?;
        self.authorize_identity(caller, "kms:ListRetirableGrants", "*")
            .await?;
        if principal_account(retiring_principal) != Some(caller.account_id.as_str()) {
            return Err(kms_error(
                "AccessDeniedException",
                format!(
                    "User: {} is not authorized to perform: kms:ListRetirableGrants for {retiring_principal}: the retiring principal must be in account {}",
                    caller.principal.arn(),
                    caller.account_id
                ),
            ));
        }
        let rows = self
            .meta()
            .list_retirable_kms_grants(region, retiring_principal, marker, limit + 1)
            .await?;
        page(rows, limit)
    }

    /// RetireGrant: by its token, or by key and grant id. The retiring
    /// principal may, the grantee may when the grant lists `RetireGrant`,
    /// and so may whoever the key's policies allow `kms:RetireGrant`.
    pub async fn retire_grant(&self, caller: &Caller, region: &str, by: RetireBy) -> Result<()> {
        // The grant, and its key when the request named it.
        let (grant, found) =
            match (&by.grant_token, &by.key_id, &by.grant_id) {
                (Some(token), _, _) => {
                    let (id, secret) = parse_token(token)?;
                    let g = self
                        .meta()
                        .get_kms_grant(id)
                        .await?
                        .filter(|g| same_secret(&g.token_secret, secret))
                        .ok_or_else(|| {
                            kms_error("InvalidGrantTokenException", "The grant token is invalid.")
                        })?;
                    if g.region != region {
                        return Err(grant_not_found(id));
                    }
                    (g, None)
                }
                (None, Some(key_id), Some(grant_id)) => {
                    let found = self.resolve(caller, region, key_id, false).await?;
                    match self.grant_of(&found, grant_id).await {
                        Ok(g) => (g, Some(found)),
                        Err(missing) => {
                            // Only those who could retire it learn it is not there.
                            self.authorize_key(caller, &found, "kms:RetireGrant", &[])
                                .await?;
                            return Err(missing);
                        }
                    }
                }
                _ => return Err(kms_error(
                    "ValidationException",
                    "Identify the grant to retire by its GrantToken, or by both KeyId and GrantId",
                )),
            };
        let found = match found {
            Some(found) => found,
            None => Found {
                arn: rules::key_arn(&grant.region, &grant.account_id, &grant.key_id),
                key: self
                    .meta()
                    .get_kms_key(&grant.account_id, &grant.region, &grant.key_id)
                    .await?
                    .ok_or_else(|| grant_not_found(&grant.grant_id))?,
            },
        };
        let me = caller_principals(caller);
        let may = grant
            .retiring_principal
            .as_ref()
            .is_some_and(|r| me.contains(r))
            || (me.contains(&grant.grantee_principal)
                && operations_of(&grant)?.iter().any(|o| o == "RetireGrant"));
        if !may {
            self.authorize_key(caller, &found, "kms:RetireGrant", &[])
                .await?;
        }
        if by.dry_run {
            return Err(super::cryptographic::dry_run());
        }
        if !self.meta().delete_kms_grant(&grant.grant_id).await? {
            return Err(grant_not_found(&grant.grant_id));
        }
        Ok(())
    }

    /// RevokeGrant: the key's policies must allow `kms:RevokeGrant`.
    pub async fn revoke_grant(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        grant_id: &str,
        dry_run: bool,
    ) -> Result<()> {
        let found = self
            .key_for(caller, region, key_id, "kms:RevokeGrant", false)
            .await?;
        let grant = self.grant_of(&found, grant_id).await?;
        if dry_run {
            return Err(super::cryptographic::dry_run());
        }
        if !self.meta().delete_kms_grant(&grant.grant_id).await? {
            return Err(grant_not_found(grant_id));
        }
        Ok(())
    }

    /// Grant `grant_id` of key `found`, or `NotFoundException`.
    async fn grant_of(&self, found: &Found, grant_id: &str) -> Result<KmsGrantRecord> {
        self.meta()
            .get_kms_grant(grant_id)
            .await?
            .filter(|g| is_on(g, &found.key))
            .ok_or_else(|| grant_not_found(grant_id))
    }
}

/// Whether grant `g` is on `key`.
fn is_on(g: &KmsGrantRecord, key: &berth_store::KmsKeyRecord) -> bool {
    g.key_id == key.key_id && g.account_id == key.account_id && g.region == key.region
}

/// A page of `limit` from `rows` (read with one more than `limit`).
fn page(mut rows: Vec<KmsGrantRecord>, limit: u32) -> Result<GrantPage> {
    let next = next_marker(&mut rows, limit, |g| g.grant_id.clone());
    Ok(GrantPage {
        grants: rows.into_iter().map(entry).collect::<Result<_>>()?,
        next,
    })
}

/// The ECR service principal of a region, as grants and `kms:ViaService`
/// name it.
pub(crate) fn ecr_principal(region: &str) -> String {
    format!("ecr.{region}.amazonaws.com")
}

/// What ECR's grant for a repository allows.
pub(crate) const ECR_GRANT_OPERATIONS: [&str; 7] = [
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "ReEncryptFrom",
    "ReEncryptTo",
    "RetireGrant",
    "DescribeKey",
];

/// ECR's grant for a repository under a key, as ECR makes it at
/// CreateRepository: to the ECR service principal of the region, for the
/// uses a repository's images make, within the repository's context, and
/// named by the repository's ARN (so that a pull finds it by name).
pub(crate) fn ecr_grant(region: &str, repository_arn: &str) -> NewGrant {
    let ecr = ecr_principal(region);
    NewGrant {
        key_id: String::new(),
        grantee_principal: ecr.clone(),
        operations: ECR_GRANT_OPERATIONS.map(str::to_string).to_vec(),
        retiring_principal: Some(ecr),
        constraints: Some(GrantConstraints {
            encryption_context_subset: Some(BTreeMap::from([(
                "aws:ecr:arn".to_string(),
                repository_arn.to_string(),
            )])),
            encryption_context_equals: None,
        }),
        name: Some(repository_arn.to_string()),
        dry_run: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_admit_by_subset_and_by_equality() {
        let ctx = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let subset = GrantConstraints {
            encryption_context_subset: Some(ctx(&[("app", "a")])),
            encryption_context_equals: None,
        };
        assert!(subset.admit(&ctx(&[("app", "a"), ("x", "y")])));
        assert!(!subset.admit(&ctx(&[("app", "b")])));
        assert!(!subset.admit(&ctx(&[])));
        let equals = GrantConstraints {
            encryption_context_subset: None,
            encryption_context_equals: Some(ctx(&[("app", "a")])),
        };
        assert!(equals.admit(&ctx(&[("app", "a")])));
        assert!(!equals.admit(&ctx(&[("app", "a"), ("x", "y")])));
        assert!(GrantConstraints::default().admit(&ctx(&[("any", "thing")])));
    }

    #[test]
    fn a_principals_account_comes_from_its_arn_only() {
        for (p, want) in [
            ("arn:aws:iam::111122223333:user/ops", Some("111122223333")),
            ("arn:aws:iam::111122223333:root", Some("111122223333")),
            (
                "arn:aws:sts::111122223333:assumed-role/r/s",
                Some("111122223333"),
            ),
            ("ecr.us-east-1.amazonaws.com", None),
            ("arn:aws:kms:us-east-1:111122223333:key/k", None),
            ("arn:aws:iam::111122223333", None),
            ("arn:aws:iam::111122223333:", None),
            ("arn:aws:iam::1111:user/ops", None),
            ("arn:aws:iam:us-east-1:111122223333:user/ops", None),
            (
                "arn:aws-cn:iam::111122223333:user/ops",
                Some("111122223333"),
            ),
            ("111122223333", None),
        ] {
            assert_eq!(principal_account(p), want, "{p}");
        }
    }

    #[test]
    fn tokens_name_their_grant_and_nothing_else_parses() {
        let g = KmsGrantRecord {
            grant_id: "a".repeat(64),
            account_id: String::new(),
            region: String::new(),
            key_id: String::new(),
            name: String::new(),
            grantee_principal: String::new(),
            retiring_principal: None,
            issuing_account: String::new(),
            operations: "[]".into(),
            constraints: None,
            token_secret: "b".repeat(64),
            created_at: 0,
        };
        let t = token_of(&g);
        assert_eq!(
            parse_token(&t).unwrap(),
            (g.grant_id.as_str(), g.token_secret.as_str())
        );
        for bad in ["", "bgt1.", "bgt1.x.y", &t[1..], &format!("{t}0")] {
            assert!(parse_token(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grant_operations_map_from_kms_actions() {
        assert_eq!(grant_operation("kms:Decrypt"), Some("Decrypt"));
        assert_eq!(grant_operation("kms:ReEncryptFrom"), Some("ReEncryptFrom"));
        assert_eq!(grant_operation("kms:PutKeyPolicy"), None);
        assert_eq!(grant_operation("kms:RetireGrant"), None);
        assert_eq!(grant_operation("ecr:BatchGetImage"), None);
    }
}
