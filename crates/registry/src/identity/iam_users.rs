//! IAM users, their access keys and inline policies, as the IAM API manages
//! them; and who may call the IAM API at all.
//!
//! Who may call an IAM action is decided by the caller's identity policies
//! (`authorize_iam`; the account's `admin` holds AdministratorAccess), on
//! the resource the action names (a user's or a policy's ARN). On top of
//! that, unless a policy explicitly denies it, `iam_may`'s self-service rule
//! lets any user read itself (GetUser, GetCallerIdentity) and manage its own
//! access keys: on AWS even that needs a policy granting it; berth allows it
//! so that a user can rotate its key before anyone writes policies.
//! Everything is scoped to the caller's account: no call names another.

use super::authz::Caller;
use super::principal::{AccessKeyInfo, NewAccessKey, Principal, ADMIN_USER};
use super::rules::{no_such_user, valid_path, valid_user_name};
use super::Identity;
use crate::{Error, Result};
use berth_iam::keys;
use berth_iam::policy::Decision;
use berth_store::{AccessKeyRecord, CreateUserOutcome, DeleteUserOutcome, UserRecord};

/// AWS's quota of access keys per user.
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;

/// A user as the IAM API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IamUser {
    pub account_id: String,
    pub name: String,
    pub user_id: String,
    pub path: String,
    pub arn: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

impl From<UserRecord> for IamUser {
    fn from(u: UserRecord) -> Self {
        IamUser {
            arn: user_arn(&u.account_id, &u.path, &u.name),
            account_id: u.account_id,
            name: u.name,
            user_id: u.user_id,
            path: u.path,
            created_at: u.created_at,
        }
    }
}

pub use berth_iam::policy::user_arn;

/// Whether `caller` may perform `action` (`iam:CreateUser`, ...) on the
/// user `target` of its own account (`None`: the action names no user).
pub fn iam_may(caller: &Principal, action: &str, target: Option<&str>) -> bool {
    if caller.user == ADMIN_USER {
        return true;
    }
    match action {
        "sts:GetCallerIdentity" => true,
        "iam:GetUser"
        | "iam:ListAccessKeys"
        | "iam:CreateAccessKey"
        | "iam:UpdateAccessKey"
        | "iam:DeleteAccessKey" => target == Some(caller.user.as_str()),
        _ => false,
    }
}

impl Identity {
    /// `Ok` if `caller` may do `action` on `resource`: its identity
    /// policies allow it, or (without an explicit Deny) `iam_may`'s
    /// self-service rule does; else AWS's AccessDenied text naming both.
    pub(crate) async fn authorize_iam(
        &self,
        caller: &Caller,
        action: &str,
        target_user: Option<&str>,
        resource: &str,
    ) -> Result<()> {
        // AWS: credentials from GetSessionToken without MFA cannot call
        // the IAM API at all.
        if caller.is_user_session() && action.starts_with("iam:") {
            return Err(Error::AccessDenied(format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} because credentials from GetSessionToken without MFA cannot call the IAM API",
                caller.arn()
            )));
        }
        let (decision, request) = self
            .decide_identity_only(&caller.principal, action, resource, &caller.facts)
            .await?;
        match decision {
            Decision::Allow => Ok(()),
            Decision::ImplicitDeny { .. } if iam_may(caller, action, target_user) => Ok(()),
            d => Err(Error::AccessDenied(
                d.denial_message(&request).unwrap_or_else(|| {
                    format!("not authorized to perform {action} on resource: {resource}")
                }),
            )),
        }
    }

    /// Whether `caller` may do IAM `action` on `target` (a user of the
    /// caller's account, as listed; without one, the account's users), by
    /// the same rule as the action itself (the console offers only what
    /// would work).
    pub async fn may_iam(&self, caller: &Caller, action: &str, target: Option<&IamUser>) -> bool {
        let (name, resource) = match target {
            Some(u) => (Some(u.name.as_str()), u.arn.clone()),
            None => (None, format!("arn:aws:iam::{}:user/", caller.account_id)),
        };
        self.authorize_iam(caller, action, name, &resource)
            .await
            .is_ok()
    }

    /// The resource ARN of a user a request names: with the user's real
    /// path, so that a policy on `user/team/*` binds requests about `ops`
    /// at `/team/` (a user that does not exist is named at `/`).
    pub(crate) async fn user_resource(&self, account: &str, name: &str) -> Result<String> {
        let path = self.meta.get_user(account, name).await?.map(|u| u.path);
        Ok(user_arn(account, path.as_deref().unwrap_or("/"), name))
    }

    pub async fn iam_create_user(
        &self,
        caller: &Caller,
        name: &str,
        path: Option<&str>,
    ) -> Result<IamUser> {
        let path = path.unwrap_or("/");
        if !valid_path(path) {
            return Err(Error::InvalidParameter(format!(
                "path '{path}' must be '/' or start and end with '/' (printable ASCII, at most 512 characters)"
            )));
        }
        // The user to be, at the path it is to have.
        self.authorize_iam(
            caller,
            "iam:CreateUser",
            Some(name),
            &user_arn(&caller.account_id, path, name),
        )
        .await?;
        check_user_name(name)?;
        match self
            .meta
            .create_user(&caller.account_id, name, path, self.now())
            .await?
        {
            CreateUserOutcome::Created(u) => Ok(u.into()),
            CreateUserOutcome::AlreadyExists => Err(Error::EntityAlreadyExists(format!(
                "User with name {name} already exists."
            ))),
            CreateUserOutcome::NoSuchAccount => Err(Error::NoSuchEntity(format!(
                "account {} does not exist",
                caller.account_id
            ))),
        }
    }

    /// GetUser; without a name, the caller.
    pub async fn iam_get_user(&self, caller: &Caller, name: Option<&str>) -> Result<IamUser> {
        let name = name.unwrap_or(&caller.user);
        self.authorize_iam(
            caller,
            "iam:GetUser",
            Some(name),
            &self.user_resource(&caller.account_id, name).await?,
        )
        .await?;
        self.iam_user(&caller.account_id, name).await
    }

    /// The users of the caller's account whose path starts with `path_prefix`, by name.
    pub async fn iam_list_users(
        &self,
        caller: &Caller,
        path_prefix: Option<&str>,
    ) -> Result<Vec<IamUser>> {
        self.authorize_iam(
            caller,
            "iam:ListUsers",
            None,
            &format!("arn:aws:iam::{}:user/", caller.account_id),
        )
        .await?;
        let prefix = path_prefix.unwrap_or("/");
        Ok(self
            .meta
            .list_users(&caller.account_id)
            .await?
            .into_iter()
            .filter(|u| u.path.starts_with(prefix))
            .map(IamUser::from)
            .collect())
    }

    /// DeleteUser, refused (DeleteConflict) while the user has access keys,
    /// inline or attached policies, as AWS refuses it. The account's admin
    /// user cannot be deleted: berth's authorization rests on it.
    pub async fn iam_delete_user(&self, caller: &Caller, name: &str) -> Result<()> {
        self.authorize_iam(
            caller,
            "iam:DeleteUser",
            Some(name),
            &self.user_resource(&caller.account_id, name).await?,
        )
        .await?;
        if name == ADMIN_USER {
            return Err(Error::DeleteConflict(format!(
                "Cannot delete the user '{ADMIN_USER}': until IAM policies are enforced it is the account's administrator."
            )));
        }
        let what = match self.meta.delete_user(&caller.account_id, name).await? {
            DeleteUserOutcome::Deleted => {
                self.forget_user();
                return Ok(());
            }
            DeleteUserOutcome::NotFound => return Err(no_such_user(name)),
            DeleteUserOutcome::HasAccessKeys => "access keys",
            DeleteUserOutcome::HasInlinePolicies => "policies",
            DeleteUserOutcome::HasAttachedPolicies => "attached policies",
            DeleteUserOutcome::InGroups => {
                return Err(Error::DeleteConflict(
                    "Cannot delete entity, must remove user from all groups first.".into(),
                ))
            }
        };
        Err(Error::DeleteConflict(format!(
            "Cannot delete entity, must delete {what} first."
        )))
    }

    /// CreateAccessKey for `user` (default: the caller); at most two per user.
    pub async fn iam_create_access_key(
        &self,
        caller: &Caller,
        user: Option<&str>,
    ) -> Result<(AccessKeyInfo, NewAccessKey)> {
        let user = user.unwrap_or(&caller.user);
        self.authorize_iam(
            caller,
            "iam:CreateAccessKey",
            Some(user),
            &self.user_resource(&caller.account_id, user).await?,
        )
        .await?;
        self.iam_user(&caller.account_id, user).await?;
        let key = NewAccessKey {
            id: keys::new_access_key_id(),
            secret: keys::new_secret_access_key(),
        };
        let record = AccessKeyRecord {
            id: key.id.clone(),
            account_id: caller.account_id.clone(),
            user_name: user.to_string(),
            secret_sealed: self.config.server_key.seal(key.secret.as_bytes()),
            active: true,
            created_at: self.now(),
        };
        if !self
            .meta
            .add_access_key(&record, MAX_ACCESS_KEYS_PER_USER)
            .await?
        {
            return Err(Error::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
            )));
        }
        Ok((record.into(), key))
    }

    /// ListAccessKeys of `user` (default: the caller); the user's name too.
    pub async fn iam_list_access_keys(
        &self,
        caller: &Caller,
        user: Option<&str>,
    ) -> Result<(String, Vec<AccessKeyInfo>)> {
        let user = user.unwrap_or(&caller.user);
        self.authorize_iam(
            caller,
            "iam:ListAccessKeys",
            Some(user),
            &self.user_resource(&caller.account_id, user).await?,
        )
        .await?;
        self.iam_user(&caller.account_id, user).await?;
        let keys = self.meta.access_keys_of(&caller.account_id, user).await?;
        Ok((
            user.to_string(),
            keys.into_iter().map(AccessKeyInfo::from).collect(),
        ))
    }

    /// UpdateAccessKey: an inactive key stops authenticating at once
    /// (`Registry::access_key` refuses it on every request).
    pub async fn iam_update_access_key(
        &self,
        caller: &Caller,
        user: Option<&str>,
        key_id: &str,
        active: bool,
    ) -> Result<()> {
        let user = user.unwrap_or(&caller.user);
        self.authorize_iam(
            caller,
            "iam:UpdateAccessKey",
            Some(user),
            &self.user_resource(&caller.account_id, user).await?,
        )
        .await?;
        self.iam_user(&caller.account_id, user).await?;
        if self
            .meta
            .set_access_key_active(&caller.account_id, user, key_id, active)
            .await?
        {
            self.forget_tokens();
            Ok(())
        } else {
            Err(no_such_key(key_id))
        }
    }

    pub async fn iam_delete_access_key(
        &self,
        caller: &Caller,
        user: Option<&str>,
        key_id: &str,
    ) -> Result<()> {
        let user = user.unwrap_or(&caller.user);
        self.authorize_iam(
            caller,
            "iam:DeleteAccessKey",
            Some(user),
            &self.user_resource(&caller.account_id, user).await?,
        )
        .await?;
        self.iam_user(&caller.account_id, user).await?;
        // The store deletes by account; the key must also be this user's.
        match self.meta.get_access_key(key_id).await? {
            Some(k) if k.account_id == caller.account_id && k.user_name == user => {}
            _ => return Err(no_such_key(key_id)),
        }
        if self
            .meta
            .delete_access_key(&caller.account_id, key_id)
            .await?
        {
            self.forget_tokens();
            Ok(())
        } else {
            Err(no_such_key(key_id))
        }
    }

    pub(crate) async fn iam_user(&self, account: &str, name: &str) -> Result<IamUser> {
        self.meta
            .get_user(account, name)
            .await?
            .map(IamUser::from)
            .ok_or_else(|| no_such_user(name))
    }
}

fn check_user_name(name: &str) -> Result<()> {
    if valid_user_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "1 validation error detected: Value '{name}' at 'userName' failed to satisfy constraint: Member must be 1 to 64 letters, digits or any of +=,.@_-"
        )))
    }
}

fn no_such_key(id: &str) -> Error {
    Error::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(user: &str) -> Caller {
        Caller {
            principal: Principal::user("111111111111", user),
            facts: Default::default(),
        }
    }

    #[test]
    fn admins_manage_iam_and_users_only_their_own_keys() {
        let admin = who(ADMIN_USER);
        let dev = who("dev");
        for action in ["iam:CreateUser", "iam:DeleteUser", "iam:CreatePolicy"] {
            assert!(iam_may(&admin, action, Some("x")));
            assert!(!iam_may(&dev, action, Some("dev")));
        }
        assert!(iam_may(&dev, "sts:GetCallerIdentity", None));
        for action in [
            "iam:GetUser",
            "iam:ListAccessKeys",
            "iam:CreateAccessKey",
            "iam:UpdateAccessKey",
            "iam:DeleteAccessKey",
        ] {
            assert!(iam_may(&dev, action, Some("dev")), "{action}");
            assert!(!iam_may(&dev, action, Some("other")), "{action}");
        }
        assert!(!iam_may(&dev, "iam:ListUsers", None));
    }

    #[test]
    fn user_arns_carry_the_path() {
        assert_eq!(
            user_arn("111111111111", "/ci/", "bot"),
            "arn:aws:iam::111111111111:user/ci/bot"
        );
    }
}
