//! `PublicRegistryStore` on SQLite: the SQL is shared (`public_sql.rs`).

use super::writer::ExecuteDurably;
use super::SqliteMetadataStore;
use crate::metadata::{
    CreatePublicRegistryOutcome, PublicListing, PublicRegistryRecord, PublicRegistryStore, RepoId,
};
use crate::public_sql::*;
use crate::Result;
use async_trait::async_trait;

#[async_trait]
impl PublicRegistryStore for SqliteMetadataStore {
    async fn public_registry(&self, account_id: &str) -> Result<Option<PublicRegistryRecord>> {
        let row = sqlx::query(&by_account())
            .bind(account_id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.as_ref().map(from_row))
    }

    async fn public_registry_by_alias(&self, alias: &str) -> Result<Option<PublicRegistryRecord>> {
        let row = sqlx::query(&by_alias())
            .bind(alias)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.as_ref().map(from_row))
    }

    async fn create_public_registry(
        &self,
        r: &PublicRegistryRecord,
    ) -> Result<CreatePublicRegistryOutcome> {
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query(CREATE)
            .bind(&r.account_id)
            .bind(&r.alias)
            .bind(&r.display_name)
            .bind(r.created_at)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        let outcome = if inserted == 1 {
            CreatePublicRegistryOutcome::Created
        } else {
            match sqlx::query(&by_account())
                .bind(&r.account_id)
                .fetch_optional(&mut **tx)
                .await?
            {
                Some(row) => CreatePublicRegistryOutcome::Exists(from_row(&row)),
                None => CreatePublicRegistryOutcome::AliasTaken,
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn set_public_display_name(&self, account_id: &str, name: &str) -> Result<bool> {
        let n = sqlx::query(SET_DISPLAY_NAME)
            .bind(account_id)
            .bind(name)
            .execute_durably(&self.writer)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn public_catalog(&self, repo: RepoId) -> Result<Option<(String, Option<Vec<u8>>)>> {
        Ok(sqlx::query_as(CATALOG)
            .bind(repo.0)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn put_public_catalog(
        &self,
        repo: RepoId,
        data: &str,
        logo: Option<&[u8]>,
    ) -> Result<()> {
        sqlx::query(PUT_CATALOG)
            .bind(repo.0)
            .bind(data)
            .bind(logo)
            .execute_durably(&self.writer)
            .await?;
        Ok(())
    }

    async fn search_public_repositories(
        &self,
        text: &str,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<PublicListing>> {
        let rows = sqlx::query(SEARCH)
            .bind(contains_pattern(text))
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(listing_from_row).collect())
    }
}
