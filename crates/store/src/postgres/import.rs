//! `berth migrate`'s metadata half: every table of an embedded data dir's
//! SQLite database copied into an empty PostgreSQL database, in one
//! transaction (an interrupted copy leaves nothing; run it again). The two
//! schemas have the same tables and columns in the same order (the
//! PostgreSQL schema is SQLite's migrations in one); values are converted
//! by the PostgreSQL column's type.

use super::PgMetadataStore;
use crate::{Result, StoreError};
use futures_util::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteRow};
use sqlx::{Connection, QueryBuilder, Row};
use std::path::Path;

/// Every table, parents before children (foreign keys hold at each insert).
/// Upload sessions are not copied: their bytes are partial files of the
/// old blob store, and clients start their uploads again. Console
/// sessions are not copied either: their users sign in again.
const TABLES: &[&str] = &[
    "accounts",
    "public_registries",
    "users",
    "access_keys",
    "user_policies",
    "managed_policies",
    "managed_policy_versions",
    "user_policy_attachments",
    "roles",
    "role_policies",
    "role_policy_attachments",
    "role_tags",
    "iam_groups",
    "group_members",
    "group_policies",
    "group_policy_attachments",
    "kms_keys",
    "kms_aliases",
    "kms_grants",
    "kms_root",
    "repository_templates",
    "replication_configs",
    "replication_tasks",
    "account_settings",
    "registry_policies",
    "registry_scanning",
    "repositories",
    "repository_tags",
    "public_catalog",
    "blobs",
    "repository_blobs",
    "manifest_bodies",
    "manifests",
    "manifest_references",
    "tags",
    "lifecycle_previews",
    "vuln_records",
    "vuln_packages",
    "vuln_source",
    "layer_inventories",
    "image_scans",
    "usage_latest",
    "usage_accruals",
    "usage_history",
];

/// Rows per INSERT (PostgreSQL takes at most 65,535 parameters).
const ROWS_PER_INSERT: usize = 400;
/// Bytes of values per INSERT (a message must stay far below 1 GiB; this
/// also bounds the memory the copy holds).
const BYTES_PER_INSERT: usize = 16 << 20;

/// How many rows a table holds in the source and in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub source: u64,
    pub target: u64,
}

enum Value {
    Int(Option<i64>),
    Bool(Option<bool>),
    Float(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Value {
    fn size(&self) -> usize {
        match self {
            Value::Int(_) | Value::Bool(_) | Value::Float(_) => 8,
            Value::Text(v) => v.as_ref().map_or(0, String::len),
            Value::Bytes(v) => v.as_ref().map_or(0, Vec::len),
        }
    }
}

async fn insert_batch(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &str,
    list: &str,
    batch: &[Vec<Value>],
) -> Result<()> {
    let mut q = QueryBuilder::<sqlx::Postgres>::new(format!("INSERT INTO {table} ({list}) "));
    q.push_values(batch, |mut b, row| {
        for v in row {
            match v {
                Value::Int(v) => b.push_bind(*v),
                Value::Bool(v) => b.push_bind(*v),
                Value::Float(v) => b.push_bind(*v),
                Value::Text(v) => b.push_bind(v.clone()),
                Value::Bytes(v) => b.push_bind(v.clone()),
            };
        }
    });
    q.build().execute(&mut **tx).await?;
    Ok(())
}

impl PgMetadataStore {
    /// Whether the database holds any berth records (accounts, repositories
    /// or blobs).
    pub async fn is_empty(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM repositories) \
             + (SELECT count(*) FROM blobs)",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(n == 0)
    }

    /// Copies every table of the SQLite database at `sqlite` (already at
    /// the current schema: open it with `SqliteMetadataStore::open` first)
    /// into this empty database, in one transaction.
    pub async fn import_sqlite(&self, sqlite: &Path) -> Result<()> {
        if !self.is_empty().await? {
            return Err(StoreError::Corrupt(
                "the PostgreSQL database already holds berth metadata; migrate into an empty database"
                    .into(),
            ));
        }
        let mut src = sqlx::SqliteConnection::connect_with(
            &SqliteConnectOptions::new().filename(sqlite).read_only(true),
        )
        .await?;
        let mut tx = self.writer.begin().await?;
        for table in TABLES {
            let columns: Vec<(String, String)> = sqlx::query_as(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&mut *tx)
            .await?;
            let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
            let list = names.join(", ");
            // Streamed, and inserted in batches bounded by rows and bytes:
            // a table (vulnerability records, layer inventories) may be far
            // larger than memory should hold, and one INSERT must stay
            // under PostgreSQL's message limit.
            let select = format!("SELECT {list} FROM {table}");
            let mut rows = sqlx::query(&select).fetch(&mut src);
            let mut batch: Vec<Vec<Value>> = Vec::new();
            let mut batch_bytes = 0usize;
            loop {
                let row: Option<SqliteRow> = rows.try_next().await?;
                let Some(row) = row else { break };
                let mut out = Vec::with_capacity(columns.len());
                for (i, (name, ty)) in columns.iter().enumerate() {
                    // Unchecked: SQLite's stored type follows the value, not
                    // the declaration; SQLite converts on read.
                    let v = match ty.as_str() {
                        "bigint" | "integer" => Value::Int(row.try_get_unchecked(i)?),
                        "boolean" => {
                            Value::Bool(row.try_get_unchecked::<Option<i64>, _>(i)?.map(|v| v != 0))
                        }
                        "double precision" => Value::Float(row.try_get_unchecked(i)?),
                        "text" => Value::Text(row.try_get_unchecked(i)?),
                        "bytea" => Value::Bytes(row.try_get_unchecked(i)?),
                        other => {
                            return Err(StoreError::Corrupt(format!(
                                "{table}.{name} has type {other}, which the import does not know"
                            )))
                        }
                    };
                    batch_bytes += v.size();
                    out.push(v);
                }
                batch.push(out);
                if batch.len() >= ROWS_PER_INSERT || batch_bytes >= BYTES_PER_INSERT {
                    insert_batch(&mut tx, table, &list, &batch).await?;
                    batch.clear();
                    batch_bytes = 0;
                }
            }
            drop(rows);
            if !batch.is_empty() {
                insert_batch(&mut tx, table, &list, &batch).await?;
            }
        }
        // Ids given explicitly leave the identity behind: new rows continue
        // after the copied ones.
        for table in ["repositories", "replication_tasks"] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 GREATEST((SELECT max(id) FROM {table}), 1))"
            ))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        src.close().await?;
        Ok(())
    }

    /// Rows per table in the SQLite database and in this one, for the
    /// migration's verification.
    pub async fn compare_with_sqlite(&self, sqlite: &Path) -> Result<Vec<TableCount>> {
        let mut src = sqlx::SqliteConnection::connect_with(
            &SqliteConnectOptions::new().filename(sqlite).read_only(true),
        )
        .await?;
        let mut out = Vec::new();
        for table in TABLES {
            let count = format!("SELECT count(*) FROM {table}");
            let source: i64 = sqlx::query_scalar(&count).fetch_one(&mut src).await?;
            let target: i64 = sqlx::query_scalar(&count).fetch_one(&self.reader).await?;
            out.push(TableCount {
                table,
                source: source as u64,
                target: target as u64,
            });
        }
        src.close().await?;
        Ok(out)
    }
}
