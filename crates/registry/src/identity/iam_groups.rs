//! IAM groups: CreateGroup, GetGroup (with its users), ListGroups,
//! DeleteGroup (refused while users or policies remain), AddUserToGroup,
//! RemoveUserFromGroup, ListGroupsForUser. A group's policies are
//! `iam_holders.rs`'; they count for each member (`authz.rs`).

use super::authz::Caller;
use super::iam_holders::holder_arn;
use super::iam_users::IamUser;
use super::rules::{no_such_entity, no_such_user, valid_path, valid_user_name};
use super::Identity;
use crate::{Error, Result};
use berth_store::{CreateOutcome, DeleteHolderOutcome, GroupRecord, HolderKind, MembershipOutcome};

/// A group as the IAM API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IamGroup {
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub group_id: String,
    pub arn: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

impl From<GroupRecord> for IamGroup {
    fn from(g: GroupRecord) -> Self {
        IamGroup {
            arn: holder_arn(&g.account_id, HolderKind::Group, &g.path, &g.name),
            account_id: g.account_id,
            name: g.name,
            path: g.path,
            group_id: g.group_id,
            created_at: g.created_at,
        }
    }
}

fn new_group_id() -> String {
    let id = berth_iam::keys::new_policy_id();
    format!("AGPA{}", &id[4..])
}

impl Identity {
    async fn group_resource(&self, account: &str, name: &str) -> Result<String> {
        self.holder_resource(account, berth_store::Holder::group(name))
            .await
    }

    pub async fn iam_create_group(
        &self,
        caller: &Caller,
        name: &str,
        path: Option<&str>,
    ) -> Result<IamGroup> {
        let path = path.unwrap_or("/");
        if !valid_path(path) {
            return Err(Error::InvalidParameter(format!(
                "path '{path}' must be '/' or start and end with '/' (printable ASCII, at most 512 characters)"
            )));
        }
        self.authorize_iam(
            caller,
            "iam:CreateGroup",
            None,
            &holder_arn(&caller.account_id, HolderKind::Group, path, name),
        )
        .await?;
        if !valid_user_name(name) || name.len() > 128 {
            return Err(Error::InvalidParameter(format!(
                "1 validation error detected: Value '{name}' at 'groupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
            )));
        }
        let record = GroupRecord {
            account_id: caller.account_id.clone(),
            name: name.to_string(),
            path: path.to_string(),
            group_id: new_group_id(),
            created_at: self.now(),
        };
        match self.meta.create_group(&record).await? {
            CreateOutcome::Created => Ok(record.into()),
            CreateOutcome::AlreadyExists => Err(Error::EntityAlreadyExists(format!(
                "Group with name {name} already exists."
            ))),
            CreateOutcome::NoSuchAccount => Err(Error::NoSuchEntity(format!(
                "account {} does not exist",
                caller.account_id
            ))),
        }
    }

    /// GetGroup: the group and its users, by name.
    pub async fn iam_get_group(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(IamGroup, Vec<IamUser>)> {
        self.authorize_iam(
            caller,
            "iam:GetGroup",
            None,
            &self.group_resource(&caller.account_id, name).await?,
        )
        .await?;
        let g = self
            .meta
            .get_group(&caller.account_id, name)
            .await?
            .ok_or_else(|| no_such_entity(HolderKind::Group, name))?;
        let users = self.meta.group_members(&caller.account_id, name).await?;
        Ok((g.into(), users.into_iter().map(IamUser::from).collect()))
    }

    pub async fn iam_list_groups(
        &self,
        caller: &Caller,
        path_prefix: Option<&str>,
    ) -> Result<Vec<IamGroup>> {
        self.authorize_iam(
            caller,
            "iam:ListGroups",
            None,
            &format!("arn:aws:iam::{}:group/", caller.account_id),
        )
        .await?;
        let prefix = path_prefix.unwrap_or("/");
        Ok(self
            .meta
            .list_groups(&caller.account_id)
            .await?
            .into_iter()
            .filter(|g| g.path.starts_with(prefix))
            .map(IamGroup::from)
            .collect())
    }

    pub async fn iam_delete_group(&self, caller: &Caller, name: &str) -> Result<()> {
        self.authorize_iam(
            caller,
            "iam:DeleteGroup",
            None,
            &self.group_resource(&caller.account_id, name).await?,
        )
        .await?;
        let what = match self.meta.delete_group(&caller.account_id, name).await? {
            DeleteHolderOutcome::Deleted => {
                self.authz.changed();
                return Ok(());
            }
            DeleteHolderOutcome::NotFound => return Err(no_such_entity(HolderKind::Group, name)),
            DeleteHolderOutcome::HasMembers => "remove users from group",
            DeleteHolderOutcome::HasInlinePolicies => "delete policies",
            DeleteHolderOutcome::HasAttachedPolicies => "detach all policies",
        };
        Err(Error::DeleteConflict(format!(
            "Cannot delete entity, must {what} first."
        )))
    }

    /// AddUserToGroup (adding twice is not an error) and
    /// RemoveUserFromGroup. The user's permissions change at once: the
    /// policy caches are invalidated on every node.
    pub async fn iam_group_membership(
        &self,
        caller: &Caller,
        group: &str,
        user: &str,
        add: bool,
    ) -> Result<()> {
        let action = if add {
            "iam:AddUserToGroup"
        } else {
            "iam:RemoveUserFromGroup"
        };
        self.authorize_iam(
            caller,
            action,
            None,
            &self.group_resource(&caller.account_id, group).await?,
        )
        .await?;
        let outcome = if add {
            self.meta
                .add_user_to_group(&caller.account_id, group, user, self.now())
                .await?
        } else {
            self.meta
                .remove_user_from_group(&caller.account_id, group, user)
                .await?
        };
        self.authz.changed();
        match outcome {
            // Removing a user that is not a member changes nothing, and
            // AWS answers it without an error.
            MembershipOutcome::Done | MembershipOutcome::NotMember => Ok(()),
            MembershipOutcome::NoSuchGroup => Err(no_such_entity(HolderKind::Group, group)),
            MembershipOutcome::NoSuchUser => Err(no_such_user(user)),
        }
    }

    pub async fn iam_groups_for_user(&self, caller: &Caller, user: &str) -> Result<Vec<IamGroup>> {
        self.authorize_iam(
            caller,
            "iam:ListGroupsForUser",
            Some(user),
            &self
                .holder_resource(&caller.account_id, berth_store::Holder::user(user))
                .await?,
        )
        .await?;
        self.iam_user(&caller.account_id, user).await?;
        Ok(self
            .meta
            .groups_for_user(&caller.account_id, user)
            .await?
            .into_iter()
            .map(IamGroup::from)
            .collect())
    }
}
