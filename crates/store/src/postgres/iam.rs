//! `IamPolicyStore` on PostgreSQL: the inline policies and attachments of
//! users, roles and groups (SQL shared with SQLite in `iam_sql.rs`),
//! `managed_policies`, `managed_policy_versions`.

use super::sql::{count, named_exists};
use super::PgMetadataStore;
use crate::iam_sql::{HolderSql, ATTACHMENT_COUNT, ATTACHMENT_COUNT_OF_P};
use crate::metadata::{
    AttachOutcome, DeletePolicyOutcome, Holder, IamPolicyStore, ManagedPolicyRecord,
    PolicyVersionRecord,
};
use crate::Result;
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl IamPolicyStore for PgMetadataStore {
    async fn put_inline_policy(
        &self,
        account_id: &str,
        holder: Holder<'_>,
        name: &str,
        document: &str,
    ) -> Result<bool> {
        retrying!({
            let sql = HolderSql::of(holder.kind);
            let mut tx = self.writer.begin().await?;
            if !named_exists(&mut tx, &sql.exists, account_id, holder.name).await? {
                return Ok(false);
            }
            sqlx::query(&sql.put_inline)
                .bind(account_id)
                .bind(holder.name)
                .bind(name)
                .bind(document)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn get_inline_policy(
        &self,
        account_id: &str,
        holder: Holder<'_>,
        name: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(&HolderSql::of(holder.kind).get_inline)
            .bind(account_id)
            .bind(holder.name)
            .bind(name)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn list_inline_policies(
        &self,
        account_id: &str,
        holder: Holder<'_>,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(&HolderSql::of(holder.kind).list_inline)
            .bind(account_id)
            .bind(holder.name)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn delete_inline_policy(
        &self,
        account_id: &str,
        holder: Holder<'_>,
        name: &str,
    ) -> Result<bool> {
        retrying!({
            let n = sqlx::query(&HolderSql::of(holder.kind).delete_inline)
                .bind(account_id)
                .bind(holder.name)
                .bind(name)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn attach_policy(
        &self,
        account_id: &str,
        holder: Holder<'_>,
        arn: &str,
        local: bool,
        now: i64,
    ) -> Result<AttachOutcome> {
        retrying!({
            let sql = HolderSql::of(holder.kind);
            let mut tx = self.writer.begin().await?;
            if !named_exists(&mut tx, &sql.exists, account_id, holder.name).await? {
                return Ok(AttachOutcome::NoSuchHolder);
            }
            if local
                && count(
                    &mut tx,
                    "SELECT count(*) FROM managed_policies WHERE account_id = $1 AND arn = $2",
                    account_id,
                    arn,
                )
                .await?
                    == 0
            {
                return Ok(AttachOutcome::NoSuchPolicy);
            }
            sqlx::query(&sql.attach)
                .bind(account_id)
                .bind(holder.name)
                .bind(arn)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(AttachOutcome::Attached)
        })
    }

    async fn detach_policy(&self, account_id: &str, holder: Holder<'_>, arn: &str) -> Result<bool> {
        retrying!({
            let n = sqlx::query(&HolderSql::of(holder.kind).detach)
                .bind(account_id)
                .bind(holder.name)
                .bind(arn)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn attached_policies(&self, account_id: &str, holder: Holder<'_>) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(&HolderSql::of(holder.kind).attached)
            .bind(account_id)
            .bind(holder.name)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn policy_attachment_count(&self, account_id: &str, arn: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(ATTACHMENT_COUNT)
            .bind(account_id)
            .bind(arn)
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }

    async fn create_managed_policy(&self, p: &ManagedPolicyRecord, document: &str) -> Result<bool> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            let inserted = sqlx::query(
            "INSERT INTO managed_policies (account_id, name, path, arn, policy_id, description, default_version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(&p.account_id)
        .bind(&p.name)
        .bind(&p.path)
        .bind(&p.arn)
        .bind(&p.policy_id)
        .bind(&p.description)
        .bind(&p.default_version)
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
            if !inserted {
                return Ok(false);
            }
            sqlx::query(
            "INSERT INTO managed_policy_versions (account_id, policy_name, version_id, document, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&p.account_id)
        .bind(&p.name)
        .bind(&p.default_version)
        .bind(document)
        .bind(p.created_at)
        .execute(&mut *tx)
        .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn get_managed_policy(
        &self,
        account_id: &str,
        arn: &str,
    ) -> Result<Option<ManagedPolicyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM managed_policies p WHERE p.account_id = $1 AND p.arn = $2",
            policy_columns()
        ))
        .bind(account_id)
        .bind(arn)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(policy_from_row))
    }

    async fn list_managed_policies(&self, account_id: &str) -> Result<Vec<ManagedPolicyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM managed_policies p WHERE p.account_id = $1 ORDER BY p.arn",
            policy_columns()
        ))
        .bind(account_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(policy_from_row).collect())
    }

    async fn get_policy_version(
        &self,
        account_id: &str,
        arn: &str,
        version_id: &str,
    ) -> Result<Option<PolicyVersionRecord>> {
        let row = sqlx::query(
            "SELECT v.version_id, v.document, v.version_id = p.default_version, v.created_at
             FROM managed_policies p JOIN managed_policy_versions v
               ON v.account_id = p.account_id AND v.policy_name = p.name
             WHERE p.account_id = $1 AND p.arn = $2 AND v.version_id = $3",
        )
        .bind(account_id)
        .bind(arn)
        .bind(version_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PolicyVersionRecord {
            version_id: r.get(0),
            document: r.get(1),
            is_default: r.get(2),
            created_at: r.get(3),
        }))
    }

    async fn delete_managed_policy(
        &self,
        account_id: &str,
        arn: &str,
    ) -> Result<DeletePolicyOutcome> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            let attached = count(&mut tx, ATTACHMENT_COUNT, account_id, arn).await?;
            if attached > 0 {
                return Ok(DeletePolicyOutcome::Attached(attached));
            }
            let n = sqlx::query("DELETE FROM managed_policies WHERE account_id = $1 AND arn = $2")
                .bind(account_id)
                .bind(arn)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(if n == 1 {
                DeletePolicyOutcome::Deleted
            } else {
                DeletePolicyOutcome::NotFound
            })
        })
    }
}

fn policy_columns() -> &'static str {
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        format!("p.account_id, p.name, p.path, p.arn, p.policy_id, p.description, p.default_version, p.created_at, p.updated_at, {ATTACHMENT_COUNT_OF_P}")
    })
}

fn policy_from_row(row: sqlx::postgres::PgRow) -> ManagedPolicyRecord {
    ManagedPolicyRecord {
        account_id: row.get(0),
        name: row.get(1),
        path: row.get(2),
        arn: row.get(3),
        policy_id: row.get(4),
        description: row.get(5),
        default_version: row.get(6),
        created_at: row.get(7),
        updated_at: row.get(8),
        attachment_count: row.get::<i64, _>(9) as u64,
    }
}
