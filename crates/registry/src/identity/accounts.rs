//! Managing accounts, users and access keys (what berth's admin API does),
//! and who may do it. Until IAM policies exist the rule is fixed: the admin
//! user of the default account (the one `berth serve` bootstraps) may do
//! everything; the admin user of another account may manage the users and
//! access keys of its own account; nobody else may use the admin API.

use super::authz::Caller;
use super::principal::{AccessKeyInfo, NewAccessKey, Principal, ADMIN_USER};
use super::rules::{valid_account_id, valid_user_name};
use super::Identity;
use crate::{Error, Result};
use berth_iam::keys;
use berth_store::{AccountRecord, CreateUserOutcome, Holder, UserRecord};

/// What an admin API call does, as far as authorization is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminAction<'a> {
    /// Create or list accounts.
    ManageAccounts,
    /// Start or watch a garbage collection (it spans every account).
    CollectGarbage,
    /// Run the lifecycle policies of every repository (of every account).
    RunLifecycle,
    /// Import records into the vulnerability database (shared by every account).
    ImportVulnDb,
    /// Create or list users, create, list or delete access keys, list
    /// roles and groups, in `account`.
    ManageUsers { account: &'a str },
    /// Read the usage and cost of `account`, or of every account (`None`).
    ViewUsage { account: Option<&'a str> },
}

impl AdminAction<'_> {
    /// The action policies name it by (`berth:CollectGarbage`): the fixed
    /// rule above grants it, and an explicit Deny in the caller's identity
    /// policies (a `NotIpAddress` condition, say) still refuses it.
    pub fn action_name(&self) -> &'static str {
        match self {
            AdminAction::ManageAccounts => "berth:ManageAccounts",
            AdminAction::CollectGarbage => "berth:CollectGarbage",
            AdminAction::RunLifecycle => "berth:RunLifecycle",
            AdminAction::ImportVulnDb => "berth:ImportVulnerabilityDatabase",
            AdminAction::ManageUsers { .. } => "berth:ManageUsers",
            AdminAction::ViewUsage { .. } => "berth:ViewUsage",
        }
    }

    fn describe(&self) -> String {
        match self {
            AdminAction::ManageAccounts => "manage accounts".into(),
            AdminAction::CollectGarbage => "run garbage collection".into(),
            AdminAction::RunLifecycle => "run lifecycle policies".into(),
            AdminAction::ImportVulnDb => "import the vulnerability database".into(),
            AdminAction::ManageUsers { account } => {
                format!("manage users and access keys of account {account}")
            }
            AdminAction::ViewUsage {
                account: Some(account),
            } => {
                format!("read the usage of account {account}")
            }
            AdminAction::ViewUsage { account: None } => "read the usage of every account".into(),
        }
    }
}

/// The authorization rule, apart from any store: whether `caller` may do
/// `action` on a server whose default account is `default_account`.
pub fn admin_may(default_account: &str, caller: &Principal, action: AdminAction) -> bool {
    if caller.user != ADMIN_USER {
        return false;
    }
    // Temporary credentials (GetSessionToken, without MFA) cannot manage
    // users, keys or accounts, as they cannot call IAM.
    if caller.is_user_session()
        && matches!(
            action,
            AdminAction::ManageUsers { .. } | AdminAction::ManageAccounts
        )
    {
        return false;
    }
    if caller.account_id == default_account {
        return true;
    }
    match action {
        AdminAction::ManageUsers { account }
        | AdminAction::ViewUsage {
            account: Some(account),
        } => account == caller.account_id,
        _ => false,
    }
}

impl Identity {
    /// `Ok` if `caller` may do `action`: the fixed rule (`admin_may`)
    /// allows it and no identity policy of the caller explicitly denies it
    /// under this request's facts; else `AccessDenied` naming the caller.
    pub async fn authorize_admin(&self, caller: &Caller, action: AdminAction<'_>) -> Result<()> {
        if admin_may(&self.config.default_account, caller, action) {
            let (decision, request) = self
                .decide_identity_only(&caller.principal, action.action_name(), "*", &caller.facts)
                .await?;
            if let d @ berth_iam::policy::Decision::ExplicitDeny { .. } = decision {
                return Err(Error::AccessDenied(
                    d.denial_message(&request).unwrap_or_default(),
                ));
            }
            return Ok(());
        }
        let who = caller.arn();
        let rule = if caller.is_user_session() {
            "temporary credentials (GetSessionToken) cannot manage users, keys or accounts: sign with the admin's access key".to_string()
        } else if caller.user == ADMIN_USER {
            format!(
                "the admin user of an account may manage only that account's users and access keys and read its usage; the rest is for the admin user of the default account ({})",
                self.config.default_account
            )
        } else {
            format!("only the user '{ADMIN_USER}' of an account may use the admin API")
        };
        Err(Error::AccessDenied(format!(
            "User: {who} is not authorized to {}: {rule}",
            action.describe()
        )))
    }

    /// Creates an account with its admin user and, if `with_key`, an access
    /// key for that admin (its secret shown only in this answer).
    pub async fn create_account(
        &self,
        caller: &Caller,
        id: &str,
        with_key: bool,
    ) -> Result<(AccountRecord, Option<(AccessKeyInfo, NewAccessKey)>)> {
        self.authorize_admin(caller, AdminAction::ManageAccounts)
            .await?;
        if !valid_account_id(id) {
            return Err(Error::InvalidParameter(format!(
                "account id '{id}' must be 12 digits"
            )));
        }
        let account = self
            .meta
            .create_account(id, ADMIN_USER, self.now())
            .await?
            .ok_or_else(|| Error::EntityAlreadyExists(format!("account {id} already exists")))?;
        let key = if with_key {
            Some(self.new_access_key(id, ADMIN_USER).await?)
        } else {
            None
        };
        Ok((account, key))
    }

    pub async fn list_accounts(&self, caller: &Caller) -> Result<Vec<AccountRecord>> {
        self.authorize_admin(caller, AdminAction::ManageAccounts)
            .await?;
        Ok(self.meta.list_accounts().await?)
    }

    pub async fn create_user(
        &self,
        caller: &Caller,
        account: &str,
        name: &str,
    ) -> Result<UserRecord> {
        self.authorize_admin(caller, AdminAction::ManageUsers { account })
            .await?;
        if !valid_user_name(name) {
            return Err(Error::InvalidParameter(format!(
                "user name '{name}' must be 1 to 64 letters, digits or any of +=,.@_-"
            )));
        }
        match self
            .meta
            .create_user(account, name, "/", self.now())
            .await?
        {
            CreateUserOutcome::Created(u) => Ok(u),
            CreateUserOutcome::AlreadyExists => Err(Error::EntityAlreadyExists(format!(
                "user '{name}' already exists in account {account}"
            ))),
            CreateUserOutcome::NoSuchAccount => Err(no_such_account(account)),
        }
    }

    pub async fn list_users(&self, caller: &Caller, account: &str) -> Result<Vec<UserRecord>> {
        self.authorize_admin(caller, AdminAction::ManageUsers { account })
            .await?;
        self.existing_account(account).await?;
        Ok(self.meta.list_users(account).await?)
    }

    /// An account's roles, each with its policies (attached by ARN, then
    /// inline by name): what `berth admin role list` shows.
    pub async fn admin_list_roles(
        &self,
        caller: &Caller,
        account: &str,
    ) -> Result<Vec<(super::IamRole, Vec<String>)>> {
        self.authorize_admin(caller, AdminAction::ManageUsers { account })
            .await?;
        self.existing_account(account).await?;
        let mut out = Vec::new();
        for r in self.meta.list_roles(account).await? {
            let policies = self
                .holder_policy_names(account, Holder::role(&r.name))
                .await?;
            out.push((self.role(account, &r.name).await?, policies));
        }
        Ok(out)
    }

    /// An account's groups, each with its members and policies.
    pub async fn admin_list_groups(
        &self,
        caller: &Caller,
        account: &str,
    ) -> Result<Vec<(super::IamGroup, Vec<String>, Vec<String>)>> {
        self.authorize_admin(caller, AdminAction::ManageUsers { account })
            .await?;
        self.existing_account(account).await?;
        let mut out = Vec::new();
        for g in self.meta.list_groups(account).await? {
            let members = self
                .meta
                .group_members(account, &g.name)
                .await?
                .into_iter()
                .map(|u| u.name)
                .collect();
            let policies = self
                .holder_policy_names(account, Holder::group(&g.name))
                .await?;
            out.push((g.into(), members, policies));
        }
        Ok(out)
    }

    async fn holder_policy_names(&self, account: &str, holder: Holder<'_>) -> Result<Vec<String>> {
        let mut names = self.meta.attached_policies(account, holder).await?;
        names.extend(self.meta.list_inline_policies(account, holder).await?);
        Ok(names)
    }

    /// A new access key for `user`; its secret is in this answer only (the
    /// store keeps it sealed, and listings leave it out).
    pub async fn create_access_key(
        &self,
        caller: &Caller,
        account: &str,
        user: &str,
    ) -> Result<(AccessKeyInfo, NewAccessKey)> {
        self.authorize_admin(caller, AdminAction::ManageUsers { account })
            .await?;
        self.existing_user(account, user).await?;
        self.new_access_key(account, user).await
    }

    /// The access keys of an account, or of one of its users.
    pub async fn list_access_keys(
        &self,
        caller: &Caller,
        account: &str,
        user: Option<&str>,
    ) -> Result<Vec<AccessKeyInfo>> {
        self.authorize_admin(caller, AdminAction::ManageUsers { account })
            .await?;
        let keys = match user {
            Some(user) => {
                self.existing_user(account, user).await?;
                self.meta.access_keys_of(account, user).await?
            }
            None => {
                self.existing_account(account).await?;
                self.meta.access_keys_of_account(account).await?
            }
        };
        Ok(keys.into_iter().map(AccessKeyInfo::from).collect())
    }

    /// Deletes an access key of `account`: requests signed with it are
    /// refused from then on (the ECR API and the admin API look the key up
    /// on every request; `docker login` tokens already issued live on
    /// until they expire, as on ECR).
    pub async fn delete_access_key(
        &self,
        caller: &Caller,
        account: &str,
        key_id: &str,
    ) -> Result<()> {
        self.authorize_admin(caller, AdminAction::ManageUsers { account })
            .await?;
        if self.meta.delete_access_key(account, key_id).await? {
            self.forget_tokens();
            Ok(())
        } else {
            Err(Error::NoSuchEntity(format!(
                "access key {key_id} does not exist in account {account}"
            )))
        }
    }

    async fn new_access_key(
        &self,
        account: &str,
        user: &str,
    ) -> Result<(AccessKeyInfo, NewAccessKey)> {
        let key = NewAccessKey {
            id: keys::new_access_key_id(),
            secret: keys::new_secret_access_key(),
        };
        let created_at = self.store_key(account, user, &key).await?;
        Ok((
            AccessKeyInfo {
                id: key.id.clone(),
                account_id: account.to_string(),
                user_name: user.to_string(),
                active: true,
                created_at,
            },
            key,
        ))
    }

    async fn existing_account(&self, account: &str) -> Result<AccountRecord> {
        self.meta
            .get_account(account)
            .await?
            .ok_or_else(|| no_such_account(account))
    }

    async fn existing_user(&self, account: &str, user: &str) -> Result<UserRecord> {
        match self.meta.get_user(account, user).await? {
            Some(u) => Ok(u),
            None => {
                self.existing_account(account).await?;
                Err(Error::NoSuchEntity(format!(
                    "user '{user}' does not exist in account {account}"
                )))
            }
        }
    }
}

fn no_such_account(account: &str) -> Error {
    Error::NoSuchEntity(format!("account {account} does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "000000000000";

    fn who(account: &str, user: &str) -> Caller {
        Caller {
            principal: Principal::user(account, user),
            facts: Default::default(),
        }
    }

    #[test]
    fn the_default_accounts_admin_may_do_everything_other_admins_their_own_users() {
        let root = who(ROOT, ADMIN_USER);
        let other_admin = who("111111111111", ADMIN_USER);
        let root_user = who(ROOT, "ci");
        let own = AdminAction::ManageUsers {
            account: "111111111111",
        };
        let foreign = AdminAction::ManageUsers {
            account: "222222222222",
        };
        let root_users = AdminAction::ManageUsers { account: ROOT };
        for action in [
            AdminAction::ManageAccounts,
            AdminAction::CollectGarbage,
            AdminAction::ImportVulnDb,
            own,
            foreign,
            root_users,
        ] {
            assert!(admin_may(ROOT, &root, action), "{action:?}");
            // A user named admin of another account is not the root admin,
            // and a non-admin user of the default account is no admin at all.
            assert!(!admin_may(ROOT, &root_user, action), "{action:?}");
            assert_eq!(
                admin_may(ROOT, &other_admin, action),
                action == own,
                "{action:?}"
            );
        }
        // The default account is a setting: its admin is the root one.
        assert!(admin_may(
            "111111111111",
            &other_admin,
            AdminAction::ManageAccounts
        ));
        assert!(!admin_may(ROOT, &other_admin, AdminAction::ManageAccounts));
    }

    async fn registry(dir: &std::path::Path) -> Identity {
        Identity::for_tests(dir).await
    }

    #[tokio::test]
    async fn accounts_users_and_keys_are_managed_within_the_rule() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path()).await;
        let root = who(ROOT, ADMIN_USER);
        reg.bootstrap_admin(ROOT, None).await.unwrap();

        let (account, key) = reg
            .create_account(&root, "111111111111", true)
            .await
            .unwrap();
        assert_eq!(account.id, "111111111111");
        let (info, key) = key.expect("asked for a key");
        assert_eq!((info.user_name.as_str(), info.active), (ADMIN_USER, true));
        // The new key authenticates as that account's admin.
        let (p, secret) = reg.access_key(&key.id).await.unwrap().unwrap();
        assert_eq!(p, who("111111111111", ADMIN_USER).principal);
        assert_eq!(secret, key.secret);
        assert!(matches!(
            reg.create_account(&root, "111111111111", false).await,
            Err(Error::EntityAlreadyExists(_))
        ));
        assert!(matches!(
            reg.create_account(&root, "12345", false).await,
            Err(Error::InvalidParameter(_))
        ));

        // That admin manages its own account's users and keys, nothing else.
        let admin1 = Caller {
            principal: p,
            facts: Default::default(),
        };
        reg.create_user(&admin1, "111111111111", "ci")
            .await
            .unwrap();
        assert!(matches!(
            reg.create_user(&admin1, "111111111111", "ci").await,
            Err(Error::EntityAlreadyExists(_))
        ));
        let (ci_key, _) = reg
            .create_access_key(&admin1, "111111111111", "ci")
            .await
            .unwrap();
        let listed = reg
            .list_access_keys(&admin1, "111111111111", None)
            .await
            .unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.contains(&ci_key));
        let denied = reg.list_accounts(&admin1).await.unwrap_err();
        assert!(
            matches!(&denied, Error::AccessDenied(m) if m.contains("arn:aws:iam::111111111111:user/admin")),
            "{denied}"
        );
        assert!(matches!(
            reg.create_user(&admin1, ROOT, "sneaky").await,
            Err(Error::AccessDenied(_))
        ));
        assert!(matches!(
            reg.delete_access_key(&admin1, ROOT, "AKIAWHATEVER00000000")
                .await,
            Err(Error::AccessDenied(_))
        ));
        // A key is deleted only through its own account.
        assert!(matches!(
            reg.delete_access_key(&root, ROOT, &ci_key.id).await,
            Err(Error::NoSuchEntity(_))
        ));

        // A user that is not an admin may do nothing here.
        let ci = who("111111111111", "ci");
        assert!(matches!(
            reg.list_users(&ci, "111111111111").await,
            Err(Error::AccessDenied(m)) if m.contains("user/ci")
        ));

        // Missing things are named.
        assert!(matches!(
            reg.list_users(&root, "333333333333").await,
            Err(Error::NoSuchEntity(m)) if m.contains("333333333333")
        ));
        assert!(matches!(
            reg.create_access_key(&root, "111111111111", "nobody").await,
            Err(Error::NoSuchEntity(m)) if m.contains("nobody")
        ));

        reg.delete_access_key(&admin1, "111111111111", &ci_key.id)
            .await
            .unwrap();
        assert_eq!(reg.access_key(&ci_key.id).await.unwrap(), None);
        let accounts: Vec<String> = reg
            .list_accounts(&root)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(accounts, [ROOT, "111111111111"]);
    }
}
