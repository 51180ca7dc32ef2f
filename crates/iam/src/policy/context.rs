//! The request context: the condition keys a request carries and their
//! values. The caller fills it (it knows the connection, the clock, the
//! resource's tags); the evaluator only reads it.

use std::collections::HashMap;

/// Condition key names the HTTP layer is expected to provide. Keys are
/// case-insensitive, as in AWS; these spellings are AWS's.
pub mod keys {
    pub const PRINCIPAL_ARN: &str = "aws:PrincipalArn";
    pub const PRINCIPAL_ACCOUNT: &str = "aws:PrincipalAccount";
    pub const PRINCIPAL_TYPE: &str = "aws:PrincipalType";
    pub const USERNAME: &str = "aws:username";
    pub const USERID: &str = "aws:userid";
    pub const TOKEN_ISSUE_TIME: &str = "aws:TokenIssueTime";
    pub const MFA_PRESENT: &str = "aws:MultiFactorAuthPresent";
    pub const EXTERNAL_ID: &str = "sts:ExternalId";
    pub const ROLE_SESSION_NAME: &str = "sts:RoleSessionName";
    pub const SOURCE_IP: &str = "aws:SourceIp";
    pub const CURRENT_TIME: &str = "aws:CurrentTime";
    pub const EPOCH_TIME: &str = "aws:EpochTime";
    pub const SECURE_TRANSPORT: &str = "aws:SecureTransport";
    pub const TAG_KEYS: &str = "aws:TagKeys";
    pub const ACCOUNT_SETTING: &str = "ecr:AccountSetting";

    /// `aws:ResourceTag/<key>`; ECR also answers to `ecr:ResourceTag/<key>`,
    /// so the caller should set both (`RequestContext::with_resource_tag`).
    pub fn resource_tag(tag: &str) -> String {
        format!("aws:ResourceTag/{tag}")
    }
    pub fn ecr_resource_tag(tag: &str) -> String {
        format!("ecr:ResourceTag/{tag}")
    }
    /// `aws:PrincipalTag/<key>`: the caller's tags (a role session's role's).
    pub fn principal_tag(tag: &str) -> String {
        format!("aws:PrincipalTag/{tag}")
    }
    pub fn request_tag(tag: &str) -> String {
        format!("aws:RequestTag/{tag}")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    values: HashMap<String, Vec<String>>,
}

impl RequestContext {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a single-valued key, replacing what it had.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.values
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
    }

    /// Sets a multivalued key (`aws:TagKeys`), replacing what it had.
    pub fn insert_all<I, S>(&mut self, key: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.values.insert(
            key.to_ascii_lowercase(),
            values.into_iter().map(Into::into).collect(),
        );
    }

    /// Sets the key only if the caller has not.
    pub fn insert_default(&mut self, key: &str, value: impl Into<String>) {
        self.values
            .entry(key.to_ascii_lowercase())
            .or_insert_with(|| vec![value.into()]);
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    pub fn with_all<I, S>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.insert_all(key, values);
        self
    }

    /// Both spellings of a repository's tag (`aws:` and `ecr:`).
    pub fn with_resource_tag(mut self, tag: &str, value: &str) -> Self {
        self.insert(&keys::resource_tag(tag), value);
        self.insert(&keys::ecr_resource_tag(tag), value);
        self
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        // Conditions store their keys lowercased, so the evaluator's lookups
        // allocate nothing.
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            self.values.get(&key.to_ascii_lowercase())
        } else {
            self.values.get(key)
        }
        .map(Vec::as_slice)
    }
}
