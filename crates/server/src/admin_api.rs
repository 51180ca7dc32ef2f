//! The admin API's contract: its paths and the JSON of every request and
//! answer, shared by the server (`admin.rs`) and the `berth` CLI, so that
//! a member renamed on one side fails to compile on the other. Members are
//! camelCase like the ECR API's; times are Unix seconds (fractions allowed)
//! like ECR's, except the GC run's, which are Unix milliseconds.

use serde::{Deserialize, Serialize};

pub use berth_registry::ImportStats;

/// The SigV4 service name the admin API's signatures must be scoped to.
pub const SERVICE: &str = "berth";

pub const ACCOUNTS: &str = "/berth/admin/accounts";
pub const USERS: &str = "/berth/admin/accounts/{account}/users";
pub const ROLES: &str = "/berth/admin/accounts/{account}/roles";
pub const GROUPS: &str = "/berth/admin/accounts/{account}/groups";
pub const USER_ACCESS_KEYS: &str = "/berth/admin/accounts/{account}/users/{user}/access-keys";
pub const ACCESS_KEYS: &str = "/berth/admin/accounts/{account}/access-keys";
pub const ACCESS_KEY: &str = "/berth/admin/accounts/{account}/access-keys/{key}";
pub const GC: &str = "/berth/admin/gc";
pub const LIFECYCLE: &str = "/berth/admin/lifecycle";
pub const VULNDB_RECORDS: &str = "/berth/admin/vulndb/records";
pub const VULNDB_FINISH: &str = "/berth/admin/vulndb/finish";
pub const USAGE: &str = "/berth/admin/usage";

/// A path template with its `{name}` segments filled in, each
/// percent-encoded as one path segment.
pub fn path(template: &str, segments: &[(&str, &str)]) -> String {
    segments
        .iter()
        .fold(template.to_string(), |p, (name, value)| {
            p.replace(&format!("{{{name}}}"), &segment(value))
        })
}

fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `POST ACCOUNTS`
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAccount {
    #[serde(default)]
    pub account_id: String,
    /// Also create an access key for the account's admin user.
    #[serde(default)]
    pub create_access_key: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub account_id: String,
    pub created_at: f64,
    /// The account requests without one address.
    pub default: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountCreated {
    pub account: Account,
    pub admin_user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<NewAccessKey>,
}

/// `GET ACCOUNTS`
#[derive(Debug, Serialize, Deserialize)]
pub struct Accounts {
    pub accounts: Vec<Account>,
}

/// `POST USERS`
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    #[serde(default)]
    pub user_name: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub account_id: String,
    pub user_name: String,
    pub arn: String,
    pub created_at: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UserCreated {
    pub user: User,
}

/// `GET USERS`
#[derive(Debug, Serialize, Deserialize)]
pub struct Users {
    pub users: Vec<User>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub account_id: String,
    pub role_name: String,
    pub arn: String,
    pub role_id: String,
    pub max_session_duration: i64,
    /// Policies attached (by ARN) and inline (by name).
    pub policies: Vec<String>,
    pub created_at: f64,
}

/// `GET ROLES`
#[derive(Debug, Serialize, Deserialize)]
pub struct Roles {
    pub roles: Vec<Role>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub account_id: String,
    pub group_name: String,
    pub arn: String,
    pub members: Vec<String>,
    pub policies: Vec<String>,
    pub created_at: f64,
}

/// `GET GROUPS`
#[derive(Debug, Serialize, Deserialize)]
pub struct Groups {
    pub groups: Vec<Group>,
}

/// An access key as listings show it: never its secret.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKey {
    pub access_key_id: String,
    pub account_id: String,
    pub user_name: String,
    /// `Active` or `Inactive`, as IAM says it.
    pub status: String,
    pub created_at: f64,
}

/// The one answer that carries a secret: the key just made.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAccessKey {
    #[serde(flatten)]
    pub key: AccessKey,
    pub secret_access_key: String,
}

/// `POST USER_ACCESS_KEYS`
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyCreated {
    pub access_key: NewAccessKey,
}

/// `GET ACCESS_KEYS[?userName=]` and `GET USER_ACCESS_KEYS`
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeys {
    pub access_keys: Vec<AccessKey>,
}

/// The query of `GET ACCESS_KEYS`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyFilter {
    pub user_name: Option<String>,
}

/// `POST GC`
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartGc {
    #[serde(default)]
    pub dry_run: bool,
    /// Overrides the server's grace period for this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_seconds: Option<u64>,
}

/// `POST GC` (202, or 409 with the run in progress) and `GET GC`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GcStatus {
    pub id: u64,
    pub dry_run: bool,
    pub grace_seconds: u64,
    /// `marking`, `sweeping`, ..., `done` or `failed`.
    pub phase: String,
    /// Blob records examined so far, of `total`.
    pub examined: u64,
    pub total: u64,
    pub links_removed: u64,
    pub blobs_deleted: u64,
    pub bytes_freed: u64,
    pub orphan_files: u64,
    /// Unix milliseconds.
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

impl From<&berth_registry::GcSnapshot> for GcStatus {
    fn from(s: &berth_registry::GcSnapshot) -> Self {
        GcStatus {
            id: s.id,
            dry_run: s.dry_run,
            grace_seconds: s.grace_secs,
            phase: s.phase.as_str().to_string(),
            examined: s.examined,
            total: s.total,
            links_removed: s.links_removed,
            blobs_deleted: s.blobs_deleted,
            bytes_freed: s.bytes_freed,
            orphan_files: s.orphan_files,
            started_at: s.started_at,
            finished_at: s.finished_at,
            error: s.error.clone(),
        }
    }
}

/// `POST LIFECYCLE`: what the run did.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleRun {
    pub repositories: u64,
    pub expired: u64,
    pub transitioned: u64,
    /// Images re-tagged or re-pushed during the run, left for the next.
    pub skipped_changed: u64,
    pub skipped_transitions: u64,
    /// Repositories whose evaluation failed (the server log says why).
    pub failed: u64,
}

/// `POST VULNDB_RECORDS` (answered with [`ImportStats`]).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct VulnBatch {
    /// (origin, record JSON text) pairs.
    pub records: Vec<(String, String)>,
}

/// `POST VULNDB_FINISH`
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnImportFinished {
    pub updated_at: i64,
    pub generation: i64,
    /// Records the database holds now.
    pub records: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fill_their_segments_percent_encoded() {
        assert_eq!(
            path(
                USER_ACCESS_KEYS,
                &[("account", "123456789012"), ("user", "a b/c")]
            ),
            "/berth/admin/accounts/123456789012/users/a%20b%2Fc/access-keys"
        );
    }

    #[test]
    fn a_new_key_is_a_listed_key_plus_its_secret() {
        let k = NewAccessKey {
            key: AccessKey {
                access_key_id: "AKIA".into(),
                account_id: "123456789012".into(),
                user_name: "u".into(),
                status: "Active".into(),
                created_at: 1.5,
            },
            secret_access_key: "s".into(),
        };
        let v = serde_json::to_value(&k).unwrap();
        assert_eq!(v["accessKeyId"], "AKIA");
        assert_eq!(v["secretAccessKey"], "s");
        let back: NewAccessKey = serde_json::from_value(v).unwrap();
        assert_eq!(back.key.user_name, "u");
    }
}

/// `GET USAGE[?accountId=&region=&month=&repositories=true]`: one
/// account's registries (every account's when no `accountId`), in one
/// region or all, for `month` (`2026-12`; default: the current one).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageQuery {
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub month: Option<String>,
    /// Each registry's repositories too.
    #[serde(default)]
    pub repositories: bool,
}

/// `POST USAGE`: a sample taken now (what it measured).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageSampled {
    pub repositories: u64,
    pub registries: u64,
    /// Rows of repositories and registries gone since the last sample.
    pub dropped: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub month: String,
    /// Dollars per GB-month (2^30 bytes kept a whole month).
    pub price_per_gb_month: f64,
    pub month_hours: f64,
    pub elapsed_hours: f64,
    pub registries: Vec<RegistryUsage>,
}

/// A registry's (or a repository's) latest sample and its month's cost.
/// `storedBytes` counts each blob once; `logicalBytes` counts a layer once
/// per image that has it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageFigures {
    /// When the latest sample was taken (Unix seconds); absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_at: Option<f64>,
    pub images: u64,
    pub logical_bytes: u64,
    pub stored_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pushed_at: Option<f64>,
    pub gb_months: f64,
    pub estimated_gb_months: f64,
    pub accrued_cost: f64,
    pub estimated_cost: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryUsage {
    pub account_id: String,
    pub region: String,
    #[serde(flatten)]
    pub figures: UsageFigures,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<RepositoryUsage>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryUsage {
    pub repository_name: String,
    #[serde(flatten)]
    pub figures: UsageFigures,
}
