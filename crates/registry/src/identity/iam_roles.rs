//! IAM roles as the IAM API manages them: CreateRole with its trust policy,
//! GetRole, ListRoles, UpdateRole, UpdateAssumeRolePolicy, DeleteRole
//! (refused while policies remain), and role tags. A role's own policies
//! are `iam_holders.rs`'; its sessions are `sts.rs`'.

use super::authz::Caller;
use super::iam_holders::holder_arn;
use super::rules::{no_such_entity, valid_path, valid_user_name, MAX_IAM_POLICY_CHARS};
use super::Identity;
use crate::{Error, Result};
use berth_iam::policy::{ActionElement, Policy, PolicyKind};
use berth_store::{
    CreateOutcome, DeleteHolderOutcome, HolderKind, RoleRecord, RoleUpdate, TagOutcome,
};

/// AWS's bounds of a role's MaxSessionDuration (seconds), and its default.
pub const MIN_MAX_SESSION: i64 = 3_600;
pub const MAX_MAX_SESSION: i64 = 43_200;
/// Tags per role (IAM's quota).
pub const MAX_ROLE_TAGS: usize = 50;

/// A role as the IAM API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IamRole {
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub role_id: String,
    pub arn: String,
    /// The trust policy, as it was sent.
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: i64,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub tags: Vec<(String, String)>,
}

impl IamRole {
    fn from_record(r: RoleRecord, tags: Vec<(String, String)>) -> IamRole {
        IamRole {
            arn: holder_arn(&r.account_id, HolderKind::Role, &r.path, &r.name),
            account_id: r.account_id,
            name: r.name,
            path: r.path,
            role_id: r.role_id,
            trust_policy: r.trust_policy,
            description: r.description,
            max_session_duration: r.max_session_duration,
            created_at: r.created_at,
            tags,
        }
    }
}

/// CreateRole's members.
#[derive(Clone, Debug, Default)]
pub struct NewRole {
    pub name: String,
    pub path: Option<String>,
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
    pub tags: Vec<(String, String)>,
}

/// The one check of a trust policy (AssumeRolePolicyDocument): a resource
/// policy (principals required) without a Resource, naming only STS's
/// assume actions, within IAM's size limit. Messages are IAM's.
pub fn validate_trust_policy(text: &str) -> Result<Policy> {
    let counted = text.chars().filter(|c| !c.is_whitespace()).count();
    if counted > MAX_IAM_POLICY_CHARS {
        return Err(Error::LimitExceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {MAX_IAM_POLICY_CHARS}"
        )));
    }
    let policy = Policy::parse(text, PolicyKind::Resource)
        .map_err(|e| Error::MalformedPolicyDocument(e.to_string()))?;
    for s in &policy.statements {
        if s.resource.is_some() {
            return Err(Error::MalformedPolicyDocument(
                "Has prohibited field Resource".into(),
            ));
        }
        let ok = match &s.action {
            ActionElement::Action(list) => list.iter().all(|a| {
                let a = a.as_str().to_ascii_lowercase();
                a.starts_with("sts:assumerole")
                    || a == "sts:tagsession"
                    || a == "sts:setsourceidentity"
                    || a == "sts:setcontext"
                    || a == "sts:*"
            }),
            ActionElement::NotAction(_) => false,
        };
        if !ok {
            return Err(Error::MalformedPolicyDocument(
                "AssumeRole policy may only specify STS AssumeRole actions.".into(),
            ));
        }
    }
    Ok(policy)
}

fn check_role_name(name: &str) -> Result<()> {
    if valid_user_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "1 validation error detected: Value '{name}' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )))
    }
}

fn check_max_session(seconds: i64) -> Result<()> {
    if (MIN_MAX_SESSION..=MAX_MAX_SESSION).contains(&seconds) {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "1 validation error detected: Value '{seconds}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value {}",
            if seconds < MIN_MAX_SESSION {
                format!("greater than or equal to {MIN_MAX_SESSION}")
            } else {
                format!("less than or equal to {MAX_MAX_SESSION}")
            }
        )))
    }
}

fn check_description(d: &str) -> Result<()> {
    if d.chars().count() <= 1000 {
        Ok(())
    } else {
        Err(Error::InvalidParameter(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000".into(),
        ))
    }
}

/// IAM's tag rules: keys 1–128, values 0–256 characters.
fn check_tags(tags: &[(String, String)]) -> Result<()> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(Error::InvalidParameter(format!(
                "1 validation error detected: the tag '{k}' must have a key of 1 to 128 characters and a value of at most 256"
            )));
        }
    }
    if tags.len() > MAX_ROLE_TAGS {
        return Err(Error::LimitExceeded(format!(
            "Cannot exceed quota for TagsPerRole: {MAX_ROLE_TAGS}"
        )));
    }
    Ok(())
}

/// A role id as AWS makes them: `AROA` + 17 characters.
fn new_role_id() -> String {
    let id = berth_iam::keys::new_policy_id();
    format!("AROA{}", &id[4..])
}

impl Identity {
    async fn role_resource(&self, account: &str, name: &str) -> Result<String> {
        self.holder_resource(account, berth_store::Holder::role(name))
            .await
    }

    pub async fn iam_create_role(&self, caller: &Caller, new: NewRole) -> Result<IamRole> {
        let path = new.path.as_deref().unwrap_or("/");
        if !valid_path(path) {
            return Err(Error::InvalidParameter(format!(
                "path '{path}' must be '/' or start and end with '/' (printable ASCII, at most 512 characters)"
            )));
        }
        self.authorize_iam(
            caller,
            "iam:CreateRole",
            None,
            &holder_arn(&caller.account_id, HolderKind::Role, path, &new.name),
        )
        .await?;
        check_role_name(&new.name)?;
        let max = new.max_session_duration.unwrap_or(MIN_MAX_SESSION);
        check_max_session(max)?;
        if let Some(d) = &new.description {
            check_description(d)?;
        }
        check_tags(&new.tags)?;
        validate_trust_policy(&new.trust_policy)?;
        let record = RoleRecord {
            account_id: caller.account_id.clone(),
            name: new.name.clone(),
            path: path.to_string(),
            role_id: new_role_id(),
            trust_policy: new.trust_policy,
            description: new.description,
            max_session_duration: max,
            created_at: self.now(),
        };
        match self.meta.create_role(&record, &new.tags).await? {
            CreateOutcome::Created => Ok(IamRole::from_record(record, new.tags)),
            CreateOutcome::AlreadyExists => Err(Error::EntityAlreadyExists(format!(
                "Role with name {} already exists.",
                new.name
            ))),
            CreateOutcome::NoSuchAccount => Err(Error::NoSuchEntity(format!(
                "account {} does not exist",
                caller.account_id
            ))),
        }
    }

    pub async fn iam_get_role(&self, caller: &Caller, name: &str) -> Result<IamRole> {
        self.authorize_iam(
            caller,
            "iam:GetRole",
            None,
            &self.role_resource(&caller.account_id, name).await?,
        )
        .await?;
        self.role(&caller.account_id, name).await
    }

    /// A role with its tags.
    pub(crate) async fn role(&self, account: &str, name: &str) -> Result<IamRole> {
        let r = self
            .meta
            .get_role(account, name)
            .await?
            .ok_or_else(|| no_such_entity(HolderKind::Role, name))?;
        let tags = self.meta.role_tags(account, name).await?;
        Ok(IamRole::from_record(r, tags))
    }

    /// The roles whose path starts with `path_prefix`, by name (without
    /// tags, as AWS's ListRoles).
    pub async fn iam_list_roles(
        &self,
        caller: &Caller,
        path_prefix: Option<&str>,
    ) -> Result<Vec<IamRole>> {
        self.authorize_iam(
            caller,
            "iam:ListRoles",
            None,
            &format!("arn:aws:iam::{}:role/", caller.account_id),
        )
        .await?;
        let prefix = path_prefix.unwrap_or("/");
        Ok(self
            .meta
            .list_roles(&caller.account_id)
            .await?
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .map(|r| IamRole::from_record(r, Vec::new()))
            .collect())
    }

    /// UpdateRole (description, MaxSessionDuration) and
    /// UpdateAssumeRolePolicy (`trust_policy`).
    pub async fn iam_update_role(
        &self,
        caller: &Caller,
        name: &str,
        update: RoleUpdate,
    ) -> Result<()> {
        let action = if update.trust_policy.is_some() {
            "iam:UpdateAssumeRolePolicy"
        } else {
            "iam:UpdateRole"
        };
        self.authorize_iam(
            caller,
            action,
            None,
            &self.role_resource(&caller.account_id, name).await?,
        )
        .await?;
        if let Some(max) = update.max_session_duration {
            check_max_session(max)?;
        }
        if let Some(d) = &update.description {
            check_description(d)?;
        }
        if let Some(t) = &update.trust_policy {
            validate_trust_policy(t)?;
        }
        if self
            .meta
            .update_role(&caller.account_id, name, &update)
            .await?
        {
            Ok(())
        } else {
            Err(no_such_entity(HolderKind::Role, name))
        }
    }

    /// DeleteRole, refused while the role has inline or attached policies
    /// (AWS). Its sessions stop within `USER_CHECK_TTL` (at once here).
    pub async fn iam_delete_role(&self, caller: &Caller, name: &str) -> Result<()> {
        self.authorize_iam(
            caller,
            "iam:DeleteRole",
            None,
            &self.role_resource(&caller.account_id, name).await?,
        )
        .await?;
        match self.meta.delete_role(&caller.account_id, name).await? {
            DeleteHolderOutcome::Deleted => {
                self.forget_tokens();
                self.authz.changed();
                Ok(())
            }
            DeleteHolderOutcome::NotFound => Err(no_such_entity(HolderKind::Role, name)),
            DeleteHolderOutcome::HasInlinePolicies => Err(Error::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            )),
            DeleteHolderOutcome::HasAttachedPolicies | DeleteHolderOutcome::HasMembers => {
                Err(Error::DeleteConflict(
                    "Cannot delete entity, must detach all policies first.".into(),
                ))
            }
        }
    }

    pub async fn iam_tag_role(
        &self,
        caller: &Caller,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        self.authorize_iam(
            caller,
            "iam:TagRole",
            None,
            &self.role_resource(&caller.account_id, name).await?,
        )
        .await?;
        check_tags(&tags)?;
        match self
            .meta
            .tag_role(&caller.account_id, name, &tags, MAX_ROLE_TAGS)
            .await?
        {
            // Sessions carry the tags as `aws:PrincipalTag`: open them again.
            TagOutcome::Tagged => {
                self.forget_user();
                Ok(())
            }
            TagOutcome::NotFound => Err(no_such_entity(HolderKind::Role, name)),
            TagOutcome::TooMany => Err(Error::LimitExceeded(format!(
                "Cannot exceed quota for TagsPerRole: {MAX_ROLE_TAGS}"
            ))),
        }
    }

    pub async fn iam_untag_role(
        &self,
        caller: &Caller,
        name: &str,
        keys: Vec<String>,
    ) -> Result<()> {
        self.authorize_iam(
            caller,
            "iam:UntagRole",
            None,
            &self.role_resource(&caller.account_id, name).await?,
        )
        .await?;
        if self
            .meta
            .untag_role(&caller.account_id, name, &keys)
            .await?
        {
            self.forget_user();
            Ok(())
        } else {
            Err(no_such_entity(HolderKind::Role, name))
        }
    }

    pub async fn iam_list_role_tags(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Vec<(String, String)>> {
        self.authorize_iam(
            caller,
            "iam:ListRoleTags",
            None,
            &self.role_resource(&caller.account_id, name).await?,
        )
        .await?;
        Ok(self.role(&caller.account_id, name).await?.tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policies_name_principals_and_only_assume_actions() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]}"#;
        assert!(validate_trust_policy(ok).is_ok());
        let with_resource = ok.replace("\"Action\"", "\"Resource\":\"*\",\"Action\"");
        assert!(matches!(
            validate_trust_policy(&with_resource),
            Err(Error::MalformedPolicyDocument(m)) if m == "Has prohibited field Resource"
        ));
        let other_action = ok.replace("sts:AssumeRole", "ecr:*");
        assert!(matches!(
            validate_trust_policy(&other_action),
            Err(Error::MalformedPolicyDocument(m)) if m.contains("only specify STS AssumeRole")
        ));
        let no_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#;
        assert!(validate_trust_policy(no_principal).is_err());
    }

    #[test]
    fn role_ids_and_session_bounds_are_aws_shaped() {
        let id = new_role_id();
        assert!(id.starts_with("AROA") && id.len() == 21, "{id}");
        assert!(check_max_session(3600).is_ok() && check_max_session(43_200).is_ok());
        assert!(check_max_session(3599).is_err() && check_max_session(43_201).is_err());
    }
}
