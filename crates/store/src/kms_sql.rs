//! SQL text both metadata backends run for KMS keys and aliases
//! (`metadata/kms.rs`), with `$n` parameters as in `iam_sql.rs`, and row
//! decoding generic over the backend.

use crate::metadata::{KmsAliasRecord, KmsGrantRecord, KmsKeyRecord};

pub(crate) const KEY_COLUMNS: &str = "account_id, region, key_id, description, key_usage, key_spec, origin, key_manager, state,
     created_at, deletion_date, pending_window_days, rotation_period_days, next_rotation_at, policy, materials, tags, revision,
     storage_kek";
pub(crate) const INSERT_KEY: &str = "INSERT INTO kms_keys (account_id, region, key_id, description, key_usage, key_spec, origin,
     key_manager, state, created_at, deletion_date, pending_window_days, rotation_period_days, next_rotation_at, policy,
     materials, tags, revision, storage_kek)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";
/// The mutable columns, over the revision before (`$18 - 1`).
pub(crate) const UPDATE_KEY: &str = "UPDATE kms_keys SET description = $4, key_usage = $5, key_spec = $6, origin = $7,
     key_manager = $8, state = $9, created_at = $10, deletion_date = $11, pending_window_days = $12,
     rotation_period_days = $13, next_rotation_at = $14, policy = $15, materials = $16, tags = $17, revision = $18,
     storage_kek = $19
     WHERE account_id = $1 AND region = $2 AND key_id = $3 AND revision = $18 - 1";
pub(crate) const DELETE_KEY: &str =
    "DELETE FROM kms_keys WHERE account_id = $1 AND region = $2 AND key_id = $3";
pub(crate) const ACCOUNT_EXISTS: &str = "SELECT count(*) FROM accounts WHERE id = $1";
pub(crate) const KEY_EXISTS: &str =
    "SELECT count(*) FROM kms_keys WHERE account_id = $1 AND region = $2 AND key_id = $3";

pub(crate) const ALIAS_COLUMNS: &str =
    "account_id, region, name, target_key_id, created_at, updated_at";
pub(crate) const ALIAS_EXISTS: &str =
    "SELECT count(*) FROM kms_aliases WHERE account_id = $1 AND region = $2 AND name = $3";
/// Aliases of key `$3` other than alias `$4`.
pub(crate) const ALIASES_OF_KEY: &str =
    "SELECT count(*) FROM kms_aliases WHERE account_id = $1 AND region = $2 AND target_key_id = $3 AND name <> $4";
pub(crate) const INSERT_ALIAS: &str =
    "INSERT INTO kms_aliases (account_id, region, name, target_key_id, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const UPDATE_ALIAS: &str = "UPDATE kms_aliases SET target_key_id = $4, updated_at = $6
     WHERE account_id = $1 AND region = $2 AND name = $3";
pub(crate) const DELETE_ALIAS: &str =
    "DELETE FROM kms_aliases WHERE account_id = $1 AND region = $2 AND name = $3";

pub(crate) const KMS_REPOSITORIES: &str =
    "SELECT id, account_id, region, name, kms_key FROM repositories
     WHERE kms_key IS NOT NULL AND id > $1 ORDER BY id LIMIT $2";

pub(crate) const KMS_ROOT: &str = "SELECT value FROM kms_root WHERE id = 1";
pub(crate) const REPLACE_KMS_ROOT: &str =
    "UPDATE kms_root SET value = $2 WHERE id = 1 AND value = $1";
pub(crate) const PUT_KMS_ROOT: &str =
    "INSERT INTO kms_root (id, value) VALUES (1, $1) ON CONFLICT (id) DO NOTHING";

/// `SELECT` of every account's keys after (`$1`, `$2`, `$3`) = (account,
/// region, key id), or from the first when `$1` is NULL; `$4` the limit.
pub(crate) fn all_keys_sql() -> String {
    format!(
        "SELECT {KEY_COLUMNS} FROM kms_keys
         WHERE $1 IS NULL OR (account_id, region, key_id) > ($1, $2, $3)
         ORDER BY account_id, region, key_id LIMIT $4"
    )
}

/// `SELECT` of keys (`$3` the id to start after, or NULL; `$4` the limit).
pub(crate) fn list_keys_sql() -> String {
    format!(
        "SELECT {KEY_COLUMNS} FROM kms_keys WHERE account_id = $1 AND region = $2
         AND ($3 IS NULL OR key_id > $3) ORDER BY key_id LIMIT $4"
    )
}

/// `SELECT` of aliases (`$3` a key id or NULL, `$4` the name to start
/// after or NULL, `$5` the limit).
pub(crate) fn list_aliases_sql() -> String {
    format!(
        "SELECT {ALIAS_COLUMNS} FROM kms_aliases WHERE account_id = $1 AND region = $2
         AND ($3 IS NULL OR target_key_id = $3) AND ($4 IS NULL OR name > $4) ORDER BY name LIMIT $5"
    )
}

/// The 19 values of `INSERT_KEY` and `UPDATE_KEY`, in order, bound to `q`.
macro_rules! bind_key {
    ($q:expr, $k:expr) => {
        $q.bind(&$k.account_id)
            .bind(&$k.region)
            .bind(&$k.key_id)
            .bind(&$k.description)
            .bind(&$k.key_usage)
            .bind(&$k.key_spec)
            .bind(&$k.origin)
            .bind(&$k.key_manager)
            .bind(&$k.state)
            .bind($k.created_at)
            .bind($k.deletion_date)
            .bind($k.pending_window_days)
            .bind($k.rotation_period_days)
            .bind($k.next_rotation_at)
            .bind(&$k.policy)
            .bind(&$k.materials)
            .bind(&$k.tags)
            .bind($k.revision)
            .bind(&$k.storage_kek)
    };
}
pub(crate) use bind_key;

/// The 6 values of `INSERT_ALIAS` and `UPDATE_ALIAS`, in order.
macro_rules! bind_alias {
    ($q:expr, $a:expr) => {
        $q.bind(&$a.account_id)
            .bind(&$a.region)
            .bind(&$a.name)
            .bind(&$a.target_key_id)
            .bind($a.created_at)
            .bind($a.updated_at)
    };
}
pub(crate) use bind_alias;

/// A row of `KEY_COLUMNS`, on either backend.
pub(crate) fn key_from_row<R>(row: &R) -> KmsKeyRecord
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    KmsKeyRecord {
        account_id: row.get(0),
        region: row.get(1),
        key_id: row.get(2),
        description: row.get(3),
        key_usage: row.get(4),
        key_spec: row.get(5),
        origin: row.get(6),
        key_manager: row.get(7),
        state: row.get(8),
        created_at: row.get(9),
        deletion_date: row.get(10),
        pending_window_days: row.get(11),
        rotation_period_days: row.get(12),
        next_rotation_at: row.get(13),
        policy: row.get(14),
        materials: row.get(15),
        tags: row.get(16),
        revision: row.get(17),
        storage_kek: row.get(18),
    }
}

/// A row of `ALIAS_COLUMNS`, on either backend.
pub(crate) fn alias_from_row<R>(row: &R) -> KmsAliasRecord
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    KmsAliasRecord {
        account_id: row.get(0),
        region: row.get(1),
        name: row.get(2),
        target_key_id: row.get(3),
        created_at: row.get(4),
        updated_at: row.get(5),
    }
}

/// A row of `KMS_REPOSITORIES`, on either backend.
pub(crate) fn kms_repository_from_row<R>(row: &R) -> (i64, crate::RegistryKey, String, String)
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    (
        row.get(0),
        crate::RegistryKey {
            account_id: row.get(1),
            region: row.get(2),
        },
        row.get(3),
        row.get(4),
    )
}

pub(crate) const GRANT_COLUMNS: &str =
    "grant_id, account_id, region, key_id, name, grantee_principal, retiring_principal,
     issuing_account, operations, constraints, token_secret, created_at";
pub(crate) const INSERT_GRANT: &str = "INSERT INTO kms_grants (grant_id, account_id, region, key_id, name,
     grantee_principal, retiring_principal, issuing_account, operations, constraints, token_secret, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
pub(crate) const GRANTS_OF_KEY: &str =
    "SELECT count(*) FROM kms_grants WHERE account_id = $1 AND region = $2 AND key_id = $3";
pub(crate) const DELETE_GRANT: &str = "DELETE FROM kms_grants WHERE grant_id = $1";

pub(crate) fn get_grant_sql() -> String {
    format!("SELECT {GRANT_COLUMNS} FROM kms_grants WHERE grant_id = $1")
}

/// `SELECT` of a key's grants (`$4` the id to start after or NULL, `$5`
/// the limit).
pub(crate) fn list_grants_sql() -> String {
    format!(
        "SELECT {GRANT_COLUMNS} FROM kms_grants WHERE account_id = $1 AND region = $2 AND key_id = $3
         AND ($4 IS NULL OR grant_id > $4) ORDER BY grant_id LIMIT $5"
    )
}

/// `SELECT` of a key's grants to `$4`.
pub(crate) fn grants_to_sql() -> String {
    format!(
        "SELECT {GRANT_COLUMNS} FROM kms_grants WHERE account_id = $1 AND region = $2 AND key_id = $3
         AND grantee_principal = $4 ORDER BY grant_id"
    )
}

/// `SELECT` of a key's grants named `$4` to `$5`.
pub(crate) fn grants_named_sql() -> String {
    format!(
        "SELECT {GRANT_COLUMNS} FROM kms_grants WHERE account_id = $1 AND region = $2 AND key_id = $3
         AND name = $4 AND grantee_principal = $5 ORDER BY grant_id"
    )
}

/// `SELECT` of the grants on keys in region `$2`, of any account, that
/// `$1` may retire (`$3` the id to start after or NULL, `$4` the limit):
/// `kms_grants_by_retiring`.
pub(crate) fn retirable_grants_sql() -> String {
    format!(
        "SELECT {GRANT_COLUMNS} FROM kms_grants WHERE retiring_principal = $1 AND region = $2
         AND ($3 IS NULL OR grant_id > $3) ORDER BY grant_id LIMIT $4"
    )
}

/// The 12 values of `INSERT_GRANT`, in order.
macro_rules! bind_grant {
    ($q:expr, $g:expr) => {
        $q.bind(&$g.grant_id)
            .bind(&$g.account_id)
            .bind(&$g.region)
            .bind(&$g.key_id)
            .bind(&$g.name)
            .bind(&$g.grantee_principal)
            .bind(&$g.retiring_principal)
            .bind(&$g.issuing_account)
            .bind(&$g.operations)
            .bind(&$g.constraints)
            .bind(&$g.token_secret)
            .bind($g.created_at)
    };
}
pub(crate) use bind_grant;

/// A row of `GRANT_COLUMNS`, on either backend.
pub(crate) fn grant_from_row<R>(row: &R) -> KmsGrantRecord
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    KmsGrantRecord {
        grant_id: row.get(0),
        account_id: row.get(1),
        region: row.get(2),
        key_id: row.get(3),
        name: row.get(4),
        grantee_principal: row.get(5),
        retiring_principal: row.get(6),
        issuing_account: row.get(7),
        operations: row.get(8),
        constraints: row.get(9),
        token_secret: row.get(10),
        created_at: row.get(11),
    }
}
