//! SQL text both metadata backends run for IAM roles, groups and the
//! policies of users, roles and groups. Parameters are `$n`, which SQLite
//! (through sqlx) reads as numbered parameters too, so each statement is
//! written once; the backends differ only in how they run them.

use crate::metadata::HolderKind;

/// How many users, roles and groups of account `$1` have policy `$2` attached.
pub(crate) const ATTACHMENT_COUNT: &str = "SELECT
    (SELECT count(*) FROM user_policy_attachments WHERE account_id = $1 AND policy_arn = $2)
  + (SELECT count(*) FROM role_policy_attachments WHERE account_id = $1 AND policy_arn = $2)
  + (SELECT count(*) FROM group_policy_attachments WHERE account_id = $1 AND policy_arn = $2)";

/// The same count as a column of a managed policy row aliased `p`.
pub(crate) const ATTACHMENT_COUNT_OF_P: &str =
    "(SELECT count(*) FROM user_policy_attachments a WHERE a.account_id = p.account_id AND a.policy_arn = p.arn)
   + (SELECT count(*) FROM role_policy_attachments a WHERE a.account_id = p.account_id AND a.policy_arn = p.arn)
   + (SELECT count(*) FROM group_policy_attachments a WHERE a.account_id = p.account_id AND a.policy_arn = p.arn)";

/// The statements on one kind of holder's policies; `$1` the account,
/// `$2` the holder's name.
pub(crate) struct HolderSql {
    pub exists: String,
    pub put_inline: String,
    pub get_inline: String,
    pub list_inline: String,
    pub delete_inline: String,
    pub attach: String,
    pub detach: String,
    pub attached: String,
    pub count_inline: String,
    pub count_attached: String,
}

impl HolderSql {
    fn new(kind: HolderKind) -> HolderSql {
        let (owner, inline, attached, col) = kind.tables();
        HolderSql {
            exists: format!("SELECT count(*) FROM {owner} WHERE account_id = $1 AND name = $2"),
            put_inline: format!(
                "INSERT INTO {inline} (account_id, {col}, policy_name, document) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account_id, {col}, policy_name) DO UPDATE SET document = excluded.document"
            ),
            get_inline: format!(
                "SELECT document FROM {inline} WHERE account_id = $1 AND {col} = $2 AND policy_name = $3"
            ),
            list_inline: format!(
                "SELECT policy_name FROM {inline} WHERE account_id = $1 AND {col} = $2 ORDER BY policy_name"
            ),
            delete_inline: format!(
                "DELETE FROM {inline} WHERE account_id = $1 AND {col} = $2 AND policy_name = $3"
            ),
            attach: format!(
                "INSERT INTO {attached} (account_id, {col}, policy_arn, attached_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING"
            ),
            detach: format!(
                "DELETE FROM {attached} WHERE account_id = $1 AND {col} = $2 AND policy_arn = $3"
            ),
            attached: format!(
                "SELECT policy_arn FROM {attached} WHERE account_id = $1 AND {col} = $2 ORDER BY policy_arn"
            ),
            count_inline: format!("SELECT count(*) FROM {inline} WHERE account_id = $1 AND {col} = $2"),
            count_attached: format!(
                "SELECT count(*) FROM {attached} WHERE account_id = $1 AND {col} = $2"
            ),
        }
    }

    /// The statements for `kind`, built once per process.
    pub(crate) fn of(kind: HolderKind) -> &'static HolderSql {
        static SQL: std::sync::OnceLock<[HolderSql; 3]> = std::sync::OnceLock::new();
        let all = SQL.get_or_init(|| {
            [
                HolderSql::new(HolderKind::User),
                HolderSql::new(HolderKind::Role),
                HolderSql::new(HolderKind::Group),
            ]
        });
        &all[kind as usize]
    }
}

pub(crate) const ROLE_COLUMNS: &str =
    "account_id, name, path, role_id, trust_policy, description, max_session_duration, created_at";
pub(crate) const INSERT_ROLE: &str = "INSERT INTO roles (account_id, name, path, role_id, trust_policy, description, max_session_duration, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// Whether (a count) account `$1` has a role named `$2` ignoring case.
pub(crate) const ROLE_NAME_TAKEN: &str =
    "SELECT count(*) FROM roles WHERE account_id = $1 AND lower(name) = lower($2)";
pub(crate) const UPDATE_ROLE: &str = "UPDATE roles SET
     description = COALESCE($3, description),
     max_session_duration = COALESCE($4, max_session_duration),
     trust_policy = COALESCE($5, trust_policy)
     WHERE account_id = $1 AND name = $2";
pub(crate) const PUT_ROLE_TAG: &str =
    "INSERT INTO role_tags (account_id, role_name, key, value) VALUES ($1, $2, $3, $4)
     ON CONFLICT (account_id, role_name, key) DO UPDATE SET value = excluded.value";
pub(crate) const ROLE_TAGS: &str =
    "SELECT key, value FROM role_tags WHERE account_id = $1 AND role_name = $2 ORDER BY key";
pub(crate) const ROLE_TAG_KEYS: &str =
    "SELECT key FROM role_tags WHERE account_id = $1 AND role_name = $2";
pub(crate) const DELETE_ROLE_TAG: &str =
    "DELETE FROM role_tags WHERE account_id = $1 AND role_name = $2 AND key = $3";

pub(crate) const GROUP_COLUMNS: &str = "account_id, name, path, group_id, created_at";
pub(crate) const INSERT_GROUP: &str =
    "INSERT INTO iam_groups (account_id, name, path, group_id, created_at) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const GROUP_NAME_TAKEN: &str =
    "SELECT count(*) FROM iam_groups WHERE account_id = $1 AND lower(name) = lower($2)";
pub(crate) const ADD_MEMBER: &str = "INSERT INTO group_members (account_id, group_name, user_name, added_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING";
pub(crate) const REMOVE_MEMBER: &str =
    "DELETE FROM group_members WHERE account_id = $1 AND group_name = $2 AND user_name = $3";
pub(crate) const COUNT_MEMBERS: &str =
    "SELECT count(*) FROM group_members WHERE account_id = $1 AND group_name = $2";
pub(crate) const GROUPS_FOR_USER: &str =
    "SELECT g.account_id, g.name, g.path, g.group_id, g.created_at
     FROM group_members m JOIN iam_groups g ON g.account_id = m.account_id AND g.name = m.group_name
     WHERE m.account_id = $1 AND m.user_name = $2 ORDER BY g.name";
pub(crate) const GROUP_MEMBERS: &str =
    "SELECT u.account_id, u.name, u.created_at, u.user_id, u.path
     FROM group_members m JOIN users u ON u.account_id = m.account_id AND u.name = m.user_name
     WHERE m.account_id = $1 AND m.group_name = $2 ORDER BY u.name";

/// A row of `ROLE_COLUMNS`, on either backend.
pub(crate) fn role_from_row<R>(row: &R) -> crate::metadata::RoleRecord
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    crate::metadata::RoleRecord {
        account_id: row.get(0),
        name: row.get(1),
        path: row.get(2),
        role_id: row.get(3),
        trust_policy: row.get(4),
        description: row.get(5),
        max_session_duration: row.get(6),
        created_at: row.get(7),
    }
}

/// A row of `GROUP_COLUMNS`, on either backend.
pub(crate) fn group_from_row<R>(row: &R) -> crate::metadata::GroupRecord
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    crate::metadata::GroupRecord {
        account_id: row.get(0),
        name: row.get(1),
        path: row.get(2),
        group_id: row.get(3),
        created_at: row.get(4),
    }
}

/// A row of `GROUP_MEMBERS`, on either backend.
pub(crate) fn member_from_row<R>(row: &R) -> crate::metadata::UserRecord
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    crate::metadata::UserRecord {
        account_id: row.get(0),
        name: row.get(1),
        created_at: row.get(2),
        user_id: row.get::<Option<String>, _>(3).unwrap_or_default(),
        path: row.get(4),
    }
}

/// Whether account `$1` exists (`exists` binds two values: pass the id twice).
pub(crate) const ACCOUNT_EXISTS: &str = "SELECT count(*) FROM accounts WHERE id = $1 AND id = $2";
