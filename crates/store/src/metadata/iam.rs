//! IAM policies of users, roles and groups (each a `Holder`): inline
//! policies, customer-managed policies with their versions, and
//! attachments (local and AWS-managed ARNs).
//!
//! Every method is scoped to one account. Attaching a local policy checks
//! it exists in the attaching transaction, and a managed policy is
//! deleted only while nothing is attached, so no attachment dangles.
//! Documents are validated by the registry and stored as sent.

use crate::Result;
use async_trait::async_trait;

/// A customer-managed policy (CreatePolicy), with its attachment count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicyRecord {
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub arn: String,
    pub policy_id: String,
    pub description: Option<String>,
    pub default_version: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Users it is attached to (filled in by reads; ignored on create).
    pub attachment_count: u64,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionRecord {
    pub version_id: String,
    pub document: String,
    pub is_default: bool,
    pub created_at: i64,
}

/// What can hold inline policies and attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HolderKind {
    User,
    Role,
    Group,
}

/// A user, role or group of an account, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder<'a> {
    pub kind: HolderKind,
    pub name: &'a str,
}

impl<'a> Holder<'a> {
    pub fn user(name: &'a str) -> Self {
        Holder {
            kind: HolderKind::User,
            name,
        }
    }
    pub fn role(name: &'a str) -> Self {
        Holder {
            kind: HolderKind::Role,
            name,
        }
    }
    pub fn group(name: &'a str) -> Self {
        Holder {
            kind: HolderKind::Group,
            name,
        }
    }
}

impl HolderKind {
    /// The tables of this kind: (owner table, inline policies,
    /// attachments, the owner's name column in the last two). Both
    /// backends have the same schema.
    pub(crate) fn tables(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            HolderKind::User => (
                "users",
                "user_policies",
                "user_policy_attachments",
                "user_name",
            ),
            HolderKind::Role => (
                "roles",
                "role_policies",
                "role_policy_attachments",
                "role_name",
            ),
            HolderKind::Group => (
                "iam_groups",
                "group_policies",
                "group_policy_attachments",
                "group_name",
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachOutcome {
    /// Attached now, or already attached (IAM treats both as success).
    Attached,
    /// The user, role or group does not exist.
    NoSuchHolder,
    NoSuchPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletePolicyOutcome {
    Deleted,
    NotFound,
    /// Still attached to this many users, roles and groups.
    Attached(u64),
}

/// Inline policies, managed policies and their attachments.
#[async_trait]
pub trait IamPolicyStore: Send + Sync {
    /// Creates or replaces an inline policy; false if the holder does not exist.
    async fn put_inline_policy(
        &self,
        account_id: &str,
        holder: Holder<'_>,
        name: &str,
        document: &str,
    ) -> Result<bool>;
    async fn get_inline_policy(
        &self,
        account_id: &str,
        holder: Holder<'_>,
        name: &str,
    ) -> Result<Option<String>>;
    /// Inline policy names of a holder, in byte order.
    async fn list_inline_policies(
        &self,
        account_id: &str,
        holder: Holder<'_>,
    ) -> Result<Vec<String>>;
    async fn delete_inline_policy(
        &self,
        account_id: &str,
        holder: Holder<'_>,
        name: &str,
    ) -> Result<bool>;
    /// Attaches a policy by ARN. With `local`, the ARN must name a managed
    /// policy of the account (checked in the same transaction, so that a
    /// concurrent DeletePolicy cannot leave a dangling attachment).
    async fn attach_policy(
        &self,
        account_id: &str,
        holder: Holder<'_>,
        arn: &str,
        local: bool,
        now: i64,
    ) -> Result<AttachOutcome>;
    /// False if it was not attached.
    async fn detach_policy(&self, account_id: &str, holder: Holder<'_>, arn: &str) -> Result<bool>;
    /// ARNs of the policies attached to a holder, in byte order.
    async fn attached_policies(&self, account_id: &str, holder: Holder<'_>) -> Result<Vec<String>>;
    /// How many users, roles and groups of the account a policy is attached to.
    async fn policy_attachment_count(&self, account_id: &str, arn: &str) -> Result<u64>;
    /// Creates a managed policy with `document` as its default version;
    /// false if the account has a policy of that name (nothing stored).
    async fn create_managed_policy(
        &self,
        policy: &ManagedPolicyRecord,
        document: &str,
    ) -> Result<bool>;
    async fn get_managed_policy(
        &self,
        account_id: &str,
        arn: &str,
    ) -> Result<Option<ManagedPolicyRecord>>;
    /// The account's managed policies, by ARN.
    async fn list_managed_policies(&self, account_id: &str) -> Result<Vec<ManagedPolicyRecord>>;
    async fn get_policy_version(
        &self,
        account_id: &str,
        arn: &str,
        version_id: &str,
    ) -> Result<Option<PolicyVersionRecord>>;
    /// Deletes a managed policy and its versions unless it is attached.
    async fn delete_managed_policy(
        &self,
        account_id: &str,
        arn: &str,
    ) -> Result<DeletePolicyOutcome>;
}
