//! SQL text both metadata backends run for repository creation templates
//! (`RepositoryStore`'s template methods), with `$n` parameters as in
//! `kms_sql.rs`, and row decoding generic over the backend.

use crate::metadata::TemplateRecord;

pub(crate) const COUNT_TEMPLATES: &str =
    "SELECT count(*) FROM repository_templates WHERE account_id = $1 AND region = $2";
pub(crate) const TEMPLATE_EXISTS: &str =
    "SELECT count(*) FROM repository_templates WHERE account_id = $1 AND region = $2 AND prefix = $3";
pub(crate) const INSERT_TEMPLATE: &str =
    "INSERT INTO repository_templates (account_id, region, prefix, body, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const UPDATE_TEMPLATE: &str =
    "UPDATE repository_templates SET body = $4, updated_at = $6
     WHERE account_id = $1 AND region = $2 AND prefix = $3";
pub(crate) const GET_TEMPLATE: &str =
    "SELECT prefix, body, created_at, updated_at FROM repository_templates
     WHERE account_id = $1 AND region = $2 AND prefix = $3";
pub(crate) const DELETE_TEMPLATE: &str =
    "DELETE FROM repository_templates WHERE account_id = $1 AND region = $2 AND prefix = $3";
/// `$3`: the prefix to start after (`''` for the first page); `$4` the limit.
pub(crate) const LIST_TEMPLATES: &str =
    "SELECT prefix, body, created_at, updated_at FROM repository_templates
     WHERE account_id = $1 AND region = $2 AND prefix > $3 ORDER BY prefix LIMIT $4";

/// The 6 values of `INSERT_TEMPLATE` and `UPDATE_TEMPLATE`, in order.
macro_rules! bind_template {
    ($q:expr, $reg:expr, $t:expr) => {
        $q.bind(&$reg.account_id)
            .bind(&$reg.region)
            .bind(&$t.prefix)
            .bind(&$t.body)
            .bind($t.created_at)
            .bind($t.updated_at)
    };
}
pub(crate) use bind_template;

/// A row of `GET_TEMPLATE` or `LIST_TEMPLATES`, on either backend.
pub(crate) fn template_from_row<R>(row: &R) -> TemplateRecord
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    TemplateRecord {
        prefix: row.get(0),
        body: row.get(1),
        created_at: row.get(2),
        updated_at: row.get(3),
    }
}
