//! `RepositoryStore` on SQLite: `repositories`, `repository_tags`,
//! `account_settings`. Deleting a repository relies on `ON DELETE CASCADE`
//! for what is keyed on it, and hands back its upload ids because their
//! bytes are files the caller removes.

use super::sql::split_names;
use super::writer::ExecuteDurably;
use super::SqliteMetadataStore;
use crate::metadata::{
    CreateTemplateOutcome, DeleteRepositoryOutcome, RegistryKey, RepoId, RepositoryRecord,
    RepositoryStore, ResourceTag, TemplateRecord,
};
use crate::template_sql::*;
use crate::Result;
use async_trait::async_trait;
use sqlx::{Row, Sqlite, Transaction};

#[async_trait]
impl RepositoryStore for SqliteMetadataStore {
    async fn ensure_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
        now: i64,
    ) -> Result<RepoId> {
        if let Some(id) = self.find_repository(registry, name).await? {
            return Ok(id);
        }
        sqlx::query(
            "INSERT INTO repositories (account_id, region, name, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (account_id, region, name) DO NOTHING",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .bind(now)
        .execute_durably(&self.writer)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "SELECT id FROM repositories WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_one(self.writer.pool())
        .await?;
        Ok(RepoId(id))
    }

    async fn find_repository(&self, registry: &RegistryKey, name: &str) -> Result<Option<RepoId>> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM repositories WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(id.map(RepoId))
    }

    async fn create_repository(
        &self,
        registry: &RegistryKey,
        r: &RepositoryRecord,
        tags: &[ResourceTag],
    ) -> Result<Option<RepositoryRecord>> {
        let mut tx = self.writer.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO repositories (account_id, region, name, created_at, image_tag_mutability, mutability_filters, scan_on_push, encryption_type, kms_key)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, region, name) DO NOTHING RETURNING id",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(&r.name)
        .bind(r.created_at)
        .bind(&r.image_tag_mutability)
        .bind(&r.mutability_filters)
        .bind(r.scan_on_push)
        .bind(&r.encryption_type)
        .bind(&r.kms_key)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        upsert_tags(&mut tx, RepoId(id), tags).await?;
        tx.commit().await?;
        Ok(Some(RepositoryRecord {
            id: RepoId(id),
            ..r.clone()
        }))
    }

    async fn get_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<RepositoryRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {REPO_COLUMNS} FROM repositories WHERE account_id = ? AND region = ? AND name = ?"
        ))
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(repository_from_row))
    }

    async fn describe_repositories(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RepositoryRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {REPO_COLUMNS} FROM repositories WHERE account_id = ? AND region = ? AND name > ? ORDER BY name LIMIT ?"
        ))
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(repository_from_row).collect())
    }

    async fn set_tag_mutability(
        &self,
        registry: &RegistryKey,
        name: &str,
        mutability: &str,
        filters: Option<&str>,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE repositories SET image_tag_mutability = ?, mutability_filters = ? WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(mutability)
        .bind(filters)
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .execute_durably(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn set_scan_on_push(&self, registry: &RegistryKey, name: &str, on: bool) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE repositories SET scan_on_push = ? WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(on)
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .execute_durably(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn delete_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
        force: bool,
    ) -> Result<DeleteRepositoryOutcome> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {REPO_COLUMNS} FROM repositories WHERE account_id = ? AND region = ? AND name = ?"
        ))
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(record) = row.map(repository_from_row) else {
            return Ok(DeleteRepositoryOutcome::NotFound);
        };
        let has_images: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM manifests WHERE repository_id = ? LIMIT 1")
                .bind(record.id.0)
                .fetch_optional(&mut **tx)
                .await?;
        if has_images.is_some() && !force {
            return Ok(DeleteRepositoryOutcome::NotEmpty);
        }
        let uploads: Vec<String> =
            sqlx::query_scalar("SELECT id FROM uploads WHERE repository_id = ?")
                .bind(record.id.0)
                .fetch_all(&mut **tx)
                .await?;
        let digests: Vec<String> =
            sqlx::query_scalar("SELECT digest FROM manifests WHERE repository_id = ?")
                .bind(record.id.0)
                .fetch_all(&mut **tx)
                .await?;
        // Tags, references, links, manifests and sessions go by ON DELETE CASCADE.
        sqlx::query("DELETE FROM repositories WHERE id = ?")
            .bind(record.id.0)
            .execute(&mut **tx)
            .await?;
        for d in digests {
            super::sql::release_body(&mut tx, &d).await?;
        }
        tx.commit().await?;
        Ok(DeleteRepositoryOutcome::Deleted { record, uploads })
    }

    async fn repository_tags(&self, repo: RepoId) -> Result<Vec<ResourceTag>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM repository_tags WHERE repository_id = ? ORDER BY key",
        )
        .bind(repo.0)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(key, value)| ResourceTag { key, value })
            .collect())
    }

    async fn tag_repository(&self, repo: RepoId, tags: &[ResourceTag], max: usize) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        upsert_tags(&mut tx, repo, tags).await?;
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM repository_tags WHERE repository_id = ?")
                .bind(repo.0)
                .fetch_one(&mut **tx)
                .await?;
        if n as usize > max {
            // Dropping the transaction rolls the upserts back.
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn untag_repository(&self, repo: RepoId, keys: &[String]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for k in keys {
            sqlx::query("DELETE FROM repository_tags WHERE repository_id = ? AND key = ?")
                .bind(repo.0)
                .bind(k)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn account_setting(&self, registry: &RegistryKey, name: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT value FROM account_settings WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn put_account_setting(
        &self,
        registry: &RegistryKey,
        name: &str,
        value: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO account_settings (account_id, region, name, value) VALUES (?, ?, ?, ?)
             ON CONFLICT (account_id, region, name) DO UPDATE SET value = excluded.value",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .bind(value)
        .execute_durably(&self.writer)
        .await?;
        Ok(())
    }

    async fn list_repositories(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        let joined: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(name, char(10) ORDER BY name) FROM
             (SELECT name FROM repositories WHERE account_id = ? AND region = ? AND name > ? ORDER BY name LIMIT ?)",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_one(&self.reader)
        .await?;
        Ok(split_names(joined))
    }
    async fn create_template(
        &self,
        registry: &RegistryKey,
        template: &TemplateRecord,
        max: u32,
    ) -> Result<CreateTemplateOutcome> {
        let mut tx = self.writer.begin().await?;
        let count = |sql: &'static str, prefix: bool| {
            let q = sqlx::query_scalar::<_, i64>(sql)
                .bind(&registry.account_id)
                .bind(&registry.region);
            if prefix {
                q.bind(&template.prefix)
            } else {
                q
            }
        };
        if count(TEMPLATE_EXISTS, true).fetch_one(&mut **tx).await? > 0 {
            return Ok(CreateTemplateOutcome::Exists);
        }
        if count(COUNT_TEMPLATES, false).fetch_one(&mut **tx).await? >= i64::from(max) {
            return Ok(CreateTemplateOutcome::Full);
        }
        bind_template!(sqlx::query(INSERT_TEMPLATE), registry, template)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(CreateTemplateOutcome::Created)
    }

    async fn update_template(
        &self,
        registry: &RegistryKey,
        template: &TemplateRecord,
    ) -> Result<bool> {
        let n = bind_template!(sqlx::query(UPDATE_TEMPLATE), registry, template)
            .execute_durably(&self.writer)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn delete_template(
        &self,
        registry: &RegistryKey,
        prefix: &str,
    ) -> Result<Option<TemplateRecord>> {
        let mut tx = self.writer.begin().await?;
        let found = sqlx::query(GET_TEMPLATE)
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(prefix)
            .fetch_optional(&mut **tx)
            .await?
            .as_ref()
            .map(template_from_row);
        if found.is_some() {
            sqlx::query(DELETE_TEMPLATE)
                .bind(&registry.account_id)
                .bind(&registry.region)
                .bind(prefix)
                .execute(&mut **tx)
                .await?;
            tx.commit().await?;
        }
        Ok(found)
    }

    async fn get_template(
        &self,
        registry: &RegistryKey,
        prefix: &str,
    ) -> Result<Option<TemplateRecord>> {
        let row = sqlx::query(GET_TEMPLATE)
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(prefix)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.as_ref().map(template_from_row))
    }

    async fn list_templates(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<TemplateRecord>> {
        let rows = sqlx::query(LIST_TEMPLATES)
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(template_from_row).collect())
    }
}

const REPO_COLUMNS: &str =
    "id, name, created_at, image_tag_mutability, mutability_filters, scan_on_push, encryption_type, kms_key";

fn repository_from_row(row: sqlx::sqlite::SqliteRow) -> RepositoryRecord {
    RepositoryRecord {
        id: RepoId(row.get(0)),
        name: row.get(1),
        created_at: row.get(2),
        image_tag_mutability: row.get(3),
        mutability_filters: row.get(4),
        scan_on_push: row.get(5),
        encryption_type: row.get(6),
        kms_key: row.get(7),
    }
}

async fn upsert_tags(
    tx: &mut Transaction<'_, Sqlite>,
    repo: RepoId,
    tags: &[ResourceTag],
) -> Result<()> {
    for t in tags {
        sqlx::query(
            "INSERT INTO repository_tags (repository_id, key, value) VALUES (?, ?, ?)
             ON CONFLICT (repository_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(repo.0)
        .bind(&t.key)
        .bind(&t.value)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
