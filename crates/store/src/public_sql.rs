//! SQL both metadata backends run for public registries
//! (`PublicRegistryStore`), with `$n` parameters as in `kms_sql.rs`.

use crate::metadata::{PublicListing, PublicRegistryRecord};

const COLUMNS: &str = "SELECT account_id, alias, display_name, created_at FROM public_registries";

pub(crate) fn by_account() -> String {
    format!("{COLUMNS} WHERE account_id = $1")
}

pub(crate) fn by_alias() -> String {
    format!("{COLUMNS} WHERE alias = $1")
}

/// Inserts unless the account or the alias is there: 0 rows then.
pub(crate) const CREATE: &str =
    "INSERT INTO public_registries (account_id, alias, display_name, created_at)
 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
pub(crate) const SET_DISPLAY_NAME: &str =
    "UPDATE public_registries SET display_name = $2 WHERE account_id = $1";

pub(crate) const CATALOG: &str = "SELECT data, logo FROM public_catalog WHERE repository_id = $1";
pub(crate) const PUT_CATALOG: &str =
    "INSERT INTO public_catalog (repository_id, data, logo) VALUES ($1, $2, $3)
 ON CONFLICT (repository_id) DO UPDATE SET data = excluded.data, logo = excluded.logo";

/// A row of `by_account`/`by_alias`, on either backend.
pub(crate) fn from_row<R>(row: &R) -> PublicRegistryRecord
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    PublicRegistryRecord {
        account_id: row.get(0),
        alias: row.get(1),
        display_name: row.get(2),
        created_at: row.get(3),
    }
}

/// The gallery's search: `$1` a LIKE pattern of lowercase text (escaped
/// with `\`), `$2` the limit, `$3` the offset. Reads public repositories
/// through their partial index (`repositories_public`).
pub(crate) const SEARCH: &str = "SELECT p.alias, r.account_id, r.name, c.data, r.created_at
 FROM repositories r
 JOIN public_registries p ON p.account_id = r.account_id
 LEFT JOIN public_catalog c ON c.repository_id = r.id
 WHERE r.region = '@public'
   AND (r.name LIKE $1 ESCAPE '\\' OR p.alias LIKE $1 ESCAPE '\\'
        OR LOWER(c.data) LIKE $1 ESCAPE '\\')
 ORDER BY p.alias, r.name LIMIT $2 OFFSET $3";

/// `text` as a LIKE pattern that matches it anywhere, in any case.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// A row of `SEARCH`, on either backend.
pub(crate) fn listing_from_row<R>(row: &R) -> PublicListing
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    PublicListing {
        alias: row.get(0),
        account_id: row.get(1),
        name: row.get(2),
        catalog: row.get(3),
        created_at: row.get(4),
    }
}
