//! `ResourcePolicyStore` on SQLite: `repositories.policy` and
//! `registry_policies` (`0006_policies.sql`).

use super::SqliteMetadataStore;
use crate::metadata::{RegistryKey, ResourcePolicyStore};
use crate::Result;
use async_trait::async_trait;

#[async_trait]
impl ResourcePolicyStore for SqliteMetadataStore {
    async fn repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<Option<String>>> {
        Ok(sqlx::query_scalar(
            "SELECT policy FROM repositories WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn set_repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
        policy: Option<&str>,
    ) -> Result<Option<Option<String>>> {
        let mut tx = self.writer.begin().await?;
        let old: Option<Option<String>> = sqlx::query_scalar(
            "SELECT policy FROM repositories WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
        if old.is_some() {
            sqlx::query(
                "UPDATE repositories SET policy = ? WHERE account_id = ? AND region = ? AND name = ?",
            )
            .bind(policy)
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(name)
            .execute(&mut **tx)
            .await?;
            tx.commit().await?;
        }
        Ok(old)
    }

    async fn repository_policies_between(
        &self,
        registry: &RegistryKey,
        first: &str,
        last: &str,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT name, policy FROM repositories
             WHERE account_id = ? AND region = ? AND name >= ? AND name <= ? AND policy IS NOT NULL",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(first)
        .bind(last)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn registry_policy(&self, registry: &RegistryKey) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT policy FROM registry_policies WHERE account_id = ? AND region = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn set_registry_policy(
        &self,
        registry: &RegistryKey,
        policy: Option<&str>,
    ) -> Result<Option<String>> {
        let mut tx = self.writer.begin().await?;
        let old: Option<String> = sqlx::query_scalar(
            "SELECT policy FROM registry_policies WHERE account_id = ? AND region = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .fetch_optional(&mut **tx)
        .await?;
        match policy {
            Some(p) => {
                sqlx::query(
                    "INSERT INTO registry_policies (account_id, region, policy) VALUES (?, ?, ?)
                     ON CONFLICT (account_id, region) DO UPDATE SET policy = excluded.policy",
                )
                .bind(&registry.account_id)
                .bind(&registry.region)
                .bind(p)
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM registry_policies WHERE account_id = ? AND region = ?")
                    .bind(&registry.account_id)
                    .bind(&registry.region)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(old)
    }
}
