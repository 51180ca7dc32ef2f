//! IAM policies attached to users: inline policies, customer-managed
//! policies with their versions, and attachments (local and AWS-managed
//! ARNs).
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachOutcome {
    /// Attached now, or already attached (IAM treats both as success).
    Attached,
    NoSuchUser,
    NoSuchPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletePolicyOutcome {
    Deleted,
    NotFound,
    /// Still attached to this many users.
    Attached(u64),
}

/// Users' inline policies, managed policies and their attachments.
#[async_trait]
pub trait IamPolicyStore: Send + Sync {
    /// Creates or replaces an inline policy; false if the user does not exist.
    async fn put_user_policy(
        &self,
        account_id: &str,
        user: &str,
        name: &str,
        document: &str,
    ) -> Result<bool>;
    async fn get_user_policy(
        &self,
        account_id: &str,
        user: &str,
        name: &str,
    ) -> Result<Option<String>>;
    /// Inline policy names of a user, in byte order.
    async fn list_user_policies(&self, account_id: &str, user: &str) -> Result<Vec<String>>;
    async fn delete_user_policy(&self, account_id: &str, user: &str, name: &str) -> Result<bool>;
    /// Attaches a policy by ARN. With `local`, the ARN must name a managed
    /// policy of the account (checked in the same transaction, so that a
    /// concurrent DeletePolicy cannot leave a dangling attachment).
    async fn attach_user_policy(
        &self,
        account_id: &str,
        user: &str,
        arn: &str,
        local: bool,
        now: i64,
    ) -> Result<AttachOutcome>;
    /// False if it was not attached.
    async fn detach_user_policy(&self, account_id: &str, user: &str, arn: &str) -> Result<bool>;
    /// ARNs of the policies attached to a user, in byte order.
    async fn attached_user_policies(&self, account_id: &str, user: &str) -> Result<Vec<String>>;
    /// How many users of the account a policy is attached to.
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
