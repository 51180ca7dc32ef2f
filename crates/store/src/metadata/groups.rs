//! IAM groups and their members. A group is never a principal: its inline
//! and attached policies (`IamPolicyStore`, `Holder::group`) are part of
//! each member's identity policies.
//!
//! Names are unique per account ignoring case; DeleteGroup is refused while
//! the group has members or policies, checked in the deleting transaction.
//! Memberships cascade from the group and from the user.

use super::roles::{CreateOutcome, DeleteHolderOutcome};
use super::UserRecord;
use crate::Result;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub account_id: String,
    pub name: String,
    pub path: String,
    /// IAM's `GroupId` (`AGPA` + 17 characters), made by the registry.
    pub group_id: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipOutcome {
    /// Added (or already a member), or removed.
    Done,
    NoSuchGroup,
    NoSuchUser,
    /// RemoveUserFromGroup of a user that is not in the group.
    NotMember,
}

#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn create_group(&self, group: &GroupRecord) -> Result<CreateOutcome>;
    async fn get_group(&self, account_id: &str, name: &str) -> Result<Option<GroupRecord>>;
    /// The account's groups, by name.
    async fn list_groups(&self, account_id: &str) -> Result<Vec<GroupRecord>>;
    /// Deletes a group without members, inline or attached policies.
    async fn delete_group(&self, account_id: &str, name: &str) -> Result<DeleteHolderOutcome>;
    async fn add_user_to_group(
        &self,
        account_id: &str,
        group: &str,
        user: &str,
        now: i64,
    ) -> Result<MembershipOutcome>;
    async fn remove_user_from_group(
        &self,
        account_id: &str,
        group: &str,
        user: &str,
    ) -> Result<MembershipOutcome>;
    /// A group's users, by name.
    async fn group_members(&self, account_id: &str, group: &str) -> Result<Vec<UserRecord>>;
    /// The groups a user is in, by name.
    async fn groups_for_user(&self, account_id: &str, user: &str) -> Result<Vec<GroupRecord>>;
}
