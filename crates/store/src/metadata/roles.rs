//! IAM roles: a trust policy (who may assume the role), a description, a
//! maximum session duration and tags. Their inline policies and
//! attachments are `IamPolicyStore`'s (`Holder::role`).
//!
//! Names are unique per account ignoring case (checked in the creating
//! transaction); DeleteRole is refused while the role has inline or
//! attached policies, checked in the deleting transaction.

use crate::Result;
use async_trait::async_trait;

/// A role as stored. The trust policy is the text as sent (validated by the
/// registry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub account_id: String,
    pub name: String,
    pub path: String,
    /// IAM's `RoleId` (`AROA` + 17 characters), made by the registry.
    pub role_id: String,
    pub trust_policy: String,
    pub description: Option<String>,
    /// Seconds (3,600 – 43,200).
    pub max_session_duration: i64,
    pub created_at: i64,
}

/// What creating a role, a group or a user found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// The account has one of that name (ignoring case).
    AlreadyExists,
    NoSuchAccount,
}

/// Why DeleteRole or DeleteGroup deleted nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteHolderOutcome {
    Deleted,
    NotFound,
    /// A group's users must be removed first.
    HasMembers,
    HasInlinePolicies,
    HasAttachedPolicies,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagOutcome {
    Tagged,
    NotFound,
    /// The tags would number more than the limit passed in.
    TooMany,
}

/// What UpdateRole changes (`None`: left as is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleUpdate {
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
    pub trust_policy: Option<String>,
}

#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Creates a role with its tags.
    async fn create_role(
        &self,
        role: &RoleRecord,
        tags: &[(String, String)],
    ) -> Result<CreateOutcome>;
    async fn get_role(&self, account_id: &str, name: &str) -> Result<Option<RoleRecord>>;
    /// The account's roles, by name.
    async fn list_roles(&self, account_id: &str) -> Result<Vec<RoleRecord>>;
    /// False if there is no such role.
    async fn update_role(&self, account_id: &str, name: &str, update: &RoleUpdate) -> Result<bool>;
    /// Deletes a role (and its tags) that has no inline or attached policies.
    async fn delete_role(&self, account_id: &str, name: &str) -> Result<DeleteHolderOutcome>;
    /// A role's tags, by key.
    async fn role_tags(&self, account_id: &str, name: &str) -> Result<Vec<(String, String)>>;
    /// Adds or replaces tags, unless the role would then have more than `max`.
    async fn tag_role(
        &self,
        account_id: &str,
        name: &str,
        tags: &[(String, String)],
        max: usize,
    ) -> Result<TagOutcome>;
    /// Removes the keys it has; false if there is no such role.
    async fn untag_role(&self, account_id: &str, name: &str, keys: &[String]) -> Result<bool>;
}
