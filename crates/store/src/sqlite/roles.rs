//! `RoleStore` on SQLite: `roles`, `role_tags` (`0013_roles_groups.sql`;
//! the SQL is shared with PostgreSQL in `iam_sql.rs`).

use super::sql::{count, named_exists};
use super::writer::ExecuteDurably;
use super::SqliteMetadataStore;
use crate::iam_sql::*;
use crate::metadata::{
    CreateOutcome, DeleteHolderOutcome, HolderKind, RoleRecord, RoleStore, RoleUpdate, TagOutcome,
};
use crate::Result;
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl RoleStore for SqliteMetadataStore {
    async fn create_role(
        &self,
        role: &RoleRecord,
        tags: &[(String, String)],
    ) -> Result<CreateOutcome> {
        let mut tx = self.writer.begin().await?;
        if !named_exists(&mut tx, ACCOUNT_EXISTS, &role.account_id, &role.account_id).await? {
            return Ok(CreateOutcome::NoSuchAccount);
        }
        if named_exists(&mut tx, ROLE_NAME_TAKEN, &role.account_id, &role.name).await? {
            return Ok(CreateOutcome::AlreadyExists);
        }
        sqlx::query(INSERT_ROLE)
            .bind(&role.account_id)
            .bind(&role.name)
            .bind(&role.path)
            .bind(&role.role_id)
            .bind(&role.trust_policy)
            .bind(&role.description)
            .bind(role.max_session_duration)
            .bind(role.created_at)
            .execute(&mut **tx)
            .await?;
        for (k, v) in tags {
            sqlx::query(PUT_ROLE_TAG)
                .bind(&role.account_id)
                .bind(&role.name)
                .bind(k)
                .bind(v)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
        Ok(CreateOutcome::Created)
    }

    async fn get_role(&self, account_id: &str, name: &str) -> Result<Option<RoleRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = $1 AND name = $2"
        ))
        .bind(account_id)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(role_from_row))
    }

    async fn list_roles(&self, account_id: &str) -> Result<Vec<RoleRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = $1 ORDER BY name"
        ))
        .bind(account_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(role_from_row).collect())
    }

    async fn update_role(&self, account_id: &str, name: &str, update: &RoleUpdate) -> Result<bool> {
        let n = sqlx::query(UPDATE_ROLE)
            .bind(account_id)
            .bind(name)
            .bind(&update.description)
            .bind(update.max_session_duration)
            .bind(&update.trust_policy)
            .execute_durably(&self.writer)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn delete_role(&self, account_id: &str, name: &str) -> Result<DeleteHolderOutcome> {
        let sql = HolderSql::of(HolderKind::Role);
        let mut tx = self.writer.begin().await?;
        if !named_exists(&mut tx, &sql.exists, account_id, name).await? {
            return Ok(DeleteHolderOutcome::NotFound);
        }
        if count(&mut tx, &sql.count_inline, account_id, name).await? > 0 {
            return Ok(DeleteHolderOutcome::HasInlinePolicies);
        }
        if count(&mut tx, &sql.count_attached, account_id, name).await? > 0 {
            return Ok(DeleteHolderOutcome::HasAttachedPolicies);
        }
        sqlx::query("DELETE FROM roles WHERE account_id = $1 AND name = $2")
            .bind(account_id)
            .bind(name)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(DeleteHolderOutcome::Deleted)
    }

    async fn role_tags(&self, account_id: &str, name: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(ROLE_TAGS)
            .bind(account_id)
            .bind(name)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn tag_role(
        &self,
        account_id: &str,
        name: &str,
        tags: &[(String, String)],
        max: usize,
    ) -> Result<TagOutcome> {
        let mut tx = self.writer.begin().await?;
        if !named_exists(
            &mut tx,
            &HolderSql::of(HolderKind::Role).exists,
            account_id,
            name,
        )
        .await?
        {
            return Ok(TagOutcome::NotFound);
        }
        let mut keys: std::collections::BTreeSet<String> = sqlx::query_scalar(ROLE_TAG_KEYS)
            .bind(account_id)
            .bind(name)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
        keys.extend(tags.iter().map(|(k, _)| k.clone()));
        if keys.len() > max {
            return Ok(TagOutcome::TooMany);
        }
        for (k, v) in tags {
            sqlx::query(PUT_ROLE_TAG)
                .bind(account_id)
                .bind(name)
                .bind(k)
                .bind(v)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
        Ok(TagOutcome::Tagged)
    }

    async fn untag_role(&self, account_id: &str, name: &str, keys: &[String]) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        if !named_exists(
            &mut tx,
            &HolderSql::of(HolderKind::Role).exists,
            account_id,
            name,
        )
        .await?
        {
            return Ok(false);
        }
        for k in keys {
            sqlx::query(DELETE_ROLE_TAG)
                .bind(account_id)
                .bind(name)
                .bind(k)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
